"""Fixtures for the emulator's own tests: an emulator per test (pytest-aiohttp), a
kubernetes_asyncio client on an explicit Configuration, a TLS admission webhook server
whose behaviour is chosen by URL path, and kubectl against a threaded emulator."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import ssl
import subprocess
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web
from kubernetes_asyncio.client import ApiClient, Configuration

from devcluster.kubeapi import KubeAPI, write_kubeconfig

JSON = dict[str, Any]
SERVICE_HOST = "hooks.webhooks.svc"
APP_GROUP, APP_VERSION, APPS = "argoproj.io", "v1alpha1", "applications"
IU_GROUP = "argocd-image-updater.argoproj.io"


def application(name: str, *, labels: dict[str, str] | None = None, **spec: Any) -> JSON:
    return {
        "apiVersion": f"{APP_GROUP}/{APP_VERSION}",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd", "labels": labels or {}},
        "spec": {"project": "default", **spec},
    }


# ---- kubernetes_asyncio against an in-loop emulator ----


@pytest.fixture
def api() -> KubeAPI:
    return KubeAPI(bookmark_interval=0.2)


@pytest.fixture
async def base_url(api: KubeAPI, aiohttp_server: Any) -> str:
    server = await aiohttp_server(api.app())
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def client(base_url: str) -> AsyncIterator[ApiClient]:
    async with ApiClient(Configuration(host=base_url)) as c:
        yield c


# ---- a TLS admission webhook whose answer depends on the path ----


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def server_ssl(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost", SERVICE_HOST).configure_cert(ctx)
    return ctx


@pytest.fixture(scope="session")
def ca_bundle(ca: trustme.CA) -> str:
    return base64.b64encode(ca.cert_pem.bytes()).decode()


@dataclass
class Call:
    path: str
    query: dict[str, str]
    request: JSON


@dataclass
class Hooks:
    """Paths: /allow, /deny, /deny-empty, /warn, /mutate/<annotation>, /slow, /error."""

    calls: list[Call] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [c.path for c in self.calls]

    async def handle(self, request: web.Request) -> web.Response:
        review = await request.json()
        req = review["request"]
        self.calls.append(Call(request.path, dict(request.query), req))
        response: JSON = {"uid": req["uid"], "allowed": True}
        path = request.path
        if path == "/deny":
            response = {
                "uid": req["uid"],
                "allowed": False,
                "status": {"code": 403, "message": "image-list is not valid"},
            }
        elif path == "/deny-empty":
            response = {"uid": req["uid"], "allowed": False}
        elif path == "/warn":
            response["warnings"] = ["first warning", 'a "quoted" warning']
        elif path.startswith("/mutate/"):
            key = path.removeprefix("/mutate/")
            if (req["object"]["metadata"].get("annotations")) is None:
                ops = [{"op": "add", "path": "/metadata/annotations", "value": {key: "set"}}]
            else:
                ops = [{"op": "add", "path": f"/metadata/annotations/{key}", "value": "set"}]
            response["patchType"] = "JSONPatch"
            response["patch"] = base64.b64encode(json.dumps(ops).encode()).decode()
        elif path == "/slow":
            await asyncio.sleep(3)
        elif path == "/error":
            return web.Response(status=500, text="boom")
        return web.json_response({**review, "response": response})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        return app


@pytest.fixture
async def hooks(aiohttp_server: Any, server_ssl: ssl.SSLContext) -> tuple[Hooks, int]:
    h = Hooks()
    server = await aiohttp_server(h.app(), ssl=server_ssl)
    return h, int(server.port)


def webhook(name: str, target: str | tuple[str, str, str], ca_bundle: str, **extra: Any) -> JSON:
    """One webhook entry; target is a URL or (namespace, service, path)."""
    client_config: JSON = {"caBundle": ca_bundle}
    if isinstance(target, str):
        client_config["url"] = target
    else:
        ns, svc, path = target
        client_config["service"] = {"namespace": ns, "name": svc, "path": path, "port": 443}
    return {
        "name": name,
        "clientConfig": client_config,
        "rules": [
            {
                "apiGroups": [APP_GROUP],
                "apiVersions": ["*"],
                "resources": [APPS],
                "operations": ["CREATE", "UPDATE"],
            }
        ],
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "timeoutSeconds": 1,
        **extra,
    }


def configuration(kind: str, name: str, *hooks: JSON) -> JSON:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": f"{kind}WebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": list(hooks),
    }


# ---- serving an aiohttp app from a thread (for kubectl, which blocks) ----


@dataclass
class Threaded:
    port: int
    stop: Callable[[], None]


def serve_in_thread(app: web.Application, ssl_context: ssl.SSLContext | None) -> Threaded:
    ready, box = threading.Event(), dict[str, Any]()

    async def main() -> None:
        runner = web.AppRunner(app, shutdown_timeout=2)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context).start()
        stopped = asyncio.Event()
        box.update(port=runner.addresses[0][1], loop=asyncio.get_running_loop(), stopped=stopped)
        ready.set()
        await stopped.wait()
        await runner.cleanup()

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    assert ready.wait(10)

    def stop() -> None:
        box["loop"].call_soon_threadsafe(box["stopped"].set)
        thread.join(10)

    return Threaded(int(box["port"]), stop)


@dataclass
class Kubectl:
    env: dict[str, str]
    workdir: Path

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["kubectl", *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )


def make_kubectl(workdir: Path, url: str) -> Kubectl:
    config = write_kubeconfig(workdir / "kubeconfig", url)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "KUBECONFIG": str(config),
        "KUBECACHEDIR": str(workdir / "kcache"),
    }
    return Kubectl(env, workdir)


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("kubectl")
