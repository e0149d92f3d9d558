"""TLS to the API server over real handshakes: the kubeconfig's certificate authority (data,
or a file next to the kubeconfig), insecure-skip-tls-verify, tls-server-name, and client
certificates (data or files) against a server that requires one."""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trustme

from devcluster.kubeapi import KubeAPI
from imageupdater import kube
from imageupdater.errors import InvalidKubeconfig, KubeUnavailable

from .conftest import b64, ca_data, one_context, server_tls

Serve = Callable[..., Awaitable[str]]


async def lists(path: Path) -> dict[str, Any]:
    async with await kube.KubeClient.connect(str(path), environ={}) as client:
        return await client.list(kube.APPLICATIONS, "argocd")


def leftover_key_files() -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob("image-updater-kube-*"))


@pytest.fixture
async def tls_url(serve: Serve, server_cert: trustme.LeafCert) -> str:
    return await serve(KubeAPI().app(), server_tls(server_cert))


async def test_certificate_authority_data_verifies_the_server(
    tls_url: str, ca: trustme.CA, tmp_path: Path
) -> None:
    path = one_context(
        tmp_path / "k", tls_url, cluster={"certificate-authority-data": ca_data(ca)}, user={}
    )
    assert (await lists(path))["items"] == []


async def test_a_certificate_authority_file_is_found_next_to_the_kubeconfig(
    tls_url: str, ca: trustme.CA, tmp_path: Path
) -> None:
    (tmp_path / "conf").mkdir()
    ca.cert_pem.write_to_path(str(tmp_path / "conf" / "ca.pem"))
    path = one_context(
        tmp_path / "conf" / "kubeconfig", tls_url, cluster={"certificate-authority": "ca.pem"},
        user={},
    )  # fmt: skip
    assert (await lists(path))["items"] == []


async def test_a_server_signed_by_another_authority_is_unavailable(
    tls_url: str, tmp_path: Path
) -> None:
    other = trustme.CA()
    path = one_context(
        tmp_path / "k", tls_url, cluster={"certificate-authority-data": ca_data(other)}, user={}
    )
    with pytest.raises(KubeUnavailable, match=r"list applications in argocd: .*certificate"):
        await lists(path)


async def test_without_a_certificate_authority_the_system_store_does_not_trust_it(
    tls_url: str, tmp_path: Path
) -> None:
    path = one_context(tmp_path / "k", tls_url, user={})
    with pytest.raises(KubeUnavailable, match="certificate"):
        await lists(path)


async def test_insecure_skip_tls_verify_accepts_any_certificate(
    tls_url: str, tmp_path: Path
) -> None:
    path = one_context(tmp_path / "k", tls_url, cluster={"insecure-skip-tls-verify": True}, user={})
    assert (await lists(path))["items"] == []


async def test_tls_server_name_is_the_name_checked(
    serve: Serve, ca: trustme.CA, tmp_path: Path
) -> None:
    url = await serve(KubeAPI().app(), server_tls(ca.issue_cert("kube.internal")))
    trusted = {"certificate-authority-data": ca_data(ca)}
    named = one_context(
        tmp_path / "named", url, cluster={**trusted, "tls-server-name": "kube.internal"}, user={}
    )
    assert (await lists(named))["items"] == []
    unnamed = one_context(tmp_path / "unnamed", url, cluster=trusted, user={})
    with pytest.raises(KubeUnavailable, match="certificate"):
        await lists(unnamed)


async def test_a_certificate_authority_that_is_no_certificate_is_refused_at_connect(
    tmp_path: Path,
) -> None:
    path = one_context(
        tmp_path / "k", "https://kube.example",
        cluster={"certificate-authority-data": b64(b"not a certificate")}, user={},
    )  # fmt: skip
    with pytest.raises(InvalidKubeconfig, match=r"cluster 'c': cannot use its certificate-auth"):
        await lists(path)


# ---- client certificates ----


@pytest.fixture
async def mtls_url(serve: Serve, server_cert: trustme.LeafCert, ca: trustme.CA) -> str:
    return await serve(KubeAPI().app(), server_tls(server_cert, client_ca=ca))


@pytest.fixture(scope="module")
def client_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("image-updater@example.com")


async def test_client_certificate_data_authenticates(
    mtls_url: str, ca: trustme.CA, client_cert: trustme.LeafCert, tmp_path: Path
) -> None:
    user = {
        "client-certificate-data": b64(client_cert.cert_chain_pems[0].bytes()),
        "client-key-data": b64(client_cert.private_key_pem.bytes()),
    }
    cluster = {"certificate-authority-data": ca_data(ca)}
    path = one_context(tmp_path / "k", mtls_url, cluster=cluster, user=user)
    assert (await lists(path))["items"] == []
    # The data went to private temporary files, removed once loaded.
    assert leftover_key_files() == []


async def test_client_certificate_files_authenticate(
    mtls_url: str, ca: trustme.CA, client_cert: trustme.LeafCert, tmp_path: Path
) -> None:
    client_cert.cert_chain_pems[0].write_to_path(str(tmp_path / "client.crt"))
    client_cert.private_key_pem.write_to_path(str(tmp_path / "client.key"))
    user = {"client-certificate": "client.crt", "client-key": "client.key"}
    cluster = {"certificate-authority-data": ca_data(ca)}
    path = one_context(tmp_path / "k", mtls_url, cluster=cluster, user=user)
    assert (await lists(path))["items"] == []


async def test_without_a_client_certificate_the_handshake_fails(
    mtls_url: str, ca: trustme.CA, tmp_path: Path
) -> None:
    path = one_context(
        tmp_path / "k", mtls_url, cluster={"certificate-authority-data": ca_data(ca)}, user={}
    )
    with pytest.raises(KubeUnavailable):
        await lists(path)


async def test_a_key_that_does_not_match_is_refused_without_quoting_it(
    ca: trustme.CA, client_cert: trustme.LeafCert, tmp_path: Path
) -> None:
    other = ca.issue_cert("someone-else")
    key = other.private_key_pem.bytes()
    user = {
        "client-certificate-data": b64(client_cert.cert_chain_pems[0].bytes()),
        "client-key-data": b64(key),
    }
    path = one_context(tmp_path / "k", "https://kube.example", user=user)
    with pytest.raises(InvalidKubeconfig) as caught:
        await lists(path)
    message = str(caught.value)
    assert "cannot use the client certificate and key" in message
    assert "PRIVATE KEY" not in message
    assert key.decode().splitlines()[1] not in message
