"""Reading a watch's body: newline-delimited JSON events ``{type, object}``, however long
one is, and an ERROR event (or a bare Status) turned into our error for its code (410:
``KubeGone``, the caller relists)."""

from __future__ import annotations

__all__ = ["lines", "watch_event"]

import json
from collections.abc import AsyncGenerator

import aiohttp

from imageupdater.errors import KubeUnavailable, kube_error

from .resources import WatchEvent

_MAX_WATCH_EVENT = 32 * 1024 * 1024  # one event's JSON; etcd's own object limit is 1.5 MiB
_WATCH_TYPES = frozenset({"ADDED", "MODIFIED", "DELETED", "BOOKMARK"})


async def lines(content: aiohttp.StreamReader, what: str) -> AsyncGenerator[bytes, None]:
    """Newline-delimited chunks of the body, however long (aiohttp's ``readline`` refuses
    lines past twice its buffer, and an Application's JSON can be longer)."""
    buffer = bytearray()
    async for chunk in content.iter_any():
        start = len(buffer)
        buffer += chunk
        end = buffer.find(b"\n", start)
        while end >= 0:
            line = bytes(buffer[:end])
            del buffer[: end + 1]
            if line.strip():
                yield line
            end = buffer.find(b"\n")
        if len(buffer) > _MAX_WATCH_EVENT:
            raise KubeUnavailable(f"{what}: a watch event is larger than {_MAX_WATCH_EVENT} bytes")
    if buffer.strip():
        yield bytes(buffer)


def watch_event(line: bytes, what: str) -> WatchEvent | None:
    try:
        event = json.loads(line)
    except ValueError as exc:
        raise KubeUnavailable(f"{what}: the API server sent a watch event in invalid JSON") from exc
    if not isinstance(event, dict):
        raise KubeUnavailable(f"{what}: the API server sent a watch event that is no object")
    kind, obj = event.get("type"), event.get("object")
    if kind is None and "code" in event:  # a bare Status instead of an event
        obj, kind = event, "ERROR"
    if kind == "ERROR":
        status = obj if isinstance(obj, dict) else {}
        try:
            code = int(status.get("code") or 0)
        except (TypeError, ValueError):
            code = 0
        reason = str(status.get("reason") or "")
        message = str(status.get("message") or "")[:300]
        detail = f"{reason}: {message}" if reason and message else reason or message
        raise kube_error(code, f"{what}: {detail}")  # 410: KubeGone
    if kind in _WATCH_TYPES and isinstance(obj, dict):
        return WatchEvent(kind, obj)
    return None
