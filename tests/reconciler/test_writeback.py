"""The write-back seam: the pure decision, the writers, and a batch writer's whole cycle."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from devcluster.kubeapi import KubeAPI
from imageupdater import syncwindows
from imageupdater.application import SourceRef
from imageupdater.choice import ChosenImage
from imageupdater.images import ImageRef
from imageupdater.plan import plan_overrides
from imageupdater.policy import AppConfig, ImagePolicy
from reconciler.cycle import Cycle
from reconciler.work import AppWork
from reconciler.writeback import (
    Blocked,
    Deferred,
    Outcome,
    Planned,
    Skipped,
    WriteContext,
    Written,
    decide,
)
from tests.reconciler.conftest import application, stored

NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
WEB = ImagePolicy(image=ImageRef.parse("ghcr.io/acme/web"))


def work(app: dict[str, Any]) -> AppWork:
    return AppWork(app, AppConfig((WEB,)), SourceRef("Kustomize", None), [])  # type: ignore[arg-type]


def deny_all() -> tuple[syncwindows.SyncWindow, ...]:
    project = {
        "metadata": {"name": "default"},
        "spec": {
            "syncWindows": [
                {"kind": "deny", "schedule": "* * * * *", "duration": "1h", "applications": ["*"]}
            ]
        },
    }
    return syncwindows.parse_windows(project)


def planned_for(tag: str) -> tuple[AppWork, Any]:
    app = application("web", {"image-list": "ghcr.io/acme/web"})
    item = work(app)
    return item, plan_overrides(item.app, item.source, [ChosenImage(WEB, tag)])


@pytest.mark.parametrize(
    ("windows", "dry_run", "leader", "expected"),
    [
        pytest.param((), False, True, Planned, id="allowed-and-leading-is-planned"),
        pytest.param("cannot read", False, True, Blocked, id="unreadable-windows-block"),
        pytest.param("deny", False, True, Deferred, id="a-deny-window-defers"),
        pytest.param((), True, True, Skipped, id="a-dry-run-skips"),
        pytest.param((), False, False, Skipped, id="a-follower-skips"),
        # The order matters: a freeze is reported even in a dry run or on a follower.
        pytest.param("deny", True, False, Deferred, id="a-window-wins-over-dry-run"),
    ],
)
def test_a_planned_change_is_decided_by_windows_then_dry_run_then_leadership(
    windows: Any, dry_run: bool, leader: bool, expected: type
) -> None:
    item, plan = planned_for("1.1.0")
    given = deny_all() if windows == "deny" else windows
    decision = decide(item, plan, given, NOW, dry_run=dry_run, leader=leader)
    assert type(decision) is expected
    if isinstance(decision, Skipped):
        assert decision.why == ("dry-run" if dry_run else "not-leader")


def test_a_plan_that_changes_nothing_is_skipped_before_anything_is_read() -> None:
    item, plan = planned_for("1.1.0")
    item.app["spec"]["source"] = plan.new_source
    unchanged = plan_overrides(item.app, item.source, [ChosenImage(WEB, "1.1.0")])
    decision = decide(item, unchanged, "never read", NOW, dry_run=False, leader=True)
    assert decision == Skipped(item, "unchanged", unchanged)


class RecordingBatchWriter:
    """A batch writer that records what it was handed and reports each change written."""

    streaming = False

    def __init__(self) -> None:
        self.calls: list[list[Planned]] = []

    async def write(self, changes: Sequence[Planned], context: WriteContext) -> list[Outcome]:
        self.calls.append(list(changes))
        return [Written(change.work, change.plan) for change in changes]


async def test_a_batch_writer_gets_the_whole_cycles_changes_in_one_call(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    names = ["a", "b", "c"]
    for name in names:
        kube_api.store.put(application(name, {"image-list": image}, images=[f"{image}:1.0.0"]))
    kube_api.store.put(application("current", {"image-list": image}, images=[f"{image}:1.1.0"]))
    writer = RecordingBatchWriter()
    cycle = make_cycle(writers={"argocd": writer})

    result = await cycle.run([stored(kube_api, n) for n in [*names, "current"]])

    (batch,) = writer.calls
    assert sorted(change.work.app["metadata"]["name"] for change in batch) == names
    assert all(str(c.plan.changes[0].new) == "1.1.0" for c in batch)
    # The cycle accounts for what the writer reports, as for any writer.
    assert (result.patches, result.images_updated) == (3, 3)
    # The recording writer wrote nothing to the cluster: the cycle wrote only each
    # Application's record of the update, before handing it on (reconciler.rollbacks).
    assert kube_api.requests.count(verb="patch", resource="applications") == 3
    for name in names:
        app = stored(kube_api, name)
        assert "images" not in app["spec"]["source"]["kustomize"]
        assert "image-updater.io/last-written" in app["metadata"]["annotations"]
    reasons = [e["reason"] for e in kube_api.store.list("", None, "events", "argocd")]
    assert reasons.count("ImagesUpdated") == 3


async def test_an_application_whose_method_has_no_writer_is_skipped(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(
        application(
            "gitops",
            {"image-list": image, "write-back-method": "git"},
            images=[f"{image}:1.0.0"],
        )
    )
    cycle = make_cycle()
    result = await cycle.run([stored(kube_api, "gitops")])
    assert (result.applications, result.images_skipped, result.patches) == (0, 1, 0)


async def test_a_configuration_warning_becomes_a_warning_event_until_it_is_fixed(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    paused = {"image-list": f"web={image}", "web.ignore-tags": "*"}
    kube_api.store.put(application("paused", paused, images=[f"{image}:1.0.0"]))
    cycle = make_cycle()
    await cycle.run([stored(kube_api, "paused")])
    warnings = [
        e
        for e in kube_api.store.list("", None, "events", "argocd")
        if e["reason"] == "ConfigurationWarning"
    ]
    (event,) = warnings
    assert event["type"] == "Warning"
    assert event["message"] == "image 'web': ignore-tags '*' ignores every tag, updates are paused"

    fixed = stored(kube_api, "paused")
    del fixed["metadata"]["annotations"]["argocd-image-updater.argoproj.io/web.ignore-tags"]
    kube_api.store.put(fixed)
    writes = kube_api.requests.count(resource="events")
    await cycle.run([stored(kube_api, "paused")])
    await cycle.run([stored(kube_api, "paused")])
    # Forgotten once gone: the next cycles write no more ConfigurationWarning.
    later = [
        e
        for e in kube_api.store.list("", None, "events", "argocd")
        if e["reason"] == "ConfigurationWarning"
    ]
    assert later[0]["count"] == event["count"]
    assert kube_api.requests.count(resource="events") - writes <= 1  # the ImagesUpdated Event


async def test_a_mistyped_rollback_opt_in_is_a_configuration_warning_saying_what_applies(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    app = application("gated", {"image-list": f"web={image}"}, images=[f"{image}:1.0.0"])
    app["metadata"]["annotations"]["image-updater.io/rollback-on-degraded"] = "maybe"
    kube_api.store.put(app)
    await make_cycle().run([stored(kube_api, "gated")])
    (event,) = [
        e
        for e in kube_api.store.list("", None, "events", "argocd")
        if e["reason"] == "ConfigurationWarning"
    ]
    assert "image-updater.io/rollback-on-degraded" in event["message"]
    assert "the default window applies" in event["message"]
