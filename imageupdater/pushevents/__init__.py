"""Registry push notifications, read without I/O: which registry type a delivery is,
whether it is authentic, what it says was pushed, and which images that concerns.

One module per type (``dockerhub``, ``ghcr``, ``quay``, ``harbor``, ``acr``, ``aliyun``,
``cloudevents``, ``distribution``, ``generic``), each a :class:`Source`. The receiver
(``reconciler.receiver``) calls, in order and stopping at the first refusal:

1. :meth:`ReceiverConfig.source` — the type from ``?type=`` or ``X-Registry-Type``,
   registered or not (``--webhook-require-secret``);
2. :func:`admit_head` — content type, event header and, for the types whose secret is not
   a signature of the body, the secret: all before the body is read;
3. :func:`admit_body` — the HMAC signature of the body and the replay check;
4. ``source.parse`` — the events (maybe none).

Every refusal is an :class:`~imageupdater.errors.InvalidPushEvent` with a ``reason``.
"""

from __future__ import annotations

__all__ = [
    "SOURCES",
    "Delivery",
    "PushEvent",
    "ReceiverConfig",
    "RefusalReason",
    "ReplayGuard",
    "RepositoryKey",
    "Source",
    "admit_body",
    "admit_head",
    "event_key",
    "image_key",
    "matches",
]

from collections.abc import Mapping
from dataclasses import dataclass, field

from imageupdater.pushevents import (
    acr,
    aliyun,
    cloudevents,
    distribution,
    dockerhub,
    generic,
    ghcr,
    harbor,
    quay,
)
from imageupdater.pushevents.matching import RepositoryKey, event_key, image_key, matches
from imageupdater.pushevents.model import Delivery, PushEvent, RefusalReason, quoted, refuse
from imageupdater.pushevents.replay import ReplayGuard
from imageupdater.pushevents.source import Source

SOURCES: Mapping[str, Source] = {
    source.name: source
    for source in (
        dockerhub.SOURCE,
        ghcr.SOURCE,
        quay.SOURCE,
        harbor.SOURCE,
        acr.SOURCE,
        aliyun.SOURCE,
        cloudevents.SOURCE,
        distribution.SOURCE,
        generic.SOURCE,
    )
}


@dataclass(frozen=True, slots=True)
class ReceiverConfig:
    """Each type's secret ("" = none) and whether a type without one is served at all."""

    secrets: Mapping[str, str] = field(default_factory=dict)
    require_secret: bool = True

    def __post_init__(self) -> None:
        unknown = sorted(set(self.secrets) - set(SOURCES))
        if unknown:
            raise ValueError(f"no registry type {', '.join(unknown)}")

    def __repr__(self) -> str:
        # Secrets never reach a log through repr().
        return f"ReceiverConfig(enabled={self.enabled()!r}, require_secret={self.require_secret})"

    def enabled(self) -> tuple[str, ...]:
        """The types served: those with a secret, or every type when none is required."""
        if not self.require_secret:
            return tuple(sorted(SOURCES))
        return tuple(sorted(name for name in SOURCES if self.secrets.get(name)))

    def source(self, delivery: Delivery) -> tuple[Source, str]:
        """The delivery's type and its secret; refuses unknown and disabled types."""
        name = delivery.query.get("type", "") or delivery.header("X-Registry-Type")
        enabled = self.enabled()
        listed = ", ".join(enabled) or "none"
        if not name:
            refuse(
                f"no registry type: add ?type=<type> or an X-Registry-Type header "
                f"(served: {listed})",
                "unknown_type",
            )
        if name not in SOURCES:
            refuse(
                f"unknown registry type {quoted(name)} (known: {', '.join(sorted(SOURCES))}; "
                f"served: {listed})",
                "unknown_type",
            )
        if name not in enabled:
            refuse(
                f"registry type {name!r} is not served: it has no secret configured and "
                f"--webhook-require-secret is on (served: {listed})",
                "type_disabled",
                status=403,
            )
        return SOURCES[name], self.secrets.get(name, "")


def admit_head(source: Source, secret: str, delivery: Delivery) -> None:
    """The checks that need no body; ``delivery.body`` is not read."""
    source.check_content_type(delivery)
    if source.check_head is not None:
        source.check_head(delivery)
    if secret and not source.signs_body:
        source.authenticate(delivery, secret)


def admit_body(
    source: Source, secret: str, delivery: Delivery, replays: ReplayGuard, now: float
) -> None:
    """The signature of the body, and that it is not a replay of one already accepted."""
    if secret and source.signs_body:
        source.authenticate(delivery, secret)
        replays.check(source.name, delivery.body, now)
