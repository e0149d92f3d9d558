"""Where the shared registry cache lives (``--redis``), parsed and checked without Redis.

Kept apart from :mod:`imageupdater.registry.shared`, and outside the registry package (whose
import loads aiohttp), so that reading the flag, ``--help`` and refusing a bad value at start
import neither the HTTP nor the Redis client: only a process given ``--redis`` loads Redis.

The password never travels in the address: a URL that carries one is refused (it would sit
in the pod spec, in ``ps`` and in every log that prints the flag). It comes from
``REDIS_PASSWORD`` or a file, and :class:`SharedCacheSettings` keeps it out of its ``repr``.
"""

from __future__ import annotations

__all__ = ["SharedCacheSettings", "parse_redis_address"]

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from imageupdater.errors import InvalidInput

_ACCEPTED = (
    "expected host:port, redis://[user@]host:port[/db] or rediss://[user@]host:port[/db] "
    "(e.g. argocd-redis:6379)"
)


@dataclass(frozen=True, slots=True)
class SharedCacheSettings:
    """One Redis server and how to talk to it; the timings keep an outage cheap."""

    host: str
    port: int = 6379
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: str | None = None  # None with tls: the system's CAs
    timeout: float = 0.2  # seconds per Redis call; past it the call is an error, not a wait
    retry_after: float = 5.0  # seconds without Redis after an error before trying again
    lock_ttl: float = 15.0  # seconds a tag-list fetch may hold the cross-replica lock
    lock_wait: float = 2.0  # seconds another replica waits for that fetch's answer
    prefix: str = "image-updater:v1:"  # every key we write starts so (Redis is Argo CD's)

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise InvalidInput(f"--redis port {self.port}: expected 1 to 65535")
        if self.db < 0:
            raise InvalidInput(f"--redis database {self.db}: must not be negative")
        for name in ("timeout", "retry_after", "lock_ttl", "lock_wait"):
            if getattr(self, name) <= 0:
                raise InvalidInput(f"SharedCacheSettings.{name} must be positive")
        if self.ca_file is not None and not self.tls:
            raise InvalidInput(
                "--redis-ca-file is for a TLS connection: give the address as rediss://host:port"
            )

    @property
    def address(self) -> str:
        """``host:port`` (what logs and errors name; never the password)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def where(self) -> str:
        """The address as a URL without credentials, for messages."""
        scheme = "rediss" if self.tls else "redis"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.address}/{self.db}"


def parse_redis_address(
    value: str, *, password: str | None = None, ca_file: str | None = None
) -> SharedCacheSettings:
    """``--redis VALUE`` as settings; ``InvalidInput`` naming the flag when it is not one."""
    raw = value.strip()
    if not raw:
        raise InvalidInput(f"--redis {value!r}: empty; {_ACCEPTED}")
    if "://" not in raw:
        raw = "redis://" + raw
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        # urlsplit's message quotes the port part only; no secret can be in it (a
        # password is refused below, before it could reach one).
        raise InvalidInput(f"--redis {_shown(value)}: {exc}; {_ACCEPTED}") from None
    if parts.scheme not in ("redis", "rediss"):
        raise InvalidInput(f"--redis {_shown(value)}: unknown scheme {parts.scheme!r}; {_ACCEPTED}")
    if parts.password is not None:
        raise InvalidInput(
            "--redis: the address must not carry a password (it would show in the pod spec, "
            "process list and logs); put it in REDIS_PASSWORD or --redis-password-file "
            "(e.g. the Secret argocd-redis, key auth)"
        )
    host = parts.hostname
    if not host:
        raise InvalidInput(f"--redis {value!r}: no host; {_ACCEPTED}")
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise InvalidInput(f"--redis {value!r}: bad host {host!r}; {_ACCEPTED}") from None
    if parts.query or parts.fragment:
        raise InvalidInput(
            f"--redis {value!r}: query and fragment are not supported (use --redis-ca-file, "
            f"REDIS_PASSWORD); {_ACCEPTED}"
        )
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise InvalidInput(f"--redis {value!r}: database {path!r} is not a number; {_ACCEPTED}")
    return SharedCacheSettings(
        host=host,
        port=port if port is not None else 6379,
        db=int(path) if path else 0,
        username=unquote(parts.username) if parts.username else None,
        password=password,
        tls=parts.scheme == "rediss",
        ca_file=ca_file,
    )


def _shown(value: str) -> str:
    # Called before the password check has run: show the value only if it cannot hold one.
    return repr(value) if "@" not in value else "<address with user part>"
