"""`image-updater run` as an operator watches it: what /metrics and the JSON log say.

The reconciler runs as users start it, against the API emulator and the real local
registry, with leader election; it is scraped over HTTP, stopped, and its log read line by
line.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

import imageupdater
from devcluster.kubeapi import KubeAPI, run_in_thread, write_kubeconfig
from devcluster.registry import LocalRegistry, free_port
from reconciler.metrics import SKIP_REASONS
from tests.reconciler.conftest import application
from tests.reconciler.test_cli import registries_conf, seed
from tests.waiting import wait_until

BINARY = Path(sys.executable).with_name("image-updater")
MILLISECONDS_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
Samples = dict[str, dict[str, float]]


@dataclass
class Reconciler:
    api: KubeAPI
    process: subprocess.Popen[str]
    metrics_port: int
    started: float = field(default_factory=time.time)

    def samples(self) -> Samples:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url) as answer:
            text = str(answer.read().decode())
        found: Samples = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                found.setdefault(sample.name, {})[labels] = sample.value
        return found

    def after_a_cycle(self) -> Samples:
        """A scrape taken once the first cycle has completed."""

        def scraped() -> Samples | None:
            if self.process.poll() is not None:
                raise AssertionError(f"image-updater run exited {self.process.returncode}")
            samples = self.samples()
            completed = samples.get("image_updater_last_successful_cycle_timestamp_seconds")
            return samples if completed and completed[""] > 0 else None

        return wait_until(
            scraped,
            within=30,
            what="the reconciler process to complete a cycle",
            ignoring=(OSError,),
        )

    def stop(self) -> list[dict[str, Any]]:
        """SIGTERM, then every JSON log line the process wrote."""
        self.process.send_signal(signal.SIGTERM)
        output, _ = self.process.communicate(timeout=20)
        assert self.process.returncode == 0, output
        return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


@pytest.fixture
def reconciler(tmp_path: Path, registry: LocalRegistry, unique_repo: str) -> Iterator[Reconciler]:
    """Two Applications (one to update, one whose annotations are invalid); the first
    watch expires (410) so that the process relists once."""
    asyncio.run(seed(registry, unique_repo))
    image = f"{registry.host}/{unique_repo}"
    api = KubeAPI()
    api.store.put(application("app", {"image-list": image}, images=[f"{image}:1.0.0"]))
    api.store.put(
        application("typo", {"image-list": image, "update-stratgy": "semver"}, images=[image])
    )
    api.faults.inject(verb="watch", resource="applications", status=410)
    metrics = free_port()
    with run_in_thread(api) as running:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", running.url)
        process = subprocess.Popen(
            [
                *(str(BINARY), "run", "--kubeconfig", str(kubeconfig), "--interval", "1h"),
                *("--registries-conf-path", str(registries_conf(tmp_path, registry))),
                *("--listen-address", "127.0.0.1", "--health-port", "0"),
                *("--metrics-port", str(metrics), "--logformat", "json"),
                *("--leader-election", "--leader-election-namespace", "argocd"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            yield Reconciler(api, process, metrics)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=20)


def test_the_process_exports_its_build_process_and_last_completed_cycle(
    reconciler: Reconciler,
) -> None:
    samples = reconciler.after_a_cycle()
    ((labels, value),) = samples["image_updater_build_info"].items()
    assert value == 1.0
    assert f"version={imageupdater.__version__}" in labels
    assert "python_version=3." in labels
    assert samples["process_resident_memory_bytes"][""] > 0
    assert samples["process_open_fds"][""] > 0
    assert "process_cpu_seconds_total" in samples
    # The Application with invalid annotations is an error of its own, not a stalled cycle.
    completed = samples["image_updater_last_successful_cycle_timestamp_seconds"][""]
    assert reconciler.started - 1 <= completed <= time.time()
    reconciler.stop()


def test_watch_restarts_and_skip_reasons_are_exported_from_the_start(
    reconciler: Reconciler,
) -> None:
    samples = reconciler.after_a_cycle()
    restarts = samples["image_updater_watch_restarts_total"]
    assert restarts == {"reason=expired": 1.0, "reason=error": 0.0}
    skipped = samples["image_updater_applications_skipped_total"]
    assert sorted(skipped) == sorted(f"reason={reason}" for reason in SKIP_REASONS)
    reconciler.stop()


def test_the_json_log_has_millisecond_times_and_one_leadership_line(
    reconciler: Reconciler,
) -> None:
    reconciler.after_a_cycle()
    lines = reconciler.stop()
    assert lines
    for line in lines:
        assert MILLISECONDS_UTC.match(line["time"]), line
    became = [line for line in lines if line["msg"].startswith("became the leader")]
    assert len(became) == 1, [line["msg"] for line in lines]
    assert not [line for line in lines if line["msg"].startswith("lost the leader lease")]
    (expired,) = [line for line in lines if "expired (410)" in line["msg"]]
    assert expired["level"] == "info"


def test_the_cycle_summary_and_skips_are_structured_and_counted(reconciler: Reconciler) -> None:
    samples = reconciler.after_a_cycle()
    skipped = samples["image_updater_applications_skipped_total"]
    assert skipped["reason=invalid_configuration"] == 1.0
    lines = reconciler.stop()
    (summary,) = [line for line in lines if line["msg"].startswith("Processing results:")]
    assert summary["applications"] == 1
    assert summary["images_considered"] == 1
    assert summary["images_updated"] == 1
    assert summary["errors"] == 1
    assert summary["trigger"] == "resync"
    assert isinstance(summary["duration_seconds"], float)
    (skip,) = [line for line in lines if line["msg"].startswith("skipping argocd/typo")]
    assert skip["application"] == "argocd/typo"
    assert skip["reason"] == "invalid_configuration"
