"""Watches: initial ADDED, resume from a resourceVersion, 410 Expired, timeouts, selectors,
bookmarks, and clean ends on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kubernetes_asyncio.client import ApiClient, ApiException, CustomObjectsApi
from kubernetes_asyncio.watch import Watch

from devcluster.kubeapi import KubeAPI
from devcluster.kubeapi.selectors import parse_field_selector, parse_label_selector
from devcluster.kubeapi.watch import WatchRequest, translate
from tests.waiting import async_wait_until

from .conftest import APP_GROUP, APP_VERSION, APPS, application

LIST_URL = f"/apis/{APP_GROUP}/{APP_VERSION}/namespaces/argocd/applications"


@contextlib.asynccontextmanager
async def open_watch(base_url: str, query: str) -> AsyncIterator[aiohttp.ClientResponse]:
    """One raw watch request, once its answer has started: the emulator subscribes the watch
    before it answers, so from here on every store change reaches this stream."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{base_url}{LIST_URL}?{query}") as resp,
    ):
        assert resp.status == 200
        yield resp


async def read_events(resp: aiohttp.ClientResponse, until: int = 100) -> list[dict[str, Any]]:
    """Events of a watch, read until the server ends it (or `until` events)."""
    events: list[dict[str, Any]] = []
    async for line in resp.content:
        events.append(json.loads(line))
        if len(events) >= until:
            break
    return events


async def raw_watch(base_url: str, query: str, *, until: int = 100) -> list[dict[str, Any]]:
    """Events of one raw watch request, read until the server ends it (or `until` events)."""
    async with open_watch(base_url, query) as resp:
        return await read_events(resp, until)


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"]["metadata"].get("name", "")) for e in events]


async def test_a_watch_without_a_version_starts_with_the_current_objects(
    client: ApiClient, api: KubeAPI
) -> None:
    api.store.put(application("a"))
    api.store.put(application("b"))
    seen = []
    async for event in Watch().stream(
        CustomObjectsApi(client).list_namespaced_custom_object,
        APP_GROUP,
        APP_VERSION,
        "argocd",
        APPS,
        timeout_seconds=1,
    ):
        seen.append((event["type"], event["object"]["metadata"]["name"]))
    assert seen == [("ADDED", "a"), ("ADDED", "b")]


async def test_a_watch_streams_live_changes_as_they_happen(base_url: str, api: KubeAPI) -> None:
    api.store.put(application("a"))
    rv = api.store.resource_version
    async with open_watch(base_url, f"watch=1&resourceVersion={rv}") as resp:
        api.store.put(application("a", labels={"x": "y"}))
        api.store.delete(APP_GROUP, None, APPS, "argocd", "a")
        events = await read_events(resp, until=2)
    assert summary(events) == [("MODIFIED", "a"), ("DELETED", "a")]


async def test_a_watch_resumes_from_history_after_the_given_version(
    base_url: str, api: KubeAPI
) -> None:
    api.store.put(application("a"))
    rv = api.store.resource_version
    api.store.put(application("b"))
    api.store.put(application("a", labels={"x": "y"}))
    events = await raw_watch(base_url, f"watch=true&resourceVersion={rv}&timeoutSeconds=1")
    assert summary(events) == [("ADDED", "b"), ("MODIFIED", "a")]


async def test_a_version_below_the_history_floor_gets_one_410_expired_event(
    base_url: str, api: KubeAPI
) -> None:
    api.store.put(application("a"))
    rv = api.store.resource_version
    api.store.put(application("b"))
    api.store.compact()
    events = await raw_watch(base_url, f"watch=true&resourceVersion={rv}&timeoutSeconds=5")
    assert len(events) == 1
    assert events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410
    assert events[0]["object"]["reason"] == "Expired"


async def test_kubernetes_asyncio_raises_the_410_when_a_timeout_is_set(
    client: ApiClient, api: KubeAPI
) -> None:
    api.store.put(application("a"))
    api.store.compact()
    api.store.put(application("b"))
    with pytest.raises(ApiException) as exc:
        async for _ in Watch().stream(
            CustomObjectsApi(client).list_namespaced_custom_object,
            APP_GROUP,
            APP_VERSION,
            "argocd",
            APPS,
            resource_version="1",
            timeout_seconds=5,
        ):
            pass
    assert exc.value.status == 410


async def test_the_history_is_bounded_and_older_versions_expire(aiohttp_server: Any) -> None:
    api = KubeAPI(history_limit=3)
    server = await aiohttp_server(api.app())
    base = str(server.make_url("")).rstrip("/")
    api.store.put(application("a"))
    old = api.store.resource_version
    for i in range(5):
        api.store.put(application("a", labels={"n": str(i)}))
    events = await raw_watch(base, f"watch=true&resourceVersion={old}&timeoutSeconds=1")
    assert events[0]["type"] == "ERROR"
    recent = api.store.resource_version - 2
    events = await raw_watch(base, f"watch=true&resourceVersion={recent}&timeoutSeconds=1")
    assert summary(events) == [("MODIFIED", "a"), ("MODIFIED", "a")]


async def test_timeout_seconds_ends_the_stream(base_url: str) -> None:
    started = time.monotonic()
    events = await raw_watch(base_url, "watch=true&timeoutSeconds=1")
    assert events == []
    assert 0.9 < time.monotonic() - started < 3


async def test_a_label_selector_turns_leaving_and_entering_into_deleted_and_added(
    base_url: str, api: KubeAPI
) -> None:
    api.store.put(application("a", labels={"team": "x"}))
    rv = api.store.resource_version
    api.store.put(application("a", labels={"team": "y"}))
    api.store.put(application("a", labels={"team": "x"}))
    api.store.put(application("b", labels={"team": "y"}))
    events = await raw_watch(
        base_url, f"watch=true&resourceVersion={rv}&timeoutSeconds=1&labelSelector=team%3Dx"
    )
    assert summary(events) == [("DELETED", "a"), ("ADDED", "a")]


async def test_bookmarks_carry_the_latest_resource_version(base_url: str, api: KubeAPI) -> None:
    api.store.put(application("a"))
    events = await raw_watch(
        base_url, "watch=true&allowWatchBookmarks=true&timeoutSeconds=1", until=3
    )
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert bookmarks
    assert bookmarks[0]["object"]["metadata"]["resourceVersion"] == str(api.store.resource_version)


async def test_an_injected_410_on_a_watch_arrives_as_an_error_event(
    base_url: str, api: KubeAPI
) -> None:
    api.faults.inject(verb="watch", resource=APPS, status=410)
    events = await raw_watch(base_url, "watch=true&timeoutSeconds=1")
    assert [e["type"] for e in events] == ["ERROR"]
    assert (await raw_watch(base_url, "watch=true&timeoutSeconds=1")) == []


async def test_shutting_the_server_down_ends_open_watches_promptly(aiohttp_server: Any) -> None:
    api = KubeAPI()
    server = await aiohttp_server(api.app())
    base = str(server.make_url("")).rstrip("/")
    async with open_watch(base, "watch=true") as resp:
        assert api.store.watchers == 1
        reader = asyncio.create_task(read_events(resp))
        started = time.monotonic()
        await server.close()
        assert await asyncio.wait_for(reader, 5) == []
        assert time.monotonic() - started < 5
    assert api.store.watchers == 0


async def test_a_watcher_whose_client_left_is_dropped(base_url: str, api: KubeAPI) -> None:
    async with open_watch(base_url, "watch=true") as resp:
        assert api.store.watchers == 1
        resp.close()
    # An idle watcher notices its client left at its next liveness check, a server-side timer
    # that announces nothing the test could wait on.
    await async_wait_until(
        lambda: api.store.watchers == 0,
        within=5,
        what="the emulator to drop the watch whose client left",
    )


_ops = st.lists(
    st.tuples(st.sampled_from(["put", "delete"]), st.sampled_from("abc"), st.sampled_from("xy")),
    max_size=12,
)


@given(_ops, _ops, st.sampled_from(["", "team=x", "team!=x"]))
def test_a_snapshot_plus_the_events_after_it_rebuilds_the_current_selection(
    before: list[tuple[str, str, str]], after: list[tuple[str, str, str]], selector: str
) -> None:
    api = KubeAPI(crds=())
    rt = api.resources.lookup("", "v1", "configmaps")
    assert rt is not None

    def run(ops: list[tuple[str, str, str]]) -> None:
        for op, name, team in ops:
            if op == "put":
                api.store.put(
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": name, "labels": {"team": team}},
                    }
                )
            elif api.store.get("", "v1", "configmaps", "default", name) is not None:
                api.store.delete("", "v1", "configmaps", "default", name)

    w = WatchRequest(
        rt, "default", parse_label_selector(selector), parse_field_selector(""), None, 1.0, False
    )
    run(before)
    rv = api.store.resource_version
    state = {
        o["metadata"]["name"]: o
        for o in api.store.items(rt, "default")
        if w.labels.matches(o["metadata"]["labels"])
    }
    run(after)
    for event in api.store.history_after(rv):
        wire = translate(w, event)
        if wire is None:
            continue
        name = wire["object"]["metadata"]["name"]
        if wire["type"] == "DELETED":
            del state[name]
        else:
            assert (name in state) is (wire["type"] == "MODIFIED")
            state[name] = wire["object"]
    expected = {
        o["metadata"]["name"]: o
        for o in api.store.items(rt, "default")
        if w.labels.matches(o["metadata"]["labels"])
    }
    assert state == expected
