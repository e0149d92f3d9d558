"""Holds in the reconciler: a held Application or image keeps its version, with an
``UpdateHeld`` Event naming the reason and the held images counted in a metric; releasing
the hold lets the next cycle update."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from devcluster.kubeapi import KubeAPI
from reconciler.cycle import Cycle
from reconciler.metrics import ReconcilerMetrics
from tests.reconciler.conftest import application, stored


def held(app: dict[str, Any], key: str, reason: str) -> dict[str, Any]:
    app["metadata"]["annotations"][key] = reason
    return app


def events(api: KubeAPI, reason: str) -> list[dict[str, Any]]:
    return [e for e in api.store.list("", None, "events", "argocd") if e.get("reason") == reason]


def kustomize_images(api: KubeAPI, name: str) -> list[str] | None:
    images: list[str] | None = stored(api, name)["spec"]["source"]["kustomize"].get("images")
    return images


async def test_a_held_application_is_not_updated_and_says_why(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
    metrics: ReconcilerMetrics,
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    app = application("shop", {"image-list": f"web={image}"}, images=[f"{image}:1.0.0"])
    kube_api.store.put(held(app, "image-updater.io/hold", "incident 4711"))
    result = await make_cycle().run([stored(kube_api, "shop")])
    assert (result.images_updated, result.patches) == (0, 0)
    assert kustomize_images(kube_api, "shop") is None
    [event] = events(kube_api, "UpdateHeld")
    assert event["type"] == "Normal" and event["message"] == "updates are held: incident 4711"
    assert (
        metrics.registry.get_sample_value(
            "image_updater_images_held", {"application": "argocd/shop"}
        )
        == 1
    )
    assert (
        metrics.registry.get_sample_value(
            "image_updater_applications_skipped_total", {"reason": "held"}
        )
        == 1
    )


async def test_a_held_alias_keeps_its_version_while_the_other_image_moves(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    live = [f"{image}:1.0.0"]
    app = application(
        "shop", {"image-list": f"web={image},api={image}", "api.force-update": "true"}, images=live
    )
    kube_api.store.put(held(app, "image-updater.io/hold.api", "QA pending"))
    result = await make_cycle().run([stored(kube_api, "shop")])
    assert result.images_updated == 1
    assert kustomize_images(kube_api, "shop") == [f"{image}:1.1.0"]
    [event] = events(kube_api, "UpdateHeld")
    assert event["message"] == "image 'api' is held: QA pending"


async def test_releasing_the_hold_lets_the_next_cycle_update(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
    metrics: ReconcilerMetrics,
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    app = application("shop", {"image-list": f"web={image}"}, images=[f"{image}:1.0.0"])
    kube_api.store.put(held(app, "image-updater.io/hold", "freeze"))
    cycle = make_cycle()
    await cycle.run([stored(kube_api, "shop")])
    released = stored(kube_api, "shop")
    del released["metadata"]["annotations"]["image-updater.io/hold"]
    kube_api.store.put(released)
    result = await cycle.run([stored(kube_api, "shop")])
    assert result.images_updated == 1
    assert kustomize_images(kube_api, "shop") == [f"{image}:1.1.0"]
    assert (
        metrics.registry.get_sample_value(
            "image_updater_images_held", {"application": "argocd/shop"}
        )
        == 0
    )
