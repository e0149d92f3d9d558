"""allow-tags: 'any' or an unanchored RE2 expression; everything else is an error."""

from __future__ import annotations

import time

import pytest

from imageupdater.errors import InvalidTagFilter
from imageupdater.tags import MAX_PATTERN_LENGTH, AllowTags

TAGS = ["1.0", "1.0.1", "v1.2.3", "1.0-rc1", "latest", "Release-7", "ünïcode"]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("any", id="any"),
        pytest.param("ANY", id="upper-any"),
        pytest.param(" Any ", id="padded-any"),
    ],
)
def test_empty_and_any_allow_every_tag(text: str) -> None:
    allow = AllowTags.parse(text)
    assert allow == AllowTags(None)
    assert all(allow.matches(tag) for tag in TAGS)


@pytest.mark.parametrize(
    ("text", "allowed"),
    [
        pytest.param(r"regexp:^1\.0", ["1.0", "1.0.1", "1.0-rc1"], id="anchored-start"),
        pytest.param(r"regexp:^1\.0$", ["1.0"], id="anchored-both-ends"),
        pytest.param("regexp:rc", ["1.0-rc1"], id="unanchored-search"),
        pytest.param(r"REGEXP:^v\d+", ["v1.2.3"], id="prefix-case-insensitive"),
        pytest.param(r"RegExp:^\d+\.\d+$", ["1.0"], id="perl-classes"),
        pytest.param("regexp:(?i)^release", ["Release-7"], id="inline-flags"),
        pytest.param(r"regexp:^\pL+$", ["latest", "ünïcode"], id="unicode-letter-class"),
        pytest.param("regexp:^[[:alpha:]]+$", ["latest"], id="posix-class"),
        pytest.param("regexp:^(latest|1.0)$", ["1.0", "latest"], id="alternation"),
    ],
)
def test_regexp_filters_search_with_re2(text: str, allowed: list[str]) -> None:
    allow = AllowTags.parse(text)
    assert [tag for tag in TAGS if allow.matches(tag)] == allowed


def test_the_expression_after_the_prefix_is_kept_as_the_pattern() -> None:
    assert AllowTags.parse(r"Regexp:^v\d").pattern == r"^v\d"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param("other", "accepted: '' or 'any'", id="unknown-word"),
        pytest.param("not-regexp:x", "'not-regexp:' is not 'regexp:'", id="wrong-prefix"),
        pytest.param("regex:^v1", "'regex:' is not 'regexp:'", id="regex-not-regexp"),
        pytest.param("^v1", "accepted: '' or 'any'", id="bare-regex"),
        pytest.param("regexp:", "expression is empty", id="empty-expression"),
        pytest.param("regexp:(", "missing )", id="unbalanced"),
        pytest.param(r"regexp:(a)\1", "no backreferences", id="backreference"),
        pytest.param("regexp:v(?=1)", "lookaround", id="lookahead"),
        pytest.param("regexp:(?<!x)1", "lookaround", id="lookbehind"),
        pytest.param("regexp:(a{1000}){1000}", "not an RE2 expression", id="too-big-repetition"),
        pytest.param("regexp:" + "a" * (MAX_PATTERN_LENGTH + 1), "more than", id="too-long"),
    ],
)
def test_anything_else_is_an_error_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidTagFilter) as caught:
        AllowTags.parse(text)
    message = str(caught.value)
    assert reason in message
    assert "allow-tags" in message
    assert "\n" not in message


def test_an_invalid_pattern_is_rejected_even_when_constructed_directly() -> None:
    with pytest.raises(InvalidTagFilter, match="RE2"):
        AllowTags("(?=x)")


def test_a_pattern_that_backtracks_catastrophically_elsewhere_runs_in_linear_time() -> None:
    allow = AllowTags.parse("regexp:^(a+)+$")
    started = time.monotonic()
    assert not allow.matches("a" * 50_000 + "!")
    assert time.monotonic() - started < 1.0


def test_allow_tags_format_back_to_their_annotation_form() -> None:
    assert [str(AllowTags.parse(t)) for t in ("", "REGEXP:^v1")] == ["any", "regexp:^v1"]


def test_equal_filters_compare_and_hash_equal() -> None:
    assert AllowTags.parse("regexp:^v") == AllowTags("^v")
    assert len({AllowTags.parse("regexp:^v"), AllowTags("^v"), AllowTags(None)}) == 2


def test_an_expression_holding_a_lone_surrogate_is_an_error_not_a_crash() -> None:
    # JSON can carry "\ud800"; RE2 reads UTF-8, which has no form for it.
    with pytest.raises(InvalidTagFilter, match=r"not an RE2 expression .*lone surrogate"):
        AllowTags.parse("regexp:^v\ud800")


def test_a_tag_holding_a_lone_surrogate_is_matched_not_a_crash() -> None:
    allow = AllowTags.parse("regexp:^v1")
    assert allow.matches("v1\ud800")
    assert not AllowTags.parse("regexp:^v1$").matches("v1\ud800")
