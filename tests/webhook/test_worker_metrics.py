"""One scrape for several workers: each worker's registry, merged with a `worker` label."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from webhook.metrics import WebhookMetrics, merge_expositions


def exposition(denials: int, seconds: float) -> bytes:
    registry = CollectorRegistry()
    counter = Counter("image_updater_admission_denials", "denied", ["reason"], registry=registry)
    counter.labels("invalid-annotations").inc(denials)
    histogram = Histogram("latency_seconds", "latency", buckets=(0.01, 1.0), registry=registry)
    histogram.observe(seconds)
    return generate_latest(registry)


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
        if not s.name.endswith("_created")
    }


def test_every_series_is_labelled_with_the_worker_that_exported_it() -> None:
    merged = samples(merge_expositions([exposition(2, 0.005), exposition(3, 0.5)]))
    reason = ("reason", "invalid-annotations")
    assert merged[("image_updater_admission_denials_total", (reason, ("worker", "0")))] == 2
    assert merged[("image_updater_admission_denials_total", (reason, ("worker", "1")))] == 3
    assert merged[("latency_seconds_bucket", (("le", "0.01"), ("worker", "0")))] == 1
    assert merged[("latency_seconds_bucket", (("le", "0.01"), ("worker", "1")))] == 0
    assert merged[("latency_seconds_sum", (("worker", "1"),))] == 0.5
    assert merged[("image_updater_admission_worker_up", (("worker", "0"),))] == 1
    assert merged[("image_updater_admission_worker_up", (("worker", "1"),))] == 1


def test_each_family_is_declared_once_with_its_type() -> None:
    text = merge_expositions([exposition(1, 0.1), exposition(1, 0.1)]).decode()
    assert text.count("# TYPE image_updater_admission_denials_total counter") == 1
    assert text.count("# TYPE latency_seconds histogram") == 1
    families = {f.name: f.type for f in text_string_to_metric_families(text)}
    assert families["image_updater_admission_denials"] == "counter"
    assert families["latency_seconds"] == "histogram"


def test_a_worker_whose_metrics_could_not_be_read_is_reported_down() -> None:
    merged = samples(merge_expositions([exposition(1, 0.1), None, exposition(4, 0.1)]))
    assert merged[("image_updater_admission_worker_up", (("worker", "1"),))] == 0
    assert [labels for name, labels in merged if dict(labels).get("worker") == "1"] == [
        (("worker", "1"),)
    ]
    reason = ("reason", "invalid-annotations")
    assert merged[("image_updater_admission_denials_total", (reason, ("worker", "2")))] == 4


def test_the_webhook_registry_survives_the_merge() -> None:
    registry = CollectorRegistry()
    metrics = WebhookMetrics(registry, certificates=lambda: {"serving": 1.9e9})
    metrics.observe("validate", "CREATE", "denied", 0.002)
    metrics.observe("validate", "CREATE", "denied", 0.004)
    merged = samples(merge_expositions([generate_latest(registry)]))
    count = "image_updater_admission_duration_seconds_count"
    labels = (("endpoint", "validate"), ("operation", "CREATE"), ("outcome", "denied"))
    assert merged[(count, (*labels, ("worker", "0")))] == 2
    expiry = "image_updater_certificate_expiry_timestamp_seconds"
    assert merged[(expiry, (("certificate", "serving"), ("worker", "0")))] == 1.9e9
    assert merged[("image_updater_admission_worker_up", (("worker", "0"),))] == 1
