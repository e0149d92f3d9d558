"""What goes over the wire and how odd answers are read: request headers, watch query
parameters, watch events longer than a read buffer, answers that are not JSON, a watch
refused outright with 410, and a server that is not there."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from devcluster.kubeapi import KubeAPI
from imageupdater import kube
from imageupdater.errors import KubeGone, KubeUnavailable

from .conftest import Seen, one_context

Serve = Callable[..., Awaitable[str]]
TOKEN = "wire-token-0b5e"


@pytest.fixture
async def client(emulator: tuple[KubeAPI, str], tmp_path: Path) -> AsyncIterator[kube.KubeClient]:
    _, url = emulator
    path = one_context(tmp_path / "k", url, user={"token": TOKEN})
    async with await kube.KubeClient.connect(str(path), environ={}) as connected:
        yield connected


def app(name: str, **annotations: str) -> kube.JSON:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd", "annotations": annotations},
        "spec": {"project": "default"},
    }


async def test_requests_carry_json_headers_and_the_patch_content_type(
    client: kube.KubeClient, seen: Seen
) -> None:
    await client.create(kube.APPLICATIONS, "argocd", app("a"))
    await client.patch(kube.APPLICATIONS, "argocd", "a", {"spec": {"project": "x"}})
    create, patch = seen.headers
    assert create["accept"] == ["application/json"]
    assert create["content-type"] == ["application/json"]
    assert patch["content-type"] == [kube.MERGE_PATCH]
    assert create["user-agent"][0].startswith("image-updater/")
    assert create["authorization"] == [f"Bearer {TOKEN}"]


async def test_a_dry_run_patch_asks_the_server_not_to_store_it(
    client: kube.KubeClient, emulator: tuple[KubeAPI, str], seen: Seen
) -> None:
    api, _ = emulator
    await client.create(kube.APPLICATIONS, "argocd", app("d"))
    answer = await client.patch(
        kube.APPLICATIONS, "argocd", "d", {"spec": {"project": "y"}}, dry_run=True
    )
    assert answer["spec"]["project"] == "y"
    assert seen.queries[-1] == {"dryRun": "All"}
    stored = api.store.get("argoproj.io", None, "applications", "argocd", "d")
    assert stored is not None and stored["spec"]["project"] == "default"


async def test_a_watch_asks_for_bookmarks_unless_told_not_to(
    client: kube.KubeClient, seen: Seen
) -> None:
    for bookmarks in (True, False):
        async for _ in client.watch(
            kube.APPLICATIONS, "argocd", label_selector="a=b", timeout_seconds=1,
            resource_version="1", bookmarks=bookmarks,
        ):  # fmt: skip
            pass
    expected = {"watch": "true", "timeoutSeconds": "1", "labelSelector": "a=b",
                "resourceVersion": "1"}  # fmt: skip
    assert seen.queries == [{**expected, "allowWatchBookmarks": "true"}, expected]


async def test_a_watch_event_longer_than_a_read_buffer_arrives_whole(
    client: kube.KubeClient,
) -> None:
    big = "x" * 600_000
    created = await client.create(kube.APPLICATIONS, "argocd", app("big"))
    version = created["metadata"]["resourceVersion"]
    await client.patch(kube.APPLICATIONS, "argocd", "big",
                       {"metadata": {"annotations": {"big": big}}})  # fmt: skip
    events = [
        event
        async for event in client.watch(
            kube.APPLICATIONS, "argocd", resource_version=version, timeout_seconds=1
        )
        if event.type == "MODIFIED"
    ]
    assert [e.object["metadata"]["annotations"]["big"] for e in events] == [big]


async def odd_server(serve: Serve, body: bytes, status: int = 200) -> str:
    async def answer(_request: web.Request) -> web.Response:
        return web.Response(body=body, status=status, content_type="application/json")

    application = web.Application()
    application.router.add_route("*", "/{tail:.*}", answer)
    return await serve(application)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>gateway</html>", "list applications in argocd: the API server answered with "
         "invalid JSON"),
        (b"[1, 2]", "list applications in argocd: the API server answered with a non-object"),
    ],
)  # fmt: skip
async def test_an_answer_that_is_no_json_object_is_unavailable(
    serve: Serve, tmp_path: Path, body: bytes, message: str
) -> None:
    url = await odd_server(serve, body)
    path = one_context(tmp_path / "k", url, user={"token": TOKEN})
    async with await kube.KubeClient.connect(str(path), environ={}) as client:
        with pytest.raises(KubeUnavailable) as caught:
            await client.list(kube.APPLICATIONS, "argocd")
    assert str(caught.value) == message


async def test_a_watch_line_that_is_no_json_is_unavailable(serve: Serve, tmp_path: Path) -> None:
    url = await odd_server(serve, b'{"type": "ADDED", "object": {}}\nnot json\n')
    path = one_context(tmp_path / "k", url, user=None)
    async with await kube.KubeClient.connect(str(path), environ={}) as client:
        seen = []
        with pytest.raises(KubeUnavailable, match="a watch event in invalid JSON"):
            async for event in client.watch(kube.APPLICATIONS, "argocd", timeout_seconds=1):
                seen.append(event.type)
    assert seen == ["ADDED"]


async def test_a_watch_refused_with_410_is_gone(serve: Serve, tmp_path: Path) -> None:
    status = b'{"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}'
    url = await odd_server(serve, status, status=410)
    path = one_context(tmp_path / "k", url, user=None)
    async with await kube.KubeClient.connect(str(path), environ={}) as client:
        with pytest.raises(KubeGone, match=r"^watch applications: too old$"):
            async for _ in client.watch(kube.APPLICATIONS, resource_version="5"):
                pass


async def test_an_expired_watch_event_is_gone_with_the_servers_words(
    client: kube.KubeClient, emulator: tuple[KubeAPI, str]
) -> None:
    api, _ = emulator
    created = await client.create(kube.APPLICATIONS, "argocd", app("e"))
    await client.patch(kube.APPLICATIONS, "argocd", "e", {"spec": {"project": "z"}})
    api.store.compact()
    with pytest.raises(KubeGone, match=r"^watch applications in argocd: Expired: too old"):
        async for _ in client.watch(
            kube.APPLICATIONS, "argocd",
            resource_version=created["metadata"]["resourceVersion"], timeout_seconds=2,
        ):  # fmt: skip
            pass


async def test_a_server_that_is_not_there_is_unavailable_without_the_token(
    tmp_path: Path,
) -> None:
    listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    listener.close()
    await listener.wait_closed()
    path = one_context(tmp_path / "k", f"http://127.0.0.1:{port}", user={"token": TOKEN})
    async with await kube.KubeClient.connect(str(path), environ={}) as client:
        with pytest.raises(KubeUnavailable) as caught:
            await client.get(kube.SECRETS, "argocd", "s")
    assert str(caught.value).startswith("get secrets argocd/s: ClientConnectorError: ")
    assert TOKEN not in str(caught.value)
    assert caught.value.transient
