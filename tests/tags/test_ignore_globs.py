"""ignore-tags globs (Go filepath.Match) and the combined TagFilter."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imageupdater.errors import InvalidTagFilter
from imageupdater.tags import MAX_PATTERN_LENGTH, AllowTags, TagFilter


def ignored(pattern: str, tag: str) -> bool:
    return not TagFilter(ignore=(pattern,)).keeps(tag)


# Outcomes Go's filepath.Match gives on Unix for these pairs.
GO_MATCH = [
    ("abc", "abc", True),
    ("*", "abc", True),
    ("*c", "abc", True),
    ("a*", "a", True),
    ("a*", "abc", True),
    ("a*", "ab/c", False),
    ("a*/b", "abc/b", True),
    ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True),
    ("a*b?c*x", "abxbbxdbxebxczzy", False),
    ("ab[c]", "abc", True),
    ("ab[b-d]", "abc", True),
    ("ab[e-g]", "abc", False),
    ("ab[^c]", "abc", False),
    ("ab[^b-d]", "abc", False),
    ("ab[^e-g]", "abc", True),
    ("a\\*b", "a*b", True),
    ("a\\*b", "ab", False),
    ("a?b", "a☺b", True),
    ("a[^a]b", "a☺b", True),
    ("a???b", "a☺b", False),
    ("a[^a][^a][^a]b", "a☺b", False),
    ("[a-ζ]*", "α", True),
    ("*[a-ζ]", "A", False),
    ("a?b", "a/b", False),
    ("a*b", "a/b", False),
    ("[\\]a]", "]", True),
    ("[\\-]", "-", True),
    ("[x\\-]", "x", True),
    ("[x\\-]", "-", True),
    ("[x\\-]", "z", False),
    ("[\\-x]", "x", True),
    ("[\\-x]", "-", True),
    ("[\\-x]", "a", False),
    ("*x", "xxx", True),
    ("[!a]", "!", True),  # Go negates with '^' only; '!' is a literal
    ("[!a]", "b", False),
    ("[*?]", "*", True),
    ("[z-a]", "m", False),  # a reversed range is valid and matches nothing
    ("**", "abc", True),
    ("", "", True),
    ("", "a", False),
    ("*-rc*", "1.0-rc1", True),
    ("*-rc*", "1.0", False),
    ("v1.?", "v1.2", True),
    ("v1.?", "v1.10", False),
]


@pytest.mark.parametrize(
    ("pattern", "tag", "matches"),
    [pytest.param(p, t, m, id=f"{p or 'empty'} vs {t or 'empty'}") for p, t, m in GO_MATCH],
)
def test_ignore_globs_match_like_go_filepath_match(pattern: str, tag: str, matches: bool) -> None:
    assert ignored(pattern, tag) is matches


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        pytest.param("[", "not closed", id="open-bracket"),
        pytest.param("[^", "not closed", id="open-negated"),
        pytest.param("[^bc", "not closed", id="unclosed-negated"),
        pytest.param("a[", "not closed", id="open-at-end"),
        pytest.param("v1.[0-9", "not closed", id="unclosed-range"),
        pytest.param("[]a]", "']' where a character belongs", id="close-first"),
        pytest.param("[]", "']' where a character belongs", id="empty-class"),
        pytest.param("[-]", "'-' where a character belongs", id="lone-dash"),
        pytest.param("[x-]", "']' where a character belongs", id="open-range"),
        pytest.param("[-x]", "'-' where a character belongs", id="dash-first"),
        pytest.param("[a-b-c]", "'-' where a character belongs", id="chained-range"),
        pytest.param("\\", "lone '\\'", id="lone-backslash"),
        pytest.param("v1\\", "lone '\\'", id="trailing-backslash"),
        pytest.param("[a\\", "lone '\\'", id="backslash-in-class"),
        pytest.param("x" * (MAX_PATTERN_LENGTH + 1), "longer than", id="too-long"),
    ],
)
def test_a_malformed_glob_is_an_error_when_the_filter_is_built(pattern: str, reason: str) -> None:
    with pytest.raises(InvalidTagFilter) as caught:
        TagFilter.parse(None, [pattern])
    message = str(caught.value)
    assert reason in message
    assert "ignore-tags" in message
    assert pattern[:30] in message


def test_a_malformed_glob_after_a_failed_match_is_still_an_error() -> None:
    # Go only notices some malformed patterns when matching gets that far; we check up front.
    with pytest.raises(InvalidTagFilter):
        TagFilter(ignore=("x*[",))


def test_a_star_ignores_every_tag_which_pauses_the_image() -> None:
    tag_filter = TagFilter.parse("any", ["*"])
    assert not any(tag_filter.keeps(t) for t in ["latest", "1.0", "v2.0.0-rc.1", ""])


@pytest.mark.parametrize(
    ("allow", "ignore", "kept"),
    [
        pytest.param(None, [], ["1.0", "1.1-rc1", "2.0", "latest"], id="no-filter"),
        pytest.param(None, ["latest"], ["1.0", "1.1-rc1", "2.0"], id="ignore-literal"),
        pytest.param(None, ["*-rc*", "latest"], ["1.0", "2.0"], id="two-globs"),
        pytest.param(r"regexp:^\d", [], ["1.0", "1.1-rc1", "2.0"], id="allow-only"),
        pytest.param(r"regexp:^\d", ["*-rc?"], ["1.0", "2.0"], id="allow-and-ignore"),
        pytest.param("regexp:^1", ["1.[0-9]"], ["1.1-rc1"], id="class-glob"),
        pytest.param("", [" latest ", "", "  "], ["1.0", "1.1-rc1", "2.0"], id="blank-skipped"),
    ],
)
def test_a_tag_is_kept_when_allowed_and_not_ignored(
    allow: str | None, ignore: list[str], kept: list[str]
) -> None:
    tag_filter = TagFilter.parse(allow, ignore)
    assert [t for t in ["1.0", "1.1-rc1", "2.0", "latest"] if tag_filter.keeps(t)] == kept


def test_the_default_filter_keeps_everything_and_equals_a_parsed_empty_one() -> None:
    assert TagFilter() == TagFilter.parse(None, []) == TagFilter(AllowTags(None), ())
    assert TagFilter().keeps("anything")


def test_parsing_an_invalid_allow_value_is_an_error() -> None:
    with pytest.raises(InvalidTagFilter, match="allow-tags"):
        TagFilter.parse("regex:^v", [])


# --- properties -----------------------------------------------------------------------

ALPHABET = "ab.-"
_tags = st.text(alphabet=ALPHABET, max_size=8)
# Tokens of the reference model: a literal, '?', '*', or a class over the alphabet.
_token = st.one_of(
    st.sampled_from(list(ALPHABET)),
    st.just("?"),
    st.just("*"),
    st.builds(
        lambda negated, chars: ("^" if negated else "") + "".join(chars),
        st.booleans(),
        st.lists(st.sampled_from(["a", "b", "."]), min_size=1, max_size=2),
    ).map(lambda body: f"[{body}]"),
)


def _model_matches(tokens: tuple[str, ...], tag: str) -> bool:
    """Textbook backtracking glob matching over '/'-free text, written for clarity."""

    @cache
    def match(t: int, s: int) -> bool:
        if t == len(tokens):
            return s == len(tag)
        token = tokens[t]
        if token == "*":
            return any(match(t + 1, k) for k in range(s, len(tag) + 1))
        if s == len(tag):
            return False
        char = tag[s]
        if token == "?":
            ok = True
        elif token.startswith("["):
            body = token[1:-1]
            ok = (char in body.lstrip("^")) != body.startswith("^")
        else:
            ok = token == char
        return ok and match(t + 1, s + 1)

    return match(0, 0)


@given(st.lists(_token, max_size=6).map(tuple), _tags)
def test_the_glob_matcher_agrees_with_a_backtracking_model(
    tokens: tuple[str, ...], tag: str
) -> None:
    assert ignored("".join(tokens), tag) is _model_matches(tokens, tag)


_literal = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="*?[\\"), max_size=12)


@given(_literal, st.text(max_size=12))
def test_a_pattern_without_metacharacters_matches_exactly_itself(literal: str, other: str) -> None:
    assert ignored(literal, literal)
    assert ignored(literal, other) is (other == literal)


@given(st.text(alphabet="*?[]^-\\ab", max_size=10), st.text(alphabet="ab-]^", max_size=6))
def test_any_glob_either_fails_to_build_or_answers_for_every_tag(pattern: str, tag: str) -> None:
    try:
        tag_filter = TagFilter(ignore=(pattern,))
    except InvalidTagFilter:
        return
    assert isinstance(tag_filter.keeps(tag), bool)


def test_a_standalone_glob_matches_like_go_and_names_itself_in_errors() -> None:
    from imageupdater.errors import InvalidTagFilter
    from imageupdater.tags import Glob

    glob = Glob("web-[^x]*", what="--match-application-name glob")
    assert glob.matches("web-prod")
    assert not glob.matches("web-xray")
    with pytest.raises(InvalidTagFilter, match="invalid --match-application-name glob 'web-\\[a'"):
        Glob("web-[a", what="--match-application-name glob")
