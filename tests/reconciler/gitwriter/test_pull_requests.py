"""Pull-request mode against a real git server over HTTPS and the GitHub/GitLab emulators:
one open pull request per target, updated in place; upstream's per-change branches with the
superseded pull request closed."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devcluster.gitserver import GitRepos, SmartHTTPServer
from devcluster.kubeapi import KubeAPI
from devcluster.scm import GitHubEmulator, GitLabEmulator, github_emulator, gitlab_emulator
from imageupdater.gitcreds import GitCredentials
from imageupdater.gitops.messages import load_commit_template
from imageupdater.scm import PullRequests, pull_requests
from imageupdater.scm.githubapp import GitHubAppTokens
from reconciler.gitwriter import CommitSettings
from tests.conftest import GIT_PASSWORD
from tests.reconciler.conftest import stored
from tests.reconciler.gitwriter.conftest import AUTHOR, WriterKit, git_app

Seeded = Callable[[list[str]], Awaitable[str]]
Kit = Callable[..., WriterKit]
CREDS = GitCredentials(username="writer", password=GIT_PASSWORD, source="test")


@pytest.fixture
def https_env(git_tls: tuple[object, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_SSL_CAINFO", str(git_tls[1]))


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def github() -> AsyncIterator[GitHubEmulator]:
    async with github_emulator(token=GIT_PASSWORD) as emulator:
        yield emulator


@pytest.fixture
async def gitlab() -> AsyncIterator[GitLabEmulator]:
    async with gitlab_emulator(token=GIT_PASSWORD) as emulator:
        yield emulator


def clients(session: aiohttp.ClientSession, api: Any) -> Callable[[str, str, str], PullRequests]:
    def build(provider: str, repository: str, token: str) -> PullRequests:
        return pull_requests(
            provider, repo_url=repository, token=token, session=session, api_url=str(api.url)
        )

    return build


def settings(branches: str = "stable") -> CommitSettings:
    return CommitSettings(
        author=AUTHOR,
        template=load_commit_template(None, explicit=False),
        pull_request_branches=branches,  # type: ignore[arg-type]
    )


def pr_app(name: str, image: str, url: str, constraint: str, provider: str) -> dict[str, Any]:
    return git_app(
        name,
        image,
        url,
        constraint=constraint,
        extra={
            "git-branch": "main",
            "git-pull-request": provider,
            "git-pull-request-labels": "image-updater,automated",
        },
    )


async def test_one_pull_request_per_target_is_opened_then_updated_in_place(
    kube_api: KubeAPI,
    seeded: Seeded,
    kit: Kit,
    git_repos: GitRepos,
    git_https: SmartHTTPServer,
    https_env: None,
    github: GitHubEmulator,
    session: aiohttp.ClientSession,
) -> None:
    git_repos.create("acme/apps", {"apps/a/kustomization.yaml": "resources: []\n"})
    url = git_https.repo_url("acme/apps")
    image = await seeded(["1.0.0", "1.1.0", "2.0.0"])
    kube_api.store.put(pr_app("a", image, url, "^1.0", "github"))
    k = kit(credentials=CREDS, settings=settings(), pull_requests=clients(session, github))
    result = await k.cycle().run([stored(kube_api, "a")])
    assert result.errors == 0, result
    [pr] = github.pulls
    assert pr.head.startswith("image-updater-") and pr.base == "main"
    assert pr.title == "build: automatic update of a"
    assert "1.1.0" in pr.body
    assert sorted(pr.labels) == ["automated", "image-updater"]
    assert git_repos.tip("acme/apps", "main") is not None
    assert "1.1.0" in (git_repos.read("acme/apps", pr.head, "apps/a/.argocd-source-a.yaml") or "")
    events = [
        e
        for e in kube_api.store.list("", None, "events", "argocd")
        if e["reason"] == "ImagesUpdated"
    ]
    assert "pull request" in events[0]["message"]

    kube_api.store.put(pr_app("a", image, url, "^2.0", "github"))
    again = kit(
        name="again", credentials=CREDS, settings=settings(), pull_requests=clients(session, github)
    )
    await again.cycle().run([stored(kube_api, "a")])
    assert len(github.pulls) == 1  # the same pull request, updated
    assert "2.0.0" in github.pulls[0].body
    assert "2.0.0" in (git_repos.read("acme/apps", pr.head, "apps/a/.argocd-source-a.yaml") or "")
    # The base branch was never written to.
    assert git_repos.read("acme/apps", "main", "apps/a/.argocd-source-a.yaml") is None


async def test_per_change_branches_close_the_pull_request_they_supersede(
    kube_api: KubeAPI,
    seeded: Seeded,
    kit: Kit,
    git_repos: GitRepos,
    git_https: SmartHTTPServer,
    https_env: None,
    github: GitHubEmulator,
    session: aiohttp.ClientSession,
) -> None:
    git_repos.create("acme/apps", {"apps/a/kustomization.yaml": "resources: []\n"})
    url = git_https.repo_url("acme/apps")
    image = await seeded(["1.0.0", "1.1.0", "2.0.0"])
    kube_api.store.put(pr_app("a", image, url, "^1.0", "github"))
    options = {"settings": settings("per-change"), "pull_requests": clients(session, github)}
    await kit(credentials=CREDS, **options).cycle().run([stored(kube_api, "a")])
    kube_api.store.put(pr_app("a", image, url, "^2.0", "github"))
    await kit(name="again", credentials=CREDS, **options).cycle().run([stored(kube_api, "a")])
    first, second = sorted(github.pulls, key=lambda p: p.number)
    assert first.head != second.head
    assert first.state == "closed" and second.state == "open"
    assert any(second.head in c or "Superseded" in c for c in first.comments)


async def test_gitlab_merge_requests_work_the_same_way(
    kube_api: KubeAPI,
    seeded: Seeded,
    kit: Kit,
    git_repos: GitRepos,
    git_https: SmartHTTPServer,
    https_env: None,
    gitlab: GitLabEmulator,
    session: aiohttp.ClientSession,
) -> None:
    git_repos.create("group/sub/apps", {"apps/a/kustomization.yaml": "resources: []\n"})
    url = git_https.repo_url("group/sub/apps")
    image = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(pr_app("a", image, url, "^1.0", "gitlab"))
    k = kit(credentials=CREDS, settings=settings(), pull_requests=clients(session, gitlab))
    result = await k.cycle().run([stored(kube_api, "a")])
    assert result.errors == 0
    [mr] = gitlab.pulls
    assert mr.repo == "group/sub/apps" and mr.base == "main"
    assert sorted(mr.labels) == ["automated", "image-updater"]


async def test_pull_requests_need_token_credentials(
    kube_api: KubeAPI,
    seeded: Seeded,
    kit: Kit,
    git_repos: GitRepos,
    git_https: SmartHTTPServer,
    https_env: None,
    github: GitHubEmulator,
    session: aiohttp.ClientSession,
) -> None:
    git_repos.create("acme/apps", {"apps/a/kustomization.yaml": "resources: []\n"})
    image = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(pr_app("a", image, git_https.repo_url("acme/apps"), "^1.0", "github"))
    k = kit(
        credentials=GitCredentials(insecure=True, source="test"),
        settings=settings(),
        pull_requests=clients(session, github),
    )
    result = await k.cycle().run([stored(kube_api, "a")])
    assert result.errors == 1
    assert github.pulls == []


class _MintedTokens(Mapping[str, str]):
    """The git server's users: ``x-access-token`` with the newest token GitHub minted."""

    def __init__(self, github: GitHubEmulator) -> None:
        self.github = github

    def __getitem__(self, user: str) -> str:
        if user != "x-access-token" or not self.github.minted:
            raise KeyError(user)
        return self.github.minted[-1]

    def __iter__(self) -> Iterator[str]:
        return iter(["x-access-token"] if self.github.minted else [])

    def __len__(self) -> int:
        return 1 if self.github.minted else 0


async def test_github_app_credentials_push_with_an_installation_token_minted_once(
    kube_api: KubeAPI,
    seeded: Seeded,
    kit: Kit,
    git_repos: GitRepos,
    git_tls: tuple[ssl.SSLContext, Path],
    https_env: None,
    github: GitHubEmulator,
    session: aiohttp.ClientSession,
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    github.register_app("123", public, installations=["456"])
    tokens = GitHubAppTokens(session, api_url=str(github.url))

    async def mint(creds: GitCredentials) -> str:
        assert creds.github_app_private_key is not None
        return await tokens.token("123", "456", creds.github_app_private_key, None)

    app_creds = GitCredentials(
        github_app_id="123",
        github_app_installation_id="456",
        github_app_private_key=pem,
        source="test",
    )
    git_repos.create("acme/apps", {"apps/a/kustomization.yaml": "resources: []\n"})
    image = await seeded(["1.0.0", "1.1.0", "2.0.0"])
    with SmartHTTPServer(git_repos, users=_MintedTokens(github), tls=git_tls[0]) as server:
        url = server.repo_url("acme/apps")
        kube_api.store.put(pr_app("a", image, url, "^1.0", "github"))
        k = kit(
            credentials=app_creds,
            settings=settings(),
            pull_requests=clients(session, github),
            app_token=mint,
        )
        result = await k.cycle().run([stored(kube_api, "a")])
        assert result.errors == 0, result
        kube_api.store.put(pr_app("a", image, url, "^2.0", "github"))
        await (
            kit(
                name="again",
                credentials=app_creds,
                settings=settings(),
                pull_requests=clients(session, github),
                app_token=mint,
            )
            .cycle()
            .run([stored(kube_api, "a")])
        )
    assert len(github.minted) == 1  # cached until it expires
    [pr] = github.pulls
    assert "2.0.0" in pr.body
