"""AppProject ``sourceRepos`` as Argo CD reads them, before Argo CD's credentials are used."""

from __future__ import annotations

from typing import Any

import pytest

from imageupdater.errors import CredentialError
from imageupdater.gitcreds.projects import check_source_permitted, source_permitted

REPO = "https://github.com/org/apps.git"


@pytest.mark.parametrize(
    ("entries", "permitted"),
    [
        (["*"], True),
        ([], False),
        (["https://github.com/org/apps"], True),  # .git and case do not matter
        (["HTTPS://GITHUB.COM/ORG/APPS.GIT"], True),
        (["https://github.com/org/*"], True),
        (["https://github.com/*"], True),  # '*' spans '/', as gobwas without separators
        (["https://github.com/other/*"], False),
        (["https://gitlab.com/org/apps"], False),
        (["*", "!https://github.com/org/apps"], False),  # a deny entry wins
        (["!https://github.com/org/apps"], False),
        (["!https://github.com/other/*"], True),  # a deny that does not exclude it counts
        # Normalising escapes '{' and '}' (Go's net/url), so alternatives never match there.
        (["https://github.com/org/{apps,web}"], False),
        (["https://github.com/org/[a-z]pps"], True),
        (["git@github.com:org/apps.git"], False),  # another transport is another URL
    ],
)
def test_source_repos_are_matched_as_argo_cd_matches_them(
    entries: list[str], permitted: bool
) -> None:
    assert source_permitted(REPO, entries) is permitted


def test_scp_like_ssh_urls_match_their_normalised_form() -> None:
    assert source_permitted("git@github.com:org/apps.git", ["git@github.com:org/*"])


def test_a_broken_glob_refuses_the_write_naming_the_entry() -> None:
    with pytest.raises(ValueError, match=r"sourceRepos entry '!https://x/\[' is not a valid glob"):
        source_permitted(REPO, ["*", "!https://x/["])


def project(entries: Any) -> dict[str, Any]:
    return {"metadata": {"name": "team"}, "spec": {"sourceRepos": entries}}


def test_a_project_that_does_not_permit_the_repository_is_named_with_its_entries() -> None:
    with pytest.raises(CredentialError) as caught:
        check_source_permitted(REPO, "team", project(["https://github.com/team/*"]))
    message = str(caught.value)
    assert "AppProject 'team' does not permit that repository" in message
    assert "'https://github.com/team/*'" in message


def test_a_missing_project_refuses_rather_than_allows() -> None:
    with pytest.raises(CredentialError, match="AppProject 'gone' does not exist"):
        check_source_permitted(REPO, "gone", None)


def test_a_project_without_source_repos_permits_nothing() -> None:
    with pytest.raises(CredentialError, match="its sourceRepos: none"):
        check_source_permitted(REPO, "team", {"spec": {}})


def test_credentials_in_the_url_never_reach_the_message() -> None:
    with pytest.raises(CredentialError) as caught:
        check_source_permitted("https://user:s3cret@github.com/org/apps.git", "team", project([]))
    assert "s3cret" not in str(caught.value)


def test_a_permitted_repository_passes() -> None:
    check_source_permitted(REPO, "team", project(["https://github.com/org/*"]))
