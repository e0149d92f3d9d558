"""The reachability policy: which addresses and hosts a tenant-named registry may be, enforced
when connecting (names, IP literals, every redirect hop), and what a tenant is told."""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
from pathlib import Path
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from devcluster.faultregistry import FaultRegistry
from imageupdater.errors import (
    InvalidInput,
    RateLimited,
    RegistryAuthError,
    RegistryError,
    RegistryNotFound,
    RegistryProtocolError,
    RegistryRefused,
    RegistryUnavailable,
)
from imageupdater.platforms import Platform
from imageupdater.registries_conf import BUILTIN_DOCKER_HUB, RegistriesConf, RegistryEndpoint
from imageupdater.registry import ClientSettings, RegistryClient
from imageupdater.registry.reachability import ReachabilityPolicy
from imageupdater.registry.transport import GuardedResolver

from .conftest import endpoint_for
from .stubs import StubRegistry, TokenService, make_tls

AMD64 = (Platform("linux", "amd64"),)
DEFAULT = ReachabilityPolicy()
FAST = ClientSettings(connect_timeout=2.0, request_timeout=5.0, backoff=0.01)


def inferred(host: str) -> RegistryEndpoint:
    """What ``image-list`` naming ``host/app`` gets when registries.conf does not know it."""
    endpoint = RegistriesConf().lookup(host, "app")
    assert endpoint.origin == "inferred"
    return endpoint


def inferred_http(url: str) -> RegistryEndpoint:
    """An untrusted endpoint over plain HTTP: lookup never infers one, but the policy looks
    at the origin only, and local stand-ins speak HTTP."""
    return RegistryEndpoint(name="tenant", api_url=url, origin="inferred")


def policy_treating_as_public(*denied: str) -> ReachabilityPolicy:
    """127.0.0.1 stands in for the Internet; ``denied`` stand in for the cluster's networks."""
    return ReachabilityPolicy(
        internal_networks=tuple(ipaddress.ip_network(d) for d in denied), always_denied=()
    )


# -- the policy value ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("127.0.0.1", id="loopback"),
        pytest.param("127.255.0.9", id="loopback-range"),
        pytest.param("::1", id="ipv6-loopback"),
        pytest.param("169.254.169.254", id="cloud-metadata"),
        pytest.param("fe80::1", id="ipv6-link-local"),
        pytest.param("fe80::1%lo", id="ipv6-link-local-with-zone"),
        pytest.param("0.0.0.0", id="unspecified"),
        pytest.param("::", id="ipv6-unspecified"),
        pytest.param("10.96.0.1", id="private-10"),
        pytest.param("172.20.1.1", id="private-172"),
        pytest.param("192.168.1.1", id="private-192"),
        pytest.param("100.64.0.10", id="carrier-grade-nat"),
        pytest.param("fd12::1", id="ipv6-unique-local"),
        pytest.param("::ffff:127.0.0.1", id="ipv4-mapped-loopback"),
        pytest.param("::ffff:10.0.0.1", id="ipv4-mapped-private"),
        pytest.param("64:ff9b::a9fe:a9fe", id="nat64-metadata"),
        pytest.param("2002:7f00:1::", id="6to4-loopback"),
        pytest.param("224.0.0.1", id="multicast"),
        pytest.param("255.255.255.255", id="broadcast"),
        pytest.param("not-an-address", id="unparseable"),
    ],
)
def test_the_default_policy_denies_the_node_metadata_and_internal_addresses(
    address: str,
) -> None:
    assert DEFAULT.denied(address) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "140.82.112.33", "2606:4700::1111"])
def test_the_default_policy_allows_public_addresses(address: str) -> None:
    assert DEFAULT.denied(address) is None


def test_the_reason_names_the_network_and_the_flag_for_internal_ranges() -> None:
    assert DEFAULT.denied("169.254.169.254") == "link-local (169.254.0.0/16)"
    assert DEFAULT.denied("10.1.2.3") == "internal (10.0.0.0/8, see --internal-networks)"


def test_internal_networks_replace_the_private_defaults_but_never_open_loopback() -> None:
    policy = ReachabilityPolicy.from_flags([], "10.96.0.0/12, fd00::/8")
    assert policy.denied("10.96.0.1") is not None
    assert policy.denied("fd00::5") is not None
    assert policy.denied("10.0.0.1") is None
    assert policy.denied("192.168.1.1") is None
    assert policy.denied("127.0.0.1") is not None
    assert policy.denied("169.254.169.254") is not None


def test_empty_internal_networks_deny_only_the_fixed_ranges() -> None:
    policy = ReachabilityPolicy.from_flags([], "")
    assert policy.internal_networks == ()
    assert policy.denied("10.0.0.1") is None
    assert policy.denied("::1") is not None


@pytest.mark.parametrize("text", ["10.0.0.0/33", "ten/8", "10.0.0.0/8,nope"])
def test_a_bad_internal_network_is_an_error_naming_the_flag(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"--internal-networks: .* is not a network"):
        ReachabilityPolicy.from_flags([], text)


def test_a_bad_allowed_registries_glob_is_an_error_naming_the_flag() -> None:
    with pytest.raises(InvalidInput, match="--allowed-registries glob"):
        ReachabilityPolicy.from_flags(["ghcr.io,[unclosed"], None)


@pytest.mark.parametrize(
    ("globs", "host", "allowed"),
    [
        pytest.param(["*.corp.example"], "reg.corp.example", True, id="glob"),
        pytest.param(["*.corp.example"], "a.b.corp.example", True, id="glob-spans-dots"),
        pytest.param(["*.corp.example"], "reg.corp.example:5000", False, id="port-not-matched"),
        pytest.param(["*.corp.example:*"], "reg.corp.example:5000", True, id="any-port"),
        pytest.param(["*.corp.example"], "corp.example.evil.io", False, id="suffix-only"),
        pytest.param(["ghcr.io, quay.io", "gcr.io"], "quay.io", True, id="comma-and-repeat"),
        pytest.param(["GHCR.io"], "ghcr.io", True, id="case-insensitive"),
        pytest.param(["ghcr.io"], "docker.example", False, id="unlisted"),
    ],
)
def test_allowed_registries_globs_match_the_host_as_written(
    globs: list[str], host: str, allowed: bool
) -> None:
    policy = ReachabilityPolicy.from_flags(globs, None)
    endpoint = inferred(host)
    if allowed:
        policy.check_registry(endpoint, registry=host)
    else:
        with pytest.raises(RegistryRefused, match="matches none of --allowed-registries"):
            policy.check_registry(endpoint, registry=host)


def test_configured_and_built_in_registries_are_trusted_whatever_the_globs() -> None:
    policy = ReachabilityPolicy.from_flags(["ghcr.io"], None)
    configured = endpoint_for("http://10.0.0.5:5000")
    for endpoint in (configured, BUILTIN_DOCKER_HUB):
        assert policy.trusts(endpoint)
        policy.check_registry(endpoint, registry="x")


def test_an_inferred_endpoint_on_a_configured_host_and_port_is_trusted() -> None:
    conf = RegistriesConf.parse(
        "registries:\n- name: team-a\n  prefix: reg.internal/team-a\n"
        "  api_url: https://reg.internal\n",
        source="t",
    )
    policy = DEFAULT.trusting(conf.endpoints)
    assert policy.trusts(conf.lookup("reg.internal", "team-b/app"))
    assert policy.trusts(conf.lookup("reg.internal:443", "team-b/app"))
    assert not policy.trusts(conf.lookup("reg.internal:22", "team-b/app"))
    assert not policy.trusts(conf.lookup("other.internal", "app"))


# -- the resolver -------------------------------------------------------------------------------


class Answers(AbstractResolver):
    """A resolver with fixed answers: the name-to-address step the guard wraps."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
            for address in self.addresses
        ]

    async def close(self) -> None:
        pass


async def test_the_resolver_keeps_only_allowed_addresses() -> None:
    guard = GuardedResolver(DEFAULT, Answers("10.0.0.7", "140.82.112.33", "::1"))
    found = await guard.resolve("registry.example", 443)
    assert [r["host"] for r in found] == ["140.82.112.33"]


async def test_the_resolver_refuses_a_name_with_only_denied_addresses() -> None:
    guard = GuardedResolver(DEFAULT, Answers("169.254.169.254", "fd00::1"))
    # An OSError, the only thing aiohttp carries out of a resolver, and a RegistryRefused of
    # the one error tree, hiding the addresses from a tenant.
    with pytest.raises(
        OSError, match=r"rebind\.example resolves only to denied addresses"
    ) as caught:
        await guard.resolve("rebind.example", 443)
    assert isinstance(caught.value, RegistryRefused)
    assert caught.value.public_message == "registry rebind.example unreachable"


# -- enforcement against real sockets -----------------------------------------------------------


async def test_an_ip_literal_in_a_denied_network_is_refused_before_connecting(
    fault_registry: FaultRegistry,
) -> None:
    fault_registry.add_tags("app", ["1.0"])
    host = fault_registry.url.removeprefix("http://")
    async with RegistryClient(settings=dataclasses.replace(FAST, reachability=DEFAULT)) as client:
        with pytest.raises(RegistryRefused) as caught:
            await client.list_tags(inferred(host), "app")
    assert fault_registry.log == ()
    assert "127.0.0.1 is loopback (127.0.0.0/8)" in str(caught.value)
    assert caught.value.public_message == f"registry {host} unreachable"


async def test_a_name_resolving_to_a_denied_address_is_refused_at_connect_time(
    fault_registry: FaultRegistry,
) -> None:
    fault_registry.add_tags("app", ["1.0"])
    host = "localhost:" + fault_registry.url.rpartition(":")[2]
    async with RegistryClient(settings=dataclasses.replace(FAST, reachability=DEFAULT)) as client:
        with pytest.raises(RegistryRefused, match="localhost resolves only to denied") as caught:
            await client.list_tags(inferred(host), "app")
    assert fault_registry.log == ()
    assert caught.value.public_message == f"registry {host} unreachable"


async def test_a_host_outside_the_allowed_registries_is_refused_without_a_request(
    fault_registry: FaultRegistry,
) -> None:
    policy = ReachabilityPolicy.from_flags(["*.corp.example"], "")
    endpoint = inferred_http(fault_registry.url)
    async with RegistryClient(settings=dataclasses.replace(FAST, reachability=policy)) as client:
        with pytest.raises(RegistryRefused, match="matches none of --allowed-registries"):
            await client.list_tags(endpoint, "app")
    assert fault_registry.log == ()


async def test_a_configured_registry_on_loopback_is_reached_under_the_default_policy(
    fault_registry: FaultRegistry,
) -> None:
    fault_registry.add_tags("app", ["1.0", "1.1"])
    settings = dataclasses.replace(FAST, reachability=DEFAULT)
    async with RegistryClient(settings=settings) as client:
        assert await client.list_tags(endpoint_for(fault_registry.url), "app") == ("1.0", "1.1")


async def test_without_a_policy_a_loopback_registry_is_reached_as_before(
    fault_registry: FaultRegistry,
) -> None:
    fault_registry.add_tags("app", ["1.0"])
    async with RegistryClient(settings=FAST) as client:
        assert await client.list_tags(inferred_http(fault_registry.url), "app") == ("1.0",)


async def test_a_redirect_to_a_denied_ip_literal_is_refused(
    aiohttp_server: Any, fault_registry: FaultRegistry
) -> None:
    storage = await aiohttp_server(fault_registry.make_app(), host="127.0.0.2")
    stub = StubRegistry(blob_location=f"http://127.0.0.2:{storage.port}/v2/app/blobs")
    server = await aiohttp_server(stub.app())
    policy = policy_treating_as_public("127.0.0.2/32")
    async with RegistryClient(settings=dataclasses.replace(FAST, reachability=policy)) as client:
        with pytest.raises(RegistryRefused, match=r"redirected to 127\.0\.0\.2") as caught:
            await client.tag_info(
                inferred_http(str(server.make_url(""))), "app", "1.0", platforms=AMD64
            )
    assert fault_registry.log == ()
    assert caught.value.public_message == f"registry 127.0.0.1:{server.port} unreachable"


async def test_a_redirect_to_a_name_resolving_to_a_denied_address_is_refused(
    aiohttp_server: Any,
) -> None:
    stub = StubRegistry()
    storage = await aiohttp_server(stub.app())
    registry = StubRegistry(blob_location=f"http://localhost:{storage.port}/v2/app/blobs")
    server = await aiohttp_server(registry.app(), host="127.0.0.2")
    policy = policy_treating_as_public("127.0.0.1/32", "::1/128")
    async with RegistryClient(settings=dataclasses.replace(FAST, reachability=policy)) as client:
        with pytest.raises(RegistryRefused, match="localhost resolves only to denied"):
            await client.tag_info(
                inferred_http(str(server.make_url(""))), "app", "1.0", platforms=AMD64
            )
    assert stub.seen == []


async def test_a_token_realm_at_a_denied_address_is_refused(aiohttp_server: Any) -> None:
    tokens = TokenService()
    token_server = await aiohttp_server(tokens.app(), host="127.0.0.2")
    registry = StubRegistry(auth="bearer", realm=str(token_server.make_url("/token")))
    server = await aiohttp_server(registry.app())
    policy = policy_treating_as_public("127.0.0.2/32")
    async with RegistryClient(settings=dataclasses.replace(FAST, reachability=policy)) as client:
        with pytest.raises(RegistryRefused, match=r"127\.0\.0\.2 is internal"):
            await client.list_tags(inferred_http(str(server.make_url(""))), "app")
    assert tokens.seen == []


async def test_redirect_chains_are_bounded(aiohttp_server: Any) -> None:
    stub = StubRegistry()
    server = await aiohttp_server(stub.app())
    stub.blob_location = str(server.make_url("/v2/app/blobs"))  # redirects to itself, forever
    settings = dataclasses.replace(FAST, max_redirects=3)
    async with RegistryClient(settings=settings) as client:
        with pytest.raises(RegistryProtocolError, match="redirected more than 3 times"):
            await client.tag_info(
                endpoint_for(str(server.make_url(""))), "app", "1.0", platforms=AMD64
            )
    assert sum(s.path.startswith("/v2/app/blobs/") for s in stub.seen) == 4


# -- what a tenant is told: nothing that tells ports apart --------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _failure(client: RegistryClient, endpoint: RegistryEndpoint) -> RegistryError:
    with pytest.raises(RegistryError) as caught:
        await client.list_tags(endpoint, "app")
    return caught.value


async def test_closed_plaintext_tls_and_refused_ports_look_the_same_to_a_tenant(
    aiohttp_server: Any, fault_registry: FaultRegistry, tmp_path: Path
) -> None:
    tls = make_tls(tmp_path)
    not_a_registry = await aiohttp_server(StubRegistry(ping_status=404).app(), ssl=tls.server)
    plaintext = fault_registry.url.rpartition(":")[2]
    ports = {
        "closed": str(_closed_port()),
        "plaintext": plaintext,
        "tls-not-a-registry": str(not_a_registry.port),
    }
    # No policy at all: even when the webhook may connect, the answer tells nothing.
    settings = dataclasses.replace(FAST, tls_cert_dir=str(tls.cert_dir))
    failures: dict[str, RegistryError] = {}
    async with RegistryClient(settings=settings) as client:
        for name, port in ports.items():
            failures[name] = await _failure(client, inferred(f"127.0.0.1:{port}"))
    async with RegistryClient(settings=dataclasses.replace(FAST, reachability=DEFAULT)) as client:
        failures["refused"] = await _failure(client, inferred(f"127.0.0.1:{plaintext}"))
    public = {
        name: exc.public_message.replace(ports.get(name, plaintext), "PORT")
        for name, exc in failures.items()
    }
    assert set(public.values()) == {"registry 127.0.0.1:PORT unreachable"}, public
    # The operator's log keeps telling them apart.
    assert isinstance(failures["closed"], RegistryUnavailable)
    assert "cannot connect" in str(failures["closed"])
    assert "TLS" in str(failures["plaintext"])
    assert "is not a Docker v2 registry API" in str(failures["tls-not-a-registry"])
    assert "reachability policy" in str(failures["refused"])


def test_errors_about_a_real_registry_keep_their_message_for_the_tenant() -> None:
    for exc in (
        RegistryNotFound("registry ghcr.io: tag list of a/b not found (404)", registry="ghcr.io"),
        RegistryAuthError("registry ghcr.io: tags of a/b was refused (401)", registry="ghcr.io"),
        RateLimited("registry ghcr.io: GET /v2/ was rate limited (429)", registry="ghcr.io"),
    ):
        assert exc.public_message == str(exc)
