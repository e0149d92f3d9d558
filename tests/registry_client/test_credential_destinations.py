"""Credentials go only where they were configured for: the registry's own host, its known
auth service, or a realm the operator vouched for by configuring the registry; never over
plain HTTP the operator did not choose, and never along a redirect to another host."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from yarl import URL

from imageupdater.credentials import Credentials
from imageupdater.errors import RegistryAuthError
from imageupdater.platforms import Platform
from imageupdater.registries_conf import BUILTIN_DOCKER_HUB, RegistriesConf, RegistryEndpoint
from imageupdater.registry import ClientSettings, RegistryClient
from imageupdater.registry.auth import credentials_withheld

from .conftest import ENV_REF, credential_cache, endpoint_for
from .stubs import (
    BASIC,
    GOOD_TOKEN,
    PASSWORD,
    USER,
    BlobStore,
    StubRegistry,
    TokenService,
    make_tls,
)

AMD64 = (Platform("linux", "amd64"),)
FAST = ClientSettings(connect_timeout=2.0, request_timeout=5.0, backoff=0.01)
TENANT = Credentials(USER, PASSWORD)


def inferred(host: str, **fields: Any) -> RegistryEndpoint:
    endpoint = RegistriesConf().lookup(host, "app")
    assert endpoint.origin == "inferred"
    return dataclasses.replace(endpoint, **fields)


# -- the rule ------------------------------------------------------------------------------------


def conf_endpoint(api_url: str, **fields: Any) -> RegistryEndpoint:
    return RegistryEndpoint(name="conf", api_url=api_url, **fields)


@pytest.mark.parametrize(
    ("endpoint", "target", "allowed"),
    [
        pytest.param(inferred("ghcr.io"), "https://ghcr.io/token", True, id="same-host"),
        pytest.param(inferred("quay.io"), "https://quay.io:443/v2/auth", True, id="default-port"),
        pytest.param(
            inferred("registry.example"), "https://registry.example:8443/t", False, id="other-port"
        ),
        pytest.param(BUILTIN_DOCKER_HUB, "https://auth.docker.io/token", True, id="docker-hub"),
        pytest.param(
            inferred("registry.gitlab.com"), "https://gitlab.com/jwt/auth", True, id="gitlab"
        ),
        pytest.param(
            inferred("evil.example"), "https://auth.docker.io/token", False, id="borrowed-realm"
        ),
        pytest.param(
            inferred("registry.example"), "https://collector.example/t", False, id="other-host"
        ),
        pytest.param(inferred("ghcr.io"), "http://ghcr.io/token", False, id="plain-http-realm"),
        pytest.param(
            conf_endpoint("https://harbor.corp"), "https://sso.corp/token", True, id="vouched"
        ),
        pytest.param(
            conf_endpoint("http://127.0.0.1:5000"),
            "http://127.0.0.1:5001/token",
            True,
            id="configured-plain-http",
        ),
        pytest.param(
            conf_endpoint("https://harbor.corp"),
            "http://sso.corp/token",
            False,
            id="https-registry-http-realm",
        ),
        pytest.param(
            conf_endpoint("https://harbor.corp", insecure=True),
            "http://sso.corp/token",
            False,
            id="insecure-is-not-another-host",
        ),
        pytest.param(
            conf_endpoint("https://harbor.corp", insecure=True),
            "http://harbor.corp:8080/token",
            True,
            id="insecure-own-host",
        ),
        pytest.param(
            dataclasses.replace(BUILTIN_DOCKER_HUB, api_url="http://registry-1.docker.io"),
            "http://registry-1.docker.io/token",
            False,
            id="built-in-never-plain",
        ),
    ],
)
def test_credentials_go_only_to_the_hosts_they_belong_to(
    endpoint: RegistryEndpoint, target: str, allowed: bool
) -> None:
    reason = credentials_withheld(endpoint, URL(target))
    assert (reason is None) is allowed, reason


# -- token realms against real sockets -----------------------------------------------------------


async def test_a_realm_on_another_port_gets_no_credentials_for_a_tenant_named_registry(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    tls = make_tls(tmp_path)
    tokens = TokenService()
    token_server = await aiohttp_server(tokens.app(), ssl=tls.server)
    registry = StubRegistry(auth="bearer", realm=str(token_server.make_url("/token")))
    server = await aiohttp_server(registry.app(), ssl=tls.server)
    cache, _ = credential_cache(TENANT)
    settings = dataclasses.replace(FAST, tls_cert_dir=str(tls.cert_dir))
    async with RegistryClient(settings=settings, credentials=cache) as client:
        with pytest.raises(RegistryAuthError) as caught:
            await client.list_tags(inferred(f"127.0.0.1:{server.port}", credentials=ENV_REF), "app")
    assert tokens.seen, "the anonymous token request was made"
    assert tokens.authorizations == [None] * len(tokens.seen)
    message = str(caught.value)
    assert f"credentials were withheld: realm host 127.0.0.1:{token_server.port}" in message
    assert caught.value.public_message == message
    assert PASSWORD not in message


async def test_a_realm_on_another_port_gets_credentials_when_the_registry_is_configured(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    tls = make_tls(tmp_path)
    tokens = TokenService()
    token_server = await aiohttp_server(tokens.app(), ssl=tls.server)
    registry = StubRegistry(auth="bearer", realm=str(token_server.make_url("/token")))
    server = await aiohttp_server(registry.app(), ssl=tls.server)
    cache, _ = credential_cache(TENANT)
    settings = dataclasses.replace(FAST, tls_cert_dir=str(tls.cert_dir))
    endpoint = endpoint_for(f"https://127.0.0.1:{server.port}", credentials=ENV_REF)
    async with RegistryClient(settings=settings, credentials=cache) as client:
        assert await client.list_tags(endpoint, "app") == ("1.0",)
    assert tokens.authorizations == [BASIC]


async def test_a_realm_on_the_registrys_own_host_gets_credentials(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    tls = make_tls(tmp_path)
    registry = StubRegistry(auth="bearer")  # realm: its own /token
    server = await aiohttp_server(registry.app(), ssl=tls.server)
    cache, _ = credential_cache(TENANT)
    settings = dataclasses.replace(FAST, tls_cert_dir=str(tls.cert_dir))
    endpoint = inferred(f"127.0.0.1:{server.port}", credentials=ENV_REF)
    async with RegistryClient(settings=settings, credentials=cache) as client:
        assert await client.list_tags(endpoint, "app") == ("1.0",)
    assert [s.authorization for s in registry.seen if s.path == "/token"] == [BASIC]


async def test_a_plain_http_realm_of_an_https_registry_gets_no_credentials(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    tls = make_tls(tmp_path)
    tokens = TokenService()
    token_server = await aiohttp_server(tokens.app())  # plain HTTP
    registry = StubRegistry(
        auth="bearer", realm=str(token_server.make_url("/token")), anonymous_ok=True
    )
    server = await aiohttp_server(registry.app(), ssl=tls.server)
    cache, _ = credential_cache(TENANT)
    settings = dataclasses.replace(FAST, tls_cert_dir=str(tls.cert_dir))
    endpoint = endpoint_for(f"https://127.0.0.1:{server.port}", credentials=ENV_REF)
    async with RegistryClient(settings=settings, credentials=cache) as client:
        assert await client.list_tags(endpoint, "app") == ("1.0",)
    assert tokens.authorizations == [None]


async def test_a_configured_plain_http_registry_with_its_realm_elsewhere_still_works(
    aiohttp_server: Any,
) -> None:
    # devcluster's token registry is exactly this: http://127.0.0.1:<a>, realm on :<b>.
    tokens = TokenService()
    token_server = await aiohttp_server(tokens.app())
    registry = StubRegistry(auth="bearer", realm=str(token_server.make_url("/token")))
    server = await aiohttp_server(registry.app())
    cache, _ = credential_cache(TENANT)
    endpoint = endpoint_for(str(server.make_url("")), credentials=ENV_REF)
    async with RegistryClient(settings=FAST, credentials=cache) as client:
        assert await client.list_tags(endpoint, "app") == ("1.0",)
    assert tokens.authorizations == [BASIC]
    assert f"Bearer {GOOD_TOKEN}" in registry.authorizations


# -- redirects ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_to_another_host_does_not_carry_the_authorization(
    aiohttp_server: Any, status: int
) -> None:
    storage = BlobStore()
    storage_server = await aiohttp_server(storage.app())
    registry = StubRegistry(
        auth="basic",
        blob_location=str(storage_server.make_url("/blobs")),
        redirect_status=status,
    )
    server = await aiohttp_server(registry.app())
    cache, _ = credential_cache(TENANT)
    endpoint = endpoint_for(str(server.make_url("")), credentials=ENV_REF)
    async with RegistryClient(settings=FAST, credentials=cache) as client:
        info = await client.tag_info(endpoint, "app", "1.0", platforms=AMD64)
    assert info is not None
    assert info.created is not None
    assert storage.authorizations == [None]
    blob_requests = [s for s in registry.seen if "/blobs/" in s.path]
    assert [s.authorization for s in blob_requests] == [BASIC]


async def test_a_redirect_within_the_registry_keeps_the_authorization(
    aiohttp_server: Any,
) -> None:
    registry = StubRegistry(auth="basic")
    server = await aiohttp_server(registry.app())
    registry.blob_location = str(server.make_url("/storage"))
    cache, _ = credential_cache(TENANT)
    endpoint = endpoint_for(str(server.make_url("")), credentials=ENV_REF)
    async with RegistryClient(settings=FAST, credentials=cache) as client:
        info = await client.tag_info(endpoint, "app", "1.0", platforms=AMD64)
    assert info is not None
    assert [s.authorization for s in registry.seen if s.path.startswith("/storage/")] == [BASIC]


async def test_a_redirect_that_leaves_and_returns_does_not_get_the_authorization_back(
    aiohttp_server: Any,
) -> None:
    registry = StubRegistry(auth="none")
    server = await aiohttp_server(registry.app())
    bounce = StubRegistry(blob_location=str(server.make_url("/storage")))
    bounce_server = await aiohttp_server(bounce.app(), host="127.0.0.2")
    registry.blob_location = str(bounce_server.make_url("/v2/app/blobs"))
    registry.auth = "basic"
    registry_seen_before = len(registry.seen)
    cache, _ = credential_cache(TENANT)
    endpoint = endpoint_for(str(server.make_url("")), credentials=ENV_REF)
    async with RegistryClient(settings=FAST, credentials=cache) as client:
        with pytest.raises(RegistryAuthError):
            # The storage path on the registry wants the credentials it no longer receives.
            await client.tag_info(endpoint, "app", "1.0", platforms=AMD64)
    back = [s for s in registry.seen[registry_seen_before:] if s.path.startswith("/storage/")]
    assert back
    assert {s.authorization for s in back} == {None}
    assert bounce.authorizations == [None] * len(bounce.seen)
