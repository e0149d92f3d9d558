"""The registry adapter: the only code that talks HTTP to container registries.

:class:`RegistryClient` lists tags (``Link`` pagination, short-TTL cache, single-flight),
reads manifest digests (``HEAD``) and per-tag metadata (manifests and config blobs, cached
by digest), authenticates (Bearer tokens, Basic), paces requests per registry (token
bucket, ``429 Retry-After`` pauses, bounded 5xx retries, a concurrency cap) and counts
what it does. aiohttp stays inside this package.
"""

from imageupdater.registry.client import RegistryClient
from imageupdater.registry.clock import Clock, SystemClock
from imageupdater.registry.counters import Counters, CountersSnapshot, RequestKind
from imageupdater.registry.requester import CredentialProvider, registry_label
from imageupdater.registry.settings import ClientSettings

__all__ = [
    "ClientSettings",
    "Clock",
    "Counters",
    "CountersSnapshot",
    "CredentialProvider",
    "RegistryClient",
    "RequestKind",
    "SystemClock",
    "registry_label",
]
