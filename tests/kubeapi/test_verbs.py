"""CRUD through kubernetes_asyncio: status codes, Status bodies, concurrency, patch types,
generation, the status subresource, dry run, pagination, faults and the request log."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio.client import ApiClient, ApiException, CoreV1Api, CustomObjectsApi

from devcluster.kubeapi import KubeAPI

from .conftest import APP_GROUP, APP_VERSION, APPS, IU_GROUP, application

MERGE = "application/merge-patch+json"


def apps(client: ApiClient) -> CustomObjectsApi:
    return CustomObjectsApi(client)


async def create_app(client: ApiClient, name: str, **kw: Any) -> dict[str, Any]:
    result: dict[str, Any] = await apps(client).create_namespaced_custom_object(
        APP_GROUP, APP_VERSION, "argocd", APPS, application(name, **kw)
    )
    return result


async def patch_app(client: ApiClient, name: str, body: Any, **kw: Any) -> dict[str, Any]:
    kw.setdefault("_content_type", MERGE)
    result: dict[str, Any] = await apps(client).patch_namespaced_custom_object(
        APP_GROUP, APP_VERSION, "argocd", APPS, name, body, **kw
    )
    return result


async def test_create_answers_201_with_server_set_metadata(client: ApiClient) -> None:
    created = await create_app(client, "guestbook")
    meta = created["metadata"]
    assert meta["uid"] and meta["creationTimestamp"]
    assert meta["generation"] == 1
    assert int(meta["resourceVersion"]) > 0


async def test_generate_name_gives_a_fresh_name(client: ApiClient) -> None:
    body = application("x")
    body["metadata"] = {"generateName": "gen-"}
    made = await apps(client).create_namespaced_custom_object(
        APP_GROUP, APP_VERSION, "argocd", APPS, body
    )
    assert made["metadata"]["name"].startswith("gen-")
    assert len(made["metadata"]["name"]) == len("gen-") + 5


async def test_a_duplicate_create_is_409_already_exists(client: ApiClient) -> None:
    await create_app(client, "dup")
    with pytest.raises(ApiException) as exc:
        await create_app(client, "dup")
    assert exc.value.status == 409
    assert json.loads(exc.value.body)["reason"] == "AlreadyExists"


async def test_getting_a_missing_object_is_404_with_a_status_body(client: ApiClient) -> None:
    with pytest.raises(ApiException) as exc:
        await apps(client).get_namespaced_custom_object(
            APP_GROUP, APP_VERSION, "argocd", APPS, "nope"
        )
    body = json.loads(exc.value.body)
    assert exc.value.status == 404
    assert body["kind"] == "Status"
    assert body["reason"] == "NotFound"
    assert body["message"] == 'applications.argoproj.io "nope" not found'
    assert body["details"] == {"name": "nope", "group": APP_GROUP, "kind": APPS}


async def test_a_list_is_typed_and_carries_the_current_resource_version(
    client: ApiClient, api: KubeAPI
) -> None:
    await create_app(client, "a")
    await create_app(client, "b")
    listed = await apps(client).list_namespaced_custom_object(
        APP_GROUP, APP_VERSION, "argocd", APPS
    )
    assert listed["kind"] == "ApplicationList"
    assert listed["apiVersion"] == f"{APP_GROUP}/{APP_VERSION}"
    assert listed["metadata"]["resourceVersion"] == str(api.store.resource_version)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a", "b"]


@pytest.mark.parametrize(
    ("selector", "names"),
    [
        pytest.param("team=x", ["a", "c"], id="equals"),
        pytest.param("team!=x", ["b", "d"], id="not-equals-includes-unlabelled"),
        pytest.param("team in (x,y)", ["a", "b", "c"], id="in"),
        pytest.param("team notin (x)", ["b", "d"], id="notin"),
        pytest.param("tier", ["c"], id="exists"),
        pytest.param("!team", ["d"], id="not-exists"),
    ],
)
async def test_a_label_selector_filters_the_list(
    client: ApiClient, selector: str, names: list[str]
) -> None:
    for name, labels in [
        ("a", {"team": "x"}),
        ("b", {"team": "y"}),
        ("c", {"team": "x", "tier": "web"}),
        ("d", {}),
    ]:
        await create_app(client, name, labels=labels)
    listed = await apps(client).list_namespaced_custom_object(
        APP_GROUP, APP_VERSION, "argocd", APPS, label_selector=selector
    )
    assert [i["metadata"]["name"] for i in listed["items"]] == names


async def test_lists_span_namespaces_or_stay_in_one_and_filter_by_field(
    client: ApiClient, api: KubeAPI
) -> None:
    api.store.put({**application("one"), "metadata": {"name": "one", "namespace": "team-a"}})
    api.store.put({**application("two"), "metadata": {"name": "two", "namespace": "team-b"}})
    everywhere = await apps(client).list_cluster_custom_object(APP_GROUP, APP_VERSION, APPS)
    in_a = await apps(client).list_namespaced_custom_object(APP_GROUP, APP_VERSION, "team-a", APPS)
    by_field = await apps(client).list_cluster_custom_object(
        APP_GROUP, APP_VERSION, APPS, field_selector="metadata.namespace=team-b"
    )
    assert [i["metadata"]["name"] for i in everywhere["items"]] == ["one", "two"]
    assert [i["metadata"]["name"] for i in in_a["items"]] == ["one"]
    assert [i["metadata"]["name"] for i in by_field["items"]] == ["two"]


async def test_an_unsupported_field_selector_is_400(client: ApiClient) -> None:
    with pytest.raises(ApiException) as exc:
        await apps(client).list_cluster_custom_object(
            APP_GROUP, APP_VERSION, APPS, field_selector="spec.project=default"
        )
    assert exc.value.status == 400
    assert "spec.project" in json.loads(exc.value.body)["message"]


async def test_a_list_pages_with_limit_and_continue(client: ApiClient) -> None:
    for name in "abcde":
        await create_app(client, name)
    seen, token = [], None
    for _ in range(5):
        page = await apps(client).list_namespaced_custom_object(
            APP_GROUP, APP_VERSION, "argocd", APPS, limit=2, _continue=token
        )
        seen += [i["metadata"]["name"] for i in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
    assert seen == list("abcde")


async def test_replace_with_a_stale_resource_version_is_409(client: ApiClient) -> None:
    created = await create_app(client, "r")
    await patch_app(client, "r", {"spec": {"project": "p2"}})
    created["spec"]["project"] = "p3"
    with pytest.raises(ApiException) as exc:
        await apps(client).replace_namespaced_custom_object(
            APP_GROUP, APP_VERSION, "argocd", APPS, "r", created
        )
    assert exc.value.status == 409
    assert "the object has been modified" in json.loads(exc.value.body)["message"]


async def test_replace_with_the_current_resource_version_succeeds(client: ApiClient) -> None:
    created = await create_app(client, "r")
    created["spec"]["project"] = "p3"
    replaced = await apps(client).replace_namespaced_custom_object(
        APP_GROUP, APP_VERSION, "argocd", APPS, "r", created
    )
    assert replaced["spec"]["project"] == "p3"
    assert replaced["metadata"]["generation"] == 2


async def test_replacing_a_custom_resource_without_a_resource_version_is_422(
    client: ApiClient,
) -> None:
    await create_app(client, "r")
    with pytest.raises(ApiException) as exc:
        await apps(client).replace_namespaced_custom_object(
            APP_GROUP, APP_VERSION, "argocd", APPS, "r", application("r")
        )
    assert exc.value.status == 422


async def test_a_patch_with_a_stale_resource_version_is_409(client: ApiClient) -> None:
    created = await create_app(client, "p")
    stale = created["metadata"]["resourceVersion"]
    await patch_app(client, "p", {"spec": {"project": "p2"}})
    with pytest.raises(ApiException) as exc:
        await patch_app(client, "p", {"metadata": {"resourceVersion": stale}, "spec": {"x": 1}})
    assert exc.value.status == 409


async def test_a_json_patch_applies_and_a_failed_test_op_is_422(client: ApiClient) -> None:
    await create_app(client, "j")
    ops = [{"op": "replace", "path": "/spec/project", "value": "p2"}]
    patched = await patch_app(client, "j", ops, _content_type="application/json-patch+json")
    assert patched["spec"]["project"] == "p2"
    with pytest.raises(ApiException) as exc:
        await patch_app(
            client,
            "j",
            [{"op": "test", "path": "/spec/project", "value": "default"}],
            _content_type="application/json-patch+json",
        )
    assert exc.value.status == 422


async def test_a_dict_sent_without_a_content_type_is_refused_like_a_real_server(
    client: ApiClient,
) -> None:
    await create_app(client, "j")
    with pytest.raises(ApiException) as exc:
        await apps(client).patch_namespaced_custom_object(
            APP_GROUP, APP_VERSION, "argocd", APPS, "j", {"spec": {"project": "x"}}
        )
    assert exc.value.status == 400


async def test_an_apply_patch_needs_a_field_manager_and_creates_what_is_missing(
    client: ApiClient, base_url: str
) -> None:
    url = f"{base_url}/apis/{APP_GROUP}/{APP_VERSION}/namespaces/argocd/applications/ssa"
    body = json.dumps(application("ssa"))
    headers = {"Content-Type": "application/apply-patch+yaml"}
    async with aiohttp.ClientSession() as http:
        async with http.patch(url, data=body, headers=headers) as resp:
            assert resp.status == 422
        async with http.patch(f"{url}?fieldManager=me&force=true", data=body, headers=headers) as r:
            assert r.status == 201
        async with http.patch(
            f"{url}?fieldManager=me", data="spec:\n  project: p2\n", headers=headers
        ) as resp:
            assert resp.status == 200
            assert (await resp.json())["spec"]["project"] == "p2"


async def test_a_strategic_merge_patch_on_a_custom_resource_is_415(client: ApiClient) -> None:
    await create_app(client, "s")
    with pytest.raises(ApiException) as exc:
        await patch_app(
            client, "s", {"spec": {}}, _content_type="application/strategic-merge-patch+json"
        )
    assert exc.value.status == 415


async def test_metadata_changes_keep_the_generation_and_spec_changes_bump_it(
    client: ApiClient,
) -> None:
    await create_app(client, "g")
    labelled = await patch_app(client, "g", {"metadata": {"labels": {"a": "b"}}})
    changed = await patch_app(client, "g", {"spec": {"project": "p2"}})
    assert labelled["metadata"]["generation"] == 1
    assert changed["metadata"]["generation"] == 2


async def test_a_no_op_patch_keeps_the_resource_version(client: ApiClient, api: KubeAPI) -> None:
    created = await create_app(client, "n")
    before = api.store.resource_version
    same = await patch_app(client, "n", {"spec": {"project": "default"}})
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert api.store.resource_version == before


async def test_without_a_status_subresource_status_is_an_ordinary_field(client: ApiClient) -> None:
    await create_app(client, "st")
    patched = await patch_app(client, "st", {"status": {"sync": {"status": "Synced"}}})
    assert patched["status"] == {"sync": {"status": "Synced"}}
    with pytest.raises(ApiException) as exc:
        await apps(client).get_namespaced_custom_object_status(
            APP_GROUP, APP_VERSION, "argocd", APPS, "st"
        )
    assert exc.value.status == 404


async def test_with_a_status_subresource_main_and_status_writes_stay_apart(
    client: ApiClient,
) -> None:
    co = apps(client)
    body = {
        "apiVersion": f"{IU_GROUP}/v1alpha1",
        "kind": "ImageUpdater",
        "metadata": {"name": "iu"},
        "spec": {"namespace": "argocd"},
        "status": {"ignored": True},
    }
    created = await co.create_namespaced_custom_object(
        IU_GROUP, "v1alpha1", "argocd", "imageupdaters", body
    )
    assert "status" not in created
    on_main = await co.patch_namespaced_custom_object(
        IU_GROUP,
        "v1alpha1",
        "argocd",
        "imageupdaters",
        "iu",
        {"status": {"x": 1}},
        _content_type=MERGE,
    )
    assert "status" not in on_main
    on_status = await co.patch_namespaced_custom_object_status(
        IU_GROUP,
        "v1alpha1",
        "argocd",
        "imageupdaters",
        "iu",
        {"status": {"x": 1}, "spec": {"namespace": "other"}},
        _content_type=MERGE,
    )
    assert on_status["status"] == {"x": 1}
    assert on_status["spec"] == {"namespace": "argocd"}
    assert on_status["metadata"]["generation"] == 1


async def test_dry_run_answers_as_if_written_and_stores_nothing(
    client: ApiClient, api: KubeAPI
) -> None:
    made = await apps(client).create_namespaced_custom_object(
        APP_GROUP, APP_VERSION, "argocd", APPS, application("dry"), dry_run="All"
    )
    assert made["metadata"]["name"] == "dry"
    assert api.store.get(APP_GROUP, None, APPS, "argocd", "dry") is None


async def test_delete_returns_the_object_and_removes_it(client: ApiClient, api: KubeAPI) -> None:
    await create_app(client, "d")
    gone = await apps(client).delete_namespaced_custom_object(
        APP_GROUP, APP_VERSION, "argocd", APPS, "d"
    )
    assert gone["metadata"]["name"] == "d"
    assert api.store.get(APP_GROUP, APP_VERSION, APPS, "argocd", "d") is None


async def test_core_kinds_work_and_namespaces_appear_on_first_use(client: ApiClient) -> None:
    core = CoreV1Api(client)
    await core.create_namespaced_secret(
        "team-a", {"metadata": {"name": "creds"}, "stringData": {"k": "v"}}
    )
    secret = await core.read_namespaced_secret("creds", "team-a")
    namespaces = await core.list_namespace()
    assert secret.metadata.name == "creds"
    assert "team-a" in [n.metadata.name for n in namespaces.items]


async def test_an_injected_fault_answers_once_then_disarms(client: ApiClient, api: KubeAPI) -> None:
    await create_app(client, "f")
    api.faults.inject(verb="patch", resource=APPS, name="f", status=409)
    with pytest.raises(ApiException) as exc:
        await patch_app(client, "f", {"spec": {"project": "p2"}})
    assert exc.value.status == 409
    assert (await patch_app(client, "f", {"spec": {"project": "p2"}}))["spec"]["project"] == "p2"
    assert api.faults.pending == 0


async def test_an_injected_429_carries_retry_after(base_url: str, api: KubeAPI) -> None:
    api.faults.inject(verb="list", resource=APPS, status=429, times=2)
    url = f"{base_url}/apis/{APP_GROUP}/{APP_VERSION}/applications"
    async with aiohttp.ClientSession() as http:
        for _ in range(2):
            async with http.get(url) as resp:
                assert resp.status == 429
                assert resp.headers["Retry-After"] == "1"
        async with http.get(url) as resp:
            assert resp.status == 200


async def test_the_request_log_counts_by_verb_and_resource(client: ApiClient, api: KubeAPI) -> None:
    await create_app(client, "c")
    await patch_app(client, "c", {"spec": {"project": "p2"}})
    await patch_app(client, "c", {"spec": {"project": "p3"}})
    assert api.requests.count(verb="create", resource=APPS) == 1
    assert api.requests.count(verb="patch", resource=APPS, name="c") == 2
    assert api.requests.count(verb="delete") == 0


async def test_a_crd_created_at_runtime_is_served_and_discoverable(
    client: ApiClient, base_url: str
) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{base_url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd
        ) as resp:
            assert resp.status == 201
        async with http.get(f"{base_url}/apis/example.com/v1") as resp:
            names = [r["name"] for r in (await resp.json())["resources"]]
    assert names == ["widgets"]
    made = await apps(client).create_namespaced_custom_object(
        "example.com",
        "v1",
        "argocd",
        "widgets",
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
    )
    assert made["metadata"]["uid"]


async def test_a_malformed_crd_is_422_naming_the_field(base_url: str) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "bad.example.com"},
        "spec": {"group": "example.com", "names": {"kind": "Bad"}, "versions": []},
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{base_url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd
        ) as resp,
    ):
        assert resp.status == 422
        assert "spec.names.plural" in (await resp.json())["message"]


async def test_an_injected_delay_holds_the_matching_request(
    client: ApiClient, api: KubeAPI
) -> None:
    api.store.put(application("slow"))
    api.faults.inject(verb="get", resource=APPS, name="slow", delay=0.3)
    started = time.monotonic()
    got = await apps(client).get_namespaced_custom_object(
        APP_GROUP, APP_VERSION, "argocd", APPS, "slow"
    )
    assert got["metadata"]["name"] == "slow"
    assert time.monotonic() - started >= 0.3
