"""The real kubectl with a ServiceAccount token: what RBAC allows works, what it denies is
printed as a cluster prints it, and `kubectl auth can-i` answers from the same decision.

kubectl sends a bearer token only over https, so the emulator is served with TLS here."""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from devcluster.kubeapi import KubeAPI

from .conftest import APP_GROUP, Kubectl, application, serve_in_thread
from .test_rbac import NS, SA, USER, binding, configmap, role, rule, service_account

pytestmark = pytest.mark.kubectl


def kubeconfig(path: Path, url: str, ca_bundle: str, token: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "c", "cluster": {"server": url, "certificate-authority-data": ca_bundle}}
        ],
        "users": [{"name": "sa", "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": "c", "user": "sa", "namespace": NS}}],
        "current-context": "sa",
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def kubectl(
    tmp_path_factory: pytest.TempPathFactory, server_ssl: ssl.SSLContext, ca_bundle: str
) -> Iterator[Kubectl]:
    workdir = tmp_path_factory.mktemp("rbac-kubectl")
    api = KubeAPI()
    api.store.put(service_account())
    api.store.put(configmap("web", k="1"))
    api.store.put(application("web"))
    api.store.put(
        role("image-updater", rule(["get", "list"]), rule(["get", "patch"], ["applications"],
                                                          [APP_GROUP], names=["web"]))
    )  # fmt: skip
    api.store.put(binding("image-updater", "Role", "image-updater"))
    served = serve_in_thread(api.app(), server_ssl)
    config = kubeconfig(workdir / "kubeconfig", f"https://127.0.0.1:{served.port}", ca_bundle,
                        api.issue_token(NS, SA))  # fmt: skip
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "KUBECONFIG": str(config),
        "KUBECACHEDIR": str(workdir / "kcache"),
    }
    try:
        yield Kubectl(env, workdir)
    finally:
        served.stop()


def test_kubectl_reads_what_the_role_allows(kubectl: Kubectl) -> None:
    result = kubectl("get", "configmaps", "-o", "name")
    assert (result.returncode, result.stdout) == (0, "configmap/web\n"), result.stderr


def test_kubectl_prints_a_forbidden_list_as_a_cluster_does(kubectl: Kubectl) -> None:
    result = kubectl("get", "secrets")
    assert result.returncode == 1
    assert result.stderr == (
        f'Error from server (Forbidden): secrets is forbidden: User "{USER}" cannot list '
        'resource "secrets" in API group "" in the namespace "argocd"\n'
    )


def test_kubectl_patches_only_the_named_application(kubectl: Kubectl) -> None:
    # kubectl patch reads the object first, so the denial it meets is the get
    patch = '{"metadata":{"annotations":{"a":"b"}}}'
    ok = kubectl("patch", "applications.argoproj.io", "web", "--type=merge", "-p", patch)
    assert ok.returncode == 0, ok.stderr
    denied = kubectl("patch", "applications.argoproj.io", "other", "--type=merge", "-p", patch)
    assert denied.stderr == (
        'Error from server (Forbidden): applications.argoproj.io "other" is forbidden: User '
        f'"{USER}" cannot get resource "applications" in API group "argoproj.io" in the '
        'namespace "argocd"\n'
    )


@pytest.mark.parametrize(
    ("args", "answer"),
    [
        pytest.param(("get", "configmaps"), "yes", id="granted"),
        pytest.param(("list", "secrets"), "no", id="another-resource"),
        pytest.param(("delete", "configmaps"), "no", id="another-verb"),
        pytest.param(("list", "configmaps", "-n", "other"), "no", id="another-namespace"),
        pytest.param(("list", "configmaps", "--all-namespaces"), "no", id="all-namespaces"),
        pytest.param(("patch", "applications.argoproj.io/web"), "yes", id="the-named-object"),
        pytest.param(("patch", "applications.argoproj.io/api"), "no", id="another-object"),
        pytest.param(("get", "/apis"), "yes", id="a-discovery-path"),
        pytest.param(("get", "/metrics"), "no", id="another-path"),
    ],
)
def test_kubectl_auth_can_i_answers_from_rbac(
    kubectl: Kubectl, args: tuple[str, ...], answer: str
) -> None:
    result = kubectl("auth", "can-i", *args)
    assert (result.stdout, result.returncode) == (f"{answer}\n", 0 if answer == "yes" else 1), (
        result.stderr
    )
