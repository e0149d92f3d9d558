"""Patch bodies by content type: JSON merge patch (RFC 7386), JSON patch (RFC 6902), apply.

Server-side apply is approximated as a merge of the applied document into the live object:
there is no field ownership, so fields absent from the applied document are kept, and
`force` changes nothing. Strategic merge patch is accepted for built-in kinds only (as a
merge patch; `$patch`/`$retainKeys` directives are refused) and answers 415 for custom
resources, as kube-apiserver does.
"""

from __future__ import annotations

import copy
import json
from enum import StrEnum
from typing import Any

import jsonpatch
import yaml

from .status import ApiError


class PatchType(StrEnum):
    MERGE = "application/merge-patch+json"
    JSON = "application/json-patch+json"
    APPLY = "application/apply-patch+yaml"
    STRATEGIC = "application/strategic-merge-patch+json"


def patch_type(content_type: str, *, custom: bool) -> PatchType:
    """The patch type for a Content-Type header, or 415 like kube-apiserver."""
    base = content_type.split(";")[0].strip().lower()
    accepted = [p for p in PatchType if not (custom and p is PatchType.STRATEGIC)]
    for p in accepted:
        if base == p.value:
            return p
    raise ApiError(
        415,
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{', '.join(p.value for p in accepted)}",
    )


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _no_directives(patch: Any) -> None:
    if isinstance(patch, dict):
        for key, value in patch.items():
            if key.startswith("$"):
                raise ApiError(
                    400, f"strategic merge patch directive {key!r} is not supported by the emulator"
                )
            _no_directives(value)
    elif isinstance(patch, list):
        for item in patch:
            _no_directives(item)


def decode_body(raw: bytes, kind: PatchType) -> Any:
    try:
        if kind is PatchType.APPLY:
            return yaml.safe_load(raw.decode("utf-8"))
        return json.loads(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise ApiError(400, f"the request body is not valid {kind.value}: {exc}") from exc


def apply_patch(current: dict[str, Any], body: Any, kind: PatchType) -> dict[str, Any]:
    """The patched object; 400 for a malformed patch, 422 when a JSON patch op cannot apply."""
    if kind is PatchType.JSON:
        if not isinstance(body, list):
            raise ApiError(
                400, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
            )
        try:
            result = jsonpatch.JsonPatch(body).apply(current)
        except jsonpatch.JsonPatchTestFailed as exc:
            raise ApiError(422, f"the server rejected our request due to an error in our request: "
                                f"testing value failed: {exc}") from exc  # fmt: skip
        except jsonpatch.InvalidJsonPatch as exc:
            raise ApiError(400, f"invalid JSON patch: {exc}") from exc
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise ApiError(422, f"the server rejected our request due to an error in our request: "
                                f"{exc}") from exc  # fmt: skip
        if not isinstance(result, dict):
            raise ApiError(422, "the JSON patch replaced the whole object with a non-object")
        return result
    if not isinstance(body, dict):
        raise ApiError(400, f"a {kind.value} body must be an object, got {type(body).__name__}")
    if kind is PatchType.STRATEGIC:
        _no_directives(body)
    merged = merge_patch(current, body)
    assert isinstance(merged, dict)
    return merged
