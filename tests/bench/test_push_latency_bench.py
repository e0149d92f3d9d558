"""The push-to-patch latency benchmark runs end to end in its quick form.

Asserts on the structured report (pushes, patched sets, correctness checks), never on
timings beyond "a latency was measured for every push".
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "push_latency.py"

pytestmark = pytest.mark.registry


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    workdir = tmp_path_factory.mktemp("push-latency-bench")
    path = workdir / "report.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--workdir", str(workdir), "--json", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def test_every_correctness_check_passes(report: dict[str, Any]) -> None:
    assert len(report["checks"]) >= 4
    assert all(report["checks"].values()), report["checks"]


def test_every_push_patches_exactly_its_applications_once(report: dict[str, Any]) -> None:
    assert report["pushes"] == len(report["rows"]) == 10
    assert report["patched_exactly_once"] == report["pushes"]
    for row in report["rows"]:
        assert row["expected"], row
        assert row["patched"] == row["expected"], row
        assert row["reached"] and row["names_tag"] and row["writes_not_on_spec"] == 0, row
        assert row["last_ms"] is not None and row["last_ms"] >= row["first_ms"] >= 0, row
    assert report["push_patch_requests"] == sum(len(r["expected"]) for r in report["rows"])


def test_the_first_resync_brings_everything_up_to_date_before_the_pushes(
    report: dict[str, Any],
) -> None:
    resync = report["resync"]
    assert resync["patches"] == resync["expected_patches"] > 0
    assert report["workload"]["apps"] == 50


def test_pushes_run_as_targeted_cycles_not_resyncs(report: dict[str, Any]) -> None:
    metrics = report["reconciler_metrics"]
    during = metrics["cycles_during_pushes"]
    assert during.get("resync", 0) == 0
    assert 1 <= during["push"] <= report["pushes"]
    assert metrics["push_batches"]["result=ran"] >= 1


def test_the_report_names_percentiles_and_the_target(report: dict[str, Any]) -> None:
    latency = report["latency_ms"]
    assert set(latency) >= {"p50", "p99", "max"}
    assert latency["p50"] <= latency["p99"] <= latency["max"]
    assert list(report["targets"]) == ["p99 under 1 s"]
    assert isinstance(report["targets"]["p99 under 1 s"], bool)
