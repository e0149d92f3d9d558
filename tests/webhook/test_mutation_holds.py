"""Mutation leaves held images alone: a held Application gets no override, a held alias
keeps its own while the others are set, and the warnings say why."""

from __future__ import annotations

from tests.webhook.reviews import application, ours, review
from tests.webhook.test_mutation import FakeRegistry, mutate, patched

IMAGES = "web=nginx:~1.27,api=ghcr.io/acme/api"


def held(**holds: str) -> dict[str, str]:
    keys = {"": "image-updater.io/hold"}
    return {
        keys.get(alias, f"image-updater.io/hold.{alias}"): reason for alias, reason in holds.items()
    }


async def test_a_held_application_gets_no_override() -> None:
    registry = FakeRegistry({"nginx": "1.27.1", "ghcr.io/acme/api": "2.0.0"})
    annotations = {**ours(image_list=IMAGES), **held(**{"": "release freeze"})}
    verdict = await mutate(review(application(annotations)), registry)
    assert verdict.allowed and list(verdict.patch) == []
    assert verdict.warnings == [
        "image-updater: the Application is held (release freeze); no override is set"
    ]
    assert registry.calls == []  # nothing even asked


async def test_a_held_alias_keeps_its_version_while_the_others_are_set() -> None:
    registry = FakeRegistry({"nginx": "1.27.1", "ghcr.io/acme/api": "2.0.0"})
    data = review(application({**ours(image_list=IMAGES), **held(api="QA pending")}))
    verdict = await mutate(data, registry)
    assert patched(data, verdict)["spec"]["source"]["kustomize"]["images"] == ["nginx:1.27.1"]
    assert "image-updater: image 'api' is held (QA pending); its override is not set" in (
        verdict.warnings
    )
    assert [name for name, _ in registry.calls] == ["nginx"]


async def test_every_image_held_is_like_a_held_application() -> None:
    registry = FakeRegistry({"nginx": "1.27.1", "ghcr.io/acme/api": "2.0.0"})
    annotations = {**ours(image_list=IMAGES), **held(web="a", api="b")}
    verdict = await mutate(review(application(annotations)), registry)
    assert list(verdict.patch) == [] and len(verdict.warnings) == 2
