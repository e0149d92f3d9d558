"""Quay (``type=quay.io``): ``?secret=``; the repository push notification's
``repository``, first of ``updated_tags``, and the host of ``docker_url`` (default
``quay.io``, for self-hosted Quay)."""

from __future__ import annotations

__all__ = ["SOURCE"]

from yarl import URL

from imageupdater.pushevents.auth import check_secret
from imageupdater.pushevents.fields import load_object, text_at
from imageupdater.pushevents.model import Delivery, PushEvent, quoted, refuse
from imageupdater.pushevents.source import Source

NAME = "quay.io"
_WHAT = "quay.io payload"


def authenticate(delivery: Delivery, secret: str) -> None:
    check_secret(delivery.query.get("secret", ""), secret, where="?secret=", what=_WHAT)


def host_of(url_text: str, what: str) -> str:
    """The host[:port] of ``url_text``, with or without a scheme."""
    text = url_text if "://" in url_text else "https://" + url_text
    try:
        url = URL(text)
    except ValueError as exc:
        refuse(f"{what}: {quoted(url_text)} is not a URL ({exc})", "malformed")
    if not url.host:
        refuse(f"{what}: {quoted(url_text)} names no host", "malformed")
    return url.raw_authority.rsplit("@", 1)[-1]


def parse(delivery: Delivery) -> tuple[PushEvent, ...]:
    payload = load_object(delivery.body, _WHAT)
    repository = text_at(payload, "repository", _WHAT)
    if not repository:
        refuse(f"{_WHAT}: no repository", "malformed")
    tags = payload.get("updated_tags")
    if not isinstance(tags, list) or not tags:
        refuse(f"{_WHAT}: updated_tags must be a non-empty list", "malformed")
    if not all(isinstance(tag, str) for tag in tags):
        refuse(f"{_WHAT}: updated_tags must hold strings, got {quoted(tags)}", "malformed")
    docker_url = text_at(payload, "docker_url", _WHAT)
    host = host_of(docker_url, f"{_WHAT}: docker_url") if docker_url else "quay.io"
    # Upstream reads the first tag only; every tag is the same repository, so one event
    # per tag costs nothing more after coalescing and loses nothing.
    return tuple(PushEvent(host, repository, tag, type=NAME) for tag in tags)


SOURCE = Source(NAME, authenticate, parse)
