"""Reading cron expressions the way robfig/cron v3's standard parser does (plus Sunday as 7)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imageupdater.cron import CronSchedule, InvalidCronExpression
from imageupdater.errors import InvalidInput

from .strategies import DAY_OF_MONTH, DAY_OF_WEEK, HOUR, MINUTE, MONTH, cron_field

ALL_MINUTES = tuple(range(60))
ALL_HOURS = tuple(range(24))
ALL_DAYS = tuple(range(1, 32))
ALL_MONTHS = tuple(range(1, 13))
ALL_WEEKDAYS = tuple(range(7))

# (expression, minutes, hours, days of month, months, days of week, dom star, dow star)
PARSES = [
    ("* * * * *", ALL_MINUTES, ALL_HOURS, ALL_DAYS, ALL_MONTHS, ALL_WEEKDAYS, True, True),
    ("0 22 * * *", (0,), (22,), ALL_DAYS, ALL_MONTHS, ALL_WEEKDAYS, True, True),
    (
        "*/15 9-17 * * 1-5",
        (0, 15, 30, 45),
        tuple(range(9, 18)),
        ALL_DAYS,
        ALL_MONTHS,
        (1, 2, 3, 4, 5),
        True,
        False,
    ),
    ("0,30 1-5/2 * * *", (0, 30), (1, 3, 5), ALL_DAYS, ALL_MONTHS, ALL_WEEKDAYS, True, True),
    ("5/20 0 * * *", (5, 25, 45), (0,), ALL_DAYS, ALL_MONTHS, ALL_WEEKDAYS, True, True),
    ("0 0 1,15 * *", (0,), (0,), (1, 15), ALL_MONTHS, ALL_WEEKDAYS, False, True),
    ("0 0 * JAN,jul *", (0,), (0,), ALL_DAYS, (1, 7), ALL_WEEKDAYS, True, True),
    ("0 0 * Mar-May *", (0,), (0,), ALL_DAYS, (3, 4, 5), ALL_WEEKDAYS, True, True),
    ("0 0 * * MON-FRI", (0,), (0,), ALL_DAYS, ALL_MONTHS, (1, 2, 3, 4, 5), True, False),
    ("0 0 * * sun,sat", (0,), (0,), ALL_DAYS, ALL_MONTHS, (0, 6), True, False),
    ("0 0 * * 7", (0,), (0,), ALL_DAYS, ALL_MONTHS, (0,), True, False),
    ("0 0 * * 5-7", (0,), (0,), ALL_DAYS, ALL_MONTHS, (0, 5, 6), True, False),
    ("0 0 ? * ?", (0,), (0,), ALL_DAYS, ALL_MONTHS, ALL_WEEKDAYS, True, True),
    ("0 0 */2 * *", (0,), (0,), tuple(range(1, 32, 2)), ALL_MONTHS, ALL_WEEKDAYS, False, True),
    ("0 0 */1 * *", (0,), (0,), ALL_DAYS, ALL_MONTHS, ALL_WEEKDAYS, True, True),
    ("0 0 13 * 5", (0,), (0,), (13,), ALL_MONTHS, (5,), False, False),
    ("  0   12 * * *  ", (0,), (12,), ALL_DAYS, ALL_MONTHS, ALL_WEEKDAYS, True, True),
    ("@yearly", (0,), (0,), (1,), (1,), ALL_WEEKDAYS, False, True),
    ("@annually", (0,), (0,), (1,), (1,), ALL_WEEKDAYS, False, True),
    ("@monthly", (0,), (0,), (1,), ALL_MONTHS, ALL_WEEKDAYS, False, True),
    ("@weekly", (0,), (0,), ALL_DAYS, ALL_MONTHS, (0,), True, False),
    ("@daily", (0,), (0,), ALL_DAYS, ALL_MONTHS, ALL_WEEKDAYS, True, True),
    ("@midnight", (0,), (0,), ALL_DAYS, ALL_MONTHS, ALL_WEEKDAYS, True, True),
    ("@hourly", (0,), ALL_HOURS, ALL_DAYS, ALL_MONTHS, ALL_WEEKDAYS, True, True),
]


@pytest.mark.parametrize(
    ("text", "minutes", "hours", "days", "months", "weekdays", "dom_star", "dow_star"),
    [pytest.param(*row, id=row[0].strip()) for row in PARSES],
)
def test_an_expression_expands_into_the_values_of_each_field(
    text: str,
    minutes: tuple[int, ...],
    hours: tuple[int, ...],
    days: tuple[int, ...],
    months: tuple[int, ...],
    weekdays: tuple[int, ...],
    dom_star: bool,
    dow_star: bool,
) -> None:
    schedule = CronSchedule.parse(text)
    assert schedule.minutes == minutes
    assert schedule.hours == hours
    assert schedule.days_of_month == days
    assert schedule.months == months
    assert schedule.days_of_week == weekdays
    assert (schedule.day_of_month_star, schedule.day_of_week_star) == (dom_star, dow_star)
    assert str(schedule) == text


REJECTS = [
    ("", "empty"),
    ("   ", "empty"),
    ("* * * *", "found 4 fields"),
    ("0 * * * * *", "found 6 fields"),
    ("60 * * * *", "minute field '60': 60 is above the maximum 59"),
    ("0 24 * * *", "hour field '24': 24 is above the maximum 23"),
    ("0 0 0 * *", "day-of-month field '0': 0 is below the minimum 1"),
    ("0 0 32 * *", "32 is above the maximum 31"),
    ("0 0 * 13 *", "month field '13'"),
    ("0 0 * * 8", "day-of-week field '8': 8 is above the maximum 7"),
    ("0 0 * FOO *", "'FOO' in 'FOO' is not a number; names: JAN"),
    ("0 0 * * MON-FOO", "'FOO' in 'MON-FOO' is not a number; names: SUN"),
    ("0 MON * * *", "'MON' in 'MON' is not a number"),
    ("5-1 * * * *", "range '5-1' starts after it ends"),
    ("*/0 * * * *", "step '0' in '*/0' is not a positive number"),
    ("*/x * * * *", "step 'x'"),
    ("1/2/3 * * * *", "more than one '/'"),
    ("1-2-3 * * * *", "'2-3' in '1-2-3' is not a number"),
    ("1,,2 * * * *", "'' in '' is not a number"),
    ("-1 * * * *", "'' in '-1' is not a number"),
    ("*-5 * * * *", "'*' in '*-5' is not a number"),
    ("0 0 * * 1-", "'' in '1-' is not a number"),
    ("０ 0 * * *", "is not a number"),
    ("@every 1h", "unknown descriptor '@every'"),
    ("@reboot", "unknown descriptor '@reboot'"),
    ("@Daily", "unknown descriptor '@Daily'"),
    ("TZ=Europe/Berlin 0 0 * * *", "set the timeZone instead"),
    ("CRON_TZ=UTC 0 0 * * *", "set the timeZone instead"),
    ("0 0 30 2 *", "never fires"),
    ("0 0 31 4,6,9,11 *", "never fires"),
]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [pytest.param(text, fragment, id=text or "empty") for text, fragment in REJECTS],
)
def test_an_invalid_expression_is_an_error_naming_it_and_what_is_accepted(
    text: str, fragment: str
) -> None:
    with pytest.raises(InvalidCronExpression) as caught:
        CronSchedule.parse(text)
    message = str(caught.value)
    assert fragment in message
    assert f"invalid cron schedule {text!r}" in message
    assert "expected 5 fields" in message
    assert isinstance(caught.value, InvalidInput)


def test_february_the_twenty_ninth_is_accepted_because_leap_years_have_it() -> None:
    assert CronSchedule.parse("0 0 29 2 *").days_of_month == (29,)


def test_an_impossible_day_of_month_is_fine_when_the_weekday_field_can_fire_instead() -> None:
    schedule = CronSchedule.parse("0 0 30 2 1")
    assert (schedule.day_of_month_star, schedule.day_of_week_star) == (False, False)


FIELDS = [
    pytest.param(0, MINUTE, id="minute"),
    pytest.param(1, HOUR, id="hour"),
    pytest.param(2, DAY_OF_MONTH, id="day-of-month"),
    pytest.param(3, MONTH, id="month"),
    pytest.param(4, DAY_OF_WEEK, id="day-of-week"),
]


@pytest.mark.parametrize(("position", "bounds"), FIELDS)
@given(data=st.data())
def test_any_generated_field_expands_to_exactly_the_values_it_names(
    position: int, bounds: tuple[int, int, list[str] | None], data: st.DataObject
) -> None:
    text, values = data.draw(cron_field(bounds))
    fields = ["0", "0", "*", "*", "*"]
    fields[position] = text
    schedule = CronSchedule.parse(" ".join(fields))
    expanded = (
        schedule.minutes,
        schedule.hours,
        schedule.days_of_month,
        schedule.months,
        schedule.days_of_week,
    )[position]
    assert expanded == tuple(sorted(values))


@given(st.text(max_size=30))
def test_parsing_arbitrary_text_either_succeeds_or_raises_our_error(text: str) -> None:
    try:
        schedule = CronSchedule.parse(text)
    except InvalidCronExpression as err:
        assert repr(text) in str(err)
    else:
        assert schedule.minutes and schedule.hours and schedule.months
