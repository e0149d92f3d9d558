"""The values of the push-event core: what a receiver got (``Delivery``), what a payload
says was pushed (``PushEvent``), and the one refusal (``refuse``) every parser uses.

A ``PushEvent`` is a hint, never an instruction: the reconciler re-reads the registry and
its normal strategy, filters, policies and holds decide. Its fields are checked with the
image grammar (:class:`~imageupdater.images.ImageRef`), so a value that could not name an
image never reaches matching.
"""

from __future__ import annotations

__all__ = ["Delivery", "PushEvent", "RefusalReason", "refuse"]

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, NoReturn

from imageupdater.errors import InvalidImageReference, InvalidPushEvent
from imageupdater.images import ImageRef

# Why a delivery was refused: a metric label and a log word, fixed vocabulary.
RefusalReason = Literal[
    "unknown_type",  # ?type= names no registry type, or none was given
    "type_disabled",  # a known type with no secret while secrets are required
    "method",  # not POST
    "content_type",  # a type that requires JSON got something else
    "event_header",  # GHCR without X-GitHub-Event: package
    "missing_secret",  # a secret is configured, the delivery carries none
    "bad_secret",  # the secret or signature does not match
    "replayed",  # an HMAC-signed body seen before within the replay window
    "too_large",  # the body passed the 1 MiB limit
    "malformed",  # not JSON, or a field of the wrong shape or grammar
    "not_a_push",  # well formed, but not a push this receiver acts on
]

_MAX_TEXT = 512  # what a refusal quotes of a payload's value


def refuse(message: str, reason: RefusalReason, *, status: int = 400) -> NoReturn:
    raise InvalidPushEvent(message, reason=reason, status=status)


def quoted(value: object) -> str:
    """A payload value for a message: repr, shortened."""
    text = repr(value)
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


@dataclass(frozen=True, slots=True)
class Delivery:
    """One HTTP delivery as the pure core sees it. ``headers`` keys are lower-case."""

    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


def _valid_host(host: str) -> bool:
    # A registry host is a DNS name with a dot, an IP, or anything with a port: the same
    # test distribution/reference applies to tell a host from a first path component.
    return bool(host) and ("." in host or ":" in host or host == "localhost")


@dataclass(frozen=True, slots=True)
class PushEvent:
    """A registry says ``repository`` (on ``registry_host``) got ``tag`` and/or ``digest``."""

    registry_host: str  # host[:port] as the payload names it
    repository: str  # path within the registry, e.g. "team/app"
    tag: str | None = None
    digest: str | None = None
    type: str = ""  # the registry type that delivered it ("docker.io", "distribution", ...)
    image: ImageRef = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        what = f"{self.type or 'push'} event"
        if not _valid_host(self.registry_host):
            refuse(
                f"{what}: registry host {quoted(self.registry_host)} is not a host[:port] "
                "(expected e.g. registry.example.com or 127.0.0.1:5000)",
                "malformed",
            )
        try:
            image = ImageRef.parse(f"{self.registry_host}/{self.repository}")
            if image.tag is not None or image.digest is not None or image.alias is not None:
                raise InvalidImageReference("a repository name has no tag, digest or alias")
            image = image.with_version(self.tag, self.digest)
        except InvalidImageReference as exc:
            refuse(
                f"{what}: repository {quoted(self.repository)} with tag {quoted(self.tag)} and "
                f"digest {quoted(self.digest)} does not name an image: {exc}",
                "malformed",
            )
        object.__setattr__(self, "image", image)

    def identity(self) -> tuple[str, str]:
        """(registry host, repository) with Docker Hub's spellings made one
        (``index.docker.io/nginx`` == ``docker.io/library/nginx``)."""
        return self.image.identity()

    def __str__(self) -> str:
        version = (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")
        return f"{self.registry_host}/{self.repository}{version}"
