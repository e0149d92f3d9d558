"""Fixtures for the git writer: a GitWriter over a real git server, in a real cycle."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from devcluster.gitserver import GitDaemon, GitRepos
from imageupdater.git.repos import GitRepositories, Identity
from imageupdater.gitcreds import GitCredentials
from imageupdater.gitops.messages import load_commit_template
from reconciler.cycle import Cycle
from reconciler.gitwriter import CommitSettings, GitWriter
from reconciler.metrics import GitMetrics
from tests.reconciler.conftest import application

AUTHOR = Identity("argocd-image-updater", "noreply@argoproj.io")


def git_app(
    name: str,
    image: str,
    url: str,
    *,
    running: str = "1.0.0",
    path: str | None = None,
    extra: dict[str, str] | None = None,
    namespace: str = "argocd",
    source: dict[str, Any] | None = None,
    constraint: str | None = None,
    alias: str | None = None,
) -> dict[str, Any]:
    listed = f"{image}:{constraint}" if constraint else image
    listed = f"{alias}={listed}" if alias else listed
    annotations = {"image-list": listed, "write-back-method": "git", **(extra or {})}
    block = source or {
        "repoURL": url,
        "path": path if path is not None else f"apps/{name}",
        "targetRevision": "main",
        "kustomize": {},
    }
    return application(
        name,
        annotations,
        source=block,
        images=[f"{image}:{running}"],
        namespace=namespace,
    )


class WriterKit:
    """A GitWriter with its cache, metrics and dry-run output, and a cycle that uses it."""

    def __init__(
        self,
        tmp_path: Path,
        make_cycle: Callable[..., Cycle],
        *,
        name: str = "writer",
        settings: CommitSettings | None = None,
        credentials: GitCredentials | None = None,
        **writer_options: Any,
    ) -> None:
        self.registry = CollectorRegistry()
        self.metrics = GitMetrics(self.registry)
        self.repos = GitRepositories(
            tmp_path / f"cache-{name}", timeout=30, observe=self.metrics.observe
        )
        self.output = io.StringIO()
        self.lookups: list[tuple[str, str, str, str]] = []
        creds = credentials or GitCredentials()

        async def lookup(ref: str, namespace: str, project: str, repo: str) -> GitCredentials:
            self.lookups.append((ref, namespace, project, repo))
            return creds

        async def no_known_hosts() -> str:
            return ""

        self.writer = GitWriter(
            self.repos,
            credentials=lookup,
            settings=settings
            or CommitSettings(author=AUTHOR, template=load_commit_template(None, explicit=False)),
            known_hosts=no_known_hosts,
            argocd_namespace="argocd",
            metrics=self.metrics,
            preview_out=self.output,
            **writer_options,
        )
        self.make_cycle = make_cycle

    def cycle(self, **options: Any) -> Cycle:
        return self.make_cycle(writers={"git": self.writer}, **options)

    def value(self, name: str, labels: dict[str, str] | None = None) -> float:
        found = self.registry.get_sample_value(name, labels or {})
        return found or 0.0


@pytest.fixture
def kit(tmp_path: Path, make_cycle: Callable[..., Cycle]) -> Callable[..., WriterKit]:
    def build(**options: Any) -> WriterKit:
        return WriterKit(tmp_path, make_cycle, **options)

    return build


@pytest.fixture
def remote(git_repos: GitRepos, git_daemon: GitDaemon) -> tuple[GitRepos, str]:
    """A repository ``apps`` with three kustomize apps, served by git daemon."""
    git_repos.create(
        "apps",
        {f"apps/{n}/kustomization.yaml": "resources: []\n" for n in ("a", "b", "c")}
        | {"README.md": "GitOps\n"},
    )
    return git_repos, git_daemon.repo_url("apps")
