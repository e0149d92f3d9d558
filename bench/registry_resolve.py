"""Benchmark (issue 2): resolving image policies against a seeded local registry.

Seeds Debian's ``docker-registry`` with 200 repositories × 300 tags (semver, date and
sha-like tags, every fifth repository multi-arch; reused from ``bench/out/`` on later runs)
and resolves 1,000 image policies over them three times in one process, sharing one
registry client as ``imageupdater.service.ResolverService`` does:

* ``cold``: a fresh client;
* ``warm``: the same client immediately after (inside the 30 s tag-list TTL);
* ``next_cycle``: the same client with its clock advanced past every TTL, as the next
  reconcile cycle sees it.

Each run happens in a fresh child process (so peak RSS is the resolver's alone); the
parent repeats it ``--runs`` times against one registry process and reports medians, the
requests of each pass by kind, the targets, and upstream's documented request counts for
the same workload. Usage::

    cd /work/main && .venv/bin/python bench/registry_resolve.py [--quick] [--reseed]
        [--runs N] [--json PATH] [--out DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import logging
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from _registry_seed import SeedPlan, ensure_seeded
from _registry_workload import Spec, expected, make_specs, our_floors, to_policy, upstream_model

from devcluster.registry import LocalRegistry
from imageupdater.credential_sources import CredentialCache, CredentialSource
from imageupdater.errors import ImageUpdaterError
from imageupdater.registries_conf import RegistriesConf
from imageupdater.registry import ClientSettings, CountersSnapshot, RegistryClient, SystemClock
from imageupdater.resolver import resolve

PASSES = ("cold", "warm", "next_cycle")
KINDS = ("ping", "token", "tags", "manifest_get", "manifest_head", "blob")
FULL = {"plan": SeedPlan(200, 100), "policies": 1000, "runs": 3}
QUICK = {"plan": SeedPlan(4, 10, multiarch_every=2), "policies": 24, "runs": 2}
WARM_BUDGET_S = 2.0


class SteppedClock(SystemClock):
    """The real clock plus an offset the benchmark advances to expire every TTL at once."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


# -- one run (child process) -----------------------------------------------------------------


def _requests(before: CountersSnapshot, after: CountersSnapshot) -> dict[str, int]:
    """Requests per kind made between two snapshots (every status class; ``non_2xx`` apart)."""
    out = dict.fromkeys(KINDS, 0) | {"non_2xx": 0}
    for registry, kinds in after["requests"].items():
        for kind, classes in kinds.items():
            for klass, n in classes.items():
                done = n - before["requests"].get(registry, {}).get(kind, {}).get(klass, 0)
                out[kind] = out.get(kind, 0) + done
                if klass != "2xx":
                    out["non_2xx"] += done
    return out


def _cache(before: CountersSnapshot, after: CountersSnapshot) -> dict[str, dict[str, int]]:
    return {
        name: {k: n - before["cache"].get(name, {}).get(k, 0) for k, n in outcomes.items()}
        for name, outcomes in after["cache"].items()
    }


async def _one_pass(
    client: RegistryClient,
    conf: RegistriesConf,
    plan: SeedPlan,
    specs: Sequence[Spec],
    host: str,
    concurrency: int,
) -> dict[str, object]:
    gate = asyncio.Semaphore(concurrency)
    errors: list[str] = []
    mismatches: list[str] = []
    resolved = 0

    async def one(spec: Spec) -> None:
        nonlocal resolved
        policy = to_policy(plan, spec, host)
        async with gate:
            try:
                result = await resolve(policy, client=client, conf=conf)
            except ImageUpdaterError as exc:
                errors.append(f"{policy.image}: {exc}")
                return
        want_tag, want_digest = expected(plan, spec)
        resolved += result.tag is not None
        if result.tag != want_tag or (want_digest is not None and result.digest != want_digest):
            mismatches.append(
                f"{policy.image} ({spec.kind}): chose {result.tag} {result.digest}, "
                f"expected {want_tag} {want_digest}"
            )

    await asyncio.gather(*(one(s) for s in specs))
    return {
        "resolved": resolved,
        "errors": len(errors),
        "mismatches": len(mismatches),
        "examples": (errors + mismatches)[:5],
    }


async def measure(
    url: str,
    plan: SeedPlan,
    specs: Sequence[Spec],
    concurrency: int,
    *,
    profile_dir: Path | None = None,
) -> dict[str, object]:
    host = url.removeprefix("http://")
    conf = RegistriesConf.parse(
        f"registries:\n- name: bench\n  prefix: {host}\n  api_url: {url}\n", source="bench"
    )
    settings = ClientSettings(tls_cert_dir=None)
    clock = SteppedClock()
    # What ResolverService builds, plus a clock we can advance (the service takes none).
    credentials = CredentialCache(CredentialSource(secrets=None, environ={}))
    passes: dict[str, object] = {}
    async with RegistryClient(settings=settings, credentials=credentials, clock=clock) as client:
        for name in PASSES:
            if name == "next_cycle":
                clock.advance(max(settings.tag_list_ttl, settings.digest_ttl) + 1.0)
            before = client.counters.snapshot()
            started = time.perf_counter()
            profiler = cProfile.Profile() if profile_dir else None
            if profiler:
                profiler.enable()
            outcome = await _one_pass(client, conf, plan, specs, host, concurrency)
            if profiler and profile_dir:
                profiler.disable()
                profiler.dump_stats(profile_dir / f"{name}.prof")
            wall = time.perf_counter() - started
            after = client.counters.snapshot()
            passes[name] = {
                "wall_s": round(wall, 4),
                "requests": _requests(before, after),
                "cache": _cache(before, after),
                "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                **outcome,
            }
    return passes


def _child(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    workload = QUICK if args.quick else FULL
    plan = workload["plan"]
    assert isinstance(plan, SeedPlan)
    specs = make_specs(plan, args.policies or int(str(workload["policies"])))
    rss_at_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    passes = asyncio.run(
        measure(args.child, plan, specs, args.policy_concurrency, profile_dir=args.profile)
    )
    json.dump({"rss_at_start_kib": rss_at_start, "passes": passes}, sys.stdout)
    return 0


# -- the parent: seed, serve, repeat, summarise ------------------------------------------------


def _run_child(url: str, args: argparse.Namespace) -> dict[str, object]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", url]
    command += ["--policy-concurrency", str(args.policy_concurrency)]
    if args.profile:
        command += ["--profile", str(args.profile)]
    if args.policies:
        command += ["--policies", str(args.policies)]
    if args.quick:
        command.append("--quick")
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise SystemExit(f"measuring run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _pass_of(run: Mapping[str, object], name: str) -> Mapping[str, object]:
    passes = run["passes"]
    assert isinstance(passes, dict)
    value = passes[name]
    assert isinstance(value, dict)
    return value


def summarise(runs: Sequence[Mapping[str, object]]) -> dict[str, dict[str, object]]:
    """Per pass: median/min/max wall time, requests per kind (the median, with the range
    when runs differ), peak RSS, and the correctness counts summed over runs."""
    summary: dict[str, dict[str, object]] = {}
    for name in PASSES:
        results = [_pass_of(run, name) for run in runs]
        walls = [float(str(r["wall_s"])) for r in results]
        requests: dict[str, object] = {}
        for kind in (*KINDS, "non_2xx"):
            counts = [int(r["requests"][kind]) for r in results]  # type: ignore[index]
            requests[kind] = int(statistics.median(counts))
            if min(counts) != max(counts):
                requests[kind + "_range"] = [min(counts), max(counts)]
        summary[name] = {
            "wall_s_median": round(statistics.median(walls), 3),
            "wall_s_min": min(walls),
            "wall_s_max": max(walls),
            "requests": requests,
            "peak_rss_kib_max": max(int(str(r["peak_rss_kib"])) for r in results),
            "resolved": [r["resolved"] for r in results],
            "errors": sum(int(str(r["errors"])) for r in results),
            "mismatches": sum(int(str(r["mismatches"])) for r in results),
            "examples": [e for r in results for e in r["examples"]][:5],  # type: ignore[attr-defined]
        }
    return summary


def targets(
    summary: Mapping[str, Mapping[str, object]], floors: Mapping[str, int]
) -> dict[str, dict[str, object]]:
    def req(name: str, kind: str) -> int:
        value = summary[name]["requests"]
        assert isinstance(value, dict)
        return int(value[kind])

    warm_wall = float(str(summary["warm"]["wall_s_median"]))
    checks = {
        "warm: at most one tag list per distinct repository": (
            req("warm", "tags") <= floors["tag_lists"],
            f"{req('warm', 'tags')} tag lists for {floors['tag_lists']} repositories",
        ),
        "warm: no manifest or blob request for tags already seen": (
            req("warm", "manifest_get") + req("warm", "manifest_head") + req("warm", "blob") == 0,
            f"manifest GET {req('warm', 'manifest_get')}, HEAD {req('warm', 'manifest_head')},"
            f" blob {req('warm', 'blob')}",
        ),
        f"warm: under {WARM_BUDGET_S:g} s (median)": (
            warm_wall < WARM_BUDGET_S,
            f"{warm_wall:.3f} s",
        ),
        "next cycle: exactly one tag list per distinct repository": (
            req("next_cycle", "tags") == floors["tag_lists"],
            f"{req('next_cycle', 'tags')} tag lists for {floors['tag_lists']} repositories",
        ),
        "next cycle: no manifest GET or blob for tags already seen": (
            req("next_cycle", "manifest_get") + req("next_cycle", "blob") == 0,
            f"manifest GET {req('next_cycle', 'manifest_get')}, blob {req('next_cycle', 'blob')}"
            f" (HEAD {req('next_cycle', 'manifest_head')} for {floors['tags_with_metadata']}"
            " tags with metadata)",
        ),
        "cold: each config blob fetched at most once": (
            req("cold", "blob") <= floors["config_blobs"],
            f"{req('cold', 'blob')} blob GETs for {floors['config_blobs']} distinct configs",
        ),
        "every pass: every policy resolves to the expected tag": (
            all(summary[p]["errors"] == 0 and summary[p]["mismatches"] == 0 for p in PASSES),
            ", ".join(
                f"{p}: {summary[p]['errors']} errors, {summary[p]['mismatches']} mismatches"
                for p in PASSES
            ),
        ),
    }
    return {name: {"ok": ok, "detail": detail} for name, (ok, detail) in checks.items()}


def markdown(report: Mapping[str, object]) -> str:
    summary = report["summary"]
    upstream = report["upstream"]
    assert isinstance(summary, dict) and isinstance(upstream, dict)
    lines = [
        "| pass | wall median (min–max) | ping | token | tags | manifest GET | manifest HEAD"
        " | blob | peak RSS | upstream tags / manifest GET / blob |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in PASSES:
        s = summary[name]
        r = s["requests"]
        u = upstream[name]

        def cell(kind: str, r: Mapping[str, object] = r) -> str:
            spread = r.get(kind + "_range")
            return f"{r[kind]}" + (
                f" ({spread[0]}–{spread[1]})" if isinstance(spread, list) else ""
            )

        lines.append(
            f"| {name} | {s['wall_s_median']:.3f} s ({s['wall_s_min']:.3f}–{s['wall_s_max']:.3f})"
            f" | {cell('ping')} | {cell('token')} | {cell('tags')} | {cell('manifest_get')}"
            f" | {cell('manifest_head')} | {cell('blob')} | {s['peak_rss_kib_max'] / 1024:.0f} MiB"
            f" | ≥ {u['tags']} / ≥ {u['manifest_get']} / ≥ {u['blob']} |"
        )
    lines += ["", "| target | met | measured |", "| --- | --- | --- |"]
    checks = report["targets"]
    assert isinstance(checks, dict)
    for name, check in checks.items():
        lines.append(f"| {name} | {'yes' if check['ok'] else '**no**'} | {check['detail']} |")
    return "\n".join(lines)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="4 repositories × 30 tags, 24 policies"
    )
    parser.add_argument("--reseed", action="store_true", help="seed again even if a stamp matches")
    parser.add_argument(
        "--runs", type=int, default=None, help="measuring runs (default 3; quick 2)"
    )
    parser.add_argument("--policies", type=int, default=None, help="override the policy count")
    parser.add_argument("--policy-concurrency", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    parser.add_argument("--json", type=Path, default=None, help="write the report here too")
    parser.add_argument(
        "--profile", type=Path, default=None, help="cProfile each pass into DIR/<pass>.prof"
    )
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.runs is not None and not 1 <= args.runs <= 20:
        parser.error(f"--runs {args.runs} is not valid; expected 1..20")
    if args.policies is not None and not 1 <= args.policies <= 100_000:
        parser.error(f"--policies {args.policies} is not valid; expected 1..100000")
    if args.policy_concurrency < 1:
        parser.error(f"--policy-concurrency {args.policy_concurrency} is not valid; expected 1+")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    if args.child:
        return _child(args)
    workload = QUICK if args.quick else FULL
    plan = workload["plan"]
    assert isinstance(plan, SeedPlan)
    specs = make_specs(plan, args.policies or int(str(workload["policies"])))
    runs_wanted = args.runs or int(str(workload["runs"]))
    label = "quick" if args.quick else f"{plan.repositories}x{plan.tags_per_repository}"
    workdir = args.out / f"registry-{label}"
    seed = ensure_seeded(workdir, plan, reseed=args.reseed)
    print(f"seed: {json.dumps(seed)}", file=sys.stderr)
    with LocalRegistry(workdir) as registry:
        runs = []
        for index in range(runs_wanted):
            runs.append(_run_child(registry.url, args))
            print(f"run {index + 1}/{runs_wanted} done", file=sys.stderr, flush=True)
    floors = our_floors(plan, specs)
    summary = summarise(runs)
    report: dict[str, object] = {
        "command": " ".join(
            [".venv/bin/python", "bench/registry_resolve.py", *(argv or sys.argv[1:])]
        ),
        "plan": {**plan.stamp(), "tags_per_repository": plan.tags_per_repository},
        "policies": len(specs),
        "policy_kinds": {
            k: sum(1 for s in specs if s.kind == k) for k in sorted({s.kind for s in specs})
        },
        "seed": seed,
        "floors": floors,
        "upstream": upstream_model(plan, specs),
        "summary": summary,
        "targets": targets(summary, floors),
        "runs": runs,
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))
    print(json.dumps({"summary": summary, "targets": report["targets"]}, indent=2), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
