"""Which images a push event concerns: the same registry and repository, every spelling
of Docker Hub made one (``nginx`` == ``docker.io/library/nginx`` == ``index.docker.io/nginx``).

Stricter than upstream, on purpose: upstream lets an image written without a registry
(``team/app``) match an event from *any* registry with that repository; here it matches
Docker Hub's events only, which is the registry it is pulled from. ``aliases`` maps
another host a registry is known by (a ``registries.conf`` ``api_url`` host such as
``registry-1.docker.io``) to the host images are written with.
"""

from __future__ import annotations

__all__ = ["RepositoryKey", "event_key", "image_key", "matches"]

from collections.abc import Mapping

from imageupdater.images import DOCKER_HUB, ImageRef
from imageupdater.pushevents.model import PushEvent

RepositoryKey = tuple[str, str]  # (registry host, repository), normalised
_DOCKER_HUB_ALIASES = frozenset({"registry-1.docker.io", "registry.hub.docker.com"})


def _host(host: str, aliases: Mapping[str, str]) -> str:
    host = host.lower()
    host = aliases.get(host, host)
    return DOCKER_HUB if host in _DOCKER_HUB_ALIASES else host


def image_key(image: ImageRef, aliases: Mapping[str, str] | None = None) -> RepositoryKey:
    host, repository = image.identity()
    return (_host(host, aliases or {}), repository)


def event_key(event: PushEvent, aliases: Mapping[str, str] | None = None) -> RepositoryKey:
    """The repository an event is about; re-normalised when an alias names Docker Hub."""
    host = _host(event.image.registry_host, aliases or {})
    if host == DOCKER_HUB:
        return ImageRef.parse(f"{DOCKER_HUB}/{event.repository}").identity()
    return (host, event.image.repository)


def matches(event: PushEvent, image: ImageRef, aliases: Mapping[str, str] | None = None) -> bool:
    return event_key(event, aliases) == image_key(image, aliases)
