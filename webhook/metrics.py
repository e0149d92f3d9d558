"""The webhook's Prometheus metrics, on a registry the server owns (no global state)."""

from __future__ import annotations

__all__ = ["WebhookMetrics"]

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram

from imageupdater.registry import CountersSnapshot
from imageupdater.registry_metrics import RegistryCounterCollector

# Admission must be fast: resolution in the millisecond range, the deadline in seconds.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class WebhookMetrics:
    def __init__(
        self,
        registry: CollectorRegistry,
        registry_snapshot: Callable[[], CountersSnapshot] | None = None,
    ) -> None:
        self.registry = registry
        self.duration = Histogram(
            "image_updater_admission_duration_seconds",
            "Time to answer an AdmissionReview",
            ["endpoint", "operation", "outcome"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.denials = Counter(
            "image_updater_admission_denials",
            "AdmissionReviews denied, by reason",
            ["reason"],
            registry=registry,
        )
        self.mutations = Counter(
            "image_updater_admission_image_resolutions",
            "Images resolved while mutating, by outcome (resolved, deadline, error)",
            ["outcome"],
            registry=registry,
        )
        self.malformed = Counter(
            "image_updater_admission_malformed_requests",
            "Requests that were not AdmissionReviews we could answer",
            registry=registry,
        )
        for outcome in ("resolved", "deadline", "error"):
            self.mutations.labels(outcome)
        if registry_snapshot is not None:
            registry.register(RegistryCounterCollector(registry_snapshot))
