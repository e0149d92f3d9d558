"""Which registries the client may connect to on a tenant's behalf: the reachability policy.

Anyone who may write an Application's annotations names registry hosts in ``image-list``,
and the webhook connects to them at admission time. Without a policy that is a way to make
the cluster reach its own loopback, the cloud metadata service or internal services. The
policy is the operator's:

* ``allowed_registries``: Go ``filepath.Match`` globs a registry's API host (``host`` or
  ``host:port`` when a port is written) must match; empty means any host.
* denied networks: loopback, link-local (``169.254.169.254`` included), unspecified,
  multicast and reserved addresses always, plus ``internal_networks`` (by default the
  private ranges; operators set their pod and service CIDRs).
* registries the operator configured (``registries.conf``, origin ``config``) and the
  built-in Docker Hub are trusted: no check applies to them or to the hosts they point us
  at (token realms, blob redirects), because no tenant chose those. An inferred endpoint
  whose API host and port equal a configured one is trusted as well.

This module only decides; the transport enforces the decision at connect time, for every
address a name resolves to and every redirect hop.
"""

from __future__ import annotations

__all__ = [
    "ALWAYS_DENIED",
    "DEFAULT_INTERNAL_NETWORKS",
    "Network",
    "ReachabilityPolicy",
    "host_port",
]

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from yarl import URL

from imageupdater.errors import InvalidInput, RegistryRefused
from imageupdater.registries_conf import RegistryEndpoint
from imageupdater.tags import Glob

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _nets(*texts: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(t) for t in texts)


# Never a registry a tenant may name: the node itself, link-local (cloud metadata at
# 169.254.169.254), "this network", multicast and reserved space.
ALWAYS_DENIED: tuple[tuple[str, Network], ...] = tuple(
    (what, net)
    for what, nets in (
        ("loopback", _nets("127.0.0.0/8", "::1/128")),
        ("link-local", _nets("169.254.0.0/16", "fe80::/10")),
        ("unspecified", _nets("0.0.0.0/8", "::/128")),
        ("multicast", _nets("224.0.0.0/4", "ff00::/8")),
        ("reserved", _nets("240.0.0.0/4")),
    )
    for net in nets
)
# The usual cluster ranges; `--internal-networks` replaces them with the real pod, service
# and node CIDRs.
DEFAULT_INTERNAL_NETWORKS: tuple[Network, ...] = _nets(
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def host_port(url: URL) -> str:
    """``host:port`` with the scheme's default port filled in, lower-case: the identity a
    trust decision is about (``127.0.0.1:5000`` configured does not vouch for ``:22``)."""
    host = (url.raw_host or "").lower().rstrip(".")
    return f"{host}:{url.port}" if url.port is not None else host


def _written(url: URL) -> str:
    """``host`` or ``host:port`` as written: what ``allowed_registries`` globs match."""
    host = (url.raw_host or "").lower().rstrip(".")
    return f"{host}:{url.explicit_port}" if url.explicit_port is not None else host


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    # IPv4 reachable through an IPv6 spelling: mapped (::ffff:a.b.c.d), 6to4 and NAT64.
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True, slots=True)
class ReachabilityPolicy:
    """Where a request for an untrusted (tenant-named) registry may go."""

    allowed_registries: tuple[Glob, ...] = ()
    internal_networks: tuple[Network, ...] = DEFAULT_INTERNAL_NETWORKS
    trusted: frozenset[str] = field(default_factory=frozenset)  # host_port() of API URLs
    # No flag sets this: it exists so tests on 127.0.0.1 can stand in for public hosts.
    always_denied: tuple[tuple[str, Network], ...] = ALWAYS_DENIED

    @classmethod
    def from_flags(
        cls, allowed_registries: Iterable[str], internal_networks: str | None
    ) -> ReachabilityPolicy:
        """Build from ``--allowed-registries`` values (each may be comma-separated) and
        ``--internal-networks`` (``None`` = the defaults, ``""`` = none); ``InvalidInput``."""
        globs = tuple(
            Glob(text.strip().lower(), what="--allowed-registries glob")
            for value in allowed_registries
            for text in value.split(",")
            if text.strip()
        )
        networks = DEFAULT_INTERNAL_NETWORKS
        if internal_networks is not None:
            networks = tuple(
                _parse_network(text.strip())
                for text in internal_networks.split(",")
                if text.strip()
            )
        return cls(allowed_registries=globs, internal_networks=networks)

    def trusting(self, endpoints: Iterable[RegistryEndpoint]) -> ReachabilityPolicy:
        """This policy also trusting the API hosts of ``endpoints`` that are configured or
        built in (typically ``RegistriesConf.endpoints``)."""
        hosts = {host_port(URL(e.api_url)) for e in endpoints if e.origin != "inferred"}
        return replace(self, trusted=self.trusted | hosts)

    def trusts(self, endpoint: RegistryEndpoint) -> bool:
        if endpoint.origin != "inferred":
            return True
        return host_port(URL(endpoint.api_url)) in self.trusted

    def check_registry(self, endpoint: RegistryEndpoint, *, registry: str) -> None:
        """Raise ``RegistryRefused`` when an untrusted endpoint's host is not allowed."""
        if not self.allowed_registries or self.trusts(endpoint):
            return
        written = _written(URL(endpoint.api_url))
        if not any(glob.matches(written) for glob in self.allowed_registries):
            patterns = ", ".join(g.pattern for g in self.allowed_registries)
            raise RegistryRefused(
                f"registry {registry}: refused by the reachability policy: {written!r} "
                f"matches none of --allowed-registries ({patterns}) and is not in "
                "registries.conf",
                registry=registry,
            )

    def denied(self, address: str | Address) -> str | None:
        """Why ``address`` may not be reached (``"loopback 127.0.0.0/8"``), or ``None``.

        An address that does not parse is denied: the resolver gave us something we
        cannot judge.
        """
        try:
            ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        except ValueError:
            return "not an IP address"
        candidates: list[Address] = [ip]
        if isinstance(ip, ipaddress.IPv6Address):
            inner = _embedded_ipv4(ip)
            if inner is not None:
                candidates.append(inner)
        for candidate in candidates:
            for what, net in self.always_denied:
                if candidate.version == net.version and candidate in net:
                    return f"{what} ({net})"
            for net in self.internal_networks:
                if candidate.version == net.version and candidate in net:
                    return f"internal ({net}, see --internal-networks)"
        return None


def _parse_network(text: str) -> Network:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidInput(
            f"--internal-networks: {text!r} is not a network; expected CIDRs such as "
            "10.0.0.0/8,fd00::/8 (or '' for none)"
        ) from None
