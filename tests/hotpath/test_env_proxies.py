"""Proxies from the environment: read once when the client opens, then used per host."""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from devcluster.faultregistry import FaultRegistry
from devcluster.tls import TinyCA
from imageupdater.errors import RegistryUnavailable
from imageupdater.registries_conf import RegistryEndpoint
from imageupdater.registry import ClientSettings, RegistryClient
from imageupdater.registry.reachability import ReachabilityPolicy
from tests.registry_client.stubs import StubRegistry

from .forward_proxy import ForwardProxy

NAME = "registry.proxied.test"  # .test never resolves: only the proxy can reach it
OTHER = "bypassed.proxied.test"
FAST = ClientSettings(tls_cert_dir=None, connect_timeout=2.0, request_timeout=5.0, backoff=0.01)
# How a made-up name fails when tried directly: no address, or no answer from DNS in time.
DIRECT_FAILURE = "cannot connect: |timed out"
VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy")


def endpoint(url: str, **fields: object) -> RegistryEndpoint:
    return RegistryEndpoint(name="proxied", api_url=url, **fields)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def port(fault_registry: FaultRegistry) -> int:
    fault_registry.add_tags("app", ["1.0", "2.0"])
    return int(fault_registry.url.rpartition(":")[2])


@pytest.fixture
async def proxy(port: int) -> AsyncIterator[ForwardProxy]:
    forward = ForwardProxy(routes={f"{NAME}:{port}": ("127.0.0.1", port)})
    yield forward
    await forward.close()


async def test_an_http_registry_is_reached_through_http_proxy(
    proxy: ForwardProxy, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", await proxy.start())
    async with RegistryClient(settings=FAST) as client:
        assert await client.list_tags(endpoint(f"http://{NAME}:{port}"), "app") == ("1.0", "2.0")
    assert [(s.method, s.target) for s in proxy.seen][:1] == [("GET", f"http://{NAME}:{port}/v2/")]


async def test_the_lower_case_name_works_too(
    proxy: ForwardProxy, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("http_proxy", (await proxy.start()).removeprefix("http://"))  # no scheme
    async with RegistryClient(settings=FAST) as client:
        assert await client.list_tags(endpoint(f"http://{NAME}:{port}"), "app") == ("1.0", "2.0")
    assert proxy.seen


async def test_an_https_registry_is_tunnelled_through_https_proxy_and_its_certificate_checked(
    aiohttp_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = TinyCA()
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    ca.issue(NAME).write(cert, key)
    serving = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    serving.load_cert_chain(cert, key)
    server = await aiohttp_server(StubRegistry().app(), ssl=serving)
    proxy = ForwardProxy(routes={f"{NAME}:{server.port}": ("127.0.0.1", server.port)})
    monkeypatch.setenv("HTTPS_PROXY", await proxy.start())
    try:
        trusted = endpoint(f"https://{NAME}:{server.port}", ca_data=ca.cert_pem.decode())
        async with RegistryClient(settings=FAST) as client:
            assert await client.list_tags(trusted, "app") == ("1.0",)
            untrusted = endpoint(f"https://{NAME}:{server.port}")
            with pytest.raises(RegistryUnavailable, match="TLS certificate verification failed"):
                await client.list_tags(untrusted, "other")  # not a cached tag list
            assert client.tls_contexts.built == 1
    finally:
        await proxy.close()
    assert {(s.method, s.target) for s in proxy.seen} == {("CONNECT", f"{NAME}:{server.port}")}


async def test_no_proxy_hosts_are_reached_directly(
    proxy: ForwardProxy, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", await proxy.start())
    monkeypatch.setenv("NO_PROXY", f"example.com, {OTHER}")
    async with RegistryClient(settings=FAST) as client:
        assert await client.list_tags(endpoint(f"http://{NAME}:{port}"), "app") == ("1.0", "2.0")
        # Directly, a made-up name cannot be found: the error shows the proxy was not asked.
        with pytest.raises(RegistryUnavailable, match=DIRECT_FAILURE):
            await client.list_tags(endpoint(f"http://{OTHER}:{port}"), "app")
    assert {s.target.split("/")[2] for s in proxy.seen} == {f"{NAME}:{port}"}


async def test_loopback_registries_never_go_through_the_proxy(
    proxy: ForwardProxy, fault_registry: FaultRegistry, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", await proxy.start())
    async with RegistryClient(settings=FAST) as client:
        for url in (fault_registry.url, f"http://localhost:{port}"):
            assert await client.list_tags(endpoint(url), "app") == ("1.0", "2.0")
    assert proxy.seen == []


async def test_the_environment_is_read_when_the_client_opens_not_per_request(
    proxy: ForwardProxy, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", await proxy.start())
    target = endpoint(f"http://{NAME}:{port}")
    async with RegistryClient(settings=FAST) as client:
        await client.ping(target)
        monkeypatch.delenv("HTTP_PROXY")
        for tag in ("1.0", "2.0"):  # still through the proxy read at the start
            await client.manifest_digest(target, "app", tag)
    assert len(proxy.seen) >= 1
    async with RegistryClient(settings=FAST) as client:
        with pytest.raises(RegistryUnavailable, match=DIRECT_FAILURE):
            await client.ping(target)


async def test_proxy_credentials_go_to_the_proxy_and_never_into_messages(
    proxy: ForwardProxy, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = await proxy.start()
    monkeypatch.setenv("HTTP_PROXY", url.replace("http://", "http://robot:s3cret@"))
    monkeypatch.setenv("HTTPS_PROXY", url.replace("http://", "http://robot:s3cret@"))
    async with RegistryClient(settings=FAST) as client:
        assert await client.list_tags(endpoint(f"http://{NAME}:{port}"), "app") == ("1.0", "2.0")
        proxy.refuse = 407
        with pytest.raises(RegistryUnavailable) as refused:
            await client.ping(endpoint(f"https://{NAME}:{port}"))
    expected = "Basic " + base64.b64encode(b"robot:s3cret").decode()
    assert proxy.seen[0].proxy_authorization == expected
    assert "the proxy answered 407" in str(refused.value)
    assert "s3cret" not in str(refused.value) and "robot" not in str(refused.value)
    assert refused.value.__cause__ is None  # aiohttp's error names the proxy URL


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("socks5://robot:s3cret@proxy:1080", "scheme 'socks5'", id="socks"),
        pytest.param("http://proxy:99999", "is not a proxy URL", id="bad-port"),
    ],
)
async def test_an_unusable_proxy_fails_the_requests_that_need_it_naming_the_variable(
    port: int,
    fault_registry: FaultRegistry,
    value: str,
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", value)
    async with RegistryClient(settings=FAST) as client:
        with pytest.raises(RegistryUnavailable, match="HTTPS_PROXY") as caught:
            await client.ping(endpoint(f"https://{NAME}:{port}"))
        assert expected in str(caught.value) and "s3cret" not in str(caught.value)
        # Plain http needs no HTTPS_PROXY; loopback needs no proxy at all.
        assert await client.list_tags(endpoint(fault_registry.url), "app") == ("1.0", "2.0")


async def test_tenant_named_registries_are_never_sent_through_the_proxy(
    proxy: ForwardProxy, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The proxy would resolve the name, out of the reachability policy's sight.
    monkeypatch.setenv("HTTP_PROXY", await proxy.start())
    policy = ReachabilityPolicy(always_denied=(), internal_networks=())
    settings = ClientSettings(tls_cert_dir=None, connect_timeout=2.0, reachability=policy)
    tenant = endpoint(f"http://{NAME}:{port}", origin="inferred")
    async with RegistryClient(settings=settings) as client:
        with pytest.raises(RegistryUnavailable):
            await client.ping(tenant)
        assert await client.list_tags(endpoint(f"http://{NAME}:{port}"), "app") == ("1.0", "2.0")
    assert {s.target for s in proxy.seen} == {f"http://{NAME}:{port}/v2/"}
