"""GitHub Container Registry (``type=ghcr.io``): the ``package`` event of GitHub webhooks,
signed with ``X-Hub-Signature-256``; only ``action: published`` of a ``container`` package.
The repository is ``<owner>/<package>`` lower-cased (GHCR's names are), the tag the
container metadata's, else the version's name."""

from __future__ import annotations

__all__ = ["SOURCE"]

from imageupdater.pushevents.auth import check_hmac_sha256
from imageupdater.pushevents.fields import load_object, text_at
from imageupdater.pushevents.model import Delivery, PushEvent, quoted, refuse
from imageupdater.pushevents.source import Source

NAME = "ghcr.io"
_WHAT = "ghcr.io payload"
SIGNATURE_HEADER = "X-Hub-Signature-256"


def check_event_header(delivery: Delivery) -> None:
    event = delivery.header("X-GitHub-Event")
    if event != "package":
        shown = quoted(event) if event else "missing"
        refuse(
            f"{_WHAT}: X-GitHub-Event is {shown}; only 'package' events are read",
            "event_header",
        )


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
    action = text_at(payload, "action", _WHAT)
    if action != "published":
        refuse(f"{_WHAT}: action {quoted(action)} is not a push (only 'published')", "not_a_push")
    package_type = text_at(payload, "package.package_type", _WHAT)
    if package_type.lower() != "container":
        refuse(f"{_WHAT}: package_type {quoted(package_type)} is not 'container'", "not_a_push")
    name = text_at(payload, "package.name", _WHAT)
    owner = text_at(payload, "package.owner.login", _WHAT)
    if not name or not owner:
        refuse(f"{_WHAT}: no package.name or package.owner.login", "malformed")
    version = "package.package_version"
    tag = (
        text_at(payload, f"{version}.container_metadata.tag.name", _WHAT)
        or text_at(payload, f"{version}.name", _WHAT)
        or text_at(payload, f"{version}.version", _WHAT)
    )
    if not tag:
        refuse(f"{_WHAT}: no tag in {version}", "malformed")
    digest = None
    if tag.startswith("sha256:"):
        # An untagged push names the version by its digest.
        tag, digest = "", tag
    return (PushEvent("ghcr.io", f"{owner}/{name}".lower(), tag or None, digest, type=NAME),)


SOURCE = Source(NAME, authenticate, parse, signs_body=True, check_head=check_event_header)
