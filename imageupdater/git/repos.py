"""Repositories as the git writer uses them: a cache of bare clones, reads and commits
without a work tree, and pushes.

One bare repository per remote URL lives under the cache directory, named by a hash of
the URL, and is kept across cycles: a write fetches only the branches it needs, one commit
deep (``--depth=1``), and only when ``ls-remote`` says the tip moved since the last fetch.
Files are read straight from the fetched commit (``cat-file --batch``) and a commit is
built with a throw-away index (``read-tree``, ``hash-object``, ``update-index``,
``write-tree``, ``commit-tree``), so no work tree is ever checked out: a repository of
500 Applications costs a handful of git processes per commit, whatever its size, and a
symlink in the repository can never make a write land outside it (symlinks on the way to
a target are refused). Pushes name the commit and the branch explicitly; a lease, when
given, makes the push fail rather than overwrite a tip the caller did not build on.

Every git process gets a bounded time, runs without a shell, and has its failure sorted
into the ``GitError`` family by what git said, with credentials scrubbed from the message.

The cache is kept tidy as it is used: every ``maintain_every`` fetches and pushes of one
repository, ``git gc`` packs its loose objects (each commit leaves a few) and the shallow
packs of earlier fetches, and drops what no ref reaches any more once git's grace period
has passed (two weeks by default, far longer than a write's own unpushed objects live).
It runs in the foreground, under the repository's fetch lock, so it never races a fetch
and never outlives the process; a failed gc is logged and leaves the write it followed
alone.
"""

from __future__ import annotations

__all__ = [
    "GitRepositories",
    "Identity",
    "RemoteTips",
    "Repository",
    "Signing",
    "TreeEntry",
    "classify",
    "scrub",
]

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import shutil
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from imageupdater.errors import (
    GitAuthError,
    GitError,
    GitPushRejected,
    GitRefNotFound,
    GitUnavailable,
)
from imageupdater.git.auth import GitAuth, git_environment

Observe = Callable[[str, float, bool], None]

log = logging.getLogger(__name__)

_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_AUTH_FAILURE = (
    "authentication failed",
    "could not read username",
    "could not read password",
    "permission denied",
    "host key verification failed",
    "no matching host key",
    "ssl certificate problem",
    "server certificate verification failed",
    "unable to get local issuer certificate",
    "http basic: access denied",
    "returned error: 401",
    "returned error: 403",
    "invalid username or password",
)
_NOT_FOUND = (
    "couldn't find remote ref",
    "repository not found",
    "does not appear to be a git repository",
    "returned error: 404",
    "not found",
)
_UNAVAILABLE = (
    "could not resolve host",
    "connection refused",
    "connection timed out",
    "timed out",
    "early eof",
    "the remote end hung up",
    "returned error: 5",
    "failed to connect",
    "connection reset",
    "unexpected disconnect",
    "broken pipe",
)


def scrub(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` without userinfo in URLs and without any of ``secrets``."""
    text = _USERINFO.sub("", text)
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "<redacted>")
            first_line = secret.strip().splitlines()[0] if secret.strip() else ""
            if len(first_line) > 8:
                text = text.replace(first_line, "<redacted>")
    return text


def classify(stderr: str, *, repository: str, operation: str) -> GitError:
    """The ``GitError`` for what git printed when ``operation`` failed."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    said = "; ".join(lines[-6:]) or "no output"
    message = f"git {operation} for {repository} failed: {said}"
    lowered = stderr.lower()
    if operation == "push" and ("[rejected]" in lowered or "[remote rejected]" in lowered):
        moved = any(
            marker in lowered
            for marker in (
                "non-fast-forward",
                "fetch first",
                "stale info",
                # Two pushes racing on the server: the other one took the ref first.
                "cannot lock ref",
                "failed to update ref",
            )
        )
        return GitPushRejected(message, repository=repository, non_fast_forward=moved)
    if any(marker in lowered for marker in _AUTH_FAILURE):
        return GitAuthError(message, repository=repository)
    if any(marker in lowered for marker in _UNAVAILABLE):
        return GitUnavailable(message, repository=repository)
    if any(marker in lowered for marker in _NOT_FOUND):
        return GitRefNotFound(message, repository=repository)
    return GitError(message, repository=repository)


@dataclass(frozen=True, slots=True)
class TreeEntry:
    mode: str  # "100644", "100755", "120000" (symlink), "040000" (tree), "160000"
    kind: str  # "blob", "tree", "commit"
    sha: str

    @property
    def is_symlink(self) -> bool:
        return self.mode == "120000"


@dataclass(frozen=True, slots=True)
class RemoteTips:
    """What ``ls-remote`` said: the default branch and the tips of the branches asked."""

    default_branch: str | None
    tips: Mapping[str, str]  # branch -> commit; absent branches are missing
    head: str | None = None  # the commit HEAD (the default branch) points at


@dataclass(frozen=True, slots=True)
class Identity:
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class Signing:
    key: str  # a GnuPG key id, or the path of an SSH private key
    method: Literal["openpgp", "ssh"] = "openpgp"


class GitRepositories:
    """The cache of bare repositories under ``cache_dir``; ``spawned`` counts git processes.

    ``observe(operation, seconds, ok)`` is told about every network operation (``ls-remote``,
    ``fetch``, ``push``), for the metrics."""

    def __init__(
        self,
        cache_dir: Path,
        *,
        timeout: float = 120.0,
        observe: Observe | None = None,
        git: str = "git",
        environment: Mapping[str, str] | None = None,
        maintain_every: int = 100,
    ) -> None:
        self.cache_dir = cache_dir
        self.timeout = timeout
        self.observe = observe
        self.git = shutil.which(git) or git
        self.environment = environment
        self.maintain_every = maintain_every  # fetches + pushes of one repository; 0: never
        self.maintained = 0  # gc runs that succeeded
        self.spawned = 0
        self._repositories: dict[str, Repository] = {}

    def repository(self, url: str) -> Repository:
        if _has_password(url):
            raise GitAuthError(
                "the repository URL carries a password; put credentials in a Secret instead",
                repository=scrub(url),
            )
        found = self._repositories.get(url)
        if found is None:
            name = hashlib.sha256(url.encode()).hexdigest()[:24]
            found = Repository(self, url, self.cache_dir / name)
            self._repositories[url] = found
        return found

    async def run(
        self,
        args: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        stdin: bytes | None = None,
        operation: str,
        repository: str,
        secrets: Sequence[str] = (),
        network: bool = False,
    ) -> bytes:
        """Run ``git args`` in ``cwd``; stdout on success, a classified GitError otherwise."""
        started = time.monotonic()
        self.spawned += 1
        try:
            process = await asyncio.create_subprocess_exec(
                self.git,
                *args,
                cwd=cwd,
                env=dict(env),
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise GitError(f"cannot run git: {exc.strerror}", repository=repository) from None
        try:
            async with asyncio.timeout(self.timeout):
                out, err = await process.communicate(stdin)
        except TimeoutError:
            _kill(process)
            await process.wait()
            raise GitUnavailable(
                f"git {operation} for {repository} timed out after {self.timeout:g} s",
                repository=repository,
            ) from None
        except BaseException:
            _kill(process)
            await process.wait()
            raise
        ok = process.returncode == 0
        if network and self.observe is not None:
            self.observe(operation, time.monotonic() - started, ok)
        if not ok:
            text = scrub(err.decode("utf-8", "replace"), secrets)
            raise classify(text, repository=repository, operation=operation)
        return out


def _has_password(url: str) -> bool:
    try:
        return urllib.parse.urlsplit(url).password is not None
    except ValueError:
        return False


def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, 9)


class Repository:
    """One remote's bare clone in the cache. Fetches into it are serialised; reads and
    commits may run alongside each other."""

    def __init__(self, owner: GitRepositories, url: str, path: Path) -> None:
        self.owner = owner
        self.url = url
        self.display = scrub(url)
        self.path = path
        self._lock = asyncio.Lock()
        self._init_lock = asyncio.Lock()
        self._ready = False
        self._since_maintenance = 0

    async def _local(
        self,
        *args: str,
        stdin: bytes | None = None,
        extra_env: Mapping[str, str] = {},
        operation: str | None = None,
    ) -> bytes:
        env = {"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C", "HOME": str(self.path)}
        env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_TERMINAL_PROMPT="0")
        env.update(extra_env)
        return await self.owner.run(
            args,
            cwd=self.path,
            env=env,
            stdin=stdin,
            operation=operation or args[0],
            repository=self.display,
        )

    async def _ensure(self) -> None:
        async with self._init_lock:
            if self._ready:
                return
            self.path.mkdir(parents=True, exist_ok=True)
            config = self.path / "config"
            if not config.exists() or b'[remote "origin"]' not in config.read_bytes():
                await self._local("init", "--quiet", "--bare")
                # The URL carries no password (refused above); credentials come per process.
                await self._local("config", "remote.origin.url", self.url)
            self._ready = True

    async def _remote(
        self, auth: GitAuth, operation: str, *args: str, stdin: bytes | None = None
    ) -> bytes:
        with git_environment(auth, base=self.owner.environment) as env:
            return await self.owner.run(
                (operation, *args),
                cwd=self.path,
                env=env,
                stdin=stdin,
                operation=operation,
                repository=self.display,
                secrets=auth.secrets,
                network=True,
            )

    async def tips(self, auth: GitAuth, branches: Sequence[str]) -> RemoteTips:
        """The remote's default branch and the tips of ``branches`` (one network call)."""
        await self._ensure()
        refs = [f"refs/heads/{branch}" for branch in dict.fromkeys(branches)]
        out = await self._remote(auth, "ls-remote", "--symref", "origin", "HEAD", *refs)
        default = head = None
        tips: dict[str, str] = {}
        for line in out.decode("utf-8", "replace").splitlines():
            left, _, ref = line.partition("\t")
            if left.startswith("ref: ") and ref == "HEAD":
                default = left.removeprefix("ref: ").removeprefix("refs/heads/")
            elif ref == "HEAD":
                head = left
            elif ref.startswith("refs/heads/"):
                tips[ref.removeprefix("refs/heads/")] = left
        return RemoteTips(default, tips, head)

    async def has(self, commit: str) -> bool:
        await self._ensure()
        try:
            await self._local("cat-file", "-e", f"{commit}^{{commit}}")
        except GitError:
            return False
        return True

    async def fetch(self, auth: GitAuth, tips: Mapping[str, str]) -> None:
        """Make each ``branch -> commit`` of ``tips`` present locally, one commit deep;
        branches already fetched at that commit cost nothing."""
        async with self._lock:
            wanted = [b for b, sha in tips.items() if not await self.has(sha)]
            if not wanted:
                return
            specs = [f"+refs/heads/{b}:refs/remotes/origin/{b}" for b in wanted]
            await self._remote(auth, "fetch", "--quiet", "--no-tags", "--depth=1", "origin", *specs)
            await self._count_towards_maintenance()

    async def _count_towards_maintenance(self) -> None:
        """Count one fetch or push; every ``maintain_every``-th runs ``git gc``. The caller
        holds the fetch lock."""
        every = self.owner.maintain_every
        self._since_maintenance += 1
        if every <= 0 or self._since_maintenance < every:
            return
        self._since_maintenance = 0
        try:
            await self._local("-c", "gc.autoDetach=false", "gc", "--quiet", operation="gc")
        except GitError as exc:
            log.warning("git gc of the cached clone of %s failed: %s", self.display, exc)
            return
        self.owner.maintained += 1

    async def entries(self, commit: str, paths: Sequence[str]) -> dict[str, TreeEntry]:
        """The tree entries at ``commit`` of those ``paths`` that exist."""
        if not paths:
            return {}
        out = await self._local("ls-tree", "-z", "--full-tree", commit, "--", *dict.fromkeys(paths))
        found: dict[str, TreeEntry] = {}
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, _, name = record.partition(b"\t")
            mode, kind, sha = meta.decode().split()
            found[name.decode("utf-8", "surrogateescape")] = TreeEntry(mode, kind, sha)
        return found

    async def children(self, commit: str, directory: str) -> dict[str, TreeEntry]:
        """The entries directly inside ``directory`` ("" for the root) at ``commit``."""
        target = f"{commit}:{directory}" if directory else f"{commit}^{{tree}}"
        try:
            out = await self._local("ls-tree", "-z", target)
        except GitError:
            return {}
        found: dict[str, TreeEntry] = {}
        for record in out.split(b"\0"):
            if record:
                meta, _, name = record.partition(b"\t")
                mode, kind, sha = meta.decode().split()
                found[name.decode("utf-8", "surrogateescape")] = TreeEntry(mode, kind, sha)
        return found

    async def read(self, blobs: Sequence[str]) -> dict[str, bytes]:
        """The content of each blob id in ``blobs`` (one ``cat-file --batch``)."""
        unique = list(dict.fromkeys(blobs))
        if not unique:
            return {}
        out = await self._local(
            "cat-file", "--batch", stdin="".join(f"{b}\n" for b in unique).encode()
        )
        contents: dict[str, bytes] = {}
        at = 0
        for sha in unique:
            header_end = out.index(b"\n", at)
            header = out[at:header_end].decode().split()
            if len(header) != 3:
                raise GitError(f"git cat-file could not read {sha}", repository=self.display)
            size = int(header[2])
            start = header_end + 1
            contents[sha] = out[start : start + size]
            at = start + size + 1
        return contents

    async def commit(
        self,
        parent: str,
        files: Mapping[str, tuple[str, bytes]],
        *,
        message: str,
        author: Identity,
        signing: Signing | None = None,
    ) -> str | None:
        """A commit on ``parent`` with ``files`` (path -> (mode, content)) written; None when
        the resulting tree is the parent's (nothing would change)."""
        scratch = Path(tempfile.mkdtemp(prefix="image-updater-index-"))
        try:
            index = {"GIT_INDEX_FILE": str(scratch / "index")}
            await self._local("read-tree", parent, extra_env=index)
            paths = []
            for number, (_path, (_mode, content)) in enumerate(files.items()):
                blob = scratch / f"blob{number}"
                blob.write_bytes(content)
                paths.append(str(blob))
            shas = (
                (
                    await self._local(
                        "hash-object",
                        "-w",
                        "--stdin-paths",
                        stdin="\n".join(paths).encode() + b"\n",
                    )
                )
                .decode()
                .split()
            )
            info = "".join(
                f"{mode} {sha}\t{path}\n"
                for (path, (mode, _content)), sha in zip(files.items(), shas, strict=True)
            )
            await self._local("update-index", "--index-info", stdin=info.encode(), extra_env=index)
            tree = (await self._local("write-tree", extra_env=index)).decode().strip()
            parent_tree = (await self._local("rev-parse", f"{parent}^{{tree}}")).decode().strip()
            if tree == parent_tree:
                return None
            who = {
                "GIT_AUTHOR_NAME": author.name,
                "GIT_AUTHOR_EMAIL": author.email,
                "GIT_COMMITTER_NAME": author.name,
                "GIT_COMMITTER_EMAIL": author.email,
            }
            args = ["commit-tree", tree, "-p", parent, "-F", "-"]
            config: list[str] = []
            if signing is not None:
                config = ["-c", f"gpg.format={signing.method}"]
                args.insert(1, f"-S{signing.key}")
            # Signing keys live where the process's environment says, as for network calls.
            source = self.owner.environment if self.owner.environment is not None else os.environ
            gnupg = source.get("GNUPGHOME") or str(PurePosixPath(source.get("HOME", "/"), ".gnupg"))
            sha = await self.owner.run(
                (*config, *args),
                cwd=self.path,
                env={
                    "PATH": os.environ.get("PATH", os.defpath),
                    "LC_ALL": "C",
                    "HOME": str(scratch),
                    "GNUPGHOME": gnupg,
                    "GIT_CONFIG_NOSYSTEM": "1",
                    "GIT_CONFIG_GLOBAL": os.devnull,
                    **who,
                },
                stdin=message.encode(),
                operation="commit",
                repository=self.display,
            )
            return sha.decode().strip()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    async def push(
        self, auth: GitAuth, commit: str, branch: str, *, lease: str | None = None
    ) -> None:
        """Push ``commit`` to ``branch``. Without ``lease`` the remote accepts only a
        fast-forward; with one (the tip the caller built on, or "" for "must not exist")
        the branch may be moved anywhere, but only from that tip."""
        args = ["--quiet", "origin", f"{commit}:refs/heads/{branch}"]
        if lease is not None:
            args.insert(0, f"--force-with-lease=refs/heads/{branch}:{lease}")
        await self._remote(auth, "push", *args)
        # What was pushed is the new remote tip: the next write builds on it without a fetch.
        await self._local("update-ref", f"refs/remotes/origin/{branch}", commit)
        async with self._lock:
            await self._count_towards_maintenance()
