"""In a pod: the service account's token and CA (mounted in a temporary directory here), the
service host and port from the environment, a rotated token picked up, and $KUBECONFIG still
winning when it names a file."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import trustme

from devcluster.kubeapi import KubeAPI
from imageupdater import kube
from imageupdater.errors import InvalidKubeconfig

from .conftest import Clock, Seen, one_context, recorded, server_tls

Serve = Callable[..., Awaitable[str]]


@pytest.fixture
def mount(tmp_path: Path, ca: trustme.CA) -> kube.ServiceAccount:
    directory = tmp_path / "serviceaccount"
    directory.mkdir()
    (directory / "token").write_text("first-token")
    ca.cert_pem.write_to_path(str(directory / "ca.crt"))
    return kube.ServiceAccount(token=directory / "token", ca=directory / "ca.crt")


def pod(url: str) -> dict[str, str]:
    host, _, port = url.removeprefix("https://").rpartition(":")
    return {"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port}


@pytest.fixture
async def tls_url(serve: Serve, server_cert: trustme.LeafCert, seen: Seen) -> str:
    api = KubeAPI(users={"first-token": "a", "second-token": "b"}, strict_tokens=True)
    return await serve(recorded(api.app(), seen), server_tls(server_cert))


async def test_the_service_account_token_authenticates_over_the_mounted_ca(
    tls_url: str, mount: kube.ServiceAccount, seen: Seen
) -> None:
    async with await kube.KubeClient.connect(environ=pod(tls_url), service_account=mount) as client:
        assert client.server == tls_url
        await client.list(kube.APPLICATIONS, "argocd")
    assert seen.authorizations() == ["Bearer first-token"]


async def test_a_rotated_token_is_read_within_a_minute(
    tls_url: str, mount: kube.ServiceAccount, seen: Seen
) -> None:
    clock = Clock()
    async with await kube.KubeClient.connect(
        environ=pod(tls_url), service_account=mount, clock=clock
    ) as client:
        await client.list(kube.APPLICATIONS, "argocd")
        mount.token.write_text("second-token\n")  # the kubelet rotated it
        await client.list(kube.APPLICATIONS, "argocd")
        clock.advance(60)
        await client.list(kube.APPLICATIONS, "argocd")
    assert seen.authorizations() == ["Bearer first-token", "Bearer first-token",
                                     "Bearer second-token"]  # fmt: skip


async def test_an_ipv6_service_host_is_bracketed(mount: kube.ServiceAccount) -> None:
    environ = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    async with await kube.KubeClient.connect(environ=environ, service_account=mount) as client:
        assert client.server == "https://[fd00::1]:443"


async def test_kubeconfig_in_the_environment_wins_over_the_pod(
    tmp_path: Path, mount: kube.ServiceAccount
) -> None:
    path = one_context(tmp_path / "k", "https://from-kubeconfig.example", user=None)
    environ = {**pod("https://10.0.0.1:443"), "KUBECONFIG": str(path)}
    async with await kube.KubeClient.connect(environ=environ, service_account=mount) as client:
        assert client.server == "https://from-kubeconfig.example"
    # A list naming no existing file is no kubeconfig: in a pod, the pod's account is used.
    environ["KUBECONFIG"] = os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")])
    async with await kube.KubeClient.connect(environ=environ, service_account=mount) as client:
        assert client.server == "https://10.0.0.1:443"


async def test_a_kubeconfig_flag_wins_over_the_pod(
    tmp_path: Path, mount: kube.ServiceAccount
) -> None:
    path = one_context(tmp_path / "k", "https://flag.example", user=None)
    async with await kube.KubeClient.connect(
        str(path), environ=pod("https://10.0.0.1:443"), service_account=mount
    ) as client:
        assert client.server == "https://flag.example"


@pytest.mark.parametrize(
    ("environ", "broken", "message"),
    [
        pytest.param({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, None,
                     "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set",
                     id="no-port"),
        pytest.param(pod("https://10.0.0.1:443"), "token", "no service account token at {token}",
                     id="no-token"),
        pytest.param(pod("https://10.0.0.1:443"), "ca",
                     "no service account CA certificate at {ca}", id="no-ca"),
    ],
)  # fmt: skip
async def test_an_incomplete_pod_configuration_says_what_is_missing(
    mount: kube.ServiceAccount, environ: dict[str, str], broken: str | None, message: str
) -> None:
    if broken is not None:
        getattr(mount, broken).unlink()
    with pytest.raises(InvalidKubeconfig) as caught:
        await kube.KubeClient.connect(environ=environ, service_account=mount)
    assert str(caught.value) == (
        "cannot load the in-cluster service account's configuration: "
        + message.format(token=mount.token, ca=mount.ca)
    )


async def test_an_empty_token_file_is_refused(mount: kube.ServiceAccount) -> None:
    mount.token.write_text("")
    with pytest.raises(InvalidKubeconfig, match=r"the token file .* is empty"):
        await kube.KubeClient.connect(environ=pod("https://10.0.0.1:443"), service_account=mount)
