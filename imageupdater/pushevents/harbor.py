"""Harbor (``type=harbor``): the ``Authorization`` header equals the secret (Harbor's
"Auth Header"); ``type: PUSH_ARTIFACT``; ``event_data.resources[0]`` gives the tag, digest
and (from ``resource_url``) the registry host; ``event_data.repository.repo_full_name``
(else ``namespace/name``) the repository."""

from __future__ import annotations

__all__ = ["SOURCE"]

from collections.abc import Mapping
from typing import Any

from imageupdater.pushevents.auth import check_secret
from imageupdater.pushevents.fields import load_object, object_at, text_at
from imageupdater.pushevents.model import Delivery, PushEvent, quoted, refuse
from imageupdater.pushevents.quay import host_of
from imageupdater.pushevents.source import Source

NAME = "harbor"
_WHAT = "harbor payload"


def authenticate(delivery: Delivery, secret: str) -> None:
    check_secret(
        delivery.header("Authorization"), secret, where="the Authorization header", what=_WHAT
    )


def parse(delivery: Delivery) -> tuple[PushEvent, ...]:
    payload = load_object(delivery.body, _WHAT)
    kind = text_at(payload, "type", _WHAT)
    if kind != "PUSH_ARTIFACT":
        refuse(f"{_WHAT}: type {quoted(kind)} is not a push (only PUSH_ARTIFACT)", "not_a_push")
    resources = object_at(payload, "event_data", _WHAT).get("resources")
    if not isinstance(resources, list) or not resources:
        refuse(f"{_WHAT}: event_data.resources must be a non-empty list", "malformed")
    first: object = resources[0]
    if not isinstance(first, Mapping):
        refuse(f"{_WHAT}: event_data.resources[0] must be an object", "malformed")
    resource: Mapping[str, Any] = first
    tag = text_at(resource, "tag", _WHAT)
    if not tag:
        refuse(f"{_WHAT}: no event_data.resources[0].tag", "malformed")
    digest = text_at(resource, "digest", _WHAT) or None
    repo = "event_data.repository"
    repository = text_at(payload, f"{repo}.repo_full_name", _WHAT)
    if not repository:
        name = text_at(payload, f"{repo}.name", _WHAT)
        namespace = text_at(payload, f"{repo}.namespace", _WHAT)
        repository = f"{namespace}/{name}" if namespace and name else name
    if not repository:
        refuse(f"{_WHAT}: no {repo}.repo_full_name (or name)", "malformed")
    url = text_at(resource, "resource_url", _WHAT)
    if not url:
        # Upstream falls back to the registry "harbor", which names no host and so matches
        # only images written without a registry: refused instead of guessed.
        refuse(
            f"{_WHAT}: no event_data.resources[0].resource_url to name the registry", "malformed"
        )
    host = host_of(url, f"{_WHAT}: resource_url")
    return (PushEvent(host, repository, tag, digest, type=NAME),)


SOURCE = Source(NAME, authenticate, parse, requires_json=True)
