"""The webhook's Prometheus metrics, on a registry the server owns (no global state).

Besides admission itself: the process (``process_*``), the build
(``image_updater_build_info``) and the expiry of the certificates it serves
(``image_updater_certificate_expiry_timestamp_seconds{certificate="serving"|"ca"}``), read from
the files the server loads whoever issued them (``--self-signed-certs``, ``certs``,
cert-manager).

With ``--workers N`` every worker keeps its own registry; ``merge_expositions`` turns the
workers' expositions into the one a scrape gets: every series labelled ``worker="<i>"``
(a restarted worker's counters start again from 0 under its label, which ``rate()`` reads
as the counter reset it is), plus ``image_updater_admission_worker_up{worker}``.
"""

from __future__ import annotations

__all__ = ["CertificateExpiry", "WebhookMetrics", "merge_expositions"]

import platform
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector, DuplicateTimeseries

import imageupdater
from imageupdater.registry import CountersSnapshot
from imageupdater.registry_metrics import RegistryCounterCollector

# Admission must be fast: resolution in the millisecond range, the deadline in seconds.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# certificate ("serving", "ca") -> notAfter as Unix time; what ``CertReloader.expiry`` gives.
CertificateExpiry = Callable[[], Mapping[str, float]]


class _CertificateExpiryCollector(Collector):
    """Reads the expiry at scrape time, so a reloaded certificate shows at once."""

    def __init__(self, expiry: CertificateExpiry | None) -> None:
        self._expiry = expiry

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "image_updater_certificate_expiry_timestamp_seconds",
            "When the certificate the webhook serves (serving) and the CA that issued it (ca) "
            "expire, Unix time",
            labels=["certificate"],
        )
        for certificate, not_after in sorted((self._expiry() if self._expiry else {}).items()):
            family.add_metric([certificate], not_after)
        yield family


class WebhookMetrics:
    def __init__(
        self,
        registry: CollectorRegistry,
        registry_snapshot: Callable[[], CountersSnapshot] | None = None,
        *,
        certificates: CertificateExpiry | None = None,
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
        # Children by label values: ``labels()`` checks and locks on every call, and a review
        # asks for one per answer.
        self._durations: dict[tuple[str, str, str], Histogram] = {}
        self.build_info = _register_process_metrics(registry)
        registry.register(_CertificateExpiryCollector(certificates))
        if registry_snapshot is not None:
            registry.register(RegistryCounterCollector(registry_snapshot))

    def observe(self, endpoint: str, operation: str, outcome: str, seconds: float) -> None:
        """One answered review in ``image_updater_admission_duration_seconds``."""
        key = (endpoint, operation, outcome)
        child = self._durations.get(key)
        if child is None:
            child = self._durations[key] = self.duration.labels(endpoint, operation, outcome)
        child.observe(seconds)


def _register_process_metrics(registry: CollectorRegistry) -> Gauge:
    """``image_updater_build_info`` and ``process_*`` (CPU, memory, open files, start time;
    on Linux — elsewhere the collector exports nothing), once per registry."""
    build_info = Gauge(
        "image_updater_build_info",
        "Always 1; the labels say which build runs",
        ["version", "python_version", "platform"],
        registry=None,
    )
    build_info.labels(
        imageupdater.__version__,
        platform.python_version(),
        f"{platform.system().lower()}/{platform.machine()}",
    ).set(1)
    try:
        registry.register(build_info)
    except DuplicateTimeseries:
        # The reconciler's metrics hold these already (one registry for both: a test's).
        return build_info
    ProcessCollector(registry=registry)
    return build_info


class _Families(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)

    def describe(self) -> Iterator[Metric]:
        return iter(())  # registered once, on a registry of its own: nothing to check


def merge_expositions(texts: Sequence[bytes | None]) -> bytes:
    """One exposition from every worker's: ``texts[i]`` is worker i's, None when it could
    not be read; each series gains ``worker="<i>"``."""
    families: dict[str, Metric] = {}
    for index, text in enumerate(texts):
        if text is None:
            continue
        worker = str(index)
        for family in text_string_to_metric_families(text.decode()):
            merged = families.get(family.name)
            if merged is None:
                merged = Metric(family.name, family.documentation, family.type, family.unit)
                families[family.name] = merged
            merged.samples.extend(
                sample._replace(labels={**sample.labels, "worker": worker})
                for sample in family.samples
            )
    up = GaugeMetricFamily(
        "image_updater_admission_worker_up",
        "Whether this scrape read the admission worker's metrics (0: restarting or stuck)",
        labels=["worker"],
    )
    for index, text in enumerate(texts):
        up.add_metric([str(index)], 0.0 if text is None else 1.0)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families([*families.values(), up]))
    return generate_latest(registry)
