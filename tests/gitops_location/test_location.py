"""Where a git write-back goes, and what the review says about revisions it cannot follow."""

from __future__ import annotations

from typing import Any, cast

import pytest

from imageupdater.application import Application, select_source
from imageupdater.credentials import CredentialRules
from imageupdater.gitops.location import git_location, revision_warning
from imageupdater.policy import WriteBackConfig
from imageupdater.review import review

PREFIX = "argocd-image-updater.argoproj.io/"


def app(
    revision: str | None, *, repo: str = "https://git.example/org/apps.git", **ann: str
) -> Application:
    source: dict[str, Any] = {"repoURL": repo, "path": "apps/web", "kustomize": {}}
    if revision is not None:
        source["targetRevision"] = revision
    annotations = {PREFIX + "image-list": "nginx", PREFIX + "write-back-method": "git"}
    annotations.update({PREFIX + k: v for k, v in ann.items()})
    return cast(
        Application,
        {
            "metadata": {"name": "web", "namespace": "argocd", "annotations": annotations},
            "spec": {"source": source},
        },
    )


@pytest.mark.parametrize(
    ("revision", "branch", "checkout"),
    [
        pytest.param("main", None, "main", id="target-revision"),
        pytest.param("HEAD", None, None, id="head-is-the-default-branch"),
        pytest.param("", None, None, id="empty-is-the-default-branch"),
        pytest.param(None, None, None, id="unset-is-the-default-branch"),
        pytest.param("main", "release", "release", id="git-branch-wins"),
        pytest.param("main", "release:auto/{{.SHA256}}", "release", id="base-of-base-target"),
        pytest.param("main", ":auto", "main", id="colon-target-keeps-the-revision"),
    ],
)
def test_the_checkout_branch_is_git_branch_base_else_target_revision(
    revision: str | None, branch: str | None, checkout: str | None
) -> None:
    application = app(revision)
    config = WriteBackConfig(method="git", git_credentials="repocreds", branch=branch)
    source = select_source(application, config)
    assert source is not None
    location = git_location(source.get(application), config)
    assert (location.repository, location.checkout, location.source_path) == (
        "https://git.example/org/apps.git",
        checkout,
        "apps/web",
    )
    assert location.problem is None


def test_git_repository_overrides_the_source_repo_url() -> None:
    application = app("main")
    config = WriteBackConfig(method="git", repository="git@git.example:org/other.git")
    source = select_source(application, config)
    assert source is not None
    assert (
        git_location(source.get(application), config).repository == "git@git.example:org/other.git"
    )


def test_a_source_pinned_to_a_full_commit_sha_cannot_receive_a_git_update() -> None:
    application = app("0123456789abcdef0123456789abcdef01234567")
    config = WriteBackConfig(method="git")
    source = select_source(application, config)
    assert source is not None
    location = git_location(source.get(application), config)
    assert location.problem is not None
    assert "tracks commit 0123456789ab" in location.problem
    assert "set git-branch" in location.problem


@pytest.mark.parametrize(
    ("revision", "expected"),
    [
        pytest.param("v1.2.3", "looks like a tag", id="version-tag"),
        pytest.param("1.4", "looks like a tag", id="bare-version"),
        pytest.param("abc1234", "looks like a commit", id="short-sha"),
        pytest.param("0123456789abcdef0123456789abcdef01234567", "tracks commit", id="full-sha"),
        pytest.param("main", None, id="branch"),
        pytest.param("release-1.2", None, id="release-branch"),
        pytest.param("HEAD", None, id="head"),
    ],
)
def test_the_review_warns_about_revisions_git_write_back_cannot_follow(
    revision: str, expected: str | None
) -> None:
    found = review(app(revision), CredentialRules())
    assert found is not None and found.config is not None
    warnings = [p.message for p in found.warnings if p.message.startswith("git write-back:")]
    if expected is None:
        assert warnings == []
    else:
        assert len(warnings) == 1 and expected in warnings[0], warnings


def test_a_tag_revision_is_fine_when_git_branch_names_the_branch_to_commit_to() -> None:
    found = review(app("v1.2.3", **{"git-branch": "main"}), CredentialRules())
    assert found is not None
    assert not [p for p in found.warnings if p.message.startswith("git write-back:")]


def test_revision_warning_is_silent_for_the_argocd_method() -> None:
    application = app("v1.2.3")
    config = WriteBackConfig(method="argocd")
    source = select_source(application, config)
    assert source is not None
    # The review asks only for git; the function itself judges what it is given.
    assert revision_warning(source.get(application), WriteBackConfig(method="git")) is not None
    found = review(
        cast(
            Application,
            {
                **application,
                "metadata": {
                    "name": "web",
                    "namespace": "argocd",
                    "annotations": {PREFIX + "image-list": "nginx"},
                },
            },
        ),
        CredentialRules(),
    )
    assert found is not None and not [p for p in found.warnings if "git write-back" in p.message]
