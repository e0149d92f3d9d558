"""The Argo CD API emulator itself, over raw HTTP: argocd-server's auth and error shapes,
patch types, the project filter, the request log, and the unguarded (argocd-server-like)
conflict handling."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from devcluster.argocdapi import ArgoCDAPI
from devcluster.kubeapi import KubeAPI

from .conftest import GROUP, TOKEN, VERSION, ServerFactory

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def url(addr: str, path: str) -> str:
    return f"http://{addr}{path}"


async def answer(response: aiohttp.ClientResponse) -> tuple[int, Any]:
    return response.status, await response.json()


async def test_a_request_without_a_token_is_401_in_argocd_error_shape(
    http: aiohttp.ClientSession, argocd_addr: str
) -> None:
    async with http.get(url(argocd_addr, "/api/v1/applications")) as r:
        status, body = await answer(r)
    assert status == 401
    assert body == {
        "error": "no session information",
        "code": 16,
        "message": "no session information",
    }


async def test_a_wrong_token_is_an_invalid_session(
    http: aiohttp.ClientSession, argocd_addr: str
) -> None:
    headers = {"Authorization": "Bearer nope"}
    async with http.get(url(argocd_addr, "/api/v1/projects/default"), headers=headers) as r:
        status, body = await answer(r)
    assert (status, body["code"]) == (401, 16)
    assert body["message"].startswith("invalid session")


async def test_the_argocd_token_cookie_is_accepted_like_the_header(
    http: aiohttp.ClientSession, argocd_addr: str
) -> None:
    cookies = {"Cookie": f"argocd.token={TOKEN}"}
    async with http.get(url(argocd_addr, "/api/v1/applications/web"), headers=cookies) as r:
        status, body = await answer(r)
    assert status == 200
    assert body["metadata"]["name"] == "web"


async def test_an_unknown_path_is_not_found(http: aiohttp.ClientSession, argocd_addr: str) -> None:
    async with http.get(url(argocd_addr, "/api/v1/clusters"), headers=AUTH) as r:
        status, body = await answer(r)
    assert (status, body["code"]) == (404, 5)


async def test_an_unsupported_patch_type_is_invalid_argument(
    http: aiohttp.ClientSession, argocd_addr: str
) -> None:
    body = {"name": "web", "patch": "{}", "patchType": "strategic"}
    async with http.patch(
        url(argocd_addr, "/api/v1/applications/web"), json=body, headers=AUTH
    ) as r:
        status, answered = await answer(r)
    assert (status, answered["code"]) == (400, 3)
    assert answered["message"] == "Patch type 'strategic' is not supported"


async def test_a_json_patch_is_the_default_patch_type(
    http: aiohttp.ClientSession, argocd_addr: str, kube: KubeAPI
) -> None:
    ops = [{"op": "replace", "path": "/spec/project", "value": "other"}]
    body = {"name": "jobs", "appNamespace": "team-a", "patch": json.dumps(ops)}
    async with http.patch(
        url(argocd_addr, "/api/v1/applications/jobs"), json=body, headers=AUTH
    ) as r:
        status, answered = await answer(r)
    assert status == 200
    assert answered["spec"]["project"] == "other"
    stored = kube.store.get(GROUP, VERSION, "applications", "team-a", "jobs")
    assert stored is not None
    assert stored["spec"]["project"] == "other"


async def test_the_projects_query_filters_the_list(
    http: aiohttp.ClientSession, argocd_addr: str, kube: KubeAPI
) -> None:
    stored = kube.store.get(GROUP, VERSION, "applications", "team-b", "batch")
    assert stored is not None
    stored["spec"]["project"] = "batch-jobs"
    kube.store.put(stored)
    path = "/api/v1/applications?projects=batch-jobs&projects=unused"
    async with http.get(url(argocd_addr, path), headers=AUTH) as r:
        status, body = await answer(r)
    assert status == 200
    assert [i["metadata"]["name"] for i in body["items"]] == ["batch"]
    assert body["metadata"]["resourceVersion"]


async def test_the_request_log_counts_operations_and_statuses(
    http: aiohttp.ClientSession, argocd_addr: str, argocd: ArgoCDAPI
) -> None:
    for path in (
        "/api/v1/applications",
        "/api/v1/applications/web",
        "/api/v1/applications/ghost",
        "/api/v1/projects/default",
    ):
        async with http.get(url(argocd_addr, path), headers=AUTH):
            pass
    async with http.get(url(argocd_addr, "/api/v1/applications")):
        pass
    assert argocd.requests.count(operation="list") == 2
    assert argocd.requests.count(operation="list", status=401) == 1
    assert argocd.requests.count(operation="get", status=200) == 1
    assert argocd.requests.count(operation="get", status=404, name="ghost") == 1
    assert argocd.requests.count(operation="get-project", status=200) == 1
    assert len(argocd.requests.records) == 5
    argocd.requests.clear()
    assert argocd.requests.count() == 0


async def test_unguarded_mode_ignores_a_stale_resource_version_like_argocd_server(
    http: aiohttp.ClientSession, kube: KubeAPI, kube_url: str, aiohttp_server: ServerFactory
) -> None:
    faithful = ArgoCDAPI(kube_url, tokens={TOKEN}, guard_resource_version=False)
    server = await aiohttp_server(faithful.app())
    addr = f"127.0.0.1:{server.port}"
    patch = {"metadata": {"resourceVersion": "1"}, "spec": {"project": "late"}}
    body = {"name": "web", "patch": json.dumps(patch), "patchType": "merge"}
    async with http.patch(url(addr, "/api/v1/applications/web"), json=body, headers=AUTH) as r:
        status, answered = await answer(r)
    assert status == 200
    assert answered["spec"]["project"] == "late"
    assert answered["metadata"]["resourceVersion"] != "1"


async def test_an_unreachable_kubernetes_api_is_unavailable(
    http: aiohttp.ClientSession, aiohttp_server: ServerFactory
) -> None:
    emulator = ArgoCDAPI("http://127.0.0.1:9", tokens={TOKEN}, kube_timeout=5)
    server = await aiohttp_server(emulator.app())
    async with http.get(url(f"127.0.0.1:{server.port}", "/api/v1/applications"), headers=AUTH) as r:
        status, body = await answer(r)
    assert (status, body["code"]) == (503, 14)
    assert body["message"].startswith("connection error")


def test_the_emulator_needs_a_token() -> None:
    with pytest.raises(ValueError, match="non-empty token"):
        ArgoCDAPI("http://127.0.0.1:1", tokens=())
