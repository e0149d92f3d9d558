"""Request and cache counters of the registry client, readable as a plain snapshot.

Benchmarks and the metrics exporter read :meth:`Counters.snapshot`; nothing here knows
about Prometheus, so the client stays free of a metrics dependency.

Registry names become metric labels, so their number must not grow with what tenants
write: the requester counts tenant-named (inferred) registries as :data:`OTHER`, and
:class:`Counters` itself keeps at most ``max_registries`` names, folding the rest into
:data:`OTHER` as well.
"""

from __future__ import annotations

__all__ = [
    "MAX_REGISTRIES",
    "OTHER",
    "CacheName",
    "Counters",
    "CountersSnapshot",
    "RequestKind",
    "status_class",
]

from collections import Counter
from typing import Literal, TypedDict

# "referrers": GET /v2/<name>/referrers/<digest>; "signature": GET of a cosign signature tag
# (sha256-<hex>.sig, sha256-<hex>). A 404 to either is an answer ("no API", "no signature
# there"), not a failure: the metrics collector does not count it as one.
RequestKind = Literal[
    "ping", "token", "tags", "manifest_get", "manifest_head", "blob", "referrers", "signature"
]
# "signature": verdicts by (registry, repository, digest, key); "signature_manifest" and
# "signature_blob": signature artifacts by digest; "referrers": repositories remembered as
# having no referrers API (a hit skips the request).
CacheName = Literal[
    "tags",
    "digest",
    "manifest",
    "config",
    "token",
    "ping",
    "signature",
    "signature_manifest",
    "signature_blob",
    "referrers",
]
OTHER = "other"  # the label of every registry not configured by the operator
MAX_REGISTRIES = 256


class CountersSnapshot(TypedDict):
    requests: dict[str, dict[str, dict[str, int]]]  # registry -> kind -> status class -> n
    cache: dict[str, dict[str, int]]  # cache -> "hit" | "miss" -> n


def status_class(status: int | None) -> str:
    """``"2xx"``…``"5xx"`` for an HTTP status, ``"error"`` when no answer came (timeout, reset)."""
    if status is None or not 100 <= status <= 599:
        return "error"
    return f"{status // 100}xx"


class Counters:
    """Counts requests by (registry, kind, status class) and cache lookups by (cache, outcome)."""

    def __init__(self, *, max_registries: int = MAX_REGISTRIES) -> None:
        self._requests: Counter[tuple[str, str, str]] = Counter()
        self._cache: Counter[tuple[str, str]] = Counter()
        self._max_registries = max_registries
        self._registries: set[str] = set()

    def request(self, registry: str, kind: RequestKind, status: int | None) -> None:
        if registry not in self._registries:
            if len(self._registries) >= self._max_registries:
                registry = OTHER
            self._registries.add(registry)
        self._requests[(registry, kind, status_class(status))] += 1

    def cache(self, cache: CacheName, *, hit: bool) -> None:
        self._cache[(cache, "hit" if hit else "miss")] += 1

    def requests(self, *, registry: str | None = None, kind: RequestKind | None = None) -> int:
        """Total requests, optionally narrowed to one registry and/or one kind."""
        return sum(
            n
            for (reg, knd, _), n in self._requests.items()
            if (registry is None or reg == registry) and (kind is None or knd == kind)
        )

    def snapshot(self) -> CountersSnapshot:
        """A copy of every counter as plain nested dicts."""
        requests: dict[str, dict[str, dict[str, int]]] = {}
        for (registry, kind, klass), n in sorted(self._requests.items()):
            requests.setdefault(registry, {}).setdefault(kind, {})[klass] = n
        cache: dict[str, dict[str, int]] = {}
        for (name, outcome), n in sorted(self._cache.items()):
            cache.setdefault(name, {})[outcome] = n
        return {"requests": requests, "cache": cache}
