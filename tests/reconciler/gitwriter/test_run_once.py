"""``image-updater run --once`` with git write-back, end to end: the API emulator, the real
registry and a real git server; the commit lands in the repository."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from devcluster.gitserver import GitDaemon, GitRepos, SmartHTTPServer, SSHServer
from devcluster.kubeapi import KubeAPI, run_in_thread, write_kubeconfig
from devcluster.registry import LocalRegistry
from tests.conftest import GIT_PASSWORD
from tests.reconciler.conftest import application
from tests.reconciler.test_cli import registries_conf, seed

BINARY = Path(sys.executable).with_name("image-updater")


def repository_secret(name: str, url: str, **fields: str) -> dict[str, Any]:
    data = {"url": url, **fields}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": "argocd",
            "labels": {"argocd.argoproj.io/secret-type": "repository"},
        },
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def app_project(name: str, source_repos: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {"sourceRepos": source_repos, "destinations": [{"server": "*", "namespace": "*"}]},
    }


def run_once(
    tmp_path: Path,
    api: KubeAPI,
    registry: LocalRegistry,
    *extra: str,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    # Argo CD always has the default project; a test that cares seeds its own first.
    if api.store.get("argoproj.io", None, "appprojects", "argocd", "default") is None:
        api.store.put(app_project("default", ["*"]))
    with run_in_thread(api) as running:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", running.url)
        return subprocess.run(
            [
                str(BINARY),
                "run",
                "--once",
                "--kubeconfig",
                str(kubeconfig),
                "--registries-conf-path",
                str(registries_conf(tmp_path, registry)),
                "--git-cache-dir",
                str(tmp_path / "git-cache"),
                *extra,
            ],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, **(env or {})},
            timeout=120,
        )


def test_run_once_commits_the_new_tag_to_the_override_file_over_git_daemon(
    tmp_path: Path,
    registry: LocalRegistry,
    unique_repo: str,
    git_repos: GitRepos,
    git_daemon: GitDaemon,
) -> None:
    asyncio.run(seed(registry, unique_repo))
    image = f"{registry.host}/{unique_repo}"
    git_repos.create("apps", {"guestbook/kustomization.yaml": "resources: []\n"})
    url = git_daemon.repo_url("apps")
    api = KubeAPI()
    api.store.put(repository_secret("apps-repo", url))
    source = {"repoURL": url, "path": "guestbook", "targetRevision": "main", "kustomize": {}}
    api.store.put(
        application(
            "guestbook",
            {"image-list": image, "write-back-method": "git"},
            source=source,
            images=[f"{image}:1.0.0"],
        )
    )
    done = run_once(tmp_path, api, registry)
    assert done.returncode == 0, done.stderr
    assert "images_updated=1 errors=0" in done.stderr, done.stderr
    written = git_repos.read("apps", "main", "guestbook/.argocd-source-guestbook.yaml")
    assert written == f"kustomize:\n  images:\n  - {image}:1.2.0\n"
    [newest, _] = git_repos.log("apps", "main")
    assert newest[1] == "argocd-image-updater <noreply@argoproj.io>"
    assert newest[2] == (
        "build: automatic update of guestbook\n\n"
        f"updates image {unique_repo} tag '1.0.0' to '1.2.0'"
    )
    # The Application itself is untouched: the change lives in git.
    stored = api.store.get("argoproj.io", None, "applications", "argocd", "guestbook")
    assert stored is not None and stored["spec"]["source"]["kustomize"] == {}
    events = [
        e
        for e in api.store.list("", None, "events", "argocd")
        if e.get("reason") == "ImagesUpdated"
    ]
    assert events and newest[0][:12] in events[0]["message"]


def test_run_once_pushes_over_https_with_repository_credentials(
    tmp_path: Path,
    registry: LocalRegistry,
    unique_repo: str,
    git_repos: GitRepos,
    git_https: SmartHTTPServer,
    git_tls: tuple[object, Path],
) -> None:
    asyncio.run(seed(registry, unique_repo))
    image = f"{registry.host}/{unique_repo}"
    git_repos.create("apps", {"guestbook/kustomization.yaml": "resources: []\n"})
    url = git_https.repo_url("apps")
    api = KubeAPI()
    api.store.put(repository_secret("apps-repo", url, username="writer", password=GIT_PASSWORD))
    source = {"repoURL": url, "path": "guestbook", "targetRevision": "main", "kustomize": {}}
    api.store.put(
        application(
            "guestbook",
            {"image-list": image, "write-back-method": "git"},
            source=source,
            images=[f"{image}:1.0.0"],
        )
    )
    done = run_once(tmp_path, api, registry, env={"GIT_SSL_CAINFO": str(git_tls[1])})
    assert done.returncode == 0, done.stderr
    assert "images_updated=1 errors=0" in done.stderr, done.stderr
    assert GIT_PASSWORD not in done.stderr + done.stdout
    written = git_repos.read("apps", "main", "guestbook/.argocd-source-guestbook.yaml")
    assert written == f"kustomize:\n  images:\n  - {image}:1.2.0\n"


def test_argo_cds_credentials_push_only_to_repositories_the_apps_project_permits(
    tmp_path: Path,
    registry: LocalRegistry,
    unique_repo: str,
    git_repos: GitRepos,
    git_https: SmartHTTPServer,
    git_tls: tuple[object, Path],
) -> None:
    asyncio.run(seed(registry, unique_repo))
    image = f"{registry.host}/{unique_repo}"
    git_repos.create("apps", {"guestbook/kustomization.yaml": "resources: []\n"})
    git_repos.create("platform", {"guestbook/kustomization.yaml": "resources: []\n"})
    deployed, elsewhere = git_https.repo_url("apps"), git_https.repo_url("platform")
    api = KubeAPI()
    api.store.put(app_project("default", [deployed]))
    for name, url in (("apps-repo", deployed), ("platform-repo", elsewhere)):
        api.store.put(repository_secret(name, url, username="writer", password=GIT_PASSWORD))
    source = {"repoURL": deployed, "path": "guestbook", "targetRevision": "main", "kustomize": {}}
    api.store.put(
        application(
            "guestbook",
            {"image-list": image, "write-back-method": "git", "git-repository": elsewhere},
            source=source,
            images=[f"{image}:1.0.0"],
        )
    )
    done = run_once(tmp_path, api, registry, env={"GIT_SSL_CAINFO": str(git_tls[1])})
    assert done.returncode == 1, done.stderr
    assert "AppProject 'default' does not permit that repository" in done.stderr, done.stderr
    assert GIT_PASSWORD not in done.stderr + done.stdout
    assert len(git_repos.log("platform", "main")) == 1  # nothing pushed
    events = [
        e["message"]
        for e in api.store.list("", None, "events", "argocd")
        if e.get("type") == "Warning"
    ]
    assert any("does not permit that repository" in m for m in events), events


def kustomize_app(name: str, image: str, url: str, **annotations: str) -> dict[str, Any]:
    source = {"repoURL": url, "path": name, "targetRevision": "main", "kustomize": {}}
    return application(
        name,
        {"image-list": image, "write-back-method": "git", **annotations},
        source=source,
        images=[f"{image}:1.0.0"],
    )


def test_a_commit_template_that_does_not_parse_stops_run_at_start(
    tmp_path: Path, registry: LocalRegistry
) -> None:
    template = tmp_path / "commit.template"
    template.write_text("build: {{ .AppName\n")
    done = run_once(tmp_path, KubeAPI(), registry, "--git-commit-message-path", str(template))
    assert done.returncode == 2
    assert f"{template}:1:" in done.stderr
    assert "Traceback" not in done.stderr


def test_ssh_write_back_uses_the_secret_key_and_argo_cds_known_hosts(
    tmp_path: Path,
    registry: LocalRegistry,
    unique_repo: str,
    git_repos: GitRepos,
    git_ssh: SSHServer,
) -> None:
    asyncio.run(seed(registry, unique_repo))
    image = f"{registry.host}/{unique_repo}"
    git_repos.create("apps", {"web/kustomization.yaml": "resources: []\n"})
    url = git_ssh.repo_url("apps")
    api = KubeAPI()
    key = git_ssh.client_key.private
    api.store.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "git-ssh", "namespace": "argocd"},
            "data": {"sshPrivateKey": base64.b64encode(key.encode()).decode()},
        }
    )
    known_hosts = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-ssh-known-hosts-cm", "namespace": "argocd"},
        "data": {"ssh_known_hosts": git_ssh.known_hosts},
    }
    api.store.put(known_hosts)
    api.store.put(kustomize_app("web", image, url, **{"write-back-method": "git:secret:git-ssh"}))
    done = run_once(tmp_path, api, registry, "--argocd-namespace", "argocd")
    assert done.returncode == 0, done.stderr
    assert "images_updated=1 errors=0" in done.stderr, done.stderr
    assert "1.2.0" in (git_repos.read("apps", "main", "web/.argocd-source-web.yaml") or "")
    assert key.splitlines()[1] not in done.stderr

    # A host key that does not match refuses the connection: nothing is written.
    git_repos.commit("apps", "main", {"web/.argocd-source-web.yaml": None}, "reset")
    other = (
        git_ssh.known_hosts.split()[0]
        + " ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"
    )
    known_hosts["data"] = {"ssh_known_hosts": other}
    api.store.put(known_hosts)
    done = run_once(tmp_path, api, registry, "--argocd-namespace", "argocd")
    assert "errors=1" in done.stderr, done.stderr
    assert "Host key verification failed" in done.stderr
    assert git_repos.read("apps", "main", "web/.argocd-source-web.yaml") is None


def test_commits_are_signed_with_openpgp_and_signed_off(
    tmp_path: Path,
    registry: LocalRegistry,
    unique_repo: str,
    git_repos: GitRepos,
    git_daemon: GitDaemon,
) -> None:
    gnupg = Path(tempfile.mkdtemp(prefix="gpg-"))
    gnupg.chmod(0o700)
    env = {"GNUPGHOME": str(gnupg)}
    try:
        subprocess.run(
            [
                "gpg",
                "--batch",
                "--passphrase",
                "",
                "--quick-gen-key",
                "Image Updater <noreply@argoproj.io>",
                "ed25519",
                "sign",
                "never",
            ],
            env={**os.environ, **env},
            check=True,
            capture_output=True,
            timeout=60,
        )
        listing = subprocess.run(
            ["gpg", "--batch", "--with-colons", "--list-secret-keys"],
            env={**os.environ, **env},
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
        fingerprint = next(
            line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")
        )
        asyncio.run(seed(registry, unique_repo))
        image = f"{registry.host}/{unique_repo}"
        git_repos.create("apps", {"web/kustomization.yaml": "resources: []\n"})
        url = git_daemon.repo_url("apps")
        api = KubeAPI()
        api.store.put(repository_secret("apps-repo", url))
        api.store.put(kustomize_app("web", image, url))
        done = run_once(
            tmp_path,
            api,
            registry,
            "--git-commit-signing-key",
            fingerprint,
            "--git-commit-sign-off",
            "--git-commit-user",
            "Image Updater",
            env=env,
        )
        assert done.returncode == 0, done.stderr
        [newest, _] = git_repos.log("apps", "main")
        assert newest[1] == "Image Updater <noreply@argoproj.io>"
        assert newest[2].endswith("Signed-off-by: Image Updater <noreply@argoproj.io>")
        report = git_repos.verify("apps", newest[0], gnupg_home=gnupg)
        assert "Good signature" in report
    finally:
        subprocess.run(
            ["gpgconf", "--kill", "all"],
            env={**os.environ, **env},
            check=False,
            capture_output=True,
        )
        shutil.rmtree(gnupg, ignore_errors=True)
