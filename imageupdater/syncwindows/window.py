"""One sync window: read strictly from ``spec.syncWindows[]``, matched, and timed.

Owns the window value and its parser (every mistake names the window and what is accepted),
Argo CD's matching (any non-empty list matches, or all of them with ``andOperator``; clusters
by destination name or server) and activity: active from each fire of the cron schedule, read
in the window's ``timeZone``, for ``duration`` of elapsed time, start included, end excluded.
"""

from __future__ import annotations

__all__ = ["InvalidSyncWindow", "SyncWindow", "parse_windows"]

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from imageupdater.cron import CronSchedule
from imageupdater.durations import parse_duration
from imageupdater.errors import InvalidInput
from imageupdater.syncwindows.globs import GLOB_FORMS, compile_glob, glob_matches

_SELECTORS = ("applications", "namespaces", "clusters")
# A window whose duration covers the gaps between its fires never closes; looking this many
# fires ahead bounds the search and still yields a moment up to which nothing changes.
_MAX_STEPS = 256


class InvalidSyncWindow(InvalidInput):
    """A sync window (or an AppProject's list of them) that cannot be honoured as written."""


@dataclass(frozen=True, slots=True)
class SyncWindow:
    """One ``spec.syncWindows[]`` entry, parsed."""

    kind: Literal["allow", "deny"]
    schedule: CronSchedule
    duration: timedelta
    applications: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()
    time_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    manual_sync: bool = False
    and_operator: bool = False
    sync_overrun: bool = False
    _globs: tuple[tuple[Any, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.duration <= timedelta(0):
            raise InvalidSyncWindow(f"duration {self.duration} must be positive")
        if not (self.applications or self.namespaces or self.clusters):
            raise InvalidSyncWindow(
                "the window selects no Application: set at least one of applications, "
                "namespaces or clusters (['*'] selects every one)"
            )
        globs = tuple(tuple(_compiled(key, p) for p in getattr(self, key)) for key in _SELECTORS)
        object.__setattr__(self, "_globs", globs)

    @classmethod
    def parse(cls, raw: Mapping[str, Any], *, index: int | None = None) -> SyncWindow:
        """Read one raw entry; raises InvalidSyncWindow naming the window and what is accepted."""
        where = f"syncWindows[{index}]" if index is not None else "sync window"
        if not isinstance(raw, Mapping):
            raise InvalidSyncWindow(f"{where} is {type(raw).__name__}, not an object")
        schedule_text = raw.get("schedule")
        if isinstance(schedule_text, str):
            where += f" (schedule {schedule_text!r})"
        try:
            return cls._parse(raw, schedule_text)
        except InvalidInput as err:
            raise InvalidSyncWindow(f"{where}: {err}") from err

    @classmethod
    def _parse(cls, raw: Mapping[str, Any], schedule_text: object) -> SyncWindow:
        kind = raw.get("kind")
        if kind not in ("allow", "deny"):
            raise InvalidSyncWindow(f"kind {kind!r} is not accepted; accepted: 'allow' or 'deny'")
        if not isinstance(schedule_text, str) or not schedule_text.strip():
            raise InvalidSyncWindow(
                f"schedule {schedule_text!r} is missing or not a string; accepted: a cron "
                "expression such as '0 22 * * *' or a descriptor such as '@daily'"
            )
        schedule = CronSchedule.parse(schedule_text)
        return cls(
            kind=kind,
            schedule=schedule,
            duration=_parse_window_duration(raw.get("duration")),
            applications=_string_list(raw, "applications"),
            namespaces=_string_list(raw, "namespaces"),
            clusters=_string_list(raw, "clusters"),
            time_zone=_parse_zone(raw.get("timeZone")),
            manual_sync=_flag(raw, "manualSync"),
            and_operator=_flag(raw, "andOperator"),
            sync_overrun=_flag(raw, "syncOverrun"),
        )

    def __str__(self) -> str:
        return (
            f"{self.kind} window {self.schedule.text!r} "
            f"({format_duration(self.duration)}, {self.time_zone.key})"
        )

    def matches(
        self, app_name: str, namespace: str, cluster_server: str, cluster_name: str
    ) -> bool:
        """Whether this window applies to an Application with that name and destination."""
        apps, namespaces, clusters = self._globs
        results: list[bool] = []
        if apps:
            results.append(any(glob_matches(g, app_name) for g in apps))
        if clusters:
            results.append(
                any(
                    (cluster_name and glob_matches(g, cluster_name))
                    or (cluster_server and glob_matches(g, cluster_server))
                    for g in clusters
                )
            )
        if namespaces:
            results.append(any(glob_matches(g, namespace) for g in namespaces))
        if self.and_operator:
            return bool(results) and all(results)
        return any(results)

    def is_active(self, now: datetime) -> bool:
        """Whether ``now`` lies in [fire, fire + duration) for the most recent fire."""
        moment = as_utc(now)
        last = self.schedule.previous_fire(moment.astimezone(self.time_zone))
        return moment < last.astimezone(UTC) + self.duration

    def next_change(self, now: datetime) -> datetime:
        """When ``is_active`` next flips (in UTC).

        For a window that never closes (its duration covers the gaps between fires), the search
        stops after a bounded number of fires and answers the moment up to which the window is
        known to stay active: a safe time to look again.
        """
        moment = as_utc(now)
        if not self.is_active(moment):
            return self.schedule.next_fire(moment.astimezone(self.time_zone)).astimezone(UTC)
        end = moment
        for _ in range(_MAX_STEPS):
            last = self.schedule.previous_fire(end.astimezone(self.time_zone))
            reach = last.astimezone(UTC) + self.duration
            if reach <= end:
                return end
            end = reach
        return end


def parse_windows(project: Mapping[str, Any]) -> tuple[SyncWindow, ...]:
    """Every window of an AppProject object; all problems are reported in one error."""
    metadata = project.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    owner = f"AppProject {name!r}" if isinstance(name, str) else "AppProject"
    spec = project.get("spec")
    raw_windows = spec.get("syncWindows") if isinstance(spec, Mapping) else None
    if raw_windows is None:
        return ()
    if not isinstance(raw_windows, list):
        raise InvalidSyncWindow(
            f"{owner}: spec.syncWindows is {type(raw_windows).__name__}; accepted: a list"
        )
    windows: list[SyncWindow] = []
    problems: list[str] = []
    for index, raw in enumerate(raw_windows):
        try:
            windows.append(SyncWindow.parse(raw, index=index))
        except InvalidSyncWindow as err:
            problems.append(str(err))
    if problems:
        raise InvalidSyncWindow(f"{owner}: " + "; ".join(problems))
    return tuple(windows)


def as_utc(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"a time-zone-aware datetime is needed, got {now.isoformat()}")
    return now.astimezone(UTC)


def format_duration(duration: timedelta) -> str:
    seconds = duration.total_seconds()
    hours, rest = divmod(int(seconds), 3600)
    minutes = rest // 60
    remainder = seconds - hours * 3600 - minutes * 60
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{remainder:g}s" if remainder or not text else "")


def _parse_window_duration(value: object) -> timedelta:
    accepted = "accepted: a positive Go duration such as '1h', '30m' or '1h30m'"
    if not isinstance(value, str) or not value.strip():
        raise InvalidSyncWindow(f"duration {value!r} is missing or not a string; {accepted}")
    if value.strip().startswith("-"):
        raise InvalidSyncWindow(f"duration {value!r} is not positive; {accepted}")
    try:
        seconds = parse_duration(value)
    except ValueError as err:
        raise InvalidSyncWindow(f"duration {value!r} is not a duration; {accepted}") from err
    if seconds <= 0:
        raise InvalidSyncWindow(f"duration {value!r} is not positive; {accepted}")
    return timedelta(seconds=seconds)


def _parse_zone(value: object) -> ZoneInfo:
    accepted = "accepted: an IANA time zone name such as 'UTC' or 'Europe/Berlin'"
    if value is None or value == "":
        return ZoneInfo("UTC")
    if not isinstance(value, str):
        raise InvalidSyncWindow(f"timeZone {value!r} is not a string; {accepted}")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError) as err:
        raise InvalidSyncWindow(f"timeZone {value!r} is not a known time zone; {accepted}") from err


def _string_list(raw: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = raw.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidSyncWindow(f"{key} {value!r} is not accepted; accepted: a list of globs")
    return tuple(value)


def _flag(raw: Mapping[str, Any], key: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise InvalidSyncWindow(f"{key} {value!r} is not accepted; accepted: true or false")
    return value


def _compiled(key: str, pattern: str) -> Any:
    try:
        return compile_glob(pattern)
    except ValueError as err:
        shown = pattern if len(pattern) <= 60 else pattern[:30] + "..."
        raise InvalidSyncWindow(f"{key} glob {shown!r}: {err}; {GLOB_FORMS}") from None
