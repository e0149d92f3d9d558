"""Mutation under update policies: the override injected at create keeps to the policies the
reconciler applies (a semver choice is never taken back, so the first one must be right):
``maxBump`` bounds it, a too-young release waits with a warning saying until when, and an
Application no policy matches is mutated as before. Real resolver, the fault registry."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jsonpatch

from devcluster.faultregistry import FaultRegistry
from imageupdater.registries_conf import RegistriesConf
from imageupdater.registry import ClientSettings
from imageupdater.service import ResolverService
from imageupdater.updatepolicy_source import PolicyWatch
from tests.updatepolicy.builders import resource
from tests.webhook.reviews import application, body, ours, review
from webhook import review as wire
from webhook.admission import Admission, AdmissionSettings

OLD = dt.timedelta(days=30)


def listing_of(*policies: dict[str, Any]) -> Any:
    async def list_objects(resource_kind: Any) -> dict[str, Any]:
        cluster = resource_kind.plural == "clusterimageupdatepolicies"
        kind = "ClusterImageUpdatePolicy" if cluster else "ImageUpdatePolicy"
        return {"items": [p for p in policies if p["kind"] == kind]}

    return list_objects


async def mutate(fault: FaultRegistry, data: dict[str, Any], *policies: dict[str, Any]) -> Any:
    host = fault.url.removeprefix("http://")
    conf = RegistriesConf.parse(
        f"registries:\n- name: fault\n  prefix: {host}\n  api_url: {fault.url}\n", source="test"
    )
    watch = PolicyWatch(listing_of(*policies))
    assert await watch.refresh()
    async with ResolverService(conf, settings=ClientSettings(tls_cert_dir=None)) as resolver:
        admission = Admission(
            AdmissionSettings(resolve_timeout=5.0), resolver.resolve, policies=watch
        )
        try:
            verdict = (await admission.mutate(wire.decode(body(data)))).verdict
        finally:
            await admission.close()
    images = jsonpatch.apply_patch(data["request"]["object"], list(verdict.patch))["spec"][
        "source"
    ]["kustomize"]["images"]
    return verdict, images


def app_running(fault: FaultRegistry, running: str) -> dict[str, Any]:
    host = fault.url.removeprefix("http://")
    app = application(ours(image_list=f"web={host}/app:1.x || 2.x"))
    app["spec"]["source"]["kustomize"] = {"images": [f"{host}/app:{running}"]}
    return app


async def test_max_bump_minor_keeps_the_injected_override_below_the_next_major(
    fault_registry: FaultRegistry,
) -> None:
    now = dt.datetime.now(dt.UTC)
    for tag in ("1.4.0", "1.9.0", "2.0.0"):
        fault_registry.add_image("app", tag, created=now - OLD)
    host = fault_registry.url.removeprefix("http://")
    data = review(app_running(fault_registry, "1.4.0"))
    _verdict, images = await mutate(
        fault_registry, data, resource({"maxBump": "minor"}, name="no-majors")
    )
    assert images == [f"{host}/app:1.9.0"]
    # Without the policy the same review goes to 2.0.0: the policy made the difference.
    _verdict, images = await mutate(fault_registry, data)
    assert images == [f"{host}/app:2.0.0"]


async def test_a_too_young_release_waits_and_the_warning_says_until_when(
    fault_registry: FaultRegistry,
) -> None:
    now = dt.datetime.now(dt.UTC)
    fault_registry.add_image("app", "1.4.0", created=now - OLD)
    fault_registry.add_image("app", "1.5.0", created=now - dt.timedelta(hours=1))
    host = fault_registry.url.removeprefix("http://")
    data = review(app_running(fault_registry, "1.4.0"))
    verdict, images = await mutate(
        fault_registry, data, resource({"minimumAge": "24h"}, name="soak")
    )
    assert images == [f"{host}/app:1.4.0"]
    waits = [w for w in verdict.warnings if "waits until" in w]
    assert len(waits) == 1 and "'web'" in waits[0] and "soak" in waits[0], verdict.warnings


async def test_an_application_under_a_rollout_is_admitted_without_overrides_for_the_reconciler(
    fault_registry: FaultRegistry,
) -> None:
    now = dt.datetime.now(dt.UTC)
    for tag in ("1.4.0", "1.9.0"):
        fault_registry.add_image("app", tag, created=now - OLD)
    host = fault_registry.url.removeprefix("http://")
    data = review(app_running(fault_registry, "1.4.0"))
    staged = resource({}, name="staged", rollout={"firstWave": {"count": 1}})
    verdict, images = await mutate(fault_registry, data, staged)
    assert list(verdict.patch) == []
    assert images == [f"{host}/app:1.4.0"]
    assert verdict.warnings == [
        "image updates of this Application go through the rollout waves of update policy "
        "ClusterImageUpdatePolicy/staged; admitted without overrides, the reconciler sets them"
    ]
