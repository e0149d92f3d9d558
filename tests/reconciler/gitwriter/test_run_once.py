"""``image-updater run --once`` with git write-back, end to end: the API emulator, the real
registry and a real git server; the commit lands in the repository."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from devcluster.gitserver import GitDaemon, GitRepos, SmartHTTPServer
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


def run_once(
    tmp_path: Path,
    api: KubeAPI,
    registry: LocalRegistry,
    *extra: str,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
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
