"""Small HTTP stand-ins for the reachability and credential-destination tests.

distribution 2.8.2 cannot announce a token realm on an arbitrary host nor redirect blob
downloads, so these speak just enough of the registry API to show where requests and
their ``Authorization`` headers go. Every stand-in records what it received.
"""

from __future__ import annotations

import hashlib
import json
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import aiohttp
from aiohttp import web

from devcluster.tls import TinyCA

USER, PASSWORD = "tenant-user", "tenant-pass"
BASIC = aiohttp.encode_basic_auth(USER, PASSWORD)
GOOD_TOKEN, ANONYMOUS_TOKEN = "good-token", "anonymous-token"

CONFIG = json.dumps(
    {"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z"}
).encode()
CONFIG_DIGEST = "sha256:" + hashlib.sha256(CONFIG).hexdigest()
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "digest": CONFIG_DIGEST,
            "size": len(CONFIG),
        },
        "layers": [],
    }
).encode()
MANIFEST_DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()


@dataclass(frozen=True, slots=True)
class Seen:
    path: str
    authorization: str | None


@dataclass
class Recorder:
    """Notes every request; subclasses answer them."""

    seen: list[Seen] = field(default_factory=list)

    def note(self, request: web.Request) -> None:
        self.seen.append(Seen(request.path, request.headers.get("Authorization")))

    @property
    def authorizations(self) -> list[str | None]:
        return [s.authorization for s in self.seen]


@dataclass
class TokenService(Recorder):
    """A token server: a good token for the right Basic credentials, else an anonymous one."""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/token", self.token)
        return app

    async def token(self, request: web.Request) -> web.Response:
        self.note(request)
        value = GOOD_TOKEN if request.headers.get("Authorization") == BASIC else ANONYMOUS_TOKEN
        return web.json_response({"token": value, "expires_in": 300})


@dataclass
class BlobStore(Recorder):
    """Object storage that registries redirect blob downloads to."""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/blobs/{digest}", self.blob)
        return app

    async def blob(self, request: web.Request) -> web.Response:
        self.note(request)
        return web.Response(body=CONFIG, content_type="application/octet-stream")


@dataclass
class StubRegistry(Recorder):
    """One repository ``app`` with tag ``1.0`` (a linux/amd64 image).

    ``auth``: ``none``, ``basic`` (``USER``/``PASSWORD``) or ``bearer`` (tokens from
    ``realm``, default its own ``/token``; only ``GOOD_TOKEN`` unless ``anonymous_ok``).
    ``blob_location``: where config blob downloads are redirected (a base URL).
    """

    auth: Literal["none", "basic", "bearer"] = "none"
    realm: str | None = None
    anonymous_ok: bool = False
    blob_location: str | None = None
    redirect_status: int = 307
    ping_status: int | None = None  # answer /v2/ with this instead (a non-registry)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/token", TokenService(self.seen).token)
        app.router.add_get("/v2/", self.ping)
        app.router.add_get("/v2/{repo:.+}/tags/list", self.tags)
        app.router.add_route("*", "/v2/{repo:.+}/manifests/{ref}", self.manifest)
        app.router.add_get("/v2/{repo:.+}/blobs/{digest}", self.blob)
        app.router.add_get("/storage/{digest}", self.stored_blob)
        return app

    def _refusal(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization")
        if self.auth == "none":
            return None
        if self.auth == "basic":
            if header == BASIC:
                return None
            challenge = 'Basic realm="stub"'
        else:
            accepted = {f"Bearer {GOOD_TOKEN}"} | (
                {f"Bearer {ANONYMOUS_TOKEN}"} if self.anonymous_ok else set()
            )
            if header in accepted:
                return None
            realm = self.realm or f"{request.scheme}://{request.host}/token"
            challenge = f'Bearer realm="{realm}",service="stub"'
        return web.json_response(
            {"errors": [{"code": "UNAUTHORIZED"}]},
            status=401,
            headers={"WWW-Authenticate": challenge},
        )

    async def ping(self, request: web.Request) -> web.Response:
        self.note(request)
        if self.ping_status is not None:
            return web.Response(status=self.ping_status, text="not a registry")
        return self._refusal(request) or web.json_response({})

    async def tags(self, request: web.Request) -> web.Response:
        self.note(request)
        return self._refusal(request) or web.json_response({"name": "app", "tags": ["1.0"]})

    async def manifest(self, request: web.Request) -> web.Response:
        self.note(request)
        refused = self._refusal(request)
        if refused is not None:
            return refused
        return web.Response(
            body=MANIFEST,
            headers={
                "Content-Type": "application/vnd.docker.distribution.manifest.v2+json",
                "Docker-Content-Digest": MANIFEST_DIGEST,
            },
        )

    async def blob(self, request: web.Request) -> web.Response:
        self.note(request)
        refused = self._refusal(request)
        if refused is not None:
            return refused
        digest = request.match_info["digest"]
        if self.blob_location is not None:
            location = f"{self.blob_location}/{digest}"
            return web.Response(status=self.redirect_status, headers={"Location": location})
        return web.Response(body=CONFIG, content_type="application/octet-stream")

    async def stored_blob(self, request: web.Request) -> web.Response:
        """A same-host redirect target, behind the same authentication."""
        self.note(request)
        return self._refusal(request) or web.Response(body=CONFIG)


@dataclass(frozen=True, slots=True)
class Tls:
    """A serving context for 127.0.0.1 and a ``tls_cert_dir`` in which clients trust it."""

    server: ssl.SSLContext
    cert_dir: Path


def make_tls(workdir: Path) -> Tls:
    ca = TinyCA()
    cert, key = workdir / "server.crt", workdir / "server.key"
    ca.issue("127.0.0.1", "localhost").write(cert, key)
    cert_dir = workdir / "tls-certs"
    # The client looks up <tls_cert_dir>/<API host> for an endpoint's CA (Argo CD's layout).
    ca.write_ca(cert_dir / "127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return Tls(context, cert_dir)
