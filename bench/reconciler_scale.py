"""Reconciler scale benchmark (issue 5): 2,000 Applications over 300 repositories.

    cd /work/main && .venv/bin/python bench/reconciler_scale.py [--quick] [--runs N]
        [--policies N] [--reseed] [--profile] [--json PATH] [--workdir DIR]

Three processes: this one (seeding, the Kubernetes API emulator in a thread, checks), the
local ``docker-registry``, and the measured reconciler (``reconciler_worker.py``: the
production controller, cycle and clients). Each run starts a fresh reconciler and a fresh
emulator holding the workload of ``reconciler_workload.py``, then measures three cycles:

* ``cold``: first cycle, empty caches; it patches exactly the Applications that start
  outdated.
* ``warm``: past the tag-list and digest TTLs, nothing new in the registry: at most one tag
  list per repository, no write.
* ``new-tags``: 5 % of the repositories got a new tag, TTLs passed again: it patches exactly
  the Applications using them.

Per cycle: wall time (Application list + cycle), the reconciler's CPU, the emulator's CPU,
registry requests by kind, API requests by verb, patches, peak RSS of the reconciler; and
upstream's documented request count for the same workload. Medians over ``--runs``.
The exit status is 1 when a correctness check fails (timings are reported, never checked).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import reconciler_seed
import reconciler_workload as wl

from devcluster.kubeapi import KubeAPI, run_in_thread, write_kubeconfig
from devcluster.kubeapi.server import DEFAULT_CRDS
from devcluster.registry import LocalRegistry

HERE = Path(__file__).resolve().parent
TTL = 30.0  # ClientSettings' tag_list_ttl and digest_ttl defaults
PHASES = ("cold", "warm", "new-tags")
WARM_WALL_TARGET = 5.0
RSS_TARGET_KIB = 200_000_000 // 1024


class WorkerProcess:
    """The reconciler under measurement, spoken to one JSON line at a time."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.ready: dict[str, Any] = {}

    @classmethod
    async def start(cls, config: dict[str, Any], stderr: Path) -> WorkerProcess:
        with stderr.open("ab") as err:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                str(HERE / "reconciler_worker.py"),
                json.dumps(config),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
            )
        worker = cls(proc)
        worker.ready = await worker._read()
        return worker

    async def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout=600)
        if not line:
            raise RuntimeError("the reconciler worker died; see worker.stderr in the workdir")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def send(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        await self.proc.stdin.drain()
        return await self._read()

    async def stop(self) -> None:
        if self.proc.returncode is None:
            try:
                await self.send({"cmd": "quit"})
                await asyncio.wait_for(self.proc.wait(), timeout=30)
            except (RuntimeError, TimeoutError, BrokenPipeError, ConnectionResetError):
                self.proc.kill()
                await self.proc.wait()


def _registry_cpu() -> float:
    """CPU seconds of this process's ``docker-registry`` children (from /proc)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for children in Path("/proc/self/task").glob("*/children"):
        for pid in children.read_text().split():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2 :].split()
            if name == "docker-registry":
                total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _phase(worker: WorkerProcess, api: KubeAPI, label: str, advance: float) -> dict[str, Any]:
    api.requests.clear()
    cpu, registry_cpu = _own_cpu(), _registry_cpu()
    answer = await worker.send({"cmd": "cycle", "label": label, "advance": advance})
    # While the worker runs a cycle this process only serves the emulator's thread.
    answer["emulator_cpu"] = _own_cpu() - cpu
    answer["registry_cpu"] = _registry_cpu() - registry_cpu
    records = api.requests.records
    answer["api"] = dict(sorted(Counter(f"{r.verb} {r.resource}" for r in records).items()))
    answer["patched"] = sorted(
        r.name
        for r in records
        if r.verb == "patch" and r.resource == "applications" and 200 <= r.status < 300
    )
    return answer


def _written(api: KubeAPI, workload: wl.Workload, names: set[str]) -> bool:
    """Every expected Application now names the new tag of each affected image."""
    affected = {r.name for r in workload.affected}
    for app in workload.apps:
        if app.name not in names:
            continue
        stored = api.store.get("argoproj.io", None, "applications", wl.NAMESPACE, app.name)
        text = json.dumps((stored or {}).get("spec"))
        for image in app.images:
            if image.repo.name in affected and image.repo.new_tag not in text:
                return False
    return True


async def one_run(
    workload: wl.Workload,
    workdir: Path,
    *,
    reseed: bool,
    profile: bool,
    index: int,
    digest_ttl: float,
    policies: int = 0,
) -> dict[str, Any]:
    regdir = workdir / "registry"
    needs_seed = reconciler_seed.prepare(regdir, workload, reseed=reseed)
    registry = LocalRegistry(regdir)
    registry.start()
    seeding: dict[str, Any] = {"reused": not needs_seed}
    try:
        if needs_seed:
            started = time.perf_counter()
            tags, requests = await reconciler_seed.seed(registry.url, workload)
            reconciler_seed.mark_seeded(regdir, workload)
            seconds = time.perf_counter() - started
            seeding.update(seconds=seconds, tags=tags, requests=requests, tags_per_s=tags / seconds)
        # Our own CRDs beside Argo CD's when the update policies are stored.
        api = (
            KubeAPI(crds=(DEFAULT_CRDS, HERE.parent / "manifests" / "crds"))
            if policies
            else KubeAPI()
        )
        for project in wl.PROJECTS:
            api.store.put(wl.app_project(project))
        for app in workload.apps:
            api.store.put(wl.application(app, registry.host))
        for stored_policy in wl.update_policies(policies):
            api.store.put(stored_policy)
        with run_in_thread(api) as running:
            kubeconfig = write_kubeconfig(workdir / "kubeconfig", running.url)
            config = {
                "kubeconfig": str(kubeconfig),
                "registry_url": registry.url,
                "registry_host": registry.host,
                "log": str(workdir / "worker.log"),
                "profile_dir": str(workdir / f"profile-{index}") if profile else None,
                "digest_ttl": digest_ttl,
                "policies": policies > 0,
            }
            worker = await WorkerProcess.start(config, workdir / "worker.stderr")
            try:
                phases = {"cold": await _phase(worker, api, "cold", 0.0)}
                phases["warm"] = await _phase(worker, api, "warm", TTL + 1)
                await reconciler_seed.push_new_tags(registry.url, workload)
                phases["new-tags"] = await _phase(worker, api, "new-tags", TTL + 1)
                expected = wl.expected_after_new_tags(workload)
                phases["new-tags"]["written"] = _written(api, workload, expected)
            finally:
                await worker.stop()
    finally:
        registry.stop()
        reconciler_seed.prepare(regdir, workload, reseed=False)
    return {
        "seeding": seeding,
        "phases": phases,
        "start_rss_kib": worker.ready["max_rss_kib"],
        "policies_applied": worker.ready["policies_applied"],
    }


def _checks(
    workload: wl.Workload, runs: list[dict[str, Any]], repos_used: int, policies: int
) -> dict[str, bool]:
    cold, fresh = wl.expected_cold(workload), wl.expected_after_new_tags(workload)
    checks: dict[str, bool] = {}
    for number, run in enumerate(runs):
        phases = run["phases"]
        if policies:
            checks[f"run{number}: every stored update policy is valid and applied"] = (
                run["policies_applied"] == policies
            )
        checks[f"run{number}: cold patches exactly the outdated apps"] = (
            set(phases["cold"]["patched"]) == cold
        )
        checks[f"run{number}: warm writes nothing"] = phases["warm"]["patched"] == []
        checks[f"run{number}: warm lists each repository at most once"] = (
            phases["warm"]["registry"].get("tags", 0) <= repos_used
        )
        checks[f"run{number}: new-tags patches exactly the affected apps"] = (
            set(phases["new-tags"]["patched"]) == fresh
        )
        checks[f"run{number}: new-tags writes the new tags"] = bool(phases["new-tags"]["written"])
        checks[f"run{number}: no cycle reports an error"] = all(
            phases[p]["result"]["errors"] == 0 for p in PHASES
        )
    return checks


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for phase in PHASES:
        rows = [run["phases"][phase] for run in runs]
        kinds = sorted({k for row in rows for k in row["registry"]})
        verbs = sorted({k for row in rows for k in row["api"]})
        summary[phase] = {
            "wall": _median([r["wall"] for r in rows]),
            "walls": [round(r["wall"], 3) for r in rows],
            "list_wall": _median([r["list_wall"] for r in rows]),
            "cycle_wall": _median([r["cycle_wall"] for r in rows]),
            "steps": {
                k: _median([r["steps"][k] for r in rows]) for k in ("prepare", "resolve", "write")
            },
            "resolutions": _median([r["resolutions"] for r in rows]),
            "cpu": _median([r["cpu"] for r in rows]),
            "emulator_cpu": _median([r["emulator_cpu"] for r in rows]),
            "registry_cpu": _median([r["registry_cpu"] for r in rows]),
            "registry": {k: _median([r["registry"].get(k, 0) for r in rows]) for k in kinds},
            "registry_total": _median([sum(r["registry"].values()) for r in rows]),
            "api": {k: _median([r["api"].get(k, 0) for r in rows]) for k in verbs},
            "patches": _median([r["result"]["patches"] for r in rows]),
            "images_updated": _median([r["result"]["images_updated"] for r in rows]),
            "max_rss_kib": _median([r["max_rss_kib"] for r in rows]),
        }
    return summary


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    return next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), "")


def machine() -> dict[str, str]:
    def run(*cmd: str) -> str:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()

    memory = run("free", "-h").splitlines()
    return {
        "nproc": run("nproc"),
        "memory": memory[1] if len(memory) > 1 else "",
        "python": platform.python_version(),
        "date": run("date", "-u"),
        "cpu": _cpu_model(),
    }


def markdown(report: dict[str, Any]) -> str:
    summary, upstream, targets = report["summary"], report["upstream"], report["targets"]
    lines = [
        "| cycle | wall s (median) | list s | reconciler CPU s | emulator CPU s | registry requests"
        " | registry CPU s | upstream-equivalent | API requests | patches | peak RSS MiB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for phase in PHASES:
        row = summary[phase]
        registry = ", ".join(f"{k} {v:g}" for k, v in row["registry"].items()) or "0"
        ups = upstream[phase]
        ups_text = f"{sum(v for k, v in ups.items() if k != 'ping'):g} (+{ups['ping']} pings)"
        api = ", ".join(f"{k} {v:g}" for k, v in row["api"].items())
        lines.append(
            f"| {phase} | {row['wall']:.2f} ({', '.join(map(str, row['walls']))}) "
            f"| {row['list_wall']:.2f} | {row['cpu']:.2f} | {row['emulator_cpu']:.2f} "
            f"| {row['registry_total']:g}: {registry} | {row['registry_cpu']:.2f} | {ups_text} "
            f"| {api} "
            f"| {row['patches']:g} | {row['max_rss_kib'] / 1024:.0f} |"
        )
    lines.append("")
    loads = [f"{run['load_average'][0]:.1f}" for run in report["runs"]]
    lines.append(f"- 1-min load average after each run: {', '.join(loads)}")
    starts = [f"{run['start_rss_kib'] / 1024:.0f}" for run in report["runs"]]
    lines.append(
        f"- reconciler RSS before the first cycle (imports, clients) MiB: {', '.join(starts)}"
    )
    lines += [f"- target {name}: {'met' if ok else 'MISSED'}" for name, ok in targets.items()]
    lines += [
        f"- check {name}: {'ok' if ok else 'FAILED'}" for name, ok in report["checks"].items()
    ]
    return "\n".join(lines)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    size = wl.QUICK if args.quick else wl.FULL
    workload = wl.build(size, reconciler_seed.followed_digest)
    workdir: Path = args.workdir
    runs = []
    for index in range(args.runs):
        reseed = args.reseed and index == 0
        run = await one_run(
            workload,
            workdir,
            reseed=reseed,
            profile=args.profile,
            index=index,
            digest_ttl=args.digest_ttl,
            policies=args.policies,
        )
        run["load_average"] = os.getloadavg()
        runs.append(run)
    repos_used = len({i.repo.name for app in workload.apps for i in app.images})
    summary = summarize(runs)
    checks = _checks(workload, runs, repos_used, args.policies)
    warm = summary["warm"]
    targets = {
        "warm: at most one tag list per repository": warm["registry"].get("tags", 0) <= repos_used,
        "warm: writes nothing": warm["patches"] == 0
        and not any(k.startswith(("patch", "update", "create")) for k in warm["api"]),
        f"warm: under {WARM_WALL_TARGET:g} s": warm["wall"] < WARM_WALL_TARGET,
        "new-tags: patches exactly the affected apps": all(
            v for k, v in checks.items() if "new-tags patches" in k
        ),
        "peak RSS under 200 MB": max(summary[p]["max_rss_kib"] for p in PHASES) < RSS_TARGET_KIB,
    }
    return {
        "command": " ".join([".venv/bin/python", "bench/reconciler_scale.py", *sys.argv[1:]]),
        "machine": machine(),
        "digest_ttl": args.digest_ttl,
        "policies": args.policies,
        "workload": {
            "apps": len(workload.apps),
            "repos": len(workload.repos),
            "repos_used": repos_used,
            "app_images": sum(len(a.images) for a in workload.apps),
            "tags": sum(len(r.tags) for r in workload.repos),
            "kinds": dict(Counter(a.kind for a in workload.apps)),
            "repo_kinds": dict(Counter(r.kind for r in workload.repos)),
            "affected_repos": [r.name for r in workload.affected],
        },
        "expected": {
            "cold": len(wl.expected_cold(workload)),
            "new-tags": len(wl.expected_after_new_tags(workload)),
        },
        "upstream": {p: wl.upstream_requests(workload, p) for p in ("cold", "warm", "new-tags")},
        "runs": runs,
        "summary": summary,
        "checks": checks,
        "targets": targets,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a tiny workload (seconds)")
    parser.add_argument("--runs", type=int, default=None, help="repetitions (3; 1 with --quick)")
    parser.add_argument("--reseed", action="store_true", help="seed the registry again")
    parser.add_argument("--profile", action="store_true", help="cProfile each cycle")
    parser.add_argument("--json", type=Path, help="write the full report here")
    parser.add_argument(
        "--digest-ttl",
        type=float,
        default=TTL,
        help="the registry client's digest_ttl (default 30 s, the production default)",
    )
    parser.add_argument(
        "--policies",
        type=int,
        default=0,
        help="store this many update policies matching every Application (their rules keep "
        "every update of the workload) and judge each cycle by them",
    )
    parser.add_argument("--workdir", type=Path, help="registry storage and logs")
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    if args.runs < 1:
        parser.error(f"--runs {args.runs} is not valid; expected 1 or more")
    if args.policies < 0:
        parser.error(f"--policies {args.policies} is not valid; expected 0 or more")
    if args.workdir is None:
        args.workdir = HERE / "out" / ("reconciler-quick" if args.quick else "reconciler")
    args.workdir.mkdir(parents=True, exist_ok=True)
    report = asyncio.run(bench(args))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, sort_keys=True))
    print(json.dumps({k: report[k] for k in ("command", "machine", "workload", "expected")}))
    for run in report["runs"]:
        print("seeding:", json.dumps(run["seeding"]))
    print(markdown(report))
    return 0 if all(report["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
