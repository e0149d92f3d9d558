"""Unknown keys, unknown aliases, misplaced keys and empty values are never silently ignored."""

from __future__ import annotations

import pytest

from imageupdater.annotations import PREFIX, parse
from tests.annotations.builders import key, only_error, only_problem, parse_suffixes


@pytest.mark.parametrize(
    ("suffix", "meant"),
    [
        pytest.param("web.update-stratgy", "web.update-strategy", id="per-image-typo"),
        pytest.param("web.allow-tag", "web.allow-tags", id="missing-plural"),
        pytest.param("web.helm.image-nme", "web.helm.image-name", id="helm-typo"),
        pytest.param("imagelist", "image-list", id="image-list-without-dash"),
        pytest.param("write-back-methods", "write-back-method", id="write-back-typo"),
        pytest.param("git-brnach", "git-branch", id="git-branch-typo"),
    ],
)
def test_a_mistyped_key_is_an_error_suggesting_the_intended_key(suffix: str, meant: str) -> None:
    result = parse_suffixes({"image-list": "web=nginx", suffix: "x"})
    problem = only_error(result)
    assert problem.key == key(suffix)
    assert problem.message == f"unknown annotation; did you mean '{PREFIX}{meant}'?"


def test_an_unrecognisable_key_lists_the_accepted_keys() -> None:
    problem = only_error(parse_suffixes({"image-list": "nginx", "frobnicate": "1"}))
    assert problem.key == key("frobnicate")
    assert problem.message.startswith("unknown annotation; expected one of image-list, ")
    assert "<alias>.<option> with <option> one of update-strategy" in problem.message
    assert problem.message.endswith("plugin.image-spec")


def test_a_key_for_an_alias_missing_from_image_list_is_an_error() -> None:
    result = parse_suffixes({"image-list": "web=nginx, api=redis", "wbe.update-strategy": "semver"})
    problem = only_error(result)
    assert problem.key == key("wbe.update-strategy")
    assert problem.message.startswith("alias 'wbe' is not in image-list (aliases: web, api)")
    assert problem.message.endswith("; did you mean 'web'?")


def test_an_unknown_alias_without_a_close_match_only_lists_the_aliases() -> None:
    result = parse_suffixes({"image-list": "web=nginx", "database.force-update": "true"})
    problem = only_error(result)
    assert problem.message == "alias 'database' is not in image-list (aliases: web)"


def test_an_alias_key_when_image_list_has_no_aliases_explains_how_to_add_one() -> None:
    problem = only_error(parse_suffixes({"image-list": "nginx", "nginx.force-update": "true"}))
    assert problem.message == (
        "alias 'nginx' is not in image-list, which has no aliases; "
        "write the entry as 'nginx=<image>'"
    )


@pytest.mark.parametrize(
    "suffix",
    [
        "platforms",
        "tag-match",
        "helm.image-name",
        "helm.image-tag",
        "helm.image-spec",
        "kustomize.image-name",
        "plugin.image-name",
    ],
)
def test_per_image_only_options_without_an_alias_are_errors(suffix: str) -> None:
    problem = only_error(parse_suffixes({"image-list": "web=nginx", suffix: "x"}))
    assert problem.key == key(suffix)
    assert problem.message == (
        f"'{suffix}' can only be set per image: write '{PREFIX}<alias>.{suffix}' "
        "for an aliased image-list entry"
    )


@pytest.mark.parametrize(
    "suffix",
    ["update-strategy", "allow-tags", "web.pull-secret", "web.helm.image-name", "git-branch"],
)
def test_an_empty_value_is_ignored_with_a_warning(suffix: str) -> None:
    result = parse_suffixes({"image-list": "web=nginx", "write-back-method": "git", suffix: "  "})
    problem = only_problem(result)
    assert (problem.key, problem.severity) == (key(suffix), "warning")
    assert problem.message == "has an empty value, which is ignored (the default applies)"
    assert result.config is not None


def test_keys_of_other_prefixes_are_not_ours_to_judge() -> None:
    result = parse_suffixes({"image-list": "nginx"})
    assert result.problems == ()
    assert parse({PREFIX + "image-list": "nginx", "argocd.argoproj.io/sync-wave": "1"}) == result
