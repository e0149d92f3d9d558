"""The git write-back benchmark runs end to end in its quick form.

Asserts on the structured report (commits, pushes, git processes), never on timings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "git_writeback.py"


def test_the_quick_git_writeback_bench_writes_one_commit_per_repository(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--quick",
            "--json",
            str(report_path),
            "--workdir",
            str(tmp_path / "w"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads(report_path.read_text())
    by_name = {s["scenario"]: s for s in report["scenarios"]}
    one, twenty = by_name["one-repo"], by_name["twenty-repos"]
    assert (one["changed"]["commits"], one["changed"]["pushes"]) == (1, 1)
    assert (twenty["changed"]["commits"], twenty["changed"]["pushes"]) == (2, 2)
    for scenario in (one, twenty):
        assert scenario["checks"] == []
        assert scenario["no-change"]["git_processes"] == 0
        assert scenario["no-change"]["http_requests"] == 0
    # Upstream's algorithm pushes once per outdated Application.
    assert one["upstream-algorithm"]["pushes"] == 4
