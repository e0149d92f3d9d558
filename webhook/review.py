"""AdmissionReview on the wire: decoding requests and encoding responses (no HTTP, no I/O).

Accepts ``admission.k8s.io/v1`` and ``v1beta1`` and answers in the version it was asked
in. A review that cannot be understood raises ``MalformedReview`` with a reason the HTTP
layer returns as a 400 — never a 500.
"""

from __future__ import annotations

__all__ = [
    "MalformedReview",
    "Request",
    "Verdict",
    "decode",
    "encode",
]

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

VERSIONS = ("admission.k8s.io/v1", "admission.k8s.io/v1beta1")
Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]
_OPERATIONS: tuple[Operation, ...] = ("CREATE", "UPDATE", "DELETE", "CONNECT")
# AdmissionReviews carry the object and the old object; etcd caps objects at 1.5 MiB.
MAX_BODY = 4 * 1024 * 1024
# kube-apiserver truncates warnings past 256 runes each; keep ours whole by cutting first.
MAX_WARNING = 256


class MalformedReview(ValueError):
    """The body is not an AdmissionReview we can answer."""


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
    try:
        review = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedReview(f"body is not JSON: {exc}") from exc
    if not isinstance(review, dict):
        raise MalformedReview("body is not a JSON object")
    api_version = review.get("apiVersion")
    if review.get("kind") != "AdmissionReview" or api_version not in VERSIONS:
        raise MalformedReview(
            f"expected kind AdmissionReview with apiVersion in {', '.join(VERSIONS)}, "
            f"got kind {review.get('kind')!r} apiVersion {api_version!r}"
        )
    request = review.get("request")
    if not isinstance(request, dict):
        raise MalformedReview("AdmissionReview has no request")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise MalformedReview("AdmissionReview request has no uid")
    operation = request.get("operation")
    if operation not in _OPERATIONS:
        raise MalformedReview(f"unknown operation {operation!r}")
    kind = request.get("kind") or {}
    obj = request.get("object")
    old = request.get("oldObject")
    if obj is not None and not isinstance(obj, dict):
        raise MalformedReview("request.object is not an object")
    if old is not None and not isinstance(old, dict):
        raise MalformedReview("request.oldObject is not an object")
    metadata = (obj or old or {}).get("metadata") or {}
    return Request(
        api_version=api_version,
        uid=uid,
        operation=operation,
        group=str(kind.get("group", "")) if isinstance(kind, dict) else "",
        kind=str(kind.get("kind", "")) if isinstance(kind, dict) else "",
        namespace=str(request.get("namespace") or metadata.get("namespace") or ""),
        name=str(request.get("name") or metadata.get("name") or ""),
        object=obj,
        old_object=old,
        dry_run=bool(request.get("dryRun", False)),
    )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def encode(request: Request, verdict: Verdict) -> dict[str, Any]:
    response: dict[str, Any] = {"uid": request.uid, "allowed": verdict.allowed}
    if not verdict.allowed:
        code = verdict.code if verdict.code >= 400 else 400
        status: dict[str, Any] = {"code": code, "message": verdict.message, "status": "Failure"}
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
