"""Start-up bench: medians over whole processes of ``image-updater`` (wall, peak RSS, modules).

Run: ``python bench/startup.py [--runs N]``; prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _apps(count: int) -> str:
    docs = []
    for i in range(count):
        docs.append(
            "apiVersion: argoproj.io/v1alpha1\n"
            "kind: Application\n"
            "metadata:\n"
            f"  name: app-{i}\n"
            "  namespace: argocd\n"
            "  annotations:\n"
            f"    argocd-image-updater.argoproj.io/image-list: app=ghcr.io/org/app{i}:1.x\n"
            "spec:\n"
            "  project: default\n"
        )
    return "---\n".join(docs)


def _once(argv: list[str]) -> tuple[float, int, int]:
    env = dict(os.environ, PYTHONPROFILEIMPORTTIME="1")
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, _, rusage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = 0
    modules = sum(1 for line in err.splitlines() if line.startswith("import time:")) - 1
    return wall, rusage.ru_maxrss, max(modules, 0)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    runs = max(parser.parse_args().runs, 10)
    exe = shutil.which("image-updater") or str(Path(sys.executable).with_name("image-updater"))
    with tempfile.TemporaryDirectory() as tmp:
        apps = Path(tmp) / "apps.yaml"
        apps.write_text(_apps(100))
        cases = {
            "help": [exe, "--help"],
            "version": [exe, "version"],
            "lint_100_apps": [exe, "lint", str(apps)],
        }
        result = {}
        for name, argv in cases.items():
            samples = [_once(argv) for _ in range(runs)]
            result[name] = {
                "wall_ms": round(statistics.median(s[0] for s in samples) * 1000, 1),
                "peak_rss_kib": int(statistics.median(s[1] for s in samples)),
                "modules": int(statistics.median(s[2] for s in samples)),
                "runs": runs,
            }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
