"""Mutation: resolved overrides on create, never past the deadline, never lower, idempotent."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from typing import Any

import jsonpatch

from imageupdater.errors import RegistryUnavailable
from imageupdater.policy import ImagePolicy
from imageupdater.resolver import Resolution
from tests.webhook.reviews import application, body, ours, review
from webhook import review as wire
from webhook.admission import Admission, AdmissionSettings


class FakeRegistry:
    """Answers resolutions from a table, with digests where the real resolver has them;
    counts calls; can hang or fail per image."""

    def __init__(
        self, tags: dict[str, str], *, hang: set[str] = frozenset(), fail: set[str] = frozenset()
    ) -> None:  # type: ignore[assignment]
        self.tags = tags
        self.hang = hang
        self.fail = fail
        self.calls: list[tuple[str, str | None]] = []

    async def resolve(self, policy: ImagePolicy, current: str | None) -> Resolution:
        name = policy.image.full_name
        self.calls.append((name, current))
        if name in self.hang:
            await asyncio.sleep(30)
        if name in self.fail:
            raise RegistryUnavailable("registry ghcr.io answered 503", registry="ghcr.io")
        tag = self.tags.get(name)
        if current is not None and tag is not None and current > tag:
            tag = current  # the fake orders lexically: enough to model "never lower"
        # As the real resolver: a strategy that reads manifests comes back with the chosen
        # tag's digest, whether or not it is one to write.
        digest = None
        if tag is not None and policy.strategy.needs_metadata:
            digest = "sha256:" + hashlib.sha256(f"{name}:{tag}".encode()).hexdigest()
        return Resolution(
            name, policy.strategy, policy.constraint, tag, digest, (tag,) if tag else ()
        )


async def mutate(
    data: dict[str, Any], registry: FakeRegistry, deadline: float = 1.0
) -> wire.Verdict:
    admission = Admission(AdmissionSettings(resolve_timeout=deadline), registry.resolve)
    try:
        return (await admission.mutate(wire.decode(body(data)))).verdict
    finally:
        await admission.close()


def patched(data: dict[str, Any], verdict: wire.Verdict) -> dict[str, Any]:
    return jsonpatch.apply_patch(data["request"]["object"], list(verdict.patch))


async def test_a_kustomize_application_gets_its_images_on_create() -> None:
    registry = FakeRegistry({"nginx": "1.27.1", "ghcr.io/acme/api": "2.0.0"})
    data = review(application(ours(image_list="web=nginx:~1.27,api=ghcr.io/acme/api")))
    verdict = await mutate(data, registry)
    assert verdict.allowed
    result = patched(data, verdict)
    assert result["spec"]["source"]["kustomize"]["images"] == [
        "nginx:1.27.1",
        "ghcr.io/acme/api:2.0.0",
    ]
    assert any("set nginx to 1.27.1" in w for w in verdict.warnings)


async def test_a_helm_application_gets_force_string_parameters() -> None:
    registry = FakeRegistry({"ghcr.io/acme/web": "3.1.0"})
    source = {
        "repoURL": "https://charts.example",
        "chart": "web",
        "helm": {"parameters": [{"name": "replicas", "value": "2"}]},
    }
    annotations = ours(
        image_list="web=ghcr.io/acme/web",
        web__helm__image_name="image.repository",
        web__helm__image_tag="image.tag",
    )
    data = review(application(annotations, source=source))
    result = patched(data, await mutate(data, registry))
    assert result["spec"]["source"]["helm"]["parameters"] == [
        {"name": "replicas", "value": "2"},
        {"name": "image.repository", "value": "ghcr.io/acme/web", "forceString": True},
        {"name": "image.tag", "value": "3.1.0", "forceString": True},
    ]


async def test_reviewing_its_own_output_yields_an_empty_patch() -> None:
    registry = FakeRegistry({"nginx": "1.27.1"})
    data = review(application(ours(image_list="nginx")))
    first = patched(data, await mutate(data, registry))
    again = await mutate(review(first), registry)
    assert again.patch == []


async def test_an_update_that_does_not_touch_our_annotations_is_not_resolved() -> None:
    registry = FakeRegistry({"nginx": "1.27.1"})
    app = application(ours(image_list="nginx"))
    newer = application(ours(image_list="nginx"), status={"sync": {"status": "Synced"}})
    verdict = await mutate(review(newer, operation="UPDATE", old=app), registry)
    assert verdict.patch == ()
    assert registry.calls == []


async def test_a_version_already_set_is_never_lowered() -> None:
    registry = FakeRegistry({"nginx": "1.26.0"})
    source = {"repoURL": "r", "path": "p", "kustomize": {"images": ["nginx:1.27.0"]}}
    data = review(application(ours(image_list="nginx"), source=source))
    verdict = await mutate(data, registry)
    assert registry.calls == [("nginx", "1.27.0")]
    assert verdict.patch == []


async def test_a_hanging_registry_admits_within_the_deadline_with_a_warning() -> None:
    registry = FakeRegistry({"nginx": "1.27.1"}, hang={"ghcr.io/slow/api"})
    data = review(application(ours(image_list="web=nginx,api=ghcr.io/slow/api")))
    started = asyncio.get_running_loop().time()
    verdict = await mutate(data, registry, deadline=0.2)
    elapsed = asyncio.get_running_loop().time() - started
    assert elapsed < 0.5
    assert verdict.allowed
    assert patched(data, verdict)["spec"]["source"]["kustomize"]["images"] == ["nginx:1.27.1"]
    assert any("ghcr.io/slow/api" in w and "0.2s" in w for w in verdict.warnings)


async def test_a_failing_registry_admits_with_a_warning_naming_the_image() -> None:
    registry = FakeRegistry({}, fail={"ghcr.io/acme/api"})
    data = review(application(ours(image_list="ghcr.io/acme/api")))
    verdict = await mutate(data, registry)
    assert verdict.allowed and verdict.patch == []
    # The tenant is told the registry is unreachable, not how (that is the operator's log).
    assert any(
        "ghcr.io/acme/api" in w and "(registry ghcr.io unreachable)" in w for w in verdict.warnings
    )


async def test_git_write_back_is_never_mutated() -> None:
    registry = FakeRegistry({"nginx": "1.27.1"})
    data = review(application(ours(image_list="nginx", write_back_method="git")))
    verdict = await mutate(data, registry)
    assert verdict.patch == ()
    assert registry.calls == []


async def test_the_patch_travels_base64_encoded_as_json_patch() -> None:
    registry = FakeRegistry({"nginx": "1.27.1"})
    data = review(application(ours(image_list="nginx")))
    request = wire.decode(body(data))
    admission = Admission(AdmissionSettings(), registry.resolve)
    verdict = (await admission.mutate(request)).verdict
    encoded = wire.encode(request, verdict)["response"]
    assert encoded["patchType"] == "JSONPatch"
    assert json.loads(base64.b64decode(encoded["patch"])) == list(verdict.patch)


async def test_newest_build_is_written_as_the_bare_tag_though_the_registry_gave_a_digest() -> None:
    registry = FakeRegistry({"ghcr.io/acme/web": "2024.05.01"})
    annotations = ours(image_list="web=ghcr.io/acme/web", web__update_strategy="newest-build")
    data = review(application(annotations))
    verdict = await mutate(data, registry)
    assert patched(data, verdict)["spec"]["source"]["kustomize"]["images"] == [
        "ghcr.io/acme/web:2024.05.01"
    ]


async def test_the_digest_strategy_is_written_with_the_digest_it_follows() -> None:
    registry = FakeRegistry({"ghcr.io/acme/web": "latest"})
    annotations = ours(image_list="web=ghcr.io/acme/web:latest", web__update_strategy="digest")
    data = review(application(annotations))
    verdict = await mutate(data, registry)
    (entry,) = patched(data, verdict)["spec"]["source"]["kustomize"]["images"]
    expected = hashlib.sha256(b"ghcr.io/acme/web:latest").hexdigest()
    assert entry == f"ghcr.io/acme/web:latest@sha256:{expected}"


async def test_an_image_whose_live_version_is_the_choice_gets_no_override() -> None:
    registry = FakeRegistry({"ghcr.io/acme/web": "1.2.0"})
    app = application(
        ours(image_list="web=ghcr.io/acme/web"),
        status={"summary": {"images": ["ghcr.io/acme/web:1.2.0"]}},
    )
    verdict = await mutate(review(app), registry)
    assert verdict.allowed
    assert list(verdict.patch) == []


async def test_the_override_it_sets_is_recorded_as_written_in_the_same_patch() -> None:
    # So the reconciler takes a human lowering it later for a revert to respect, not for an
    # image to update again (reconciler.rollbacks).
    registry = FakeRegistry({"ghcr.io/acme/api": "2.0.0"})
    annotations = ours(image_list="api=ghcr.io/acme/api")
    annotations["image-updater.io/rollback-on-degraded"] = "15m"
    source = {"repoURL": "r", "path": "p", "kustomize": {"images": ["ghcr.io/acme/api:1.0.0"]}}
    data = review(application(annotations, source=source))
    result = patched(data, await mutate(data, registry))
    record = json.loads(result["metadata"]["annotations"]["image-updater.io/last-written"])
    assert record["api"]["version"] == "2.0.0"
    assert (record["api"]["previous"], record["api"]["state"]) == ("1.0.0", "watching")
    assert record["api"]["window"] == 900
    assert record["api"]["seen"] == record["api"]["at"]
    again = await mutate(review(result), registry)
    assert again.patch == []
