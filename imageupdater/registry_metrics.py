"""Prometheus view of the registry client's counters, read at scrape time.

The client counts in plain dicts (``registry.Counters``) and knows nothing of Prometheus;
this collector turns a snapshot into upstream's
``argocd_image_updater_registry_requests_total`` / ``…_failed_total`` (by registry) and our
finer ``image_updater_registry_requests_total`` (by registry, kind, status class) and
``image_updater_registry_cache_lookups_total`` (by cache, result).

The ``registry`` label takes the configured registries' hosts (registries.conf and the
built-in Docker Hub) and ``other`` for every registry a tenant named without the operator
configuring it: the client counts them that way, so the series stay bounded however many
hosts Applications mention. Errors and logs keep the real host.
"""

from __future__ import annotations

__all__ = ["RegistryCounterCollector", "SharedCacheCollector"]

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from imageupdater.registry import CountersSnapshot

if TYPE_CHECKING:
    from imageupdater.registry.shared import SharedSnapshot


def _failed(kind: str, klass: str) -> bool:
    # A 401 to the ping is the registry announcing its auth scheme, not a failure; a 404 to
    # a referrers or signature-tag request says "no referrers API" or "not signed there",
    # and an auth refusal of those fails the verification that made them, visibly.
    if kind in ("ping", "referrers", "signature") and klass == "4xx":
        return False
    return klass in ("4xx", "5xx", "error")


class RegistryCounterCollector(Collector):
    def __init__(self, snapshot: Callable[[], CountersSnapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        snapshot = self._snapshot()
        total = CounterMetricFamily(
            "argocd_image_updater_registry_requests",
            "The number of requests to the registry",
            labels=["registry"],
        )
        failed = CounterMetricFamily(
            "argocd_image_updater_registry_requests_failed",
            "The number of failed requests to the registry",
            labels=["registry"],
        )
        detailed = CounterMetricFamily(
            "image_updater_registry_requests",
            "Registry requests by registry, kind and status class",
            labels=["registry", "kind", "status"],
        )
        for registry, kinds in sorted(snapshot["requests"].items()):
            count = failures = 0
            for kind, classes in sorted(kinds.items()):
                for klass, n in sorted(classes.items()):
                    detailed.add_metric([registry, kind, klass], n)
                    count += n
                    failures += n if _failed(kind, klass) else 0
            total.add_metric([registry], count)
            failed.add_metric([registry], failures)
        cache = CounterMetricFamily(
            "image_updater_registry_cache_lookups",
            "Registry client cache lookups by cache and result",
            labels=["cache", "result"],
        )
        for name, results in sorted(snapshot["cache"].items()):
            for result, n in sorted(results.items()):
                cache.add_metric([name, result], n)
        yield from (total, failed, detailed, cache)


class SharedCacheCollector(Collector):
    """The shared (Redis) cache's counters: ``image_updater_shared_cache_lookups_total`` (by
    cache and outcome: hit, waited, miss, poisoned) and ``…_errors_total`` (by operation)."""

    def __init__(self, snapshot: Callable[[], SharedSnapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        snapshot = self._snapshot()
        lookups = CounterMetricFamily(
            "image_updater_shared_cache_lookups",
            "Shared registry cache (Redis) lookups by cache and outcome",
            labels=["cache", "outcome"],
        )
        for name, outcomes in sorted(snapshot["lookups"].items()):
            for outcome, n in sorted(outcomes.items()):
                lookups.add_metric([name, outcome], n)
        errors = CounterMetricFamily(
            "image_updater_shared_cache_errors",
            "Redis calls of the shared registry cache that failed or timed out, by operation",
            labels=["operation"],
        )
        for operation, n in sorted(snapshot["errors"].items()):
            errors.add_metric([operation], n)
        yield from (lookups, errors)
