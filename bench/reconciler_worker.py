"""The measured process of the reconciler benchmark: the production controller, cycle,
registry client and Kubernetes client, driven one cycle at a time.

Run as ``python bench/reconciler_worker.py CONFIG_JSON`` by ``reconciler_scale.py``. The
config names the kubeconfig, the registry and the log file. Each line on stdin is a
command, each answer one JSON line on stdout (the first says it is ready)::

    {"cmd": "cycle", "label": "warm", "advance": 31}   -> the cycle's measurements
    {"cmd": "quit"}                                     -> {"bye": true}

Optional config keys (``shard_scale.py``): ``shard`` ``[index, count]`` makes the cycle take
only the Applications of that shard (``reconciler.shards.shard_of``, what a sharded replica
holding one lease does), and ``redis`` (``host:port``) gives the registry client the shared
cache on that Redis, as ``--redis`` does; the answers then count its lookups. ``policies``
(true) reads the update policies stored in the cluster and judges every cycle by them, as
``run`` does.

``advance`` moves the registry client's clock forward before the cycle, which is how a
cycle "an interval later" finds its tag lists and digests expired without waiting.
Everything the process allocates is the reconciler's, so ``ru_maxrss`` is its peak RSS.
"""

from __future__ import annotations

import asyncio
import cProfile
import datetime as dt
import json
import logging
import pstats
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from imageupdater import kube
from imageupdater.credential_sources import CredentialCache, CredentialSource
from imageupdater.policy import ImagePolicy
from imageupdater.registries_conf import RegistriesConf
from imageupdater.registry import ClientSettings, RegistryClient
from imageupdater.registry.counters import CountersSnapshot
from imageupdater.registry.shared import SharedCache
from imageupdater.resolver import Resolution, SelectionMemo, resolve
from imageupdater.shared_cache_settings import parse_redis_address
from imageupdater.updatepolicy import PolicyFilter
from imageupdater.updatepolicy_source import PolicyWatch
from reconciler.apps_api import KubeApplications
from reconciler.controller import Controller, ControllerSettings
from reconciler.cycle import Cycle, CycleSettings
from reconciler.events import EventRecorder
from reconciler.metrics import ReconcilerMetrics
from reconciler.policies import PolicyReporter
from reconciler.shards import shard_of


class OffsetClock:
    """The system clock plus a settable offset (the registry client's ``Clock``)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.offset)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _max_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _by_kind(snapshot: CountersSnapshot) -> Counter[str]:
    counts: Counter[str] = Counter()
    for kinds in snapshot["requests"].values():
        for kind, classes in kinds.items():
            for klass, n in classes.items():
                counts[kind if klass == "2xx" else f"{kind} {klass}"] += n
    return counts


def _cache(snapshot: CountersSnapshot) -> Counter[str]:
    return Counter(
        {
            f"{name} {outcome}": n
            for name, outcomes in snapshot["cache"].items()
            for outcome, n in outcomes.items()
        }
    )


class Worker:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.clock = OffsetClock()
        self.conf = RegistriesConf.parse(
            "registries:\n- name: bench\n"
            f"  prefix: {config['registry_host']}\n  api_url: {config['registry_url']}\n",
            source="bench",
        )
        redis: str | None = config.get("redis")
        self.shared = SharedCache(parse_redis_address(redis)) if redis else None
        # What ResolverService builds, plus the clock it does not take.
        self.client = RegistryClient(
            settings=ClientSettings(tls_cert_dir=None, digest_ttl=config.get("digest_ttl", 30.0)),
            credentials=CredentialCache(CredentialSource(secrets=None, environ={})),
            clock=self.clock,
            logger=logging.getLogger("image_updater.registry"),
            shared=self.shared,
        )
        self.memo = SelectionMemo()
        # When the cycle's resolution step starts and ends, and how many resolutions it
        # made (one per distinct policy and current version).
        self.first_resolve, self.last_resolve, self.resolutions = float("inf"), 0.0, 0

    async def resolve(
        self, policy: ImagePolicy, current: str | None, policies: PolicyFilter | None = None
    ) -> Resolution:
        started = time.perf_counter()
        self.first_resolve = min(self.first_resolve, started)
        self.resolutions += 1
        try:
            return await resolve(
                policy,
                client=self.client,
                conf=self.conf,
                current_tag=current,
                memo=self.memo,
                policies=policies,
            )
        finally:
            self.last_resolve = max(self.last_resolve, time.perf_counter())

    def owns(self) -> Callable[[str], bool]:
        shard: list[int] | None = self.config.get("shard")
        if shard is None:
            return lambda key: True
        index, count = shard
        return lambda key: shard_of(key, count) == index

    async def serve(self) -> None:
        if self.shared is not None:
            await self.shared.open()
        try:
            await self._serve()
        finally:
            if self.shared is not None:
                await self.shared.close()

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        async with self.client, await kube.KubeClient.connect(self.config["kubeconfig"]) as k8s:
            metrics = ReconcilerMetrics(CollectorRegistry())
            api = KubeApplications(k8s, metrics)
            events = EventRecorder(k8s)
            policies = None
            if self.config.get("policies"):
                # What the runner builds: the stored update policies, read before the first cycle.
                policies = PolicyReporter(
                    PolicyWatch(k8s.list, component="the reconciler"),
                    client=k8s,
                    metrics=metrics,
                    events=events,
                )
                await policies.watch.refresh()
            cycle = Cycle(
                api=api,
                resolve=self.resolve,
                metrics=metrics,
                events=events,
                settings=CycleSettings(),
                policies=policies,
                scope=self.client.cycle,
                owns=self.owns(),
            )
            controller = Controller(
                api=api, cycle=cycle, metrics=metrics, settings=ControllerSettings(interval=0)
            )
            applied = len(policies.watch.snapshot.policies) if policies is not None else 0
            _answer({"ready": True, "max_rss_kib": _max_rss_kib(), "policies_applied": applied})
            while line := await loop.run_in_executor(None, sys.stdin.readline):
                command = json.loads(line)
                if command["cmd"] == "quit":
                    break
                answer = await self.cycle(controller, command["label"], command["advance"])
                _answer(answer)
        _answer({"bye": True})

    async def cycle(self, controller: Controller, label: str, advance: float) -> dict[str, Any]:
        self.clock.offset += advance
        before, cpu_before = self.client.counters.snapshot(), _cpu()
        shared_before = self._shared_lookups()
        profile_dir: str | None = self.config.get("profile_dir")
        profiler = cProfile.Profile() if profile_dir else None
        if profiler is not None:
            profiler.enable()
        self.first_resolve, self.last_resolve, self.resolutions = float("inf"), 0.0, 0
        started = time.perf_counter()
        await controller.relist()
        listed = time.perf_counter()
        result = await controller.run_once("resync")
        ended = time.perf_counter()
        if profiler is not None and profile_dir:
            profiler.disable()
            _dump(profiler, Path(profile_dir), label)
        after = self.client.counters.snapshot()
        registry = _by_kind(after)
        registry.subtract(_by_kind(before))
        cache = _cache(after)
        cache.subtract(_cache(before))
        shared = self._shared_lookups()
        shared.subtract(shared_before)
        return {
            "label": label,
            "wall": ended - started,
            "list_wall": listed - started,
            "cycle_wall": ended - listed,
            "cpu": _cpu() - cpu_before,
            "resolutions": self.resolutions,
            # parse (list end -> first resolve), resolve, plan + write (last resolve -> end)
            "steps": {
                "prepare": max(0.0, self.first_resolve - listed) if self.resolutions else 0.0,
                "resolve": max(0.0, self.last_resolve - self.first_resolve),
                "write": ended - max(self.last_resolve, listed),
            },
            "registry": {k: n for k, n in sorted(registry.items()) if n},
            "cache": {k: n for k, n in sorted(cache.items()) if n},
            "shared": {k: n for k, n in sorted(shared.items()) if n},
            "result": {
                "applications": result.applications,
                "images_considered": result.images_considered,
                "images_updated": result.images_updated,
                "patches": result.patches,
                "conflicts": result.conflicts,
                "errors": result.errors,
            },
            "max_rss_kib": _max_rss_kib(),
        }

    def _shared_lookups(self) -> Counter[str]:
        if self.shared is None:
            return Counter()
        snapshot = self.shared.counters.snapshot()
        counts = Counter(
            {
                f"{name} {outcome}": n
                for name, outcomes in snapshot["lookups"].items()
                for outcome, n in outcomes.items()
            }
        )
        counts.update({f"error {op}": n for op, n in snapshot["errors"].items()})
        return counts


def _dump(profiler: cProfile.Profile, folder: Path, label: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(folder / f"{label}.prof")
    with (folder / f"{label}.txt").open("w") as out:
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(30)


def _answer(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def main() -> None:
    config = json.loads(sys.argv[1])
    logging.basicConfig(
        filename=config["log"],
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    asyncio.run(Worker(config).serve())


if __name__ == "__main__":
    main()
