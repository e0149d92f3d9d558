"""The shared cache's counters as Prometheus series."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from imageupdater.registry.shared import SharedCounters
from imageupdater.registry_metrics import SharedCacheCollector


def test_lookups_and_errors_are_exported_by_cache_outcome_and_operation() -> None:
    counters = SharedCounters()
    counters.lookup("tags", "hit")
    counters.lookup("tags", "hit")
    counters.lookup("config", "poisoned")
    counters.error("read")
    registry = CollectorRegistry()
    registry.register(SharedCacheCollector(counters.snapshot))
    text = generate_latest(registry).decode()
    assert 'image_updater_shared_cache_lookups_total{cache="tags",outcome="hit"} 2.0' in text
    assert 'image_updater_shared_cache_lookups_total{cache="config",outcome="poisoned"} 1.0' in text
    assert 'image_updater_shared_cache_errors_total{operation="read"} 1.0' in text
