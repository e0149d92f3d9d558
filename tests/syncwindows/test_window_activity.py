"""When a window is active: [fire, fire + duration), in the window's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from .builders import window
from .strategies import daily_schedule, instants


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# (id, schedule, duration, time zone, now, active)
ACTIVITY = [
    ("before the start", "0 22 * * *", "1h", "UTC", "2024-05-01T21:59:59+00:00", False),
    ("the start is inside", "0 22 * * *", "1h", "UTC", "2024-05-01T22:00+00:00", True),
    ("just before the end", "0 22 * * *", "1h", "UTC", "2024-05-01T22:59:59.999999+00:00", True),
    ("the end is outside", "0 22 * * *", "1h", "UTC", "2024-05-01T23:00+00:00", False),
    ("across midnight", "0 23 * * *", "2h", "UTC", "2024-05-02T00:30+00:00", True),
    ("across midnight ends", "0 23 * * *", "2h", "UTC", "2024-05-02T01:00+00:00", False),
    ("weekend deny on saturday", "0 0 * * 6", "48h", "UTC", "2024-09-08T23:59+00:00", True),
    ("weekend deny over on monday", "0 0 * * 6", "48h", "UTC", "2024-09-09T00:00+00:00", False),
    ("local start", "0 9 * * *", "8h", "Europe/Berlin", "2024-07-01T07:00+00:00", True),
    ("local start in winter", "0 9 * * *", "8h", "Europe/Berlin", "2024-01-15T07:59+00:00", False),
    (
        "local start in winter opens",
        "0 9 * * *",
        "8h",
        "Europe/Berlin",
        "2024-01-15T08:00+00:00",
        True,
    ),
    (
        "elapsed time across spring forward",
        "0 1 * * *",
        "3h",
        "Europe/Berlin",
        "2024-03-31T04:59+02:00",
        True,
    ),
    (
        "ends by elapsed time, not wall",
        "0 1 * * *",
        "3h",
        "Europe/Berlin",
        "2024-03-31T05:00+02:00",
        False,
    ),
    (
        "elapsed time across fall back",
        "0 1 * * *",
        "3h",
        "Europe/Berlin",
        "2024-10-27T02:59+01:00",
        True,
    ),
    (
        "fall back ends after three hours",
        "0 1 * * *",
        "3h",
        "Europe/Berlin",
        "2024-10-27T03:00+01:00",
        False,
    ),
    (
        "a skipped start never opens",
        "30 2 31 3 *",
        "1h",
        "Europe/Berlin",
        "2024-03-31T03:10+02:00",
        False,
    ),
    (
        "overlapping fires keep it open",
        "*/10 * * * *",
        "15m",
        "UTC",
        "2024-05-01T10:09+00:00",
        True,
    ),
]


@pytest.mark.parametrize(
    ("schedule", "duration", "zone", "now", "active"),
    [pytest.param(*row[1:], id=row[0]) for row in ACTIVITY],
)
def test_a_window_is_active_from_its_start_until_just_before_its_end(
    schedule: str, duration: str, zone: str, now: str, active: bool
) -> None:
    subject = window(schedule=schedule, duration=duration, timeZone=zone)
    assert subject.is_active(at(now)) is active


def test_the_answer_does_not_depend_on_the_zone_the_clock_is_read_in() -> None:
    subject = window(schedule="0 9 * * *", duration="1h", timeZone="Europe/Berlin")
    moment = at("2024-07-01T07:30+00:00")
    for zone in ("UTC", "Asia/Tokyo", "America/New_York"):
        assert subject.is_active(moment.astimezone(ZoneInfo(zone)))


def test_a_naive_clock_is_refused() -> None:
    with pytest.raises(ValueError, match="time-zone-aware"):
        window().is_active(datetime(2024, 1, 1))


# (id, schedule, duration, zone, now, next change)
CHANGES = [
    (
        "inactive: the next start",
        "0 22 * * *",
        "1h",
        "UTC",
        "2024-05-01T10:00+00:00",
        "2024-05-01T22:00+00:00",
    ),
    (
        "at the end: the next start",
        "0 22 * * *",
        "1h",
        "UTC",
        "2024-05-01T23:00+00:00",
        "2024-05-02T22:00+00:00",
    ),
    (
        "active: the end",
        "0 22 * * *",
        "1h",
        "UTC",
        "2024-05-01T22:00+00:00",
        "2024-05-01T23:00+00:00",
    ),
    (
        "overlapping fires: the end of the chain",
        "0 8-12 * * *",
        "90m",
        "UTC",
        "2024-05-01T10:00+00:00",
        "2024-05-01T13:30+00:00",
    ),
    (
        "back-to-back fires do not close it",
        "0 8,10 * * *",
        "2h",
        "UTC",
        "2024-05-01T09:00+00:00",
        "2024-05-01T12:00+00:00",
    ),
    (
        "local zone",
        "0 9 * * 1-5",
        "8h",
        "Europe/Berlin",
        "2024-05-03T16:00+00:00",
        "2024-05-06T07:00+00:00",
    ),
]


@pytest.mark.parametrize(
    ("schedule", "duration", "zone", "now", "expected"),
    [pytest.param(*row[1:], id=row[0]) for row in CHANGES],
)
def test_the_next_change_is_when_activity_flips(
    schedule: str, duration: str, zone: str, now: str, expected: str
) -> None:
    subject = window(schedule=schedule, duration=duration, timeZone=zone)
    change = subject.next_change(at(now))
    assert change == at(expected)
    assert subject.is_active(change) is not subject.is_active(at(now))


def test_a_window_that_never_closes_answers_a_bounded_moment_it_stays_open_until() -> None:
    subject = window(schedule="* * * * *", duration="1h")
    now = at("2024-05-01T10:00+00:00")
    change = subject.next_change(now)
    assert change > now + timedelta(hours=1)
    assert subject.is_active(change)


@settings(max_examples=100, deadline=None)
@given(
    schedule=daily_schedule(),
    minutes=st.integers(1, 6 * 60),
    now=instants(),
)
@example(  # the repeated 01:00 of a fall-back night, where zoned arithmetic drops the fold
    schedule="* 2,22 * * *",
    minutes=123,
    now=datetime(2024, 11, 3, 1, 0, fold=1, tzinfo=ZoneInfo("America/New_York")),
)
def test_activity_is_constant_until_the_next_change_and_flips_there(
    schedule: str, minutes: int, now: datetime
) -> None:
    subject = window(schedule=schedule, duration=f"{minutes}m", timeZone=str(now.tzinfo))
    state = subject.is_active(now)
    change = subject.next_change(now)
    assert change > now
    if subject.is_active(change) == state:
        # Only a window that never closes may answer a moment without a flip.
        assert state
        return
    step = max((change - now) / 50, timedelta(seconds=1))
    # Step in UTC: adding to a zoned time is wall-clock arithmetic, which drops the fold and
    # lands an hour off around a daylight-saving change.
    probe = now.astimezone(UTC)
    while probe < change:
        assert subject.is_active(probe) is state
        probe += step
    assert subject.is_active(change - timedelta(microseconds=1)) is state
