"""Registry fixtures shared by every test folder: real ``docker-registry`` processes, a seeder
pushing synthetic images into them, fresh repository names, and the fault-injecting registry.

Processes start once per session (about 30 ms each) and only when a test asks for them;
tests isolate themselves by using ``unique_repo`` rather than a fresh registry. Other
fixtures belong in the subfolders' own conftest files.
"""

from __future__ import annotations

import itertools
import re
import shutil
import ssl
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from devcluster.faultregistry import FaultRegistry
from devcluster.kubeapi import KubeAPI, write_kubeconfig
from devcluster.registry import BINARY, AuthMode, LaunchFailed, LocalRegistry
from devcluster.seeder import ImageSeeder
from imageupdater import kube

AUTH_USER, AUTH_PASSWORD = "testuser", "testpass"
TOKEN_USER, TOKEN_PASSWORD = "tokuser", "tokpass"

_repo_counter = itertools.count(1)


def _launch(
    workdir: Path,
    *,
    auth: AuthMode = "none",
    users: Mapping[str, str] | None = None,
    tls: bool = False,
) -> Iterator[LocalRegistry]:
    if shutil.which(BINARY) is None:
        pytest.fail(f"{BINARY} is not installed: run ./dev test, which installs it", pytrace=False)
    registry = LocalRegistry(workdir, auth=auth, users=users or {}, tls=tls)
    try:
        registry.start()
    except LaunchFailed as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield registry
    finally:
        registry.stop()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """An anonymous registry on http://127.0.0.1:<port>."""
    yield from _launch(tmp_path_factory.mktemp("registry"))


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """An htpasswd registry for ``testuser``/``testpass``."""
    yield from _launch(
        tmp_path_factory.mktemp("auth-registry"),
        auth="htpasswd",
        users={AUTH_USER: AUTH_PASSWORD},
    )


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """A token-auth registry; ``.token_server`` knows ``tokuser``/``tokpass`` and counts tokens."""
    yield from _launch(
        tmp_path_factory.mktemp("token-registry"),
        auth="token",
        users={TOKEN_USER: TOKEN_PASSWORD},
    )


@pytest.fixture(scope="session")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """An anonymous registry on https; ``.ca_file`` is the CA (its folder is a --cert-dir)."""
    yield from _launch(tmp_path_factory.mktemp("tls-registry"), tls=True)


@pytest.fixture
def tls_client_context(tls_registry: LocalRegistry) -> ssl.SSLContext:
    """A client SSL context that trusts ``tls_registry``."""
    context = tls_registry.ssl_context()
    assert context is not None
    return context


@pytest.fixture
async def seeder(registry: LocalRegistry) -> AsyncIterator[ImageSeeder]:
    """An ImageSeeder on ``registry`` with its own aiohttp session."""
    async with aiohttp.ClientSession() as session:
        yield ImageSeeder(registry.url, session)


@pytest.fixture
def unique_repo(request: pytest.FixtureRequest) -> str:
    """A repository name no other test uses, e.g. ``test/seeding-works-7``."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower().removeprefix("test_"))
    return f"test/{name.strip('-')[:60].strip('-') or 'repo'}-{next(_repo_counter)}"


@pytest.fixture
async def fault_registry() -> AsyncIterator[FaultRegistry]:
    """A fresh fault-injecting registry served in the test's event loop (``.url`` is set)."""
    fault = FaultRegistry()
    await fault.serve()
    try:
        yield fault
    finally:
        await fault.close()


# ---- the Kubernetes API emulator, with our adapter connected to it ----


@pytest.fixture
def kube_api() -> KubeAPI:
    return KubeAPI()


@pytest.fixture
async def kubeconfig(kube_api: KubeAPI, aiohttp_server: Any, tmp_path: Path) -> Path:
    server = await aiohttp_server(kube_api.app())
    return write_kubeconfig(tmp_path / "kubeconfig", str(server.make_url("")).rstrip("/"))


@pytest.fixture
async def cluster(kubeconfig: Path) -> AsyncIterator[kube.KubeClient]:
    async with await kube.KubeClient.connect(str(kubeconfig)) as client:
        yield client
