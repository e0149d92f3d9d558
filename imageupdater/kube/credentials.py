"""How requests to the API server authenticate: what a request carries (:class:`Credentials`),
and the sources that produce it, each knowing when to produce it again.

* :class:`Fixed`: a token or username/password from the kubeconfig, a client certificate.
* :class:`TokenFile`: ``tokenFile`` and the in-cluster service account token, re-read once
  it is older than a minute (bound tokens rotate) and at once after a 401.
* :class:`ExecPlugin`: a client-go credential plugin (ExecCredential v1 or v1beta1), run
  with the kubeconfig's ``env`` and ``KUBERNETES_EXEC_INFO``, never interactively; its
  answer is kept until its ``expirationTimestamp`` and asked for again after a 401.

Failures are :class:`InvalidKubeconfig` naming the user and the plugin, never the token,
password or key, nor what a plugin printed on stdout (a failing plugin's stderr is quoted,
shortened to a line, as it says why); the client words them for where they happened.
"""

from __future__ import annotations

__all__ = ["CredentialSource", "Credentials", "ExecPlugin", "Fixed", "TokenFile", "source_for"]

import asyncio
import base64
import contextlib
import datetime as dt
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from imageupdater.errors import InvalidKubeconfig

from .settings import ClusterSettings, Connection, ExecSettings, PemSource, UserSettings

TOKEN_FILE_MAX_AGE = 60.0  # seconds, as client-go re-reads a token file
EXEC_TIMEOUT = 60.0
# A plugin's credential this close to its expiry is renewed first: a request sent with
# it should not arrive after it expired.
_EXPIRY_MARGIN = 10.0


@dataclass(frozen=True, slots=True)
class Credentials:
    authorization: str | None = field(default=None, repr=False)  # the Authorization header
    certificate: tuple[PemSource, PemSource] | None = field(default=None, repr=False)


class CredentialSource(Protocol):
    async def current(self) -> Credentials:
        """What the next request carries."""
        ...

    async def refused(self, used: Credentials) -> bool:
        """The server answered 401 to ``used``: renew if that can help; True when a retry
        would carry something else."""
        ...


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _fixed_parts(user: UserSettings) -> Credentials:
    authorization = None
    if user.token:
        authorization = f"Bearer {user.token}"
    elif user.username is not None or user.password is not None:
        authorization = _basic(user.username or "", user.password or "")
    certificate = None
    if user.client_certificate is not None and user.client_key is not None:
        certificate = (user.client_certificate, user.client_key)
    return Credentials(authorization, certificate)


class Fixed:
    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials

    async def current(self) -> Credentials:
        return self._credentials

    async def refused(self, used: Credentials) -> bool:
        return False


def _read_token(path: Path, owner: str) -> str:
    """``Bearer <the token in path>``."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise InvalidKubeconfig(
            f"{owner}: cannot read the token file {path}: {reason.lower()}"
        ) from exc
    if not token:
        raise InvalidKubeconfig(f"{owner}: the token file {path} is empty")
    return f"Bearer {token}"


class TokenFile:
    def __init__(
        self,
        path: Path,
        *,
        owner: str,
        certificate: tuple[PemSource, PemSource] | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_age: float = TOKEN_FILE_MAX_AGE,
    ) -> None:
        self._path = path
        self._owner = owner
        self._certificate = certificate
        self._clock = clock
        self._max_age = max_age
        self._credentials: Credentials | None = None
        self._read_at = 0.0

    def _read(self) -> Credentials:
        self._credentials = Credentials(_read_token(self._path, self._owner), self._certificate)
        self._read_at = self._clock()
        return self._credentials

    async def current(self) -> Credentials:
        if self._credentials is None or self._clock() - self._read_at >= self._max_age:
            return self._read()
        return self._credentials

    async def refused(self, used: Credentials) -> bool:
        return self._read() != used


class ExecPlugin:
    def __init__(
        self,
        settings: ExecSettings,
        *,
        owner: str,
        cluster: ClusterSettings,
        environ: Mapping[str, str],
        fallback: Credentials,
        now: Callable[[], float] = time.time,
        timeout: float = EXEC_TIMEOUT,
    ) -> None:
        self._settings = settings
        self._owner = f"{owner}: exec plugin {settings.command!r}"
        self._cluster = cluster
        self._environ = environ
        self._fallback = fallback  # the kubeconfig's own token or certificate, if any
        self._now = now
        self._timeout = timeout
        self._credentials: Credentials | None = None
        self._expires: float | None = None
        self._lock = asyncio.Lock()

    def _fresh(self) -> Credentials | None:
        if self._credentials is None:
            return None
        if self._expires is not None and self._now() >= self._expires - _EXPIRY_MARGIN:
            return None
        return self._credentials

    async def current(self) -> Credentials:
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        async with self._lock:  # one plugin run for every request waiting on it
            fresh = self._fresh()
            if fresh is None:
                fresh = await self._run()
            return fresh

    async def refused(self, used: Credentials) -> bool:
        async with self._lock:
            if self._credentials == used:
                await self._run()
            return True  # renewed now, or by another request meanwhile

    def _exec_info(self) -> str:
        spec: dict[str, Any] = {"interactive": False}
        if self._settings.provide_cluster_info:
            cluster = self._cluster
            info: dict[str, Any] = {"server": cluster.server}
            if cluster.tls_server_name:
                info["tls-server-name"] = cluster.tls_server_name
            if cluster.insecure_skip_tls_verify:
                info["insecure-skip-tls-verify"] = True
            authority = cluster.certificate_authority
            if isinstance(authority, Path):
                with contextlib.suppress(OSError):
                    authority = authority.read_bytes()
            if isinstance(authority, bytes):
                info["certificate-authority-data"] = base64.b64encode(authority).decode()
            if cluster.proxy_url:
                info["proxy-url"] = cluster.proxy_url
            if cluster.exec_config is not None:
                info["config"] = cluster.exec_config
            spec["cluster"] = info
        request = {"apiVersion": self._settings.api_version, "kind": "ExecCredential"}
        return json.dumps({**request, "spec": spec})

    async def _run(self) -> Credentials:
        settings = self._settings
        env = {**self._environ, **dict(settings.env), "KUBERNETES_EXEC_INFO": self._exec_info()}
        try:
            process = await asyncio.create_subprocess_exec(
                settings.command,
                *settings.args,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError as exc:
            hint = f": {' '.join(settings.install_hint.split())}" if settings.install_hint else ""
            raise InvalidKubeconfig(f"{self._owner} not found{hint}") from exc
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()
            raise InvalidKubeconfig(f"{self._owner} cannot be run: {reason}") from exc
        try:
            out, err = await asyncio.wait_for(process.communicate(), self._timeout)
        except TimeoutError as exc:
            raise InvalidKubeconfig(
                f"{self._owner} did not answer within {self._timeout:g} s"
            ) from exc
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if process.returncode != 0:
            said = " ".join(err.decode(errors="replace").split())[-300:]
            raise InvalidKubeconfig(
                f"{self._owner} exited with status {process.returncode}"
                + (f": {said}" if said else "")
            )
        self._credentials, self._expires = self._parse(out)
        return self._credentials

    def _parse(self, out: bytes) -> tuple[Credentials, float | None]:
        # The output holds the credential: no message below quotes any of it.
        try:
            answer = json.loads(out)
        except ValueError as exc:
            raise InvalidKubeconfig(f"{self._owner} did not print an ExecCredential") from exc
        if not isinstance(answer, dict) or answer.get("kind") != "ExecCredential":
            raise InvalidKubeconfig(f"{self._owner} did not print an ExecCredential")
        if answer.get("apiVersion") != self._settings.api_version:
            raise InvalidKubeconfig(
                f"{self._owner} answered with apiVersion {str(answer.get('apiVersion'))[:80]!r}, "
                f"not the {self._settings.api_version} it was asked for"
            )
        status = answer.get("status")
        if not isinstance(status, dict):
            raise InvalidKubeconfig(f"{self._owner} printed an ExecCredential without a status")
        token = status.get("token") if isinstance(status.get("token"), str) else None
        cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
        cert = cert if isinstance(cert, str) and cert else None
        key = key if isinstance(key, str) and key else None
        if (cert is None) != (key is None):
            raise InvalidKubeconfig(
                f"{self._owner} returned only one of clientCertificateData and clientKeyData"
            )
        if not token and cert is None:
            raise InvalidKubeconfig(
                f"{self._owner} returned neither a token nor a client certificate and key"
            )
        certificate = self._fallback.certificate
        if cert is not None and key is not None:
            certificate = (cert.encode(), key.encode())
        authorization = f"Bearer {token}" if token else self._fallback.authorization
        return Credentials(authorization, certificate), self._expiry(status)

    def _expiry(self, status: Mapping[str, Any]) -> float | None:
        stamp = status.get("expirationTimestamp")
        if stamp is None:
            return None
        try:
            when = dt.datetime.fromisoformat(str(stamp))
        except ValueError as exc:
            raise InvalidKubeconfig(
                f"{self._owner} returned an expirationTimestamp that is not RFC 3339"
            ) from exc
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return when.timestamp()


def source_for(
    connection: Connection,
    *,
    environ: Mapping[str, str],
    clock: Callable[[], float] = time.monotonic,
) -> CredentialSource:
    """The source for the connection's user. As client-go: a ``tokenFile`` wins over a
    ``token`` (and is re-read); an exec plugin's token wins over both, its certificate over
    the kubeconfig's."""
    user = connection.user
    owner = f"user {user.name!r}" if user.name else "the anonymous user"
    fixed = _fixed_parts(user)
    if user.exec is not None:
        if user.token_file is not None:
            fixed = Credentials(_read_token(user.token_file, owner), fixed.certificate)
        return ExecPlugin(
            user.exec, owner=owner, cluster=connection.cluster, environ=environ, fallback=fixed
        )
    if user.token_file is not None:
        return TokenFile(user.token_file, owner=owner, certificate=fixed.certificate, clock=clock)
    return Fixed(fixed)
