"""Reading payload JSON strictly: a field is absent, null, or of the expected type — any
other shape is a ``malformed`` refusal naming the field's path, never a silent default."""

from __future__ import annotations

__all__ = ["load_object", "object_at", "text_at"]

import json
from collections.abc import Mapping
from typing import Any

from imageupdater.pushevents.model import quoted, refuse


def load_object(body: bytes, what: str) -> Mapping[str, Any]:
    """The body as a JSON object."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        refuse(f"{what}: the body is not JSON ({exc})", "malformed")
    if not isinstance(data, dict):
        refuse(f"{what}: the body is JSON but not an object", "malformed")
    return data


def _walk(obj: Mapping[str, Any], path: str, what: str) -> object:
    current: object = obj
    done: list[str] = []
    for part in path.split("."):
        if current is None:
            return None
        if not isinstance(current, Mapping):
            refuse(f"{what}: {'.'.join(done)} is not an object", "malformed")
        current = current.get(part)
        done.append(part)
    return current


def text_at(obj: Mapping[str, Any], path: str, what: str) -> str:
    """The string at dotted ``path``; "" when absent or null."""
    value = _walk(obj, path, what)
    if value is None:
        return ""
    if not isinstance(value, str):
        refuse(f"{what}: {path} must be a string, got {quoted(value)}", "malformed")
    return value


def object_at(obj: Mapping[str, Any], path: str, what: str) -> Mapping[str, Any]:
    """The object at dotted ``path``; empty when absent or null."""
    value = _walk(obj, path, what)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        refuse(f"{what}: {path} must be an object, got {quoted(value)}", "malformed")
    return value
