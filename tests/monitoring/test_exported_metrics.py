"""Every metric the alerts and the dashboard query is one the running processes export.

The reconciler runs as users start it (``image-updater run`` against the Kubernetes API
emulator, ``--metrics-port`` on 127.0.0.1); the admission server is composed in-process the
way ``webhook.serve`` composes it (resolver, metrics with the registry counters, app) and
served on 127.0.0.1. Both are scraped over HTTP and read with prometheus_client's parser.

A labelled metric nobody has observed yet has no samples, but its ``# HELP``/``# TYPE``
lines are exported all the same (checked below), so a family counts as exported from the
moment the process starts: the alerts must not depend on a label value having been seen.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from devcluster.kubeapi import KubeAPI, run_in_thread, write_kubeconfig
from devcluster.registry import free_port
from imageupdater.registries_conf import RegistriesConf
from imageupdater.registry import CountersSnapshot
from imageupdater.service import ResolverService
from imageupdater.serving import serve_app
from reconciler.metrics import GitMetrics, ReconcilerMetrics
from tests.monitoring import COUNTER_FUNCTIONS, dashboard_queries, parse, rule_queries
from tests.waiting import wait_until
from tests.webhook.reviews import application, body, ours, review
from webhook.admission import Admission, AdmissionSettings
from webhook.metrics import WebhookMetrics
from webhook.server import make_app

BINARY = Path(sys.executable).with_name("image-updater")
# Labels Prometheus adds to every scraped series (static configs, Kubernetes service
# discovery, the Prometheus Operator's ServiceMonitors and PodMonitors).
TARGET_LABELS = frozenset(
    {"job", "instance", "namespace", "pod", "container", "service", "endpoint"}
)
# Suffixes of the series each family type exports.
_SERIES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
    "stateset": ("",),
    "unknown": ("",),
}
_COUNTER_LIKE = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}


@dataclass(frozen=True, slots=True)
class Scrape:
    text: str
    types: dict[str, str]  # family name -> type
    samples: dict[str, int]  # family name -> samples in this scrape

    @classmethod
    def of(cls, text: str) -> Scrape:
        families = list(text_string_to_metric_families(text))
        return cls(
            text,
            {f.name: f.type for f in families},
            {f.name: len(f.samples) for f in families},
        )

    def series(self) -> dict[str, str]:
        """Every series name this scrape can hold -> its family's type."""
        return {
            family + suffix: kind for family, kind in self.types.items() for suffix in _SERIES[kind]
        }

    def counter_like(self) -> set[str]:
        """Series that rate() and increase() may read."""
        return {
            family + suffix
            for family, kind in self.types.items()
            for suffix in _COUNTER_LIKE.get(kind, ())
        }


@dataclass(frozen=True, slots=True)
class Exported:
    reconciler: Scrape
    webhook: Scrape

    def series(self) -> dict[str, str]:
        return {**self.reconciler.series(), **self.webhook.series()}

    def counter_like(self) -> set[str]:
        return self.reconciler.counter_like() | self.webhook.counter_like()


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - 127.0.0.1 only
        return str(response.read().decode())


async def _scrape_webhook() -> str:
    conf = RegistriesConf.from_flag("")
    async with ResolverService(conf) as resolver:
        metrics = WebhookMetrics(CollectorRegistry(), registry_snapshot=resolver.client.snapshot)
        admission = Admission(AdmissionSettings(), resolver.resolve)
        async with (
            serve_app(make_app(admission, metrics), "127.0.0.1", 0) as server,
            aiohttp.ClientSession() as session,
        ):
            base = f"http://127.0.0.1:{server.port}"
            # One denied review, so that some labelled series have samples too.
            denied = review(application(ours(image_list="nginx", update_strategy="nope")))
            async with session.post(f"{base}/validate", data=body(denied)) as answer:
                assert answer.status == 200
                assert (await answer.json())["response"]["allowed"] is False
            async with session.get(f"{base}/metrics") as answer:
                assert answer.status == 200
                return await answer.text()


def _scrape_reconciler(tmp_path: Path) -> str:
    health, metrics = free_port(), free_port()
    with run_in_thread(KubeAPI()) as running:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", running.url)
        process = subprocess.Popen(
            [
                str(BINARY),
                "run",
                "--kubeconfig",
                str(kubeconfig),
                "--interval",
                "1h",
                "--registries-conf-path",
                "",
                "--listen-address",
                "127.0.0.1",
                "--health-port",
                str(health),
                "--metrics-port",
                str(metrics),
                "--leader-election",
                "--leader-election-namespace",
                "argocd",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:

            def after_first_cycle() -> str | None:
                scraped = _get(f"http://127.0.0.1:{metrics}/metrics")
                # Observed when a cycle ends: the process is past its start-up.
                return scraped if "image_updater_cycle_duration_seconds_count{" in scraped else None

            scraped = wait_until(
                after_first_cycle,
                within=30,
                what="the reconciler to finish a cycle and export it on /metrics",
                ignoring=(OSError,),
            )
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    return scraped


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    webhook = asyncio.run(_scrape_webhook())
    reconciler = _scrape_reconciler(tmp_path_factory.mktemp("reconciler"))
    yield Exported(Scrape.of(reconciler), Scrape.of(webhook))


def _references() -> list[tuple[str, str]]:
    return rule_queries() + dashboard_queries()


def test_unobserved_labelled_metrics_are_exported_as_families(exported: Exported) -> None:
    # Nothing was pushed to git: the family is there with its HELP and TYPE, no samples.
    scrape = exported.reconciler
    assert scrape.types["image_updater_git_pushes"] == "counter"
    assert scrape.samples["image_updater_git_pushes"] == 0
    assert "# TYPE image_updater_git_pushes_total counter" in scrape.text
    assert scrape.types["image_updater_git_operation_duration_seconds"] == "histogram"
    # What the processes did is there with samples.
    assert "image_updater_leader 1.0" in scrape.text
    assert scrape.samples["image_updater_cycle_duration_seconds"] > 0
    assert 'image_updater_admission_denials_total{reason="invalid-annotations"} 1.0' in (
        exported.webhook.text
    )


def test_every_metric_the_alerts_and_the_dashboard_query_is_exported(
    exported: Exported,
) -> None:
    series = exported.series()
    missing = {
        (where, metric)
        for where, expr in _references()
        for metric in parse(expr).metrics
        if metric not in series
    }
    assert missing == set(), "queried but exported by neither process"


def test_the_check_would_catch_a_misspelt_metric(exported: Exported) -> None:
    series = exported.series()
    for typo in (
        "image_updater_git_pushes",  # a counter's family name without _total
        "image_updater_cycle_duration_seconds",  # a histogram read without a suffix
        "argocd_image_updater_images_updated",
        "image_updater_leaders",
    ):
        assert typo not in series, typo


def test_rate_and_increase_only_read_counters(exported: Exported) -> None:
    counters = exported.counter_like()
    wrong = {
        (where, selector.metric, selector.function)
        for where, expr in _references()
        for selector in parse(expr).selectors
        if selector.function in COUNTER_FUNCTIONS and selector.metric not in counters
    }
    assert wrong == set(), "rate()/increase() over series that are not counters"


def _declared_labels() -> dict[str, set[str]]:
    """Series name -> the labels the code declares for it (every label value unobserved)."""
    registry = CollectorRegistry()
    holders: list[object] = [ReconcilerMetrics(registry), GitMetrics(registry)]
    snapshot: CountersSnapshot = {
        "requests": {"r.example": {"tags": {"2xx": 1}}},
        "cache": {"tags": {"hit": 1}},
    }
    holders.append(WebhookMetrics(registry, registry_snapshot=lambda: snapshot))
    labels: dict[str, set[str]] = {}
    for holder in holders:
        for metric in vars(holder).values():
            if not isinstance(metric, MetricWrapperBase):
                continue
            names = set(metric._labelnames)
            for suffix in _SERIES[metric._type or "unknown"]:
                extra = {"le"} if suffix == "_bucket" else set()
                labels[metric._name + suffix] = names | extra
    for family in registry.collect():  # the collector's families, from its samples
        for sample in family.samples:
            labels.setdefault(sample.name, set()).update(sample.labels)
    return labels


def test_every_label_a_query_matches_or_groups_by_exists(exported: Exported) -> None:
    declared = _declared_labels()
    assert set(declared) <= set(exported.series()), "declared metrics the processes lack"
    problems = []
    for where, expr in _references():
        parsed = parse(expr)
        known = set(TARGET_LABELS)
        for selector in parsed.selectors:
            own = declared[selector.metric]
            known |= own
            unknown = set(selector.matchers) - own - TARGET_LABELS
            if unknown:
                problems.append((where, selector.metric, sorted(unknown)))
        if parsed.grouping - known:
            problems.append((where, "by/on", sorted(parsed.grouping - known)))
    assert problems == []
