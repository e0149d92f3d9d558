"""The ``RegistryEndpoint`` value, tag sort modes, and the built-in Docker Hub endpoint."""

from __future__ import annotations

__all__ = [
    "BUILTIN_DOCKER_HUB",
    "INFERRED_LIMIT",
    "EndpointOrigin",
    "RegistryEndpoint",
    "TagSortMode",
]

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal
from urllib.parse import urlsplit

from imageupdater.credentials import CredentialRef

EndpointOrigin = Literal["config", "builtin", "inferred"]
INFERRED_LIMIT = 20


class TagSortMode(StrEnum):
    """How a registry orders its tag list (upstream ``tagsortmode``)."""

    NONE = "none"
    LATEST_FIRST = "latest-first"
    LATEST_LAST = "latest-last"


@dataclass(frozen=True, slots=True)
class RegistryEndpoint:
    """One registry as configured, built in, or inferred from an image's host."""

    name: str
    api_url: str  # scheme://host[:port][/path], no trailing "/"
    prefix: str = ""  # "" = the catch-all entry
    credentials: CredentialRef | None = None
    credsexpire: float = 0.0  # seconds; 0 = registry credentials never expire
    defaultns: str | None = None
    default: bool = False
    insecure: bool = False
    ca_file: str | None = None
    ca_data: str | None = None
    limit: int | None = None  # requests per second; None = unlimited
    tagsortmode: TagSortMode = TagSortMode.NONE
    ping: bool | None = None  # accepted for compatibility, unused
    origin: EndpointOrigin = "config"

    @property
    def host(self) -> str:
        """The image host this endpoint serves: the prefix's first part, else the API host."""
        if self.prefix:
            return self.prefix.partition("/")[0]
        return urlsplit(self.api_url).netloc

    def qualify(self, repository: str) -> str:
        """Prepend ``defaultns`` to a one-component repository (``nginx`` → ``library/nginx``)."""
        if self.defaultns and "/" not in repository:
            return f"{self.defaultns}/{repository}"
        return repository


BUILTIN_DOCKER_HUB = RegistryEndpoint(
    name="Docker Hub",
    api_url="https://registry-1.docker.io",
    prefix="docker.io",
    defaultns="library",
    default=True,
    limit=10,
    ping=True,
    origin="builtin",
)
