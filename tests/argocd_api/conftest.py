"""Fixtures: a Kubernetes API emulator seeded with Applications and an AppProject, the Argo CD
API emulator in front of it (plain http, or TLS from a trustme CA), and clients for both."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web
from prometheus_client import CollectorRegistry

from devcluster.argocdapi import ArgoCDAPI
from devcluster.kubeapi import KubeAPI
from imageupdater.argocd import ArgoCDClient
from reconciler.metrics import ReconcilerMetrics

JSON = dict[str, Any]
TOKEN = "argocd-test-token-5f1e9c"
GROUP, VERSION = "argoproj.io", "v1alpha1"
ServerFactory = Callable[..., Any]


def application(name: str, namespace: str, *, labels: dict[str, str] | None = None) -> JSON:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Application",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {
            "project": "default",
            "source": {
                "repoURL": "https://git.example/app.git",
                "path": "chart",
                "helm": {"parameters": [{"name": "image.tag", "value": "1.0.0"}]},
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
        },
    }


SEED = (
    application("web", "argocd", labels={"team": "a"}),
    application("api", "argocd", labels={"team": "b"}),
    application("jobs", "team-a", labels={"team": "a"}),
    application("batch", "team-b", labels={"team": "b"}),
)


@pytest.fixture
def kube() -> KubeAPI:
    api = KubeAPI()
    for app in SEED:
        api.store.put(app)
    api.store.put(
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "AppProject",
            "metadata": {"name": "default", "namespace": "argocd"},
            "spec": {"syncWindows": [{"kind": "allow", "schedule": "* * * * *"}]},
        }
    )
    return api


@pytest.fixture
async def kube_url(kube: KubeAPI, aiohttp_server: ServerFactory) -> str:
    server = await aiohttp_server(kube.app())
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
def argocd(kube_url: str) -> ArgoCDAPI:
    return ArgoCDAPI(kube_url, tokens={TOKEN})


@pytest.fixture
async def argocd_addr(argocd: ArgoCDAPI, aiohttp_server: ServerFactory) -> str:
    """host:port of the emulator over plain http."""
    server = await aiohttp_server(argocd.app())
    return f"127.0.0.1:{server.port}"


@pytest.fixture
async def client(argocd_addr: str) -> AsyncIterator[ArgoCDClient]:
    async with ArgoCDClient(argocd_addr, token=TOKEN, plaintext=True, timeout=10) as c:
        yield c


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("argocd-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="session")
def server_ssl(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
async def tls_addr(
    argocd: ArgoCDAPI, aiohttp_server: ServerFactory, server_ssl: ssl.SSLContext
) -> str:
    """host:port of the emulator over TLS with a certificate from the test CA."""
    server = await aiohttp_server(argocd.app(), ssl=server_ssl)
    return f"127.0.0.1:{server.port}"


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> ReconcilerMetrics:
    return ReconcilerMetrics(registry)


async def stub_server(aiohttp_server: ServerFactory, handler: Callable[[web.Request], Any]) -> str:
    """host:port of a one-handler aiohttp app: for answers no real server gives on demand."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = await aiohttp_server(app)
    return f"127.0.0.1:{server.port}"
