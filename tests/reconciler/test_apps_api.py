"""The ApplicationsAPI contract: what each adapter answers for ``scopes``, ``list_namespace``
and ``close``, and a controller that drives any implementation the same way."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import pytest

from devcluster.argocdapi import ArgoCDAPI
from devcluster.kubeapi import KubeAPI
from imageupdater import kube
from imageupdater.application import Application, app_key
from imageupdater.argocd import ArgoCDClient
from imageupdater.errors import KubeNotFound
from reconciler.apps_api import ApplicationsAPI, KubeApplications
from reconciler.argocd_api import ArgoCDApplications
from reconciler.controller import Controller, ControllerSettings
from reconciler.cycle import Cycle
from reconciler.metrics import ReconcilerMetrics
from tests.reconciler.conftest import application

TOKEN = "apps-api-t0ken"


def app(name: str, namespace: str) -> Application:
    return cast(Application, application(name, {}, namespace=namespace))


def names(apps: list[Application]) -> list[str]:
    return sorted(app_key(app) for app in apps)


@pytest.fixture
def seeded_api(kube_api: KubeAPI) -> KubeAPI:
    for name, namespace in (("web", "argocd"), ("jobs", "team-a"), ("batch", "team-b")):
        kube_api.store.put(application(name, {}, namespace=namespace))
    return kube_api


@pytest.fixture
async def argocd_client(seeded_api: KubeAPI, aiohttp_server: Any) -> AsyncIterator[ArgoCDClient]:
    kube_server = await aiohttp_server(seeded_api.app())
    argocd = ArgoCDAPI(str(kube_server.make_url("")).rstrip("/"), tokens={TOKEN})
    server = await aiohttp_server(argocd.app())
    async with ArgoCDClient(f"127.0.0.1:{server.port}", token=TOKEN, plaintext=True) as client:
        yield client


# Kubernetes


def test_the_kubernetes_adapter_has_one_scope_for_all_namespaces_or_one_per_namespace(
    cluster: kube.KubeClient, metrics: ReconcilerMetrics
) -> None:
    every: ApplicationsAPI = KubeApplications(cluster, metrics)
    some: ApplicationsAPI = KubeApplications(cluster, metrics, namespaces=["team-a", "team-b"])
    assert (every.watchable, every.scopes) == (True, (None,))
    assert some.scopes == ("team-a", "team-b")


async def test_the_kubernetes_adapter_lists_one_scope_with_a_version_to_watch_from(
    seeded_api: KubeAPI, cluster: kube.KubeClient, metrics: ReconcilerMetrics
) -> None:
    api: ApplicationsAPI = KubeApplications(cluster, metrics)
    apps, version = await api.list_namespace("team-a")
    assert names(apps) == ["team-a/jobs"]
    assert version
    everything, _ = await api.list_namespace(None)
    assert names(everything) == ["argocd/web", "team-a/jobs", "team-b/batch"]


async def test_closing_the_kubernetes_adapter_leaves_the_shared_client_open(
    seeded_api: KubeAPI, cluster: kube.KubeClient, metrics: ReconcilerMetrics
) -> None:
    api: ApplicationsAPI = KubeApplications(cluster, metrics)
    await api.close()
    assert (await cluster.get(kube.APPLICATIONS, "argocd", "web"))["metadata"]["name"] == "web"


# Argo CD


def test_the_argocd_adapter_has_one_scope_for_all_namespaces_or_one_per_namespace(
    metrics: ReconcilerMetrics,
) -> None:
    client = ArgoCDClient("127.0.0.1:1", token=TOKEN, plaintext=True)
    every: ApplicationsAPI = ArgoCDApplications(client, metrics)
    some: ApplicationsAPI = ArgoCDApplications(
        client, metrics, namespaces=["team-a", "", "team-b", "team-a"]
    )
    assert (every.watchable, every.scopes) == (False, (None,))
    assert some.scopes == ("team-a", "team-b")


async def test_the_argocd_adapter_lists_one_scope_without_a_version(
    argocd_client: ArgoCDClient, metrics: ReconcilerMetrics
) -> None:
    api: ApplicationsAPI = ArgoCDApplications(argocd_client, metrics)
    apps, version = await api.list_namespace("team-b")
    assert (names(apps), version) == (["team-b/batch"], None)
    everything, version = await api.list_namespace(None)
    assert (names(everything), version) == (["argocd/web", "team-a/jobs", "team-b/batch"], None)


async def test_the_argocd_adapter_lists_all_as_the_union_of_its_scopes(
    argocd_client: ArgoCDClient, metrics: ReconcilerMetrics
) -> None:
    api: ApplicationsAPI = ArgoCDApplications(
        argocd_client, metrics, namespaces=["team-a", "argocd"]
    )
    apps, version = await api.list_all()
    assert (names(apps), version) == (["argocd/web", "team-a/jobs"], None)


async def test_closing_the_argocd_adapter_ends_its_clients_session(
    argocd_client: ArgoCDClient, metrics: ReconcilerMetrics
) -> None:
    api: ApplicationsAPI = ArgoCDApplications(argocd_client, metrics)
    await api.list_all()
    assert not argocd_client.closed
    await api.close()
    assert argocd_client.closed


# Any implementation


class MemoryApplications:
    """An ApplicationsAPI that is neither adapter (``Controller(api=...)`` has mypy check it
    keeps to the protocol): Applications from a list, changes from one queue per scope. It
    notes what the controller asked for."""

    def __init__(
        self, apps: list[Application], *, scopes: tuple[str | None, ...], watchable: bool
    ) -> None:
        self.apps = apps
        self._scopes = scopes
        self._watchable = watchable
        self.listed: list[str | None] = []
        self.watched: dict[str | None, str | None] = {}
        self.watching = {scope: asyncio.Event() for scope in scopes}
        self.changes: dict[str | None, asyncio.Queue[kube.WatchEvent]] = {
            scope: asyncio.Queue() for scope in scopes
        }
        self.taken = {scope: asyncio.Event() for scope in scopes}
        self.closed = False

    @property
    def watchable(self) -> bool:
        return self._watchable

    @property
    def scopes(self) -> tuple[str | None, ...]:
        return self._scopes

    async def list_all(self) -> tuple[list[Application], str | None]:
        apps: list[Application] = []
        for scope in self._scopes:
            apps.extend((await self.list_namespace(scope))[0])
        return apps, None

    async def list_namespace(self, namespace: str | None) -> tuple[list[Application], str | None]:
        self.listed.append(namespace)
        apps = [
            listed
            for listed in self.apps
            if namespace is None or listed["metadata"].get("namespace") == namespace
        ]
        return apps, f"v-{namespace}"

    async def watch(
        self, namespace: str | None, resource_version: str | None
    ) -> AsyncIterator[kube.WatchEvent]:
        self.watched[namespace] = resource_version
        self.watching[namespace].set()
        while True:
            yield await self.changes[namespace].get()
            # Resumed: the controller has handled the event and asks for the next.
            self.taken[namespace].set()

    async def get(self, namespace: str, name: str) -> Application:
        raise KubeNotFound(f"{namespace}/{name}")

    async def patch(self, namespace: str, name: str, patch: dict[str, Any]) -> Application:
        raise AssertionError(f"no patch expected for {namespace}/{name}: {patch}")

    async def get_project(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None

    async def close(self) -> None:
        self.closed = True


async def test_a_controller_lists_each_scope_and_watches_none_without_a_watch(
    make_cycle: Callable[..., Cycle], metrics: ReconcilerMetrics
) -> None:
    apps = [app("a", "one"), app("b", "two")]
    api = MemoryApplications(apps, scopes=("one", "two"), watchable=False)
    controller = Controller(
        api=api,
        cycle=make_cycle(api=api),
        metrics=metrics,
        settings=ControllerSettings(interval=0),
    )
    await asyncio.wait_for(controller.run(), 10)
    assert api.listed == ["one", "two"]
    assert api.watched == {}
    assert sorted(controller.index) == ["one/a", "two/b"]


async def test_a_controller_watches_each_scope_from_its_own_lists_version(
    make_cycle: Callable[..., Cycle], metrics: ReconcilerMetrics
) -> None:
    api = MemoryApplications([app("a", "one")], scopes=("one", "two"), watchable=True)
    controller = Controller(
        api=api,
        cycle=make_cycle(api=api),
        metrics=metrics,
        settings=ControllerSettings(interval=3600, debounce=0),
    )
    task = asyncio.create_task(controller.run())
    try:
        async with asyncio.timeout(5):
            await api.watching["one"].wait()
            await api.watching["two"].wait()
        assert api.watched == {"one": "v-one", "two": "v-two"}
        added = app("b", "two")
        await api.changes["two"].put(kube.WatchEvent("ADDED", dict(added)))
        async with asyncio.timeout(5):
            await api.taken["two"].wait()
        assert sorted(controller.index) == ["one/a", "two/b"]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
