"""SSL contexts are built only for https, once per distinct TLS setting, and shared."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from devcluster.faultregistry import FaultRegistry
from devcluster.registry import LocalRegistry
from devcluster.seeder import ImageSeeder
from devcluster.tls import TinyCA
from imageupdater.errors import RegistryUnavailable
from imageupdater.registries_conf import RegistryEndpoint
from imageupdater.registry import ClientSettings, RegistryClient, TlsContexts

NO_TLS_DIR = ClientSettings(tls_cert_dir=None)


def endpoint(url: str, **fields: object) -> RegistryEndpoint:
    return RegistryEndpoint(name="local", api_url=url.rstrip("/"), **fields)  # type: ignore[arg-type]


@pytest.fixture
async def tls_repo(tls_registry: LocalRegistry, unique_repo: str) -> str:
    async with aiohttp.ClientSession() as session:
        seeder = ImageSeeder(tls_registry.url, session, ssl=tls_registry.ssl_context())
        await seeder.push(unique_repo, "1.0")
    return unique_repo


def ca_text(tls_registry: LocalRegistry) -> str:
    assert tls_registry.ca_file is not None
    return tls_registry.ca_file.read_text()


async def test_a_client_talking_only_to_http_registries_builds_no_ssl_context(
    fault_registry: FaultRegistry, tmp_path: Path
) -> None:
    fault_registry.add_tags("app", ["1.0"])
    ca = TinyCA()
    cert_dir = tmp_path / "tls"
    ca.write_ca(cert_dir / "127.0.0.1")  # Argo CD's tls directory names a CA for this host
    localhost = fault_registry.url.replace("127.0.0.1", "localhost")
    endpoints = [
        endpoint(fault_registry.url),  # gets the CA from the tls directory
        endpoint(fault_registry.url, ca_data=ca.cert_pem.decode()),
        endpoint(localhost),  # nothing but the system's CAs
        endpoint(localhost, ca_file=str(tmp_path / "missing.pem")),  # unreadable, unused
        endpoint(localhost, insecure=True),
    ]
    async with RegistryClient(settings=ClientSettings(tls_cert_dir=str(cert_dir))) as client:
        for each in endpoints:
            assert await client.list_tags(each, "app") == ("1.0",)
            await client.manifest_digest(each, "app", "1.0")
        assert client.tls_contexts.built == 0
        assert len(client.tls_contexts) == 0


async def test_two_https_endpoints_with_the_same_ca_share_one_context(
    tls_registry: LocalRegistry, tls_repo: str
) -> None:
    assert tls_registry.ca_file is not None
    by_address = endpoint(tls_registry.url, ca_file=str(tls_registry.ca_file))
    by_name = endpoint(
        tls_registry.url.replace("127.0.0.1", "localhost"), ca_file=str(tls_registry.ca_file)
    )
    async with RegistryClient(settings=NO_TLS_DIR) as client:
        assert await client.list_tags(by_address, tls_repo) == ("1.0",)
        assert await client.list_tags(by_name, tls_repo) == ("1.0",)
        await client.manifest_digest(by_name, tls_repo, "1.0")
        assert client.tls_contexts.built == 1


async def test_a_different_ca_gets_its_own_context(
    tls_registry: LocalRegistry, tls_repo: str
) -> None:
    assert tls_registry.ca_file is not None
    from_file = endpoint(tls_registry.url, ca_file=str(tls_registry.ca_file))
    # The same CA plus another one: a different bundle, so a different context.
    bundle = ca_text(tls_registry) + TinyCA("another CA").cert_pem.decode()
    inline = endpoint(tls_registry.url.replace("127.0.0.1", "localhost"), ca_data=bundle)
    async with RegistryClient(settings=NO_TLS_DIR) as client:
        assert await client.list_tags(from_file, tls_repo) == ("1.0",)
        assert await client.list_tags(inline, tls_repo) == ("1.0",)
        assert client.tls_contexts.built == 2


async def test_clients_given_the_same_contexts_build_each_once(
    tls_registry: LocalRegistry, tls_repo: str
) -> None:
    contexts = TlsContexts()
    trusted = endpoint(tls_registry.url, ca_data=ca_text(tls_registry))
    for _ in range(3):
        async with RegistryClient(settings=NO_TLS_DIR, tls_contexts=contexts) as client:
            assert await client.list_tags(trusted, tls_repo) == ("1.0",)
            assert client.tls_contexts is contexts
    assert contexts.built == 1


async def test_the_tls_registry_is_still_refused_without_its_ca_and_reached_when_insecure(
    tls_registry: LocalRegistry, tls_repo: str
) -> None:
    untrusted = endpoint(tls_registry.url)
    async with RegistryClient(settings=NO_TLS_DIR) as client:
        with pytest.raises(RegistryUnavailable, match="TLS certificate verification failed"):
            await client.list_tags(untrusted, tls_repo)
        assert await client.list_tags(replace(untrusted, insecure=True), tls_repo) == ("1.0",)
        # Neither the system's CAs (aiohttp's own context) nor `insecure` builds one.
        assert client.tls_contexts.built == 0


async def test_a_ca_in_the_argocd_tls_directory_is_built_once_for_its_host(
    tls_registry: LocalRegistry, tls_repo: str, tmp_path: Path
) -> None:
    cert_dir = tmp_path / "tls"
    cert_dir.mkdir()
    (cert_dir / "127.0.0.1").write_text(ca_text(tls_registry))
    async with RegistryClient(settings=ClientSettings(tls_cert_dir=str(cert_dir))) as client:
        for _ in range(3):
            assert await client.list_tags(endpoint(tls_registry.url), tls_repo) == ("1.0",)
            await client.manifest_digest(endpoint(tls_registry.url), tls_repo, "1.0")
        assert client.tls_contexts.built == 1


async def test_an_unreadable_ca_fails_https_requests_naming_it(
    tls_registry: LocalRegistry, tmp_path: Path
) -> None:
    missing = str(tmp_path / "missing.pem")
    async with RegistryClient(settings=NO_TLS_DIR) as client:
        for _ in range(2):  # not remembered: fixing the file fixes the next request
            with pytest.raises(RegistryUnavailable, match="cannot load its CA certificates") as e:
                await client.ping(endpoint(tls_registry.url, ca_file=missing))
            assert missing in str(e.value)
        assert client.tls_contexts.built == 0
