"""The Bearer token server for token-auth registries, and a runner for aiohttp apps in a thread.

``TokenServer`` speaks the Docker registry token protocol (distribution's ``auth.token``):
``GET /token?service=..&scope=repository:<name>:<actions>`` (and the OAuth2 password grant
on ``POST /token``) answers an ES256 JWT whose ``x5c`` header carries a self-signed P-256
certificate; the registry trusts it through ``rootcertbundle``. Known users (HTTP Basic) get
every action they ask for, anonymous callers get ``pull`` only, bad credentials get 401.
Every token request is counted, in total and per scope, so tests can assert how often a
client comes back for a token.

``BackgroundServer`` runs any aiohttp app on its own event loop in a daemon thread, so that
synchronous fixtures and the demo can start it; the same apps embed in a running loop
through ``serve()``/``close()`` or pytest-aiohttp's ``aiohttp_server``.
"""

from __future__ import annotations

__all__ = ["BackgroundServer", "TokenServer", "parse_scope"]

import asyncio
import base64
import binascii
import collections
import json
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from devcluster.tls import self_signed_signer

_NO_USERS: Mapping[str, str] = MappingProxyType({})
_ANONYMOUS_ACTIONS = frozenset({"pull"})


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def parse_scope(scope: str) -> tuple[str, str, tuple[str, ...]]:
    """``repository:team/app:pull,push`` -> ("repository", "team/app", ("pull", "push"))."""
    kind, sep, rest = scope.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not (sep and sep2 and kind and name):
        raise ValueError(
            f"token scope {scope!r} is malformed; expected 'type:name:action[,action]',"
            " e.g. 'repository:team/app:pull'"
        )
    return kind, name, tuple(a for a in actions.split(",") if a)


def decode_basic(header: str) -> tuple[str, str] | None:
    """The (user, password) of a Basic ``Authorization`` value, or None when it is not one."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


class TokenServer:
    """Issues registry tokens; see the module docstring for the rules."""

    def __init__(
        self,
        *,
        issuer: str = "devcluster-issuer",
        service: str = "devcluster-registry",
        users: Mapping[str, str] = _NO_USERS,
        ttl: int = 300,
    ) -> None:
        self.issuer = issuer
        self.service = service
        self.ttl = ttl
        self._users = dict(users)
        self._key, self._cert = self_signed_signer(f"{issuer} token signer")
        self._lock = threading.Lock()
        self._requests = 0
        self._by_scope: collections.Counter[str] = collections.Counter()
        self._rejected = 0
        self._runner: BackgroundServer | None = None
        self.url: str | None = None

    # -- counters (read from any thread) -------------------------------------------------
    @property
    def requests(self) -> int:
        """Token requests answered with a token."""
        with self._lock:
            return self._requests

    @property
    def rejected(self) -> int:
        """Token requests refused with 401."""
        with self._lock:
            return self._rejected

    def requests_for(self, scope: str) -> int:
        with self._lock:
            return self._by_scope[scope]

    def reset_counts(self) -> None:
        with self._lock:
            self._requests = self._rejected = 0
            self._by_scope.clear()

    # -- keys ------------------------------------------------------------------------------
    @property
    def cert_pem(self) -> bytes:
        return self._cert.public_bytes(serialization.Encoding.PEM)

    def write_root_cert(self, path: Path) -> Path:
        """Write the signer's certificate where the registry's ``rootcertbundle`` points."""
        path.write_bytes(self.cert_pem)
        return path

    def issue(self, subject: str, access: list[dict[str, object]]) -> str:
        """A signed JWT for ``subject`` granting ``access`` (registry claim format)."""
        now = int(time.time())
        header = {
            "typ": "JWT",
            "alg": "ES256",
            # x5c is standard base64 (RFC 7515 §4.1.6), unlike the rest of a JWT.
            "x5c": [base64.b64encode(self._cert.public_bytes(serialization.Encoding.DER)).decode()],
        }
        claims = {
            "iss": self.issuer,
            "aud": self.service,
            "sub": subject,
            "iat": now,
            "nbf": now - 5,
            "exp": now + self.ttl,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        der = self._key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    # -- HTTP ------------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/token", self._handle)
        app.router.add_post("/token", self._handle)
        return app

    def _reject(self, message: str) -> web.Response:
        with self._lock:
            self._rejected += 1
        return web.json_response(
            {"errors": [{"code": "UNAUTHORIZED", "message": message}]},
            status=401,
            headers={"WWW-Authenticate": 'Basic realm="devcluster-token"'},
        )

    async def _handle(self, request: web.Request) -> web.Response:
        scopes = list(request.query.getall("scope", []))
        subject = ""
        if request.method == "POST":
            form = await request.post()
            scopes += str(form.get("scope", "")).split()
            if form.get("grant_type") == "password":
                user, password = str(form.get("username", "")), str(form.get("password", ""))
                if self._users.get(user) != password:
                    return self._reject("invalid username or password")
                subject = user
        header = request.headers.get("Authorization")
        if header is not None and not subject:
            creds = decode_basic(header)
            if creds is None or self._users.get(creds[0]) != creds[1]:
                return self._reject("invalid username or password")
            subject = creds[0]
        access: list[dict[str, object]] = []
        for raw in (s for scope in scopes for s in scope.split()):
            try:
                kind, name, actions = parse_scope(raw)
            except ValueError as exc:
                return web.json_response(
                    {"errors": [{"code": "INVALID_SCOPE", "message": str(exc)}]}, status=400
                )
            granted = actions if subject else tuple(a for a in actions if a in _ANONYMOUS_ACTIONS)
            access.append({"type": kind, "name": name, "actions": list(granted)})
        token = self.issue(subject, access)
        with self._lock:
            self._requests += 1
            for raw in scopes:
                self._by_scope[raw] += 1
        return web.json_response(
            {
                "token": token,
                "access_token": token,
                "expires_in": self.ttl,
                "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
        )

    # -- running -----------------------------------------------------------------------------
    def start(self) -> str:
        """Serve on 127.0.0.1 in a background thread; returns the realm URL (``.../token``)."""
        if self._runner is None:
            self._runner = BackgroundServer(self.make_app)
            self.url = self._runner.start() + "/token"
        assert self.url is not None
        return self.url

    def stop(self) -> None:
        if self._runner is not None:
            self._runner.stop()
            self._runner = None

    def __repr__(self) -> str:
        return f"TokenServer(url={self.url!r}, users={sorted(self._users)!r})"


class BackgroundServer:
    """One aiohttp app on 127.0.0.1, served by its own event loop in a daemon thread."""

    def __init__(
        self,
        app_factory: Callable[[], web.Application],
        *,
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        start_timeout: float = 10.0,
    ) -> None:
        self._factory = app_factory
        self._port = port
        self._ssl = ssl_context
        self._timeout = start_timeout
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.url = ""

    def start(self) -> str:
        """Start serving and return the base URL (``http://127.0.0.1:<port>``)."""
        if self._thread is not None:
            return self.url
        self._thread = threading.Thread(target=self._run, name="devcluster-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(self._timeout):
            raise TimeoutError(f"background server did not start within {self._timeout} s")
        if self._error is not None:
            raise RuntimeError(f"background server failed to start: {self._error}") from self._error
        return self.url

    def stop(self) -> None:
        if self._thread is None:
            return
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        self._thread.join(timeout=15)
        self._thread = None

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # surfaced to start(); the thread must not die silently
            self._error = exc
        finally:
            self._ready.set()
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        # A short shutdown_timeout: slow or endless test handlers must not hold stop() for 60 s.
        runner = web.AppRunner(self._factory(), access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", self._port, ssl_context=self._ssl)
            await site.start()
            host, port = runner.addresses[0][:2]
            scheme = "https" if self._ssl is not None else "http"
            self.url = f"{scheme}://{host}:{port}"
            self._ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()
