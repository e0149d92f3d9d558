"""Resolving credential references into ``Credentials``, and caching registry-level ones.

This adapter owns the I/O behind a ``CredentialRef``: reading the environment, running an
``ext:`` script, and reading Kubernetes secrets through the ``SecretReader`` protocol (the
Kubernetes implementation lives in ``imageupdater.kube``). It also owns
``CredentialCache``, upstream's registry-level credential cache: entries expire after the
endpoint's ``credsexpire``, concurrent resolutions of one key share one fetch, and
``invalidate`` supports the single retry after a 401/403.

Secrets stay out of messages: errors name the variable, secret, field, registry key and
exit code, never a value. ``ext:`` scripts are the operator's (registries.conf, or
namespaces the operator opted in): each runs without a shell, with a minimal environment
(``SCRIPT_ENVIRONMENT``, so it never sees registries.conf's ``env:`` credentials), a
timeout, a cap on what it may print and a bound on how many run at once. Its stdout is the
credential and is never quoted; its stderr goes to the operator's log only, redacted, and
the error (which reaches admission warnings and Events) says just that the script failed
and its exit code. A failing script is not rerun on every lookup: its failure is
remembered with a growing back-off.

Stricter than upstream: every source must yield a non-empty username and password on one
line (one trailing newline is dropped, as ``kubectl create secret --from-file`` leaves
one), and pull-secret ``auths`` keys match by registry host, with Docker Hub's aliases
(``docker.io``, ``index.docker.io``, ``registry-1.docker.io``, with or without scheme and
path) all serving Docker Hub (upstream user-asks #9).
"""

from __future__ import annotations

__all__ = [
    "DOCKER_HUB_HOSTS",
    "SCRIPT_ENVIRONMENT",
    "CacheKey",
    "CredentialCache",
    "CredentialResolver",
    "CredentialSource",
    "SecretReader",
    "redact",
    "resolve",
    "script_environment",
]

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import os
import re
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from imageupdater.credentials import CredentialRef, Credentials
from imageupdater.errors import CredentialError
from imageupdater.registries_conf import RegistryEndpoint

DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
EXT_TIMEOUT = 10.0
# A credential is one short line; anything much longer is a broken or hostile script, and
# must not grow this process's memory (`ext:/usr/bin/yes`).
EXT_OUTPUT_LIMIT = 4096
EXT_CONCURRENCY = 4
# Variables a credential helper legitimately needs: where programs are, locale, and the
# cloud SDKs' own configuration (ECR, ACR and GCR login scripts are what `ext:` is for).
SCRIPT_ENVIRONMENT = ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TZ")
SCRIPT_ENVIRONMENT_PREFIXES = ("AWS_", "AZURE_", "GOOGLE_", "CLOUDSDK_")
_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
_STDERR_LINES = 3
_STDERR_LINE_LIMIT = 200
# Long token-like runs and the part after `user:` are what a script might leak on stderr.
_SECRET_LIKE = re.compile(r"[A-Za-z0-9+/=_.~-]{20,}")
_PAIR = re.compile(r"(\b[^\s:=]+[:=])[^\s]+")
_FAILURE_BACKOFF = 10.0
_FAILURE_BACKOFF_CEILING = 300.0
_DOCKER_CONFIG_FIELD = ".dockerconfigjson"
log = logging.getLogger("image_updater.credentials")


class SecretReader(Protocol):
    """Reads a Kubernetes secret's decoded data; raises ``CredentialError`` when it is missing."""

    async def read_secret(self, namespace: str, name: str) -> Mapping[str, bytes]: ...


async def resolve(
    ref: CredentialRef,
    *,
    registry_host: str,
    api_url: str,
    secrets: SecretReader | None,
    environ: Mapping[str, str],
    ext_timeout: float = EXT_TIMEOUT,
    ext_slots: asyncio.Semaphore | None = None,
) -> Credentials:
    """Fetch the credentials ``ref`` points at for the registry ``registry_host``/``api_url``.

    ``registry_host`` and ``api_url`` only matter for ``pullsecret:`` (choosing the ``auths``
    entry). ``ext_slots`` bounds how many scripts run at once. Raises ``CredentialError``;
    its message never contains a credential.
    """
    if ref.kind == "env":
        return _from_env(f"{ref.env_var}", environ)
    if ref.kind == "ext":
        if ext_slots is None:
            return await _from_script(f"{ref.path}", environ, ext_timeout)
        async with ext_slots:
            return await _from_script(f"{ref.path}", environ, ext_timeout)
    if secrets is None:
        raise CredentialError(
            f"cannot resolve credential reference {str(ref)!r}: "
            "no Kubernetes secret reader is available"
        )
    namespace, name = f"{ref.namespace}", f"{ref.name}"
    data = await secrets.read_secret(namespace, name)
    if ref.kind == "secret":
        value = _field(data, namespace, name, f"{ref.field}")
        return _split_pair(value, f"field {ref.field!r} of secret {namespace}/{name}")
    raw = _field(data, namespace, name, _DOCKER_CONFIG_FIELD)
    return _from_docker_config(raw, f"pull secret {namespace}/{name}", registry_host, api_url)


class CredentialSource:
    """``resolve`` bound to a secret reader and an environment: the resolver the cache uses."""

    def __init__(
        self,
        *,
        secrets: SecretReader | None,
        environ: Mapping[str, str],
        ext_timeout: float = EXT_TIMEOUT,
        ext_concurrency: int = EXT_CONCURRENCY,
    ) -> None:
        self._secrets = secrets
        self._environ = environ
        self._ext_timeout = ext_timeout
        self._ext_slots = asyncio.Semaphore(ext_concurrency)

    async def resolve(self, ref: CredentialRef, *, registry_host: str, api_url: str) -> Credentials:
        return await resolve(
            ref,
            registry_host=registry_host,
            api_url=api_url,
            secrets=self._secrets,
            environ=self._environ,
            ext_timeout=self._ext_timeout,
            ext_slots=self._ext_slots,
        )


class CredentialResolver(Protocol):
    async def resolve(
        self, ref: CredentialRef, *, registry_host: str, api_url: str
    ) -> Credentials: ...


CacheKey = tuple[str, str]
"""(endpoint API URL, credential reference as text)."""


@dataclass(frozen=True, slots=True)
class _Entry:
    credentials: Credentials
    fetched_at: float


@dataclass(frozen=True, slots=True)
class _Failure:
    error: CredentialError
    failures: int
    retry_at: float


class CredentialCache:
    """Registry-level credentials, fetched lazily and kept until ``expire_after`` seconds pass.

    ``expire_after == 0`` means never expire (upstream's ``credsexpire`` default). A failed
    ``ext:`` script is not rerun until its back-off (10 s, doubling to 5 min) has passed:
    until then ``get`` raises the remembered error. Other failures are not remembered (a
    Secret created a moment later is used at once).
    """

    def __init__(
        self, resolver: CredentialResolver, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._resolver = resolver
        self._clock = clock
        self._entries: dict[CacheKey, _Entry] = {}
        self._failures: dict[CacheKey, _Failure] = {}
        self._in_flight: dict[CacheKey, asyncio.Task[Credentials]] = {}

    @staticmethod
    def key(api_url: str, ref: CredentialRef) -> CacheKey:
        return (api_url, str(ref))

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    async def get(
        self, ref: CredentialRef, *, registry_host: str, api_url: str, expire_after: float
    ) -> Credentials:
        key = self.key(api_url, ref)
        entry = self._entries.get(key)
        if entry is not None and not self._expired(entry, expire_after):
            return entry.credentials
        failure = self._failures.get(key)
        if failure is not None and self._clock() < failure.retry_at:
            raise failure.error
        task = self._in_flight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._fetch(key, ref, registry_host, api_url))
            self._in_flight[key] = task
            task.add_done_callback(_consume_exception)
        # Shielded: one caller giving up must not cancel the fetch others are waiting on.
        return await asyncio.shield(task)

    async def for_endpoint(self, endpoint: RegistryEndpoint) -> Credentials | None:
        """The endpoint's registry-level credentials, or None when it has none configured."""
        if endpoint.credentials is None:
            return None
        return await self.get(
            endpoint.credentials,
            registry_host=endpoint.host,
            api_url=endpoint.api_url,
            expire_after=endpoint.credsexpire,
        )

    def invalidate(self, key: CacheKey) -> None:
        """Forget the cached credentials for ``key`` (after a 401/403 with cached credentials).

        A remembered script failure stays: a refused request must not rerun a failing script.
        """
        self._entries.pop(key, None)

    def _expired(self, entry: _Entry, expire_after: float) -> bool:
        return expire_after > 0 and self._clock() - entry.fetched_at >= expire_after

    async def _fetch(
        self, key: CacheKey, ref: CredentialRef, registry_host: str, api_url: str
    ) -> Credentials:
        try:
            credentials = await self._resolver.resolve(
                ref, registry_host=registry_host, api_url=api_url
            )
        except CredentialError as exc:
            if ref.kind == "ext":
                self._remember_failure(key, exc)
            raise
        finally:
            self._in_flight.pop(key, None)
        self._failures.pop(key, None)
        self._entries[key] = _Entry(credentials, self._clock())
        return credentials

    def _remember_failure(self, key: CacheKey, error: CredentialError) -> None:
        previous = self._failures.get(key)
        failures = (previous.failures if previous else 0) + 1
        pause = min(_FAILURE_BACKOFF_CEILING, _FAILURE_BACKOFF * 2.0 ** (failures - 1))
        self._failures[key] = _Failure(error, failures, self._clock() + pause)


def _consume_exception(task: asyncio.Task[Credentials]) -> None:
    # Waiters see the exception; this keeps asyncio from logging it when all of them left.
    if not task.cancelled():
        task.exception()


def _from_env(variable: str, environ: Mapping[str, str]) -> Credentials:
    value = environ.get(variable)
    if value is None:
        raise CredentialError(f"environment variable {variable!r} is not set")
    return _split_pair(value, f"environment variable {variable!r}")


def _split_pair(value: str | bytes, where: str) -> Credentials:
    if isinstance(value, bytes):
        try:
            value = value.decode()
        except UnicodeDecodeError:
            raise CredentialError(f"{where} is not valid UTF-8") from None
    if value.endswith("\r\n"):
        value = value[:-2]
    elif value.endswith("\n"):
        value = value[:-1]
    username, colon, password = value.partition(":")
    if not colon or not username or not password or "\n" in value or "\r" in value:
        raise CredentialError(
            f"{where} must hold <username>:<password> on one line, both non-empty (value not shown)"
        )
    return Credentials(username, password)


def _field(data: Mapping[str, bytes], namespace: str, name: str, key: str) -> bytes:
    value = data.get(key)
    if value is None:
        present = ", ".join(sorted(data)) or "none"
        raise CredentialError(
            f"secret {namespace}/{name} has no field {key!r} (fields present: {present})"
        )
    return value


def script_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """What an ``ext:`` script sees of this process's environment (``SCRIPT_ENVIRONMENT``)."""
    kept = {
        name: value
        for name, value in environ.items()
        if name in SCRIPT_ENVIRONMENT or name.startswith(SCRIPT_ENVIRONMENT_PREFIXES)
    }
    kept.setdefault("PATH", _DEFAULT_PATH)
    return kept


async def _from_script(path: str, environ: Mapping[str, str], limit: float) -> Credentials:
    try:
        process = await asyncio.create_subprocess_exec(
            path,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=script_environment(environ),
            # Its own process group, so a timeout also kills what the script started
            # (a lingering child would hold the pipes open).
            start_new_session=True,
        )
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        log.warning("credential script %r cannot be run: %s", path, reason)
        raise CredentialError(f"the credential script cannot be run ({reason})") from exc
    assert process.stdout is not None and process.stderr is not None
    errors = asyncio.ensure_future(_read_capped(process.stderr, EXT_OUTPUT_LIMIT, stop=False))
    try:
        async with asyncio.timeout(limit):
            stdout, too_long = await _read_capped(process.stdout, EXT_OUTPUT_LIMIT, stop=True)
            if too_long:
                _kill_group(process.pid)
            stderr, _ = await errors
            if too_long:
                await _reap(process)
            await process.wait()
    except TimeoutError:
        errors.cancel()
        _kill_group(process.pid)
        # Let the cancelled reader leave stderr before ``_reap`` drains it.
        await asyncio.wait([errors])
        await _reap(process)
        log.warning("credential script %r did not finish within %gs; killed", path, limit)
        raise CredentialError(
            f"the credential script did not finish within {limit:g}s and was killed"
        ) from None
    except BaseException:
        errors.cancel()
        _kill_group(process.pid)
        await asyncio.wait([errors])
        await _reap(process)
        raise
    _log_stderr(path, process.returncode, stderr)
    if too_long:
        raise CredentialError(
            f"the credential script printed more than {EXT_OUTPUT_LIMIT} bytes and was killed"
        )
    if process.returncode != 0:
        raise CredentialError(f"the credential script failed with exit code {process.returncode}")
    return _split_pair(stdout, "the output of the credential script")


async def _read_capped(stream: asyncio.StreamReader, cap: int, *, stop: bool) -> tuple[bytes, bool]:
    """Up to ``cap`` bytes of ``stream`` and whether it had more. With ``stop`` reading ends
    at the cap (the caller kills the script); otherwise the rest is read and dropped, so a
    chatty stderr neither blocks the script nor grows memory."""
    kept = bytearray()
    overflow = False
    while chunk := await stream.read(64 * 1024):
        room = cap - len(kept)
        if len(chunk) > room:
            kept += chunk[: max(room, 0)]
            overflow = True
            if stop:
                break
        else:
            kept += chunk
    return bytes(kept), overflow


async def _reap(process: asyncio.subprocess.Process) -> None:
    """Wait for a killed script and read its pipes to the end (bounded), so their transports
    close now rather than whenever the loop next sees EOF — or never, if it stops first."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(5.0):
            await process.wait()
            for stream in (process.stdout, process.stderr):
                while stream is not None and await stream.read(64 * 1024):
                    pass


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def redact(line: str) -> str:
    """A stderr line fit for the operator's log: token-like runs and ``user:secret`` tails
    replaced, cut to a readable length."""
    line = _PAIR.sub(lambda m: m.group(1) + "<redacted>", line)
    line = _SECRET_LIKE.sub("<redacted>", line)
    if len(line) > _STDERR_LINE_LIMIT:
        line = line[:_STDERR_LINE_LIMIT] + "…"
    return line


def _log_stderr(path: str, code: int | None, stderr: bytes) -> None:
    lines = [ln.strip() for ln in stderr.decode(errors="replace").splitlines() if ln.strip()]
    if not lines:
        if code:
            log.warning("credential script %r exited with code %s", path, code)
        return
    shown = " | ".join(redact(ln) for ln in lines[:_STDERR_LINES])
    more = f" (+{len(lines) - _STDERR_LINES} more lines)" if len(lines) > _STDERR_LINES else ""
    log.log(
        logging.WARNING if code else logging.DEBUG,
        "credential script %r exited with code %s; stderr (redacted): %s%s",
        path,
        code,
        shown,
        more,
    )


def _registry_host_of(text: str) -> str:
    """``https://Host:5000/v1/`` → ``host:5000``; also accepts a bare ``host/path``."""
    if "://" not in text:
        text = "//" + text
    return (urlsplit(text).netloc.rpartition("@")[2]).lower()


def _from_docker_config(raw: bytes, where: str, registry_host: str, api_url: str) -> Credentials:
    try:
        config = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        position = (
            f" at line {exc.lineno} column {exc.colno}"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        raise CredentialError(
            f"{where}: {_DOCKER_CONFIG_FIELD} is not valid JSON{position}"
        ) from None
    auths = config.get("auths") if isinstance(config, dict) else None
    if not isinstance(auths, dict) or not auths:
        raise CredentialError(f"{where}: {_DOCKER_CONFIG_FIELD} has no 'auths' entries")
    key = _choose_auth_key(list(auths), registry_host, api_url)
    if key is None:
        present = ", ".join(repr(k) for k in sorted(auths))
        raise CredentialError(
            f"{where} has no auth entry for registry {registry_host!r} (API {api_url}); "
            f"registry keys present: {present}"
        )
    return _from_auth_entry(auths[key], f"{where}, auths entry {key!r}")


def _choose_auth_key(keys: list[str], registry_host: str, api_url: str) -> str | None:
    wanted = [registry_host.lower(), _registry_host_of(api_url)]
    if any(host in DOCKER_HUB_HOSTS for host in wanted):
        wanted.extend(sorted(DOCKER_HUB_HOSTS))
    # Best rank first: the image's own host, then the API host, then Docker Hub aliases;
    # ties between spellings of one host go to the lexically first key, for determinism.
    ranked = sorted(
        (wanted.index(host), key)
        for key in keys
        if isinstance(key, str) and (host := _registry_host_of(key)) in wanted
    )
    return ranked[0][1] if ranked else None


def _from_auth_entry(entry: object, where: str) -> Credentials:
    if not isinstance(entry, dict):
        raise CredentialError(f"{where} is not an object")
    auth = entry.get("auth")
    if auth is not None:
        if not isinstance(auth, str):
            raise CredentialError(f"{where}: 'auth' is not a string")
        try:
            decoded = base64.b64decode(auth, validate=True)
        except (binascii.Error, ValueError):
            raise CredentialError(f"{where}: 'auth' is not valid base64") from None
        return _split_pair(decoded, f"{where} ('auth')")
    username, password = entry.get("username"), entry.get("password")
    if isinstance(username, str) and isinstance(password, str) and username and password:
        return Credentials(username, password)
    raise CredentialError(f"{where} has neither 'auth' nor a non-empty 'username' and 'password'")
