"""Admission webhooks called like kube-apiserver calls them: matching, ordering, patches,
denials, warnings, failure policies, matchConditions, service addresses and dry run."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from devcluster.kubeapi import KubeAPI

from .conftest import APP_GROUP, APP_VERSION, SERVICE_HOST, Hooks, application, configuration
from .conftest import webhook as hook

URL = f"/apis/{APP_GROUP}/{APP_VERSION}/namespaces/argocd/applications"
HookServer = tuple[Hooks, int]


async def post(base_url: str, body: dict[str, Any], query: str = "") -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as http:
        resp = await http.post(f"{base_url}{URL}{query}", json=body)
        await resp.read()
        return resp


async def patch(base_url: str, name: str, body: dict[str, Any]) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as http:
        resp = await http.patch(
            f"{base_url}{URL}/{name}",
            json=body,
            headers={"Content-Type": "application/merge-patch+json"},
        )
        await resp.read()
        return resp


def at(port: int, path: str) -> str:
    return f"https://127.0.0.1:{port}{path}"


async def test_mutating_webhooks_run_first_in_order_then_validating_see_the_result(
    api: KubeAPI, base_url: str, hooks: HookServer, ca_bundle: str
) -> None:
    h, port = hooks
    api.store.put(
        configuration(
            "Validating", "a-validate", hook("v.example.com", at(port, "/allow"), ca_bundle)
        )
    )
    api.store.put(
        configuration(
            "Mutating", "b-second", hook("m2.example.com", at(port, "/mutate/second"), ca_bundle)
        )
    )
    api.store.put(
        configuration(
            "Mutating", "a-first", hook("m1.example.com", at(port, "/mutate/first"), ca_bundle)
        )
    )
    resp = await post(base_url, application("app"))
    assert resp.status == 201
    assert h.paths() == ["/mutate/first", "/mutate/second", "/allow"]
    assert h.calls[1].request["object"]["metadata"]["annotations"] == {"first": "set"}
    assert h.calls[2].request["object"]["metadata"]["annotations"] == {
        "first": "set",
        "second": "set",
    }
    stored = api.store.get(APP_GROUP, None, "applications", "argocd", "app")
    assert stored is not None
    assert stored["metadata"]["annotations"] == {"first": "set", "second": "set"}


async def test_the_review_is_admission_review_v1_with_a_timeout_query(
    api: KubeAPI, base_url: str, hooks: HookServer, ca_bundle: str
) -> None:
    h, port = hooks
    api.store.put(
        configuration("Validating", "v", hook("v.example.com", at(port, "/allow"), ca_bundle))
    )
    await post(base_url, application("app"))
    await patch(base_url, "app", {"spec": {"project": "p2"}})
    create, update = h.calls
    assert create.query == {"timeout": "1s"}
    assert create.request["operation"] == "CREATE"
    assert create.request["oldObject"] is None
    assert create.request["resource"] == {
        "group": APP_GROUP,
        "version": APP_VERSION,
        "resource": "applications",
    }
    assert create.request["namespace"] == "argocd"
    assert update.request["operation"] == "UPDATE"
    assert update.request["oldObject"]["spec"]["project"] == "default"
    assert update.request["object"]["spec"]["project"] == "p2"


async def test_a_denial_is_the_status_kube_apiserver_returns(
    api: KubeAPI, base_url: str, hooks: HookServer, ca_bundle: str
) -> None:
    _, port = hooks
    api.store.put(
        configuration("Validating", "v", hook("deny.example.com", at(port, "/deny"), ca_bundle))
    )
    resp = await post(base_url, application("app"))
    body = json.loads(await resp.text())
    assert resp.status == 403
    assert (
        body["message"]
        == 'admission webhook "deny.example.com" denied the request: image-list is not valid'
    )
    assert api.store.get(APP_GROUP, None, "applications", "argocd", "app") is None


async def test_a_denial_without_a_status_is_400_without_explanation(
    api: KubeAPI, base_url: str, hooks: HookServer, ca_bundle: str
) -> None:
    _, port = hooks
    api.store.put(
        configuration("Validating", "v", hook("d.example.com", at(port, "/deny-empty"), ca_bundle))
    )
    resp = await post(base_url, application("app"))
    assert resp.status == 400
    assert json.loads(await resp.text())["message"] == (
        'admission webhook "d.example.com" denied the request without explanation'
    )


async def test_warnings_come_back_as_warning_headers(
    api: KubeAPI, base_url: str, hooks: HookServer, ca_bundle: str
) -> None:
    _, port = hooks
    api.store.put(
        configuration("Validating", "v", hook("w.example.com", at(port, "/warn"), ca_bundle))
    )
    resp = await post(base_url, application("app"))
    assert resp.status == 201
    assert resp.headers.getall("Warning") == [
        '299 - "first warning"',
        '299 - "a \\"quoted\\" warning"',
    ]


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        pytest.param("/slow", "context deadline exceeded", id="timeout"),
        pytest.param("/error", "status 500", id="server-error"),
    ],
)
async def test_a_failing_call_under_fail_is_a_500_naming_the_webhook(
    api: KubeAPI, base_url: str, hooks: HookServer, ca_bundle: str, path: str, detail: str
) -> None:
    _, port = hooks
    api.store.put(
        configuration("Validating", "v", hook("f.example.com", at(port, path), ca_bundle))
    )
    resp = await post(base_url, application("app"))
    message = json.loads(await resp.text())["message"]
    assert resp.status == 500
    assert message.startswith('Internal error occurred: failed calling webhook "f.example.com": ')
    assert detail in message


async def test_a_failing_call_under_ignore_admits_the_request(
    api: KubeAPI, base_url: str, hooks: HookServer, ca_bundle: str
) -> None:
    _, port = hooks
    api.store.put(
        configuration(
            "Mutating",
            "m",
            hook("i.example.com", at(port, "/error"), ca_bundle, failurePolicy="Ignore"),
        )
    )
    assert (await post(base_url, application("app"))).status == 201


async def test_a_webhook_whose_certificate_is_not_in_the_ca_bundle_fails(
    api: KubeAPI, base_url: str, hooks: HookServer
) -> None:
    import base64

    import trustme

    _, port = hooks
    other = base64.b64encode(trustme.CA().cert_pem.bytes()).decode()
    api.store.put(
        configuration("Validating", "v", hook("tls.example.com", at(port, "/allow"), other))
    )
    resp = await post(base_url, application("app"))
    assert resp.status == 500
    assert "certificate verify failed" in json.loads(await resp.text())["message"]


@pytest.mark.parametrize(
    ("extra", "called"),
    [
        pytest.param({}, True, id="no-selectors"),
        pytest.param(
            {"objectSelector": {"matchLabels": {"team": "x"}}}, True, id="object-selector-hit"
        ),
        pytest.param(
            {"objectSelector": {"matchLabels": {"team": "y"}}}, False, id="object-selector-miss"
        ),
        pytest.param(
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "argocd"}}},
            True,
            id="namespace-selector-hit",
        ),
        pytest.param(
            {"namespaceSelector": {"matchExpressions": [{"key": "env", "operator": "Exists"}]}},
            False,
            id="namespace-selector-miss",
        ),
        pytest.param(
            {
                "matchConditions": [
                    {"name": "has-list", "expression": "has(object.metadata.annotations)"}
                ]
            },
            False,
            id="match-condition-false",
        ),
        pytest.param(
            {
                "matchConditions": [
                    {"name": "create", "expression": "request.operation == 'CREATE'"}
                ]
            },
            True,
            id="match-condition-true",
        ),
        pytest.param(
            {
                "rules": [
                    {
                        "apiGroups": [APP_GROUP],
                        "apiVersions": ["*"],
                        "resources": ["applications"],
                        "operations": ["UPDATE"],
                    }
                ]
            },
            False,
            id="operation-miss",
        ),
        pytest.param(
            {
                "rules": [
                    {
                        "apiGroups": ["*"],
                        "apiVersions": ["*"],
                        "resources": ["*/*"],
                        "operations": ["*"],
                        "scope": "Namespaced",
                    }
                ]
            },
            True,
            id="wildcards",
        ),
        pytest.param(
            {
                "rules": [
                    {
                        "apiGroups": ["*"],
                        "apiVersions": ["*"],
                        "resources": ["*"],
                        "operations": ["*"],
                        "scope": "Cluster",
                    }
                ]
            },
            False,
            id="scope-miss",
        ),
    ],
)
async def test_rules_selectors_and_match_conditions_decide_whether_a_webhook_is_called(
    api: KubeAPI,
    base_url: str,
    hooks: HookServer,
    ca_bundle: str,
    extra: dict[str, Any],
    called: bool,
) -> None:
    h, port = hooks
    api.store.put(
        configuration(
            "Validating", "v", hook("s.example.com", at(port, "/deny"), ca_bundle, **extra)
        )
    )
    resp = await post(base_url, application("app", labels={"team": "x"}))
    assert (resp.status == 403) is called
    assert len(h.calls) == (1 if called else 0)


async def test_a_match_condition_error_rejects_under_fail_and_skips_under_ignore(
    api: KubeAPI, base_url: str, hooks: HookServer, ca_bundle: str
) -> None:
    h, port = hooks
    cond = [{"name": "needs-x", "expression": "object.spec.x == 'y'"}]
    api.store.put(
        configuration(
            "Validating",
            "v",
            hook("c.example.com", at(port, "/allow"), ca_bundle, matchConditions=cond),
        )
    )
    resp = await post(base_url, application("a"))
    assert resp.status == 500
    assert (
        'failed to evaluate match condition "needs-x"' in json.loads(await resp.text())["message"]
    )
    api.store.put(
        configuration(
            "Validating",
            "v",
            hook(
                "c.example.com",
                at(port, "/allow"),
                ca_bundle,
                matchConditions=cond,
                failurePolicy="Ignore",
            ),
        )
    )
    assert (await post(base_url, application("b"))).status == 201
    assert h.calls == []


async def test_a_configuration_with_unsupported_cel_is_refused_when_written(
    base_url: str, hooks: HookServer, ca_bundle: str
) -> None:
    _, port = hooks
    cond = [
        {"name": "authz", "expression": "authorizer.group('').resource('x').check('get').allowed()"}
    ]
    cfg = configuration(
        "Validating",
        "v",
        hook("c.example.com", at(port, "/allow"), ca_bundle, matchConditions=cond),
    )
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{base_url}/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
            json=cfg,
        ) as resp,
    ):
        message = (await resp.json())["message"]
        assert resp.status == 422
    assert "webhooks[0].matchConditions[0].expression" in message
    assert "authorizer" in message
    assert "supported:" in message


async def test_a_service_client_config_reaches_the_mapped_address_verified_by_service_name(
    aiohttp_server: Any, hooks: HookServer, ca_bundle: str
) -> None:
    h, port = hooks
    api = KubeAPI(service_addresses={("webhooks", "hooks"): f"127.0.0.1:{port}"})
    base = str((await aiohttp_server(api.app())).make_url("")).rstrip("/")
    assert SERVICE_HOST == "hooks.webhooks.svc"
    api.store.put(
        configuration(
            "Validating", "v", hook("svc.example.com", ("webhooks", "hooks", "/warn"), ca_bundle)
        )
    )
    resp = await post(base, application("app"))
    assert resp.status == 201
    assert h.paths() == ["/warn"]


async def test_an_unmapped_service_is_a_call_failure_saying_how_to_map_it(
    api: KubeAPI, base_url: str, ca_bundle: str
) -> None:
    api.store.put(
        configuration(
            "Validating", "v", hook("svc.example.com", ("webhooks", "missing", "/x"), ca_bundle)
        )
    )
    resp = await post(base_url, application("app"))
    message = json.loads(await resp.text())["message"]
    assert resp.status == 500
    assert 'Post "https://missing.webhooks.svc:443/x?timeout=1s"' in message
    assert "service_addresses" in message


async def test_a_dry_run_calls_webhooks_with_dry_run_set_and_stores_nothing(
    api: KubeAPI, base_url: str, hooks: HookServer, ca_bundle: str
) -> None:
    h, port = hooks
    api.store.put(
        configuration("Mutating", "m", hook("m.example.com", at(port, "/mutate/x"), ca_bundle))
    )
    resp = await post(base_url, application("app"), "?dryRun=All")
    assert resp.status == 201
    assert h.calls[0].request["dryRun"] is True
    assert api.store.get(APP_GROUP, None, "applications", "argocd", "app") is None


async def test_status_writes_are_reviewed_as_the_status_subresource(
    api: KubeAPI, base_url: str, hooks: HookServer, ca_bundle: str
) -> None:
    h, port = hooks
    rules = [
        {
            "apiGroups": ["*"],
            "apiVersions": ["*"],
            "resources": ["imageupdaters/status"],
            "operations": ["UPDATE"],
        }
    ]
    api.store.put(
        configuration(
            "Validating", "v", hook("st.example.com", at(port, "/allow"), ca_bundle, rules=rules)
        )
    )
    api.store.put(
        {
            "apiVersion": "argocd-image-updater.argoproj.io/v1alpha1",
            "kind": "ImageUpdater",
            "metadata": {"name": "iu", "namespace": "argocd"},
            "spec": {},
        }
    )
    group = "argocd-image-updater.argoproj.io"
    url = f"{base_url}/apis/{group}/v1alpha1/namespaces/argocd/imageupdaters/iu"
    headers = {"Content-Type": "application/merge-patch+json"}
    async with aiohttp.ClientSession() as http:
        async with http.patch(url, json={"spec": {"a": 1}}, headers=headers) as resp:
            assert resp.status == 200
        async with http.patch(f"{url}/status", json={"status": {"a": 1}}, headers=headers) as resp:
            assert resp.status == 200
    assert [c.request.get("subResource") for c in h.calls] == ["status"]


async def test_a_known_bearer_token_sets_the_reviewed_user(
    aiohttp_server: Any, hooks: HookServer, ca_bundle: str
) -> None:
    h, port = hooks
    sa = "system:serviceaccount:argocd:argocd-image-updater"
    api = KubeAPI(users={"sa-token": sa})
    base = str((await aiohttp_server(api.app())).make_url("")).rstrip("/")
    api.store.put(
        configuration("Validating", "v", hook("u.example.com", at(port, "/allow"), ca_bundle))
    )
    async with aiohttp.ClientSession() as http:
        for name, headers in [("a", {"Authorization": "Bearer sa-token"}), ("b", {})]:
            async with http.post(f"{base}{URL}", json=application(name), headers=headers) as r:
                assert r.status == 201
    users = [c.request["userInfo"]["username"] for c in h.calls]
    assert users == [sa, "kubernetes-admin"]
    assert "system:serviceaccounts:argocd" in h.calls[0].request["userInfo"]["groups"]
