"""Rollout waves in the reconciler, end to end: a policy with ``spec.rollout`` stored in the
emulated cluster, images in the real local registry.

The first wave gets a new version at once and is watched for the soak; the rest keep what
they run (a ``RolloutWaiting`` Event says why, the policy's status shows the wave) until
every first-wave Application has run it Healthy through the soak; a first-wave rollback
stops the rest (``RolloutStopped``)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from devcluster.kubeapi import KubeAPI
from devcluster.kubeapi.server import DEFAULT_CRDS
from imageupdater import kube
from imageupdater.service import ResolverService
from imageupdater.updatepolicy.matching import app_facts
from imageupdater.updatepolicy.model import Rollout
from imageupdater.updatepolicy.waves import first_wave
from reconciler.controller import Controller, ControllerSettings
from reconciler.metrics import ReconcilerMetrics
from tests.reconciler.conftest import stored
from tests.reconciler.test_update_policies import POLICY_CRDS, Harness, Seed, shop

RECORD = "image-updater.io/last-written"
CANARY = {"firstWave": {"selector": {"matchLabels": {"wave": "canary"}}}, "soak": "1h"}
NAMES = ("canary", "rest-a", "rest-b")


@pytest.fixture
def kube_api() -> KubeAPI:
    return KubeAPI(crds=(DEFAULT_CRDS, POLICY_CRDS))


@pytest.fixture
def rig(
    kube_api: KubeAPI,
    cluster: kube.KubeClient,
    resolver: ResolverService,
    metrics: ReconcilerMetrics,
) -> Harness:
    return Harness(kube_api, cluster, resolver, metrics)


def live(harness: Harness, name: str, image: str, tag: str, health: str = "Healthy") -> None:
    """What Argo CD reports once it has synced ``tag``: the live image and the health."""
    app = stored(harness.api, name)
    app["status"]["summary"]["images"] = [f"{image}:{tag}"]
    app["status"]["health"] = {"status": health}
    app["status"]["sync"] = {"status": "Synced"}
    harness.api.store.put(app)


def record_state(harness: Harness, name: str) -> str:
    raw = json.loads(stored(harness.api, name)["metadata"]["annotations"][RECORD])
    state: str = raw["web"]["state"]
    return state


def messages(harness: Harness, reason: str) -> dict[str, str]:
    """Each Application's latest Event of ``reason`` (a new message is a new Event)."""
    latest = sorted(harness.events(reason), key=lambda e: (e["lastTimestamp"], e["firstTimestamp"]))
    return {e["involvedObject"]["name"]: e["message"] for e in latest}


async def start(harness: Harness, seeded: Seed, rollout: dict[str, Any]) -> str:
    image = await seeded(["1.0.0", "1.1.0"])
    harness.policy({}, rollout=rollout)
    harness.api.store.put(shop(image, "1.0.0", "canary", labels={"wave": "canary"}))
    for name in NAMES[1:]:
        harness.api.store.put(shop(image, "1.0.0", name))
    for name in NAMES:
        live(harness, name, image, "1.0.0")
    return image


async def test_the_first_wave_updates_at_once_and_the_rest_wait_for_its_soak(
    rig: Harness, seeded: Seed
) -> None:
    image = await start(rig, seeded, CANARY)
    cycle = rig.cycle()
    result = await rig.run(cycle, *NAMES)
    assert result.images_updated == 1
    assert rig.images("canary") == [f"{image}:1.1.0"]
    assert rig.images("rest-a") is None and rig.images("rest-b") is None
    assert record_state(rig, "canary") == "watching"
    waiting = messages(rig, "RolloutWaiting")
    assert set(waiting) == {"rest-a", "rest-b"}
    # The cycle judged the rest from the first wave as the cycle found it.
    shown = f"{image}:1.1.0"
    assert waiting["rest-a"] == (
        f"waiting for the first wave: argocd/canary has not run {shown} Healthy through the "
        "soak yet"
    )
    [entry] = rig.status()["rollouts"]
    assert entry["phase"] == "FirstWave"
    assert (entry["version"], entry["firstWave"], entry["waiting"]) == (
        "1.1.0",
        ["argocd/canary"],
        2,
    )

    # Healthy through the soak: verified at its end, and the rest follow.
    live(rig, "canary", image, "1.1.0")
    rig.now += dt.timedelta(minutes=30)
    await rig.run(cycle, *NAMES)
    assert rig.images("rest-a") is None
    assert messages(rig, "RolloutWaiting")["rest-a"] == (
        f"waiting for the first wave: {shown} is soaking in argocd/canary"
    )
    rig.now += dt.timedelta(minutes=31)
    await rig.run(cycle, *NAMES)
    assert record_state(rig, "canary") == "verified"
    result = await rig.run(cycle, *NAMES)
    assert result.images_updated == 2
    assert rig.images("rest-a") == [f"{image}:1.1.0"]
    assert rig.images("rest-b") == [f"{image}:1.1.0"]
    [entry] = rig.status()["rollouts"]
    assert entry["phase"] == "Released"


async def test_a_rollback_in_the_first_wave_stops_the_rest(rig: Harness, seeded: Seed) -> None:
    image = await start(rig, seeded, CANARY)
    cycle = rig.cycle()
    await rig.run(cycle, *NAMES)
    assert rig.images("canary") == [f"{image}:1.1.0"]
    live(rig, "canary", image, "1.1.0", health="Degraded")
    rig.now += dt.timedelta(minutes=10)
    await rig.run(cycle, *NAMES)
    assert rig.images("canary") == [f"{image}:1.0.0"]  # rolled back within the soak
    assert record_state(rig, "canary") == "rolled-back"
    await rig.run(cycle, *NAMES)
    assert rig.images("rest-a") is None and rig.images("rest-b") is None
    stopped = rig.events("RolloutStopped")
    assert {e["involvedObject"]["name"] for e in stopped} == {"rest-a", "rest-b"}
    assert all(e["type"] == "Warning" for e in stopped)
    assert "the first wave rolled" in stopped[0]["message"]
    assert "1.1.0 back (argocd/canary)" in stopped[0]["message"]
    [entry] = rig.status()["rollouts"]
    assert entry["phase"] == "Stopped"


async def test_a_count_picks_a_first_wave_among_every_application_the_policy_matches(
    rig: Harness, seeded: Seed
) -> None:
    image = await start(rig, seeded, {"firstWave": {"count": 1}, "soak": "15m"})
    result = await rig.run(rig.cycle(), *NAMES)
    assert result.images_updated == 1
    updated = [n for n in NAMES if rig.images(n) == [f"{image}:1.1.0"]]
    assert len(updated) == 1
    assert set(messages(rig, "RolloutWaiting")) == set(NAMES) - set(updated)
    raw = json.loads(stored(rig.api, updated[0])["metadata"]["annotations"][RECORD])
    assert raw["web"]["window"] == 15 * 60  # watched for the soak


async def test_applications_of_a_policy_without_a_rollout_update_together(
    rig: Harness, seeded: Seed
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    rig.policy({})
    for name in NAMES:
        rig.api.store.put(shop(image, "1.0.0", name))
    result = await rig.run(rig.cycle(), *NAMES)
    assert result.images_updated == 3
    assert rig.events("RolloutWaiting") == []
    assert "rollouts" not in rig.status()


async def test_a_push_cycle_for_one_application_judges_it_by_the_first_wave_of_all(
    rig: Harness, seeded: Seed
) -> None:
    image = await start(rig, seeded, {"firstWave": {"count": 1}})
    first = first_wave(Rollout(count=1), [app_facts(stored(rig.api, n)) for n in NAMES])
    (rest, *_) = sorted(f"argocd/{n}" for n in NAMES if f"argocd/{n}" not in first)
    cycle = rig.cycle()
    assert cycle.policies is not None
    await cycle.policies.watch.refresh()
    controller = Controller(
        api=cycle.api, cycle=cycle, metrics=rig.metrics, settings=ControllerSettings(interval=0)
    )
    await controller.relist()
    # Only ``rest`` runs, as a push names it: among the cycle's Applications alone it would
    # be the first wave itself; among all it is not.
    result = await controller.run_once("push", [rest])
    assert result.applications == 1
    assert result.images_updated == 0
    name = rest.split("/")[1]
    assert rig.images(name) is None
    (leader,) = first
    assert messages(rig, "RolloutWaiting")[name] == (
        f"waiting for the first wave: {leader} has not run {image}:1.1.0 Healthy through the "
        "soak yet"
    )
