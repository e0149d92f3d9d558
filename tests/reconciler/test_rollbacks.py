"""Rollbacks in the reconciler, end to end against the emulated cluster and the real local
registry.

A revert by someone else (the running version drops below the one the updater last wrote) is
left alone and held with the reason; releasing the hold, or with the opt-in a newer version,
resumes updates. An update under a health gate is written back to the previous version when
the Application degrades or its sync fails within the window, and marked verified when it
stays Healthy through it."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any

from devcluster.kubeapi import KubeAPI
from devcluster.seeder import ImageSeeder
from imageupdater import kube
from imageupdater.registries_conf import RegistriesConf
from imageupdater.service import ResolverService
from reconciler.apps_api import KubeApplications
from reconciler.controller import ControllerSettings
from reconciler.cycle import Cycle, CycleSettings
from reconciler.events import EventRecorder
from reconciler.metrics import ReconcilerMetrics
from tests.reconciler.conftest import application, stored
from tests.reconciler.test_controller import ObservedController

HOLD = "image-updater.io/hold.web"
RECORD = "image-updater.io/last-written"
REASON = "rolled back from 1.1.0 to 1.0.0 by someone else"
T0 = dt.datetime(2026, 3, 20, 12, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def events(api: KubeAPI, reason: str) -> list[dict[str, Any]]:
    return [e for e in api.store.list("", None, "events", "argocd") if e.get("reason") == reason]


def annotations(api: KubeAPI, name: str = "shop") -> dict[str, str]:
    found: dict[str, str] = stored(api, name)["metadata"]["annotations"]
    return found


def record(api: KubeAPI, name: str = "shop") -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(annotations(api, name)[RECORD])
    return raw


def kustomize_images(api: KubeAPI, name: str = "shop") -> list[str] | None:
    images: list[str] | None = stored(api, name)["spec"]["source"]["kustomize"].get("images")
    return images


def set_running(api: KubeAPI, image: str, tag: str, *, override: bool = True) -> None:
    """What a human's revert (or Argo CD syncing one from git) leaves in the Application."""
    app = stored(api, "shop")
    if override:
        app["spec"]["source"]["kustomize"]["images"] = [f"{image}:{tag}"]
    app["status"]["summary"]["images"] = [f"{image}:{tag}"]
    api.store.put(app)


def set_status(
    api: KubeAPI, health: str, *, phase: str | None = None, started: dt.datetime | None = None
) -> None:
    """What Argo CD reports after syncing: health, sync status, the last operation."""
    app = stored(api, "shop")
    app["status"]["health"] = {"status": health}
    app["status"]["sync"] = {"status": "Synced" if phase != "Failed" else "OutOfSync"}
    if phase is not None:
        app["status"]["operationState"] = {
            "phase": phase,
            "startedAt": (started or T0).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "syncResult": {"revision": "abc"},
        }
    api.store.put(app)


async def fresh_cycle(
    conf: RegistriesConf,
    cluster: kube.KubeClient,
    metrics: ReconcilerMetrics,
    apps: list[dict[str, Any]],
) -> Any:
    """One cycle with a resolver of its own: it sees tags pushed after the shared one
    cached the tag list."""
    async with ResolverService(conf) as resolver:
        cycle = Cycle(
            api=KubeApplications(cluster, metrics),
            resolve=resolver.resolve,
            metrics=metrics,
            events=EventRecorder(cluster),
            settings=CycleSettings(),
            clock=Clock(),
        )
        return await cycle.run(apps)


def rollbacks(metrics: ReconcilerMetrics, reason: str) -> float | None:
    return metrics.registry.get_sample_value(
        "image_updater_rollbacks_total", {"application": "argocd/shop", "reason": reason}
    )


async def updated_once(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    cycle: Cycle,
    extra: dict[str, str] | None = None,
    tags: tuple[str, ...] = ("1.0.0", "1.1.0"),
) -> str:
    """An Application the updater moved from 1.0.0 to 1.1.0 (the record written with it)."""
    image = await seeded(list(tags))
    app = application("shop", {"image-list": f"web={image}"}, images=[f"{image}:1.0.0"])
    app["metadata"]["annotations"].update(extra or {})
    kube_api.store.put(app)
    result = await cycle.run([stored(kube_api, "shop")])
    assert result.images_updated == 1
    assert kustomize_images(kube_api) == [f"{image}:1.1.0"]
    set_running(kube_api, image, "1.1.0", override=False)
    return image


# -- item 5: a revert by someone else is respected -------------------------------------------


async def test_the_update_records_what_was_written_in_the_same_patch(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
) -> None:
    clock = Clock()
    await updated_once(kube_api, seeded, make_cycle(clock=clock))
    patches = kube_api.requests.count(verb="patch", resource="applications")
    assert patches == 1
    assert record(kube_api) == {
        "web": {
            "version": "1.1.0",
            "previous": "1.0.0",
            "at": "2026-03-20T12:00:00Z",
            "seen": "2026-03-20T12:00:00Z",
            "state": "written",
        }
    }


async def test_a_manual_downgrade_in_the_application_is_left_alone_and_held_with_the_reason(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
    metrics: ReconcilerMetrics,
) -> None:
    cycle = make_cycle(clock=Clock())
    image = await updated_once(kube_api, seeded, cycle)
    set_running(kube_api, image, "1.0.0")
    result = await cycle.run([stored(kube_api, "shop")])
    assert (result.images_updated, result.patches) == (0, 0)
    assert kustomize_images(kube_api) == [f"{image}:1.0.0"]
    assert annotations(kube_api)[HOLD] == REASON
    assert record(kube_api)["web"]["state"] == "reverted"
    [event] = events(kube_api, "RollbackDetected")
    assert event["message"] == REASON
    assert rollbacks(metrics, "manual") == 1
    # The next cycle sees the hold like any other.
    result = await cycle.run([stored(kube_api, "shop")])
    assert result.images_updated == 0
    assert kustomize_images(kube_api) == [f"{image}:1.0.0"]
    [held] = events(kube_api, "UpdateHeld")
    assert held["message"] == f"image 'web' is held: {REASON}"
    assert rollbacks(metrics, "manual") == 1


async def test_a_released_rollback_hold_lets_the_next_cycle_update_again(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
) -> None:
    cycle = make_cycle(clock=Clock())
    image = await updated_once(kube_api, seeded, cycle)
    set_running(kube_api, image, "1.0.0")
    await cycle.run([stored(kube_api, "shop")])
    released = stored(kube_api, "shop")
    del released["metadata"]["annotations"][HOLD]
    kube_api.store.put(released)
    result = await cycle.run([stored(kube_api, "shop")])
    assert result.images_updated == 1
    assert kustomize_images(kube_api) == [f"{image}:1.1.0"]
    assert record(kube_api)["web"]["state"] == "written"
    assert HOLD not in annotations(kube_api)


async def test_with_the_opt_in_a_version_newer_than_the_reverted_one_resumes_updates(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    seeder: ImageSeeder,
    unique_repo: str,
    make_cycle: Callable[..., Cycle],
    conf: RegistriesConf,
    cluster: kube.KubeClient,
    metrics: ReconcilerMetrics,
) -> None:
    cycle = make_cycle(clock=Clock())
    opt_in = {"image-updater.io/resume-after-rollback": "newer"}
    image = await updated_once(kube_api, seeded, cycle, opt_in)
    set_running(kube_api, image, "1.0.0")
    await cycle.run([stored(kube_api, "shop")])
    assert annotations(kube_api)[HOLD] == REASON
    # 1.1.0, the reverted version, is still the newest: it stays held.
    result = await cycle.run([stored(kube_api, "shop")])
    assert result.images_updated == 0
    assert kustomize_images(kube_api) == [f"{image}:1.0.0"]
    await seeder.push(unique_repo, "1.2.0")
    result = await fresh_cycle(conf, cluster, metrics, [stored(kube_api, "shop")])
    assert result.images_updated == 1
    assert kustomize_images(kube_api) == [f"{image}:1.2.0"]
    assert HOLD not in annotations(kube_api)
    assert record(kube_api)["web"]["version"] == "1.2.0"


async def test_without_the_opt_in_a_newer_version_does_not_end_the_rollback_hold(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    seeder: ImageSeeder,
    unique_repo: str,
    make_cycle: Callable[..., Cycle],
    conf: RegistriesConf,
    cluster: kube.KubeClient,
    metrics: ReconcilerMetrics,
) -> None:
    cycle = make_cycle(clock=Clock())
    image = await updated_once(kube_api, seeded, cycle)
    set_running(kube_api, image, "1.0.0")
    await cycle.run([stored(kube_api, "shop")])
    await seeder.push(unique_repo, "1.2.0")
    result = await fresh_cycle(conf, cluster, metrics, [stored(kube_api, "shop")])
    assert result.images_updated == 0
    assert annotations(kube_api)[HOLD] == REASON


async def test_a_git_side_revert_seen_through_the_live_images_is_held_the_same_way(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
    metrics: ReconcilerMetrics,
) -> None:
    # The overrides live in git: the Application carries only the record, and what runs is
    # what Argo CD reports live.
    image = await seeded(["1.0.0", "1.1.0"])
    app = application("shop", {"image-list": f"web={image}"}, images=[f"{image}:1.0.0"])
    app["metadata"]["annotations"][RECORD] = json.dumps(
        {"web": {"version": "1.1.0", "previous": "1.0.0", "at": "2026-03-20T11:00:00Z",
                 "seen": "2026-03-20T11:05:00Z", "state": "written"}}
    )  # fmt: skip
    kube_api.store.put(app)
    result = await make_cycle(clock=Clock()).run([stored(kube_api, "shop")])
    assert result.images_updated == 0
    assert kustomize_images(kube_api) is None
    assert annotations(kube_api)[HOLD] == REASON
    assert rollbacks(metrics, "manual") == 1


async def test_a_git_write_not_yet_seen_running_is_not_taken_for_a_revert(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    app = application(
        "shop",
        {"image-list": f"web={image}", "write-back-method": "git"},
        images=[f"{image}:1.0.0"],
    )
    app["metadata"]["annotations"][RECORD] = json.dumps(
        {"web": {"version": "1.1.0", "previous": "1.0.0", "at": "2026-03-20T11:00:00Z",
                 "state": "written"}}
    )  # fmt: skip
    kube_api.store.put(app)
    cycle = make_cycle(clock=Clock(), writers={"git": _NoGit()})
    await cycle.run([stored(kube_api, "shop")])
    assert HOLD not in annotations(kube_api)
    # Once Argo CD shows it running, the record says so: a later drop is a revert.
    set_running(kube_api, image, "1.1.0", override=False)
    await cycle.run([stored(kube_api, "shop")])
    assert record(kube_api)["web"]["seen"] == "2026-03-20T12:00:00Z"
    assert HOLD not in annotations(kube_api)


async def test_under_dry_run_a_revert_is_held_back_but_nothing_is_written(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
) -> None:
    image = await updated_once(kube_api, seeded, make_cycle(clock=Clock()))
    set_running(kube_api, image, "1.0.0")
    before = kube_api.requests.count(verb="patch", resource="applications")
    result = await make_cycle(clock=Clock(), dry_run=True).run([stored(kube_api, "shop")])
    assert result.images_updated == 0
    assert kube_api.requests.count(verb="patch", resource="applications") == before
    assert HOLD not in annotations(kube_api)
    assert events(kube_api, "RollbackDetected") == []


class _NoGit:
    """A git writer that records nothing: enough for tests that never reach a push."""

    streaming = False
    previews = False

    async def write(self, changes: Any, context: Any) -> list[Any]:
        from reconciler.writeback import Skipped

        return [Skipped(change.work, "gone", change.plan) for change in changes]

    async def preview(self, changes: Any) -> None:
        return None


# -- item 6: health-gated updates ------------------------------------------------------------

GATED = {"image-updater.io/rollback-on-degraded": "true"}
ROLLED = "rolled back from 1.1.0 to 1.0.0: the Application became Degraded after the update"


async def test_an_opted_in_update_is_watched_for_its_window(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
) -> None:
    clock = Clock()
    await updated_once(kube_api, seeded, make_cycle(clock=clock), GATED)
    web = record(kube_api)["web"]
    assert (web["state"], web["window"], web["previous"]) == ("watching", 600, "1.0.0")


async def test_degraded_within_the_window_writes_the_previous_version_back_and_holds_it(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
    metrics: ReconcilerMetrics,
) -> None:
    clock = Clock()
    cycle = make_cycle(clock=clock)
    image = await updated_once(kube_api, seeded, cycle, GATED)
    set_status(kube_api, "Degraded")
    clock.advance(minutes=3)
    result = await cycle.run([stored(kube_api, "shop")])
    assert result.patches == 1
    assert kustomize_images(kube_api) == [f"{image}:1.0.0"]
    assert annotations(kube_api)[HOLD] == ROLLED
    web = record(kube_api)["web"]
    assert (web["state"], web["version"], web["previous"]) == ("rolled-back", "1.0.0", "1.1.0")
    [event] = events(kube_api, "UpdateRolledBack")
    assert (event["type"], event["message"]) == ("Warning", ROLLED)
    assert rollbacks(metrics, "degraded") == 1
    # Held from now on, and what was written back is not taken for someone else's revert.
    result = await cycle.run([stored(kube_api, "shop")])
    assert result.patches == 0
    assert kustomize_images(kube_api) == [f"{image}:1.0.0"]
    assert events(kube_api, "RollbackDetected") == []


async def test_degraded_after_the_window_rolls_nothing_back(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
    metrics: ReconcilerMetrics,
) -> None:
    clock = Clock()
    cycle = make_cycle(clock=clock)
    image = await updated_once(kube_api, seeded, cycle, GATED)
    set_status(kube_api, "Degraded")
    clock.advance(minutes=11)
    await cycle.run([stored(kube_api, "shop")])
    assert kustomize_images(kube_api) == [f"{image}:1.1.0"]
    assert HOLD not in annotations(kube_api)
    assert record(kube_api)["web"]["state"] == "unverified"
    assert events(kube_api, "UpdateRolledBack") == []
    assert rollbacks(metrics, "degraded") is None


async def test_a_failed_sync_within_the_window_rolls_back(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
    metrics: ReconcilerMetrics,
) -> None:
    clock = Clock()
    cycle = make_cycle(clock=clock)
    image = await updated_once(kube_api, seeded, cycle, GATED)
    set_status(kube_api, "Progressing", phase="Failed", started=T0 + dt.timedelta(seconds=20))
    clock.advance(minutes=1)
    await cycle.run([stored(kube_api, "shop")])
    assert kustomize_images(kube_api) == [f"{image}:1.0.0"]
    assert annotations(kube_api)[HOLD] == (
        "rolled back from 1.1.0 to 1.0.0: its sync failed after the update"
    )
    assert rollbacks(metrics, "sync_failed") == 1


async def test_a_sync_that_failed_before_the_update_is_not_its_doing(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
) -> None:
    clock = Clock()
    cycle = make_cycle(clock=clock)
    image = await updated_once(kube_api, seeded, cycle, GATED)
    set_status(kube_api, "Healthy", phase="Failed", started=T0 - dt.timedelta(hours=1))
    clock.advance(minutes=1)
    await cycle.run([stored(kube_api, "shop")])
    assert kustomize_images(kube_api) == [f"{image}:1.1.0"]


async def test_healthy_through_the_window_is_verified_and_not_rolled_back(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
) -> None:
    clock = Clock()
    cycle = make_cycle(clock=clock)
    image = await updated_once(kube_api, seeded, cycle, GATED)
    set_status(kube_api, "Healthy", phase="Succeeded")
    clock.advance(minutes=5)
    result = await cycle.run([stored(kube_api, "shop")])
    # Still watched: the controller is asked back for the window's end.
    assert result.retry_at == T0 + dt.timedelta(minutes=10)
    assert record(kube_api)["web"]["state"] == "watching"
    clock.advance(minutes=6)
    await cycle.run([stored(kube_api, "shop")])
    assert kustomize_images(kube_api) == [f"{image}:1.1.0"]
    assert record(kube_api)["web"]["state"] == "verified"
    [event] = events(kube_api, "UpdateVerified")
    assert event["type"] == "Normal"
    assert "stayed Healthy through its rollback window" in event["message"]
    assert events(kube_api, "UpdateRolledBack") == []


async def test_under_dry_run_a_degraded_update_is_not_written_back(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
) -> None:
    clock = Clock()
    image = await updated_once(kube_api, seeded, make_cycle(clock=clock), GATED)
    set_status(kube_api, "Degraded")
    clock.advance(minutes=2)
    before = kube_api.requests.count(verb="patch", resource="applications")
    await make_cycle(clock=clock, dry_run=True).run([stored(kube_api, "shop")])
    assert kube_api.requests.count(verb="patch", resource="applications") == before
    assert kustomize_images(kube_api) == [f"{image}:1.1.0"]
    assert events(kube_api, "UpdateRolledBack") == []


async def test_an_application_without_the_opt_in_is_never_rolled_back(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
) -> None:
    clock = Clock()
    cycle = make_cycle(clock=clock)
    image = await updated_once(kube_api, seeded, cycle)
    set_status(kube_api, "Degraded")
    clock.advance(minutes=1)
    await cycle.run([stored(kube_api, "shop")])
    assert kustomize_images(kube_api) == [f"{image}:1.1.0"]


async def test_the_controller_answers_a_watched_update_degrading_at_once(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    cluster: kube.KubeClient,
    make_cycle: Callable[..., Cycle],
    metrics: ReconcilerMetrics,
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    app = application("shop", {"image-list": f"web={image}"}, images=[f"{image}:1.0.0"])
    app["metadata"]["annotations"].update(GATED)
    kube_api.store.put(app)
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
            lambda: kustomize_images(kube_api) == [f"{image}:1.1.0"], "the update to 1.1.0"
        )
        set_running(kube_api, image, "1.1.0", override=False)
        seen = len(controller.cycles)
        await controller.after_a_cycle(lambda: len(controller.cycles) > seen, "the live images")
        # Only the health changes now: that alone must start a cycle.
        set_status(kube_api, "Degraded")
        await controller.after_a_cycle(
            lambda: kustomize_images(kube_api) == [f"{image}:1.0.0"], "the rollback to 1.0.0"
        )
        assert annotations(kube_api)[HOLD] == ROLLED
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
