"""The generic type (``type=generic``), for CI jobs and registries without a type of their
own: a JSON object ``{"registry", "repository", "tag", "digest"}`` (tag or digest may be
left out, not both), signed with an HMAC-SHA256 of the body in ``X-Signature:
sha256=<hex>`` (Flux's ``generic-hmac`` form, so the same senders work)."""

from __future__ import annotations

__all__ = ["SIGNATURE_HEADER", "SOURCE"]

from imageupdater.pushevents.auth import check_hmac_sha256
from imageupdater.pushevents.fields import load_object, text_at
from imageupdater.pushevents.model import Delivery, PushEvent, refuse
from imageupdater.pushevents.quay import host_of
from imageupdater.pushevents.source import Source

NAME = "generic"
_WHAT = "generic payload"
SIGNATURE_HEADER = "X-Signature"


def authenticate(delivery: Delivery, secret: str) -> None:
    check_hmac_sha256(
        delivery.header(SIGNATURE_HEADER),
        secret,
        delivery.body,
        header=SIGNATURE_HEADER,
        what=_WHAT,
    )


def parse(delivery: Delivery) -> tuple[PushEvent, ...]:
    payload = load_object(delivery.body, _WHAT)
    registry = text_at(payload, "registry", _WHAT)
    repository = text_at(payload, "repository", _WHAT)
    if not registry or not repository:
        refuse(f"{_WHAT}: registry and repository are required", "malformed")
    tag = text_at(payload, "tag", _WHAT) or None
    digest = text_at(payload, "digest", _WHAT) or None
    if tag is None and digest is None:
        refuse(f"{_WHAT}: give a tag, a digest or both", "malformed")
    host = host_of(registry, f"{_WHAT}: registry")
    return (PushEvent(host, repository, tag, digest, type=NAME),)


SOURCE = Source(NAME, authenticate, parse, signs_body=True, requires_json=True)
