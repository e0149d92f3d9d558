"""Launching Debian's ``docker-registry`` (distribution 2.8.2) on 127.0.0.1 for tests and the demo.

One instance = one temporary config, one storage directory and one process, in one of four
flavours: anonymous, htpasswd (bcrypt entries), token (with a ``TokenServer`` in a
background thread whose signer certificate is the registry's ``rootcertbundle``) and TLS
(a serving certificate from a throw-away CA). The packaged ``/etc/docker/registry``
config listens on every interface, so it is never used.
"""

from __future__ import annotations

__all__ = ["LaunchFailed", "LocalRegistry", "NotifyingRegistry"]

import contextlib
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import IO, Literal

import bcrypt
import yaml

from devcluster.tls import TinyCA
from devcluster.tokenserver import TokenServer
from imageupdater.errors import RegistryError

AuthMode = Literal["none", "htpasswd", "token"]
_NO_USERS: Mapping[str, str] = MappingProxyType({})
_START_TIMEOUT = 10.0
_PORT_ATTEMPTS = 3
BINARY = "docker-registry"
TOKEN_ISSUER = "devcluster-issuer"
TOKEN_SERVICE = "devcluster-registry"
HTPASSWD_REALM = "devcluster-realm"


class LaunchFailed(RegistryError):
    """The registry process could not be started (binary missing, bad config, no port)."""


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1 (the caller retries on a lost race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def htpasswd_lines(users: Mapping[str, str]) -> str:
    """bcrypt entries (2.8.2 rejects any other hash); rounds=4 keeps tests fast."""
    return "".join(
        f"{user}:{bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4)).decode()}\n"
        for user, pw in users.items()
    )


class LocalRegistry:
    """A ``docker-registry`` process on 127.0.0.1; a context manager around start()/stop()."""

    def __init__(
        self,
        workdir: Path,
        *,
        auth: AuthMode = "none",
        users: Mapping[str, str] = _NO_USERS,
        tls: bool = False,
        token_ttl: int = 300,
    ) -> None:
        if auth not in ("none", "htpasswd", "token"):
            raise ValueError(f"auth={auth!r} is not valid; expected 'none', 'htpasswd' or 'token'")
        if auth == "htpasswd" and not users:
            raise ValueError("auth='htpasswd' needs users={'name': 'password'}")
        if any(":" in u for u in users):
            raise ValueError("a user name must not contain ':' (Basic auth splits on it)")
        self.workdir = workdir
        self.auth: AuthMode = auth
        self._users = dict(users)
        self.tls = tls
        self.token_ttl = token_ttl
        self.host = ""
        self.url = ""
        self.ca_file: Path | None = None
        self.token_realm: str | None = None
        self.token_server: TokenServer | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __repr__(self) -> str:
        return f"LocalRegistry(url={self.url!r}, auth={self.auth!r}, tls={self.tls})"

    @property
    def users(self) -> Mapping[str, str]:
        return MappingProxyType(self._users)

    @property
    def log_file(self) -> Path:
        return self.workdir / "registry.log"

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client context trusting ``ca_file`` (None for plain http)."""
        if self.ca_file is None:
            return None
        return ssl.create_default_context(cafile=str(self.ca_file))

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._proc is not None:
            return
        binary = shutil.which(BINARY)
        if binary is None:
            raise LaunchFailed(
                f"{BINARY} is not installed; run ./dev test (it installs Debian's docker-registry)"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            config, http = self._prepare()
            for _ in range(_PORT_ATTEMPTS):
                port = free_port()
                if self._launch(binary, config, http, port):
                    return
            raise LaunchFailed(
                f"{BINARY} did not come up after {_PORT_ATTEMPTS} ports; see {self.log_file}"
            )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.token_server is not None:
            self.token_server.stop()
            self.token_server = None

    def __enter__(self) -> LocalRegistry:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------------------------
    def _prepare(self) -> tuple[dict[str, object], dict[str, object]]:
        """Write auth and TLS material; the config and its ``http`` section (no address yet)."""
        http: dict[str, object] = {"secret": "devcluster-not-a-secret"}
        config: dict[str, object] = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.workdir / "data")},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": http,
        }
        if self.auth == "htpasswd":
            path = self.workdir / "htpasswd"
            path.write_text(htpasswd_lines(self._users))
            config["auth"] = {"htpasswd": {"realm": HTPASSWD_REALM, "path": str(path)}}
        elif self.auth == "token":
            self.token_server = TokenServer(
                issuer=TOKEN_ISSUER, service=TOKEN_SERVICE, users=self._users, ttl=self.token_ttl
            )
            # The registry reads its rootcertbundle once, at start: write it first.
            bundle = self.token_server.write_root_cert(self.workdir / "token-signer.pem")
            self.token_realm = self.token_server.start()
            config["auth"] = {
                "token": {
                    "realm": self.token_realm,
                    "service": TOKEN_SERVICE,
                    "issuer": TOKEN_ISSUER,
                    "rootcertbundle": str(bundle),
                }
            }
        if self.tls:
            ca = TinyCA()
            # ca.crt inside its own directory doubles as a skopeo/containers --cert-dir.
            self.ca_file = ca.write_ca(self.workdir / "certs.d" / "ca.crt")
            cert, key = self.workdir / "server.crt", self.workdir / "server.key"
            ca.issue("127.0.0.1", "localhost").write(cert, key)
            http["tls"] = {"certificate": str(cert), "key": str(key)}
        return config, http

    def _launch(
        self, binary: str, config: dict[str, object], http: dict[str, object], port: int
    ) -> bool:
        """Start on ``port``; False when the process died (most likely a lost port race)."""
        http = {**http, "addr": f"127.0.0.1:{port}"}
        config_path = self.workdir / "config.yml"
        config_path.write_text(yaml.safe_dump({**config, "http": http}, sort_keys=False))
        self.host = f"127.0.0.1:{port}"
        self.url = f"{'https' if self.tls else 'http'}://{self.host}"
        if self._log is not None:
            self._log.close()
        self._log = self.log_file.open("ab")
        self._proc = subprocess.Popen(
            [binary, "serve", str(config_path)], stdout=self._log, stderr=subprocess.STDOUT
        )
        if self._wait_ready():
            return True
        self._proc.wait()
        self._proc = None
        return False

    def _wait_ready(self) -> bool:
        proc = self._proc
        assert proc is not None
        context = self.ssl_context()
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(  # noqa: S310 - our own http(s) URL
                    self.url + "/v2/", timeout=1, context=context
                ) as resp:
                    if resp.status == 200:
                        return True
            except urllib.error.HTTPError as exc:
                # An auth-protected registry that challenges us is up.
                if exc.code == 401:
                    exc.close()
                    return True
                exc.close()
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.02)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        raise LaunchFailed(
            f"{BINARY} did not answer /v2/ within {_START_TIMEOUT} s; see {self.log_file}"
        )


class NotifyingRegistry(LocalRegistry):
    """A ``docker-registry`` that notifies ``endpoint`` of every push, as
    ``docs/push-webhooks.md`` configures one: the secret in the ``Authorization`` header,
    blob events left out, ``backoff`` between retries of a failed delivery."""

    def __init__(self, workdir: Path, endpoint: str, *, secret: str, backoff: str = "1s") -> None:
        super().__init__(workdir)
        self.endpoint = endpoint
        self._secret = secret
        self._backoff = backoff

    def _prepare(self) -> tuple[dict[str, object], dict[str, object]]:
        config, http = super()._prepare()
        config["notifications"] = {
            "endpoints": [
                {
                    "name": "image-updater",
                    "url": self.endpoint,
                    "headers": {"Authorization": [self._secret]},
                    "timeout": "2s",
                    "threshold": 5,
                    "backoff": self._backoff,
                    "ignoredmediatypes": ["application/octet-stream"],
                }
            ]
        }
        return config, http
