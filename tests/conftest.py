"""Registry fixtures shared by every test folder: real ``docker-registry`` processes, a seeder
pushing synthetic images into them, fresh repository names, and the fault-injecting registry.

Processes start once per session (about 30 ms each) and only when a test asks for them;
tests isolate themselves by using ``unique_repo`` rather than a fresh registry. Other
fixtures belong in the subfolders' own conftest files.

Also here: the guard that fails an async test which leaves asyncio tasks pending when it ends.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import shutil
import ssl
from collections.abc import AsyncIterator, Coroutine, Generator, Iterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from devcluster.faultregistry import FaultRegistry
from devcluster.gitserver import GitDaemon, GitRepos, SmartHTTPServer, SSHServer
from devcluster.kubeapi import KubeAPI, write_kubeconfig
from devcluster.registry import BINARY, AuthMode, LaunchFailed, LocalRegistry
from devcluster.seeder import ImageSeeder
from devcluster.tls import TinyCA
from imageupdater import kube
from tests.kube_activity import KubeActivity

# ---- no asyncio task outlives its test ----

# Tests whose leftover tasks come from production code this change may not touch, each with
# the task it leaves and why. Keep it short: a new entry needs a reason, not just a test id.
LEAKS_ALLOWED: dict[str, str] = {}

# Loop iterations granted after teardown for tasks that were already told to stop (cancelled,
# or woken with their last result) to finish; a task still pending after them was left running.
_SETTLE_ITERATIONS = 3
# The git servers' basic-auth password: tests look for it where it must never appear.
GIT_PASSWORD = "git-pw-7a1c39e0d5"


def _awaiting(task: asyncio.Task[Any]) -> str:
    """Where a pending task is suspended: its chain of awaits, outermost first."""
    chain: list[str] = []
    coro: Any = task.get_coro()
    while coro is not None and len(chain) < 8:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        name = getattr(coro, "__qualname__", type(coro).__name__)
        if frame is None:
            break  # a bare future: the await above says what it is
        chain.append(f"{name} ({Path(frame.f_code.co_filename).name}:{frame.f_lineno})")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return " -> ".join(chain)


@pytest.fixture(autouse=True)
def _no_task_outlives_its_test(request: pytest.FixtureRequest) -> Generator[None, None, None]:
    """Fail an async test that leaves tasks pending once its fixtures have been torn down.

    pytest-asyncio runs each test (loop scope "function", see pyproject.toml) in its own
    ``asyncio.Runner``, which on close cancels whatever is left: a task a test forgot is
    silently killed there, hiding a missing ``cancel``/``await``/``close`` in the test or in
    the code under test. This fixture asks for that runner while it is set up, so it is torn
    down after every other fixture of the test (servers, sessions, clients) and before the
    runner closes; at that point any task of the loop that is still pending was left behind.
    """
    item = request.node
    marker = item.get_closest_marker("asyncio")
    scope = (marker.kwargs.get("loop_scope") if marker else None) or "function"
    if not pytest_asyncio.is_async_test(item) or scope != "function":
        yield
        return
    runner: asyncio.Runner = request.getfixturevalue("_function_scoped_runner")
    loop = runner.get_loop()
    before = asyncio.all_tasks(loop)
    # asyncio holds tasks weakly: one whose only references form a cycle (a task waiting on an
    # Event of an object the test dropped) can be collected before the check and vanish with
    # a log line instead of a failure. Hold each task created during the test until then.
    created: list[asyncio.Task[Any]] = []
    previous_factory = loop.get_task_factory()

    def recording_factory(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
    ) -> asyncio.Task[Any]:
        task = (
            previous_factory(loop, coro, **kwargs)
            if previous_factory is not None
            else asyncio.Task(coro, loop=loop, **kwargs)
        )
        created.append(task)
        return task  # type: ignore[return-value]

    loop.set_task_factory(recording_factory)
    yield
    pending = {t for t in created if not t.done()} | (asyncio.all_tasks(loop) - before)
    for _ in range(_SETTLE_ITERATIONS):
        if not pending:
            break
        runner.run(asyncio.sleep(0))
        pending = {task for task in pending if not task.done()}
    loop.set_task_factory(previous_factory)
    created.clear()
    if not pending or item.nodeid in LEAKS_ALLOWED:
        return
    lines = "\n".join(
        f"  - {task.get_name()}: {_awaiting(task)}"
        for task in sorted(pending, key=lambda t: t.get_name())
    )
    pytest.fail(
        f"{len(pending)} asyncio task(s) were still pending when the test ended; await, cancel "
        f"or close what the test started:\n{lines}",
        pytrace=False,
    )


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
def kube_activity() -> KubeActivity:
    """Wakes a waiting test at each response of the ``kube_api`` served by ``kubeconfig``."""
    return KubeActivity()


@pytest.fixture
async def kubeconfig(
    kube_api: KubeAPI, kube_activity: KubeActivity, aiohttp_server: Any, tmp_path: Path
) -> Path:
    server = await aiohttp_server(kube_activity.attach(kube_api.app()))
    return write_kubeconfig(tmp_path / "kubeconfig", str(server.make_url("")).rstrip("/"))


@pytest.fixture
async def cluster(kubeconfig: Path) -> AsyncIterator[kube.KubeClient]:
    async with await kube.KubeClient.connect(str(kubeconfig)) as client:
        yield client


# ---- real git servers (devcluster.gitserver), one set per test ----


@pytest.fixture
def git_repos(tmp_path: Path) -> GitRepos:
    return GitRepos(tmp_path / "git-server")


@pytest.fixture(scope="session")
def git_tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    """A serving context for 127.0.0.1 and the CA file a git client must trust for it."""
    ca = TinyCA("git test CA")
    workdir = tmp_path_factory.mktemp("git-tls")
    issued = ca.issue("127.0.0.1")
    issued.write(workdir / "server.crt", workdir / "server.key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(workdir / "server.crt", workdir / "server.key")
    return context, ca.write_ca(workdir / "ca.crt")


@pytest.fixture
def git_https(
    git_repos: GitRepos, git_tls: tuple[ssl.SSLContext, Path]
) -> Iterator[SmartHTTPServer]:
    """Smart HTTP over TLS with basic auth: user ``writer``, password ``GIT_PASSWORD``."""
    with SmartHTTPServer(git_repos, users={"writer": GIT_PASSWORD}, tls=git_tls[0]) as server:
        yield server


@pytest.fixture
def git_daemon(git_repos: GitRepos) -> Iterator[GitDaemon]:
    with GitDaemon(git_repos) as daemon:
        yield daemon


@pytest.fixture
def git_ssh(git_repos: GitRepos, tmp_path: Path) -> Iterator[SSHServer]:
    with SSHServer(git_repos, tmp_path / "sshd") as server:
        yield server
