"""``Source``: one registry type — how its deliveries authenticate and how its payloads
read. Each type's module defines one; :mod:`imageupdater.pushevents` lists them."""

from __future__ import annotations

__all__ = ["Source"]

from collections.abc import Callable
from dataclasses import dataclass

from imageupdater.pushevents.model import Delivery, PushEvent, refuse

Authenticate = Callable[[Delivery, str], None]
Parse = Callable[[Delivery], tuple[PushEvent, ...]]

_JSON_TYPES = ("application/json", "application/cloudevents+json")


@dataclass(frozen=True, slots=True)
class Source:
    name: str  # the ``?type=`` value
    authenticate: Authenticate  # raises InvalidPushEvent; called only with a secret
    parse: Parse  # raises InvalidPushEvent; () = nothing to act on
    # Whether authenticate reads the body (an HMAC): then the body is read first, within
    # the size limit; otherwise a delivery is authenticated before its body is read.
    signs_body: bool = False
    # Upstream's content-type check for the types whose registries always send JSON.
    requires_json: bool = False
    extra_json_types: tuple[str, ...] = ()
    # A check of the request head that needs no secret (GHCR's X-GitHub-Event).
    check_head: Callable[[Delivery], None] | None = None

    def check_content_type(self, delivery: Delivery) -> None:
        if not self.requires_json:
            return
        content_type = delivery.header("content-type").lower()
        if not any(kind in content_type for kind in _JSON_TYPES + self.extra_json_types):
            refuse(
                f"{self.name} delivery: Content-Type {content_type or '(none)'!r} is not JSON "
                "(expected application/json)",
                "content_type",
                status=415,
            )
