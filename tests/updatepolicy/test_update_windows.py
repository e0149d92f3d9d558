"""Update windows: open from each fire of the schedule, read in the window's time zone, for the
duration of elapsed time, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imageupdater.updatepolicy import UpdateWindow, parse_policy

from .builders import resource


def window(schedule: str, duration: str, zone: str = "UTC") -> UpdateWindow:
    raw = {"schedule": schedule, "duration": duration, "timeZone": zone}
    parsed = parse_policy(resource({"updateWindows": [raw]}))
    assert parsed.policy is not None, parsed.problems
    (only,) = parsed.policy.rules.update_windows or ()
    return only


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "duration", "zone", "now", "active"),
    [
        pytest.param("0 9 * * *", "1h", "UTC", "2025-03-12T09:00", True, id="start-included"),
        pytest.param("0 9 * * *", "1h", "UTC", "2025-03-12T09:59", True, id="inside"),
        pytest.param("0 9 * * *", "1h", "UTC", "2025-03-12T10:00", False, id="end-excluded"),
        pytest.param("0 9 * * *", "1h", "UTC", "2025-03-12T08:59", False, id="before"),
        pytest.param("0 9 * * 1-5", "8h", "Europe/Berlin", "2025-03-12T08:00", True, id="zone"),
        pytest.param("0 9 * * 1-5", "8h", "Europe/Berlin", "2025-03-12T07:30", False, id="z-early"),
        pytest.param("0 9 * * 1-5", "8h", "Europe/Berlin", "2025-03-15T10:00", False, id="weekend"),
        pytest.param("0 22 * * *", "4h", "UTC", "2025-03-13T01:00", True, id="past-midnight"),
        # 2025-03-30: Berlin skips 02:00-03:00, so a 02:30 window never opens that night.
        pytest.param("30 2 * * *", "1h", "Europe/Berlin", "2025-03-30T01:45", False, id="dst-gap"),
        pytest.param("30 2 * * *", "1h", "Europe/Berlin", "2025-03-31T00:45", True, id="after-gap"),
        # 2025-10-26: Berlin reads 02:00-03:00 twice, so a 02:30 window opens twice.
        pytest.param("30 2 * * *", "30m", "Europe/Berlin", "2025-10-26T00:45", True, id="fold-1"),
        pytest.param(
            "30 2 * * *", "30m", "Europe/Berlin", "2025-10-26T01:15", False, id="fold-gap"
        ),
        pytest.param("30 2 * * *", "30m", "Europe/Berlin", "2025-10-26T01:45", True, id="fold-2"),
        # A window measures elapsed time: 09:00 for 24h in Berlin across the spring change.
        pytest.param("0 9 29 3 *", "24h", "Europe/Berlin", "2025-03-30T07:30", True, id="elapsed"),
        pytest.param("0 9 29 3 *", "24h", "Europe/Berlin", "2025-03-30T08:00", False, id="el-end"),
    ],
)
def test_a_window_is_open_from_each_fire_for_its_duration(
    schedule: str, duration: str, zone: str, now: str, active: bool
) -> None:
    assert window(schedule, duration, zone).is_active(utc(now)) is active


def test_the_next_opening_is_the_next_fire_in_the_windows_zone() -> None:
    weekdays = window("0 9 * * 1-5", "8h", "Europe/Berlin")
    assert weekdays.next_opening(utc("2025-03-15T10:00")) == utc("2025-03-17T08:00")
    summer = weekdays.next_opening(utc("2025-03-28T16:00"))
    assert summer == utc("2025-03-31T07:00")  # CEST from 30 March
    nightly = window("30 2 * * *", "1h", "Europe/Berlin")
    assert nightly.next_opening(utc("2025-03-29T02:00")) == utc("2025-03-31T00:30")


def test_a_window_reads_as_its_schedule_duration_and_zone() -> None:
    assert str(window("@daily", "1h30m", "Asia/Kolkata")) == "'@daily' for 1h30m (Asia/Kolkata)"


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]),
    st.integers(1, 180),
)
def test_a_closed_window_opens_at_its_next_opening(now: datetime, zone: str, minutes: int) -> None:
    hourly = window("15 * * * *", f"{minutes}m", zone)
    opening = hourly.next_opening(now)
    assert opening is not None and opening > now
    if not hourly.is_active(now):
        assert hourly.is_active(opening)
        assert not hourly.is_active(opening - timedelta(seconds=1))
