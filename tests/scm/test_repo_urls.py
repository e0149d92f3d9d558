"""Repository URLs: owner/repo and GitLab project paths from https, ssh and scp-like URLs,
the API base derived from them, and the factory's refusals of bad configuration."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from imageupdater.errors import InvalidInput
from imageupdater.scm import (
    RepoLocation,
    api_base_url,
    parse_repo_url,
    pull_requests,
    truncate,
)
from imageupdater.scm.github import GitHubPullRequests
from imageupdater.scm.gitlab import GitLabMergeRequests


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.mark.parametrize(
    ("url", "scheme", "host", "port", "path"),
    [
        pytest.param("https://github.com/owner/repo", "https", "github.com", None, "owner/repo",
                     id="https"),
        pytest.param("https://github.com/owner/repo.git", "https", "github.com", None,
                     "owner/repo", id="https-dot-git"),
        pytest.param("https://github.com/owner/repo/", "https", "github.com", None, "owner/repo",
                     id="https-trailing-slash"),
        pytest.param("https://user:pw@GitHub.com/owner/repo.git", "https", "github.com", None,
                     "owner/repo", id="https-with-userinfo-and-uppercase-host"),
        pytest.param("https://ghe.example:8443/owner/repo.git", "https", "ghe.example", 8443,
                     "owner/repo", id="https-with-port"),
        pytest.param("http://127.0.0.1:8080/owner/repo", "http", "127.0.0.1", 8080,
                     "owner/repo", id="plain-http-keeps-scheme-and-port"),
        pytest.param("ssh://git@github.com/owner/repo.git", "https", "github.com", None,
                     "owner/repo", id="ssh"),
        pytest.param("ssh://git@gitlab.example:2222/group/sub/project.git", "https",
                     "gitlab.example", None, "group/sub/project", id="ssh-port-is-not-the-api"),
        pytest.param("git@github.com:owner/repo.git", "https", "github.com", None, "owner/repo",
                     id="scp-like"),
        pytest.param("git@gitlab.com:a/b/c/d.git", "https", "gitlab.com", None, "a/b/c/d",
                     id="scp-like-nested-groups"),
        pytest.param("gitlab.example:group/project", "https", "gitlab.example", None,
                     "group/project", id="scp-like-without-user"),
        pytest.param("https://gitlab.example/group/sub/project.git", "https", "gitlab.example",
                     None, "group/sub/project", id="https-nested-groups"),
    ],
)  # fmt: skip
def test_repository_urls_are_parsed_into_host_and_path(
    url: str, scheme: str, host: str, port: int | None, path: str
) -> None:
    assert parse_repo_url(url) == RepoLocation(scheme=scheme, host=host, port=port, path=path)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("", id="empty"),
        pytest.param("https://github.com/owner", id="no-repository"),
        pytest.param("https://github.com/", id="no-path"),
        pytest.param("https:///owner/repo", id="no-host"),
        pytest.param("ftp://host/owner/repo", id="unsupported-scheme"),
        pytest.param("/srv/git/owner/repo", id="a-local-path"),
        pytest.param("https://github.com/owner/../repo", id="dot-dot"),
        pytest.param("https://github.com/owner//repo", id="empty-segment"),
        pytest.param("git@github.com:/owner/repo", id="scp-like-absolute"),
        pytest.param("https://github.com/own er/repo", id="whitespace"),
    ],
)
def test_urls_without_a_host_and_project_path_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput, match="expected https://host/owner/repo"):
        parse_repo_url(url)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://user:hunter2@github.com/owner", id="password"),
        pytest.param("https://hunter2@github.com/owner", id="token-as-user"),
    ],
)
def test_credentials_in_a_refused_url_are_not_repeated(url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_repo_url(url)
    assert "hunter2" not in str(caught.value)
    assert "https://github.com/owner" in str(caught.value)


@pytest.mark.parametrize(
    ("provider", "url", "api"),
    [
        pytest.param("github", "https://github.com/o/r", "https://api.github.com", id="github.com"),
        pytest.param("github", "git@github.com:o/r.git", "https://api.github.com",
                     id="github.com-scp"),
        pytest.param("github", "https://ghe.example/o/r", "https://ghe.example/api/v3",
                     id="enterprise"),
        pytest.param("github", "ssh://git@ghe.example:2222/o/r", "https://ghe.example/api/v3",
                     id="enterprise-ssh"),
        pytest.param("github", "https://ghe.example:8443/o/r", "https://ghe.example:8443/api/v3",
                     id="enterprise-port"),
        pytest.param("gitlab", "https://gitlab.com/g/p", "https://gitlab.com/api/v4",
                     id="gitlab.com"),
        pytest.param("gitlab", "git@gitlab.example:g/s/p.git", "https://gitlab.example/api/v4",
                     id="self-managed"),
    ],
)  # fmt: skip
def test_the_api_base_is_derived_from_the_repository_host(
    provider: str, url: str, api: str
) -> None:
    assert provider in ("github", "gitlab")
    assert str(api_base_url(provider, parse_repo_url(url))) == api  # type: ignore[arg-type]


async def test_the_factory_builds_the_provider_client_for_the_repository(
    session: aiohttp.ClientSession,
) -> None:
    gh = pull_requests("GitHub", repo_url="git@github.com:o/r.git", token="t", session=session)
    assert isinstance(gh, GitHubPullRequests)
    assert (gh.owner, gh.repo, str(gh.api_url)) == ("o", "r", "https://api.github.com")
    gl = pull_requests("gitlab", repo_url="https://gl.example/g/s/p", token="t", session=session)
    assert isinstance(gl, GitLabMergeRequests)
    assert (gl.project, str(gl.api_url)) == ("g/s/p", "https://gl.example/api/v4")
    explicit = pull_requests(
        "gitlab", repo_url="https://gl.example/g/p", token="t", session=session,
        api_url="https://gitlab-api.internal/api/v4/",
    )  # fmt: skip
    assert isinstance(explicit, GitLabMergeRequests)
    assert str(explicit.api_url) == "https://gitlab-api.internal/api/v4"


@pytest.mark.parametrize(
    ("provider", "url", "token", "api_url", "message"),
    [
        pytest.param("bitbucket", "https://h/o/r", "t", None, "expected 'github' or 'gitlab'",
                     id="unknown-provider"),
        pytest.param("github", "https://h/o/r", "", None, "needs an API token", id="no-token"),
        pytest.param("github", "https://h/g/s/p", "t", None, "owner/repo", id="github-nesting"),
        pytest.param("github", "https://h/o/r", "t", "ftp://x", r"not an http\(s\) URL",
                     id="bad-api-url"),
        pytest.param("github", "https://h/o/r", "t", "https://u:secret@x/api", "credentials",
                     id="api-url-with-credentials"),
    ],
)  # fmt: skip
async def test_the_factory_refuses_bad_configuration(
    session: aiohttp.ClientSession,
    provider: str,
    url: str,
    token: str,
    api_url: str | None,
    message: str,
) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        pull_requests(provider, repo_url=url, token=token, session=session, api_url=api_url)
    assert "secret" not in str(caught.value)


_segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12)


@given(
    host=st.sampled_from(["github.com", "gitlab.example", "ghe.corp.example"]),
    parts=st.lists(_segment, min_size=2, max_size=5),
    form=st.sampled_from(["https://{h}/{p}", "https://{h}/{p}.git", "ssh://git@{h}/{p}.git",
                          "git@{h}:{p}.git", "git@{h}:{p}"]),
)  # fmt: skip
def test_every_url_form_of_a_repository_gives_the_same_host_and_path(
    host: str, parts: list[str], form: str
) -> None:
    path = "/".join(parts)
    location = parse_repo_url(form.format(h=host, p=path))
    assert (location.host, location.path) == (host, path)


@given(st.text(max_size=400), st.integers(min_value=0, max_value=300))
def test_truncation_keeps_a_prefix_within_the_limit(text: str, limit: int) -> None:
    cut = truncate(text, limit)
    assert len(cut) <= limit and text.startswith(cut)
    assert cut == text or len(cut) == limit
