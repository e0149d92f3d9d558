"""Hypothesis strategies for cron expressions, each paired with the values it must expand to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]

# (lowest, highest, names indexed from lowest) per field
MINUTE = (0, 59, None)
HOUR = (0, 23, None)
DAY_OF_MONTH = (1, 31, None)
MONTH = (1, 12, MONTH_NAMES)
DAY_OF_WEEK = (0, 6, DAY_NAMES)

Field = tuple[int, int, list[str] | None]


@st.composite
def _value(draw: st.DrawFn, bounds: Field, low: int) -> tuple[str, int]:
    lowest, highest, names = bounds
    number = draw(st.integers(low, highest))
    if names is not None and draw(st.booleans()):
        name = names[number - lowest]
        return draw(st.sampled_from([name, name.lower(), name.title()])), number
    return str(number), number


@st.composite
def cron_term(draw: st.DrawFn, bounds: Field) -> tuple[str, set[int]]:
    """One comma-separated term and the values it names."""
    lowest, highest, _ = bounds
    shape = draw(
        st.sampled_from(["star", "single", "range", "star-step", "range-step", "from-step"])
    )
    step = draw(st.integers(1, highest - lowest + 1))
    if shape == "star":
        return draw(st.sampled_from(["*", "?"])), set(range(lowest, highest + 1))
    if shape == "star-step":
        return f"*/{step}", set(range(lowest, highest + 1, step))
    start_text, start = draw(_value(bounds, lowest))
    if shape == "single":
        return start_text, {start}
    if shape == "from-step":
        return f"{start_text}/{step}", set(range(start, highest + 1, step))
    end_text, end = draw(_value(bounds, start))
    if shape == "range":
        return f"{start_text}-{end_text}", set(range(start, end + 1))
    return f"{start_text}-{end_text}/{step}", set(range(start, end + 1, step))


@st.composite
def cron_field(draw: st.DrawFn, bounds: Field) -> tuple[str, set[int]]:
    terms = draw(st.lists(cron_term(bounds), min_size=1, max_size=3))
    values: set[int] = set()
    for _, term_values in terms:
        values |= term_values
    return ",".join(text for text, _ in terms), values


def daily_schedule() -> st.SearchStrategy[str]:
    """Schedules that fire every day, so a brute-force scan between fires stays short."""
    return st.tuples(cron_field(MINUTE), cron_field(HOUR)).map(
        lambda fields: f"{fields[0][0]} {fields[1][0]} * * *"
    )


def any_schedule() -> st.SearchStrategy[str]:
    """Any schedule, including ones that fire rarely; never-firing ones are avoided."""
    return st.tuples(
        cron_field(MINUTE),
        cron_field(HOUR),
        st.one_of(
            cron_field(DAY_OF_MONTH).filter(lambda f: min(f[1]) <= 28), st.just(("*", set()))
        ),
        cron_field(MONTH),
        cron_field(DAY_OF_WEEK),
    ).map(lambda fields: " ".join(text for text, _ in fields))


# Daylight-saving changes in the zones above, where fire times are easiest to get wrong.
TRANSITIONS = [
    datetime(2024, 3, 31, 1, 0, tzinfo=UTC),  # Europe/Berlin springs forward
    datetime(2024, 10, 27, 1, 0, tzinfo=UTC),  # Europe/Berlin falls back
    datetime(2024, 3, 10, 7, 0, tzinfo=UTC),  # America/New_York springs forward
    datetime(2024, 11, 3, 6, 0, tzinfo=UTC),  # America/New_York falls back
    datetime(2024, 4, 6, 15, 0, tzinfo=UTC),  # Australia/Lord_Howe falls back 30 minutes
    datetime(2024, 10, 5, 15, 30, tzinfo=UTC),  # Australia/Lord_Howe springs forward 30 minutes
]


@st.composite
def instants(draw: st.DrawFn) -> datetime:
    """A tz-aware moment in one of ZONES, often within hours of a daylight-saving change."""
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    if draw(st.booleans()):
        base = draw(st.sampled_from(TRANSITIONS))
        offset = timedelta(
            seconds=draw(st.integers(-10_800, 10_800) | st.integers(-86_400, 86_400))
        )
        return (base + offset).astimezone(zone)
    naive = draw(st.datetimes(datetime(1990, 1, 1), datetime(2090, 1, 1)))
    return naive.replace(tzinfo=UTC).astimezone(zone)
