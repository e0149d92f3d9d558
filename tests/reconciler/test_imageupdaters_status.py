"""An ImageUpdater's status as upstream writes it, written only when it changed, only for
real; and the resource that stands back when another, more specific one selects the same
Application."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from devcluster.kubeapi import KubeAPI
from imageupdater import kube
from imageupdater.imageupdaters.selection import SUPERSEDED_REASON
from imageupdater.service import ResolverService
from reconciler.imageupdaters import INVALID_REASON
from reconciler.metrics import ReconcilerMetrics
from tests.imageupdaters.builders import image, ref, resource
from tests.reconciler.conftest import application
from tests.reconciler.imageupdater_rig import (
    condition,
    events_of,
    images_of,
    running,
    stored_updater,
)


def status_patches(api: KubeAPI) -> int:
    return api.requests.count(verb="patch", resource="imageupdaters")


async def test_the_status_is_written_once_and_not_again_while_nothing_changes(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    cluster: kube.KubeClient,
    resolver: ResolverService,
    metrics: ReconcilerMetrics,
) -> None:
    name = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(application("web-a", {}, images=[f"{name}:1.0.0"]))
    kube_api.store.put(application("web-b", {}, images=[f"{name}:1.1.0"]))
    kube_api.store.put(resource(ref("web-*", image("web", f"{name}:1.x"))))
    async with running(cluster, resolver, metrics) as rig:
        await rig.controller.after_a_cycle(lambda: len(rig.controller.cycles) >= 1, "a resync")
        written = stored_updater(kube_api, "updater")
        first = status_patches(kube_api)
        # The next cycle updates nothing: Ready's message says so ("0 images updated").
        await rig.controller.run_once("resync")
        settled = status_patches(kube_api)
        await rig.controller.run_once("resync")
        await rig.controller.run_once("resync")
    status = written["status"]
    assert status["applicationsMatched"] == 2
    assert status["imagesManaged"] == 2
    assert status["observedGeneration"] == 1
    assert status["lastCheckedAt"] == status["lastUpdatedAt"]
    assert status["recentUpdates"] == [
        {
            "alias": "web",
            "image": name,
            "newVersion": "1.1.0",
            "applicationsUpdated": 1,
            "updatedAt": status["lastUpdatedAt"],
            "message": "Updated from the running version to 1.1.0.",
        }
    ]
    ready = condition(written, "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "ReconcileSucceeded")
    assert ready["message"] == "Reconciled 2 applications, 1 images updated."
    assert condition(written, "Reconciling")["reason"] == "Idle"
    assert condition(written, "Error")["reason"] == "NoErrors"
    assert written["metadata"]["generation"] == 1  # /status never bumps it
    assert (first, settled) == (1, 2)
    assert status_patches(kube_api) == settled  # two more cycles, nothing new to say
    ready = condition(stored_updater(kube_api, "updater"), "Ready")
    assert ready["message"] == "Reconciled 2 applications, 0 images updated."
    assert stored_updater(kube_api, "updater")["status"]["recentUpdates"] == status["recentUpdates"]


async def test_a_dry_run_writes_no_status(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    cluster: kube.KubeClient,
    resolver: ResolverService,
    metrics: ReconcilerMetrics,
) -> None:
    name = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(application("web", {}, images=[f"{name}:1.0.0"]))
    kube_api.store.put(resource(ref("web", image("web", f"{name}:1.x"))))
    async with running(cluster, resolver, metrics, dry_run=True) as rig:
        await rig.controller.after_a_cycle(lambda: len(rig.controller.cycles) >= 1, "a resync")
    assert images_of(kube_api, "web") == []
    assert status_patches(kube_api) == 0
    assert "status" not in stored_updater(kube_api, "updater")


async def test_of_two_resources_selecting_one_application_only_the_most_specific_acts(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    cluster: kube.KubeClient,
    resolver: ResolverService,
    metrics: ReconcilerMetrics,
) -> None:
    name = await seeded(["1.0.0", "1.1.0", "2.0.0"])
    kube_api.store.put(application("web", {}, images=[f"{name}:1.0.0"]))
    kube_api.store.put(resource(ref("*", image("web", f"{name}:2.x")), name="everything"))
    kube_api.store.put(resource(ref("web", image("web", f"{name}:1.x")), name="just-web"))
    async with running(cluster, resolver, metrics) as rig:
        await rig.controller.after_a_cycle(lambda: len(rig.controller.cycles) >= 1, "a resync")
        await rig.controller.run_once("resync")  # and it stays so: no flip-flop
    assert images_of(kube_api, "web") == [f"{name}:1.1.0"]
    assert kube_api.requests.count(verb="patch", resource="applications") == 1
    winner, loser = stored_updater(kube_api, "just-web"), stored_updater(kube_api, "everything")
    assert winner["status"]["applicationsMatched"] == 1
    assert condition(winner, "Superseded")["status"] == "False"
    assert loser["status"]["applicationsMatched"] == 0
    stood_back = condition(loser, "Superseded")
    assert (stood_back["status"], stood_back["reason"]) == ("True", SUPERSEDED_REASON)
    assert "'web' by 'just-web'" in stood_back["message"]
    (event,) = events_of(kube_api, "ImageUpdater", "everything", SUPERSEDED_REASON)
    assert event["type"] == "Normal"
    assert "Application 'web' is updated by ImageUpdater 'just-web'" in event["message"]
    assert events_of(kube_api, "ImageUpdater", "just-web", SUPERSEDED_REASON) == []


async def test_an_invalid_resource_says_which_field_in_its_status_and_an_event(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    cluster: kube.KubeClient,
    resolver: ResolverService,
    metrics: ReconcilerMetrics,
) -> None:
    name = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(application("web", {}, images=[f"{name}:1.0.0"]))
    bad = image("web", f"{name}:1.x", commonUpdateSettings={"allowTags": "regexp:(["})
    kube_api.store.put(resource(ref("web", bad)))
    async with running(cluster, resolver, metrics) as rig:
        await rig.controller.after_a_cycle(lambda: len(rig.controller.cycles) >= 1, "a resync")
    assert images_of(kube_api, "web") == []  # held back, not handed to anything else
    written = stored_updater(kube_api, "updater")
    ready = condition(written, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ReconcileFailed")
    field = "spec.applicationRefs[0].images[0].commonUpdateSettings.allowTags"
    assert field in ready["message"]
    assert condition(written, "Error")["reason"] == "ReconcileError"
    (event,) = events_of(kube_api, "ImageUpdater", "updater", INVALID_REASON)
    assert event["type"] == "Warning"
    assert field in event["message"]


@pytest.mark.kubectl
async def test_kubectl_get_imageupdaters_shows_the_status_run_wrote(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    cluster: kube.KubeClient,
    resolver: ResolverService,
    metrics: ReconcilerMetrics,
    kubeconfig: Path,
    tmp_path: Path,
) -> None:
    name = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(application("web", {}, images=[f"{name}:1.0.0"]))
    kube_api.store.put(resource(ref("web", image("web", f"{name}:1.x")), name="web-updater"))
    async with running(cluster, resolver, metrics) as rig:
        await rig.controller.after_a_cycle(lambda: len(rig.controller.cycles) >= 1, "a resync")
        # The emulator serves from this event loop: kubectl runs beside it, not blocking it.
        process = await asyncio.create_subprocess_exec(
            "kubectl", "get", "imageupdaters", "-n", "argocd",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(tmp_path),
                "KUBECONFIG": str(kubeconfig),
                "KUBECACHEDIR": str(tmp_path / "kcache"),
            },
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    lines = [line.split() for line in out.decode().splitlines()]
    assert lines[0] == ["NAME", "APPS", "IMAGES", "LAST", "CHECKED", "READY"]
    (row,) = lines[1:]
    assert row[:3] == ["web-updater", "1", "1"]
    assert row[3].endswith("s")  # an age: checked seconds ago
    assert row[4] == "True"
