"""Request attributes as kube-apiserver's RequestInfoFactory derives them, and RBAC rule
matching, as plain functions without a network."""

from __future__ import annotations

import pytest

from devcluster.kubeapi.rbac import Attributes, request_attributes, rule_allows

R = True  # a resource request


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        pytest.param("GET", "/api/v1/namespaces/argocd/configmaps/web", {},
                     Attributes("get", "", R, "", "v1", "argocd", "configmaps", "", "web"),
                     id="get"),
        pytest.param("GET", "/api/v1/namespaces/argocd/configmaps", {},
                     Attributes("list", "", R, "", "v1", "argocd", "configmaps"), id="list"),
        pytest.param("GET", "/api/v1/configmaps", {},
                     Attributes("list", "", R, "", "v1", "", "configmaps"),
                     id="list-across-namespaces"),
        pytest.param("GET", "/api/v1/configmaps", {"watch": "true"},
                     Attributes("watch", "", R, "", "v1", "", "configmaps"), id="watch-true"),
        pytest.param("GET", "/api/v1/configmaps", {"watch": "1"},
                     Attributes("watch", "", R, "", "v1", "", "configmaps"), id="watch-1"),
        pytest.param("GET", "/api/v1/configmaps", {"watch": "False"},
                     Attributes("list", "", R, "", "v1", "", "configmaps"), id="watch-false"),
        pytest.param("GET", "/api/v1/watch/namespaces/argocd/configmaps", {},
                     Attributes("watch", "", R, "", "v1", "argocd", "configmaps"),
                     id="watch-path"),
        pytest.param("GET", "/api/v1/namespaces/argocd/configmaps",
                     {"fieldSelector": "metadata.name=web"},
                     Attributes("list", "", R, "", "v1", "argocd", "configmaps", "", "web"),
                     id="list-pinned-to-a-name"),
        pytest.param("GET", "/api/v1/namespaces/argocd/configmaps",
                     {"fieldSelector": "metadata.namespace=argocd,metadata.name==web"},
                     Attributes("list", "", R, "", "v1", "argocd", "configmaps", "", "web"),
                     id="list-pinned-among-other-fields"),
        pytest.param("GET", "/api/v1/namespaces/argocd/configmaps",
                     {"fieldSelector": "metadata.name!=web"},
                     Attributes("list", "", R, "", "v1", "argocd", "configmaps"),
                     id="list-excluding-a-name"),
        pytest.param("GET", "/api/v1/namespaces/argocd/configmaps",
                     {"fieldSelector": "nonsense,metadata.name=web"},
                     Attributes("list", "", R, "", "v1", "argocd", "configmaps"),
                     id="a-selector-that-does-not-parse-names-nothing"),
        pytest.param("POST", "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications", {},
                     Attributes("create", "", R, "argoproj.io", "v1alpha1", "argocd",
                                "applications"), id="create"),
        pytest.param("PUT", "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/a", {},
                     Attributes("update", "", R, "argoproj.io", "v1alpha1", "argocd",
                                "applications", "", "a"), id="update"),
        pytest.param("PATCH",
                     "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/a/status", {},
                     Attributes("patch", "", R, "argoproj.io", "v1alpha1", "argocd",
                                "applications", "status", "a"), id="patch-a-subresource"),
        pytest.param("DELETE", "/api/v1/namespaces/argocd/secrets/s", {},
                     Attributes("delete", "", R, "", "v1", "argocd", "secrets", "", "s"),
                     id="delete"),
        pytest.param("DELETE", "/api/v1/namespaces/argocd/secrets", {},
                     Attributes("deletecollection", "", R, "", "v1", "argocd", "secrets"),
                     id="deletecollection"),
        pytest.param("GET", "/api/v1/namespaces/argocd", {},
                     Attributes("get", "", R, "", "v1", "argocd", "namespaces", "", "argocd"),
                     id="a-namespace-is-in-itself"),
        pytest.param("PUT", "/api/v1/namespaces/argocd/finalize", {},
                     Attributes("update", "", R, "", "v1", "argocd", "namespaces", "finalize",
                                "argocd"), id="a-namespace-subresource"),
        pytest.param("GET", "/api/v1/namespaces", {},
                     Attributes("list", "", R, "", "v1", "", "namespaces"), id="namespaces"),
        pytest.param("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin", {},
                     Attributes("get", "", R, "rbac.authorization.k8s.io", "v1", "",
                                "clusterroles", "", "admin"), id="cluster-scoped"),
    ],
)  # fmt: skip
def test_resource_requests_get_kubes_attributes(
    method: str, path: str, query: dict[str, str], expected: Attributes
) -> None:
    got = request_attributes(method, path, query)
    assert got == Attributes(
        expected.verb, path, True, expected.group, expected.version, expected.namespace,
        expected.resource, expected.subresource, expected.name,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api"),
        ("GET", "/api/v1"),
        ("GET", "/apis"),
        ("GET", "/apis/argoproj.io"),
        ("GET", "/apis/argoproj.io/v1alpha1"),
        ("GET", "/version"),
        ("GET", "/healthz"),
        ("GET", "/openapi/v3/apis/apps/v1"),
        ("POST", "/api"),
    ],
)
def test_other_paths_are_non_resource_requests_with_the_http_verb(method: str, path: str) -> None:
    assert request_attributes(method, path, {}) == Attributes(method.lower(), path)


GET_POD_STATUS = Attributes("get", "", R, "", "v1", "ns", "pods", "status", "p")
GET_DEPLOY_SCALE = Attributes("get", "", R, "apps", "v1", "ns", "deployments", "scale", "d")
LIST_PODS = Attributes("list", "", R, "", "v1", "ns", "pods")
GET_VERSION = Attributes("get", "/version")
GET_OPENAPI = Attributes("get", "/openapi/v3/apis")


@pytest.mark.parametrize(
    ("rule", "attributes", "allowed"),
    [
        pytest.param({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
                     GET_POD_STATUS, False, id="a-resource-is-not-its-subresource"),
        pytest.param({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/status"]},
                     GET_POD_STATUS, True, id="the-subresource-by-name"),
        pytest.param({"verbs": ["get"], "apiGroups": ["*"], "resources": ["*/scale"]},
                     GET_DEPLOY_SCALE, True, id="star-slash-subresource"),
        pytest.param({"verbs": ["get"], "apiGroups": ["*"], "resources": ["*/status"]},
                     GET_DEPLOY_SCALE, False, id="star-slash-another-subresource"),
        pytest.param({"verbs": ["get"], "apiGroups": ["*"], "resources": ["deployments/*"]},
                     GET_DEPLOY_SCALE, False, id="no-resource-slash-star"),
        pytest.param({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                     GET_DEPLOY_SCALE, True, id="everything"),
        pytest.param({"verbs": ["list"], "apiGroups": [""], "resources": ["pods"],
                      "resourceNames": ["p"]}, LIST_PODS, False,
                     id="resource-names-never-match-an-unnamed-request"),
        pytest.param({"verbs": ["get"], "nonResourceURLs": ["/version"]}, GET_VERSION, True,
                     id="an-exact-url"),
        pytest.param({"verbs": ["get"], "nonResourceURLs": ["/openapi/*"]}, GET_OPENAPI, True,
                     id="a-url-prefix"),
        pytest.param({"verbs": ["get"], "nonResourceURLs": ["/openapi"]}, GET_OPENAPI, False,
                     id="an-exact-url-is-no-prefix"),
        pytest.param({"verbs": ["get"], "nonResourceURLs": ["*"]}, GET_OPENAPI, True,
                     id="every-url"),
        pytest.param({"verbs": ["get"], "nonResourceURLs": ["*"]}, LIST_PODS, False,
                     id="urls-grant-no-resources"),
        pytest.param({"verbs": ["get"], "apiGroups": ["*"], "resources": ["*"]}, GET_VERSION,
                     False, id="resources-grant-no-urls"),
        pytest.param({"verbs": ["post"], "nonResourceURLs": ["/version"]}, GET_VERSION, False,
                     id="the-verb-counts-for-urls"),
    ],
)  # fmt: skip
def test_rules_match_as_kubes_rbac_matches_them(
    rule: dict[str, list[str]], attributes: Attributes, allowed: bool
) -> None:
    assert rule_allows(attributes, rule) is allowed
