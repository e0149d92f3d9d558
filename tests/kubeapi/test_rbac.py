"""RBAC for ServiceAccount tokens, over real HTTP against the emulator: authentication,
each verb allowed and denied, binding scope, subjects, resourceNames, wildcards,
subresources, aggregated ClusterRoles, non-resource paths, the default bootstrap policy,
watches, admission userInfo and SelfSubjectAccessReview.

The exact 403 wording is in test_rbac_messages.py, request attributes and rule matching
without a network in test_rbac_attributes.py, kubectl in test_rbac_kubectl.py.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from devcluster.kubeapi import KubeAPI

from .conftest import APP_GROUP, Hooks, application, configuration, webhook

JSON = dict[str, Any]
RBAC = "rbac.authorization.k8s.io"
NS, SA = "argocd", "image-updater"
USER = f"system:serviceaccount:{NS}:{SA}"
CM = f"/api/v1/namespaces/{NS}/configmaps"
APPS = f"/apis/{APP_GROUP}/v1alpha1/namespaces/{NS}/applications"
MERGE = "application/merge-patch+json"


# ---- building RBAC objects ----


def rule(
    verbs: list[str],
    resources: list[str] | None = None,
    groups: list[str] | None = None,
    names: list[str] | None = None,
    urls: list[str] | None = None,
) -> JSON:
    out: JSON = {"verbs": verbs}
    if urls is not None:
        out["nonResourceURLs"] = urls
        return out
    out["apiGroups"] = [""] if groups is None else groups
    out["resources"] = resources or ["configmaps"]
    if names is not None:
        out["resourceNames"] = names
    return out


def role(name: str, *rules: JSON, namespace: str | None = NS, **extra: Any) -> JSON:
    """A Role in `namespace`, or a ClusterRole when namespace is None."""
    meta: JSON = {"name": name, **({"namespace": namespace} if namespace else {})}
    if "labels" in extra:
        meta["labels"] = extra.pop("labels")
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": "Role" if namespace else "ClusterRole",
        "metadata": meta,
        "rules": list(rules),
        **extra,
    }


def subject(kind: str = "ServiceAccount", name: str = SA, namespace: str | None = NS) -> JSON:
    out: JSON = {"kind": kind, "name": name}
    if kind != "ServiceAccount":
        out["apiGroup"] = RBAC
    if namespace is not None:
        out["namespace"] = namespace
    return out


def binding(
    name: str, role_kind: str, role_name: str, *subjects: JSON, namespace: str | None = NS
) -> JSON:
    """A RoleBinding in `namespace`, or a ClusterRoleBinding when namespace is None."""
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": "RoleBinding" if namespace else "ClusterRoleBinding",
        "metadata": {"name": name, **({"namespace": namespace} if namespace else {})},
        "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role_name},
        "subjects": list(subjects or [subject()]),
    }


def grant(api: KubeAPI, *rules: JSON, namespace: str = NS) -> None:
    """A Role with `rules` bound to the ServiceAccount in `namespace`."""
    api.store.put(role("granted", *rules, namespace=namespace))
    api.store.put(binding("granted", "Role", "granted", namespace=namespace))


def configmap(name: str, namespace: str = NS, **data: str) -> JSON:
    meta = {"name": name, "namespace": namespace}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def service_account(namespace: str = NS, name: str = SA) -> JSON:
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace}}  # fmt: skip


# ---- talking to the emulator ----


@dataclass
class Reply:
    status: int
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def message(self) -> str:
        return str(self.json["message"])


@dataclass
class Caller:
    """HTTP as one bearer token (None: no Authorization header)."""

    http: aiohttp.ClientSession
    base: str
    token: str | None

    async def __call__(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> Reply:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token is not None else {}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body)
        async with self.http.request(method, self.base + path, data=data, headers=headers) as r:
            return Reply(r.status, await r.text())


@pytest.fixture
async def http() -> Any:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def token(api: KubeAPI) -> str:
    api.store.put(service_account())
    api.store.put(configmap("web", k="1"))
    return api.issue_token(NS, SA)


@pytest.fixture
def sa(http: aiohttp.ClientSession, base_url: str, token: str) -> Caller:
    return Caller(http, base_url, token)


@pytest.fixture
def admin(http: aiohttp.ClientSession, base_url: str) -> Caller:
    return Caller(http, base_url, None)


def forbidden(verb: str, resource: str, name: str = "", group: str = "", ns: str = NS) -> str:
    qualified = f"{resource.split('/')[0]}.{group}" if group else resource.split("/")[0]
    where = f'in the namespace "{ns}"' if ns else "at the cluster scope"
    head = f'{qualified} "{name}"' if name else qualified
    return (
        f'{head} is forbidden: User "{USER}" cannot {verb} resource "{resource}" '
        f'in API group "{group}" {where}'
    )


# ---- authentication ----


async def test_a_service_account_token_is_subject_to_rbac(sa: Caller) -> None:
    reply = await sa("GET", f"{CM}/web")
    assert (reply.status, reply.message) == (403, forbidden("get", "configmaps", "web"))


async def test_a_token_given_to_the_constructor_authenticates_as_its_service_account(
    http: aiohttp.ClientSession, aiohttp_server: Any
) -> None:
    api = KubeAPI(service_account_tokens={"sa-token": (NS, SA)})
    api.store.put(service_account())
    api.store.put(configmap("web"))
    grant(api, rule(["get"]))
    base = str((await aiohttp_server(api.app())).make_url("")).rstrip("/")
    assert (await Caller(http, base, "sa-token")("GET", f"{CM}/web")).status == 200
    assert (await Caller(http, base, "sa-token")("GET", CM)).status == 403


async def test_a_token_whose_service_account_is_gone_is_401_unauthorized(
    api: KubeAPI, sa: Caller
) -> None:
    grant(api, rule(["get"]))
    assert (await sa("GET", f"{CM}/web")).status == 200
    api.store.delete("", "v1", "serviceaccounts", NS, SA)
    reply = await sa("GET", f"{CM}/web")
    assert reply.status == 401
    assert reply.text == (
        '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        '"message":"Unauthorized","reason":"Unauthorized","code":401}'
    )


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-token"),
        pytest.param({"Authorization": "Bearer devcluster"}, id="kubeconfig-default-token"),
        pytest.param({"Authorization": "Bearer made-up"}, id="unmapped-token"),
        pytest.param({"Authorization": "Bearer mapped"}, id="users-mapped-token"),
    ],
)
async def test_tokens_other_than_service_account_tokens_stay_unrestricted(
    http: aiohttp.ClientSession, aiohttp_server: Any, headers: dict[str, str]
) -> None:
    api = KubeAPI(users={"mapped": USER})
    base = str((await aiohttp_server(api.app())).make_url("")).rstrip("/")
    async with http.post(f"{base}{CM}", json=configmap("x"), headers=headers) as r:
        assert r.status == 201
    async with http.get(f"{base}/apis/{RBAC}/v1/clusterrolebindings", headers=headers) as r:
        assert r.status == 200


@pytest.fixture
async def strict(http: aiohttp.ClientSession, aiohttp_server: Any) -> tuple[KubeAPI, str]:
    api = KubeAPI(strict_tokens=True, users={"admin-token": "kubernetes-admin"})
    api.store.put(service_account())
    return api, str((await aiohttp_server(api.app())).make_url("")).rstrip("/")


async def test_under_strict_tokens_an_unknown_token_is_401(
    http: aiohttp.ClientSession, strict: tuple[KubeAPI, str]
) -> None:
    _, base = strict
    reply = await Caller(http, base, "made-up")("GET", "/api")
    assert (reply.status, reply.json["reason"]) == (401, "Unauthorized")
    assert (await Caller(http, base, "admin-token")("GET", CM)).status == 200


@pytest.mark.parametrize(
    ("path", "status"),
    [
        pytest.param("/healthz", 200, id="healthz"),
        pytest.param("/version", 200, id="version"),
        pytest.param("/api", 403, id="discovery-needs-authentication"),
        pytest.param(CM, 403, id="resources"),
    ],
)
async def test_under_strict_tokens_no_token_is_anonymous_with_only_public_info(
    http: aiohttp.ClientSession, strict: tuple[KubeAPI, str], path: str, status: int
) -> None:
    _, base = strict
    assert (await Caller(http, base, None)(method="GET", path=path)).status == status


async def test_anonymous_is_denied_in_kube_words(
    http: aiohttp.ClientSession, strict: tuple[KubeAPI, str]
) -> None:
    _, base = strict
    reply = await Caller(http, base, None)("GET", "/api")
    assert reply.message == 'forbidden: User "system:anonymous" cannot get path "/api"'


# ---- each verb ----

VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
VERB_REQUESTS = [
    pytest.param("get", "GET", f"{CM}/web", None, 200, id="get"),
    pytest.param("list", "GET", CM, None, 200, id="list"),
    pytest.param("watch", "GET", f"{CM}?watch=true&timeoutSeconds=0.2", None, 200, id="watch"),
    pytest.param("create", "POST", CM, configmap("new"), 201, id="create"),
    pytest.param("update", "PUT", f"{CM}/web", configmap("web", k="2"), 200, id="update"),
    pytest.param("patch", "PATCH", f"{CM}/web", {"data": {"k": "3"}}, 200, id="patch"),
    pytest.param("delete", "DELETE", f"{CM}/web", None, 200, id="delete"),
    # allowed, then the emulator's own answer: it does not implement deletecollection
    pytest.param("deletecollection", "DELETE", CM, None, 405, id="deletecollection"),
]


def _content_type(method: str) -> str:
    return MERGE if method == "PATCH" else "application/json"


@pytest.mark.parametrize(("verb", "method", "path", "body", "status"), VERB_REQUESTS)
async def test_a_role_granting_only_one_verb_allows_that_verb(
    api: KubeAPI, sa: Caller, verb: str, method: str, path: str, body: Any, status: int
) -> None:
    grant(api, rule([verb]))
    reply = await sa(method, path, body, _content_type(method))
    assert reply.status == status, reply.text


@pytest.mark.parametrize(("verb", "method", "path", "body", "status"), VERB_REQUESTS)
async def test_a_role_granting_every_other_verb_forbids_that_verb(
    api: KubeAPI, sa: Caller, verb: str, method: str, path: str, body: Any, status: int
) -> None:
    grant(api, rule([v for v in VERBS if v != verb]))
    reply = await sa(method, path, body, _content_type(method))
    named = "web" if path.endswith("/web") else ""
    assert (reply.status, reply.message) == (403, forbidden(verb, "configmaps", named))
    assert api.store.get("", "v1", "configmaps", NS, "web") is not None
    assert api.store.get("", "v1", "configmaps", NS, "new") is None


async def test_a_denied_request_is_logged_with_its_verb_and_403(api: KubeAPI, sa: Caller) -> None:
    await sa("PATCH", f"{CM}/web", {"data": {}}, MERGE)
    assert api.requests.count(verb="patch", resource="configmaps", status=403) == 1


async def test_authorization_comes_before_existence(api: KubeAPI, sa: Caller) -> None:
    reply = await sa("GET", f"{CM}/missing")
    assert (reply.status, reply.message) == (403, forbidden("get", "configmaps", "missing"))
    grant(api, rule(["get"]))
    assert (await sa("GET", f"{CM}/missing")).status == 404


# ---- where a binding applies ----


async def test_a_role_binding_to_a_cluster_role_grants_only_in_its_namespace(
    api: KubeAPI, sa: Caller
) -> None:
    api.store.put(configmap("web", "other"))
    api.store.put(role("reader", rule(["get", "list"]), namespace=None))
    api.store.put(binding("reader", "ClusterRole", "reader"))
    assert (await sa("GET", f"{CM}/web")).status == 200
    elsewhere = await sa("GET", "/api/v1/namespaces/other/configmaps/web")
    assert elsewhere.message == forbidden("get", "configmaps", "web", ns="other")
    everywhere = await sa("GET", "/api/v1/configmaps")
    assert everywhere.message == forbidden("list", "configmaps", ns="")


async def test_a_cluster_role_binding_grants_in_every_namespace_and_cluster_wide(
    api: KubeAPI, sa: Caller
) -> None:
    api.store.put(configmap("web", "other"))
    api.store.put(role("reader", rule(["get", "list"]), namespace=None))
    api.store.put(binding("reader", "ClusterRole", "reader", namespace=None))
    for path in (f"{CM}/web", "/api/v1/namespaces/other/configmaps/web", "/api/v1/configmaps"):
        assert (await sa("GET", path)).status == 200, path


async def test_a_role_binding_in_another_namespace_grants_nothing_here(
    api: KubeAPI, sa: Caller
) -> None:
    grant(api, rule(["get"]), namespace="other")
    assert (await sa("GET", f"{CM}/web")).status == 403


async def test_cluster_scoped_resources_need_a_cluster_role_binding(
    api: KubeAPI, sa: Caller
) -> None:
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    api.store.put(role("crd-reader", rule(["list"], ["customresourcedefinitions"],
                                          ["apiextensions.k8s.io"]), namespace=None))  # fmt: skip
    api.store.put(binding("crd-reader", "ClusterRole", "crd-reader"))  # a RoleBinding: no use
    reply = await sa("GET", crds)
    assert reply.message == forbidden(
        "list", "customresourcedefinitions", group="apiextensions.k8s.io", ns=""
    )
    api.store.put(binding("crd-reader", "ClusterRole", "crd-reader", namespace=None))
    assert (await sa("GET", crds)).status == 200


async def test_reading_a_namespace_is_authorized_in_that_namespace(
    api: KubeAPI, sa: Caller
) -> None:
    # kube's RequestInfo puts /api/v1/namespaces/<ns> in namespace <ns>, so a RoleBinding
    # there lets its subject read that one Namespace object (the `view` role relies on it)
    grant(api, rule(["get"], ["namespaces"]))
    assert (await sa("GET", f"/api/v1/namespaces/{NS}")).status == 200
    api.store.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
    reply = await sa("GET", "/api/v1/namespaces/other")
    assert reply.message == forbidden("get", "namespaces", "other", ns="other")
    assert (await sa("GET", "/api/v1/namespaces")).message == forbidden("list", "namespaces", ns="")


# ---- subjects ----


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        pytest.param(subject(), True, id="service-account"),
        pytest.param(subject(namespace=None), True, id="service-account-in-the-bindings-namespace"),
        pytest.param(subject("Group", "system:serviceaccounts:argocd", None), True,
                     id="group-of-the-namespaces-service-accounts"),
        pytest.param(subject("Group", "system:serviceaccounts", None), True,
                     id="group-of-all-service-accounts"),
        pytest.param(subject("Group", "system:authenticated", None), True,
                     id="group-of-everyone-authenticated"),
        pytest.param(subject("User", USER, None), True, id="user-named-like-the-service-account"),
        pytest.param(subject(name="argocd-server"), False, id="another-service-account"),
        pytest.param(subject(namespace="other"), False, id="same-name-in-another-namespace"),
        pytest.param(subject("Group", "system:serviceaccounts:other", None), False,
                     id="group-of-another-namespace"),
        pytest.param(subject("Group", "system:masters", None), False, id="group-it-is-not-in"),
        pytest.param(subject("User", SA, None), False, id="user-with-the-bare-name"),
    ],
)  # fmt: skip
async def test_a_role_binding_applies_to_matching_subjects(
    api: KubeAPI, sa: Caller, who: JSON, allowed: bool
) -> None:
    api.store.put(role("reader", rule(["get"])))
    api.store.put(binding("reader", "Role", "reader", who))
    assert (await sa("GET", f"{CM}/web")).status == (200 if allowed else 403)


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        pytest.param(subject(), True, id="service-account"),
        pytest.param(subject(namespace=None), False, id="service-account-without-a-namespace"),
        pytest.param(subject("Group", "system:serviceaccounts:argocd", None), True,
                     id="group-of-the-namespaces-service-accounts"),
    ],
)  # fmt: skip
async def test_a_cluster_role_binding_applies_to_matching_subjects(
    api: KubeAPI, sa: Caller, who: JSON, allowed: bool
) -> None:
    api.store.put(role("reader", rule(["get"]), namespace=None))
    api.store.put(binding("reader", "ClusterRole", "reader", who, namespace=None))
    assert (await sa("GET", f"{CM}/web")).status == (200 if allowed else 403)


# ---- resourceNames ----


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        pytest.param("GET", f"{CM}/web", None, 200, id="get-the-named-object"),
        pytest.param("GET", f"{CM}/other", None, 403, id="get-another-object"),
        pytest.param("PATCH", f"{CM}/web", {"data": {"k": "2"}}, 200, id="patch-the-named-object"),
        pytest.param("PUT", f"{CM}/web", configmap("web"), 200, id="update-the-named-object"),
        pytest.param("GET", CM, None, 403, id="list"),
        pytest.param("GET", f"{CM}?fieldSelector=metadata.name%3Dweb", None, 200,
                     id="list-pinned-to-the-name"),
        pytest.param("GET", f"{CM}?fieldSelector=metadata.name%3D%3Dweb", None, 200,
                     id="list-pinned-with-double-equals"),
        pytest.param("GET", f"{CM}?fieldSelector=metadata.name%21%3Dweb", None, 403,
                     id="list-excluding-the-name"),
        pytest.param("GET", f"{CM}?fieldSelector=metadata.name%3Dother", None, 403,
                     id="list-pinned-to-another-name"),
        pytest.param("GET", f"{CM}?watch=1&timeoutSeconds=0.2", None, 403, id="watch"),
        pytest.param("GET", f"{CM}?watch=1&timeoutSeconds=0.2&fieldSelector=metadata.name%3Dweb",
                     None, 200, id="watch-pinned-to-the-name"),
        pytest.param("POST", CM, configmap("web2"), 403, id="create-even-with-the-name"),
        pytest.param("DELETE", f"{CM}/web", None, 200, id="delete-the-named-object"),
    ],
)  # fmt: skip
async def test_resource_names_restrict_requests_that_name_an_object(
    api: KubeAPI, sa: Caller, method: str, path: str, body: Any, status: int
) -> None:
    grant(api, rule(["*"], names=["web", "web2"]))
    assert (await sa(method, path, body, _content_type(method))).status == status


# ---- wildcards ----


@pytest.mark.parametrize(
    ("granted", "method", "path", "allowed"),
    [
        pytest.param(rule(["*"]), "DELETE", f"{CM}/web", True, id="verbs-star"),
        pytest.param(rule(["get"], ["*"]), "GET", "/api/v1/namespaces/argocd/secrets/s", True,
                     id="resources-star"),
        pytest.param(rule(["get"], ["*"]), "PATCH", f"{CM}/web", False,
                     id="resources-star-is-not-verbs-star"),
        pytest.param(rule(["list"], ["applications"], ["*"]), "GET", APPS, True,
                     id="groups-star"),
        pytest.param(rule(["*"], ["*"], ["*"]), "GET", APPS, True, id="everything"),
        pytest.param(rule(["list"], ["applications"], [""]), "GET", APPS, False,
                     id="the-core-group-is-not-every-group"),
        pytest.param(rule(["list"], ["configmaps"], ["argoproj.io"]), "GET", CM, False,
                     id="another-group-is-not-the-core-group"),
        pytest.param(rule(["get"], ["*"]), "GET", "/api/v1/namespaces/argocd/services/s/status",
                     True, id="resources-star-covers-subresources"),
    ],
)  # fmt: skip
async def test_wildcards_match_as_kube_matches_them(
    api: KubeAPI, sa: Caller, granted: JSON, method: str, path: str, allowed: bool
) -> None:
    grant(api, granted)
    reply = await sa(method, path, {"data": {}} if method == "PATCH" else None, MERGE)
    assert (reply.status != 403) is allowed, reply.text


# ---- subresources ----

SVC = f"/api/v1/namespaces/{NS}/services/web"


@pytest.mark.parametrize(
    ("resources", "main", "status"),
    [
        pytest.param(["services"], True, False, id="the-resource-alone"),
        pytest.param(["services/status"], False, True, id="the-subresource-alone"),
        pytest.param(["*/status"], False, True, id="any-resources-status"),
        pytest.param(["services", "services/status"], True, True, id="both"),
        pytest.param(["*/scale"], False, False, id="another-subresource"),
    ],
)
async def test_a_subresource_is_its_own_resource(
    api: KubeAPI, sa: Caller, resources: list[str], main: bool, status: bool
) -> None:
    api.store.put({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": "web", "namespace": NS}, "spec": {}})  # fmt: skip
    grant(api, rule(["patch"], resources))
    patch: JSON = {"status": {"loadBalancer": {}}}
    assert ((await sa("PATCH", SVC, patch, MERGE)).status == 200) is main
    sub = await sa("PATCH", f"{SVC}/status", patch, MERGE)
    assert (sub.status == 200) is status
    if not status:
        assert sub.message == forbidden("patch", "services/status", "web")


# ---- aggregated ClusterRoles ----


def aggregated(name: str, *selectors: JSON) -> JSON:
    return role(name, namespace=None, aggregationRule={"clusterRoleSelectors": list(selectors)})


async def test_an_aggregated_cluster_role_has_the_rules_of_the_roles_it_selects(
    api: KubeAPI, sa: Caller
) -> None:
    api.store.put(aggregated("iu-view", {"matchLabels": {"example.com/aggregate-to-iu": "true"}}))
    api.store.put(binding("iu-view", "ClusterRole", "iu-view"))
    assert (await sa("GET", f"{CM}/web")).status == 403
    labels = {"example.com/aggregate-to-iu": "true"}
    api.store.put(role("cm-reader", rule(["get"]), namespace=None, labels=labels))
    api.store.put(role("unlabelled", rule(["list"]), namespace=None))
    assert (await sa("GET", f"{CM}/web")).status == 200
    assert (await sa("GET", CM)).status == 403
    api.store.put(role("cm-reader", rule(["get"]), namespace=None, labels={}))
    assert (await sa("GET", f"{CM}/web")).status == 403


async def test_aggregation_selects_with_match_expressions_and_nests(
    api: KubeAPI, sa: Caller
) -> None:
    expr = {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}
    api.store.put(aggregated("outer", {"matchLabels": {"level": "inner"}}))
    api.store.put(role("inner", namespace=None, labels={"level": "inner"},
                       aggregationRule={"clusterRoleSelectors": [expr]}))  # fmt: skip
    api.store.put(role("leaf", rule(["list"]), namespace=None, labels={"tier": "b"}))
    api.store.put(binding("outer", "ClusterRole", "outer", namespace=None))
    assert (await sa("GET", CM)).status == 200


async def test_an_aggregated_cluster_roles_own_rules_are_replaced(api: KubeAPI, sa: Caller) -> None:
    # the aggregation controller overwrites .rules, so hand-written ones never count
    agg = aggregated("agg", {"matchLabels": {"x": "y"}})
    agg["rules"] = [rule(["get"])]
    api.store.put(agg)
    api.store.put(binding("agg", "ClusterRole", "agg"))
    assert (await sa("GET", f"{CM}/web")).status == 403


# ---- non-resource paths and the default policy ----


@pytest.mark.parametrize(
    "path",
    ["/api", "/api/v1", "/apis", f"/apis/{APP_GROUP}", f"/apis/{APP_GROUP}/v1alpha1",
     "/version", "/healthz", "/readyz", "/livez", "/openapi/v2", "/openapi/v3/apis/apps/v1"],
)  # fmt: skip
async def test_every_service_account_may_read_discovery_health_and_version(
    sa: Caller, path: str
) -> None:
    assert (await sa("GET", path)).status != 403


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("GET", "/metrics", id="other-paths"),
        pytest.param("POST", "/api", id="other-verbs-on-discovery-paths"),
    ],
)
async def test_other_non_resource_requests_are_forbidden(
    sa: Caller, method: str, path: str
) -> None:
    reply = await sa(method, path)
    assert reply.status == 403
    assert reply.message == f'forbidden: User "{USER}" cannot {method.lower()} path "{path}"'


async def test_non_resource_urls_grant_paths_exactly_or_by_prefix(api: KubeAPI, sa: Caller) -> None:
    api.store.put(role("metrics", rule(["get"], urls=["/metrics", "/debug/*"]), namespace=None))
    api.store.put(binding("metrics", "ClusterRole", "metrics", namespace=None))
    assert (await sa("GET", "/metrics")).status == 404  # allowed; the emulator has none
    assert (await sa("GET", "/debug/pprof")).status == 404
    assert (await sa("GET", "/metricsx")).status == 403


async def test_the_default_discovery_binding_is_a_stored_object_that_can_be_removed(
    api: KubeAPI, sa: Caller
) -> None:
    assert api.store.get(RBAC, "v1", "clusterroles", None, "system:discovery") is not None
    api.store.delete(RBAC, "v1", "clusterrolebindings", None, "system:discovery")
    assert (await sa("GET", "/api")).status == 403
    assert (await sa("GET", "/version")).status == 200  # system:public-info-viewer still


async def test_a_binding_to_a_missing_role_is_named_in_the_denial(api: KubeAPI, sa: Caller) -> None:
    api.store.put(binding("dangling", "Role", "not-there"))
    reply = await sa("GET", f"{CM}/web")
    assert reply.message == forbidden("get", "configmaps", "web") + (
        ': RBAC: role.rbac.authorization.k8s.io "not-there" not found'
    )


async def test_rbac_changes_apply_to_the_next_request(api: KubeAPI, sa: Caller) -> None:
    grant(api, rule(["get"]))
    assert (await sa("GET", f"{CM}/web")).status == 200
    api.store.put(role("granted", rule(["list"])))
    assert (await sa("GET", f"{CM}/web")).status == 403
    assert (await sa("GET", CM)).status == 200


# ---- watches ----


async def test_a_watch_is_authorized_when_it_starts_and_then_keeps_going(
    api: KubeAPI, http: aiohttp.ClientSession, base_url: str, token: str, sa: Caller
) -> None:
    grant(api, rule(["watch"]))
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{base_url}{CM}?watch=true&resourceVersion={api.store.resource_version}"
    async with http.get(url, headers=headers) as resp:
        assert resp.status == 200
        api.store.delete(RBAC, "v1", "rolebindings", NS, "granted")
        api.store.put(configmap("after", k="1"))
        line = await asyncio.wait_for(resp.content.readline(), 5)
        event = json.loads(line)
        assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "after")
    assert (await sa("GET", f"{CM}?watch=true")).status == 403


# ---- admission sees the ServiceAccount ----


async def test_admission_webhooks_receive_the_service_accounts_user_info(
    api: KubeAPI, sa: Caller, hooks: tuple[Hooks, int], ca_bundle: str
) -> None:
    h, port = hooks
    api.store.put(
        configuration("Validating", "v", webhook("v.example.com", f"https://127.0.0.1:{port}/allow",
                                                 ca_bundle))
    )  # fmt: skip
    grant(api, rule(["create"], ["applications"], [APP_GROUP]))
    assert (await sa("POST", APPS, application("guestbook"))).status == 201
    uid = api.store.get("", "v1", "serviceaccounts", NS, SA)["metadata"]["uid"]  # type: ignore[index]
    assert h.calls[0].request["userInfo"] == {
        "username": USER,
        "uid": uid,
        "groups": [
            "system:serviceaccounts",
            f"system:serviceaccounts:{NS}",
            "system:authenticated",
        ],
    }


# ---- SelfSubjectAccessReview ----

SSAR = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


def review(**spec: JSON) -> JSON:
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": spec}  # fmt: skip


async def test_an_access_review_answers_with_the_rbac_decision_and_its_source(
    api: KubeAPI, sa: Caller
) -> None:
    grant(api, rule(["get"]))
    attrs = {"namespace": NS, "verb": "get", "resource": "configmaps", "name": "web"}
    reply = await sa("POST", SSAR, review(resourceAttributes=attrs))
    assert reply.status == 201
    assert reply.json == {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": {"resourceAttributes": attrs},
        "status": {
            "allowed": True,
            "reason": 'RBAC: allowed by RoleBinding "granted/argocd" of Role "granted" to '
            'ServiceAccount "image-updater/argocd"',
        },
    }


@pytest.mark.parametrize(
    ("spec", "allowed"),
    [
        pytest.param({"resourceAttributes": {"namespace": NS, "verb": "list",
                                             "resource": "configmaps"}}, False, id="denied"),
        pytest.param({"resourceAttributes": {"namespace": NS, "verb": "get",
                                             "resource": "configmaps", "name": "other"}},
                     False, id="another-name"),
        pytest.param({"nonResourceAttributes": {"path": "/apis", "verb": "get"}}, True,
                     id="a-discovery-path"),
        pytest.param({"nonResourceAttributes": {"path": "/metrics", "verb": "get"}}, False,
                     id="another-path"),
    ],
)  # fmt: skip
async def test_an_access_review_asks_about_any_request(
    api: KubeAPI, sa: Caller, spec: JSON, allowed: bool
) -> None:
    grant(api, rule(["get"], names=["web"]))
    reply = await sa("POST", SSAR, review(**spec))
    assert reply.json["status"]["allowed"] is allowed


async def test_an_access_review_for_the_admin_is_always_allowed(admin: Caller) -> None:
    attrs = {"verb": "delete", "resource": "namespaces", "name": "kube-system"}
    reply = await admin("POST", SSAR, review(resourceAttributes=attrs))
    assert (reply.status, reply.json["status"]) == (201, {"allowed": True})


async def test_an_access_review_needs_exactly_one_kind_of_attributes(sa: Caller) -> None:
    reply = await sa("POST", SSAR, review())
    assert (reply.status, reply.json["reason"]) == (422, "Invalid")


async def test_an_access_review_is_itself_authorized_by_system_basic_user(
    api: KubeAPI, sa: Caller
) -> None:
    api.store.delete(RBAC, "v1", "clusterrolebindings", None, "system:basic-user")
    reply = await sa("POST", SSAR, review(nonResourceAttributes={"path": "/api", "verb": "get"}))
    assert reply.message == (
        f'selfsubjectaccessreviews.authorization.k8s.io is forbidden: User "{USER}" cannot '
        'create resource "selfsubjectaccessreviews" in API group "authorization.k8s.io" '
        "at the cluster scope"
    )


async def test_an_access_review_is_answered_not_stored(api: KubeAPI, admin: Caller) -> None:
    assert (await admin("GET", SSAR)).status == 405
    await admin("POST", SSAR, review(nonResourceAttributes={"path": "/api", "verb": "get"}))
    assert api.store.list("authorization.k8s.io", "v1", "selfsubjectaccessreviews") == []
