"""Real git servers on 127.0.0.1 for tests, the demo and the benchmarks.

* :class:`GitRepos` — bare repositories in a directory: create one with files on a
  branch, commit to it as a human would (a throw-away clone over ``file://``), read a
  file or the log back, install a ``pre-receive`` hook that refuses pushes.
* :class:`SmartHTTPServer` — ``git http-backend`` (the CGI program git ships) behind a
  small aiohttp bridge running in its own thread: basic auth, optional TLS, counters of
  requests and bytes served, and injected faults (the next N requests answer a status).
* :class:`GitDaemon` — ``git daemon`` with anonymous push (``receive-pack``) enabled.
* :class:`SSHServer` — Debian's ``sshd`` on a free port with a temporary host key and one
  authorised key, for key authentication and host-key checking; git runs over it as the
  current user with repository paths absolute.

Every server binds 127.0.0.1 only.
"""

from __future__ import annotations

__all__ = ["GitDaemon", "GitRepos", "SSHServer", "SmartHTTPServer"]

import asyncio
import base64
import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from aiohttp import web

from devcluster.registry import free_port

_GIT_ENV = {
    "PATH": os.environ.get("PATH", os.defpath),
    "HOME": "/nonexistent",
    "LC_ALL": "C",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
}
_HUMAN = {
    "GIT_AUTHOR_NAME": "A Human",
    "GIT_AUTHOR_EMAIL": "human@example.com",
    "GIT_COMMITTER_NAME": "A Human",
    "GIT_COMMITTER_EMAIL": "human@example.com",
}


def _git(*args: str, cwd: Path | None = None, stdin: bytes | None = None) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**_GIT_ENV, **_HUMAN},
        input=stdin,
        capture_output=True,
        check=False,
        timeout=60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.decode().strip()}")
    return done.stdout.decode()


class GitRepos:
    """Bare repositories under ``root``, by name (``<name>.git``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        return self.root / f"{name}.git"

    def create(self, name: str, files: Mapping[str, str | bytes], *, branch: str = "main") -> Path:
        """A new bare repository whose ``branch`` (also its HEAD) holds ``files``."""
        bare = self.path(name)
        _git("init", "--quiet", "--bare", f"--initial-branch={branch}", str(bare))
        # Smart HTTP needs this to accept pushes from a user it did not authenticate itself.
        _git("--git-dir", str(bare), "config", "http.receivepack", "true")
        self.commit(name, branch, files, "initial content", create=True)
        return bare

    def commit(
        self,
        name: str,
        branch: str,
        files: Mapping[str, str | bytes | None],
        message: str,
        *,
        create: bool = False,
    ) -> str:
        """Commit ``files`` (None deletes) on ``branch`` as a human would; the new tip."""
        bare = self.path(name)
        with tempfile.TemporaryDirectory(prefix="human-") as tmp:
            work = Path(tmp) / "w"
            if create:
                _git("init", "--quiet", f"--initial-branch={branch}", str(work))
            else:
                _git("clone", "--quiet", "--branch", branch, f"file://{bare}", str(work))
            for rel, content in files.items():
                target = work / rel
                if content is None:
                    target.unlink()
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                data = content.encode() if isinstance(content, str) else content
                target.write_bytes(data)
            _git("add", "--all", cwd=work)
            _git("commit", "--quiet", "--allow-empty", "-m", message, cwd=work)
            _git("push", "--quiet", f"file://{bare}", f"HEAD:refs/heads/{branch}", cwd=work)
            return _git("rev-parse", "HEAD", cwd=work).strip()

    def symlink(self, name: str, branch: str, link: str, points_to: str) -> str:
        bare = self.path(name)
        with tempfile.TemporaryDirectory(prefix="human-") as tmp:
            work = Path(tmp) / "w"
            _git("clone", "--quiet", "--branch", branch, f"file://{bare}", str(work))
            (work / link).parent.mkdir(parents=True, exist_ok=True)
            (work / link).symlink_to(points_to)
            _git("add", "--all", cwd=work)
            _git("commit", "--quiet", "-m", f"link {link}", cwd=work)
            _git("push", "--quiet", f"file://{bare}", f"HEAD:refs/heads/{branch}", cwd=work)
            return _git("rev-parse", "HEAD", cwd=work).strip()

    def read(self, name: str, branch: str, path: str) -> str | None:
        try:
            return _git("--git-dir", str(self.path(name)), "show", f"refs/heads/{branch}:{path}")
        except RuntimeError:
            return None

    def tip(self, name: str, branch: str) -> str | None:
        try:
            out = _git("--git-dir", str(self.path(name)), "rev-parse", f"refs/heads/{branch}")
        except RuntimeError:
            return None
        return out.strip()

    def log(self, name: str, branch: str, fmt: str = "%H%x00%an <%ae>%x00%B") -> list[list[str]]:
        """Each commit of ``branch``, newest first, split on NUL per ``fmt``."""
        out = _git(
            "--git-dir", str(self.path(name)), "log", f"--format={fmt}%x01", f"refs/heads/{branch}"
        )
        return [entry.strip("\n").split("\0") for entry in out.split("\x01") if entry.strip()]

    def branches(self, name: str) -> list[str]:
        out = _git("--git-dir", str(self.path(name)), "for-each-ref", "--format=%(refname:short)")
        return out.split()

    def protect(self, name: str, message: str = "branch is protected") -> None:
        """Install a pre-receive hook that refuses every push with ``message``."""
        hook = self.path(name) / "hooks" / "pre-receive"
        hook.write_text(f"#!/bin/sh\necho '{message}' >&2\nexit 1\n")
        hook.chmod(0o755)

    def verify(
        self,
        name: str,
        commit: str,
        *,
        allowed_signers: Path | None = None,
        gnupg_home: Path | None = None,
    ) -> str:
        """``git verify-commit``'s report (it prints to stderr); raises when it fails."""
        config = ["-c", f"gpg.ssh.allowedSignersFile={allowed_signers}"] if allowed_signers else []
        env = dict(_GIT_ENV)
        if gnupg_home is not None:
            env["GNUPGHOME"] = str(gnupg_home)
        done = subprocess.run(
            ["git", "--git-dir", str(self.path(name)), *config, "verify-commit", commit],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        if done.returncode != 0:
            raise RuntimeError(f"verify-commit failed: {done.stderr.strip()}")
        return done.stderr

    def git(self, name: str, *args: str) -> str:
        return _git("--git-dir", str(self.path(name)), *args)


@dataclass(slots=True)
class HTTPStats:
    requests: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    services: dict[str, int] = field(default_factory=dict)  # git-upload-pack / receive-pack
    posts: dict[str, int] = field(default_factory=dict)  # the same, POSTs only (pack exchanges)
    unauthorised: int = 0


class SmartHTTPServer:
    """``git http-backend`` over HTTP(S) on 127.0.0.1, in a thread with its own loop.

    ``users`` maps user names to passwords; empty means anonymous access. URLs are
    ``<url>/<name>.git``."""

    def __init__(
        self,
        repos: GitRepos,
        *,
        users: Mapping[str, str] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.repos = repos
        # Kept by reference: a test may hand a mapping that changes (tokens minted later).
        self.users: Mapping[str, str] = users if users is not None else {}
        self.tls = tls
        self.stats = HTTPStats()
        self.port = 0
        self._faults: list[int] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._backend = "/usr/lib/git-core/git-http-backend"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def repo_url(self, name: str) -> str:
        return f"{self.url}/{name}.git"

    def fail_next(self, count: int, status: int = 503) -> None:
        with self._lock:
            self._faults.extend([status] * count)

    def _authorised(self, request: web.Request) -> str | None:
        if not self.users:
            return "anonymous"
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return user if self.users.get(user) == password else None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            self.stats.requests += 1
            fault = self._faults.pop(0) if self._faults else None
        if fault is not None:
            return web.Response(status=fault, text="injected fault\n")
        user = self._authorised(request)
        if user is None:
            with self._lock:
                self.stats.unauthorised += 1
            return web.Response(
                status=401, headers={"WWW-Authenticate": 'Basic realm="git"'}, text="denied\n"
            )
        body = await request.read()
        service = request.query.get("service") or request.path.rsplit("/", 1)[-1]
        env = {
            **_GIT_ENV,
            "GIT_PROJECT_ROOT": str(self.repos.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": request.path,
            "REQUEST_METHOD": request.method,
            "QUERY_STRING": request.query_string,
            "CONTENT_TYPE": request.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": user,
            "REMOTE_ADDR": "127.0.0.1",
        }
        for header, variable in (
            ("Content-Encoding", "HTTP_CONTENT_ENCODING"),
            ("Git-Protocol", "GIT_PROTOCOL"),
        ):
            if header in request.headers:
                env[variable] = request.headers[header]
        process = await asyncio.create_subprocess_exec(
            self._backend,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, _err = await process.communicate(body)
        head, _, payload = out.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = out.partition(b"\n\n")
        status = 200
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.strip().split()[0])
            elif key:
                headers[key.strip()] = value.strip()
        with self._lock:
            self.stats.bytes_received += len(body)
            self.stats.bytes_sent += len(payload)
            self.stats.services[service] = self.stats.services.get(service, 0) + 1
            if request.method == "POST":
                self.stats.posts[service] = self.stats.posts.get(service, 0) + 1
        return web.Response(status=status, headers=headers, body=payload)

    def start(self) -> Self:
        ready = threading.Event()
        failure: list[BaseException] = []

        async def serve() -> None:
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.tls)
            await site.start()
            server = site._server
            assert isinstance(server, asyncio.base_events.Server)
            self.port = server.sockets[0].getsockname()[1]

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(serve())
            except BaseException as exc:  # reported to start()
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            if self._runner is not None:
                loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="git-http", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Process:
    """A child server process, stopped with SIGTERM (then SIGKILL)."""

    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    def _stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def __enter__(self) -> Self:
        self.start()  # type: ignore[attr-defined]
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop()


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited at start: {log.read_text(errors='replace')}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within 10 s")


class GitDaemon(_Process):
    """``git daemon`` serving ``repos`` over ``git://127.0.0.1:<port>/<name>.git``,
    pushes allowed."""

    def __init__(self, repos: GitRepos) -> None:
        self.repos = repos
        self.port = 0

    def repo_url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}.git"

    def start(self) -> Self:
        self.port = free_port()
        self.log_path = self.repos.root.parent / f"git-daemon-{self.port}.log"
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                "git",
                "daemon",
                "--reuseaddr",
                "--listen=127.0.0.1",
                f"--port={self.port}",
                f"--base-path={self.repos.root}",
                "--export-all",
                "--enable=receive-pack",
                "--informative-errors",
                str(self.repos.root),
            ],
            env=_GIT_ENV,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        _wait_for_port(self.port, self.process, "git daemon", self.log_path)
        return self


@dataclass(frozen=True, slots=True)
class SSHKeyPair:
    private: str  # OpenSSH PEM
    public: str  # one authorized_keys line


def ssh_keypair(directory: Path, name: str, kind: str = "ed25519") -> SSHKeyPair:
    path = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", name, "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return SSHKeyPair(path.read_text(), (path.with_suffix(".pub")).read_text().strip())


class SSHServer(_Process):
    """Debian's ``sshd`` on 127.0.0.1 with a temporary host key; ``client_key`` may log in
    as the current user and run git. ``known_hosts`` is the line a client must trust."""

    def __init__(self, repos: GitRepos, workdir: Path) -> None:
        self.repos = repos
        self.workdir = workdir
        self.port = 0
        workdir.mkdir(parents=True, exist_ok=True)
        workdir.chmod(0o700)
        self.host_key = ssh_keypair(workdir, "host_key")
        self.client_key = ssh_keypair(workdir, "client_key")
        self.user = os.environ.get("USER") or "root"
        if shutil.which("id"):
            self.user = subprocess.run(
                ["id", "-un"], capture_output=True, check=True, text=True
            ).stdout.strip()

    @property
    def known_hosts(self) -> str:
        key_type, key = self.host_key.public.split()[:2]
        return f"[127.0.0.1]:{self.port} {key_type} {key}\n"

    def repo_url(self, name: str) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{self.repos.path(name)}"

    def start(self) -> Self:
        sshd = "/usr/sbin/sshd"
        if not Path(sshd).exists():
            raise RuntimeError("sshd is not installed: run ./dev test, which installs it")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        authorized = self.workdir / "authorized_keys"
        authorized.write_text(self.client_key.public + "\n")
        authorized.chmod(0o600)
        self.port = free_port()
        config = self.workdir / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.workdir / 'host_key'}",
                    f"AuthorizedKeysFile {authorized}",
                    f"PidFile {self.workdir / 'sshd.pid'}",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    "PermitRootLogin prohibit-password",
                    "StrictModes no",
                    "UsePAM no",
                    "PrintMotd no",
                    "AcceptEnv LANG LC_* GIT_PROTOCOL",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )
        self.log_path = self.workdir / "sshd.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sshd, "-D", "-e", "-f", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_for_port(self.port, self.process, "sshd", self.log_path)
        return self
