"""The registry adapter: the only code that talks HTTP to container registries.

:class:`RegistryClient` lists tags (``Link`` pagination, short-TTL cache, single-flight),
reads manifest digests (``HEAD``) and per-tag metadata (manifests and config blobs, cached
by digest), authenticates (Bearer tokens, Basic), paces requests per registry (token
bucket, ``429 Retry-After`` pauses, bounded 5xx retries, a concurrency cap) and counts
what it does. It also finds and judges cosign signatures of image digests
(:mod:`imageupdater.registry.signatures`). aiohttp stays inside this package.

With a :class:`ReachabilityPolicy` in its settings it refuses, at connect time, registries a
tenant named that resolve into denied networks or fall outside the allowed host globs.
"""

from typing import TYPE_CHECKING, Any

from imageupdater.registry.client import RegistryClient
from imageupdater.registry.clock import Clock, SystemClock
from imageupdater.registry.counters import Counters, CountersSnapshot, RequestKind
from imageupdater.registry.reachability import ReachabilityPolicy
from imageupdater.registry.requester import CredentialProvider, registry_label
from imageupdater.registry.settings import ClientSettings
from imageupdater.registry.tls import TlsContexts, TlsOptions

if TYPE_CHECKING:
    from imageupdater.registry.signatures import (
        FoundSignatures,
        SignatureSettings,
        verify_candidate,
    )

__all__ = [
    "ClientSettings",
    "Clock",
    "Counters",
    "CountersSnapshot",
    "CredentialProvider",
    "FoundSignatures",
    "ReachabilityPolicy",
    "RegistryClient",
    "RequestKind",
    "SignatureSettings",
    "SystemClock",
    "TlsContexts",
    "TlsOptions",
    "registry_label",
    "verify_candidate",
]


_SIGNATURE_NAMES = frozenset({"FoundSignatures", "SignatureSettings", "verify_candidate"})


def __getattr__(name: str) -> Any:
    # The signature names load on first use: a start that verifies nothing skips them.
    if name in _SIGNATURE_NAMES:
        from imageupdater.registry import signatures

        return getattr(signatures, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
