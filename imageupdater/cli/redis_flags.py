"""``--redis``, ``--redis-password-file``, ``--redis-ca-file``: the shared registry cache's flags.

Parsed into :class:`SharedCacheSettings` at start, so a bad value stops the process with an
error naming the flag, before anything connects. The password comes from ``REDIS_PASSWORD``
or a file (Argo CD's own Redis: the Secret ``argocd-redis``, key ``auth``), never from the
command line, and is never printed. Importing this module does not import Redis.
"""

from __future__ import annotations

__all__ = ["PASSWORD_ENV", "REDIS_ENV", "add_redis_flags", "redis_settings"]

import argparse
import os
from collections.abc import Callable, Mapping
from pathlib import Path

from imageupdater.errors import InvalidInput
from imageupdater.shared_cache_settings import SharedCacheSettings, parse_redis_address

REDIS_ENV = "IMAGE_UPDATER_REDIS"
PASSWORD_ENV = "REDIS_PASSWORD"  # noqa: S105 - the variable's name, not a password


def add_redis_flags(add: Callable[..., object]) -> None:
    add(
        "--redis",
        default=None,
        metavar="ADDRESS",
        help="share registry tag lists and metadata between replicas through Redis: host:port, "
        "redis://[user@]host:port/db or rediss://… for TLS; no password in it (env "
        f"{REDIS_ENV}; default: each replica caches alone); see docs/scale-out.md",
    )
    add(
        "--redis-password-file",
        default=None,
        metavar="PATH",
        help=f"file holding the Redis password (default: env {PASSWORD_ENV}); e.g. Argo CD's "
        "Secret argocd-redis, key auth, mounted as a file",
    )
    add(
        "--redis-ca-file",
        default=None,
        metavar="PATH",
        help="CA bundle (PEM) that signs a rediss:// server's certificate (default: the "
        "system's CAs)",
    )


def redis_settings(
    args: argparse.Namespace, env: Mapping[str, str] | None = None
) -> SharedCacheSettings | None:
    """What ``--redis`` and its twins ask for, or ``None`` when no Redis is configured."""
    env = os.environ if env is None else env
    address = getattr(args, "redis", None) or env.get(REDIS_ENV, "")
    password_file = getattr(args, "redis_password_file", None)
    ca_file = getattr(args, "redis_ca_file", None)
    if not address:
        if password_file or ca_file:
            raise InvalidInput(
                "--redis-password-file and --redis-ca-file need --redis (or "
                f"{REDIS_ENV}) to name the server"
            )
        return None
    password = env.get(PASSWORD_ENV) or None
    if password_file:
        password = _read_password(password_file)
    if ca_file and not Path(ca_file).is_file():
        raise InvalidInput(f"--redis-ca-file {ca_file!r}: no such file (expected a PEM bundle)")
    return parse_redis_address(address, password=password, ca_file=ca_file)


def _read_password(path: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(
            f"--redis-password-file {path!r}: cannot read it ({exc.strerror or type(exc).__name__})"
        ) from None
    except UnicodeDecodeError:
        raise InvalidInput(f"--redis-password-file {path!r}: not UTF-8 text") from None
    password = text.rstrip("\r\n")  # a Secret written by hand often ends with a newline
    if not password:
        raise InvalidInput(f"--redis-password-file {path!r}: the file is empty")
    return password
