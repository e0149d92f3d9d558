"""Docker distribution's own notifications (``type=distribution``): what a registry's
``notifications: endpoints:`` sends — an envelope ``{"events": [...]}`` of
``application/vnd.docker.distribution.events.v1+json``. The endpoint's ``headers`` carry
``Authorization: <secret>``.

Of the events, ``action: push`` of a manifest (``target.mediaType`` a manifest or index
type; blob pushes are skipped) is read: ``request.host`` (the host the pusher used),
``target.repository``, ``target.tag`` (absent for a push by digest), ``target.digest``. An
envelope of nothing but pulls, deletes and blobs is answered, not refused: distribution
retries refused deliveries and holds the endpoint's queue meanwhile.
"""

from __future__ import annotations

__all__ = ["MAX_EVENTS", "SOURCE"]

from collections.abc import Mapping

from imageupdater.pushevents.auth import check_secret
from imageupdater.pushevents.fields import load_object, text_at
from imageupdater.pushevents.model import Delivery, PushEvent, refuse
from imageupdater.pushevents.source import Source

NAME = "distribution"
_WHAT = "distribution notification"
EVENTS_MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json"
# distribution sends at most its endpoint's queue in one envelope; 1 MiB holds ~1,000.
MAX_EVENTS = 2000


def authenticate(delivery: Delivery, secret: str) -> None:
    check_secret(
        delivery.header("Authorization"), secret, where="the Authorization header", what=_WHAT
    )


def _is_manifest(media_type: str) -> bool:
    kind = media_type.lower()
    return "manifest" in kind or "index" in kind


def parse(delivery: Delivery) -> tuple[PushEvent, ...]:
    payload = load_object(delivery.body, _WHAT)
    events = payload.get("events")
    if not isinstance(events, list):
        refuse(f"{_WHAT}: events must be a list", "malformed")
    if len(events) > MAX_EVENTS:
        refuse(f"{_WHAT}: more than {MAX_EVENTS} events in one envelope", "malformed")
    found: list[PushEvent] = []
    for index, event in enumerate(events):
        what = f"{_WHAT}: events[{index}]"
        if not isinstance(event, Mapping):
            refuse(f"{what} must be an object", "malformed")
        if text_at(event, "action", what) != "push":
            continue
        if not _is_manifest(text_at(event, "target.mediaType", what)):
            continue  # a layer or config blob: the manifest's own event follows
        repository = text_at(event, "target.repository", what)
        host = text_at(event, "request.host", what)
        if not repository or not host:
            refuse(f"{what}: a push needs target.repository and request.host", "malformed")
        tag = text_at(event, "target.tag", what) or None
        digest = text_at(event, "target.digest", what) or None
        found.append(PushEvent(host.lower(), repository, tag, digest, type=NAME))
    return tuple(found)


SOURCE = Source(
    NAME, authenticate, parse, requires_json=True, extra_json_types=(EVENTS_MEDIA_TYPE,)
)
