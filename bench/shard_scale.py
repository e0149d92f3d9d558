"""Scale-out benchmark (issue 16): 10,000 Applications over 1,000 repositories, one replica
against three shards that share their registry cache through Redis.

    cd /work/main && .venv/bin/python bench/shard_scale.py [--quick] [--warm N]
        [--modes 1,3+redis,3] [--reseed] [--json PATH] [--workdir DIR]

Processes, all on 127.0.0.1: this one (seeding, the Kubernetes API emulator in a thread,
checks), the local ``docker-registry``, a private ``redis-server`` for the Redis mode, and
one ``reconciler_worker.py`` per replica (the production controller, cycle, registry client
and, with Redis, the shared cache). A sharded replica takes the Applications whose
``shard_of(namespace/name, 3)`` is its shard, as one holding that shard's Lease does (the
Leases themselves are measured by the tests, not here).

Modes (``--modes``): ``1`` one replica with every Application; ``3+redis`` three shards
sharing one Redis; ``3`` three shards, each with its own cache (the comparison: what Redis
saves). Per mode, a fresh emulator and fresh replicas; every replica runs each cycle at the
same moment:

* ``cold``: first cycle, empty caches; together the replicas patch exactly the Applications
  that start outdated, each once, each by the replica whose shard it is in;
* ``warm`` (``--warm`` times, 3): an interval later, nothing new in the registry. The
  replicas' clocks move past the tag-list and digest TTLs, and the Redis tag lists are
  deleted (what their 30 s expiry does an interval later; blobs are content-addressed and
  stay). No writes; with Redis, at most one tag list per repository across all replicas.

Per replica and cycle: wall time (Application list + cycle), CPU, registry requests by kind,
shared-cache lookups, patches, peak RSS. Reported: medians over the warm cycles, the slowest
replica's wall, the sum of registry requests over the replicas. Exit status 1 when a
correctness check fails; timings and RSS are reported against their targets, never checked.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import reconciler_seed
import reconciler_workload as wl
import redis.asyncio as aioredis
from reconciler_scale import TTL, WorkerProcess, machine

from devcluster.kubeapi import KubeAPI, run_in_thread, write_kubeconfig
from devcluster.redis import LocalRedis
from devcluster.registry import LocalRegistry
from reconciler.shards import shard_of

HERE = Path(__file__).resolve().parent
SCALE = wl.Size(
    apps=10_000,
    repos=1_000,
    min_tags=20,
    max_tags=60,
    newest_repos=80,
    digest_repos=50,
    affected=50,
)
QUICK = wl.Size(
    apps=90, repos=20, min_tags=6, max_tags=12, newest_repos=2, digest_repos=2, affected=2
)
MODES = {"1": (1, False), "3+redis": (3, True), "3": (3, False)}
WARM_WALL_TARGET = 10.0
RSS_TARGET_KIB = 400_000_000 // 1024
TAGS_PREFIX = "image-updater:v1:tags:"


async def _expire_shared_tag_lists(address: str) -> int:
    """Delete the shared tag lists, as their TTL does an interval later; returns how many."""
    host, port = address.rsplit(":", 1)
    client = aioredis.Redis(host=host, port=int(port))
    try:
        keys = [key async for key in client.scan_iter(match=TAGS_PREFIX + "*", count=1000)]
        if keys:
            await client.delete(*keys)
        return len(keys)
    finally:
        await client.aclose()


def _patched(api: KubeAPI, start: int) -> list[str]:
    return [
        r.name
        for r in api.requests.records[start:]
        if r.verb == "patch" and r.resource == "applications" and 200 <= r.status < 300
    ]


async def _cycle(
    workers: list[WorkerProcess], api: KubeAPI, label: str, advance: float
) -> dict[str, Any]:
    """One cycle on every replica at once; answers in shard order plus the writes seen."""
    start = len(api.requests.records)
    started = time.perf_counter()
    command = {"cmd": "cycle", "label": label, "advance": advance}
    answers = await asyncio.gather(*(w.send(command) for w in workers))
    wall = time.perf_counter() - started
    # The emulator logs a request after answering it; the cycles have ended, so have they.
    await asyncio.sleep(0.05)
    return {"label": label, "wall_all": wall, "replicas": answers, "patched": _patched(api, start)}


async def one_mode(
    mode: str, workload: wl.Workload, registry: LocalRegistry, workdir: Path, warm: int
) -> dict[str, Any]:
    count, with_redis = MODES[mode]
    modedir = workdir / f"mode-{mode}"
    modedir.mkdir(parents=True, exist_ok=True)
    redis = LocalRedis(modedir / "redis") if with_redis else None
    if redis is not None:
        redis.start()
    try:
        api = KubeAPI()
        for project in wl.PROJECTS:
            api.store.put(wl.app_project(project))
        for app in workload.apps:
            api.store.put(wl.application(app, registry.host))
        with run_in_thread(api) as running:
            kubeconfig = write_kubeconfig(modedir / "kubeconfig", running.url)
            workers: list[WorkerProcess] = []
            try:
                for index in range(count):
                    config: dict[str, Any] = {
                        "kubeconfig": str(kubeconfig),
                        "registry_url": registry.url,
                        "registry_host": registry.host,
                        "log": str(modedir / f"worker-{index}.log"),
                    }
                    if count > 1:
                        config["shard"] = [index, count]
                    if redis is not None:
                        config["redis"] = redis.address
                    workers.append(
                        await WorkerProcess.start(config, modedir / f"worker-{index}.stderr")
                    )
                cycles = [await _cycle(workers, api, "cold", 0.0)]
                for number in range(warm):
                    expired = await _expire_shared_tag_lists(redis.address) if redis else 0
                    cycle = await _cycle(workers, api, f"warm-{number}", TTL + 1)
                    cycle["shared_tag_lists_expired"] = expired
                    cycles.append(cycle)
            finally:
                for worker in workers:
                    await worker.stop()
    finally:
        if redis is not None:
            redis.stop()
    return {
        "mode": mode,
        "replicas": count,
        "redis": with_redis,
        "start_rss_kib": [w.ready["max_rss_kib"] for w in workers],
        "cycles": cycles,
        "load_average": os.getloadavg(),
    }


# -- judging and summing up -----------------------------------------------------------------


def _key(name: str) -> str:
    return f"{wl.NAMESPACE}/{name}"


def _listed_repos(workload: wl.Workload) -> int:
    """Repositories whose tag list a cycle needs (those followed by digest need a HEAD)."""
    used = {i.repo for app in workload.apps for i in app.images}
    return sum(1 for repo in used if repo.kind != "digest")


def _tags(cycle: dict[str, Any]) -> int:
    return sum(r["registry"].get("tags", 0) for r in cycle["replicas"])


def checks(workload: wl.Workload, runs: list[dict[str, Any]]) -> dict[str, bool]:
    cold_expected = wl.expected_cold(workload)
    listed = _listed_repos(workload)
    found: dict[str, bool] = {}
    for run in runs:
        mode, count = run["mode"], run["replicas"]
        cold, warms = run["cycles"][0], run["cycles"][1:]
        writes = Counter(cold["patched"])
        found[f"{mode}: cold patches exactly the outdated Applications, each once"] = set(
            writes
        ) == cold_expected and all(n == 1 for n in writes.values())
        found[f"{mode}: each replica takes its shard's Applications and patches its outdated"] = (
            all(
                r["result"]["applications"] == _in_shard(workload.apps, index, count)
                and r["result"]["patches"] == _in_shard(cold_expected, index, count)
                for index, r in enumerate(cold["replicas"])
            )
        )
        found[f"{mode}: warm cycles write nothing"] = all(not c["patched"] for c in warms)
        found[f"{mode}: no cycle reports an error"] = all(
            r["result"]["errors"] == 0 for c in run["cycles"] for r in c["replicas"]
        )
        if run["redis"]:
            found[f"{mode}: warm cycles list each repository at most once across replicas"] = all(
                _tags(c) <= listed for c in warms
            )
            found[f"{mode}: no Redis error"] = all(
                not any(k.startswith("error") for k in r["shared"])
                for c in run["cycles"]
                for r in c["replicas"]
            )
    return found


def _in_shard(items: Any, index: int, count: int) -> int:
    """How many of ``items`` (Applications or names) are in shard ``index`` of ``count``."""
    names = [item if isinstance(item, str) else item.name for item in items]
    return sum(1 for name in names if count == 1 or shard_of(_key(name), count) == index)


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


def summarize(workload: wl.Workload, run: dict[str, Any]) -> dict[str, Any]:
    cold, warms = run["cycles"][0], run["cycles"][1:]
    per_replica = []
    for index in range(run["replicas"]):
        rows = [c["replicas"][index] for c in warms]
        per_replica.append(
            {
                "warm_wall": _median([r["wall"] for r in rows]),
                "warm_walls": [round(r["wall"], 3) for r in rows],
                "warm_cpu": _median([r["cpu"] for r in rows]),
                "warm_registry": _median([sum(r["registry"].values()) for r in rows]),
                "warm_tags": _median([r["registry"].get("tags", 0) for r in rows]),
                "warm_shared": {
                    k: _median([r["shared"].get(k, 0) for r in rows])
                    for k in sorted({k for r in rows for k in r["shared"]})
                },
                "applications": cold["replicas"][index]["result"]["applications"],
                "cold_wall": cold["replicas"][index]["wall"],
                "cold_patches": cold["replicas"][index]["result"]["patches"],
                "max_rss_kib": max(c["replicas"][index]["max_rss_kib"] for c in run["cycles"]),
            }
        )
    kinds = sorted({k for c in warms for r in c["replicas"] for k in r["registry"]})
    return {
        "per_replica": per_replica,
        "cold_wall_all": cold["wall_all"],
        "cold_registry_total": sum(sum(r["registry"].values()) for r in cold["replicas"]),
        "warm_wall_all": _median([c["wall_all"] for c in warms]),
        "warm_wall_slowest": _median([max(r["wall"] for r in c["replicas"]) for c in warms]),
        "warm_registry": {
            k: _median([sum(r["registry"].get(k, 0) for r in c["replicas"]) for c in warms])
            for k in kinds
        },
        "warm_registry_total": _median(
            [sum(sum(r["registry"].values()) for r in c["replicas"]) for c in warms]
        ),
        "warm_tags_total": _median([_tags(c) for c in warms]),
        "listed_repos": _listed_repos(workload),
        "max_rss_kib": max(r["max_rss_kib"] for r in per_replica),
    }


def targets(summaries: dict[str, dict[str, Any]]) -> dict[str, bool]:
    found = {}
    for mode, s in summaries.items():
        found[f"{mode}: warm cycle under {WARM_WALL_TARGET:g} s per replica"] = (
            s["warm_wall_slowest"] < WARM_WALL_TARGET
        )
        found[f"{mode}: peak RSS under 400 MB per replica"] = s["max_rss_kib"] < RSS_TARGET_KIB
        if MODES[mode][1]:
            found[f"{mode}: one tag list per repository per interval across replicas"] = (
                s["warm_tags_total"] <= s["listed_repos"]
            )
    return found


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "| mode | replica | Applications | cold wall s | warm wall s (median; runs) | warm CPU s"
        " | warm registry requests | warm tag lists | shared-cache lookups (warm) | peak RSS MiB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for mode, s in report["summary"].items():
        for index, r in enumerate(s["per_replica"]):
            shared = ", ".join(f"{k} {v:g}" for k, v in r["warm_shared"].items()) or "-"
            lines.append(
                f"| {mode} | {index} | {r['applications']} | {r['cold_wall']:.2f} "
                f"| {r['warm_wall']:.2f} ({', '.join(map(str, r['warm_walls']))}) "
                f"| {r['warm_cpu']:.2f} | {r['warm_registry']:g} | {r['warm_tags']:g} "
                f"| {shared} | {r['max_rss_kib'] / 1024:.0f} |"
            )
    lines += [
        "",
        "| mode | warm wall, slowest replica s | warm registry requests, all replicas"
        " | tag lists, all replicas (repositories listed) | cold wall, all s |",
        "| --- | --- | --- | --- | --- |",
    ]
    for mode, s in report["summary"].items():
        kinds = ", ".join(f"{k} {v:g}" for k, v in s["warm_registry"].items())
        lines.append(
            f"| {mode} | {s['warm_wall_slowest']:.2f} | {s['warm_registry_total']:g}: {kinds} "
            f"| {s['warm_tags_total']:g} ({s['listed_repos']}) | {s['cold_wall_all']:.2f} |"
        )
    lines.append("")
    loads = ", ".join(f"{r['mode']} {r['load_average'][0]:.2f}" for r in report["runs"])
    lines.append(f"- 1-min load average after each mode: {loads}")
    lines += [f"- target {k}: {'met' if ok else 'MISSED'}" for k, ok in report["targets"].items()]
    lines += [f"- check {k}: {'ok' if ok else 'FAILED'}" for k, ok in report["checks"].items()]
    return "\n".join(lines)


async def _seeded_registry(
    regdir: Path, workload: wl.Workload, *, reseed: bool
) -> tuple[LocalRegistry, dict[str, Any]]:
    needs_seed = reconciler_seed.prepare(regdir, workload, reseed=reseed)
    registry = LocalRegistry(regdir)
    registry.start()
    seeding: dict[str, Any] = {"reused": not needs_seed}
    if needs_seed:
        try:
            started = time.perf_counter()
            tags, requests = await reconciler_seed.seed(registry.url, workload)
            reconciler_seed.mark_seeded(regdir, workload)
        except BaseException:
            registry.stop()
            raise
        seeding.update(seconds=time.perf_counter() - started, tags=tags, requests=requests)
    return registry, seeding


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    workload = wl.build(QUICK if args.quick else SCALE, reconciler_seed.followed_digest)
    workdir: Path = args.workdir
    registry, seeding = await _seeded_registry(workdir / "registry", workload, reseed=args.reseed)
    runs = []
    try:
        for mode in args.modes:
            runs.append(await one_mode(mode, workload, registry, workdir, args.warm))
    finally:
        registry.stop()
    summaries = {run["mode"]: summarize(workload, run) for run in runs}
    found = checks(workload, runs)
    return {
        "command": " ".join([".venv/bin/python", "bench/shard_scale.py", *sys.argv[1:]]),
        "machine": machine(),
        "seeding": seeding,
        "workload": {
            "apps": len(workload.apps),
            "repos": len(workload.repos),
            "repos_used": len({i.repo.name for a in workload.apps for i in a.images}),
            "listed_repos": _listed_repos(workload),
            "app_images": sum(len(a.images) for a in workload.apps),
            "tags": sum(len(r.tags) for r in workload.repos),
            "cold_expected": len(wl.expected_cold(workload)),
        },
        "runs": runs,
        "summary": summaries,
        "checks": found,
        "targets": targets(summaries),
    }


def _modes(value: str) -> list[str]:
    modes = [m.strip() for m in value.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if not modes or unknown:
        raise argparse.ArgumentTypeError(
            f"{value!r}: expected a comma-separated list of {', '.join(MODES)}"
        )
    return modes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="90 apps over 20 repositories")
    parser.add_argument("--warm", type=int, default=3, help="warm cycles per mode (3)")
    parser.add_argument(
        "--modes", type=_modes, default=list(MODES), help="comma-separated: 1, 3+redis, 3"
    )
    parser.add_argument("--reseed", action="store_true", help="seed the registry again")
    parser.add_argument("--json", type=Path, help="write the full report here")
    parser.add_argument("--workdir", type=Path, help="registry storage and logs")
    args = parser.parse_args(argv)
    if args.warm < 1:
        parser.error(f"--warm {args.warm} is not valid; expected 1 or more")
    if args.workdir is None:
        args.workdir = HERE / "out" / ("shard-scale-quick" if args.quick else "shard-scale")
    args.workdir.mkdir(parents=True, exist_ok=True)
    report = asyncio.run(bench(args))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, sort_keys=True))
    print(json.dumps({k: report[k] for k in ("command", "machine", "workload", "seeding")}))
    print(markdown(report))
    return 0 if all(report["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
