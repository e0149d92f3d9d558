"""Server-side printing: the ``meta.k8s.io`` Table kube-apiserver answers ``kubectl get`` with,
for custom resources, from their CRD's ``additionalPrinterColumns``.

kubectl asks with ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io,...``; the columns
are the CRD's (a ``Name`` column first, as apiextensions-apiserver's table convertor puts it;
``Age`` from ``.metadata.creationTimestamp`` when the CRD declares none), each cell read with
the column's JSONPath and typed as the convertor types it (no match: null, an empty cell in
kubectl's output; ``date`` cells become an age such as ``5m``, on the server's clock).
Rows carry the object as ``PartialObjectMetadata`` (``includeObject=Metadata``, the
default), the whole object (``Object``) or nothing (``None``). Built-in types are answered
as JSON, and kubectl then prints NAME and AGE itself; watches are never Tables.

The JSONPath subset is what printer columns use: ``.field``, ``[n]`` and
``[?(@.field=="value")]``; a CRD whose column needs more is refused when it is loaded.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from imageupdater.errors import InvalidInput

JSON = dict[str, Any]
TABLE_GROUP = "meta.k8s.io"
_NAME_DOC = (
    "Name must be unique within a namespace. Is required when creating resources, although "
    "some resources may allow a client to request the generation of a name automatically. "
    "Name is primarily intended for creation idempotence and configuration definition. Cannot "
    "be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/"
    "names#names"
)
_STEP = re.compile(
    r"\.(?P<field>[A-Za-z0-9_$-]+)"
    r"|\[(?P<index>\d+)\]"
    r'|\[\?\(@\.(?P<key>[A-Za-z0-9_-]+)\s*==\s*(?:"(?P<dq>[^"]*)"|\'(?P<sq>[^\']*)\')\)\]'
)


@dataclass(frozen=True, slots=True)
class PrinterColumn:
    """One ``additionalPrinterColumns`` entry, its JSONPath already split into steps."""

    name: str
    type: str
    json_path: str
    priority: int = 0
    description: str = ""
    format: str = ""
    steps: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def parse(cls, raw: Mapping[str, Any], where: str) -> PrinterColumn:
        path = str(raw.get("jsonPath") or "")
        return cls(
            name=str(raw.get("name") or ""),
            type=str(raw.get("type") or "string"),
            json_path=path,
            priority=int(raw.get("priority") or 0),
            description=str(raw.get("description") or ""),
            format=str(raw.get("format") or ""),
            steps=_parse_path(path, where),
        )

    def definition(self) -> JSON:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description
            or f"Custom resource definition column (in JSONPath format): {self.json_path}",
            "priority": self.priority,
        }

    def cell(self, obj: Mapping[str, Any]) -> Any:
        found = _find(obj, self.steps)
        if not found:
            return None
        return _typed(self.type, found[0])


AGE = PrinterColumn("Age", "date", ".metadata.creationTimestamp",
                    steps=(("field", "metadata"), ("field", "creationTimestamp")))  # fmt: skip


def printer_columns(version: Mapping[str, Any], crd_name: str) -> tuple[PrinterColumn, ...]:
    """The columns one CRD version prints (``Age`` when it declares none)."""
    raw = version.get("additionalPrinterColumns") or []
    columns = tuple(
        PrinterColumn.parse(entry, f"CRD {crd_name} column {index}")
        for index, entry in enumerate(raw)
        if isinstance(entry, Mapping)
    )
    return columns or (AGE,)


def _parse_path(path: str, where: str) -> tuple[tuple[str, Any], ...]:
    steps: list[tuple[str, Any]] = []
    position = 0
    while position < len(path):
        match = _STEP.match(path, position)
        if match is None:
            raise InvalidInput(
                f"{where}: jsonPath {path!r} is outside the subset served (.field, [n], "
                '[?(@.field=="value")]) at character {position}'
            )
        if match["field"] is not None:
            steps.append(("field", match["field"]))
        elif match["index"] is not None:
            steps.append(("index", int(match["index"])))
        else:
            value = match["dq"] if match["dq"] is not None else match["sq"]
            steps.append(("filter", (match["key"], value)))
        position = match.end()
    if not steps:
        raise InvalidInput(f"{where}: jsonPath {path!r} is empty")
    return tuple(steps)


def _find(obj: Any, steps: Sequence[tuple[str, Any]]) -> list[Any]:
    values = [obj]
    for kind, arg in steps:
        found: list[Any] = []
        for value in values:
            field = kind == "field" and isinstance(value, Mapping) and arg in value
            if field or (kind == "index" and isinstance(value, list) and arg < len(value)):
                found.append(value[arg])
            elif kind == "filter" and isinstance(value, list):
                key, wanted = arg
                found.extend(
                    item
                    for item in value
                    if isinstance(item, Mapping) and _text(item.get(key)) == wanted
                )
        values = found
    return values


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or isinstance(value, Mapping | list):
        return None
    return str(value)


def _typed(kind: str, value: Any) -> Any:
    """A cell as apiextensions-apiserver's ``cellForJSONValue`` makes it."""
    if kind == "string":
        if isinstance(value, Mapping | list):
            return json.dumps(value, separators=(",", ":"))
        return _text(value) if value is not None else None
    if kind == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return None
    if kind == "number":
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if kind == "date":
        # Rendered on the server, as an age (translateTimestampSince).
        if not isinstance(value, str):
            return None
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return "<invalid>"
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return human_duration(dt.datetime.now(dt.UTC) - moment)
    return None


def human_duration(elapsed: dt.timedelta) -> str:
    """apimachinery's ``duration.HumanDuration``, the age kubectl shows."""
    seconds = int(elapsed.total_seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        years, days = hours // 24 // 365, (hours // 24) % 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def table_version(accept: str) -> str | None:
    """The ``meta.k8s.io`` version of Table the Accept header asks for first, if any."""
    for media in accept.split(","):
        parts = [p.strip() for p in media.split(";")]
        if parts[0] not in ("application/json", "*/*"):
            continue
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if params.get("as") == "Table" and params.get("g") == TABLE_GROUP:
            version = params.get("v")
            if version in ("v1", "v1beta1"):
                return version
    return None


def content_type(version: str) -> str:
    return f"application/json;as=Table;v={version};g={TABLE_GROUP}"


def table(
    columns: Sequence[PrinterColumn],
    objects: Iterable[Mapping[str, Any]],
    *,
    version: str,
    metadata: JSON,
    include: str = "Metadata",
) -> JSON:
    """The Table of ``objects`` (one for a get, the page for a list)."""
    rows = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        row: JSON = {"cells": [meta.get("name", ""), *(c.cell(obj) for c in columns)]}
        if include == "Object":
            row["object"] = dict(obj)
        elif include != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": f"{TABLE_GROUP}/{version}",
                "metadata": dict(meta),
            }
        rows.append(row)
    name: JSON = {
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": _NAME_DOC,
        "priority": 0,
    }
    return {
        "kind": "Table",
        "apiVersion": f"{TABLE_GROUP}/{version}",
        "metadata": metadata,
        "columnDefinitions": [name, *(c.definition() for c in columns)],
        "rows": rows,
    }
