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
from typing import Literal

from _registry_seed import SeedPlan, ensure_seeded
from _registry_workload import Spec, expected, make_specs, our_floors, to_policy, upstream_model

from devcluster.registry import LocalRegistry
from imageupdater.errors import ImageUpdaterError
from imageupdater.policy import ImagePolicy
from imageupdater.registries_conf import RegistriesConf
from imageupdater.registry import ClientSettings, CountersSnapshot, RegistryClient, SystemClock
from imageupdater.resolver import Resolution
from imageupdater.service import ResolverService

PASSES = ("cold", "warm", "next_cycle")
ClockMode = Literal["real", "pinned"]
CLOCK_MODES: tuple[ClockMode, ...] = ("real", "pinned")
KINDS = ("ping", "token", "tags", "manifest_get", "manifest_head", "blob")
FULL = {"plan": SeedPlan(200, 100), "policies": 1000, "runs": 3}
QUICK = {"plan": SeedPlan(4, 10, multiarch_every=2), "policies": 24, "runs": 2}
WARM_BUDGET_S = 2.0
_LOG = logging.getLogger("image_updater.registry")


class SteppedClock(SystemClock):
    """The real clock plus an offset the benchmark advances to expire every TTL at once;
    ``pin()`` stops it (for the caches' TTLs) until ``unpin()``."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.pinned: float | None = None

    def monotonic(self) -> float:
        return (time.monotonic() if self.pinned is None else self.pinned) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def pin(self) -> None:
        self.pinned = time.monotonic()

    def unpin(self) -> None:
        self.pinned = None


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


_Outcome = Resolution | ImageUpdaterError


async def _one_pass(
    service: ResolverService, policies: Sequence[ImagePolicy], concurrency: int
) -> list[_Outcome]:
    """Resolve every policy, ``concurrency`` at a time: all the timed work, nothing else."""
    gate = asyncio.Semaphore(concurrency)

    async def one(policy: ImagePolicy) -> _Outcome:
        async with gate:
            try:
                return await service.resolve(policy)
            except ImageUpdaterError as exc:
                return exc

    return await asyncio.gather(*(one(p) for p in policies))


def _check(
    outcomes: Sequence[_Outcome],
    policies: Sequence[ImagePolicy],
    wanted: Sequence[tuple[str | None, str | None]],
) -> dict[str, object]:
    """Compare each outcome with the answer the seed plan implies."""
    problems: list[str] = []
    errors = resolved = 0
    for outcome, policy, (tag, digest) in zip(outcomes, policies, wanted, strict=True):
        if isinstance(outcome, ImageUpdaterError):
            errors += 1
            problems.append(f"{policy.image}: {outcome}")
            continue
        resolved += outcome.tag is not None
        if outcome.tag != tag or (digest is not None and outcome.digest != digest):
            problems.append(
                f"{policy.image} ({policy.strategy}): chose {outcome.tag} {outcome.digest},"
                f" expected {tag} {digest}"
            )
    return {
        "resolved": resolved,
        "errors": errors,
        "mismatches": len(problems) - errors,
        "examples": problems[:5],
    }


async def measure(
    url: str,
    plan: SeedPlan,
    specs: Sequence[Spec],
    concurrency: int,
    *,
    clock_mode: ClockMode = "real",
    profile_dir: Path | None = None,
) -> dict[str, object]:
    """Cold, warm and next-cycle passes on one client. ``clock_mode="pinned"`` stops the
    caches' clock for the whole run, so the warm pass is inside every TTL however long
    the cold pass took; ``"real"`` lets TTLs run out during long passes, as they do today."""
    host = url.removeprefix("http://")
    conf = RegistriesConf.parse(
        f"registries:\n- name: bench\n  prefix: {host}\n  api_url: {url}\n", source="bench"
    )
    settings = ClientSettings(tls_cert_dir=None)
    clock = SteppedClock()
    service = ResolverService(conf, settings=settings, environ={})
    # The service takes no clock; give it a client built the same way with one we can step.
    service.client = RegistryClient(
        settings=settings, credentials=service.credentials, clock=clock, logger=_LOG
    )
    # Parsed policies are what the reconciler holds; building them is not resolution.
    policies = [to_policy(plan, spec, host) for spec in specs]
    wanted = [expected(plan, spec) for spec in specs]
    passes: dict[str, object] = {}
    async with service:
        for name in PASSES:
            if name == "cold" and clock_mode == "pinned":
                clock.pin()
            if name == "next_cycle":
                clock.advance(max(settings.tag_list_ttl, settings.digest_ttl) + 1.0)
            before = service.client.counters.snapshot()
            memo_before = (service.memo.hits, service.memo.misses)
            started = time.perf_counter()
            profiler = cProfile.Profile() if profile_dir else None
            if profiler:
                profiler.enable()
            outcomes = await _one_pass(service, policies, concurrency)
            if profiler and profile_dir:
                profiler.disable()
                profiler.dump_stats(profile_dir / f"{name}.prof")
            wall = time.perf_counter() - started
            after = service.client.counters.snapshot()
            cache = _cache(before, after)
            cache["selection_memo"] = {
                "hit": service.memo.hits - memo_before[0],
                "miss": service.memo.misses - memo_before[1],
            }
            passes[name] = {
                "wall_s": round(wall, 4),
                "requests": _requests(before, after),
                "cache": cache,
                "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                **_check(outcomes, policies, wanted),
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
        measure(
            args.child,
            plan,
            specs,
            args.policy_concurrency,
            clock_mode=args.clock,
            profile_dir=args.profile,
        )
    )
    json.dump({"rss_at_start_kib": rss_at_start, "passes": passes}, sys.stdout)
    return 0


# -- the parent: seed, serve, repeat, summarise ------------------------------------------------


def _run_child(url: str, args: argparse.Namespace, mode: ClockMode) -> dict[str, object]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", url, "--clock", mode]
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
    """Per pass: median/min/max wall time, requests per kind (the lower median, a count some
    run really made, with the range when runs differ), peak RSS, and correctness counts
    summed over runs."""
    summary: dict[str, dict[str, object]] = {}
    for name in PASSES:
        results = [_pass_of(run, name) for run in runs]
        walls = [float(str(r["wall_s"])) for r in results]
        requests: dict[str, object] = {}
        for kind in (*KINDS, "non_2xx"):
            counts = [int(r["requests"][kind]) for r in results]  # type: ignore[index]
            requests[kind] = statistics.median_low(counts)
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
    """Each request target judged on the worst run, not the median: "at most once" must
    hold every time."""

    def spread(name: str, kind: str) -> tuple[int, int]:
        value = summary[name]["requests"]
        assert isinstance(value, dict)
        low_high = value.get(kind + "_range") or [value[kind], value[kind]]
        return int(low_high[0]), int(low_high[1])

    def req(name: str, kind: str) -> int:
        return spread(name, kind)[1]

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
            spread("next_cycle", "tags") == (floors["tag_lists"], floors["tag_lists"]),
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
    summaries = report["summary"]
    upstream = report["upstream"]
    all_checks = report["targets"]
    assert isinstance(summaries, dict) and isinstance(upstream, dict)
    assert isinstance(all_checks, dict)
    lines = [
        "| clock | pass | wall median (min–max) | ping | token | tags | manifest GET"
        " | manifest HEAD | blob | peak RSS | upstream ≥ tags / manifest GET / blob |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for mode in CLOCK_MODES:
        for name in PASSES:
            s = summaries[mode][name]
            r = s["requests"]
            u = upstream[name]

            def cell(kind: str, r: Mapping[str, object] = r) -> str:
                spread = r.get(kind + "_range")
                extra = f" ({spread[0]}–{spread[1]})" if isinstance(spread, list) else ""
                return f"{r[kind]}{extra}"

            lines.append(
                f"| {mode} | {name} | {s['wall_s_median']:.3f} s"
                f" ({s['wall_s_min']:.3f}–{s['wall_s_max']:.3f})"
                f" | {cell('ping')} | {cell('token')} | {cell('tags')} | {cell('manifest_get')}"
                f" | {cell('manifest_head')} | {cell('blob')}"
                f" | {s['peak_rss_kib_max'] / 1024:.0f} MiB"
                f" | {u['tags']} / {u['manifest_get']} / {u['blob']} |"
            )
    lines += ["", "| clock | target | met | measured |", "| --- | --- | --- | --- |"]
    for mode in CLOCK_MODES:
        for name, check in all_checks[mode].items():
            met = "yes" if check["ok"] else "**no**"
            lines.append(f"| {mode} | {name} | {met} | {check['detail']} |")
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
    parser.add_argument("--clock", choices=CLOCK_MODES, default="real", help=argparse.SUPPRESS)
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.runs is not None and not 1 <= args.runs <= 20:
        parser.error(f"--runs {args.runs} is not valid; expected 1..20")
    if args.policies is not None and not 1 <= args.policies <= 100_000:
        parser.error(f"--policies {args.policies} is not valid; expected 1..100000")
    if args.policy_concurrency < 1:
        parser.error(f"--policy-concurrency {args.policy_concurrency} is not valid; expected 1+")
    return args


def code_version() -> dict[str, object]:
    """The commit measured, and whether the resolver's code differed from it (read-only git)."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=30, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    changed = git("status", "--porcelain", "--", "imageupdater")
    return {"commit": git("rev-parse", "--short", "HEAD"), "imageupdater_modified": bool(changed)}


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
    code_before = code_version()
    print(f"seed: {json.dumps(seed)}", file=sys.stderr)
    runs: dict[str, list[dict[str, object]]] = {mode: [] for mode in CLOCK_MODES}
    with LocalRegistry(workdir) as registry:
        # Interleaved, so a noisy neighbour hurts both modes alike.
        for index in range(runs_wanted):
            for mode in CLOCK_MODES:
                runs[mode].append(_run_child(registry.url, args, mode))
                print(f"run {index + 1}/{runs_wanted} ({mode}) done", file=sys.stderr, flush=True)
    floors = our_floors(plan, specs)
    summary = {mode: summarise(runs[mode]) for mode in CLOCK_MODES}
    report: dict[str, object] = {
        "command": " ".join(
            [".venv/bin/python", "bench/registry_resolve.py", *(argv or sys.argv[1:])]
        ),
        "code": code_before,
        "code_changed_during_runs": code_version() != code_before,
        "plan": {**plan.stamp(), "tags_per_repository": plan.tags_per_repository},
        "policies": len(specs),
        "policy_kinds": {
            k: sum(1 for s in specs if s.kind == k) for k in sorted({s.kind for s in specs})
        },
        "seed": seed,
        "floors": floors,
        "upstream": upstream_model(plan, specs),
        "summary": summary,
        "targets": {mode: targets(summary[mode], floors) for mode in CLOCK_MODES},
        "runs": runs,
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))
    print(json.dumps({"summary": summary, "targets": report["targets"]}, indent=2), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
