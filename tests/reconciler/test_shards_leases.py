"""Shard leases in the API emulator: replicas split the shards, take over a dead one's, hand
one over to a newcomer, release on stop; the fence on writes; the emulator's Lease
conflicts that all of it relies on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from devcluster.kubeapi import KubeAPI
from imageupdater import kube
from imageupdater.errors import InvalidInput, KubeConflict
from reconciler.leader import LeaderElector
from reconciler.shard_options import LeaseTiming
from reconciler.shards import FencedApplications, ShardCoordinator, ShardLost, shard_of

NAMESPACE = "argocd"
# Short, so a takeover takes a second or two; integral seconds, as leaseDurationSeconds is.
TIMING = LeaseTiming(duration=2.0, renew_deadline=1.5, retry_period=0.2)


def coordinator(client: kube.KubeClient, identity: str, shards: int | None = 3) -> ShardCoordinator:
    return ShardCoordinator(
        client,
        namespace=NAMESPACE,
        identity=identity,
        shards=shards,
        workload="image-updater-reconciler",
        timing=TIMING,
    )


@contextlib.asynccontextmanager
async def running(*coordinators: ShardCoordinator) -> AsyncIterator[list[asyncio.Task[None]]]:
    for c in coordinators:
        await c.start()
    tasks = [asyncio.create_task(c.run()) for c in coordinators]
    try:
        yield tasks
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def settle(condition: Callable[[], bool], within: float = 8.0) -> float:
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not condition():
        assert loop.time() - started < within, "the shards did not settle"
        await asyncio.sleep(0.05)
    return loop.time() - started


def holders(api: KubeAPI, shards: int = 3) -> list[str]:
    found = []
    for shard in range(shards):
        lease = api.store.get(
            "coordination.k8s.io", "v1", "leases", NAMESPACE, f"image-updater-shard-{shard}"
        )
        found.append(((lease or {}).get("spec") or {}).get("holderIdentity", "") or "")
    return found


async def test_three_replicas_hold_one_shard_each(cluster: kube.KubeClient) -> None:
    replicas = [coordinator(cluster, name) for name in ("a", "b", "c")]
    async with running(*replicas):
        await settle(lambda: all(len(r.held()) == 1 for r in replicas))
        assert set().union(*(r.held() for r in replicas)) == {0, 1, 2}


async def test_a_lone_replica_takes_every_shard_and_hands_one_to_each_newcomer(
    cluster: kube.KubeClient,
) -> None:
    first = coordinator(cluster, "a")
    async with running(first):
        await settle(lambda: first.held() == {0, 1, 2})
        second, third = coordinator(cluster, "b"), coordinator(cluster, "c")
        async with running(second, third):
            await settle(lambda: all(len(r.held()) == 1 for r in (first, second, third)))


async def test_a_dead_replicas_shard_is_taken_over_within_a_lease_period(
    cluster: kube.KubeClient, kube_api: KubeAPI
) -> None:
    a, b, c = (coordinator(cluster, name) for name in ("a", "b", "c"))
    async with running(a, b) as survivors, running(c) as doomed:
        await settle(lambda: all(len(r.held()) == 1 for r in (a, b, c)))
        (lost,) = c.held()
        # Killed: its loop stops without releasing (its lease simply stops being renewed).
        doomed[0].cancel()
        c.release_all = _nothing  # type: ignore[method-assign]
        with contextlib.suppress(asyncio.CancelledError):
            await doomed[0]
        taken = await settle(lambda: lost in a.held() | b.held(), within=TIMING.duration * 3)
        assert taken <= TIMING.duration + 2 * TIMING.retry_period + 0.5
        assert all(not task.done() for task in survivors)
    assert holders(kube_api).count("a") + holders(kube_api).count("b") == 0  # released on stop


async def _nothing() -> None:
    return None


async def test_stopping_releases_the_shards_for_others_at_once(
    cluster: kube.KubeClient, kube_api: KubeAPI
) -> None:
    a = coordinator(cluster, "a")
    async with running(a):
        await settle(lambda: a.held() == {0, 1, 2})
    assert holders(kube_api) == ["", "", ""]
    assert not a.holds_any()


async def test_a_replica_writes_only_the_applications_of_the_shards_it_holds(
    cluster: kube.KubeClient,
) -> None:
    a = coordinator(cluster, "a")
    b = coordinator(cluster, "b")
    async with running(a, b):
        await settle(lambda: len(a.held()) + len(b.held()) == 3 and bool(b.held()))
        keys = [f"argocd/app-{i}" for i in range(60)]
        for key in keys:
            assert a.owns(key) == (shard_of(key, 3) in a.held())
            assert a.owns(key) != b.owns(key)


class _Recorder:
    watchable = True
    scopes = (None,)

    def __init__(self) -> None:
        self.patched: list[str] = []

    async def patch(self, namespace: str, name: str, patch: dict[str, Any]) -> Any:
        self.patched.append(f"{namespace}/{name}")
        return {}


async def test_a_patch_for_a_shard_no_longer_held_is_refused_before_it_is_sent() -> None:
    recorder = _Recorder()
    held = {"argocd/mine"}
    fenced = FencedApplications(recorder, held.__contains__)  # type: ignore[arg-type]
    await fenced.patch("argocd", "mine", {})
    with pytest.raises(ShardLost, match="argocd/theirs"):
        await fenced.patch("argocd", "theirs", {})
    assert recorder.patched == ["argocd/mine"]


async def test_a_replica_stops_owning_as_soon_as_its_renewals_pass_the_deadline(
    cluster: kube.KubeClient, kube_api: KubeAPI
) -> None:
    a = coordinator(cluster, "a", shards=1)
    await a.start()
    assert a.owns("argocd/app")
    # No renewals (the loop is not running): by its own clock, the fence closes first.
    await asyncio.sleep(TIMING.renew_deadline + 0.1)
    assert not a.owns("argocd/app")
    assert holders(kube_api, 1) == ["a"]  # the lease itself is not expired yet


async def test_auto_reads_the_shard_count_from_the_deployments_replicas(
    cluster: kube.KubeClient, kube_api: KubeAPI
) -> None:
    kube_api.store.put(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "image-updater-reconciler", "namespace": NAMESPACE},
            "spec": {"replicas": 4},
        }
    )
    a = coordinator(cluster, "a", shards=None)
    async with running(a):
        assert a.count == 4
        await settle(lambda: len(a.held()) == 4)


async def test_auto_without_the_deployment_says_which_one_it_looked_for(
    cluster: kube.KubeClient,
) -> None:
    with pytest.raises(
        InvalidInput, match=r"argocd/image-updater-reconciler \(--shards-workload\)"
    ):
        await coordinator(cluster, "a", shards=None).start()


async def test_the_emulator_refuses_a_lease_update_from_a_stale_resource_version(
    cluster: kube.KubeClient,
) -> None:
    elector = LeaderElector(cluster, namespace=NAMESPACE, name="l", identity="a")
    assert await elector.try_acquire_or_renew()
    stale = await cluster.get(kube.LEASES, NAMESPACE, "l")
    assert await elector.try_acquire_or_renew()  # a renewal moves the resourceVersion
    stale["spec"]["holderIdentity"] = "b"
    with pytest.raises(KubeConflict):
        await cluster.replace(kube.LEASES, NAMESPACE, stale)
    del stale["metadata"]["resourceVersion"]
    with pytest.raises(KubeConflict):  # two replicas creating the same lease: one wins
        await cluster.create(kube.LEASES, NAMESPACE, stale)
