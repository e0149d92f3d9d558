"""Cron schedules as Argo CD's sync windows read them (robfig/cron v3, standard 5-field parser).

Owns parsing ``minute hour day-of-month month day-of-week`` expressions and the descriptors
(``@daily`` ...), and finding the fire times around an instant. A fire time is an instant whose
wall-clock reading in the instant's time zone matches the expression at second 0, so a time
skipped by a daylight-saving jump never fires and a repeated one fires twice, as in robfig/cron.

Departures from robfig, all stricter or a superset: ``7`` is accepted for Sunday; a schedule
that can never fire (``0 0 30 2 *``) is an error instead of a window that is always open;
``*-5``-style leftovers after a star and ``TZ=`` prefixes are errors (sync windows have a
``timeZone`` field); ``@every`` has no start to count from and is an error.
"""

from __future__ import annotations

__all__ = ["CronSchedule", "InvalidCronExpression"]

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from imageupdater.errors import InvalidInput

ACCEPTED = (
    "expected 5 fields 'minute hour day-of-month month day-of-week' made of numbers, "
    "names (JAN-DEC, SUN-SAT), '*', '?', lists 'a,b', ranges 'a-b' and steps '/n', "
    "or one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly"
)

_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTH_NAMES = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
_DAY_NAMES = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
# (name, lowest, highest accepted, highest meant by '*', names)
_FIELDS: tuple[tuple[str, int, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, 59, {}),
    ("hour", 0, 23, 23, {}),
    ("day-of-month", 1, 31, 31, {}),
    ("month", 1, 12, 12, _MONTH_NAMES),
    ("day-of-week", 0, 7, 6, _DAY_NAMES),
)
# The longest wait between two fires: 29 February on a day-of-month-only schedule skips
# 2100, so 8 years; months are searched a little beyond that.
_MAX_MONTHS = 12 * 9
# Wall-clock times shift by at most this much at a daylight-saving (or zone) change.
_MAX_SHIFT = timedelta(hours=3)


class InvalidCronExpression(InvalidInput):
    """A cron expression that does not parse or never fires."""


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """One parsed cron expression; sets hold the allowed values of each field, sorted."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days_of_month: tuple[int, ...]
    months: tuple[int, ...]
    days_of_week: tuple[int, ...]  # 0 = Sunday
    day_of_month_star: bool  # written as '*' or '?': then both day fields must match (AND)
    day_of_week_star: bool

    @classmethod
    def parse(cls, text: str) -> CronSchedule:
        """Parse an expression; raises InvalidCronExpression saying what is wrong and accepted."""
        spec = text.strip()
        if not spec:
            raise _invalid(text, "the expression is empty")
        if spec.startswith(("TZ=", "CRON_TZ=")):
            raise _invalid(text, "a TZ= prefix is not accepted here; set the timeZone instead")
        if spec.startswith("@"):
            if spec not in _DESCRIPTORS:
                raise _invalid(text, f"unknown descriptor {spec.split()[0]!r}")
            spec = _DESCRIPTORS[spec]
        fields = spec.split()
        if len(fields) != len(_FIELDS):
            raise _invalid(text, f"found {len(fields)} fields")
        parsed: list[tuple[tuple[int, ...], bool]] = []
        for raw, (name, low, high, star_high, names) in zip(fields, _FIELDS, strict=True):
            try:
                parsed.append(_parse_field(raw, low, high, star_high, names))
            except ValueError as err:
                raise _invalid(text, f"{name} field {raw!r}: {err}") from None
        (minutes, _), (hours, _), (doms, dom_star), (months, _), (dows, dow_star) = parsed
        dows = tuple(sorted({0 if d == 7 else d for d in dows}))
        schedule = cls(text, minutes, hours, doms, months, dows, dom_star, dow_star)
        if (
            dow_star
            and not dom_star
            and not any(day <= _longest_month(m) for m in months for day in doms)
        ):
            raise _invalid(
                text, "no month in the expression has any of its days, so it never fires"
            )
        return schedule

    def __str__(self) -> str:
        return self.text

    def matches_day(self, day: date) -> bool:
        """Whether the day fields allow ``day`` (robfig: AND if either is '*', else OR)."""
        dom_ok = day.day in self.days_of_month
        dow_ok = (day.weekday() + 1) % 7 in self.days_of_week
        if self.day_of_month_star or self.day_of_week_star:
            return dom_ok and dow_ok
        return dom_ok or dow_ok

    def matches(self, wall: datetime) -> bool:
        """Whether a wall-clock time (its date, hour and minute) is one the expression names."""
        return (
            wall.minute in self.minutes
            and wall.hour in self.hours
            and wall.month in self.months
            and self.matches_day(wall.date())
        )

    def next_fire(self, now: datetime) -> datetime:
        """The first fire time strictly after ``now``, in ``now``'s time zone."""
        zone, moment, wall = _split(now)
        # Outside a repeated hour wall-clock order is instant order and the first match wins;
        # inside one, the second pass replays earlier wall times, so nearby walls all compete.
        ambiguous = _is_ambiguous(moment, zone)
        start = _floor_minute(wall) - (_MAX_SHIFT if ambiguous else timedelta(0))
        best: tuple[datetime, datetime] | None = None  # (instant, its wall-clock time)
        for candidate in self._walls_from(start):
            if best is not None and (not ambiguous or candidate > best[1] + _MAX_SHIFT):
                break
            for instant in _instants(candidate, zone):
                if instant > moment and (best is None or instant < best[0]):
                    best = (instant, candidate)
        if best is None:
            raise _no_fire(self.text, now, "after")
        return best[0].astimezone(zone)

    def previous_fire(self, now: datetime) -> datetime:
        """The last fire time at or before ``now``, in ``now``'s time zone."""
        zone, moment, wall = _split(now)
        ambiguous = _is_ambiguous(moment, zone)
        start = _floor_minute(wall) + (_MAX_SHIFT if ambiguous else timedelta(0))
        best: tuple[datetime, datetime] | None = None
        for candidate in self._walls_back_from(start):
            if best is not None and (not ambiguous or candidate < best[1] - _MAX_SHIFT):
                break
            for instant in _instants(candidate, zone):
                if instant <= moment and (best is None or instant > best[0]):
                    best = (instant, candidate)
        if best is None:
            raise _no_fire(self.text, now, "before")
        return best[0].astimezone(zone)

    def _walls_from(self, start: datetime) -> Iterator[datetime]:
        """Matching wall-clock minutes at or after ``start``, in order, for a bounded span."""
        day, first = start.date(), (start.hour, start.minute)
        for _ in range(_MAX_MONTHS + 1):
            if day.month in self.months:
                last = calendar.monthrange(day.year, day.month)[1]
                while True:
                    if self.matches_day(day):
                        yield from self._times_on(day, first)
                    first = (0, 0)
                    if day.day == last:
                        break
                    day += timedelta(days=1)
            first = (0, 0)
            if day.year == 9999 and day.month == 12:
                return
            day = date(day.year + day.month // 12, day.month % 12 + 1, 1)

    def _walls_back_from(self, start: datetime) -> Iterator[datetime]:
        """Matching wall-clock minutes at or before ``start``, latest first, bounded."""
        day, last = start.date(), (start.hour, start.minute)
        for _ in range(_MAX_MONTHS + 1):
            if day.month in self.months:
                while True:
                    if self.matches_day(day):
                        yield from self._times_on_back(day, last)
                    last = (23, 59)
                    if day.day == 1:
                        break
                    day -= timedelta(days=1)
            last = (23, 59)
            if day.year == 1 and day.month == 1:
                return
            day = date(day.year, day.month, 1) - timedelta(days=1)

    def _times_on(self, day: date, first: tuple[int, int]) -> Iterator[datetime]:
        for hour in self.hours:
            if hour < first[0]:
                continue
            floor = first[1] if hour == first[0] else 0
            for minute in self.minutes:
                if minute >= floor:
                    yield datetime.combine(day, time(hour, minute))

    def _times_on_back(self, day: date, last: tuple[int, int]) -> Iterator[datetime]:
        for hour in reversed(self.hours):
            if hour > last[0]:
                continue
            ceiling = last[1] if hour == last[0] else 59
            for minute in reversed(self.minutes):
                if minute <= ceiling:
                    yield datetime.combine(day, time(hour, minute))


def _parse_field(
    raw: str, low: int, high: int, star_high: int, names: dict[str, int]
) -> tuple[tuple[int, ...], bool]:
    values: set[int] = set()
    star = False
    for term in raw.split(","):
        range_part, slash, step_text = term.partition("/")
        if slash and "/" in step_text:
            raise ValueError(f"{term!r} has more than one '/'")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"step {step_text!r} in {term!r} is not a positive number")
            step = int(step_text)
        if range_part in ("*", "?"):
            start, end = low, star_high
            star = star or step == 1
        else:
            low_text, dash, high_text = range_part.partition("-")
            start = _number(low_text, names, term)
            end = _number(high_text, names, term) if dash else (star_high if slash else start)
            if start < low:
                raise ValueError(f"{start} is below the minimum {low}")
            if end > high:
                raise ValueError(f"{end} is above the maximum {high}")
            if start > end:
                raise ValueError(f"range {range_part!r} starts after it ends")
        values.update(range(start, end + 1, step))
    return tuple(sorted(values)), star


def _number(text: str, names: dict[str, int], term: str) -> int:
    if text.isdigit() and text.isascii():
        return int(text)
    if text.lower() in names:
        return names[text.lower()]
    hint = f"; names: {', '.join(n.upper() for n in names)}" if names else ""
    raise ValueError(f"{text!r} in {term!r} is not a number{hint}")


def _longest_month(month: int) -> int:
    return 29 if month == 2 else calendar.monthrange(2001, month)[1]


def _invalid(text: str, reason: str) -> InvalidCronExpression:
    return InvalidCronExpression(f"invalid cron schedule {text!r}: {reason}; {ACCEPTED}")


def _no_fire(text: str, now: datetime, where: str) -> InvalidCronExpression:
    return InvalidCronExpression(
        f"cron schedule {text!r} has no fire time within {_MAX_MONTHS // 12} years {where} "
        f"{now.isoformat()}"
    )


def _split(now: datetime) -> tuple[tzinfo, datetime, datetime]:
    """``now``'s zone, ``now`` as a UTC instant, and the (normalised) wall-clock time there.

    Instants are compared in UTC because Python compares two datetimes sharing a tzinfo by
    their wall-clock readings, which is wrong inside a repeated hour.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"a time-zone-aware datetime is needed, got {now.isoformat()}")
    zone = now.tzinfo
    moment = now.astimezone(UTC)
    return zone, moment, moment.astimezone(zone).replace(tzinfo=None)


def _floor_minute(wall: datetime) -> datetime:
    return wall.replace(second=0, microsecond=0, fold=0)


def _instants(wall: datetime, zone: tzinfo) -> list[datetime]:
    """The UTC instants at which clocks in ``zone`` read ``wall``: none in a gap, two in a fold."""
    found: list[datetime] = []
    for fold in (0, 1):
        instant = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if instant not in found and instant.astimezone(zone).replace(tzinfo=None) == wall:
            found.append(instant)
    return found


def _is_ambiguous(moment: datetime, zone: tzinfo) -> bool:
    """Whether the wall-clock time of ``moment`` in ``zone`` also names another instant."""
    local = moment.astimezone(zone)
    return local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()
