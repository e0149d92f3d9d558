"""Fixtures for the Kubernetes adapter's own tests: the API emulator with every request's
headers recorded, served over plain HTTP or TLS (trustme certificates, optionally requiring
a client certificate), kubeconfig files written from a few dicts, and a clock to move."""

from __future__ import annotations

import base64
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml
from aiohttp import web

from devcluster.kubeapi import KubeAPI

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    """What reached the server: each request's headers and query, in order."""

    requests: list[web.Request] = field(default_factory=list)
    headers: list[dict[str, list[str]]] = field(default_factory=list)
    queries: list[dict[str, str]] = field(default_factory=list)

    def authorizations(self) -> list[str | None]:
        return [(h.get("authorization") or [None])[0] for h in self.headers]


def recorded(app: web.Application, seen: Seen) -> web.Application:
    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        headers: dict[str, list[str]] = {}
        for key, value in request.headers.items():
            headers.setdefault(key.lower(), []).append(value)
        seen.headers.append(headers)
        seen.queries.append(dict(request.query))
        return await handler(request)

    app.middlewares.append(record)
    return app


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def server_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("127.0.0.1", "localhost")


def server_tls(cert: trustme.LeafCert, *, client_ca: trustme.CA | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    if client_ca is not None:
        client_ca.configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def ca_data(ca: trustme.CA) -> str:
    return b64(ca.cert_pem.bytes())


@pytest.fixture
async def serve(aiohttp_server: Any) -> Callable[..., Awaitable[str]]:
    """``await serve(app, ssl=None)``: the base URL of ``app`` served on 127.0.0.1."""

    async def go(app: web.Application, tls: ssl.SSLContext | None = None) -> str:
        server = await aiohttp_server(app, ssl=tls)
        return str(server.make_url("")).rstrip("/")

    return go


@pytest.fixture
async def emulator(serve: Callable[..., Awaitable[str]], seen: Seen) -> tuple[KubeAPI, str]:
    """The emulator over plain HTTP, recording into ``seen``: (api, url)."""
    api = KubeAPI()
    return api, await serve(recorded(api.app(), seen))


def kubeconfig(
    path: Path,
    *,
    clusters: dict[str, dict[str, Any]] | None = None,
    users: dict[str, dict[str, Any]] | None = None,
    contexts: dict[str, dict[str, Any]] | None = None,
    current: str | None = None,
    **top: Any,
) -> Path:
    """Write a kubeconfig from name → fields maps; returns ``path``."""
    document: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", **top}
    if clusters is not None:
        document["clusters"] = [{"name": n, "cluster": c} for n, c in clusters.items()]
    if users is not None:
        document["users"] = [{"name": n, "user": u} for n, u in users.items()]
    if contexts is not None:
        document["contexts"] = [{"name": n, "context": c} for n, c in contexts.items()]
    if current is not None:
        document["current-context"] = current
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def one_context(
    path: Path, server: str, *, cluster: dict[str, Any] | None = None, user: dict[str, Any] | None
) -> Path:
    """A kubeconfig with one cluster "c", one user "u" (None: no user) and context "ctx"."""
    context: dict[str, Any] = {"cluster": "c"}
    if user is not None:
        context["user"] = "u"
    return kubeconfig(
        path,
        clusters={"c": {"server": server, **(cluster or {})}},
        users={"u": user} if user is not None else {},
        contexts={"ctx": context},
        current="ctx",
    )


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
