"""The control loop: prompt reaction to changes, relists, once mode, and leader hand-over."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from devcluster.kubeapi import KubeAPI
from devcluster.registry import LocalRegistry
from imageupdater import kube
from reconciler.apps_api import KubeApplications
from reconciler.controller import Controller, ControllerSettings
from reconciler.cycle import Cycle, CycleResult
from reconciler.leader import LeaderElector
from reconciler.metrics import ReconcilerMetrics
from tests.kube_activity import KubeActivity
from tests.reconciler.conftest import PREFIX, application, stored
from tests.waiting import async_wait_until


class ObservedController(Controller):
    """A Controller that announces every finished cycle, so a test waits for the cycle (or for
    what a cycle writes) instead of polling for it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cycle_done = asyncio.Condition()
        self.triggers: list[str] = []

    async def run_once(self, *args: Any, **kwargs: Any) -> CycleResult:
        self.triggers.append(kwargs.get("trigger", args[0] if args else "resync"))
        result = await super().run_once(*args, **kwargs)
        async with self._cycle_done:
            self._cycle_done.notify_all()
        return result

    async def after_a_cycle(self, check: Callable[[], bool], what: str, within: float = 5) -> None:
        """Return once ``check`` holds, looking again each time a cycle finishes."""
        try:
            async with asyncio.timeout(within), self._cycle_done:
                await self._cycle_done.wait_for(check)
        except TimeoutError:
            raise AssertionError(f"no cycle within {within}s made true: {what}") from None


async def leading(elector: LeaderElector, within: float = 5) -> None:
    """Return once ``elector`` leads, woken by its ``changed`` event."""
    try:
        async with asyncio.timeout(within):
            while not elector.is_leader():
                elector.changed.clear()
                await elector.changed.wait()
    except TimeoutError:
        raise AssertionError(f"{elector.identity} did not become the leader in {within}s") from None


def images_of(api: KubeAPI, name: str) -> list[str]:
    return list(stored(api, name)["spec"]["source"].get("kustomize", {}).get("images", []))


async def test_a_changed_annotation_is_processed_promptly_not_an_interval_later(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    cluster: kube.KubeClient,
    registry: LocalRegistry,
    make_cycle: Callable[..., Cycle],
    metrics: ReconcilerMetrics,
) -> None:
    image = await seeded(["1.0.0", "1.1.0", "2.0.0"])
    kube_api.store.put(
        application("watched", {"image-list": f"{image}:~1.0"}, images=[f"{image}:1.0.0"])
    )
    api = KubeApplications(cluster, metrics)
    controller = ObservedController(
        api=api,
        cycle=make_cycle(api=api),
        metrics=metrics,
        settings=ControllerSettings(interval=3600, debounce=0.05),
    )
    task = asyncio.create_task(controller.run())
    try:
        await controller.after_a_cycle(lambda: len(controller.cycles) == 1, "the first resync")
        assert images_of(kube_api, "watched") == []  # ~1.0 allows only 1.0.0, which runs
        await cluster.patch(
            kube.APPLICATIONS,
            "argocd",
            "watched",
            {"metadata": {"annotations": {PREFIX + "image-list": f"{image}:1.x"}}},
        )
        await controller.after_a_cycle(
            lambda: images_of(kube_api, "watched") == [f"{image}:1.1.0"],
            "the changed annotation's update to 1.1.0",
        )
        assert controller.cycles[-1].images_updated == 1
        assert (
            metrics.registry.get_sample_value(
                "argocd_image_updater_applications_watched_total",
                {"image_updater_cr_name": "", "image_updater_cr_namespace": ""},
            )
            == 1.0
        )
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_interval_zero_runs_one_cycle_and_returns(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    cluster: kube.KubeClient,
    make_cycle: Callable[..., Cycle],
    metrics: ReconcilerMetrics,
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(application("once", {"image-list": image}, images=[f"{image}:1.0.0"]))
    kube_api.store.put(application("ignored", {"image-list": image}, images=[f"{image}:1.0.0"]))
    api = KubeApplications(cluster, metrics)
    controller = Controller(
        api=api,
        cycle=make_cycle(api=api),
        metrics=metrics,
        settings=ControllerSettings(interval=0, name_patterns=["on*"]),
    )
    await asyncio.wait_for(controller.run(), 10)
    assert images_of(kube_api, "once") == [f"{image}:1.1.0"]
    assert images_of(kube_api, "ignored") == []


async def test_only_the_leader_writes_and_a_follower_takes_over(
    kube_api: KubeAPI, cluster: kube.KubeClient
) -> None:
    def elector(identity: str) -> LeaderElector:
        return LeaderElector(
            cluster,
            namespace="argocd",
            name="image-updater-leader",
            identity=identity,
            lease_duration=1.0,
            renew_deadline=0.6,
            retry_period=0.1,
        )

    first, second = elector("replica-a"), elector("replica-b")
    run_first = asyncio.create_task(first.run())
    await leading(first)
    # The lease is held and renewed: not the follower's to take.
    assert not await second.try_acquire_or_renew()
    assert first.is_leader() and not second.is_leader()
    run_second = asyncio.create_task(second.run())
    run_first.cancel()  # the leader goes away (and releases the lease)
    with contextlib.suppress(asyncio.CancelledError):
        await run_first
    assert not first.is_leader()
    await leading(second, within=3)
    lease: dict[str, Any] = await cluster.get(kube.LEASES, "argocd", "image-updater-leader")
    assert lease["spec"]["holderIdentity"] == "replica-b"
    run_second.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await run_second


async def test_a_leader_that_cannot_renew_stops_writing_before_the_lease_expires(
    kube_api: KubeAPI, cluster: kube.KubeClient
) -> None:
    clock = [100.0]
    leader = LeaderElector(
        cluster,
        namespace="argocd",
        name="lease",
        identity="a",
        lease_duration=15,
        renew_deadline=10,
        retry_period=2,
        monotonic=lambda: clock[0],
    )
    assert await leader.try_acquire_or_renew()
    assert leader.is_leader()
    kube_api.faults.inject(verb="get", resource="leases", status=500, times=10)
    clock[0] += 5
    await leader.try_acquire_or_renew()
    assert leader.is_leader()  # within the renew deadline
    clock[0] += 6
    assert not leader.is_leader()  # 11 s since the last renewal: fenced, no more writes


async def test_an_expired_watch_relists_and_keeps_reacting(
    kube_api: KubeAPI,
    kube_activity: KubeActivity,
    seeded: Callable[[list[str]], Awaitable[str]],
    cluster: kube.KubeClient,
    make_cycle: Callable[..., Cycle],
    metrics: ReconcilerMetrics,
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(
        application("relisted", {"image-list": f"{image}:1.0.0"}, images=[f"{image}:1.0.0"])
    )
    kube_api.faults.inject(verb="watch", resource="applications", status=410, times=1)
    api = KubeApplications(cluster, metrics)
    controller = ObservedController(
        api=api,
        cycle=make_cycle(api=api),
        metrics=metrics,
        settings=ControllerSettings(interval=3600, debounce=0.05),
    )
    task = asyncio.create_task(controller.run())
    try:
        # Listed, watched (410), relisted, and watching again: a change now must come through
        # the new watch.
        await kube_activity.until(
            lambda: (
                kube_api.requests.count(verb="list", resource="applications") >= 2
                and kube_api.store.watchers >= 1
            ),
            "relist and new watch after the 410",
        )
        await controller.after_a_cycle(lambda: len(controller.cycles) >= 1, "the first resync")
        await cluster.patch(
            kube.APPLICATIONS,
            "argocd",
            "relisted",
            {"metadata": {"annotations": {PREFIX + "image-list": image}}},
        )
        await controller.after_a_cycle(
            lambda: images_of(kube_api, "relisted") == [f"{image}:1.1.0"],
            "the update to 1.1.0 seen through the new watch",
        )
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_its_own_patch_coming_back_through_the_watch_starts_no_cycle(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    cluster: kube.KubeClient,
    make_cycle: Callable[..., Cycle],
    metrics: ReconcilerMetrics,
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(application("own", {"image-list": image}, images=[f"{image}:1.0.0"]))
    api = KubeApplications(cluster, metrics)
    controller = ObservedController(
        api=api,
        cycle=make_cycle(api=api),
        metrics=metrics,
        settings=ControllerSettings(interval=3600, debounce=0.05),
    )
    task = asyncio.create_task(controller.run())
    try:
        await controller.after_a_cycle(
            lambda: images_of(kube_api, "own") == [f"{image}:1.1.0"], "the first cycle's write"
        )
        written = stored(kube_api, "own")["metadata"]["resourceVersion"]
        # The write's watch event arrives (the index holds it) without queueing a cycle.
        await async_wait_until(
            lambda: controller.index["argocd/own"]["metadata"]["resourceVersion"] == written,
            within=5,
            what="the write's watch event",
        )
        await asyncio.sleep(0.3)  # several debounce periods
        assert len(controller.cycles) == 1
        # Someone else's change is still processed.
        await cluster.patch(
            kube.APPLICATIONS,
            "argocd",
            "own",
            {"metadata": {"annotations": {PREFIX + "update-strategy": "semver"}}},
        )
        await controller.after_a_cycle(lambda: len(controller.cycles) == 2, "a cycle for the edit")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class SlowPatchAnswers:
    """The cluster client, but each patch's answer reaches the caller only after its watch
    event has: what a busy API server or a slow network does to a reconciler."""

    def __init__(self, client: kube.KubeClient, delay: float) -> None:
        self._client = client
        self._delay = delay

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def patch(self, *args: Any, **kwargs: Any) -> Any:
        answer = await self._client.patch(*args, **kwargs)
        await asyncio.sleep(self._delay)
        return answer


async def test_its_own_patch_seen_before_the_patch_answers_starts_no_cycle(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    cluster: kube.KubeClient,
    make_cycle: Callable[..., Cycle],
    metrics: ReconcilerMetrics,
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(application("echo", {"image-list": image}, images=[f"{image}:1.0.0"]))
    api = KubeApplications(SlowPatchAnswers(cluster, 0.2), metrics)  # type: ignore[arg-type]
    controller = ObservedController(
        api=api,
        cycle=make_cycle(api=api),
        metrics=metrics,
        settings=ControllerSettings(interval=3600, debounce=0.3),
    )
    task = asyncio.create_task(controller.run())
    try:
        await controller.after_a_cycle(
            lambda: images_of(kube_api, "echo") == [f"{image}:1.1.0"], "the first cycle's write"
        )
        await asyncio.sleep(1.0)  # past the watch event, the answer and the debounce
        assert controller.triggers == ["resync"]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_push_asked_for_while_changes_wait_out_their_debounce_runs_at_once(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    cluster: kube.KubeClient,
    make_cycle: Callable[..., Cycle],
    metrics: ReconcilerMetrics,
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    for name in ("edited", "pushed"):
        kube_api.store.put(
            application(name, {"image-list": f"{image}:1.0.0"}, images=[f"{image}:1.0.0"])
        )
    api = KubeApplications(cluster, metrics)
    controller = ObservedController(
        api=api,
        cycle=make_cycle(api=api),
        metrics=metrics,
        settings=ControllerSettings(interval=3600, debounce=30),
    )
    task = asyncio.create_task(controller.run())
    try:
        await controller.after_a_cycle(lambda: len(controller.cycles) == 1, "the first resync")
        await cluster.patch(
            kube.APPLICATIONS,
            "argocd",
            "edited",
            {"metadata": {"annotations": {PREFIX + "image-list": image}}},
        )
        await async_wait_until(
            lambda: "argocd/edited" in controller._dirty, within=5, what="the edit's watch event"
        )
        kube_api.store.put(application("pushed", {"image-list": image}, images=[f"{image}:1.0.0"]))
        result = await asyncio.wait_for(controller.run_for(["argocd/pushed"]), timeout=10)
        assert result is not None and result.applications == 1
        assert controller.triggers == ["resync", "push"]
        assert images_of(kube_api, "edited") == []  # its change still waits for the debounce
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
