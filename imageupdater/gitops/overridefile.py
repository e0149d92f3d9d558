"""The ``.argocd-source-<app>.yaml`` parameter override file, byte for byte as upstream
writes it (§11.3), merged with what the repository already holds.

Argo CD merges this file into the Application's source when it renders. The file carries
one section, chosen by what the updater manages for the Application:

* ``kustomize.images``: entries in the override string form; an existing entry for the same
  image (``docker.io`` and no registry are the same) is replaced only when the new one has
  another tag or the old one had none; new entries are appended; unrelated ones stay;
* ``helm.parameters``: only the parameters the tracked images manage, merged by name with
  the file's and sorted by name, each ``{name, value, forcestring}``;
* ``plugin.env``: the managed variables, merged by name.

As upstream re-marshals the file through typed structures, anything else in it is dropped,
and a file that does not parse as that shape is replaced with fresh content (the caller is
told, so it can say so). The leading run of comments, blank lines and directives is kept
verbatim when it ends in a ``---`` marker. Output: 2-space indentation, sequences not
indented under their key, scalars quoted (double quotes) exactly when YAML would read them
as something other than the string.
"""

from __future__ import annotations

__all__ = ["OverrideFile", "OverrideKind", "render_override_file"]

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from imageupdater.errors import InvalidImageReference
from imageupdater.gitops.yamlscalars import needs_quotes
from imageupdater.images import ImageRef

# Printable above 0x9F but still escaped: line and paragraph separators, surrogates, BOM.
_UNSAFE = re.compile("[\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")

OverrideKind = Literal["kustomize", "helm", "plugin"]


@dataclass(frozen=True, slots=True)
class OverrideFile:
    content: str
    replaced_unparseable: bool  # the existing file did not parse and was written afresh


def render_override_file(
    existing: str | None,
    kind: OverrideKind,
    entries: Sequence[Any],
) -> OverrideFile:
    """The new file text. ``entries``: for ``kustomize`` the image strings; for ``helm``
    the managed ``{name, value, forceString}`` parameters; for ``plugin`` the managed
    ``{name, value}`` env entries."""
    original = existing or ""
    prefix = _document_start_prefix(original)
    current, parsed = _read(original, kind)
    if kind == "kustomize":
        merged: list[Any] = _merge_images(current, [str(e) for e in entries])
        body = _emit("kustomize", "images", [_scalar(e) for e in merged])
    elif kind == "helm":
        params = _merge_by_name(current, [_helm(p) for p in entries])
        params.sort(key=lambda p: p["name"])
        body = _emit("helm", "parameters", [_helm_item(p) for p in params])
    else:
        env = _merge_by_name(current, [_env(e) for e in entries])
        body = _emit("plugin", "env", [_env_item(e) for e in env])
    return OverrideFile(prefix + body, replaced_unparseable=bool(original.strip()) and not parsed)


def _document_start_prefix(raw: str) -> str:
    lines = raw.split("\n")
    n = 0
    while n < len(lines):
        trimmed = lines[n].strip()
        if trimmed == "" or trimmed.startswith(("#", "%")):
            n += 1
            continue
        break
    if n >= len(lines):
        return ""
    marker = lines[n]
    if marker != "---" and not marker.startswith(("--- ", "---\t")):
        return ""
    return "\n".join(lines[: n + 1]) + "\n"


def _read(original: str, kind: OverrideKind) -> tuple[list[Any], bool]:
    """The section's current entries, and whether the file read as the expected shape."""
    if not original.strip():
        return [], True
    try:
        document = yaml.safe_load(original)
    except yaml.YAMLError:
        return [], False
    if document is None:
        return [], True
    if not isinstance(document, dict):
        return [], False
    section_key, list_key = {
        "kustomize": ("kustomize", "images"),
        "helm": ("helm", "parameters"),
        "plugin": ("plugin", "env"),
    }[kind]
    section = document.get(section_key)
    if section is None:
        return [], True
    if not isinstance(section, dict):
        return [], False
    items = section.get(list_key)
    if items is None:
        return [], True
    if not isinstance(items, list):
        return [], False
    if kind == "kustomize":
        if not all(isinstance(i, str) for i in items):
            return [], False
        return list(items), True
    if not all(isinstance(i, dict) for i in items):
        return [], False
    return [_from_file(i, kind) for i in items], True


def _from_file(item: Mapping[str, Any], kind: OverrideKind) -> dict[str, Any]:
    # Typed unmarshalling as upstream does it: known keys only, lower-cased field names.
    name, value = item.get("name"), item.get("value")
    entry: dict[str, Any] = {
        "name": "" if name is None else str(name),
        "value": "" if value is None else str(value),
    }
    if kind == "helm":
        entry["forcestring"] = item.get("forcestring") is True
    return entry


def _identity(entry: str) -> tuple[str, str] | None:
    ref = entry.split("=", 1)[1] if "=" in entry else entry
    try:
        return ImageRef.parse(ref).identity()
    except InvalidImageReference:
        return None


def _version(entry: str) -> tuple[str | None, str | None]:
    ref = entry.split("=", 1)[1] if "=" in entry else entry
    try:
        parsed = ImageRef.parse(ref)
    except InvalidImageReference:
        return None, None
    return parsed.tag, parsed.digest


def _merge_images(current: list[str], new: list[str]) -> list[str]:
    merged = list(current)
    for entry in new:
        identity = _identity(entry)
        for index, old in enumerate(merged):
            if identity is not None and _identity(old) == identity:
                old_version, new_version = _version(old), _version(entry)
                if old_version == (None, None) or (
                    new_version != (None, None) and old_version != new_version
                ):
                    merged[index] = entry
                break
        else:
            merged.append(entry)
    return merged


def _helm(param: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": str(param.get("name", "")),
        "value": str(param.get("value", "")),
        "forcestring": bool(param.get("forceString", param.get("forcestring", False))),
    }


def _env(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": str(entry.get("name", "")), "value": str(entry.get("value", ""))}


def _merge_by_name(
    current: list[dict[str, Any]], new: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    merged = list(current)
    for entry in new:
        for index, old in enumerate(merged):
            if old["name"] == entry["name"]:
                merged[index] = entry
                break
        else:
            merged.append(entry)
    return merged


def _scalar(value: str) -> str:
    return _double_quoted(value) if needs_quotes(value) else value


def _double_quoted(value: str) -> str:
    """A YAML double-quoted scalar; what is not printable is escaped, the rest kept."""
    out = ['"']
    for char in value:
        code = ord(char)
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif 0x20 <= code <= 0x7E or (code >= 0xA0 and not _UNSAFE.match(char)):
            out.append(char)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _helm_item(param: Mapping[str, Any]) -> list[str]:
    return [
        f"name: {_scalar(param['name'])}",
        f"value: {_scalar(param['value'])}",
        f"forcestring: {'true' if param['forcestring'] else 'false'}",
    ]


def _env_item(entry: Mapping[str, Any]) -> list[str]:
    return [f"name: {_scalar(entry['name'])}", f"value: {_scalar(entry['value'])}"]


def _emit(section: str, key: str, items: Sequence[str | list[str]]) -> str:
    if not items:
        return f"{section}:\n  {key}: []\n"
    lines = [f"{section}:", f"  {key}:"]
    for item in items:
        if isinstance(item, str):
            lines.append(f"  - {item}")
        else:
            lines.append(f"  - {item[0]}")
            lines.extend(f"    {field}" for field in item[1:])
    return "\n".join(lines) + "\n"
