"""The git adapter against real git servers: smart HTTP over TLS with basic auth, git
daemon, and sshd with host-key checking."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from devcluster.gitserver import GitDaemon, GitRepos, SmartHTTPServer, SSHServer
from imageupdater.errors import (
    GitAuthError,
    GitPushRejected,
    GitRefNotFound,
    GitUnavailable,
)
from imageupdater.git.auth import GitAuth
from imageupdater.git.repos import GitRepositories, Identity, Signing, scrub
from tests.conftest import GIT_PASSWORD

AUTHOR = Identity("argocd-image-updater", "noreply@argoproj.io")
FILES = {"apps/a/kustomization.yaml": "resources: []\n", "README.md": "hello\n"}


@pytest.fixture
def https_env(git_tls: tuple[object, Path]) -> dict[str, str]:
    """The process environment git runs in: it trusts the test CA."""
    import os

    return {**os.environ, "GIT_SSL_CAINFO": str(git_tls[1])}


def cache(tmp_path: Path, env: dict[str, str] | None = None) -> GitRepositories:
    return GitRepositories(tmp_path / "cache", timeout=30, environment=env)


def https_auth(password: str = GIT_PASSWORD) -> GitAuth:
    return GitAuth(username="writer", password=password)


async def write_once(
    repos: GitRepositories, url: str, auth: GitAuth, path: str, content: str
) -> str:
    repo = repos.repository(url)
    tips = await repo.tips(auth, ["main"])
    await repo.fetch(auth, {"main": tips.tips["main"]})
    sha = await repo.commit(
        tips.tips["main"], {path: ("100644", content.encode())}, message="m\n", author=AUTHOR
    )
    assert sha is not None
    await repo.push(auth, sha, "main")
    return sha


async def test_a_commit_reaches_the_remote_over_https_with_basic_auth(
    git_repos: GitRepos, git_https: SmartHTTPServer, https_env: dict[str, str], tmp_path: Path
) -> None:
    git_repos.create("apps", FILES)
    repos = cache(tmp_path, https_env)
    sha = await write_once(
        repos, git_https.repo_url("apps"), https_auth(), "apps/a/x.yaml", "x: 1\n"
    )
    assert git_repos.tip("apps", "main") == sha
    assert git_repos.read("apps", "main", "apps/a/x.yaml") == "x: 1\n"
    assert git_repos.read("apps", "main", "README.md") == "hello\n"
    [newest, _initial] = git_repos.log("apps", "main")
    assert newest[1] == "argocd-image-updater <noreply@argoproj.io>"


async def test_a_commit_reaches_the_remote_over_git_daemon_anonymously(
    git_repos: GitRepos, git_daemon: GitDaemon, tmp_path: Path
) -> None:
    git_repos.create("apps", FILES)
    sha = await write_once(cache(tmp_path), git_daemon.repo_url("apps"), GitAuth(), "f", "1\n")
    assert git_repos.tip("apps", "main") == sha


async def test_a_commit_reaches_the_remote_over_ssh_with_a_key_and_a_known_host(
    git_repos: GitRepos, git_ssh: SSHServer, tmp_path: Path
) -> None:
    git_repos.create("apps", FILES)
    auth = GitAuth(ssh_private_key=git_ssh.client_key.private, known_hosts=git_ssh.known_hosts)
    sha = await write_once(cache(tmp_path), git_ssh.repo_url("apps"), auth, "f", "1\n")
    assert git_repos.tip("apps", "main") == sha


async def test_an_unknown_ssh_host_key_is_refused(
    git_repos: GitRepos, git_ssh: SSHServer, tmp_path: Path
) -> None:
    git_repos.create("apps", FILES)
    other = git_ssh.known_hosts.split()[0] + " ssh-ed25519 " + "A" * 68 + "\n"
    for known_hosts in ("", other):
        auth = GitAuth(ssh_private_key=git_ssh.client_key.private, known_hosts=known_hosts)
        with pytest.raises(GitAuthError, match=r"[Hh]ost key"):
            await cache(tmp_path).repository(git_ssh.repo_url("apps")).tips(auth, ["main"])


async def test_insecure_ssh_credentials_skip_host_key_checking(
    git_repos: GitRepos, git_ssh: SSHServer, tmp_path: Path
) -> None:
    git_repos.create("apps", FILES)
    auth = GitAuth(ssh_private_key=git_ssh.client_key.private, insecure=True)
    tips = await cache(tmp_path).repository(git_ssh.repo_url("apps")).tips(auth, ["main"])
    assert tips.tips["main"] == git_repos.tip("apps", "main")


async def test_a_wrong_ssh_key_is_an_auth_error(
    git_repos: GitRepos, git_ssh: SSHServer, tmp_path: Path
) -> None:
    git_repos.create("apps", FILES)
    auth = GitAuth(ssh_private_key=git_ssh.host_key.private, known_hosts=git_ssh.known_hosts)
    with pytest.raises(GitAuthError, match="Permission denied"):
        await cache(tmp_path).repository(git_ssh.repo_url("apps")).tips(auth, ["main"])


async def test_https_verifies_the_server_certificate_by_default(
    git_repos: GitRepos, git_https: SmartHTTPServer, tmp_path: Path
) -> None:
    git_repos.create("apps", FILES)
    # The process does not trust the test CA: TLS verification must fail...
    repos = cache(tmp_path, {"PATH": "/usr/bin:/bin"})
    with pytest.raises(GitAuthError, match="certificate"):
        await repos.repository(git_https.repo_url("apps")).tips(https_auth(), ["main"])
    # ...unless the credentials say insecure.
    insecure = GitAuth(username="writer", password=GIT_PASSWORD, insecure=True)
    tips = await repos.repository(git_https.repo_url("apps")).tips(insecure, ["main"])
    assert tips.default_branch == "main"


async def test_a_wrong_password_is_an_auth_error_that_does_not_quote_it(
    git_repos: GitRepos, git_https: SmartHTTPServer, https_env: dict[str, str], tmp_path: Path
) -> None:
    git_repos.create("apps", FILES)
    wrong = "not-the-password-93f1"
    with pytest.raises(GitAuthError) as caught:
        await (
            cache(tmp_path, https_env)
            .repository(git_https.repo_url("apps"))
            .tips(https_auth(wrong), ["main"])
        )
    assert wrong not in str(caught.value)
    assert "Authentication failed" in str(caught.value)


async def test_tips_report_the_default_branch_and_only_branches_that_exist(
    git_repos: GitRepos, git_daemon: GitDaemon, tmp_path: Path
) -> None:
    git_repos.create("apps", FILES, branch="trunk")
    tips = (
        await cache(tmp_path)
        .repository(git_daemon.repo_url("apps"))
        .tips(GitAuth(), ["trunk", "image-updater/target"])
    )
    assert tips.default_branch == "trunk"
    assert set(tips.tips) == {"trunk"}


async def test_a_missing_repository_is_ref_not_found(
    git_repos: GitRepos, git_https: SmartHTTPServer, https_env: dict[str, str], tmp_path: Path
) -> None:
    with pytest.raises(GitRefNotFound):
        await (
            cache(tmp_path, https_env)
            .repository(git_https.repo_url("nothing"))
            .tips(https_auth(), ["main"])
        )


async def test_a_server_that_is_down_is_unavailable(tmp_path: Path) -> None:
    from devcluster.registry import free_port

    url = f"http://127.0.0.1:{free_port()}/apps.git"
    with pytest.raises(GitUnavailable) as caught:
        await cache(tmp_path).repository(url).tips(GitAuth(), ["main"])
    assert caught.value.transient


async def test_a_5xx_from_the_server_is_unavailable(
    git_repos: GitRepos, git_https: SmartHTTPServer, https_env: dict[str, str], tmp_path: Path
) -> None:
    git_repos.create("apps", FILES)
    git_https.fail_next(1, 503)
    with pytest.raises(GitUnavailable):
        await (
            cache(tmp_path, https_env)
            .repository(git_https.repo_url("apps"))
            .tips(https_auth(), ["main"])
        )


async def test_a_push_from_a_stale_tip_is_rejected_as_non_fast_forward(
    git_repos: GitRepos, git_daemon: GitDaemon, tmp_path: Path
) -> None:
    git_repos.create("apps", FILES)
    repo = cache(tmp_path).repository(git_daemon.repo_url("apps"))
    tips = await repo.tips(GitAuth(), ["main"])
    await repo.fetch(GitAuth(), dict(tips.tips))
    git_repos.commit("apps", "main", {"human.txt": "mine\n"}, "a human commit")
    sha = await repo.commit(
        tips.tips["main"], {"f": ("100644", b"1\n")}, message="m\n", author=AUTHOR
    )
    assert sha is not None
    with pytest.raises(GitPushRejected) as caught:
        await repo.push(GitAuth(), sha, "main")
    assert caught.value.non_fast_forward and caught.value.transient
    assert git_repos.read("apps", "main", "human.txt") == "mine\n"


async def test_a_lease_refuses_to_move_a_branch_someone_else_moved(
    git_repos: GitRepos, git_daemon: GitDaemon, tmp_path: Path
) -> None:
    git_repos.create("apps", FILES)
    repo = cache(tmp_path).repository(git_daemon.repo_url("apps"))
    tips = await repo.tips(GitAuth(), ["main"])
    await repo.fetch(GitAuth(), dict(tips.tips))
    base = tips.tips["main"]
    sha = await repo.commit(base, {"f": ("100644", b"1\n")}, message="m\n", author=AUTHOR)
    assert sha is not None
    await repo.push(GitAuth(), sha, "updates", lease="")  # must not exist yet: created
    human = git_repos.commit("apps", "updates", {"h": "x\n"}, "human on our branch")
    again = await repo.commit(base, {"f": ("100644", b"2\n")}, message="m\n", author=AUTHOR)
    assert again is not None
    with pytest.raises(GitPushRejected):
        await repo.push(GitAuth(), again, "updates", lease=sha)
    assert git_repos.tip("apps", "updates") == human


async def test_a_pre_receive_hook_rejection_is_not_retriable(
    git_repos: GitRepos, git_daemon: GitDaemon, tmp_path: Path
) -> None:
    git_repos.create("apps", FILES)
    git_repos.protect("apps", "main is protected: open a pull request")
    with pytest.raises(GitPushRejected) as caught:
        await write_once(cache(tmp_path), git_daemon.repo_url("apps"), GitAuth(), "f", "1\n")
    assert not caught.value.non_fast_forward and not caught.value.transient
    assert "main is protected" in str(caught.value)


async def test_a_commit_that_changes_nothing_is_not_made(
    git_repos: GitRepos, git_daemon: GitDaemon, tmp_path: Path
) -> None:
    git_repos.create("apps", FILES)
    repo = cache(tmp_path).repository(git_daemon.repo_url("apps"))
    tips = await repo.tips(GitAuth(), ["main"])
    await repo.fetch(GitAuth(), dict(tips.tips))
    same = {"README.md": ("100644", b"hello\n")}
    assert await repo.commit(tips.tips["main"], same, message="m", author=AUTHOR) is None


async def test_entries_show_symlinks_and_reads_return_content(
    git_repos: GitRepos, git_daemon: GitDaemon, tmp_path: Path
) -> None:
    git_repos.create("apps", FILES)
    git_repos.symlink("apps", "main", "apps/escape", "/etc")
    repo = cache(tmp_path).repository(git_daemon.repo_url("apps"))
    tips = await repo.tips(GitAuth(), ["main"])
    await repo.fetch(GitAuth(), dict(tips.tips))
    entries = await repo.entries(
        tips.tips["main"], ["apps", "apps/escape", "apps/a/kustomization.yaml", "nope"]
    )
    assert entries["apps/escape"].is_symlink
    assert "nope" not in entries
    blob = entries["apps/a/kustomization.yaml"].sha
    assert (await repo.read([blob])) == {blob: b"resources: []\n"}
    children = await repo.children(tips.tips["main"], "apps/a")
    assert set(children) == {"kustomization.yaml"}


async def test_a_second_write_fetches_nothing_when_the_tip_has_not_moved(
    git_repos: GitRepos, git_https: SmartHTTPServer, https_env: dict[str, str], tmp_path: Path
) -> None:
    git_repos.create("apps", FILES)
    repos = cache(tmp_path, https_env)
    url = git_https.repo_url("apps")
    await write_once(repos, url, https_auth(), "f", "1\n")
    before = git_https.stats.services.get("git-upload-pack", 0)
    await repos.repository(url).tips(https_auth(), ["main"])
    listing = git_https.stats.services.get("git-upload-pack", 0) - before
    before += listing
    await write_once(repos, url, https_auth(), "f", "2\n")
    # What we pushed is the tip: the second write lists the refs and fetches nothing.
    assert git_https.stats.services.get("git-upload-pack", 0) - before == listing


async def test_commits_can_be_signed_with_an_ssh_key_and_verified(
    git_repos: GitRepos, git_daemon: GitDaemon, tmp_path: Path
) -> None:
    from devcluster.gitserver import ssh_keypair

    key = ssh_keypair(tmp_path, "signing")
    git_repos.create("apps", FILES)
    repo = cache(tmp_path).repository(git_daemon.repo_url("apps"))
    tips = await repo.tips(GitAuth(), ["main"])
    await repo.fetch(GitAuth(), dict(tips.tips))
    sha = await repo.commit(
        tips.tips["main"],
        {"f": ("100644", b"1\n")},
        message="signed\n",
        author=AUTHOR,
        signing=Signing(str(tmp_path / "signing"), "ssh"),
    )
    assert sha is not None
    await repo.push(GitAuth(), sha, "main")
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"{AUTHOR.email} {key.public}\n")
    report = git_repos.verify("apps", sha, allowed_signers=allowed)
    assert "Good" in report


class _ProcessWatch:
    """Every command line seen in /proc while it runs."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for proc in Path("/proc").iterdir():
                if proc.name.isdigit():
                    try:
                        self.seen.add((proc / "cmdline").read_bytes().decode(errors="replace"))
                    except OSError:
                        continue

    def __enter__(self) -> _ProcessWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def process_watch() -> Iterator[_ProcessWatch]:
    with _ProcessWatch() as watch:
        yield watch


async def test_no_credential_reaches_a_command_line_or_the_repository_config(
    git_repos: GitRepos,
    git_https: SmartHTTPServer,
    git_ssh: SSHServer,
    https_env: dict[str, str],
    tmp_path: Path,
    process_watch: _ProcessWatch,
) -> None:
    git_repos.create("apps", FILES)
    repos = cache(tmp_path, https_env)
    await write_once(repos, git_https.repo_url("apps"), https_auth(), "f", "1\n")
    key_auth = GitAuth(ssh_private_key=git_ssh.client_key.private, known_hosts=git_ssh.known_hosts)
    await write_once(repos, git_ssh.repo_url("apps"), key_auth, "f", "2\n")
    key_body = git_ssh.client_key.private.splitlines()[1]
    assert any("git" in line for line in process_watch.seen)
    for line in process_watch.seen:
        assert GIT_PASSWORD not in line
        assert key_body not in line
    for config in (tmp_path / "cache").glob("*/config"):
        assert GIT_PASSWORD not in config.read_text()


def test_scrub_removes_userinfo_and_secrets() -> None:
    text = "fatal: https://bob:hunter2@host/x.git said hunter2"
    assert scrub(text, ["hunter2"]) == "fatal: https://host/x.git said <redacted>"


def test_a_url_with_a_password_is_refused(tmp_path: Path) -> None:
    with pytest.raises(GitAuthError, match="put credentials in a Secret") as caught:
        cache(tmp_path).repository("https://bob:hunter2@example.com/x.git")
    assert "hunter2" not in str(caught.value)


def _loose_and_packs(repos: GitRepositories, url: str) -> tuple[int, int]:
    import subprocess

    path = repos.repository(url).path
    out = subprocess.run(
        ["git", "count-objects", "-v"], cwd=path, capture_output=True, text=True, check=True
    ).stdout
    values = dict(line.split(": ", 1) for line in out.splitlines())
    return int(values["count"]), int(values["packs"])


async def test_the_cached_clone_is_packed_every_few_writes_so_loose_objects_stay_few(
    git_repos: GitRepos, git_daemon: GitDaemon, tmp_path: Path
) -> None:
    git_repos.create("apps", FILES)
    url = git_daemon.repo_url("apps")
    repos = GitRepositories(tmp_path / "cache", timeout=30, maintain_every=5)
    for n in range(12):
        sha = await write_once(repos, url, GitAuth(), "apps/a/x.yaml", f"x: {n}\n")
    # 13 counted operations: the first write's fetch, then 12 pushes (later writes build on
    # the tip they pushed, so they fetch nothing).
    assert repos.maintained == 2
    loose, packs = _loose_and_packs(repos, url)
    assert packs >= 1
    assert loose <= 3 * 5  # at most the three writes since the last gc, ~5 objects each
    assert git_repos.tip("apps", "main") == sha
    # The packed cache still serves the next write.
    after = await write_once(repos, url, GitAuth(), "apps/a/x.yaml", "x: last\n")
    assert git_repos.read("apps", "main", "apps/a/x.yaml") == "x: last\n"
    history = git_repos.log("apps", "main")
    assert [history[0][0], history[1][0]] == [after, sha]
    assert len(history) == 14  # the initial commit and 13 writes, none lost to the gc


async def test_without_maintenance_every_write_leaves_its_objects_loose(
    git_repos: GitRepos, git_daemon: GitDaemon, tmp_path: Path
) -> None:
    git_repos.create("apps", FILES)
    url = git_daemon.repo_url("apps")
    repos = GitRepositories(tmp_path / "cache", timeout=30, maintain_every=0)
    for n in range(12):
        await write_once(repos, url, GitAuth(), "apps/a/x.yaml", f"x: {n}\n")
    assert repos.maintained == 0
    loose, _packs = _loose_and_packs(repos, url)
    assert loose >= 12 * 4  # a blob, three trees and a commit per write


async def test_a_failing_gc_is_logged_and_the_write_it_followed_stands(
    git_repos: GitRepos, git_daemon: GitDaemon, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import shutil

    real = shutil.which("git")
    wrapper = tmp_path / "git"
    # A git whose gc fails (a full disk, a corrupt pack): every other command is the real one.
    wrapper.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do [ "$a" = gc ] && { echo "fatal: gc broke" >&2; exit 128; }; done\n'
        f'exec {real} "$@"\n'
    )
    wrapper.chmod(0o755)
    git_repos.create("apps", FILES)
    url = git_daemon.repo_url("apps")
    repos = GitRepositories(tmp_path / "cache", timeout=30, maintain_every=2, git=str(wrapper))
    sha = await write_once(repos, url, GitAuth(), "f", "1\n")
    assert git_repos.tip("apps", "main") == sha
    assert repos.maintained == 0
    assert any("git gc of the cached clone" in r.getMessage() for r in caplog.records)
