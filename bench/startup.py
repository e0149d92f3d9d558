"""Start-up bench: medians over whole ``image-updater`` processes (wall, peak RSS, modules).

Cases (issue 13's list):

* ``help``, ``version``: no I/O at all.
* ``lint_100_apps``: ``lint`` of a file of 100 Applications.
* ``test_image``: ``test HOST/team-0/svc-000:1.x`` against the local ``docker-registry``.
* ``run_once_dry_run_empty``: ``run --once --dry-run`` against an empty API emulator.
* ``run_once_100_apps``: ``run --once`` over 100 Applications, each following its own
  repository of ~200 tags on the local registry (the workload measured against Renovate).
  Every run starts from the same state: the Applications are put back (running 1.0.x)
  before each run, outside the timing, so every run patches all 100.

Wall time and peak RSS come from runs without import tracing; the module count from one
extra run with ``PYTHONPROFILEIMPORTTIME``, so tracing never inflates the times.
Run: ``python bench/startup.py [--runs N] [--only CASE ...]``; prints JSON. Needs GNU time
(Debian package ``time``) for the peak RSS.
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
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _registry_seed import SeedPlan, ensure_seeded

from devcluster.kubeapi import KubeAPI, run_in_thread, write_kubeconfig
from devcluster.registry import LocalRegistry

# 100 repositories of 3 × 67 = 201 tags each.
PLAN = SeedPlan(repositories=100, builds=67)
OUT = Path(__file__).resolve().parent / "out" / "startup-registry"
NAMESPACE = "argocd"


def _lint_apps(count: int) -> str:
    docs = []
    for i in range(count):
        docs.append(
            "apiVersion: argoproj.io/v1alpha1\n"
            "kind: Application\n"
            "metadata:\n"
            f"  name: app-{i}\n"
            f"  namespace: {NAMESPACE}\n"
            "  annotations:\n"
            f"    argocd-image-updater.argoproj.io/image-list: app=ghcr.io/org/app{i}:1.x\n"
            "spec:\n"
            "  project: default\n"
        )
    return "---\n".join(docs)


def _running_tag(r: int) -> str:
    """The first 1.y.z release of repository ``r``: what each Application runs at the start."""
    for i in range(PLAN.builds):
        parts = PLAN.version(r, i)
        if parts is not None and parts[0] == 1 and not parts[3]:
            tag = PLAN.version_tag(r, i)
            assert tag is not None
            return tag
    raise AssertionError(f"repository {r} has no 1.x release")


def _application(host: str, r: int) -> dict[str, Any]:
    image = f"{host}/{PLAN.repository(r)}"
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": f"app-{r:03d}",
            "namespace": NAMESPACE,
            "annotations": {"argocd-image-updater.argoproj.io/image-list": f"app={image}:1.x"},
        },
        "spec": {
            "project": "default",
            "source": {
                "repoURL": "https://example.invalid/gitops.git",
                "path": f"apps/{r:03d}",
                "kustomize": {},
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "apps"},
        },
        "status": {
            "sourceType": "Kustomize",
            "summary": {"images": [f"{image}:{_running_tag(r)}"]},
        },
    }


def _request(method: str, url: str, body: object | None = None) -> None:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - 127.0.0.1
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - 127.0.0.1 emulator
        resp.read()


def _put_back_applications(api_url: str, host: str) -> Callable[[], None]:
    base = f"{api_url}/apis/argoproj.io/v1alpha1/namespaces/{NAMESPACE}/applications"
    apps = [_application(host, r) for r in range(PLAN.repositories)]

    def reset() -> None:
        for app in apps:
            try:
                _request("DELETE", f"{base}/{app['metadata']['name']}")
            except urllib.error.HTTPError as exc:
                if exc.code != 404:
                    raise
            _request("POST", base, app)

    return reset


def _check_all_updated(api_url: str) -> None:
    """Every Application got its override: the run did the whole job, not part of it."""
    url = f"{api_url}/apis/argoproj.io/v1alpha1/namespaces/{NAMESPACE}/applications"
    with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 - 127.0.0.1 emulator
        items = json.load(resp)["items"]
    updated = [a for a in items if a["spec"]["source"].get("kustomize", {}).get("images")]
    if len(items) != PLAN.repositories or len(updated) != len(items):
        raise AssertionError(f"{len(updated)} of {len(items)} Applications were updated")


def _once(argv: list[str], *, trace_imports: bool = False) -> tuple[float, int, int, str]:
    """(wall seconds, peak RSS KiB, modules imported, stderr) of one process.

    The peak RSS is GNU time's (``%M``): a forked child's own ``ru_maxrss`` would count the
    pages it shared with this process before ``exec``.
    """
    env = dict(os.environ)
    if trace_imports:
        env["PYTHONPROFILEIMPORTTIME"] = "1"
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        start = time.perf_counter()
        done = subprocess.run(
            ["/usr/bin/time", "-q", "-f", "%M", "-o", rss.name, *argv],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - start
        peak = int(rss.read().strip().splitlines()[-1])
    if done.returncode != 0:
        raise RuntimeError(f"{argv[1:]} exited {done.returncode}: {done.stderr[-2000:]}")
    modules = sum(1 for line in done.stderr.splitlines() if line.startswith("import time:")) - 1
    return wall, peak, max(modules, 0), done.stderr


@contextmanager
def _environment(tmp: Path) -> Iterator[dict[str, Any]]:
    """The registry (seeded once under bench/out/) and an API emulator on 127.0.0.1."""
    ensure_seeded(OUT, PLAN)
    with ExitStack() as stack:
        registry = stack.enter_context(LocalRegistry(OUT))
        conf = tmp / "registries.conf"
        conf.write_text(
            "registries:\n"
            f"- name: local\n  prefix: {registry.host}\n  api_url: {registry.url}\n"
            "  limit: 1000\n"
        )
        empty = stack.enter_context(run_in_thread(KubeAPI()))
        loaded = stack.enter_context(run_in_thread(KubeAPI()))
        yield {
            "host": registry.host,
            "conf": conf,
            "empty_kubeconfig": write_kubeconfig(tmp / "empty.kubeconfig", empty.url),
            "loaded_kubeconfig": write_kubeconfig(tmp / "loaded.kubeconfig", loaded.url),
            "loaded_url": loaded.url,
        }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--only", nargs="*", default=None, help="case names to run")
    args = parser.parse_args()
    runs = max(args.runs, 10)
    exe = shutil.which("image-updater") or str(Path(sys.executable).with_name("image-updater"))
    with tempfile.TemporaryDirectory() as scratch, _environment(Path(scratch)) as env:
        tmp = Path(scratch)
        apps = tmp / "apps.yaml"
        apps.write_text(_lint_apps(100))
        quiet = ["--loglevel", "warn"]
        conf = ["--registries-conf-path", str(env["conf"])]
        reset = _put_back_applications(env["loaded_url"], env["host"])
        cases: dict[str, tuple[list[str], Callable[[], None] | None]] = {
            "help": ([exe, "--help"], None),
            "version": ([exe, "version"], None),
            "lint_100_apps": ([exe, "lint", str(apps)], None),
            "test_image": ([exe, "test", f"{env['host']}/{PLAN.repository(0)}:1.x", *conf], None),
            "run_once_dry_run_empty": (
                [
                    exe,
                    "run",
                    "--once",
                    "--dry-run",
                    "--kubeconfig",
                    str(env["empty_kubeconfig"]),
                    *conf,
                    *quiet,
                ],
                None,
            ),
            "run_once_100_apps": (
                [
                    exe,
                    "run",
                    "--once",
                    "--kubeconfig",
                    str(env["loaded_kubeconfig"]),
                    "--application-namespace",
                    NAMESPACE,
                    *conf,
                    *quiet,
                ],
                reset,
            ),
        }
        result: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version}}
        for name, (argv, before) in cases.items():
            if args.only and name not in args.only:
                continue
            samples = []
            for _ in range(runs):
                if before is not None:
                    before()
                samples.append(_once(argv))
                if name == "run_once_100_apps":
                    _check_all_updated(env["loaded_url"])
            if before is not None:
                before()
            modules = _once(argv, trace_imports=True)[2]
            result[name] = {
                "wall_ms": round(statistics.median(s[0] for s in samples) * 1000, 1),
                "wall_ms_min": round(min(s[0] for s in samples) * 1000, 1),
                "peak_rss_mib": round(statistics.median(s[1] for s in samples) / 1024, 1),
                "modules": modules,
                "runs": runs,
            }
            print(name, result[name], file=sys.stderr)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
