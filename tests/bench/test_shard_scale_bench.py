"""The scale-out benchmark runs end to end in its quick form.

Asserts on the structured report (writes, shard split, request counts), never on timings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "shard_scale.py"

pytestmark = pytest.mark.registry


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    workdir = tmp_path_factory.mktemp("shard-scale-bench")
    path = workdir / "report.json"
    args = ["--quick", "--warm", "2", "--workdir", str(workdir), "--json", str(path)]
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def test_every_correctness_check_passes(report: dict[str, Any]) -> None:
    assert len(report["checks"]) >= 12
    assert all(report["checks"].values()), report["checks"]


def test_the_shards_split_the_applications_between_them(report: dict[str, Any]) -> None:
    apps = report["workload"]["apps"]
    for mode in ("3+redis", "3"):
        replicas = report["summary"][mode]["per_replica"]
        assert len(replicas) == 3
        assert sum(r["applications"] for r in replicas) == apps
        assert all(0 < r["applications"] < apps for r in replicas)
        assert sum(r["cold_patches"] for r in replicas) == report["workload"]["cold_expected"]


def test_redis_makes_three_shards_list_each_repository_once_per_interval(
    report: dict[str, Any],
) -> None:
    summary, listed = report["summary"], report["workload"]["listed_repos"]
    assert summary["1"]["warm_tags_total"] == listed
    assert summary["3+redis"]["warm_tags_total"] <= listed
    assert summary["3"]["warm_tags_total"] > listed  # each shard on its own lists again
    shared = {k for r in summary["3+redis"]["per_replica"] for k in r["warm_shared"]}
    assert shared & {"tags hit", "tags waited"}
    for run in report["runs"]:
        if run["redis"]:
            assert all(c["shared_tag_lists_expired"] > 0 for c in run["cycles"][1:])


def test_the_report_names_the_targets(report: dict[str, Any]) -> None:
    assert any("one tag list per repository" in k for k in report["targets"])
    assert any("under 10 s" in k for k in report["targets"])
    assert any("400 MB" in k for k in report["targets"])
