"""ArgoCDApplications end to end: the reconciler's ApplicationsAPI over the Argo CD REST API
emulator, with its request counts in a fresh Prometheus registry."""

from __future__ import annotations

import socket

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from devcluster.argocdapi import ArgoCDAPI
from devcluster.kubeapi import KubeAPI
from imageupdater.application import Application
from imageupdater.argocd import ArgoCDClient
from imageupdater.errors import KubeConflict, KubeForbidden, KubeUnavailable
from reconciler.apps_api import ApplicationsAPI
from reconciler.argocd_api import ArgoCDApplications
from reconciler.metrics import ReconcilerMetrics

from .conftest import GROUP, SEED, TOKEN, VERSION, ServerFactory, stub_server


def make(
    addr: str,
    metrics: ReconcilerMetrics,
    *,
    namespaces: tuple[str, ...] = (),
    label_selector: str | None = None,
    token: str = TOKEN,
) -> ArgoCDApplications:
    client = ArgoCDClient(addr, token=token, plaintext=True, timeout=10)
    return ArgoCDApplications(client, metrics, namespaces=namespaces, label_selector=label_selector)


def keys(apps: list[Application]) -> list[str]:
    return sorted(f"{a['metadata']['namespace']}/{a['metadata']['name']}" for a in apps)


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def requests(registry: CollectorRegistry, server: str) -> float:
    return sample(registry, "argocd_image_updater_argocd_api_requests_total", argocd_server=server)


def errors(registry: CollectorRegistry, server: str) -> float:
    return sample(registry, "argocd_image_updater_argocd_api_errors_total", argocd_server=server)


def by_verb(registry: CollectorRegistry, verb: str, result: str) -> float:
    return sample(registry, "image_updater_api_requests_total", verb=verb, result=result)


async def test_it_is_an_applications_api_that_cannot_watch(
    argocd_addr: str, metrics: ReconcilerMetrics
) -> None:
    api: ApplicationsAPI = make(argocd_addr, metrics)
    assert api.watchable is False
    assert [event async for event in api.watch(None, None)] == []
    assert [event async for event in api.watch("argocd", "12")] == []


async def test_listing_without_namespaces_returns_every_application_in_one_request(
    argocd_addr: str, metrics: ReconcilerMetrics, registry: CollectorRegistry
) -> None:
    api = make(argocd_addr, metrics)
    apps, version = await api.list_all()
    await api.close()
    assert keys(apps) == sorted(
        f"{a['metadata']['namespace']}/{a['metadata']['name']}" for a in SEED
    )
    assert version is None
    assert requests(registry, argocd_addr) == 1
    assert errors(registry, argocd_addr) == 0
    assert by_verb(registry, "list", "ok") == 1


async def test_listing_honours_the_namespaces_and_the_label_selector(
    argocd_addr: str, metrics: ReconcilerMetrics, registry: CollectorRegistry, argocd: ArgoCDAPI
) -> None:
    api = make(
        argocd_addr, metrics, namespaces=("team-a", "argocd", "team-a"), label_selector="team=a"
    )
    apps, _ = await api.list_all()
    await api.close()
    assert keys(apps) == ["argocd/web", "team-a/jobs"]
    assert argocd.requests.count(operation="list") == 2
    assert requests(registry, argocd_addr) == 2
    assert by_verb(registry, "list", "ok") == 2


async def test_namespaces_are_filtered_on_the_client_when_the_server_ignores_them(
    aiohttp_server: ServerFactory, metrics: ReconcilerMetrics
) -> None:
    async def old_server(_request: web.Request) -> web.Response:
        # Argo CD before 2.5 has no appNamespace and lists everything it knows.
        return web.json_response({"metadata": {}, "items": list(SEED)})

    addr = await stub_server(aiohttp_server, old_server)
    api = make(addr, metrics, namespaces=("team-b",))
    apps, _ = await api.list_all()
    await api.close()
    assert keys(apps) == ["team-b/batch"]


async def test_get_then_patch_writes_through_to_the_cluster_and_is_counted(
    argocd_addr: str, metrics: ReconcilerMetrics, registry: CollectorRegistry, kube: KubeAPI
) -> None:
    api = make(argocd_addr, metrics)
    app = await api.get("team-a", "jobs")
    version = app["metadata"]["resourceVersion"]
    kustomize = {"images": ["nginx:1.27.0"]}
    updated = await api.patch(
        "team-a",
        "jobs",
        {"metadata": {"resourceVersion": version}, "spec": {"source": {"kustomize": kustomize}}},
    )
    await api.close()
    stored = kube.store.get(GROUP, VERSION, "applications", "team-a", "jobs")
    assert stored is not None
    assert stored["spec"]["source"]["kustomize"] == kustomize
    assert updated["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
    assert by_verb(registry, "get", "ok") == 1
    assert by_verb(registry, "patch", "ok") == 1
    assert requests(registry, argocd_addr) == 2


async def test_a_patch_keeps_its_resource_version_guard_so_a_stale_one_conflicts(
    argocd_addr: str, metrics: ReconcilerMetrics, registry: CollectorRegistry, kube: KubeAPI
) -> None:
    api = make(argocd_addr, metrics)
    app = await api.get("argocd", "web")
    stale = app["metadata"]["resourceVersion"]
    await api.patch("argocd", "web", {"metadata": {"annotations": {"someone": "else"}}})
    with pytest.raises(KubeConflict):
        await api.patch(
            "argocd", "web", {"metadata": {"resourceVersion": stale}, "spec": {"project": "x"}}
        )
    await api.close()
    stored = kube.store.get(GROUP, VERSION, "applications", "argocd", "web")
    assert stored is not None
    assert stored["spec"]["project"] == "default"
    assert by_verb(registry, "patch", "ok") == 1
    assert by_verb(registry, "patch", "409") == 1
    assert errors(registry, argocd_addr) == 1
    assert requests(registry, argocd_addr) == 3


async def test_get_project_returns_the_project_or_none_when_it_is_missing(
    argocd_addr: str, metrics: ReconcilerMetrics, registry: CollectorRegistry
) -> None:
    api = make(argocd_addr, metrics)
    project = await api.get_project("team-a", "default")
    missing = await api.get_project("team-a", "nope")
    await api.close()
    assert project is not None
    assert project["metadata"]["name"] == "default"
    assert missing is None
    assert by_verb(registry, "get", "ok") == 1
    assert by_verb(registry, "get", "404") == 1
    assert errors(registry, argocd_addr) == 1


async def test_a_refused_token_is_raised_and_counted_as_an_error(
    argocd_addr: str, metrics: ReconcilerMetrics, registry: CollectorRegistry
) -> None:
    api = make(argocd_addr, metrics, token="not-the-token")
    with pytest.raises(KubeForbidden):
        await api.list_all()
    await api.close()
    assert by_verb(registry, "list", "401") == 1
    assert errors(registry, argocd_addr) == 1


async def test_a_transport_failure_is_counted_with_result_error(
    metrics: ReconcilerMetrics, registry: CollectorRegistry
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        addr = f"127.0.0.1:{s.getsockname()[1]}"
    api = make(addr, metrics)
    with pytest.raises(KubeUnavailable):
        await api.get("argocd", "web")
    await api.close()
    assert by_verb(registry, "get", "error") == 1
    assert errors(registry, addr) == 1


async def test_close_ends_the_clients_session(argocd_addr: str, metrics: ReconcilerMetrics) -> None:
    client = ArgoCDClient(argocd_addr, token=TOKEN, plaintext=True)
    api = ArgoCDApplications(client, metrics)
    await api.list_all()
    assert not client.closed
    await api.close()
    assert client.closed
