"""ArgoCDClient against the Argo CD API emulator in front of the Kubernetes API emulator:
the four calls, conflicts, errors, the token's secrecy, transport failures and TLS."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from aiohttp import web

from devcluster.argocdapi import ArgoCDAPI
from devcluster.kubeapi import KubeAPI
from imageupdater.argocd import ArgoCDClient
from imageupdater.errors import (
    KubeConflict,
    KubeError,
    KubeForbidden,
    KubeInvalid,
    KubeNotFound,
    KubeUnavailable,
)

from .conftest import GROUP, TOKEN, VERSION, ServerFactory, stub_server


def names(items: list[dict[str, Any]]) -> list[str]:
    return [f"{i['metadata']['namespace']}/{i['metadata']['name']}" for i in items]


# ---- the four calls ----


async def test_listing_returns_every_application_in_every_namespace_sorted_by_name(
    client: ArgoCDClient,
) -> None:
    items = await client.list_applications()
    assert names(items) == ["argocd/api", "team-b/batch", "team-a/jobs", "argocd/web"]


async def test_a_label_selector_is_applied_by_the_server(
    client: ArgoCDClient, argocd: ArgoCDAPI
) -> None:
    items = await client.list_applications(selector="team=a")
    assert names(items) == ["team-a/jobs", "argocd/web"]
    assert argocd.requests.count(operation="list", status=200) == 1


async def test_an_app_namespace_restricts_the_list_to_that_namespace(
    client: ArgoCDClient,
) -> None:
    assert names(await client.list_applications(app_namespace="team-b")) == ["team-b/batch"]
    assert names(await client.list_applications(app_namespace="nowhere")) == []


async def test_get_returns_the_application_the_cluster_holds(
    client: ArgoCDClient, kube: KubeAPI
) -> None:
    app = await client.get_application("jobs", "team-a")
    stored = kube.store.get(GROUP, VERSION, "applications", "team-a", "jobs")
    assert stored is not None
    assert app["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
    assert app["spec"] == stored["spec"]


async def test_a_merge_patch_is_applied_and_visible_through_the_kubernetes_api(
    client: ArgoCDClient, kube: KubeAPI
) -> None:
    app = await client.get_application("web", "argocd")
    helm = {"parameters": [{"name": "image.tag", "value": "2.0.0", "forceString": True}]}
    patch = {
        "metadata": {"resourceVersion": app["metadata"]["resourceVersion"]},
        "spec": {"source": {"helm": helm}},
    }
    updated = await client.patch_application("web", "argocd", patch)
    stored = kube.store.get(GROUP, VERSION, "applications", "argocd", "web")
    assert stored is not None
    assert stored["spec"]["source"]["helm"] == helm
    assert stored["spec"]["source"]["repoURL"] == "https://git.example/app.git"
    assert updated["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
    assert updated["metadata"]["resourceVersion"] != app["metadata"]["resourceVersion"]


async def test_a_stale_resource_version_is_a_conflict(client: ArgoCDClient) -> None:
    app = await client.get_application("api", "argocd")
    stale = app["metadata"]["resourceVersion"]
    await client.patch_application("api", "argocd", {"metadata": {"labels": {"touched": "1"}}})
    with pytest.raises(KubeConflict) as caught:
        await client.patch_application(
            "api", "argocd", {"metadata": {"resourceVersion": stale}, "spec": {"project": "x"}}
        )
    assert caught.value.status == 409
    assert "argocd/api" in str(caught.value)


async def test_argocd_server_giving_up_after_its_own_conflict_retries_is_a_conflict(
    kube: KubeAPI, kube_url: str, aiohttp_server: ServerFactory
) -> None:
    faithful = ArgoCDAPI(kube_url, tokens={TOKEN}, guard_resource_version=False)
    server = await aiohttp_server(faithful.app())
    kube.faults.inject(verb="patch", resource="applications", status=409, times=10)
    async with ArgoCDClient(f"127.0.0.1:{server.port}", token=TOKEN, plaintext=True) as c:
        with pytest.raises(KubeConflict) as caught:
            await c.patch_application("web", "argocd", {"spec": {"project": "x"}})
    assert caught.value.status == 500
    assert "Too many conflicts" in str(caught.value)


async def test_get_project_returns_the_app_project(client: ArgoCDClient) -> None:
    project = await client.get_project("default")
    assert project["kind"] == "AppProject"
    assert project["spec"]["syncWindows"][0]["kind"] == "allow"


async def test_a_missing_project_is_not_found(client: ArgoCDClient) -> None:
    with pytest.raises(KubeNotFound, match="get project nope"):
        await client.get_project("nope")


# ---- errors ----


async def test_a_missing_application_is_not_found_and_the_message_names_server_and_app(
    client: ArgoCDClient, argocd_addr: str
) -> None:
    with pytest.raises(KubeNotFound) as caught:
        await client.get_application("ghost", "team-a")
    message = str(caught.value)
    assert caught.value.status == 404
    assert argocd_addr in message
    assert "team-a/ghost" in message
    assert 'applications.argoproj.io "ghost" not found' in message


async def test_a_wrong_token_is_forbidden_and_no_message_contains_a_token(
    argocd_addr: str,
) -> None:
    wrong = "wrong-token-0c7d2a"
    async with ArgoCDClient(argocd_addr, token=wrong, plaintext=True) as c:
        with pytest.raises(KubeForbidden) as caught:
            await c.get_application("web", "argocd")
        assert wrong not in repr(c)
    assert caught.value.status == 401
    for text in (str(caught.value), repr(caught.value)):
        assert wrong not in text
        assert TOKEN not in text
    assert "invalid session" in str(caught.value)
    assert "argocd/web" in str(caught.value)


async def test_a_token_echoed_by_the_server_is_redacted(aiohttp_server: ServerFactory) -> None:
    async def echo(request: web.Request) -> web.Response:
        said = f"token {request.headers['Authorization']} is not allowed"
        return web.json_response({"error": said, "code": 7, "message": said}, status=403)

    addr = await stub_server(aiohttp_server, echo)
    async with ArgoCDClient(addr, token=TOKEN, plaintext=True) as c:
        with pytest.raises(KubeForbidden) as caught:
            await c.list_applications()
    assert TOKEN not in str(caught.value)
    assert "<redacted>" in str(caught.value)


ERROR_TABLE = [
    pytest.param(400, 3, "Patch type 'x' is not supported", KubeInvalid, id="400-invalid"),
    pytest.param(401, 16, "no session information", KubeForbidden, id="401-forbidden"),
    pytest.param(403, 7, "permission denied", KubeForbidden, id="403-forbidden"),
    pytest.param(404, 5, "not found", KubeNotFound, id="404-not-found"),
    pytest.param(409, 10, "the object has been modified", KubeConflict, id="409-conflict"),
    pytest.param(429, 8, "slow down", KubeUnavailable, id="429-unavailable"),
    pytest.param(
        500,
        13,
        "Failed to update application. Too many conflicts",
        KubeConflict,
        id="500-too-many-conflicts-is-a-conflict",
    ),
    pytest.param(500, 13, "boom", KubeUnavailable, id="500-unavailable"),
    pytest.param(503, 14, "connection error", KubeUnavailable, id="503-unavailable"),
]


@pytest.mark.parametrize(("status", "code", "message", "expected"), ERROR_TABLE)
async def test_argocd_error_answers_become_the_matching_kube_error(
    aiohttp_server: ServerFactory,
    status: int,
    code: int,
    message: str,
    expected: type[KubeError],
) -> None:
    async def fail(_request: web.Request) -> web.Response:
        body = {"error": message, "code": code, "message": message}
        return web.json_response(body, status=status)

    addr = await stub_server(aiohttp_server, fail)
    async with ArgoCDClient(addr, token=TOKEN, plaintext=True) as c:
        with pytest.raises(KubeError) as caught:
            await c.get_application("web", "argocd")
    assert type(caught.value) is expected
    assert caught.value.status == status
    assert message in str(caught.value)
    assert f"gRPC code {code}" in str(caught.value)


async def test_a_kubernetes_server_error_behind_argocd_is_unavailable(
    client: ArgoCDClient, kube: KubeAPI
) -> None:
    kube.faults.inject(verb="get", resource="applications", status=500)
    with pytest.raises(KubeUnavailable) as caught:
        await client.get_application("web", "argocd")
    assert caught.value.status == 500
    assert caught.value.transient


# ---- transport ----


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_server_that_is_down_is_unavailable() -> None:
    addr = f"127.0.0.1:{free_port()}"
    async with ArgoCDClient(addr, token=TOKEN, plaintext=True, timeout=5) as c:
        with pytest.raises(KubeUnavailable) as caught:
            await c.list_applications()
    assert addr in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert caught.value.status == 0


async def test_a_server_slower_than_the_timeout_is_unavailable(
    aiohttp_server: ServerFactory,
) -> None:
    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    addr = await stub_server(aiohttp_server, slow)
    async with ArgoCDClient(addr, token=TOKEN, plaintext=True, timeout=0.3) as c:
        with pytest.raises(KubeUnavailable, match=r"no answer within 0\.3s"):
            await c.get_project("default")


async def test_an_answer_larger_than_the_limit_is_refused(argocd_addr: str) -> None:
    async with ArgoCDClient(argocd_addr, token=TOKEN, plaintext=True, max_response_bytes=500) as c:
        with pytest.raises(KubeUnavailable, match="500-byte limit"):
            await c.list_applications()


async def test_an_html_page_is_not_taken_for_the_api(aiohttp_server: ServerFactory) -> None:
    async def ui(_request: web.Request) -> web.Response:
        return web.Response(text="<html>Argo CD</html>", content_type="text/html")

    addr = await stub_server(aiohttp_server, ui)
    async with ArgoCDClient(addr, token=TOKEN, plaintext=True) as c:
        with pytest.raises(KubeUnavailable, match="text/html, not JSON"):
            await c.list_applications()


async def test_a_redirect_to_https_says_to_drop_plaintext(aiohttp_server: ServerFactory) -> None:
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(f"https://{request.host}{request.path_qs}")

    addr = await stub_server(aiohttp_server, redirect)
    async with ArgoCDClient(addr, token=TOKEN, plaintext=True) as c:
        with pytest.raises(KubeUnavailable, match="drop --argocd-plaintext"):
            await c.list_applications()


async def test_the_client_works_without_async_with_and_closes_on_request(
    argocd_addr: str,
) -> None:
    c = ArgoCDClient(argocd_addr, token=TOKEN, plaintext=True)
    states = [c.closed]
    states.append(len(await c.list_applications()) == 4)
    states.append(c.closed)
    await c.close()
    states.append(c.closed)
    await c.close()
    assert states == [True, True, False, True]


# ---- TLS ----


async def test_tls_with_the_servers_ca_file_works(tls_addr: str, ca_file: str) -> None:
    async with ArgoCDClient(tls_addr, token=TOKEN, ca_file=ca_file) as c:
        assert c.base_url.scheme == "https"
        assert (await c.get_application("web", "argocd"))["metadata"]["name"] == "web"


async def test_tls_with_an_untrusted_certificate_is_unavailable_and_says_why(
    tls_addr: str,
) -> None:
    async with ArgoCDClient(tls_addr, token=TOKEN) as c:
        with pytest.raises(KubeUnavailable) as caught:
            await c.list_applications()
    assert "TLS failed" in str(caught.value)
    assert "--argocd-insecure" in str(caught.value)


async def test_insecure_skips_certificate_verification(tls_addr: str) -> None:
    async with ArgoCDClient(tls_addr, token=TOKEN, insecure=True) as c:
        assert len(await c.list_applications(selector="team=b")) == 2


async def test_plaintext_against_a_tls_server_is_unavailable(tls_addr: str) -> None:
    async with ArgoCDClient(tls_addr, token=TOKEN, plaintext=True, timeout=5) as c:
        with pytest.raises(KubeUnavailable):
            await c.list_applications()


async def test_https_against_a_plaintext_server_is_unavailable(argocd_addr: str) -> None:
    async with ArgoCDClient(argocd_addr, token=TOKEN, insecure=True, timeout=5) as c:
        with pytest.raises(KubeUnavailable):
            await c.list_applications()
