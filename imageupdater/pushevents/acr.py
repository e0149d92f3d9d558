"""Azure Container Registry (``type=acr``): a custom ``Authorization`` header equal to
the secret; ``action: push``; ``request.host``, ``target.repository``, ``target.tag``
(may be empty: a push by digest) and ``target.digest``."""

from __future__ import annotations

__all__ = ["SOURCE"]

from imageupdater.pushevents.auth import check_secret
from imageupdater.pushevents.fields import load_object, text_at
from imageupdater.pushevents.model import Delivery, PushEvent, quoted, refuse
from imageupdater.pushevents.source import Source

NAME = "acr"
_WHAT = "acr payload"


def authenticate(delivery: Delivery, secret: str) -> None:
    check_secret(
        delivery.header("Authorization"), secret, where="the Authorization header", what=_WHAT
    )


def parse(delivery: Delivery) -> tuple[PushEvent, ...]:
    payload = load_object(delivery.body, _WHAT)
    action = text_at(payload, "action", _WHAT)
    if action != "push":
        refuse(f"{_WHAT}: action {quoted(action)} is not a push", "not_a_push")
    repository = text_at(payload, "target.repository", _WHAT)
    if not repository:
        refuse(f"{_WHAT}: no target.repository", "malformed")
    host = text_at(payload, "request.host", _WHAT)
    if not host:
        refuse(f"{_WHAT}: no request.host to name the registry", "malformed")
    tag = text_at(payload, "target.tag", _WHAT) or None
    digest = text_at(payload, "target.digest", _WHAT) or None
    return (PushEvent(host.lower(), repository, tag, digest, type=NAME),)


SOURCE = Source(NAME, authenticate, parse, requires_json=True)
