"""Admission-webhook load benchmark (issue 4): sustained AdmissionReview load over TLS with
keep-alive against the real ``image-updater admission`` process.

Scenarios, each at every connection count and repeated (medians are reported):

* ``validate`` — the validating webhook's traffic mix (status UPDATEs, CREATEs, denials);
* ``mutate`` — warm mutation: CREATE reviews whose images resolve against a seeded local
  ``docker-registry`` after one warm-up request per body;

each both *saturated* (wrk as fast as the server answers; gives throughput, latency is
queueing) and *paced* at a fixed rate (gives latency at that load). Finally *cold*
mutation: a registry that hangs (the fault registry's ``slow``) and ``--resolve-timeout``;
we record how far past the deadline the answers come, idle, in a burst, and under load.

Server CPU comes from ``/proc/<pid>/stat`` (utime+stime deltas, summed over the supervisor
and its workers with ``--workers``), peak RSS from VmHWM (reset before each run, summed the
same way), wrk's CPU from ``RUSAGE_CHILDREN``. The seeded registry lives in
``<out>/registry`` with a stamp file; later runs reuse it (``--reseed`` forces seeding).

``--side-by-side`` (issue 13) measures only validation, on servers that all run at once: one
worker, two workers (``--workers 2``) and, with ``--server-tree``, that tree's single process.
Each repeat measures every server in turn, paced at ``--validate-rate`` and saturated, so
background load on a shared machine falls on all of them alike; the report gives each one's
medians and the two-worker to one-worker ratio of saturated throughput (per repeat and of the
medians).

    cd /work/main && .venv/bin/python bench/webhook_load.py [--quick] [--out DIR] [--json PATH]
    cd /work/main && .venv/bin/python bench/webhook_load.py --side-by-side [--server-tree DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
from _loadgen import (
    WRK_INSTALL,
    ProcStats,
    ProcTree,
    Server,
    WrkResult,
    issue_certs,
    run_wrk,
    webhook,
    wrk_binary,
)
from _webhook_reviews import mutation_bodies, update_policies, validation_bodies, write_bodies

from devcluster.faultregistry import FaultRegistry
from devcluster.kubeapi import KubeAPI, run_in_thread, write_kubeconfig
from devcluster.kubeapi.server import DEFAULT_CRDS
from devcluster.registry import BINARY, LocalRegistry
from devcluster.seeder import ImageSeeder, build_image

ROOT = Path(__file__).resolve().parents[1]
SEED_VERSION = 1
CREATED = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Profile:
    repos: int  # seeded repositories for warm mutation
    bodies: int  # distinct reviews per scenario
    duration: float  # seconds per measured wrk run
    repeats: int
    connections: tuple[int, ...]
    validate_rate: float  # paced req/s
    mutate_rate: float
    resolve_timeout: float  # cold-mutation deadline, seconds
    hang: float  # how long the fault registry stalls each answer
    cold_sequential: int
    cold_burst: int


FULL = Profile(8, 200, 10.0, 3, (50, 200), 2000.0, 200.0, 2.0, 15.0, 20, 50)
QUICK = Profile(3, 12, 1.0, 1, (4, 16), 100.0, 50.0, 0.5, 3.0, 2, 3)


def tags() -> list[str]:
    """A realistic tag list: releases, a few with ``v``, release candidates, and noise."""
    out = [f"1.{minor}.{patch}" for minor in range(10) for patch in range(6)]
    out += [f"v2.0.{patch}" for patch in range(4)]
    out += [f"1.{minor}.0-rc.1" for minor in range(10)]
    out += ["latest", "main", "stable"] + [f"sha-{i * 7919:07x}" for i in range(1, 16)]
    return out


# -- set-up -----------------------------------------------------------------------------------


async def _seed(registry: LocalRegistry, repos: Sequence[str], names: Sequence[str]) -> None:
    """One image per repository, then its manifest PUT under every other tag, 32 in flight:
    semver needs no distinct creation dates, so blobs and configs are shared."""
    gate = asyncio.Semaphore(32)
    async with aiohttp.ClientSession() as session:
        seeder = ImageSeeder(registry.url, session)

        async def put(repo: str, tag: str, body: bytes, media_type: str) -> None:
            async with (
                gate,
                session.put(
                    f"{registry.url}/v2/{repo}/manifests/{tag}",
                    data=body,
                    headers={"Content-Type": media_type},
                ) as resp,
            ):
                if resp.status != 201:
                    raise RuntimeError(f"seeding {repo}:{tag} answered {resp.status}")

        for repo in repos:
            await seeder.push(repo, names[0], created=CREATED)
        jobs = []
        for repo in repos:
            top = build_image(repo, names[0], created=CREATED).top
            jobs += [put(repo, tag, top.data, top.media_type) for tag in names[1:]]
        await asyncio.gather(*jobs)


def seed(registry: LocalRegistry, repos: Sequence[str], *, reseed: bool) -> dict[str, Any]:
    stamp = registry.workdir / "seeded.json"
    names = tags()
    wanted = {"version": SEED_VERSION, "repos": list(repos), "tags": names}
    if not reseed and stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return {"reused": True, "tags": len(repos) * len(names), "seconds": 0.0}
    started = time.perf_counter()
    asyncio.run(_seed(registry, repos, names))
    stamp.write_text(json.dumps(wanted))
    seconds = round(time.perf_counter() - started, 2)
    return {"reused": False, "tags": len(repos) * len(names), "seconds": seconds}


def registries_conf(path: Path, host: str, url: str) -> Path:
    path.write_text(f"registries:\n- name: bench\n  prefix: {host}\n  api_url: {url}\n")
    return path


# -- measuring --------------------------------------------------------------------------------


def measure(
    server: Server, endpoint: str, bodies: Path, work: Path, *, conns: int, rate: float, p: Profile
) -> dict[str, Any]:
    stats = ProcTree(server.pid)
    stats.reset_peak()
    busy0, cpu0, t0 = ProcStats.machine_busy_seconds(), stats.cpu_seconds(), time.monotonic()
    result: WrkResult = run_wrk(
        f"{server.url}/{endpoint}", bodies, work, connections=conns, duration=p.duration, rate=rate
    )
    busy1, cpu1, t1 = ProcStats.machine_busy_seconds(), stats.cpu_seconds(), time.monotonic()
    # What neither the server nor wrk used: other work on this shared machine, which
    # competes for the two cores and is why a run can be slow.
    others = (busy1 - busy0) - (cpu1 - cpu0) - result.client_cpu_s
    return {
        "requests": result.requests,
        "errors": sum(result.errors.values()),
        "rps": round(result.rps, 1),
        "server_cpu_ms_per_review": round(1000 * (cpu1 - cpu0) / max(1, result.requests), 3),
        "p50_ms": round(result.p50_ms, 3),
        "p99_ms": round(result.p99_ms, 3),
        "p999_ms": round(result.p999_ms, 3),
        "max_ms": round(result.max_ms, 3),
        "server_cpu_pct": round(100 * (cpu1 - cpu0) / (t1 - t0), 1),
        "server_peak_rss_mib": round(stats.peak_rss_kib() / 1024, 1),
        "wrk_cpu_pct": round(result.client_cpu_pct, 1),
        "others_cpu_pct": round(100 * others / (t1 - t0), 1),
    }


def scenario(
    server: Server, endpoint: str, bodies: Path, work: Path, p: Profile, *, conns: int, rate: float
) -> dict[str, Any]:
    # A short unmeasured run opens the connections and settles the allocator.
    run_wrk(f"{server.url}/{endpoint}", bodies, work, connections=conns, duration=1.0, rate=rate)
    runs = [
        measure(server, endpoint, bodies, work, conns=conns, rate=rate, p=p)
        for _ in range(p.repeats)
    ]
    median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    load = "saturated" if rate == 0 else f"paced {rate:g}/s"
    print(
        f"  {endpoint:8} c={conns:<4} {load:14} {median['rps']:8.0f} req/s  "
        f"p50 {median['p50_ms']:.2f}  p99 {median['p99_ms']:.2f}  p99.9 {median['p999_ms']:.2f} ms"
        f"  cpu {median['server_cpu_pct']:.0f}% ({median['server_cpu_ms_per_review']:.2f} ms each)"
        f"  rss {median['server_peak_rss_mib']:.0f} MiB"
        f"  wrk {median['wrk_cpu_pct']:.0f}%  others {median['others_cpu_pct']:.0f}%",
        flush=True,
    )
    return {
        "endpoint": endpoint,
        "connections": conns,
        "rate": rate,
        "runs": runs,
        "median": median,
    }


def sanity(server: Server, endpoint: str, bodies: Sequence[bytes]) -> dict[str, int]:
    """Each body once: proves the answers are what the load assumes, and warms the caches."""
    answers = asyncio.run(server.post_all(endpoint, bodies))
    return {
        "reviews": len(answers),
        "allowed": sum(1 for _, a in answers if a["allowed"]),
        "denied": sum(1 for _, a in answers if not a["allowed"]),
        "patched": sum(1 for _, a in answers if a.get("patch")),
    }


def cold(
    out: Path, certs: Path, p: Profile, validate_file: Path, tree: Path | None
) -> dict[str, Any]:
    """Mutations whose registry hangs: how far past ``resolve_timeout`` do answers come?"""
    # When the webhook stops, the fault registry's stalled handlers find their clients gone;
    # aiohttp logs each as an error, which is expected here and only noise.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    fault = FaultRegistry()
    url = fault.start()
    host = url.removeprefix("http://")
    count = p.cold_sequential * 2 + p.cold_burst
    repos = [f"{host}/cold/svc-{i}" for i in range(count)]
    for repo in repos:
        fault.add_tags(repo.split("/", 1)[1], ["1.4.0", "1.4.1"])
    fault.slow(p.hang)
    bodies = [mutation_bodies([repo], 1, seed=i)[0] for i, repo in enumerate(repos)]
    conf = registries_conf(out / "registries-cold.conf", host, url)
    seq, burst = p.cold_sequential, p.cold_burst
    try:
        with webhook(out, certs, conf, "cold", p.resolve_timeout, tree) as server:
            phases = {"idle": asyncio.run(server.post_all("mutate", bodies[:seq]))}
            phases["burst"] = asyncio.run(
                server.post_all("mutate", bodies[seq : seq + burst], concurrent=True)
            )
            # Under validation load paced at the target rate, from a second process.
            loader = threading.Thread(
                target=run_wrk,
                args=(f"{server.url}/validate", validate_file, out),
                kwargs={
                    "connections": p.connections[0],
                    "duration": seq * (p.resolve_timeout + 0.5) + 2,
                    "rate": p.validate_rate,
                },
            )
            loader.start()
            time.sleep(1.0)
            phases["under_load"] = asyncio.run(server.post_all("mutate", bodies[seq + burst :]))
            loader.join()
    finally:
        fault.stop()
    result: dict[str, Any] = {"resolve_timeout_s": p.resolve_timeout, "hang_s": p.hang}
    for phase, answers in phases.items():
        over = [1000 * (seconds - p.resolve_timeout) for seconds, _ in answers]
        result[phase] = {
            "reviews": len(answers),
            "deadline_warnings": sum(
                1 for _, a in answers if any("not resolved within" in w for w in a["warnings"])
            ),
            "overshoot_ms_p50": round(statistics.median(over), 1),
            "overshoot_ms_max": round(max(over), 1),
        }
        print(
            f"  cold {phase:10} overshoot p50 {statistics.median(over):.1f} ms, "
            f"max {max(over):.1f} ms over {p.resolve_timeout:g}s",
            flush=True,
        )
    return result


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    workers: int
    tree: Path | None = None
    kubeconfig: Path | None = None


def variants(tree: Path | None, policies: int, kubeconfig: Path | None) -> list[Variant]:
    """Without policies: one worker, two workers (and ``tree``'s server). With ``policies``:
    one worker judging by none, then one and two workers judging by all of them."""
    if policies:
        return [
            Variant("1 worker, no policies", 1),
            Variant(f"1 worker, {policies} policies", 1, kubeconfig=kubeconfig),
            Variant(f"2 workers, {policies} policies", 2, kubeconfig=kubeconfig),
        ]
    out = [Variant("1 worker", 1), Variant("2 workers", 2)]
    if tree is not None:
        out.append(Variant(f"{tree} (1 process)", 1, tree))
    return out


@contextlib.contextmanager
def policy_cluster(out: Path, count: int) -> Iterator[Path | None]:
    """The API emulator holding ``count`` matching update policies; yields its kubeconfig
    (None, and no emulator, when ``count`` is 0)."""
    if not count:
        yield None
        return
    api = KubeAPI(crds=(DEFAULT_CRDS, ROOT / "manifests" / "crds"))
    for policy in update_policies(count):
        api.store.put(policy)
    with run_in_thread(api) as running:
        yield write_kubeconfig(out / "kubeconfig", running.url)


def side_by_side(
    out: Path, certs: Path, p: Profile, tree: Path | None, *, policies: int = 0
) -> dict[str, Any]:
    """Validation on each of :func:`variants`, measured in turn."""
    conns = p.connections[0]
    validate_file = write_bodies(out / "validate.jsonl", validation_bodies(p.bodies))
    loads = (("paced", p.validate_rate), ("saturated", 0.0))
    result: dict[str, Any] = {"connections": conns, "policies": policies, "variants": {}}
    with ExitStack() as stack:
        kubeconfig = stack.enter_context(policy_cluster(out, policies))
        chosen = variants(tree, policies, kubeconfig)
        servers = {
            v.name: stack.enter_context(
                webhook(
                    out,
                    certs,
                    None,
                    f"sbs-{i}",
                    p.resolve_timeout,
                    v.tree,
                    workers=v.workers,
                    kubeconfig=v.kubeconfig,
                )
            )
            for i, v in enumerate(chosen)
        }
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {
            name: {load: [] for load, _ in loads} for name in servers
        }
        for v in chosen:
            server = servers[v.name]
            result["variants"][v.name] = {
                "workers": v.workers,
                "sanity": sanity(server, "validate", validation_bodies(p.bodies)),
            }
            # Warm every worker's caches (the sanity pass used one connection, so one worker).
            for _, rate in loads:
                run_wrk(
                    f"{server.url}/validate",
                    validate_file,
                    out,
                    connections=conns,
                    duration=2.0,
                    rate=rate,
                )
        for repeat in range(p.repeats):
            for name, server in servers.items():
                for load, rate in loads:
                    run = measure(
                        server, "validate", validate_file, out, conns=conns, rate=rate, p=p
                    )
                    runs[name][load].append(run)
                    print(
                        f"  #{repeat + 1} {name:24} {load:9} {run['rps']:8.0f} req/s  "
                        f"p50 {run['p50_ms']:.2f}  p99 {run['p99_ms']:.2f}  "
                        f"p99.9 {run['p999_ms']:.2f} ms  cpu {run['server_cpu_pct']:.0f}% "
                        f"({run['server_cpu_ms_per_review']:.3f} ms each)  "
                        f"wrk {run['wrk_cpu_pct']:.0f}%  others {run['others_cpu_pct']:.0f}%",
                        flush=True,
                    )
    for name, by_load in runs.items():
        for load, measured in by_load.items():
            median = {key: statistics.median(run[key] for run in measured) for key in measured[0]}
            result["variants"][name][load] = {"runs": measured, "median": median}
    # Two workers against one (judging by the same policies, if any).
    one, two = (result["variants"][v.name] for v in chosen[-2:])
    per_repeat = [
        round(b["rps"] / a["rps"], 3)
        for a, b in zip(one["saturated"]["runs"], two["saturated"]["runs"], strict=True)
    ]
    result["saturated_ratio_2_to_1"] = {
        "of_medians": round(
            two["saturated"]["median"]["rps"] / one["saturated"]["median"]["rps"], 3
        ),
        "per_repeat": per_repeat,
    }
    print(f"saturated throughput, 2 workers / 1 worker: {result['saturated_ratio_2_to_1']}")
    if policies:
        bare = result["variants"][chosen[0].name]["saturated"]["median"]
        judged = one["saturated"]["median"]
        ratio = round(judged["server_cpu_ms_per_review"] / bare["server_cpu_ms_per_review"], 3)
        result["cpu_per_review_with_policies_to_without"] = ratio
        print(f"CPU per review, {policies} policies / none: {ratio}")
    return result


def machine() -> dict[str, str]:
    def sh(*cmd: str) -> str:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()

    return {
        "nproc": sh("nproc"),
        "memory": sh("free", "-h").splitlines()[1].split()[1],
        "python": platform.python_version(),
        "date": sh("date", "-u"),
        "wrk": sh("wrk", "--version").splitlines()[0] if wrk_binary() else "",
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tiny run (seconds) for the test")
    parser.add_argument("--out", type=Path, help="work directory (default bench/out/webhook)")
    parser.add_argument("--json", type=Path, help="results file (default <out>/results.json)")
    parser.add_argument("--reseed", action="store_true", help="seed the registry again")
    parser.add_argument(
        "--server-tree", type=Path, help="run the webhook from this source tree (a baseline)"
    )
    parser.add_argument(
        "--connections",
        type=lambda text: tuple(int(n) for n in text.split(",")),
        help="comma-separated connection counts (default 50,200; quick 4,16)",
    )
    parser.add_argument("--skip-cold", action="store_true", help="leave out cold mutation")
    parser.add_argument(
        "--validate-rate",
        type=float,
        help="paced validation rate, req/s (default 2000; lower it on a machine that "
        "saturates near it, where p99 measures queueing)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="serve the scenarios with this many workers"
    )
    parser.add_argument(
        "--side-by-side",
        action="store_true",
        help="validation only: one worker against two (and --server-tree's server), in turn",
    )
    parser.add_argument(
        "--policies",
        type=int,
        default=0,
        help="with --side-by-side: judge by this many matching update policies (from the API "
        "emulator), against one worker judging by none",
    )
    args = parser.parse_args(argv)
    for tool, hint in (("wrk", WRK_INSTALL), (BINARY, f"apt-get install -y {BINARY}")):
        if shutil.which(tool) is None:
            print(f"webhook_load: {tool} is missing; {hint}", file=sys.stderr)
            return 2
    p = QUICK if args.quick else FULL
    if args.connections:
        p = replace(p, connections=args.connections)
    if args.validate_rate:
        p = replace(p, validate_rate=args.validate_rate)
    out = args.out or ROOT / "bench" / "out" / ("webhook-quick" if args.quick else "webhook")
    out.mkdir(parents=True, exist_ok=True)
    certs = issue_certs(out / "certs")
    report: dict[str, Any] = {
        "command": " ".join([".venv/bin/python", "bench/webhook_load.py", *(argv or sys.argv[1:])]),
        "machine": machine(),
        "profile": asdict(p),
    }
    if args.side_by_side:
        if shutil.which("wrk") is None:
            print(f"webhook_load: wrk is missing; {WRK_INSTALL}", file=sys.stderr)
            return 2
        report["side_by_side"] = side_by_side(
            out, certs, p, args.server_tree, policies=args.policies
        )
        name = f"side-by-side-{args.policies}-policies" if args.policies else "side-by-side"
        destination = args.json or out / f"{name}.json"
        destination.write_text(json.dumps(report, indent=2))
        print(f"results: {destination}")
        return 0
    validate_file = write_bodies(out / "validate.jsonl", validation_bodies(p.bodies))
    with LocalRegistry(out / "registry") as registry:
        names = [f"bench/svc-{i}" for i in range(p.repos)]
        report["seed"] = seed(registry, names, reseed=args.reseed)
        print(f"registry {registry.url}: {report['seed']}", flush=True)
        conf = registries_conf(out / "registries.conf", registry.host, registry.url)
        repos = [f"{registry.host}/{name}" for name in names]
        mutate = mutation_bodies(repos, p.bodies)
        mutate_file = write_bodies(out / "mutate.jsonl", mutate)
        with webhook(
            out, certs, conf, "warm", p.resolve_timeout, args.server_tree, workers=args.workers
        ) as server:
            report["sanity"] = {
                "validate": sanity(server, "validate", validation_bodies(p.bodies)),
                "mutate": sanity(server, "mutate", mutate),
            }
            print(f"sanity: {report['sanity']}", flush=True)
            report["scenarios"] = [
                scenario(server, endpoint, file, out, p, conns=conns, rate=rate)
                for endpoint, file, paced in (
                    ("validate", validate_file, p.validate_rate),
                    ("mutate", mutate_file, p.mutate_rate),
                )
                for conns in p.connections
                for rate in (0.0, paced)
            ]
    if not args.skip_cold:
        report["cold"] = cold(out, certs, p, validate_file, args.server_tree)
    destination = args.json or out / "results.json"
    destination.write_text(json.dumps(report, indent=2))
    print(f"results: {destination}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
