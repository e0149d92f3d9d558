"""Push-to-patch latency benchmark: a registry push notification to the Application's patch.

    cd /work/main && .venv/bin/python bench/push_latency.py [--quick] [--pushes N]
        [--reseed] [--json PATH] [--workdir DIR]

Four processes, all on 127.0.0.1: this one (seeding, the Kubernetes API emulator in a
thread, the pushes, the clock), the local ``docker-registry`` with a ``notifications:
endpoints:`` entry pointing at the receiver (``type=distribution``, ``Authorization``
header = the secret, as ``docs/push-webhooks.md`` configures it), and the production
reconciler, ``image-updater run --enable-webhook --disable-tls`` (the real CLI: watch,
resync every hour, receiver with its default 250 ms coalescing window).

The emulator holds the workload of ``reconciler_workload.py`` (2,000 Applications over 300
repositories; ``--quick``: 50 over 10), the registry its seeded storage
(``reconciler_seed.py``, reused between runs). Once the reconciler's first resync has
brought every Application up to date, the benchmark makes ``--pushes`` pushes (200; 10 with
``--quick``), one at a time, round-robin over the semver repositories Applications use in a
fixed shuffled order: a manifest PUT of the next patch version above the repository's
newest, which every constraint the workload writes allows, so it makes every Application
using the repository outdated. Per push it records when the PUT returned ``201`` and when
each expected Application's patch landed in the emulator's store (a store subscription in
this process, stamped as the event arrives: no polling); the latency of a push is the time
to the last of its expected patches.

Checks (exit status 1 when one fails; timings are reported, never checked): the first
resync patches exactly the Applications that start outdated; every push is followed by
exactly one patch request and one spec change for each expected Application, naming the
pushed tag, and nothing else; nothing is written after the last push. Expected sets come
from the workload's own version rules, not from the code under test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import reconciler_seed
import reconciler_workload as wl
from prometheus_client.parser import text_string_to_metric_families
from reconciler_scale import machine

from devcluster.kubeapi import KubeAPI, run_in_thread, write_kubeconfig
from devcluster.kubeapi.store import StoreEvent
from devcluster.registry import LocalRegistry, NotifyingRegistry, free_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SECRET = "push-latency-bench-not-a-secret"  # noqa: S105 - a throw-away local value
QUICK = wl.Size(
    apps=50, repos=10, min_tags=6, max_tags=12, newest_repos=2, digest_repos=1, affected=2
)
PUSHES, QUICK_PUSHES = 200, 10
PUSH_TIMEOUT = 15.0  # seconds a push may take to reach all its Applications
QUIET = 1.5  # seconds without a cycle ending (the controller's change debounce is 1 s)
SETTLE = 2.0  # quiet seconds after the last push, to catch late or duplicate writes
P99_TARGET_MS = 1000.0
APPS = ("argoproj.io", "applications")


# -- the plan: pure, from the workload ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Push:
    repo: str
    tag: str
    expected: frozenset[str]  # Applications whose target moves to ``tag``


def _next_patch(repo: wl.Repo, step: int) -> str:
    """The ``step``-th tag above the newest: step 1 is the workload's own ``new_tag``."""
    version = wl.parse_version(repo.new_tag)
    assert version is not None, repo
    prefix = "v" if repo.new_tag.startswith("v") else ""
    return f"{prefix}{version[0]}.{version[1]}.{version[2] + step - 1}"


def plan(workload: wl.Workload, count: int, seed: int = 11) -> list[Push]:
    users: dict[str, list[tuple[wl.App, wl.AppImage]]] = {}
    for app in workload.apps:
        for image in app.images:
            users.setdefault(image.repo.name, []).append((app, image))
    repos = [r for r in workload.repos if r.kind == "semver" and r.name in users]
    random.Random(seed).shuffle(repos)
    pushed: dict[str, list[str]] = {}
    pushes = []
    for index in range(count):
        repo = repos[index % len(repos)]
        before = pushed.setdefault(repo.name, [])
        tag = _next_patch(repo, len(before) + 1)
        old = dataclasses.replace(repo, tags=(*repo.tags, *before), new_tag=tag)
        expected = frozenset(
            app.name
            for app, image in users[repo.name]
            if wl.target_tag(dataclasses.replace(image, repo=old), with_new=True)
            != wl.target_tag(dataclasses.replace(image, repo=old), with_new=False)
        )
        before.append(tag)
        pushes.append(Push(repo.name, tag, expected))
    return pushes


def _forget_pushes(regdir: Path, pushes: list[Push]) -> None:
    """Remove the tags the pushes make (registry stopped), even after a crashed run."""
    for push in pushes:
        tags = regdir / "data/docker/registry/v2/repositories" / push.repo / "_manifests/tags"
        shutil.rmtree(tags / push.tag, ignore_errors=True)


# -- observing the emulator -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Landed:
    at: float  # time.perf_counter() when the store event reached this process's loop
    name: str
    spec_changed: bool
    spec: str  # the new spec, as JSON text


class Patches:
    """Every Application change the emulator's store commits, in order, stamped."""

    def __init__(self, api: KubeAPI) -> None:
        self.api = api
        self.landed: list[Landed] = []
        self.changed = asyncio.Event()
        self._sub = api.store.subscribe(asyncio.get_running_loop())
        self._task = asyncio.create_task(self._read(), name="store-events")

    async def _read(self) -> None:
        while True:
            event: StoreEvent | None = await self._sub.queue.get()
            at = time.perf_counter()
            if event is None:
                return
            if event.key != APPS or event.type != "MODIFIED":
                continue
            old = (event.old or {}).get("spec")
            new = event.obj.get("spec")
            name = event.obj["metadata"]["name"]
            self.landed.append(Landed(at, name, old != new, json.dumps(new)))
            self.changed.set()

    async def until(self, names: frozenset[str], since: int, within: float) -> bool:
        """Wait until each of ``names`` has a spec change at or after ``landed[since]``."""
        deadline = time.perf_counter() + within
        while not names <= {p.name for p in self.landed[since:] if p.spec_changed}:
            self.changed.clear()
            left = deadline - time.perf_counter()
            if left <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=left)
        return True

    def patch_requests(self, start: int, end: int | None = None) -> Counter[str]:
        records = self.api.requests.records[start:end]
        return Counter(
            r.name
            for r in records
            if r.verb == "patch" and r.resource == "applications" and 200 <= r.status < 300
        )

    async def close(self) -> None:
        self.api.store.unsubscribe(self._sub)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


# -- the reconciler process -----------------------------------------------------------------


async def _metrics(session: aiohttp.ClientSession, url: str) -> dict[str, float]:
    """The reconciler's samples, keyed ``name{label=value,...}``."""
    async with session.get(url) as resp:
        text = await resp.text()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


def _sum(samples: dict[str, float], prefix: str) -> float:
    return sum(v for k, v in samples.items() if k.startswith(prefix))


async def _first_resync(
    session: aiohttp.ClientSession, url: str, proc: asyncio.subprocess.Process, within: float
) -> dict[str, float]:
    """Poll /metrics (setup only, not a measurement) until the first resync has ended."""
    deadline = time.perf_counter() + within
    while time.perf_counter() < deadline:
        if proc.returncode is not None:
            raise RuntimeError("the reconciler exited; see reconciler.log in the workdir")
        with contextlib.suppress(aiohttp.ClientError):
            samples = await _metrics(session, url)
            if _sum(samples, "image_updater_cycle_duration_seconds_count{trigger=resync") >= 1:
                return samples
        await asyncio.sleep(0.2)
    raise RuntimeError(f"no resync ended within {within:g} s; see reconciler.log")


def _cycles(samples: dict[str, float]) -> dict[str, float]:
    """Cycles ended so far, by trigger (resync, change, push, ...)."""
    prefix = "image_updater_cycle_duration_seconds_count{trigger="
    return {k[len(prefix) : -1]: v for k, v in samples.items() if k.startswith(prefix)}


async def _quiet(session: aiohttp.ClientSession, url: str, within: float) -> dict[str, float]:
    """Wait (setup only) until no cycle has ended for ``QUIET`` seconds: the first resync's
    own writes come back on the watch, and the change cycles they cause (after the
    controller's debounce) would otherwise hold the first pushes back."""
    deadline = time.perf_counter() + within
    seen, since = _cycles(await _metrics(session, url)), time.perf_counter()
    while time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
        now = _cycles(await _metrics(session, url))
        if now != seen:
            seen, since = now, time.perf_counter()
        elif time.perf_counter() - since >= QUIET:
            return seen
    raise RuntimeError(f"the reconciler did not go quiet within {within:g} s")


async def _start_reconciler(
    workdir: Path, kubeconfig: Path, registry: LocalRegistry, receiver: int, metrics: int
) -> asyncio.subprocess.Process:
    conf = workdir / "registries.conf"
    conf.write_text(
        f"registries:\n- name: bench\n  prefix: {registry.host}\n  api_url: {registry.url}\n"
    )
    args = [
        *("run", "--kubeconfig", str(kubeconfig), "--registries-conf-path", str(conf)),
        *("--configmap-dir", "", "--interval", "1h", "--no-leader-election"),
        *("--listen-address", "127.0.0.1", "--health-port", "0", "--metrics-port", str(metrics)),
        *("--enable-webhook", "--webhook-port", str(receiver), "--disable-tls"),
        *("--loglevel", "info"),
    ]
    env = {**os.environ, "DISTRIBUTION_WEBHOOK_SECRET": SECRET}
    with (workdir / "reconciler.log").open("ab") as log:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "imageupdater.cli",
            *args,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout=30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


# -- the run --------------------------------------------------------------------------------


async def _seed(regdir: Path, workload: wl.Workload, *, reseed: bool) -> dict[str, Any]:
    """Seed with a registry that notifies nobody (tens of thousands of pushes)."""
    if not reconciler_seed.prepare(regdir, workload, reseed=reseed):
        return {"reused": True}
    registry = LocalRegistry(regdir)
    registry.start()
    try:
        started = time.perf_counter()
        tags, requests = await reconciler_seed.seed(registry.url, workload)
        reconciler_seed.mark_seeded(regdir, workload)
        seconds = time.perf_counter() - started
    finally:
        registry.stop()
    return {"reused": False, "seconds": seconds, "tags": tags, "requests": requests}


async def _one_push(
    pusher: reconciler_seed.Pusher, patches: Patches, push: Push, repo: wl.Repo, number: int
) -> dict[str, Any]:
    # Every tag of a semver repository points at its seeded manifest: one PUT, no blobs.
    manifest = reconciler_seed.shared_manifest(repo)[2]
    since = len(patches.landed)
    sent = time.perf_counter()
    await pusher.manifest(push.repo, push.tag, manifest)
    accepted = time.perf_counter()
    reached = await patches.until(push.expected, since, PUSH_TIMEOUT)
    return {
        "number": number,
        "repo": push.repo,
        "tag": push.tag,
        "expected": sorted(push.expected),
        "put_ms": (accepted - sent) * 1000,
        "accepted": accepted,
        "since": since,
        "reached": reached,
    }


def _judge(rows: list[dict[str, Any]], patches: Patches) -> None:
    """Attribute each change the store commits to the push in flight, then judge each push
    (patch requests are counted over the whole run: the emulator logs a request only after
    answering it, so a request can be logged after the next push has started)."""
    for index, row in enumerate(rows):
        end = rows[index + 1]["since"] if index + 1 < len(rows) else len(patches.landed)
        landed = patches.landed[row["since"] : end]
        changes = Counter(p.name for p in landed if p.spec_changed)
        expected = set(row["expected"])
        firsts = {}
        for p in landed:
            if p.spec_changed and p.name in expected and p.name not in firsts:
                firsts[p.name] = p
        row["patched"] = sorted(changes)
        row["writes_not_on_spec"] = sum(1 for p in landed if not p.spec_changed)
        row["names_tag"] = all(row["tag"] in p.spec for p in firsts.values())
        row["exactly_once"] = (
            row["reached"]
            and dict(changes) == dict.fromkeys(expected, 1)
            and row["writes_not_on_spec"] == 0
            and row["names_tag"]
        )
        if firsts and row["reached"]:
            row["first_ms"] = (min(p.at for p in firsts.values()) - row["accepted"]) * 1000
            row["last_ms"] = (max(p.at for p in firsts.values()) - row["accepted"]) * 1000
        else:
            row["first_ms"] = row["last_ms"] = None
        del row["accepted"], row["since"]


def _percentile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least ``q`` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "p50": _percentile(values, 0.50),
        "p90": _percentile(values, 0.90),
        "p99": _percentile(values, 0.99),
        "max": max(values),
        "min": min(values),
        "mean": statistics.fmean(values),
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    size = QUICK if args.quick else wl.FULL
    workload = wl.build(size, reconciler_seed.followed_digest)
    repos = {r.name: r for r in workload.repos}
    pushes = plan(workload, args.pushes)
    workdir: Path = args.workdir
    regdir = workdir / "registry"
    _forget_pushes(regdir, pushes)
    seeding = await _seed(regdir, workload, reseed=args.reseed)
    load_before = os.getloadavg()
    receiver_port, metrics_port = free_port(), free_port()
    registry = NotifyingRegistry(
        regdir, f"http://127.0.0.1:{receiver_port}/webhook?type=distribution", secret=SECRET
    )
    registry.start()
    try:
        api = KubeAPI()
        for project in wl.PROJECTS:
            api.store.put(wl.app_project(project))
        for app in workload.apps:
            api.store.put(wl.application(app, registry.host))
        with run_in_thread(api) as running:
            kubeconfig = write_kubeconfig(workdir / "kubeconfig", running.url)
            patches = Patches(api)
            metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
            started = time.perf_counter()
            proc = await _start_reconciler(
                workdir, kubeconfig, registry, receiver_port, metrics_port
            )
            try:
                async with aiohttp.ClientSession() as session:
                    first = await _first_resync(session, metrics_url, proc, args.resync_timeout)
                    resync_wall = time.perf_counter() - started
                    settled = await _quiet(session, metrics_url, args.resync_timeout)
                    cold_end = len(api.requests.records)
                    cold_requests = patches.patch_requests(0, cold_end)
                    pusher = reconciler_seed.Pusher(registry.url, session)
                    rows = []
                    for number, push in enumerate(pushes):
                        rows.append(
                            await _one_push(pusher, patches, push, repos[push.repo], number)
                        )
                    await asyncio.sleep(SETTLE)
                    push_requests = patches.patch_requests(cold_end)
                    _judge(rows, patches)
                    last = await _metrics(session, metrics_url)
            finally:
                await _stop(proc)
                await patches.close()
    finally:
        registry.stop()
        _forget_pushes(regdir, pushes)
    load_after = os.getloadavg()
    cold = wl.expected_cold(workload)
    latencies = [r["last_ms"] for r in rows if r["last_ms"] is not None]
    firsts = [r["first_ms"] for r in rows if r["first_ms"] is not None]
    once = sum(1 for r in rows if r["exactly_once"])
    checks = {
        "the first resync (and its change cycles) patch exactly the outdated apps, once": (
            set(cold_requests) == cold and all(n == 1 for n in cold_requests.values())
        ),
        "every push has at least one Application to update": all(p.expected for p in pushes),
        "every push reaches all its Applications": all(r["reached"] for r in rows),
        "every push patches exactly its Applications, once each, with the pushed tag": once
        == len(rows),
        "one patch request per Application per push that expects it, none other": (
            push_requests == Counter(name for p in pushes for name in p.expected)
        ),
    }
    stats = _stats(latencies)
    per_push = [len(p.expected) for p in pushes]
    pushed_metric = "image_updater_push_to_update_seconds"
    return {
        "command": " ".join([".venv/bin/python", "bench/push_latency.py", *sys.argv[1:]]),
        "machine": machine(),
        "load_average": {"before": load_before, "after": load_after},
        "seeding": seeding,
        "workload": {
            "apps": len(workload.apps),
            "repos": len(workload.repos),
            "tags": sum(len(r.tags) for r in workload.repos),
            "repos_pushed": len({p.repo for p in pushes}),
            "apps_per_push": {
                "mean": statistics.fmean(per_push),
                "max": max(per_push),
                "min": min(per_push),
            },
            "coalescing_window_s": 0.25,
            "concurrency": 1,
        },
        "resync": {
            "expected_patches": len(cold),
            "patches": sum(cold_requests.values()),
            "wall_from_start_s": resync_wall,
            "cycle_s": _sum(first, "image_updater_cycle_duration_seconds_sum{trigger=resync"),
        },
        "pushes": len(rows),
        "push_patch_requests": sum(push_requests.values()),
        "patched_exactly_once": once,
        "latency_ms": stats,
        "first_patch_ms": _stats(firsts),
        "put_ms": _stats([r["put_ms"] for r in rows]),
        "reconciler_metrics": {
            "push_to_update_count": _sum(last, f"{pushed_metric}_count"),
            "push_to_update_sum_s": _sum(last, f"{pushed_metric}_sum"),
            "push_batches": {
                k.split("{", 1)[1].rstrip("}"): v
                for k, v in last.items()
                if k.startswith("image_updater_push_batches_total")
            },
            "cycles_before_pushes": settled,
            "cycles_during_pushes": {k: v - settled.get(k, 0.0) for k, v in _cycles(last).items()},
            "events_coalesced": _sum(last, "image_updater_push_events_coalesced_total"),
        },
        "rows": rows,
        "checks": checks,
        "targets": {
            f"p99 under {P99_TARGET_MS / 1000:g} s": bool(stats) and stats["p99"] < P99_TARGET_MS
        },
    }


def _loads(values: list[float]) -> str:
    return " ".join(f"{x:.2f}" for x in values)


def markdown(report: dict[str, Any]) -> str:
    lat, first, put = report["latency_ms"], report["first_patch_ms"], report["put_ms"]
    work, resync = report["workload"], report["resync"]

    def cells(s: dict[str, float]) -> str:
        return " | ".join(f"{s[k]:.0f}" if s else "-" for k in ("p50", "p90", "p99", "max"))

    lines = [
        "| push to … (ms) | p50 | p90 | p99 | max |",
        "| --- | --- | --- | --- | --- |",
        f"| last expected Application patched | {cells(lat)} |",
        f"| first Application patched | {cells(first)} |",
        f"| manifest PUT answered (registry) | {cells(put)} |",
        "",
        f"- pushes: {report['pushes']} (sequential, {work['repos_pushed']} repositories, "
        f"{work['apps_per_push']['mean']:.1f} Applications per push on average, "
        f"max {work['apps_per_push']['max']}); patched exactly once: "
        f"{report['patched_exactly_once']}/{report['pushes']}",
        f"- workload: {work['apps']} Applications, {work['repos']} repositories, "
        f"{work['tags']} tags; receiver coalescing window {work['coalescing_window_s']:g} s",
        f"- first resync: {resync['patches']} patches (expected {resync['expected_patches']}), "
        f"cycle {resync['cycle_s']:.1f} s, {resync['wall_from_start_s']:.1f} s from process start",
        f"- load average before/after: {_loads(report['load_average']['before'])}"
        f" / {_loads(report['load_average']['after'])}",
    ]
    lines += [f"- target {k}: {'met' if ok else 'MISSED'}" for k, ok in report["targets"].items()]
    lines += [f"- check {k}: {'ok' if ok else 'FAILED'}" for k, ok in report["checks"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="50 apps, 10 pushes (seconds)")
    parser.add_argument("--pushes", type=int, help="pushes to make (200; 10 with --quick)")
    parser.add_argument("--reseed", action="store_true", help="seed the registry again")
    parser.add_argument("--json", type=Path, help="write the full report here")
    parser.add_argument("--workdir", type=Path, help="registry storage and logs")
    parser.add_argument(
        "--resync-timeout", type=float, default=900.0, help="seconds for the first resync"
    )
    args = parser.parse_args(argv)
    if args.pushes is None:
        args.pushes = QUICK_PUSHES if args.quick else PUSHES
    if args.pushes < 1:
        parser.error(f"--pushes {args.pushes} is not valid; expected 1 or more")
    if args.workdir is None:
        args.workdir = HERE / "out" / ("push-latency-quick" if args.quick else "push-latency")
    args.workdir.mkdir(parents=True, exist_ok=True)
    report = asyncio.run(bench(args))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, sort_keys=True))
    print(json.dumps({k: report[k] for k in ("command", "machine", "workload", "seeding")}))
    print(markdown(report))
    return 0 if all(report["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
