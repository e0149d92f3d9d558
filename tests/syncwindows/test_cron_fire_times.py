"""Fire times around an instant: wall-clock matches in the instant's zone, DST included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imageupdater.cron import CronSchedule, InvalidCronExpression

from .strategies import any_schedule, daily_schedule, instants

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# (id, schedule, zone, now as ISO with offset, expected next fire as ISO with offset)
NEXT = [
    ("same day later", "0 22 * * *", "UTC", "2024-05-01T10:00+00:00", "2024-05-01T22:00+00:00"),
    (
        "strictly after a fire",
        "0 22 * * *",
        "UTC",
        "2024-05-01T22:00+00:00",
        "2024-05-02T22:00+00:00",
    ),
    (
        "seconds past a fire",
        "* * * * *",
        "UTC",
        "2024-05-01T22:00:30+00:00",
        "2024-05-01T22:01+00:00",
    ),
    (
        "end of a 31-day month",
        "0 0 31 * *",
        "UTC",
        "2024-04-15T00:00+00:00",
        "2024-05-31T00:00+00:00",
    ),
    ("end of year", "59 23 31 12 *", "UTC", "2024-12-31T23:59+00:00", "2025-12-31T23:59+00:00"),
    (
        "february 29 in a leap year",
        "0 0 29 2 *",
        "UTC",
        "2023-03-01T00:00+00:00",
        "2024-02-29T00:00+00:00",
    ),
    (
        "february 29 skips 2100",
        "0 0 29 2 *",
        "UTC",
        "2096-03-01T00:00+00:00",
        "2104-02-29T00:00+00:00",
    ),
    ("day fields OR", "0 0 13 * 5", "UTC", "2024-09-01T00:00+00:00", "2024-09-06T00:00+00:00"),
    (
        "day fields AND with a star",
        "0 0 * * 5",
        "UTC",
        "2024-09-07T00:00+00:00",
        "2024-09-13T00:00+00:00",
    ),
    (
        "stepped days are not a star",
        "0 0 */10 * 1",
        "UTC",
        "2024-09-01T12:00+00:00",
        "2024-09-02T00:00+00:00",
    ),
    ("sunday as 7", "0 12 * * 7", "UTC", "2024-09-02T00:00+00:00", "2024-09-08T12:00+00:00"),
    ("@yearly", "@yearly", "UTC", "2024-06-01T00:00+00:00", "2025-01-01T00:00+00:00"),
    ("@monthly", "@monthly", "UTC", "2024-06-15T00:00+00:00", "2024-07-01T00:00+00:00"),
    ("@weekly", "@weekly", "UTC", "2024-09-04T00:00+00:00", "2024-09-08T00:00+00:00"),
    ("@daily", "@daily", "UTC", "2024-09-04T00:00+00:00", "2024-09-05T00:00+00:00"),
    ("@hourly", "@hourly", "UTC", "2024-09-04T10:59:59+00:00", "2024-09-04T11:00+00:00"),
    (
        "local zone",
        "0 9 * * *",
        "Europe/Berlin",
        "2024-07-01T08:00+00:00",
        "2024-07-02T09:00+02:00",
    ),
    (
        "skipped hour never fires",
        "30 2 * * *",
        "Europe/Berlin",
        "2024-03-31T00:00+01:00",
        "2024-04-01T02:30+02:00",
    ),
    (
        "hour after the gap",
        "0 3 * * *",
        "Europe/Berlin",
        "2024-03-31T00:00+01:00",
        "2024-03-31T03:00+02:00",
    ),
    (
        "repeated hour first pass",
        "30 2 * * *",
        "Europe/Berlin",
        "2024-10-27T00:00+02:00",
        "2024-10-27T02:30+02:00",
    ),
    (
        "repeated hour second pass",
        "30 2 * * *",
        "Europe/Berlin",
        "2024-10-27T02:30+02:00",
        "2024-10-27T02:30+01:00",
    ),
    (
        "earlier wall time replayed",
        "10 2 * * *",
        "Europe/Berlin",
        "2024-10-27T02:50+02:00",
        "2024-10-27T02:10+01:00",
    ),
    (
        "after both passes",
        "30 2 * * *",
        "Europe/Berlin",
        "2024-10-27T02:30+01:00",
        "2024-10-28T02:30+01:00",
    ),
    (
        "every minute inside the first pass",
        "* * * * *",
        "Europe/Berlin",
        "2024-10-27T02:58:59+02:00",
        "2024-10-27T02:59+02:00",
    ),
    (
        "end of the first pass rolls into the second",
        "* * * * *",
        "Europe/Berlin",
        "2024-10-27T02:59:30+02:00",
        "2024-10-27T02:00+01:00",
    ),
    (
        "new york spring forward",
        "30 2 * * *",
        "America/New_York",
        "2024-03-10T00:00-05:00",
        "2024-03-11T02:30-04:00",
    ),
    (
        "new york fall back",
        "30 1 * * *",
        "America/New_York",
        "2024-11-03T01:45-04:00",
        "2024-11-03T01:30-05:00",
    ),
    (
        "half-hour fall back",
        "45 1 * * *",
        "Australia/Lord_Howe",
        "2024-04-07T01:50+11:00",
        "2024-04-07T01:45+10:30",
    ),
    (
        "half-hour gap",
        "15 2 * * *",
        "Australia/Lord_Howe",
        "2024-10-06T01:00+10:30",
        "2024-10-07T02:15+11:00",
    ),
]


@pytest.mark.parametrize(
    ("schedule", "zone", "now", "expected"), [pytest.param(*r[1:], id=r[0]) for r in NEXT]
)
def test_the_next_fire_is_the_first_matching_instant_strictly_after_now(
    schedule: str, zone: str, now: str, expected: str
) -> None:
    moment = datetime.fromisoformat(now).astimezone(ZoneInfo(zone))
    fire = CronSchedule.parse(schedule).next_fire(moment)
    assert fire.astimezone(UTC) == utc(expected)
    assert fire.utcoffset() == datetime.fromisoformat(expected).utcoffset()


PREVIOUS = [
    (
        "a fire is its own previous",
        "0 22 * * *",
        "UTC",
        "2024-05-01T22:00+00:00",
        "2024-05-01T22:00+00:00",
    ),
    (
        "a moment before the fire",
        "0 22 * * *",
        "UTC",
        "2024-05-01T21:59:59+00:00",
        "2024-04-30T22:00+00:00",
    ),
    ("start of a month", "0 12 31 * *", "UTC", "2024-05-01T00:00+00:00", "2024-03-31T12:00+00:00"),
    ("february 29 back", "0 0 29 2 *", "UTC", "2028-01-01T00:00+00:00", "2024-02-29T00:00+00:00"),
    (
        "skipped hour back",
        "30 2 * * *",
        "Europe/Berlin",
        "2024-03-31T12:00+02:00",
        "2024-03-30T02:30+01:00",
    ),
    (
        "repeated hour second pass",
        "30 2 * * *",
        "Europe/Berlin",
        "2024-10-27T02:40+01:00",
        "2024-10-27T02:30+01:00",
    ),
    (
        "repeated hour between passes",
        "30 2 * * *",
        "Europe/Berlin",
        "2024-10-27T02:10+01:00",
        "2024-10-27T02:30+02:00",
    ),
    (
        "later wall time in the first pass",
        "50 2 * * *",
        "Europe/Berlin",
        "2024-10-27T02:10+01:00",
        "2024-10-27T02:50+02:00",
    ),
    (
        "every minute inside the second pass",
        "* * * * *",
        "Europe/Berlin",
        "2024-10-27T02:00:30+01:00",
        "2024-10-27T02:00+01:00",
    ),
    (
        "the second pass looks back to the end of the first",
        "59 2 * * *",
        "Europe/Berlin",
        "2024-10-27T02:30+01:00",
        "2024-10-27T02:59+02:00",
    ),
    ("@weekly back", "@weekly", "UTC", "2024-09-07T23:59+00:00", "2024-09-01T00:00+00:00"),
]


@pytest.mark.parametrize(
    ("schedule", "zone", "now", "expected"), [pytest.param(*r[1:], id=r[0]) for r in PREVIOUS]
)
def test_the_previous_fire_is_the_last_matching_instant_at_or_before_now(
    schedule: str, zone: str, now: str, expected: str
) -> None:
    moment = datetime.fromisoformat(now).astimezone(ZoneInfo(zone))
    fire = CronSchedule.parse(schedule).previous_fire(moment)
    assert fire.astimezone(UTC) == utc(expected)


def test_a_fire_time_is_returned_in_the_zone_of_the_question() -> None:
    fire = CronSchedule.parse("0 9 * * *").next_fire(datetime(2024, 7, 1, tzinfo=BERLIN))
    assert fire.tzinfo is BERLIN
    assert (fire.hour, fire.minute) == (9, 0)


def test_a_wall_clock_time_in_a_gap_is_read_as_the_instant_it_names() -> None:
    # 02:30 does not exist in Berlin on 2024-03-31; Python reads it with the pre-jump offset,
    # so it is 01:30 UTC, which the clocks show as 03:30.
    gap = datetime(2024, 3, 31, 2, 30, tzinfo=BERLIN)
    fire = CronSchedule.parse("45 3 * * *").next_fire(gap)
    assert fire.astimezone(UTC) == datetime(2024, 3, 31, 1, 45, tzinfo=UTC)
    assert CronSchedule.parse("35 3 * * *").previous_fire(gap).day == 30


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="time-zone-aware"):
        CronSchedule.parse("@daily").next_fire(datetime(2024, 1, 1))


def test_searching_past_the_calendar_is_an_error_not_a_hang() -> None:
    with pytest.raises(InvalidCronExpression, match="no fire time within"):
        CronSchedule.parse("0 0 29 2 *").next_fire(datetime(9999, 3, 1, tzinfo=UTC))
    with pytest.raises(InvalidCronExpression, match="no fire time within"):
        CronSchedule.parse("0 0 2 1 *").previous_fire(datetime(1, 1, 1, 0, 0, 30, tzinfo=UTC))


def _fires(schedule: CronSchedule, moment: datetime, zone: ZoneInfo) -> bool:
    local = moment.astimezone(zone)
    return local.second == 0 and schedule.matches(local)


def _scan(schedule: CronSchedule, zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Every fire in [start, end] found by looking at each UTC minute: the brute-force oracle."""
    found = []
    minute = start.astimezone(UTC).replace(second=0, microsecond=0)
    while minute <= end:
        if minute >= start and _fires(schedule, minute, zone):
            found.append(minute)
        minute += timedelta(minutes=1)
    return found


@settings(max_examples=200, deadline=None)
@given(text=daily_schedule(), now=instants())
def test_fires_around_now_agree_with_a_minute_by_minute_scan(text: str, now: datetime) -> None:
    schedule = CronSchedule.parse(text)
    zone = now.tzinfo
    assert isinstance(zone, ZoneInfo)
    # Compared in UTC: Python compares datetimes sharing a tzinfo by wall clock, fold ignored.
    before, after = (
        schedule.previous_fire(now).astimezone(UTC),
        schedule.next_fire(now).astimezone(UTC),
    )
    assert before <= now.astimezone(UTC) < after
    assert _fires(schedule, before, zone)
    assert _fires(schedule, after, zone)
    assert _scan(schedule, zone, before, after) == [before, after]


@settings(max_examples=200, deadline=None)
@given(text=any_schedule(), now=instants())
def test_no_fire_hides_between_the_previous_fire_and_now_for_any_schedule(
    text: str, now: datetime
) -> None:
    schedule = CronSchedule.parse(text)
    zone = now.tzinfo
    assert isinstance(zone, ZoneInfo)
    # Compared in UTC: Python compares datetimes sharing a tzinfo by wall clock, fold ignored.
    before, after = (
        schedule.previous_fire(now).astimezone(UTC),
        schedule.next_fire(now).astimezone(UTC),
    )
    assert before <= now.astimezone(UTC) < after
    assert _fires(schedule, before, zone)
    assert _fires(schedule, after, zone)
    horizon = timedelta(hours=12)
    scan_from = max(before + timedelta(minutes=1), now - horizon)
    scan_to = min(after - timedelta(minutes=1), now + horizon)
    assert _scan(schedule, zone, scan_from, scan_to) == []


@settings(max_examples=100, deadline=None)
@given(text=any_schedule(), now=instants(), hops=st.integers(1, 5))
def test_walking_forward_then_back_returns_to_the_same_fire(
    text: str, now: datetime, hops: int
) -> None:
    schedule = CronSchedule.parse(text)
    fire = schedule.next_fire(now)
    for _ in range(hops):
        later = schedule.next_fire(fire)
        assert later.astimezone(UTC) > fire.astimezone(UTC)
        just_before = (later.astimezone(UTC) - timedelta(seconds=1)).astimezone(later.tzinfo)
        assert schedule.previous_fire(just_before).astimezone(UTC) == fire.astimezone(UTC)
        fire = later
