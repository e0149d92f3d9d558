"""Which proxy requests to the API server go through: the cluster's ``proxy-url``, else the
environment's ``HTTPS_PROXY``/``HTTP_PROXY`` (lower case first) unless ``NO_PROXY`` exempts
the server, decided once per client (there is one server).

kubernetes_asyncio honoured the environment (its aiohttp session trusted it), and so does
kubectl, so we keep that; ``NO_PROXY`` matches as Python's urllib matches (``*``, host
names and their subdomains, ``host:port``) and, as Go does, IP ranges in CIDR notation.
"""

from __future__ import annotations

__all__ = ["Proxy", "proxy_for"]

import base64
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from imageupdater.errors import InvalidKubeconfig

from .settings import ClusterSettings


@dataclass(frozen=True, slots=True)
class Proxy:
    url: str  # without userinfo, so it can appear in messages
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def authorization(self) -> str:
        """The ``Proxy-Authorization`` value for the URL's credentials."""
        pair = f"{self.username or ''}:{self.password or ''}"
        return "Basic " + base64.b64encode(pair.encode()).decode()


def _bypassed(host: str, port: int | None, no_proxy: str) -> bool:
    host = host.lower().strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry and address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and (not entry_port.isdigit() or int(entry_port) != port):
            continue
        name = name.lstrip(".").strip("[]")
        if host == name or host.endswith("." + name):
            return True
    return False


def _parsed(url: str, where: str) -> Proxy:
    if "://" not in url:
        url = "http://" + url  # as Go reads a proxy variable without a scheme
    parts = urlsplit(url)
    shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    if parts.scheme.startswith("socks"):
        raise InvalidKubeconfig(
            f"{where} {shown!r}: SOCKS proxies are not supported; use an http:// or https:// proxy"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidKubeconfig(f"{where} {shown!r} is not an http:// or https:// URL")
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return Proxy(shown, username, password)


def proxy_for(cluster: ClusterSettings, environ: Mapping[str, str]) -> Proxy | None:
    """InvalidKubeconfig for a proxy that cannot be used (naming where it was set)."""
    if cluster.proxy_url:
        return _parsed(cluster.proxy_url, f"cluster {cluster.name!r}: proxy-url")
    server = urlsplit(cluster.server)
    scheme = server.scheme
    for variable in (f"{scheme}_proxy", f"{scheme.upper()}_PROXY"):
        value = environ.get(variable, "").strip()
        if value:
            break
    else:
        return None
    no_proxy = environ.get("no_proxy", "") or environ.get("NO_PROXY", "")
    port = server.port or (443 if scheme == "https" else 80)
    if server.hostname and no_proxy and _bypassed(server.hostname, port, no_proxy):
        return None
    return _parsed(value, f"${variable}")
