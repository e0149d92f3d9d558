"""User patterns on RE2: the length cap, RE2's refusals in words, literals, safe matching."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imageupdater.patterns import (
    MAX_PATTERN_LENGTH,
    compile_re2,
    fullmatches,
    literal,
    searches,
    shown,
    too_long,
)


def test_a_pattern_up_to_the_cap_is_not_too_long() -> None:
    assert too_long("") is None
    assert too_long("x" * MAX_PATTERN_LENGTH) is None


def test_a_pattern_past_the_cap_is_too_long_by_its_length() -> None:
    assert too_long("x" * (MAX_PATTERN_LENGTH + 1)) == (
        f"{MAX_PATTERN_LENGTH + 1} characters, more than the {MAX_PATTERN_LENGTH} accepted"
    )


@pytest.mark.parametrize(
    ("pattern", "limit", "expected"),
    [
        pytest.param("v1.*", MAX_PATTERN_LENGTH, "v1.*", id="short-whole"),
        pytest.param("x" * 61, 60, "x" * 30 + "...", id="past-the-limit-cut"),
        pytest.param("x" * 60, 60, "x" * 60, id="at-the-limit-whole"),
        pytest.param("y" * 2000, MAX_PATTERN_LENGTH, "y" * 30 + "...", id="too-long-cut"),
    ],
)
def test_messages_quote_a_long_pattern_by_its_start(
    pattern: str, limit: int, expected: str
) -> None:
    assert shown(pattern, limit) == expected


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        pytest.param("(", "missing )", id="unbalanced"),
        pytest.param(r"(a)\1", "invalid escape", id="backreference"),
        pytest.param("v(?=1)", "invalid perl operator", id="lookahead"),
        pytest.param("(a{1000}){1000}", "repetition size", id="too-big-repetition"),
        pytest.param("\ud800", "lone surrogate \\ud800 at character 0", id="lone-surrogate"),
    ],
)
def test_what_re2_refuses_is_a_value_error_with_its_reason_as_text(
    expression: str, reason: str
) -> None:
    with pytest.raises(ValueError) as caught:
        compile_re2(expression)
    message = str(caught.value)
    assert reason in message
    assert not message.startswith("b'")  # RE2's bytes reason is decoded
    assert "\n" not in message


def test_re2_refusals_stay_off_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError):
        compile_re2("(")
    assert capfd.readouterr().err == ""


def test_search_is_unanchored_and_fullmatch_takes_the_whole_text() -> None:
    program = compile_re2("v[0-9]+")
    assert searches(program, "release-v12-final")
    assert not fullmatches(program, "release-v12-final")
    assert fullmatches(program, "v12")
    assert not searches(program, "version")


def test_text_with_a_lone_surrogate_is_matched_as_a_replacement_character() -> None:
    program = compile_re2("^v1.$")
    assert searches(program, "v1\ud800")
    assert fullmatches(program, "v1\udfff")
    assert not fullmatches(compile_re2("v1"), "v1\ud800")


def test_matching_stays_linear_on_a_pattern_that_backtracks_elsewhere() -> None:
    program = compile_re2("^(a+)+$")
    started = time.monotonic()
    assert not searches(program, "a" * 50_000 + "!")
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    "char", ["a", "Z", "7", ".", "*", "\\", "]", "-", "^", "$", " ", "é", "世"]
)
def test_a_literal_matches_exactly_its_character(char: str) -> None:
    program = compile_re2(literal(char))
    assert fullmatches(program, char)
    assert not fullmatches(program, "x" if char != "x" else "y")


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20))
def test_literals_of_any_text_match_that_text_and_nothing_longer(text: str) -> None:
    program = compile_re2("(?s)" + "".join(literal(c) for c in text))
    assert fullmatches(program, text)
    assert not fullmatches(program, text + "x")
