"""Scale-out: which shard an Application belongs to, and which shards this replica holds.

* ``shard_of``: rendezvous (highest-random-weight) hashing of ``namespace/name`` over the
  shard numbers. Going from N to N+1 shards moves only the Applications the new shard wins,
  about 1/(N+1) of them; no other Application changes shard.
* ``ShardCoordinator``: one ``coordination.k8s.io`` Lease per shard
  (``image-updater-shard-<i>``), each taken and renewed by a ``reconciler.leader.
  LeaderElector`` — the leader election's Lease logic and its fencing, reused per shard.
  ``owns(key)`` is the write fence: True only while the shard's lease was renewed within the
  renew deadline by this replica's own clock, a margin before anyone else may take it.
* ``plan_step``: the pure rule deciding, from what the leases say, which shard to take,
  release or ask for (below), so the balancing is tested without a cluster.

Balancing needs no membership list: each replica sees the others only through the leases
they hold. Per tick a replica takes at most one free shard — at once when it holds fewer than
every other live holder, and, when it is tied for fewest, a shard whose holder died (expired)
or one left free for a whole lease period (a replacement pod's chance to pick it first). A
replica holding two or more fewer shards than the busiest one asks it for one (an annotation
on that lease); the busy one releases it at its next renewal. So counts end within one of
each other — each replica holds its fair share, ceil(shards / live replicas) at most — a dead
replica's shard is taken within a lease period of its last renewal, and SIGTERM releases.

Every lease records the shard count it was taken under; a replica does not take shards while
another live holder runs with a different count (a rollout changing ``--shards``), since two
counts map one Application to two shards. ``--shards auto`` re-reads the replica count every
lease period; when it changes, the replica releases everything and waits one lease period, by
when every other replica has noticed too (or lost its leases), before taking shards again.
"""

from __future__ import annotations

__all__ = [
    "FencedApplications",
    "LeaseView",
    "ShardCoordinator",
    "ShardLost",
    "ShardMetrics",
    "Step",
    "coordinator",
    "plan_step",
    "shard_of",
]

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import math
import os
import socket
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client import Counter as PromCounter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from imageupdater import kube
from imageupdater.application import Application
from imageupdater.errors import InvalidInput, KubeConflict, KubeError
from reconciler.apps_api import ApplicationsAPI
from reconciler.leader import LeaderElector, lease_holder
from reconciler.shard_options import LeaseTiming, Sharding

log = logging.getLogger("image_updater.reconciler")

SHARDS_ANNOTATION = "image-updater.argoproj.io/shards"
HANDOFF_ANNOTATION = "image-updater.argoproj.io/handoff-to"
DEPLOYMENTS = kube.Resource("apps", "v1", "deployments")


def _weight(key: str, shard: int) -> int:
    digest = hashlib.blake2b(f"{shard}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def shard_of(key: str, shards: int) -> int:
    """The shard (0..shards-1) that ``key`` (``namespace/name``) belongs to."""
    return max(range(shards), key=lambda shard: _weight(key, shard))


def lease_name(shard: int) -> str:
    return f"image-updater-shard-{shard}"


@dataclass(frozen=True, slots=True)
class LeaseView:
    """One shard's lease as this replica read it."""

    shard: int
    holder: str = ""  # "" = nobody (absent or released)
    live: bool = False  # held and renewed within its duration
    shards: int | None = None  # the count its holder runs with
    handoff_to: str = ""  # a replica that asked its holder for it

    @property
    def expired(self) -> bool:
        """Held by someone who stopped renewing: a dead replica's shard."""
        return bool(self.holder) and not self.live


@dataclass(frozen=True, slots=True)
class Step:
    """What one tick does: at most one of each, so counts settle a tick at a time."""

    acquire: int | None = None
    release: int | None = None
    request: int | None = None  # ask this shard's holder to hand it over


def plan_step(
    views: Sequence[LeaseView],
    me: str,
    held: frozenset[int],
    free_for: Mapping[int, float],
    wait: float,
    shards: int,
) -> Step:
    """The tick's step for replica ``me`` holding ``held``; ``free_for`` is how long each
    free shard has been seen free, ``wait`` the lease period a free shard is left to those
    holding fewer before a tied replica takes it."""
    others = Counter(v.holder for v in views if v.live and v.holder != me)
    mine = len(held)
    for view in views:
        asked = view.shard in held and view.handoff_to not in ("", me)
        if asked and mine > others.get(view.handoff_to, 0) + 1:
            return Step(release=view.shard)
    for view in views:
        # Still ours on the server, though a renewal lost a race (a 409 against a handoff
        # request's write) and stopped the writes: renew it again rather than let it expire.
        if view.live and view.holder == me and view.shard not in held:
            return Step(acquire=view.shard)
    if any(v.live and v.holder != me and v.shards not in (None, shards) for v in views):
        return Step()  # another shard count is live: take nothing until it is gone
    fewest = min(others.values(), default=math.inf)
    free = sorted(
        (v for v in views if not v.live and v.shard not in held),
        # Replicas starting together try different shards first, not all shard 0.
        key=lambda v: _weight(me, v.shard),
        reverse=True,
    )
    for view in free:
        if mine < fewest or (
            mine == fewest and (view.expired or free_for.get(view.shard, 0.0) >= wait)
        ):
            return Step(acquire=view.shard)
    busiest = max(others.values(), default=0)
    if not free and mine + 1 < busiest:
        donor = next(h for h, n in others.most_common() if n == busiest)
        wanted = min(v.shard for v in views if v.live and v.holder == donor)
        already = next(v for v in views if v.shard == wanted).handoff_to == me
        return Step() if already else Step(request=wanted)
    return Step()


def view_of(
    shard: int, lease: Mapping[str, Any] | None, now: dt.datetime, default: float
) -> LeaseView:
    if lease is None:
        return LeaseView(shard)
    holder, live = lease_holder(lease, now, default)
    annotations = (lease.get("metadata") or {}).get("annotations") or {}
    try:
        count: int | None = int(annotations.get(SHARDS_ANNOTATION, ""))
    except ValueError:
        count = None
    return LeaseView(shard, holder, live, count, str(annotations.get(HANDOFF_ANNOTATION) or ""))


class ShardMetrics:
    """``image_updater_shards_held``, ``image_updater_shard_changes_total{change}`` and
    ``image_updater_shard_applications{shard}`` (per held shard, counted at scrape time)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.held = Gauge(
            "image_updater_shards_held", "shards whose Lease this replica holds", registry=registry
        )
        self.changes = PromCounter(
            "image_updater_shard_changes",
            "shards this replica took or gave up, by change",
            ["change"],
            registry=registry,
        )
        for change in ("acquired", "lost", "released"):
            self.changes.labels(change)
        self._registry = registry

    def count_applications(
        self, coordinator: ShardCoordinator, keys: Callable[[], Iterable[str]]
    ) -> None:
        self._registry.register(_ApplicationsPerShard(coordinator, keys))


class _ApplicationsPerShard(Collector):
    def __init__(self, coordinator: ShardCoordinator, keys: Callable[[], Iterable[str]]) -> None:
        self._coordinator = coordinator
        self._keys = keys

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "image_updater_shard_applications",
            "indexed Applications of each shard this replica holds",
            labels=["shard"],
        )
        held = self._coordinator.held()
        counts = Counter(self._coordinator.shard(key) for key in self._keys())
        for shard in sorted(held):
            family.add_metric([str(shard)], counts.get(shard, 0))
        yield family


class ShardLost(KubeError):
    """A write refused because this replica no longer holds the Application's shard."""


class ShardCoordinator:
    """Takes, renews, balances and releases this replica's shard leases (see the module)."""

    def __init__(
        self,
        client: kube.KubeClient,
        *,
        namespace: str,
        identity: str,
        shards: int | None,
        workload: str,
        timing: LeaseTiming,
        metrics: ShardMetrics | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._client = client
        self.namespace = namespace
        self.identity = identity
        self.auto = shards is None
        self.workload = workload
        self.timing = timing
        self.metrics = metrics
        self._clock = clock
        self.count = shards or 1
        self._electors: list[LeaderElector] = []
        self._shard_cache: dict[str, int] = {}
        self._free_since: dict[int, float] = {}
        self._held: frozenset[int] = frozenset()
        self._quiet_until = 0.0
        self._checked_count_at = -math.inf
        self.changed = asyncio.Event()

    async def start(self) -> None:
        """Learn the shard count (``auto``) and take a first shard, before the first cycle."""
        if self.auto:
            self.count = await self._replicas()
        self._build()
        self._checked_count_at = self._now()
        await self.tick()

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _build(self) -> None:
        self._shard_cache.clear()
        self._free_since.clear()
        self._electors = [
            LeaderElector(
                self._client,
                namespace=self.namespace,
                name=lease_name(shard),
                identity=self.identity,
                lease_duration=self.timing.duration,
                renew_deadline=self.timing.renew_deadline,
                retry_period=self.timing.retry_period,
                annotations={SHARDS_ANNOTATION: str(self.count)},
                role=f"the holder of shard {shard}/{self.count}",
                lease_noun=f"shard {shard}'s lease",
            )
            for shard in range(self.count)
        ]

    async def _replicas(self) -> int:
        try:
            deployment = await self._client.get(DEPLOYMENTS, self.namespace, self.workload)
        except KubeError as exc:
            raise InvalidInput(
                f"--shards auto: cannot read the replica count of Deployment "
                f"{self.namespace}/{self.workload} (--shards-workload): {exc}"
            ) from exc
        replicas = (deployment.get("spec") or {}).get("replicas", 1)
        return max(int(replicas) if isinstance(replicas, int) else 1, 1)

    # What the cycle and the controller ask.

    def shard(self, key: str) -> int:
        found = self._shard_cache.get(key)
        if found is None:
            found = self._shard_cache[key] = shard_of(key, self.count)
        return found

    def owns(self, key: str) -> bool:
        """The write fence: this replica holds ``key``'s shard, by its own clock, now."""
        shard = self.shard(key)
        return shard < len(self._electors) and self._electors[shard].is_leader()

    def held(self) -> frozenset[int]:
        return frozenset(i for i, e in enumerate(self._electors) if e.is_leader())

    def holds_any(self) -> bool:
        return any(e.is_leader() for e in self._electors)

    def holds_first(self) -> bool:
        """Shard 0's holder writes what belongs to no Application (policy and ImageUpdater
        status) and serves push events, as the leader does unsharded."""
        return bool(self._electors) and self._electors[0].is_leader()

    # The loop.

    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.timing.retry_period)
                with contextlib.suppress(KubeError):
                    await self._recount()
                await self.tick()
        finally:
            await asyncio.shield(self.release_all())

    async def _recount(self) -> None:
        if not self.auto or self._now() - self._checked_count_at < self.timing.duration:
            return
        self._checked_count_at = self._now()
        count = await self._replicas()
        if count == self.count:
            return
        log.warning(
            "the replica count of %s/%s changed from %d to %d: releasing every shard and "
            "resharding after one lease period",
            self.namespace,
            self.workload,
            self.count,
            count,
        )
        await self.release_all()
        self.count = count
        self._build()
        self._quiet_until = self._now() + self.timing.duration
        self._announce()

    async def tick(self) -> None:
        """Renew what is held, read the rest, then take one step of ``plan_step``."""
        views: list[LeaseView] = []
        now = self._clock()
        try:
            for shard, elector in enumerate(self._electors):
                if elector.is_leader():
                    await elector.try_acquire_or_renew()
                    lease = elector.observed
                    if not elector.is_leader():
                        lease = await self._client.get_or_none(
                            kube.LEASES, self.namespace, elector.name
                        )
                else:
                    lease = await self._client.get_or_none(
                        kube.LEASES, self.namespace, elector.name
                    )
                views.append(view_of(shard, lease, now, self.timing.duration))
        except KubeError as exc:
            log.warning("shards: cannot read the shard leases: %s", exc)
            self._announce()
            return
        moment = self._now()
        for view in views:
            if view.live:
                self._free_since.pop(view.shard, None)
            else:
                self._free_since.setdefault(view.shard, moment)
        if moment < self._quiet_until:
            self._announce()
            return
        step = plan_step(
            views,
            self.identity,
            self.held(),
            {shard: moment - since for shard, since in self._free_since.items()},
            self.timing.duration,
            self.count,
        )
        if step.release is not None:
            log.info("handing shard %d over to a replica holding fewer", step.release)
            await self._electors[step.release].release()
            if self.metrics is not None:
                self.metrics.changes.labels("released").inc()
        if step.acquire is not None:
            await self._electors[step.acquire].try_acquire_or_renew()
        if step.request is not None:
            await self._request(step.request)
        self._announce()

    async def _request(self, shard: int) -> None:
        name = lease_name(shard)
        try:
            lease = await self._client.get_or_none(kube.LEASES, self.namespace, name)
            if lease is None:
                return
            metadata = lease.setdefault("metadata", {})
            annotations = dict(metadata.get("annotations") or {})
            annotations[HANDOFF_ANNOTATION] = self.identity
            metadata["annotations"] = annotations
            await self._client.replace(kube.LEASES, self.namespace, lease)
        except KubeConflict:
            pass  # renewed meanwhile: asked again next tick
        except KubeError as exc:
            log.debug("shards: could not ask for shard %d: %s", shard, exc)

    def _announce(self) -> None:
        held = self.held()
        if held == self._held:
            return
        gained, lost = held - self._held, self._held - held
        self._held = held
        if self.metrics is not None:
            self.metrics.changes.labels("acquired").inc(len(gained))
            self.metrics.changes.labels("lost").inc(len(lost))
            self.metrics.held.set(len(held))
        log.info(
            "holding shards %s of %d",
            ",".join(map(str, sorted(held))) or "none",
            self.count,
            extra={"shards": sorted(held)},
        )
        # The controller resyncs when this replica gains a shard (its Applications wait).
        self.changed.set()

    async def release_all(self) -> None:
        for elector in self._electors:
            await elector.release()
        self._announce()


class FencedApplications:
    """The Applications API with the shard fence on every patch: the last check, right before
    the write, whichever code path writes (an update, a rollback's record)."""

    def __init__(self, api: ApplicationsAPI, owns: Callable[[str], bool]) -> None:
        self._api = api
        self._owns = owns

    @property
    def watchable(self) -> bool:
        return self._api.watchable

    @property
    def scopes(self) -> tuple[str | None, ...]:
        return self._api.scopes

    async def list_all(self) -> tuple[list[Application], str | None]:
        return await self._api.list_all()

    async def list_namespace(self, namespace: str | None) -> tuple[list[Application], str | None]:
        return await self._api.list_namespace(namespace)

    def watch(
        self, namespace: str | None, resource_version: str | None
    ) -> AsyncIterator[kube.WatchEvent]:
        return self._api.watch(namespace, resource_version)

    async def get(self, namespace: str, name: str) -> Application:
        return await self._api.get(namespace, name)

    async def patch(self, namespace: str, name: str, patch: dict[str, Any]) -> Application:
        if not self._owns(f"{namespace}/{name}"):
            raise ShardLost(f"this replica no longer holds the shard of {namespace}/{name}")
        return await self._api.patch(namespace, name, patch)

    def own_write(self, app: Application) -> bool:
        return self._api.own_write(app)

    async def get_project(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._api.get_project(namespace, name)

    async def close(self) -> None:
        await self._api.close()


def coordinator(
    sharding: Sharding,
    client: kube.KubeClient,
    *,
    namespace: str,
    registry: CollectorRegistry,
) -> ShardCoordinator | None:
    """The process's shard coordinator; None when not sharded (``--shards 1``)."""
    if not sharding.sharded:
        return None
    return ShardCoordinator(
        client,
        namespace=namespace,
        identity=f"{socket.gethostname()}_{os.getpid()}",
        shards=sharding.count,
        workload=sharding.workload,
        timing=sharding.timing,
        metrics=ShardMetrics(registry),
    )
