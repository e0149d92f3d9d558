"""AdmissionReview on the wire: decoding requests and encoding responses (no HTTP, no I/O).

Accepts ``admission.k8s.io/v1`` and ``v1beta1`` and answers in the version it was asked
in. A review that cannot be understood — not JSON, nested too deeply, not an AdmissionReview,
or with a field admission reads of the wrong type or holding a lone surrogate — raises
``MalformedReview`` with a reason naming the JSON path, which the HTTP layer returns as a
400, never a 500. So admission and the core readers it calls can trust the types they read.
"""

from __future__ import annotations

__all__ = [
    "AdmissionRequest",
    "AdmissionResponse",
    "AdmissionReview",
    "GroupVersionKind",
    "GroupVersionResource",
    "MalformedReview",
    "Request",
    "ResponseStatus",
    "UserInfo",
    "Verdict",
    "decode",
    "encode",
]

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn, Required, TypedDict, cast

from imageupdater.errors import InvalidInput

VERSIONS = ("admission.k8s.io/v1", "admission.k8s.io/v1beta1")
Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]
_OPERATIONS: tuple[Operation, ...] = ("CREATE", "UPDATE", "DELETE", "CONNECT")
# AdmissionReviews carry the object and the old object; etcd caps objects at 1.5 MiB.
MAX_BODY = 4 * 1024 * 1024
# kube-apiserver truncates warnings past 256 runes each; keep ours whole by cutting first.
MAX_WARNING = 256


# A malformed review is bad input that sending it again will not fix: the core's
# InvalidInput (permanent), answered 400. It is still a ValueError, which it was before it
# joined the tree, for any caller that catches it as one.
class MalformedReview(InvalidInput, ValueError):
    """The body is not an AdmissionReview we can answer."""


# -- the wire shapes (admission.k8s.io/v1; v1beta1 has the same fields) ---------------------
#
# A review that ``decode`` accepts has been checked wherever admission reads it (uid,
# operation, kind, name, namespace, dryRun, and the parts of object/oldObject the shape
# checks below name); the fields admission never reads (resource, userInfo, options...) are
# typed as the API server sends them, but nothing checks them.


class GroupVersionKind(TypedDict, total=False):
    group: str
    version: str
    kind: str


class GroupVersionResource(TypedDict, total=False):
    group: str
    version: str
    resource: str


class UserInfo(TypedDict, total=False):
    username: str
    uid: str
    groups: list[str]
    extra: dict[str, list[str]]


class AdmissionRequest(TypedDict, total=False):
    uid: Required[str]
    kind: GroupVersionKind
    resource: GroupVersionResource
    subResource: str
    requestKind: GroupVersionKind
    requestResource: GroupVersionResource
    requestSubResource: str
    name: str
    namespace: str
    operation: Required[Operation]
    userInfo: UserInfo
    object: dict[str, Any]  # any kind of object: an Application is checked as one
    oldObject: dict[str, Any]
    dryRun: bool
    options: dict[str, Any]


class ResponseStatus(TypedDict, total=False):
    """The part of a ``metav1.Status`` a denial carries."""

    code: int
    message: str
    status: Literal["Success", "Failure"]
    reason: str


class AdmissionResponse(TypedDict, total=False):
    uid: Required[str]
    allowed: Required[bool]
    status: ResponseStatus
    warnings: list[str]
    patch: str  # base64 of the JSONPatch document
    patchType: Literal["JSONPatch"]
    auditAnnotations: dict[str, str]


class AdmissionReview(TypedDict, total=False):
    """A review as sent (``request``) or answered (``response``)."""

    apiVersion: Required[str]
    kind: Required[Literal["AdmissionReview"]]
    request: AdmissionRequest
    response: AdmissionResponse


@dataclass(frozen=True, slots=True)
class Request:
    api_version: str
    uid: str
    operation: Operation
    group: str
    kind: str
    namespace: str
    name: str
    object: Mapping[str, Any] | None
    old_object: Mapping[str, Any] | None
    dry_run: bool


@dataclass(frozen=True, slots=True)
class Verdict:
    """What we answer: allowed or denied (``message``), warnings, and an optional JSONPatch."""

    allowed: bool = True
    message: str = ""
    reason: str = ""
    code: int = 200
    warnings: Sequence[str] = ()
    patch: Sequence[Mapping[str, Any]] = field(default_factory=tuple)


def decode(body: bytes) -> Request:
    """The review in ``body``, its shape checked wherever admission reads it.

    Only the fields the decision reads are checked (no walk of the whole tree, so decoding
    stays cheap), and each check names the JSON path at fault. A ``null`` field counts as
    absent, as the API server prunes nulls from custom resources, and is dropped from the
    decoded object so the readers downstream never meet one.
    """
    review = _checked_review(body)
    request = review["request"]
    kind = request.get("kind", {})
    obj = request.get("object")
    old = request.get("oldObject")
    meta: Mapping[str, Any] = (obj or {}).get("metadata") or (old or {}).get("metadata") or {}
    return Request(
        api_version=review["apiVersion"],
        uid=request["uid"],
        operation=request["operation"],
        group=kind.get("group", ""),
        kind=kind.get("kind", ""),
        namespace=request.get("namespace") or meta.get("namespace") or "",
        name=request.get("name") or meta.get("name") or "",
        object=obj,
        old_object=old,
        dry_run=request.get("dryRun", False),
    )


def _checked_review(body: bytes) -> AdmissionReview:
    """``body`` parsed, with every field ``decode`` and admission read checked (nulls
    dropped): from here on the ``AdmissionReview`` type holds."""
    try:
        review = json.loads(body)
    except RecursionError as exc:
        raise MalformedReview("body is nested too deeply to be an AdmissionReview") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedReview(f"body is not JSON: {exc}") from exc
    if not isinstance(review, dict):
        raise MalformedReview(f"body: expected an AdmissionReview object, got {_type(review)}")
    api_version = review.get("apiVersion")
    kind_field = review.get("kind")
    if kind_field != "AdmissionReview" or api_version not in VERSIONS:
        raise MalformedReview(
            f"expected kind AdmissionReview with apiVersion in {', '.join(VERSIONS)}, "
            f"got kind {_show(kind_field)} apiVersion {_show(api_version)}"
        )
    request = review.get("request")
    if not isinstance(request, dict):
        raise MalformedReview(f"request: expected an object, got {_type(request)}")
    uid = _text(request.get("uid"), "request.uid")
    if not uid:
        raise MalformedReview("request.uid: expected a non-empty string, got an empty string")
    operation = request.get("operation")
    if operation not in _OPERATIONS:
        raise MalformedReview(
            f"request.operation: expected one of {', '.join(_OPERATIONS)}, got {_show(operation)}"
        )
    group, kind = _resource_kind(_object(request, "kind", "request"))
    obj = _object(request, "object", "request")
    old = _object(request, "oldObject", "request")
    # Of an Application admission reads the new object and the old one's annotations; of
    # anything else only the name and namespace.
    application = group == "argoproj.io" and kind == "Application"
    if obj is not None:
        if application:
            _application(obj, "request.object")
        else:
            _metadata(obj, "request.object")
    if old is not None:
        old_meta = _metadata(old, "request.oldObject")
        if application and old_meta is not None:
            _labelled(old_meta, "request.oldObject.metadata")
    _opt_text(request, "namespace", "request")
    _opt_text(request, "name", "request")
    dry_run = _field(request, "dryRun")
    if dry_run is not None and not isinstance(dry_run, bool):
        _fail("request.dryRun", "a boolean", dry_run)
    return cast(AdmissionReview, review)


# -- shape checks: one small function per part of the review that admission reads -----------

_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),  # before int: bool is an int
    (str, "string"),
    (int, "number"),
    (float, "number"),
    (list, "array"),
    (dict, "object"),
)


def _type(value: object) -> str:
    if value is None:
        return "null"
    for cls, name in _JSON_TYPES:
        if isinstance(value, cls):
            return name
    return type(value).__name__


def _show(value: object) -> str:
    """A value for a message: strings quoted and cut, anything else by its JSON type."""
    if value is None:
        return "none"
    return repr(_cut(value, 64)) if isinstance(value, str) else _type(value)


def _key(key: str) -> str:
    # JSON-quoted, so a lone surrogate in a key shows as its escape and the reason stays
    # encodable for the answer and the log.
    return json.dumps(_cut(key, 80))


def _fail(path: str, expected: str, value: object) -> NoReturn:
    raise MalformedReview(f"{path}: expected {expected}, got {_type(value)}")


def _checked(text: str, path: str) -> str:
    """``text``, refused when it holds a lone surrogate (``"\\ud800"`` in the JSON): such a
    string cannot be encoded as UTF-8, so RE2, the log and the answer would all fail on it."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedReview(
            f"{path}: expected valid Unicode text, got a lone surrogate "
            f"\\u{ord(text[exc.start]):04x} at character {exc.start}"
        ) from None
    return text


def _text(value: object, path: str) -> str:
    if not isinstance(value, str):
        _fail(path, "a string", value)
    return _checked(value, path)


# The helpers below test the common case first with exact types (json.loads makes exactly
# dict, list and str) and build a path only on the way to a refusal: they run ~40 times per
# review, on the webhook's hot path. A null is popped, so it reads as absent here and in
# every reader downstream.


def _field(parent: dict[str, Any], key: str) -> Any:
    value = parent.get(key)
    if value is None:
        parent.pop(key, None)
    return value


def _object(parent: dict[str, Any], key: str, path: str) -> dict[str, Any] | None:
    value = parent.get(key)
    if type(value) is dict:
        return value
    if value is None:
        parent.pop(key, None)
        return None
    _fail(f"{path}.{key}", "an object", value)


def _array(parent: dict[str, Any], key: str, path: str) -> list[Any]:
    value = parent.get(key)
    if type(value) is list:
        return value
    if value is None:
        parent.pop(key, None)
        return []
    _fail(f"{path}.{key}", "an array", value)


def _opt_text(parent: dict[str, Any], key: str, path: str) -> str | None:
    value = parent.get(key)
    if type(value) is str and value.isascii():
        return value
    if value is None:
        parent.pop(key, None)
        return None
    return _text(value, f"{path}.{key}")


def _opt_bool(parent: dict[str, Any], key: str, path: str) -> None:
    value = parent.get(key)
    if value is None:
        parent.pop(key, None)
    elif type(value) is not bool:
        _fail(f"{path}.{key}", "a boolean", value)


def _ascii_texts(texts: Iterable[Any]) -> bool:
    """Whether every item is an ASCII string, tested at C speed (join refuses a non-string)."""
    try:
        return "".join(texts).isascii()
    except TypeError:
        return False


def _strings(parent: dict[str, Any], key: str, path: str) -> None:
    items = _array(parent, key, path)
    if _ascii_texts(items):
        return
    for index, item in enumerate(items):
        if not (type(item) is str and item.isascii()):
            _text(item, f"{path}.{key}[{index}]")


def _string_map(parent: dict[str, Any], key: str, path: str) -> None:
    mapping = _object(parent, key, path)
    if not mapping or (_ascii_texts(mapping) and _ascii_texts(mapping.values())):
        return
    for name, value in mapping.items():
        if not (name.isascii() and type(value) is str and value.isascii()):
            _checked(name, f"{path}.{key}: key {_key(name)}")
            _text(value, f"{path}.{key}[{_key(name)}]")


def _texts(parent: dict[str, Any], keys: tuple[str, ...], path: str) -> None:
    """Optional string fields, all at once when they are ASCII strings (or absent)."""
    if not _ascii_texts([parent.get(key, "") for key in keys]):
        for key in keys:
            _opt_text(parent, key, path)


def _objects(parent: dict[str, Any], key: str, path: str) -> list[tuple[dict[str, Any], str]]:
    """The entries of an array of objects, each with its path."""
    found = []
    for index, item in enumerate(_array(parent, key, path)):
        where = f"{path}.{key}[{index}]"
        if not isinstance(item, dict):
            _fail(where, "an object", item)
        found.append((item, where))
    return found


def _resource_kind(kind: dict[str, Any] | None) -> tuple[str, str]:
    if kind is None:
        return "", ""
    _opt_text(kind, "version", "request.kind")
    group = _opt_text(kind, "group", "request.kind") or ""
    return group, _opt_text(kind, "kind", "request.kind") or ""


_META_TEXTS = ("name", "namespace")
_SOURCE_TEXTS = ("repoURL", "path", "chart", "targetRevision", "ref")
_ENTRY_TEXTS = ("name", "value")


def _metadata(obj: dict[str, Any], path: str) -> dict[str, Any] | None:
    meta = _object(obj, "metadata", path)
    if meta is not None:
        _texts(meta, _META_TEXTS, path + ".metadata")
    return meta


def _labelled(meta: dict[str, Any], path: str) -> None:
    _string_map(meta, "annotations", path)
    _string_map(meta, "labels", path)
    _opt_text(meta, "resourceVersion", path)


def _source(source: dict[str, Any], path: str) -> None:
    """What the planner reads and writes in a source (``imageupdater.plan``)."""
    _texts(source, _SOURCE_TEXTS, path)
    helm = _object(source, "helm", path)
    if helm is not None:
        for param, where in _objects(helm, "parameters", path + ".helm"):
            _texts(param, _ENTRY_TEXTS, where)
            _opt_bool(param, "forceString", where)
    kustomize = _object(source, "kustomize", path)
    if kustomize is not None:
        _strings(kustomize, "images", path + ".kustomize")
    plugin = _object(source, "plugin", path)
    if plugin is not None:
        _opt_text(plugin, "name", path + ".plugin")
        for entry, where in _objects(plugin, "env", path + ".plugin"):
            _texts(entry, _ENTRY_TEXTS, where)


def _application(obj: dict[str, Any], path: str) -> dict[str, Any] | None:
    """Check what admission reads of an Application (``imageupdater.application``); return
    its metadata."""
    meta = _metadata(obj, path)
    if meta is not None:
        _labelled(meta, path + ".metadata")
    spec = _object(obj, "spec", path)
    if spec is not None:
        where = path + ".spec"
        _opt_text(spec, "project", where)
        source = _object(spec, "source", where)
        if source is not None:
            _source(source, where + ".source")
        for item, item_path in _objects(spec, "sources", where):
            _source(item, item_path)
    status = _object(obj, "status", path)
    if status is not None:
        where = path + ".status"
        summary = _object(status, "summary", where)
        if summary is not None:
            _strings(summary, "images", where + ".summary")
        _opt_text(status, "sourceType", where)
        _strings(status, "sourceTypes", where)
    return meta


def _cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, cut after the last whole word with an
    ellipsis (inside a word only when it is longer than half the limit: a URL, a digest)."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    if not text[limit - 1].isspace():
        space = max(head.rfind(" "), head.rfind("\n"))
        if space > limit // 2:
            head = head[:space]
    return head.rstrip().rstrip(";,:").rstrip() + "…"


def encode(request: Request, verdict: Verdict) -> AdmissionReview:
    """The answer to ``request``, in the version it was asked in."""
    response: AdmissionResponse = {"uid": request.uid, "allowed": verdict.allowed}
    if not verdict.allowed:
        code = verdict.code if verdict.code >= 400 else 400
        status: ResponseStatus = {"code": code, "message": verdict.message, "status": "Failure"}
        if verdict.reason:
            status["reason"] = verdict.reason
        response["status"] = status
    if verdict.warnings:
        response["warnings"] = [_cut(w, MAX_WARNING) for w in verdict.warnings]
    if verdict.patch and verdict.allowed:
        encoded = json.dumps(list(verdict.patch), separators=(",", ":")).encode()
        response["patch"] = base64.b64encode(encoded).decode()
        response["patchType"] = "JSONPatch"
    return {"apiVersion": request.api_version, "kind": "AdmissionReview", "response": response}
