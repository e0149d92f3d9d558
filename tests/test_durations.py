"""Go duration syntax, shared by credsexpire, --interval and the other duration flags."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imageupdater.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("11h", 39600.0, id="hours"),
        pytest.param("1h30m", 5400.0, id="hours-and-minutes"),
        pytest.param("90s", 90.0, id="seconds"),
        pytest.param("500ms", 0.5, id="milliseconds"),
        pytest.param("1.5h", 5400.0, id="fraction"),
        pytest.param(".5s", 0.5, id="leading-dot"),
        pytest.param("2us", 2e-6, id="microseconds"),
        pytest.param("2µs", 2e-6, id="micro-sign"),
        pytest.param("3ns", 3e-9, id="nanoseconds"),
        pytest.param("0", 0.0, id="bare-zero"),
        pytest.param("+0", 0.0, id="signed-zero"),
        pytest.param("+5m", 300.0, id="plus-sign"),
        pytest.param("1h1m1s1ms", 3661.001, id="every-unit-in-a-row"),
    ],
)
def test_go_durations_convert_to_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param("", "it is empty", id="empty"),
        pytest.param("10", "a number needs a unit", id="no-unit"),
        pytest.param("1d", "unknown unit 'd'", id="days-are-not-go"),
        pytest.param("-1h", "must not be negative", id="negative"),
        pytest.param("h", "expected a number", id="unit-only"),
        pytest.param(".h", "expected a number", id="dot-only"),
        pytest.param("1.2.3s", "expected a number", id="two-dots"),
        pytest.param("1h 30m", "unknown unit 'h '", id="space"),
        pytest.param("١s", "expected a number", id="non-ascii-digit"),
    ],
)
def test_anything_else_is_an_error_with_examples(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert reason in str(caught.value)
    assert f"{text!r} is not a Go duration" in str(caught.value)
    assert "'11h', '1h30m', '90s', '500ms'" in str(caught.value)


_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}


@given(
    st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(list(_UNIT_SECONDS))), min_size=1)
)
def test_a_sum_of_components_parses_to_the_sum_of_their_seconds(
    parts: list[tuple[int, str]],
) -> None:
    text = "".join(f"{n}{unit}" for n, unit in parts)
    expected = sum(n * _UNIT_SECONDS[unit] for n, unit in parts)
    assert parse_duration(text) == pytest.approx(expected)


@given(st.text(max_size=20))
def test_parsing_any_text_gives_a_non_negative_number_or_the_config_error(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except ValueError:
        return
    assert seconds >= 0
