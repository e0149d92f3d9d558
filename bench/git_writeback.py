"""Git write-back benchmark (issue 10): many Applications in few repositories.

    cd /work/main && .venv/bin/python bench/git_writeback.py [--quick] [--runs N] [--json PATH]

Each scenario starts the Kubernetes API emulator (in a thread) holding the Applications,
the local ``docker-registry`` with one image at tags 1.0.0 and 1.1.0, and a smart-HTTP git
server over TLS (``git http-backend`` behind the devcluster bridge) holding the GitOps repositories;
then runs ``image-updater run --once`` as a user would, with ``git`` on its PATH replaced by
a wrapper that counts invocations. Scenarios:

* ``one-repo``: 500 Applications, each its own path in one repository; 50 run 1.0.0
  (outdated), the rest 1.1.0. Then ``no-change``: every Application runs 1.1.0 (Argo CD
  synced), so nothing is written.
* ``twenty-repos``: 2,000 Applications over 20 repositories, 5 % outdated (5 per repository).
* ``upstream-algorithm``: for the 50 outdated Applications of ``one-repo``, what upstream
  does per Application (§11.2: a fresh clone one commit deep, write the file, commit, push),
  with the same git and the same server.

Per run: wall time of the command, commits and pushes the server received, bytes it sent
(what was fetched), git processes the product spawned, the product's peak RSS. Medians over
``--runs``. The exit status is 1 when a correctness check fails (timings are reported, never
checked).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from devcluster.gitserver import GitRepos, SmartHTTPServer
from devcluster.kubeapi import KubeAPI, run_in_thread, write_kubeconfig
from devcluster.registry import LocalRegistry
from devcluster.seeder import ImageSeeder
from devcluster.tls import TinyCA

ROOT = Path(__file__).resolve().parents[1]
BINARY = Path(sys.executable).with_name("image-updater")
IMAGE_REPO = "bench/web"
OLD, NEW = "1.0.0", "1.1.0"
USER, PASSWORD = "writer", "bench-password"
WALL_TARGET = 10.0
RSS_TARGET_MIB = 250


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    repositories: int
    apps_per_repository: int
    outdated_per_repository: int


def full() -> list[Scenario]:
    return [Scenario("one-repo", 1, 500, 50), Scenario("twenty-repos", 20, 100, 5)]


def quick() -> list[Scenario]:
    return [Scenario("one-repo", 1, 40, 4), Scenario("twenty-repos", 2, 20, 2)]


def override(image: str, tag: str) -> str:
    return f"kustomize:\n  images:\n  - {image}:{tag}\n"


def application(name: str, url: str, image: str, running: str) -> dict[str, Any]:
    prefix = "argocd-image-updater.argoproj.io/"
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": name,
            "namespace": "argocd",
            "annotations": {prefix + "image-list": image, prefix + "write-back-method": "git"},
        },
        "spec": {
            "project": "default",
            "source": {
                "repoURL": url,
                "path": f"apps/{name}",
                "targetRevision": "main",
                "kustomize": {},
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "apps"},
        },
        "status": {"summary": {"images": [f"{image}:{running}"]}},
    }


def repository_secret(url: str, index: int) -> dict[str, Any]:
    import base64

    data = {"url": url, "username": USER, "password": PASSWORD}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": f"repo-{index}",
            "namespace": "argocd",
            "labels": {"argocd.argoproj.io/secret-type": "repository"},
        },
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def git_wrapper(directory: Path) -> Path:
    """A ``git`` that counts its invocations in ``count`` and runs the real one."""
    directory.mkdir(parents=True, exist_ok=True)
    real = shutil.which("git") or "/usr/bin/git"
    wrapper = directory / "git"
    wrapper.write_text(f'#!/bin/sh\necho >> "{directory / "count"}"\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    return directory


def count(directory: Path) -> int:
    path = directory / "count"
    return len(path.read_text().splitlines()) if path.exists() else 0


def run_product(kubeconfig: Path, conf: Path, cache: Path, wrapper: Path) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB) and stderr of one ``image-updater run --once``."""
    env = {**os.environ, "PATH": f"{wrapper}:{os.environ.get('PATH', '')}"}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            str(BINARY),
            "run",
            "--once",
            "--kubeconfig",
            str(kubeconfig),
            "--registries-conf-path",
            str(conf),
            "--git-cache-dir",
            str(cache),
            "--loglevel",
            "info",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"image-updater run exited {proc.returncode}: {stderr[-2000:]}")
    return wall, usage.ru_maxrss, stderr


def upstream_algorithm(
    urls: list[str], names: list[str], image: str, workdir: Path
) -> dict[str, Any]:
    """Per Application: clone one commit deep, write, commit, push (upstream §11.2)."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workdir),
        "GIT_SSL_CAINFO": os.environ["GIT_SSL_CAINFO"],
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "argocd-image-updater",
        "GIT_AUTHOR_EMAIL": "noreply@argoproj.io",
        "GIT_COMMITTER_NAME": "argocd-image-updater",
        "GIT_COMMITTER_EMAIL": "noreply@argoproj.io",
    }
    processes = 0
    started = time.perf_counter()
    for url, name in zip(urls, names, strict=True):
        tree = Path(tempfile.mkdtemp(prefix=f"git-{name}-", dir=workdir))
        authed = url.replace("://", f"://{USER}:{PASSWORD}@")
        for args in (["clone", "--quiet", "--depth", "1", "--branch", "main", authed, str(tree)],):
            subprocess.run(["git", *args], env=env, check=True, capture_output=True)
            processes += 1
        target = tree / "apps" / name / f".argocd-source-{name}.yaml"
        target.write_text(override(image, NEW))
        for args in (
            ["add", str(target)],
            ["commit", "--quiet", "-m", f"build: automatic update of {name}"],
            ["push", "--quiet", "origin", "main"],
        ):
            subprocess.run(["git", *args], cwd=tree, env=env, check=True, capture_output=True)
            processes += 1
        shutil.rmtree(tree)
    return {"wall": time.perf_counter() - started, "git_processes": processes, "pushes": len(names)}


async def seed_image(registry: LocalRegistry) -> str:
    async with aiohttp.ClientSession() as session:
        seeder = ImageSeeder(registry.url, session)
        await seeder.push(IMAGE_REPO, OLD)
        await seeder.push(IMAGE_REPO, NEW)
    return f"{registry.host}/{IMAGE_REPO}"


def measure(
    scenario: Scenario, registry: LocalRegistry, image: str, workdir: Path
) -> dict[str, Any]:
    repos = GitRepos(workdir / "server")
    names_by_repo: list[list[str]] = []
    for r in range(scenario.repositories):
        names = [f"r{r:02d}-app{a:04d}" for a in range(scenario.apps_per_repository)]
        names_by_repo.append(names)
        files = {f"apps/{n}/kustomization.yaml": "resources: []\n" for n in names}
        files.update({f"apps/{n}/.argocd-source-{n}.yaml": override(image, OLD) for n in names})
        repos.create(f"bench/repo{r:02d}", files)
    conf = workdir / "registries.conf"
    conf.write_text(
        f"registries:\n- name: local\n  prefix: {registry.host}\n  api_url: {registry.url}\n"
    )
    report: dict[str, Any] = {"scenario": scenario.name}
    checks: list[str] = []
    ca = TinyCA("git bench CA")
    issued = ca.issue("127.0.0.1")
    issued.write(workdir / "server.crt", workdir / "server.key")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(workdir / "server.crt", workdir / "server.key")
    ca_file = ca.write_ca(workdir / "ca.crt")
    os.environ["GIT_SSL_CAINFO"] = str(ca_file)  # for the product and the upstream algorithm
    with SmartHTTPServer(repos, users={USER: PASSWORD}, tls=tls) as server:
        api = KubeAPI()
        # Argo CD's default project, permitting every repository: Argo CD's credentials
        # push only where an Application's project allows.
        api.store.put(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "AppProject",
                "metadata": {"name": "default", "namespace": "argocd"},
                "spec": {"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}]},
            }
        )
        outdated: list[str] = []
        for r, names in enumerate(names_by_repo):
            url = server.repo_url(f"bench/repo{r:02d}")
            api.store.put(repository_secret(url, r))
            for a, name in enumerate(names):
                old = a < scenario.outdated_per_repository
                if old:
                    outdated.append(name)
                api.store.put(application(name, url, image, OLD if old else NEW))
        # Applications already at 1.1.0 have that in their files too (Argo CD synced them).
        for r, names in enumerate(names_by_repo):
            repos.commit(
                f"bench/repo{r:02d}",
                "main",
                {
                    f"apps/{n}/.argocd-source-{n}.yaml": override(image, NEW)
                    for n in names[scenario.outdated_per_repository :]
                },
                "synced",
            )
        wrapper = git_wrapper(workdir / "wrapper")
        with run_in_thread(api) as running:
            kubeconfig = write_kubeconfig(workdir / "kubeconfig", running.url)
            for phase in ("changed", "no-change"):
                before = (
                    dict(server.stats.posts),
                    server.stats.bytes_sent,
                    server.stats.requests,
                    count(wrapper),
                )
                commits_before = sum(
                    len(repos.log(f"bench/repo{r:02d}", "main"))
                    for r in range(scenario.repositories)
                )
                wall, rss, stderr = run_product(kubeconfig, conf, workdir / "cache", wrapper)
                commits = (
                    sum(
                        len(repos.log(f"bench/repo{r:02d}", "main"))
                        for r in range(scenario.repositories)
                    )
                    - commits_before
                )
                pushes = server.stats.posts.get("git-receive-pack", 0) - before[0].get(
                    "git-receive-pack", 0
                )
                report[phase] = {
                    "wall": wall,
                    "peak_rss_mib": rss / 1024,
                    "commits": commits,
                    "pushes": pushes,
                    "bytes_fetched": server.stats.bytes_sent - before[1],
                    "http_requests": server.stats.requests - before[2],
                    "git_processes": count(wrapper) - before[3],
                }
                if phase == "changed":
                    expected = scenario.repositories
                    if commits != expected or pushes != expected:
                        checks.append(
                            f"{scenario.name}: {commits} commits / {pushes} pushes, "
                            f"expected {expected} each"
                        )
                    if f"images_updated={len(outdated)} errors=0" not in stderr:
                        checks.append(f"{scenario.name}: summary line missing: {stderr[-500:]}")
                    for name in outdated:
                        r = int(name[1:3])
                        text = repos.read(
                            f"bench/repo{r:02d}", "main", f"apps/{name}/.argocd-source-{name}.yaml"
                        )
                        if text is None or NEW not in text:
                            checks.append(f"{name} not updated")
                            break
                    # Argo CD syncs: every Application now runs 1.1.0.
                    for r, names in enumerate(names_by_repo):
                        url = server.repo_url(f"bench/repo{r:02d}")
                        for name in names:
                            api.store.put(application(name, url, image, NEW))
                elif (
                    commits
                    or pushes
                    or report[phase]["git_processes"]
                    or report[phase]["http_requests"]
                ):
                    checks.append(
                        f"{scenario.name}: the no-change cycle touched git: {report[phase]}"
                    )
        if scenario.repositories == 1:
            # Upstream's per-Application algorithm for the same outdated Applications, after
            # resetting their files to the old tag.
            repos.commit(
                "bench/repo00",
                "main",
                {f"apps/{n}/.argocd-source-{n}.yaml": override(image, OLD) for n in outdated},
                "reset for the upstream algorithm",
            )
            url = server.repo_url("bench/repo00")
            before_bytes = server.stats.bytes_sent
            upstream = upstream_algorithm([url] * len(outdated), outdated, image, workdir)
            upstream["bytes_fetched"] = server.stats.bytes_sent - before_bytes
            report["upstream-algorithm"] = upstream
    report["checks"] = checks
    return report


def median_report(runs: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {"scenario": runs[0]["scenario"], "runs": len(runs), "checks": []}
    for run in runs:
        merged["checks"].extend(run["checks"])
    for phase in ("changed", "no-change", "upstream-algorithm"):
        if phase not in runs[0]:
            continue
        merged[phase] = {
            key: statistics.median(run[phase][key] for run in runs) for key in runs[0][phase]
        }
        merged[phase]["wall_runs"] = [round(run[phase]["wall"], 3) for run in runs]
    return merged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a small workload, for the test suite")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--workdir", type=Path, help="keep the run's files here")
    args = parser.parse_args()
    base = args.workdir or Path(tempfile.mkdtemp(prefix="git-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    results = []
    with LocalRegistry(base / "registry") as registry:
        image = asyncio.run(seed_image(registry))
        for scenario in quick() if args.quick else full():
            runs = []
            for n in range(1 if args.quick else args.runs):
                workdir = base / f"{scenario.name}-{n}"
                shutil.rmtree(workdir, ignore_errors=True)
                workdir.mkdir(parents=True)
                runs.append(measure(scenario, registry, image, workdir))
            results.append(median_report(runs))
    report = {
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "git": subprocess.run(
                ["git", "--version"], capture_output=True, text=True, check=False
            ).stdout.strip(),
        },
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average": os.getloadavg(),
        "scenarios": results,
        "targets": {"wall_s": WALL_TARGET, "rss_mib": RSS_TARGET_MIB},
        "bench_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    text = json.dumps(report, indent=2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    print(text)
    if not args.workdir:
        shutil.rmtree(base, ignore_errors=True)
    failed = [c for r in results for c in r["checks"]]
    for check in failed:
        print(f"CHECK FAILED: {check}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
