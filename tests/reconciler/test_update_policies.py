"""Update policies in the reconciler, end to end: policies stored in the emulated cluster and
read by the same PolicyWatch the webhook uses, images in the real local registry.

Candidates are filtered before the strategy chooses, time rules defer with an
``UpdateDeferred`` Event saying until when, breaches that cannot be filtered are Warning
Events and a metric, Warn and Audit report without filtering, and the policies' status is
written by the leader when it changes; Applications no policy matches are untouched."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from devcluster.kubeapi import KubeAPI
from devcluster.kubeapi.server import DEFAULT_CRDS
from imageupdater import kube
from imageupdater.service import ResolverService
from imageupdater.updatepolicy_source import PolicyWatch
from reconciler.apps_api import KubeApplications
from reconciler.cycle import Cycle, CycleSettings
from reconciler.events import EventRecorder
from reconciler.metrics import ReconcilerMetrics
from reconciler.policies import PolicyReporter
from tests.reconciler.conftest import BASE, application, stored
from tests.updatepolicy.builders import resource

POLICY_CRDS = Path(__file__).resolve().parents[2] / "manifests" / "crds"
CLUSTER = "clusterimageupdatepolicies"


@pytest.fixture
def kube_api() -> KubeAPI:
    return KubeAPI(crds=(DEFAULT_CRDS, POLICY_CRDS))


class Harness:
    """A cycle with update policies, the way ``reconciler.runner`` wires one."""

    def __init__(
        self,
        api: KubeAPI,
        cluster: kube.KubeClient,
        resolver: ResolverService,
        metrics: ReconcilerMetrics,
    ) -> None:
        self.api = api
        self.cluster = cluster
        self.resolver = resolver
        self.metrics = metrics
        self.now = BASE + dt.timedelta(days=30)

    def policy(self, rules: dict[str, Any], name: str = "p", **fields: Any) -> None:
        self.api.store.put(resource(rules, name=name, **fields))

    def cycle(self, *, dry_run: bool = False, leader: bool = True) -> Cycle:
        events = EventRecorder(self.cluster, clock=lambda: self.now)
        watch = PolicyWatch(self.cluster.list, component="the reconciler")
        reporter = PolicyReporter(
            watch,
            client=self.cluster,
            metrics=self.metrics,
            events=events,
            clock=lambda: self.now,
            dry_run=dry_run,
            is_leader=lambda: leader,
        )
        return Cycle(
            api=KubeApplications(self.cluster, self.metrics),
            resolve=self.resolver.resolve,
            metrics=self.metrics,
            events=events,
            settings=CycleSettings(dry_run=dry_run),
            clock=lambda: self.now,
            is_leader=lambda: leader,
            policies=reporter,
        )

    async def run(self, cycle: Cycle, *names: str) -> Any:
        assert cycle.policies is not None
        await cycle.policies.watch.refresh()
        apps: list[Any] = [stored(self.api, name) for name in names]
        return await cycle.run(apps)

    def images(self, name: str) -> list[str] | None:
        found: list[str] | None = stored(self.api, name)["spec"]["source"]["kustomize"].get(
            "images"
        )
        return found

    def events(self, reason: str) -> list[dict[str, Any]]:
        return [
            e
            for e in self.api.store.list("", None, "events", "argocd")
            if e.get("reason") == reason
        ]

    def violations(self, rule: str, action: str = "Enforce", policy: str = "p") -> float | None:
        return self.metrics.registry.get_sample_value(
            "image_updater_policy_violations_total",
            {"policy": f"ClusterImageUpdatePolicy/{policy}", "rule": rule, "action": action},
        )

    def status(self, name: str = "p") -> dict[str, Any]:
        obj = self.api.store.get("image-updater.io", None, CLUSTER, None, name)
        assert obj is not None
        found: dict[str, Any] = dict(obj).get("status") or {}
        return found

    def status_patches(self) -> int:
        return sum(
            1
            for r in self.api.requests.records
            if r.verb == "patch" and r.resource == CLUSTER and r.subresource == "status"
        )


@pytest.fixture
def harness(
    kube_api: KubeAPI,
    cluster: kube.KubeClient,
    resolver: ResolverService,
    metrics: ReconcilerMetrics,
) -> Harness:
    return Harness(kube_api, cluster, resolver, metrics)


Seed = Callable[[list[str]], Awaitable[str]]


def shop(image: str, running: str, name: str = "shop", **kwargs: Any) -> dict[str, Any]:
    return application(
        name, {"image-list": f"web={image}"}, images=[f"{image}:{running}"], **kwargs
    )


async def test_max_bump_minor_moves_1_4_to_1_9_and_leaves_2_0_for_a_human(
    harness: Harness, seeded: Seed
) -> None:
    image = await seeded(["1.4.0", "1.9.0", "2.0.0"])
    harness.policy({"maxBump": "minor"})
    harness.api.store.put(shop(image, "1.4.0"))
    result = await harness.run(harness.cycle(), "shop")
    assert result.images_updated == 1
    assert harness.images("shop") == [f"{image}:1.9.0"]
    assert harness.events("PolicyViolation") == []  # filtering is no violation


async def test_a_release_younger_than_the_minimum_age_waits_with_an_event_saying_until_when(
    harness: Harness, seeded: Seed
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])  # 1.1.0 created BASE + 1 day
    harness.policy({"minimumAge": "48h"}, name="soak")
    harness.api.store.put(shop(image, "1.0.0"))
    harness.now = BASE + dt.timedelta(days=1, hours=6)
    cycle = harness.cycle()
    result = await harness.run(cycle, "shop")
    assert (result.images_updated, result.deferred) == (0, 1)
    assert result.retry_at == BASE + dt.timedelta(days=3)
    [event] = harness.events("UpdateDeferred")
    assert event["type"] == "Normal"
    message = event["message"]
    assert message.startswith("image 'web' waits until 2026-03-04T00:00:00Z: ")
    assert "policy ClusterImageUpdatePolicy/soak (Enforce), rule minimumAge" in message
    harness.now = BASE + dt.timedelta(days=3)
    result = await harness.run(cycle, "shop")
    assert result.images_updated == 1
    assert harness.images("shop") == [f"{image}:1.1.0"]


async def test_a_closed_update_window_defers_to_its_next_opening(
    harness: Harness, seeded: Seed
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    window = {"schedule": "0 9 * * *", "duration": "1h", "timeZone": "Europe/Berlin"}
    harness.policy({"updateWindows": [window]}, name="office")
    harness.api.store.put(shop(image, "1.0.0"))
    harness.now = dt.datetime(2026, 4, 1, 12, 0, tzinfo=dt.UTC)
    result = await harness.run(harness.cycle(), "shop")
    assert (result.images_updated, result.deferred) == (0, 1)
    [event] = harness.events("UpdateDeferred")
    # 09:00 in Berlin on 2 April (summer time) is 07:00 UTC.
    assert "waits until 2026-04-02T07:00:00Z" in event["message"]
    assert "ClusterImageUpdatePolicy/office (Enforce), rule updateWindows" in event["message"]


async def test_an_image_from_a_forbidden_registry_is_a_violation_event_and_metric_once(
    harness: Harness, seeded: Seed
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    harness.policy({"allowedRegistries": ["ghcr.io"]}, name="trusted")
    harness.api.store.put(shop(image, "1.0.0"))
    cycle = harness.cycle()
    for _ in range(2):
        result = await harness.run(cycle, "shop")
        assert result.images_updated == 0
    assert harness.images("shop") is None
    [event] = harness.events("PolicyViolation")  # the repeat aggregated, not a second Event
    assert event["type"] == "Warning"
    message = event["message"]
    assert "policy ClusterImageUpdatePolicy/trusted (Enforce), rule allowedRegistries" in message
    assert "'127.0.0.1:" in message and "allowed: registries 'ghcr.io'" in message
    # Counted when it started to stand, not once per cycle.
    assert harness.violations("allowedRegistries", policy="trusted") == 1


@pytest.mark.parametrize(
    ("action", "moved_to", "event"),
    [
        pytest.param("Enforce", "1.9.0", False, id="enforce-filters"),
        pytest.param("Warn", "2.0.0", True, id="warn-updates-with-a-warning"),
        pytest.param("Audit", "2.0.0", False, id="audit-only-records"),
    ],
)
async def test_enforce_filters_warn_warns_and_audit_only_records(
    harness: Harness, seeded: Seed, action: str, moved_to: str, event: bool
) -> None:
    image = await seeded(["1.4.0", "1.9.0", "2.0.0"])
    harness.policy({"maxBump": "minor"}, action=action)
    harness.api.store.put(shop(image, "1.4.0"))
    await harness.run(harness.cycle(), "shop")
    assert harness.images("shop") == [f"{image}:{moved_to}"]
    events = harness.events("PolicyViolation")
    assert bool(events) is event
    if event:
        assert events[0]["type"] == "Warning"
        said = "(Warn), rule maxBump: image 'web' candidate: '2.0.0' changes the major version"
        assert said in events[0]["message"]
    expected = None if action == "Enforce" else 1.0
    assert harness.violations("maxBump", action) == expected


async def test_the_policy_status_is_written_and_not_rewritten_when_unchanged(
    harness: Harness, seeded: Seed
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    harness.policy({"allowedRegistries": ["ghcr.io"]}, name="p")
    harness.policy({"maxBump": "huge"}, name="broken")  # stored before the webhook judged it
    harness.api.store.put(shop(image, "1.0.0"))
    harness.api.store.put(shop(image, "1.0.0", name="cart"))
    cycle = harness.cycle()
    await harness.run(cycle, "shop", "cart")
    status = harness.status("p")
    assert status["matchedApplications"] == 2
    assert status["applications"] == ["argocd/cart", "argocd/shop"]
    assert [v["application"] for v in status["lastViolations"]] == ["argocd/cart", "argocd/shop"]
    assert {v["rule"] for v in status["lastViolations"]} == {"allowedRegistries"}
    [ready] = status["conditions"]
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "True", "Valid")
    [broken] = harness.status("broken")["conditions"]
    assert (broken["status"], broken["reason"]) == ("False", "InvalidSpec")
    assert "spec.rules.maxBump" in broken["message"]
    assert harness.status("broken")["matchedApplications"] == 0
    assert harness.status_patches() == 2
    harness.now += dt.timedelta(minutes=2)
    await harness.run(cycle, "shop", "cart")
    assert harness.status_patches() == 2  # nothing changed: nothing written


async def test_dry_run_and_a_follower_write_no_policy_status(
    harness: Harness, seeded: Seed
) -> None:
    image = await seeded(["1.4.0", "1.9.0"])
    harness.policy({"maxBump": "minor"})
    harness.api.store.put(shop(image, "1.4.0"))
    await harness.run(harness.cycle(dry_run=True), "shop")
    await harness.run(harness.cycle(leader=False), "shop")
    assert harness.status_patches() == 0
    assert harness.status() == {}
    assert harness.api.requests.count(verb="patch", resource="applications") == 0


async def test_applications_no_policy_matches_are_updated_as_before(
    harness: Harness, seeded: Seed
) -> None:
    image = await seeded(["1.4.0", "1.9.0", "2.0.0"])
    harness.policy({"maxBump": "minor"}, match={"names": ["guarded-*"]})
    harness.api.store.put(shop(image, "1.4.0", name="guarded-shop"))
    harness.api.store.put(shop(image, "1.4.0", name="free-shop"))
    await harness.run(harness.cycle(), "guarded-shop", "free-shop")
    # One image, one running version, two policy sets: two resolutions, two answers.
    assert harness.images("guarded-shop") == [f"{image}:1.9.0"]
    assert harness.images("free-shop") == [f"{image}:2.0.0"]
    assert harness.status()["applications"] == ["argocd/guarded-shop"]
