"""The exact bodies kube-apiserver sends when RBAC denies a request, compared whole and
byte for byte: named and unnamed, namespaced and cluster-scoped, core and API groups,
subresources, non-resource paths, and role-resolution errors appended as the reason."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from devcluster.kubeapi import KubeAPI

from .test_rbac import MERGE, NS, SA, USER, Caller, binding, service_account

U = USER.replace('"', '\\"')


def status(message: str, details: str) -> str:
    return (
        '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        f'"message":"{message}","reason":"Forbidden","details":{details},"code":403}}'
    )


@pytest.fixture
async def caller(api: KubeAPI, base_url: str) -> AsyncIterator[Caller]:
    api.store.put(service_account())
    async with aiohttp.ClientSession() as http:
        yield Caller(http, base_url, api.issue_token(NS, SA))


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param(
            "PATCH",
            f"/apis/argoproj.io/v1alpha1/namespaces/{NS}/applications/web",
            # the wording of kube-apiserver v1.32, character for character
            '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":'
            '"applications.argoproj.io \\"web\\" is forbidden: User '
            '\\"system:serviceaccount:argocd:image-updater\\" cannot patch resource '
            '\\"applications\\" in API group \\"argoproj.io\\" in the namespace \\"argocd\\"",'
            '"reason":"Forbidden","details":{"name":"web","group":"argoproj.io",'
            '"kind":"applications"},"code":403}',
            id="a-named-object-in-a-namespace",
        ),
        pytest.param(
            "GET",
            f"/apis/argoproj.io/v1alpha1/namespaces/{NS}/applications",
            status(
                f'applications.argoproj.io is forbidden: User \\"{U}\\" cannot list resource '
                '\\"applications\\" in API group \\"argoproj.io\\" in the namespace \\"argocd\\"',
                '{"group":"argoproj.io","kind":"applications"}',
            ),
            id="a-list",
        ),
        pytest.param(
            "GET",
            "/apis/argoproj.io/v1alpha1/applications?watch=true",
            status(
                f'applications.argoproj.io is forbidden: User \\"{U}\\" cannot watch resource '
                '\\"applications\\" in API group \\"argoproj.io\\" at the cluster scope',
                '{"group":"argoproj.io","kind":"applications"}',
            ),
            id="a-watch-across-namespaces",
        ),
        pytest.param(
            "GET",
            f"/api/v1/namespaces/{NS}/secrets/argocd-image-updater-secret",
            status(
                f'secrets \\"argocd-image-updater-secret\\" is forbidden: User \\"{U}\\" cannot '
                'get resource \\"secrets\\" in API group \\"\\" in the namespace \\"argocd\\"',
                '{"name":"argocd-image-updater-secret","kind":"secrets"}',
            ),
            id="the-core-group",
        ),
        pytest.param(
            "DELETE",
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/iu",
            status(
                f'mutatingwebhookconfigurations.admissionregistration.k8s.io \\"iu\\" is '
                f'forbidden: User \\"{U}\\" cannot delete resource '
                '\\"mutatingwebhookconfigurations\\" in API group '
                '\\"admissionregistration.k8s.io\\" at the cluster scope',
                '{"name":"iu","group":"admissionregistration.k8s.io",'
                '"kind":"mutatingwebhookconfigurations"}',
            ),
            id="a-cluster-scoped-object",
        ),
        pytest.param(
            "PATCH",
            f"/apis/argoproj.io/v1alpha1/namespaces/{NS}/applications/web/status",
            status(
                f'applications.argoproj.io \\"web\\" is forbidden: User \\"{U}\\" cannot patch '
                'resource \\"applications/status\\" in API group \\"argoproj.io\\" in the '
                'namespace \\"argocd\\"',
                '{"name":"web","group":"argoproj.io","kind":"applications"}',
            ),
            id="a-subresource",
        ),
        pytest.param(
            "DELETE",
            f"/api/v1/namespaces/{NS}/configmaps",
            status(
                f'configmaps is forbidden: User \\"{U}\\" cannot deletecollection resource '
                '\\"configmaps\\" in API group \\"\\" in the namespace \\"argocd\\"',
                '{"kind":"configmaps"}',
            ),
            id="a-delete-collection",
        ),
        pytest.param(
            "GET",
            "/metrics",
            status(f'forbidden: User \\"{U}\\" cannot get path \\"/metrics\\"', "{}"),
            id="a-non-resource-path",
        ),
    ],
)
async def test_a_denial_is_the_status_kube_apiserver_sends(
    caller: Caller, method: str, path: str, body: str
) -> None:
    reply = await caller(method, path, {} if method == "PATCH" else None, MERGE)
    assert reply.status == 403
    assert reply.text == body


async def test_bindings_to_missing_roles_are_the_denials_reason(
    api: KubeAPI, caller: Caller
) -> None:
    api.store.put(binding("a", "Role", "gone"))
    api.store.put(binding("b", "ClusterRole", "gone-too", namespace=None))
    api.store.put(binding("c", "ClusterRole", "gone-too"))
    reply = await caller("GET", f"/api/v1/namespaces/{NS}/configmaps")
    assert reply.message == (
        f'configmaps is forbidden: User "{USER}" cannot list resource "configmaps" in API group '
        '"" in the namespace "argocd": RBAC: [clusterrole.rbac.authorization.k8s.io "gone-too" '
        'not found, role.rbac.authorization.k8s.io "gone" not found]'
    )
