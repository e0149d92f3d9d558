"""The webhook benchmark's side-by-side mode (one worker against two) runs end to end, quick.

Asserts on what was measured and how it is reported, never on timings.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "webhook_load.py"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        pytest.fail("wrk is not installed: apt-get install -y wrk", pytrace=False)
    out = tmp_path_factory.mktemp("side-by-side")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--side-by-side", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads((out / "side-by-side.json").read_text())
    return result


def test_one_and_two_workers_are_each_measured_paced_and_saturated(
    report: dict[str, Any],
) -> None:
    variants = report["side_by_side"]["variants"]
    assert {name: v["workers"] for name, v in variants.items()} == {
        "1 worker": 1,
        "2 workers": 2,
    }
    bodies = report["profile"]["bodies"]
    for name, variant in variants.items():
        assert variant["sanity"]["reviews"] == bodies, name
        assert variant["sanity"]["denied"] == bodies // 10, name
        for load in ("paced", "saturated"):
            runs = variant[load]["runs"]
            assert len(runs) == report["profile"]["repeats"], (name, load)
            for run in runs:
                assert run["requests"] > 0, (name, load)
                assert run["errors"] == 0, (name, load)
                assert 0 < run["p50_ms"] <= run["p99_ms"] <= run["p999_ms"], (name, load)
                assert run["server_cpu_ms_per_review"] > 0, (name, load)


def test_the_ratio_is_of_the_saturated_throughputs_measured(report: dict[str, Any]) -> None:
    sbs = report["side_by_side"]
    one = sbs["variants"]["1 worker"]["saturated"]
    two = sbs["variants"]["2 workers"]["saturated"]
    ratio = sbs["saturated_ratio_2_to_1"]
    assert ratio["of_medians"] == round(two["median"]["rps"] / one["median"]["rps"], 3)
    assert ratio["per_repeat"] == [
        round(b["rps"] / a["rps"], 3) for a, b in zip(one["runs"], two["runs"], strict=True)
    ]


def test_two_workers_are_measured_as_one_server(report: dict[str, Any]) -> None:
    # The supervisor and both workers: more resident memory than one process alone.
    variants = report["side_by_side"]["variants"]
    one = variants["1 worker"]["paced"]["median"]["server_peak_rss_mib"]
    two = variants["2 workers"]["paced"]["median"]["server_peak_rss_mib"]
    assert two > 1.5 * one
