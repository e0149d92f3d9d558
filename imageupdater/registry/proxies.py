"""Proxies from the environment, read once per client session, as upstream reads them.

Upstream's HTTP transport uses Go's ``http.ProxyFromEnvironment``; :class:`EnvProxies`
follows the same rules (``golang.org/x/net/http/httpproxy``), so a deployment's
``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY`` mean here what they meant to upstream:

* ``https`` requests use ``HTTPS_PROXY`` (or ``https_proxy``), ``http`` requests
  ``HTTP_PROXY`` (or ``http_proxy``); the upper-case name wins. ``HTTP_PROXY`` is ignored
  when ``REQUEST_METHOD`` is set (a CGI environment, where a client's ``Proxy:`` header
  would have become it). A value without a scheme is an ``http://`` proxy.
* ``NO_PROXY`` (or ``no_proxy``): comma-separated; ``*`` matches every host; an IP address
  or a CIDR range matches IP literals; ``example.com`` matches it and its subdomains,
  ``.example.com`` (or ``*.example.com``) only the subdomains; ``host:port`` only that port.
* ``localhost`` and loopback addresses never go through a proxy.

aiohttp's own ``trust_env`` reads the environment (and ``~/.netrc``) again for every
request, in a thread; here the environment is read when the session is created and the
answer per (scheme, host, port) is remembered for the session's life.
"""

from __future__ import annotations

__all__ = ["EnvProxies", "ProxyChoice", "UnusableProxy"]

import contextlib
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from yarl import URL

_DEFAULT_PORTS = {"http": 80, "https": 443}
_ACCEPTED_SCHEMES = ("http", "https")
_ACCEPTED = "http://, https://"
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class UnusableProxy:
    """A proxy variable whose value this client cannot use; requests that need it fail."""

    variable: str
    reason: str  # names the value with any password hidden, and what would be accepted


ProxyChoice = URL | UnusableProxy | None  # None: connect directly


@dataclass(frozen=True, slots=True)
class _Rule:
    """One ``NO_PROXY`` entry: an address range, or a domain; either with a port or not."""

    network: _Network | None = None  # a single address is a one-address network
    domain: str = ""  # lower case, without the leading dot
    subdomains_only: bool = False
    port: int | None = None

    def matches(self, host: str, port: int, address: _Address | None) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            return address is not None and address in self.network
        if host == self.domain:
            return not self.subdomains_only
        return host.endswith("." + self.domain)


@dataclass(frozen=True, slots=True)
class EnvProxies:
    http: ProxyChoice = None
    https: ProxyChoice = None
    bypass_all: bool = False
    rules: tuple[_Rule, ...] = ()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> EnvProxies:
        def first(*names: str) -> tuple[str, str]:
            for name in names:
                value = environ.get(name, "")
                if value:
                    return name, value
            return names[0], ""

        http_name, http_value = first("HTTP_PROXY", "http_proxy")
        if environ.get("REQUEST_METHOD"):
            http_value = ""
        https_name, https_value = first("HTTPS_PROXY", "https_proxy")
        _, no_proxy = first("NO_PROXY", "no_proxy")
        bypass_all, rules = _parse_no_proxy(no_proxy)
        return cls(
            http=_parse_proxy(http_name, http_value),
            https=_parse_proxy(https_name, https_value),
            bypass_all=bypass_all,
            rules=rules,
        )

    @property
    def configured(self) -> bool:
        return self.http is not None or self.https is not None

    def for_url(self, url: URL) -> ProxyChoice:
        """The proxy for a request to ``url``, or None to connect directly."""
        scheme = url.scheme
        proxy = self.https if scheme == "https" else self.http if scheme == "http" else None
        if proxy is None or self.bypass_all:
            return None
        host = (url.raw_host or "").lower()
        if not host or host == "localhost":
            return None
        try:
            address: _Address | None = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is not None and address.is_loopback:
            return None
        port = url.port or _DEFAULT_PORTS.get(scheme, 0)
        if any(rule.matches(host, port, address) for rule in self.rules):
            return None
        return proxy


def _parse_proxy(variable: str, value: str) -> ProxyChoice:
    value = value.strip()
    if not value:
        return None
    try:
        url = URL(value)
        if url.scheme not in (*_ACCEPTED_SCHEMES, "socks5", "socks5h") or not url.raw_host:
            # Go's rule: what does not parse as a proxy URL is retried as http://<value>.
            url = URL("http://" + value)
        url.port  # noqa: B018 - a malformed port raises here, not at the first request
    except ValueError:
        url = None
    if url is None or not url.raw_host:
        shown = f"{variable}={value!r}" if "@" not in value else variable  # may hold a password
        return UnusableProxy(variable, f"{shown} is not a proxy URL (expected http://host:port)")
    if url.scheme not in _ACCEPTED_SCHEMES:
        return UnusableProxy(
            variable,
            f"{variable}={str(url.with_password(None))!r} uses scheme {url.scheme!r}, which the "
            f"registry client cannot use (accepted: {_ACCEPTED})",
        )
    return url


def _parse_no_proxy(text: str) -> tuple[bool, tuple[_Rule, ...]]:
    rules: list[_Rule] = []
    for raw in text.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True, ()
        if "/" in entry:
            # Go ignores what is neither a CIDR range nor a host; so do we.
            with contextlib.suppress(ValueError):
                rules.append(_Rule(network=ipaddress.ip_network(entry, strict=False)))
            continue
        host, port = _split_port(entry)
        if not host:
            continue
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            rules.append(_Rule(network=ipaddress.ip_network(address), port=port))
            continue
        subdomains_only = host.startswith(".")
        if host.startswith("*."):
            host, subdomains_only = host[2:], True
        domain = host.lstrip(".") if subdomains_only else host
        if domain:
            rules.append(_Rule(domain=domain, subdomains_only=subdomains_only, port=port))
    return False, tuple(rules)


def _split_port(entry: str) -> tuple[str, int | None]:
    """``host:port`` or ``[v6]:port`` into its parts; anything else is all host."""
    if entry.startswith("["):
        host, bracket, rest = entry[1:].partition("]")
        if bracket and rest.startswith(":") and rest[1:].isdigit():
            return host, int(rest[1:])
        return (host, None) if bracket and not rest else (entry, None)
    host, colon, port = entry.rpartition(":")
    if colon and ":" not in host and port.isdigit():
        return host, int(port)
    return entry, None
