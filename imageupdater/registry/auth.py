"""Registry authentication pieces that need no network: ``Www-Authenticate`` challenge
parsing, Bearer scopes, token answers and the token cache, Basic headers.

Nothing here puts a secret into a message: cache keys carry a hash of the credentials,
never the password itself, and errors name only the registry and the field at fault.

:func:`credentials_withheld` decides where credentials may go: a registry's answer names
the token realm, so a registry must not be able to send our credentials to any host it likes.
"""

from __future__ import annotations

__all__ = [
    "KNOWN_AUTH_HOSTS",
    "Challenge",
    "Token",
    "TokenKey",
    "basic_header",
    "credentials_identity",
    "credentials_withheld",
    "parse_challenges",
    "parse_token_answer",
    "pull_scope",
]

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
from yarl import URL

from imageupdater.errors import RegistryProtocolError
from imageupdater.registries_conf import RegistryEndpoint
from imageupdater.registry.reachability import host_port

_SEPARATORS = " \t,="


@dataclass(frozen=True, slots=True)
class Challenge:
    """One ``Www-Authenticate`` challenge: scheme (lower-cased) and its parameters."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        return self.params.get("service")


def _read_quoted(text: str, pos: int) -> tuple[str, int]:
    """Read an RFC 7230 quoted-string starting at the opening quote; answer (value, next pos)."""
    out: list[str] = []
    pos += 1
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text):
            out.append(text[pos + 1])
            pos += 2
            continue
        if char == '"':
            return "".join(out), pos + 1
        out.append(char)
        pos += 1
    return "".join(out), pos  # unterminated: take what is there, as Go's parser does


def _read_token(text: str, pos: int) -> tuple[str, int]:
    start = pos
    while pos < len(text) and text[pos] not in _SEPARATORS:
        pos += 1
    return text[start:pos], pos


def _skip(text: str, pos: int, chars: str) -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def parse_challenges(header: str) -> tuple[Challenge, ...]:
    """Every challenge in a ``Www-Authenticate`` value (several may share one header).

    ``Bearer realm="https://auth",service="reg",scope="repository:a/b:pull,push"`` gives one
    Bearer challenge with three parameters; parameter names are lower-cased.
    """
    challenges: list[Challenge] = []
    scheme: str | None = None
    params: dict[str, str] = {}
    pos = 0
    # Each step consumes at least one character, so the loop ends.
    for _ in range(len(header) + 1):
        pos = _skip(header, pos, " \t,")
        if pos >= len(header):
            break
        word, pos = _read_token(header, pos)
        if not word:
            pos += 1  # a stray "=": skip it
            continue
        after = _skip(header, pos, " \t")
        if after < len(header) and header[after] == "=" and scheme is not None:
            value_at = _skip(header, after + 1, " \t")
            if value_at < len(header) and header[value_at] == '"':
                value, pos = _read_quoted(header, value_at)
            else:
                value, pos = _read_token(header, value_at)
            params[word.lower()] = value
            continue
        if scheme is not None:
            challenges.append(Challenge(scheme, params))
        scheme, params = word.lower(), {}
    if scheme is not None:
        challenges.append(Challenge(scheme, params))
    return tuple(challenges)


def pull_scope(host: str, repository: str) -> str:
    """The Bearer scope that lets us read ``repository``; ACR wants extra actions (§14)."""
    if host.split(":")[0].endswith(".azurecr.io"):
        return f"repository:{repository}:pull,metadata_read,content_read"
    return f"repository:{repository}:pull"


def credentials_identity(username: str | None, password: str | None) -> str:
    """A cache-key stand-in for credentials: anonymous is ``""``; otherwise a digest that
    changes when either part changes and reveals neither."""
    if username is None and password is None:
        return ""
    material = f"{username or ''}\0{password or ''}".encode()
    return "id:" + hashlib.sha256(material).hexdigest()[:24]


def basic_header(username: str, password: str) -> str:
    return aiohttp.encode_basic_auth(username, password)


TokenKey = tuple[str, str, str, str]  # (realm, service, scope, credentials identity)


@dataclass(frozen=True, slots=True)
class Token:
    value: str = field(repr=False)
    expires_at: float  # on the client's monotonic clock

    def __str__(self) -> str:
        return "Token(<redacted>)"


def parse_token_answer(
    body: bytes, *, registry: str, now: float, default_ttl: float = 60.0
) -> Token:
    """Read a token server's JSON answer (``token`` or ``access_token``, ``expires_in``).

    The token is treated as expiring a margin before the server says so, to survive
    clock skew and the time the request takes.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RegistryProtocolError(
            f"registry {registry}: the token server's answer is not valid JSON", registry=registry
        ) from exc
    if not isinstance(data, dict):
        raise RegistryProtocolError(
            f"registry {registry}: the token server's answer is not a JSON object",
            registry=registry,
        )
    value = data.get("token") or data.get("access_token")
    if not isinstance(value, str) or not value:
        raise RegistryProtocolError(
            f"registry {registry}: the token server's answer has no 'token' or 'access_token'",
            registry=registry,
        )
    ttl = data.get("expires_in")
    seconds = float(ttl) if isinstance(ttl, int | float) and ttl > 0 else default_ttl
    margin = min(10.0, seconds / 2)
    return Token(value=value, expires_at=now + seconds - margin)


# Well-known registries whose token service lives on another host than their API, by API
# host. The others we know issue tokens from their own host (ghcr.io, quay.io, gcr.io and
# *.gcr.io, *-docker.pkg.dev, *.azurecr.io, public.ecr.aws), use Basic (ECR) or need no
# credentials (mcr.microsoft.com, registry.k8s.io), so the same-host rule covers them.
KNOWN_AUTH_HOSTS: Mapping[str, frozenset[str]] = {
    "registry-1.docker.io": frozenset({"auth.docker.io"}),
    "index.docker.io": frozenset({"auth.docker.io"}),
    "docker.io": frozenset({"auth.docker.io"}),
    "registry.gitlab.com": frozenset({"gitlab.com"}),
    "nvcr.io": frozenset({"authn.nvidia.com"}),
}


def _host(url: URL) -> str:
    return (url.raw_host or "").lower().rstrip(".")


def credentials_withheld(endpoint: RegistryEndpoint, target: URL) -> str | None:
    """Why credentials meant for ``endpoint`` must not be sent to ``target``, or ``None``.

    They may go to the endpoint's own API host and port; to another host only when that is
    the registry's known auth service (:data:`KNOWN_AUTH_HOSTS`) or when the operator
    configured the endpoint in registries.conf (vouching for the realm it announces).
    Plain HTTP is the operator's choice alone: a configured ``http://`` API URL may use a
    plain-HTTP realm, and ``insecure: true`` allows one on the registry's own host; a
    registry reached over https never sends credentials to a plain-HTTP realm elsewhere.
    """
    api = URL(endpoint.api_url)
    configured = endpoint.origin == "config"
    where = host_port(target)
    if target.scheme != "https":
        own_host = _host(target) == _host(api)
        if configured and (api.scheme == "http" or (endpoint.insecure and own_host)):
            return None
        return f"plain HTTP to {where} (only a registries.conf http:// api_url allows it)"
    if configured or host_port(target) == host_port(api):
        return None
    if _host(target) in KNOWN_AUTH_HOSTS.get(_host(api), frozenset()):
        return None
    return (
        f"realm host {where} is not the registry's own host {host_port(api)} "
        "(configuring the registry in registries.conf vouches for its realm)"
    )
