"""The caps on what one Application's annotations may ask of a review, each named in the
error that reports it."""

from __future__ import annotations

import pytest

from imageupdater.annotations import limits, parse
from tests.annotations.builders import key, only_error, parse_suffixes

IMAGE_LIST = key("image-list")


def _image_list(count: int) -> str:
    return ", ".join(f"a{i}=ghcr.io/acme/a{i}" for i in range(count))


def test_more_annotations_than_the_key_cap_are_denied_before_any_is_parsed() -> None:
    annotations = {IMAGE_LIST: "web=nginx"}
    annotations |= {key(f"web.update-stratgy-{i}"): "semver" for i in range(limits.MAX_KEYS)}
    error = only_error(parse(annotations))
    assert error.key == key("*")
    assert f"at most {limits.MAX_KEYS} are accepted" in error.message


def test_annotations_longer_together_than_the_total_cap_are_denied() -> None:
    annotations = {IMAGE_LIST: "web=nginx"}
    annotations |= {key(f"x{i}.update-strategy"): "s" * 1500 for i in range(25)}
    error = only_error(parse(annotations))
    assert f"at most {limits.MAX_TOTAL_LENGTH} are accepted" in error.message


def test_a_value_over_its_length_cap_is_an_error_for_that_key_alone() -> None:
    result = parse_suffixes(
        {"image-list": "web=nginx", "web.allow-tags": "regexp:" + "a" * limits.MAX_VALUE_LENGTH}
    )
    error = only_error(result)
    assert error.key == key("web.allow-tags")
    assert f"at most {limits.MAX_VALUE_LENGTH} are accepted" in error.message


def test_an_image_list_with_more_entries_than_the_cap_is_denied_naming_it() -> None:
    error = only_error(parse_suffixes({"image-list": _image_list(limits.MAX_IMAGES + 1)}))
    assert f"at most {limits.MAX_IMAGES} are accepted" in error.message


def test_an_image_list_at_the_entry_cap_is_accepted() -> None:
    result = parse_suffixes({"image-list": _image_list(limits.MAX_IMAGES)})
    assert result.config is not None and len(result.config.images) == limits.MAX_IMAGES


def test_a_constraint_longer_than_a_tag_may_be_is_denied() -> None:
    constraint = ">=1.0.0 " * 20
    error = only_error(parse_suffixes({"image-list": f"web=nginx:{constraint.strip()}"}))
    assert f"at most {limits.MAX_CONSTRAINT_LENGTH} are accepted" in error.message


def test_constraints_longer_together_than_their_total_cap_are_denied() -> None:
    constraint = ">=1.0.0 <2.0.0 || ~3.1 || " * 4 + "4.x"
    count = limits.MAX_CONSTRAINTS_LENGTH // len(constraint) + 1
    entries = ", ".join(f"a{i}=ghcr.io/acme/a{i}:{constraint}" for i in range(count))
    result = parse_suffixes({"image-list": entries})
    assert result.config is None
    assert any(
        f"more than {limits.MAX_CONSTRAINTS_LENGTH} characters long together" in p.message
        for p in result.errors
    )


def test_ignore_tags_globs_beyond_the_applications_budget_are_denied() -> None:
    per_alias = limits.MAX_GLOBS // 2 + 1
    result = parse_suffixes(
        {
            "image-list": "a=nginx, b=redis",
            "a.ignore-tags": ",".join(f"v{i}*" for i in range(per_alias)),
            "b.ignore-tags": ",".join(f"v{i}*" for i in range(per_alias)),
        }
    )
    error = only_error(result)
    assert error.key == key("b.ignore-tags")
    assert f"at most {limits.MAX_GLOBS}" in error.message


def test_typos_past_the_suggestion_budget_are_still_reported_without_a_suggestion() -> None:
    typos = {f"web.update-stratgy{i}": "semver" for i in range(limits.MAX_SUGGESTIONS + 3)}
    result = parse_suffixes({"image-list": "web=nginx", **typos})
    messages = [p.message for p in result.errors]
    assert len(messages) == limits.MAX_SUGGESTIONS + 3
    assert sum("did you mean" in m for m in messages) == limits.MAX_SUGGESTIONS
    assert all("unknown annotation" in m for m in messages)


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("web.update-stratgy", "web.update-strategy"),
        ("web.helm.image-nme", "web.helm.image-name"),
        ("web.ignoretags", "web.ignore-tags"),
        ("write-back-metod", "write-back-method"),
        ("imagelist", "image-list"),
        ("team/web.allow-tag", "team/web.allow-tags"),
    ],
    ids=lambda text: text,
)
def test_the_piecewise_suggestion_finds_what_a_typo_meant(typo: str, meant: str) -> None:
    result = parse_suffixes({"image-list": "web=nginx, team/web=redis", typo: "x"})
    (error,) = [p for p in result.errors if p.key == key(typo)]
    assert f"did you mean '{key(meant)}'?" in error.message


def test_the_hostile_set_that_once_pinned_the_loop_is_denied_by_a_cap() -> None:
    annotations = {IMAGE_LIST: ", ".join(f"a{i}=ghcr.io/x/a{i}" for i in range(1000))}
    annotations |= {key(f"a{i}.update-stratgy{i}"): "semver" for i in range(300)}
    error = only_error(parse(annotations))
    assert "at most" in error.message
