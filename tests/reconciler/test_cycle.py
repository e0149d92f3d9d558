"""One reconcile cycle against the emulated cluster and the real local registry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from devcluster.argocdapi import ArgoCDAPI
from devcluster.kubeapi import KubeAPI
from devcluster.registry import LocalRegistry
from devcluster.seeder import ImageSeeder
from imageupdater.argocd import ArgoCDClient
from reconciler.argocd_api import ArgoCDApplications
from reconciler.cycle import Cycle
from reconciler.metrics import ReconcilerMetrics
from tests.reconciler.conftest import application, seed_tags, stored


def put(api: KubeAPI, app: dict[str, Any]) -> None:
    api.store.put(app)


async def test_kustomize_helm_and_plugin_applications_get_their_overrides(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
) -> None:
    image = await seeded(["1.0.0", "1.1.0", "1.2.0", "2.0.0"])
    live = [f"{image}:1.0.0"]
    put(kube_api, application("kust", {"image-list": f"web={image}:~1.1"}, images=live))
    helm_source = {
        "repoURL": "https://charts.example",
        "chart": "web",
        "helm": {"parameters": [{"name": "replicas", "value": "2"}]},
    }
    helm_keys = {"image-list": f"web={image}:1.x", "web.helm.image-name": "image.repository"}
    put(kube_api, application("helm", helm_keys, source=helm_source, images=live))
    plugin_source = {"repoURL": "https://git.example/r.git", "path": "p", "plugin": {"env": []}}
    plugin_keys = {
        "image-list": f"web={image}",
        "web.plugin.image-name": "IMAGE_NAME",
        "web.plugin.image-tag": "IMAGE_TAG",
    }
    put(kube_api, application("plug", plugin_keys, source=plugin_source, images=live))

    result = await make_cycle().run([stored(kube_api, n) for n in ("kust", "helm", "plug")])

    assert (result.applications, result.images_updated, result.patches, result.errors) == (
        3,
        3,
        3,
        0,
    )
    assert stored(kube_api, "kust")["spec"]["source"]["kustomize"]["images"] == [f"{image}:1.1.0"]
    assert stored(kube_api, "helm")["spec"]["source"]["helm"]["parameters"] == [
        {"name": "replicas", "value": "2"},
        {"name": "image.repository", "value": image, "forceString": True},
        {"name": "image.tag", "value": "1.2.0", "forceString": True},
    ]
    assert stored(kube_api, "plug")["spec"]["source"]["plugin"]["env"] == [
        {"name": "IMAGE_NAME", "value": image},
        {"name": "IMAGE_TAG", "value": "2.0.0"},
    ]


async def test_an_image_already_running_the_chosen_version_is_left_alone(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    put(kube_api, application("current", {"image-list": image}, images=[f"{image}:1.1.0"]))
    before = stored(kube_api, "current")
    result = await make_cycle().run([before])
    assert (result.images_considered, result.images_updated, result.patches) == (1, 0, 0)
    assert (
        stored(kube_api, "current")["metadata"]["resourceVersion"]
        == before["metadata"]["resourceVersion"]
    )


async def test_a_multi_source_application_updates_the_helm_source_only(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
) -> None:
    image = await seeded(["3.0.0", "3.1.0"])
    sources = [
        {"repoURL": "https://git.example/values.git", "ref": "values"},
        {
            "repoURL": "https://charts.example",
            "chart": "api",
            "helm": {"valueFiles": ["$values/api.yaml"]},
        },
    ]
    put(
        kube_api,
        application(
            "multi", {"image-list": f"api={image}"}, sources=sources, images=[f"{image}:3.0.0"]
        ),
    )
    result = await make_cycle().run([stored(kube_api, "multi")])
    assert result.images_updated == 1
    after = stored(kube_api, "multi")["spec"]["sources"]
    assert after[0] == sources[0]
    assert after[1]["helm"]["parameters"] == [
        {"name": "image.name", "value": image, "forceString": True},
        {"name": "image.tag", "value": "3.1.0", "forceString": True},
    ]
    assert after[1]["helm"]["valueFiles"] == ["$values/api.yaml"]


async def test_a_second_cycle_with_nothing_new_writes_nothing_and_lists_each_repo_once(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
    resolver: Any,
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    for name in ("a", "b", "c"):
        put(kube_api, application(name, {"image-list": image}, images=[f"{image}:1.0.0"]))
    cycle = make_cycle()
    first = await cycle.run([stored(kube_api, n) for n in "abc"])
    assert first.patches == 3
    patches = kube_api.requests.count(verb="patch", resource="applications")
    before = resolver.client.counters.requests(kind="tags")
    second = await cycle.run([stored(kube_api, n) for n in "abc"])
    assert (second.patches, second.images_updated) == (0, 0)
    assert kube_api.requests.count(verb="patch", resource="applications") == patches
    assert resolver.client.counters.requests(kind="tags") - before <= 1


async def test_a_concurrent_edit_to_another_field_survives_the_update(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    put(kube_api, application("edited", {"image-list": image}, images=[f"{image}:1.0.0"]))
    seen_by_cycle = stored(kube_api, "edited")
    edited = stored(kube_api, "edited")
    edited["spec"]["destination"]["namespace"] = "moved-by-a-human"
    kube_api.store.put(edited)  # the human's write lands after the cycle listed the app

    result = await make_cycle().run([seen_by_cycle])

    after = stored(kube_api, "edited")
    assert result.conflicts == 1
    assert result.images_updated == 1
    assert after["spec"]["destination"]["namespace"] == "moved-by-a-human"
    assert after["spec"]["source"]["kustomize"]["images"] == [f"{image}:1.1.0"]


async def test_dry_run_resolves_but_writes_nothing(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    put(kube_api, application("dry", {"image-list": image}, images=[f"{image}:1.0.0"]))
    result = await make_cycle(dry_run=True).run([stored(kube_api, "dry")])
    assert result.images_considered == 1
    assert kube_api.requests.count(verb="patch") == 0
    assert (
        "kustomize" not in stored(kube_api, "dry")["spec"]["source"]
        or not stored(kube_api, "dry")["spec"]["source"]["kustomize"]
    )


async def test_an_updated_application_gets_an_event_with_upstreams_annotations(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    registry: LocalRegistry,
    make_cycle: Callable[..., Cycle],
    metrics: ReconcilerMetrics,
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    put(kube_api, application("evented", {"image-list": image}, images=[f"{image}:1.0.0"]))
    await make_cycle().run([stored(kube_api, "evented")])
    events = kube_api.store.list("", None, "events", "argocd")
    assert len(events) == 1
    event = events[0]
    assert event["reason"] == "ImagesUpdated"
    assert event["message"] == "Successfully updated application 'evented'"
    assert event["involvedObject"]["name"] == "evented"
    assert event["metadata"]["annotations"] == {
        "argocd-image-updater.image-0/full-image-name": f"{image}:1.1.0",
        "argocd-image-updater.image-0/image-name": image,
        "argocd-image-updater.image-0/old-tag": "",
        "argocd-image-updater.image-0/new-tag": "1.1.0",
    }
    sample = metrics.registry.get_sample_value(
        "argocd_image_updater_images_updated_total",
        {
            "application": "argocd/evented",
            "image_updater_cr_name": "",
            "image_updater_cr_namespace": "",
        },
    )
    assert sample == 1.0


async def test_invalid_annotations_become_one_warning_event_and_do_not_stop_the_cycle(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    put(kube_api, application("broken", {"image-list": image, "update-strategy": "fastest"}))
    put(kube_api, application("fine", {"image-list": image}, images=[f"{image}:1.0.0"]))
    cycle = make_cycle()
    for _ in range(2):
        result = await cycle.run([stored(kube_api, "broken"), stored(kube_api, "fine")])
    assert result.errors == 1
    warnings = [
        e for e in kube_api.store.list("", None, "events", "argocd") if e["type"] == "Warning"
    ]
    assert [e["reason"] for e in warnings] == ["InvalidConfiguration"]
    assert "fastest" in warnings[0]["message"]
    assert stored(kube_api, "fine")["spec"]["source"]["kustomize"]["images"] == [f"{image}:1.1.0"]


async def test_api_server_errors_are_retried_and_counted(
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    registry: LocalRegistry,
    make_cycle: Callable[..., Cycle],
    metrics: ReconcilerMetrics,
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    put(kube_api, application("flaky", {"image-list": image}, images=[f"{image}:1.0.0"]))
    put(
        kube_api,
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AppProject",
            "metadata": {"name": "default", "namespace": "argocd"},
            "spec": {},
        },
    )
    kube_api.faults.inject(verb="patch", resource="applications", status=500, times=1)
    kube_api.faults.inject(verb="get", resource="appprojects", status=429, times=1)
    result = await make_cycle().run([stored(kube_api, "flaky")])
    assert (result.patches, result.errors) == (1, 0)
    assert stored(kube_api, "flaky")["spec"]["source"]["kustomize"]["images"] == [f"{image}:1.1.0"]
    assert metrics.registry.get_sample_value("argocd_image_updater_k8s_api_errors_total") == 2.0
    assert (
        metrics.registry.get_sample_value(
            "image_updater_api_requests_total", {"verb": "patch", "result": "500"}
        )
        == 1.0
    )


async def test_the_argocd_api_mode_updates_through_argocd_server(
    kube_api: KubeAPI,
    aiohttp_server: Any,
    registry: LocalRegistry,
    seeder: ImageSeeder,
    unique_repo: str,
    make_cycle: Callable[..., Cycle],
    metrics: ReconcilerMetrics,
) -> None:
    kube_server = await aiohttp_server(kube_api.app())
    argocd = ArgoCDAPI(str(kube_server.make_url("")).rstrip("/"), tokens={"t0ken"})
    argocd_server = await aiohttp_server(argocd.app())
    image = f"{registry.host}/{unique_repo}"
    await seed_tags(seeder, unique_repo, ["1.0.0", "1.1.0"])
    put(kube_api, application("via-argocd", {"image-list": image}, images=[f"{image}:1.0.0"]))
    put(
        kube_api,
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AppProject",
            "metadata": {"name": "default", "namespace": "argocd"},
            "spec": {},
        },
    )
    address = str(argocd_server.make_url("")).rstrip("/")
    async with ArgoCDClient(address, token="t0ken", plaintext=True) as client:
        api = ArgoCDApplications(client, metrics)
        apps, _ = await api.list_all()
        result = await make_cycle(api=api).run(apps)
    assert (result.patches, result.images_updated) == (1, 1)
    assert stored(kube_api, "via-argocd")["spec"]["source"]["kustomize"]["images"] == [
        f"{image}:1.1.0"
    ]
    assert argocd.requests.count(operation="patch") == 1
    assert (
        metrics.registry.get_sample_value(
            "argocd_image_updater_argocd_api_requests_total", {"argocd_server": api.server}
        )
        >= 3
    )
