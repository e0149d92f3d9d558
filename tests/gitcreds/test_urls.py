"""Argo CD's URL normalisation and SSH detection: upstream's vectors, and the edges that
decide which Secret a repository gets (trailing '/', ports, scp-like forms)."""

from __future__ import annotations

import pytest

from imageupdater.gitcreds import is_ssh_url, normalize_repo_url, same_repo_url


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        pytest.param(
            "git@github.com:argoproj/argo-cd", "git@github.com/argoproj/argo-cd", id="scp"
        ),
        pytest.param(
            "git@github.com:argoproj/argo-cd.git",
            "git@github.com/argoproj/argo-cd",
            id="scp-dot-git",
        ),
        pytest.param(
            "git@GITHUB.COM:argoproj/argo-cd.git",
            "git@github.com/argoproj/argo-cd",
            id="scp-upper-host",
        ),
        pytest.param(
            "  git@github.com:argoproj/argo-cd.git  ",
            "git@github.com/argoproj/argo-cd",
            id="scp-spaces",
        ),
        pytest.param(
            "ssh://git@github.com/argoproj/argo-cd",
            "git@github.com/argoproj/argo-cd",
            id="ssh-scheme",
        ),
        pytest.param(
            "ssh://git@github.com/argoproj/argo-cd.git",
            "git@github.com/argoproj/argo-cd",
            id="ssh-scheme-dot-git",
        ),
        pytest.param(
            "https://github.com/argoproj/argo-cd", "https://github.com/argoproj/argo-cd", id="https"
        ),
        pytest.param(
            "https://github.com/argoproj/argo-cd.git",
            "https://github.com/argoproj/argo-cd",
            id="https-dot-git",
        ),
        pytest.param(
            "https://GITHUB.COM/argoproj/argo-cd.git",
            "https://github.com/argoproj/argo-cd",
            id="https-upper",
        ),
        pytest.param(
            "https://github.com:4443/argoproj/argo-cd.git",
            "https://github.com:4443/argoproj/argo-cd",
            id="https-port",
        ),
        pytest.param(
            "\thttps://github.com/argoproj/argo-cd.git\n",
            "https://github.com/argoproj/argo-cd",
            id="https-whitespace",
        ),
        pytest.param(
            "https://dev.azure.com/org/proj/_git/repo",
            "https://dev.azure.com/org/proj/_git/repo",
            id="azure-devops",
        ),
        pytest.param(
            "https://github.com/org/repo/", "https://github.com/org/repo/", id="trailing-slash-kept"
        ),
        pytest.param(
            "https://github.com/org/repo.git.git",
            "https://github.com/org/repo.git",
            id="one-dot-git-only",
        ),
        pytest.param(
            "https://github.com/org/my repo", "https://github.com/org/my%20repo", id="space-escaped"
        ),
        pytest.param(
            "https://github.com/org/a%2fb", "https://github.com/org/a%2fb", id="escape-kept"
        ),
        pytest.param("git://127.0.0.1:9418/repo.git", "git://127.0.0.1:9418/repo", id="git-daemon"),
        pytest.param("https://github.com:abc/org/repo", "", id="bad-port"),
        pytest.param("ssh://git@github.com:test.git", "", id="ssh-scheme-with-scp-colon"),
        pytest.param("https://github.com/org/%zz", "", id="bad-escape"),
        pytest.param("https://github.com/org/re\x01po", "", id="control-character"),
        pytest.param("", "", id="empty"),
    ],
)
def test_urls_normalise_as_argo_cd_does(url: str, normalized: str) -> None:
    assert normalize_repo_url(url) == normalized


# Upstream's SameURL table, and pairs that look alike but are different repositories to Argo CD.
@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        pytest.param(
            "git@GITHUB.com:argoproj/test",
            "git@github.com:argoproj/test.git",
            True,
            id="scp-case-dot-git",
        ),
        pytest.param("git@GITHUB.com:test", "git@github.com:test.git", True, id="scp-short"),
        pytest.param(
            "https://GITHUB.com/argoproj/test",
            "https://github.com/argoproj/test.git",
            True,
            id="https-case",
        ),
        pytest.param("https://github.com/FOO", "https://github.com/foo", True, id="path-case"),
        pytest.param(
            "https://github.com:4443/TEST.git", "https://github.com:4443/TEST", True, id="port-both"
        ),
        pytest.param(
            "ssh://git@GITHUB.com/argoproj/test",
            "git@github.com:argoproj/test.git",
            True,
            id="ssh-scheme-vs-scp",
        ),
        pytest.param("ssh://git@github.com/test", "git@github.com:test.git", True, id="ssh-short"),
        pytest.param(
            " https://github.com/argoproj/test ",
            "https://github.com/argoproj/test.git",
            True,
            id="spaces",
        ),
        pytest.param(
            "https://1234.visualstudio.com/myproj/_git/myrepo",
            "https://1234.visualstudio.com/myproj/_git/myrepo",
            True,
            id="visualstudio",
        ),
        pytest.param(
            "https://github.com/org/repo/",
            "https://github.com/org/repo",
            False,
            id="trailing-slash",
        ),
        pytest.param(
            "https://github.com:443/org/repo",
            "https://github.com/org/repo",
            False,
            id="explicit-port",
        ),
        pytest.param(
            "https://github.com/org/repo", "git@github.com:org/repo", False, id="https-vs-ssh"
        ),
        pytest.param(
            "ssh://git@github.com:22/org/repo", "git@github.com:org/repo", False, id="ssh-port"
        ),
        pytest.param(
            "https://github.com/org/repo", "https://gitlab.com/org/repo", False, id="other-host"
        ),
        pytest.param("", "", False, id="empty-is-never-the-same"),
        pytest.param("https://h:x/r", "https://h:x/r", False, id="unparseable-is-never-the-same"),
    ],
)
def test_two_urls_are_the_same_repository_exactly_when_argo_cd_says_so(
    left: str, right: str, same: bool
) -> None:
    assert same_repo_url(left, right) is same
    assert same_repo_url(right, left) is same


@pytest.mark.parametrize(
    ("url", "ssh"),
    [
        pytest.param("git://github.com/argoproj/test.git", False, id="git-daemon"),
        pytest.param("git@GITHUB.com:argoproj/test.git", True, id="scp"),
        pytest.param("git@github.com:test", True, id="scp-short"),
        pytest.param("https://github.com/argoproj/test", False, id="https"),
        pytest.param("https://user@github.com/argoproj/test", False, id="https-with-user"),
        pytest.param("ssh://git@GITHUB.com:argoproj/test", True, id="ssh-scheme-scp-colon"),
        pytest.param("ssh://john@john-server.org:29418/project", True, id="ssh-port"),
        pytest.param("john@doe.org@john-server.org:29418/project", True, id="user-with-at"),
        pytest.param("ssh://host.example/repo", True, id="ssh-scheme-without-user"),
        pytest.param("host.example:org/repo", True, id="scp-without-user"),
        pytest.param("/srv/git/repo", False, id="local-path"),
        pytest.param("file:///srv/git/repo", False, id="file-url"),
        pytest.param("http://github.com/org/repo", False, id="http"),
    ],
)
def test_ssh_urls_are_recognised(url: str, ssh: bool) -> None:
    assert is_ssh_url(url) is ssh
