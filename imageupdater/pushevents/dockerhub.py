"""Docker Hub (``type=docker.io``): ``?secret=``; ``repository.repo_name`` (else
``namespace/name``) and ``push_data.tag``; the registry is always ``docker.io``."""

from __future__ import annotations

__all__ = ["SOURCE"]

from imageupdater.pushevents.auth import check_secret
from imageupdater.pushevents.fields import load_object, text_at
from imageupdater.pushevents.model import Delivery, PushEvent, refuse
from imageupdater.pushevents.source import Source

NAME = "docker.io"
_WHAT = "docker.io payload"


def authenticate(delivery: Delivery, secret: str) -> None:
    check_secret(delivery.query.get("secret", ""), secret, where="?secret=", what=_WHAT)


def parse(delivery: Delivery) -> tuple[PushEvent, ...]:
    payload = load_object(delivery.body, _WHAT)
    repository = text_at(payload, "repository.repo_name", _WHAT)
    if not repository:
        name = text_at(payload, "repository.name", _WHAT)
        namespace = text_at(payload, "repository.namespace", _WHAT)
        repository = f"{namespace}/{name}" if namespace and name else name
    if not repository:
        refuse(f"{_WHAT}: no repository.repo_name (or repository.name)", "malformed")
    tag = text_at(payload, "push_data.tag", _WHAT)
    if not tag:
        refuse(f"{_WHAT}: no push_data.tag", "malformed")
    return (PushEvent("docker.io", repository, tag, type=NAME),)


SOURCE = Source(NAME, authenticate, parse)
