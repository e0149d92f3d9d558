"""The reconciler scale benchmark runs end to end in its quick form.

Asserts on the structured report (phases, request counts, patched sets), never on timings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "reconciler_scale.py"

pytestmark = pytest.mark.registry


def run_quick(workdir: Path, report: Path, *extra: str) -> dict[str, Any]:
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--quick",
            "--workdir",
            str(workdir),
            "--json",
            str(report),
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    loaded: dict[str, Any] = json.loads(report.read_text())
    return loaded


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Two invocations on one workdir: the first seeds, the second reuses the storage."""
    workdir = tmp_path_factory.mktemp("reconciler-bench")
    return [run_quick(workdir, workdir / f"report-{n}.json") for n in range(2)]


def test_the_first_invocation_seeds_the_registry_and_the_second_reuses_it(
    reports: list[dict[str, Any]],
) -> None:
    first, second = (report["runs"][0]["seeding"] for report in reports)
    assert first["reused"] is False
    assert first["tags"] == reports[0]["workload"]["tags"]
    assert second == {"reused": True}


def test_every_correctness_check_passes_in_both_invocations(
    reports: list[dict[str, Any]],
) -> None:
    for report in reports:
        assert report["checks"], "the report carries no checks"
        assert all(report["checks"].values()), report["checks"]


def test_the_cold_cycle_patches_the_outdated_applications_and_reads_metadata(
    reports: list[dict[str, Any]],
) -> None:
    for report in reports:
        cold = report["summary"]["cold"]
        assert cold["patches"] == report["expected"]["cold"] > 0
        assert cold["api"]["patch applications"] == cold["patches"]
        assert cold["api"]["list applications"] == 1
        assert cold["registry"]["tags"] <= report["workload"]["repos_used"]
        assert cold["registry"]["manifest_get"] > 0


def test_the_warm_cycle_lists_each_repository_at_most_once_and_writes_nothing(
    reports: list[dict[str, Any]],
) -> None:
    for report in reports:
        warm = report["summary"]["warm"]
        assert 0 < warm["registry"]["tags"] <= report["workload"]["repos_used"]
        assert warm["patches"] == 0
        assert set(warm["api"]) == {"list applications"}
        assert "manifest_get" not in warm["registry"]


def test_the_new_tag_cycle_patches_exactly_the_applications_of_the_affected_repositories(
    reports: list[dict[str, Any]],
) -> None:
    for report in reports:
        fresh = report["summary"]["new-tags"]
        assert fresh["patches"] == report["expected"]["new-tags"] > 0
        assert len(report["workload"]["affected_repos"]) == 2
        assert report["runs"][0]["phases"]["new-tags"]["written"] is True


def test_the_report_carries_upstreams_request_count_and_the_peak_rss(
    reports: list[dict[str, Any]],
) -> None:
    report = reports[0]
    images = report["workload"]["app_images"]
    for phase in ("cold", "warm", "new-tags"):
        assert report["upstream"][phase]["tags"] == images
        assert report["summary"][phase]["max_rss_kib"] > 0
    assert report["upstream"]["cold"]["manifest_get"] > report["upstream"]["warm"]["manifest_get"]
    assert report["targets"]["warm: at most one tag list per repository"] is True


def test_with_update_policies_every_cycle_is_judged_by_them_and_still_writes_exactly(
    tmp_path: Path,
) -> None:
    report = run_quick(tmp_path, tmp_path / "report.json", "--policies", "4")
    assert report["policies"] == 4
    assert report["runs"][0]["policies_applied"] == 4
    assert all(report["checks"].values()), report["checks"]
    cold = report["runs"][0]["phases"]["cold"]
    # The policies' status is written once, at the first cycle's end; warm cycles write nothing.
    assert cold["api"].get("patch clusterimageupdatepolicies") == 4
    assert report["summary"]["warm"]["patches"] == 0
