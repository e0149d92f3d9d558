"""Argo CD sync windows (an AppProject's ``spec.syncWindows``) and whether an update may go in now.

Owns reading the windows strictly (every mistake is an error naming the window), matching a
window to an Application the way Argo CD does, when a window is active, and the decision
``can_update`` with the moment the answer can next change. Pure: the clock is a parameter.

Argo CD's rules, kept here: a window matches an Application when any of its non-empty lists
(``applications`` by name, ``clusters`` by destination name or server, ``namespaces`` by
destination namespace; gobwas globs) matches, or all of them with ``andOperator``. A window
is active from each fire of its cron schedule for ``duration``, start included, end excluded.
Among the matching windows an active deny blocks; otherwise an active allow allows; otherwise
any (inactive) allow blocks; otherwise updates go in. Our writes are automated, so
``manualSync`` never unblocks them; ``syncOverrun`` concerns syncs already running and does
not change the decision. Stricter than upstream: a bad schedule, duration or time zone, a glob
that does not compile, or a window that selects nothing is an error, not a silent no-op.
"""

from __future__ import annotations

__all__ = ["InvalidSyncWindow", "SyncDecision", "SyncWindow", "can_update", "parse_windows"]

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import re2

from imageupdater.cron import CronSchedule
from imageupdater.durations import parse_duration
from imageupdater.errors import InvalidInput

MAX_PATTERN_LENGTH = 1000
_GLOB_FORMS = (
    "accepted: a glob of literal characters, '*', '?', '[abc]', '[!abc]', '[a-z]', '[!a-z]', "
    "'{a,b}' alternatives and '\\' escapes"
)
_SELECTORS = ("applications", "namespaces", "clusters")
# A window whose duration covers the gaps between its fires never closes; looking this many
# fires ahead bounds the search and still yields a moment up to which nothing changes.
_MAX_STEPS = 256
_MAX_DECISION_STEPS = 64


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
        globs = tuple(
            tuple(_compile_glob(key, p) for p in getattr(self, key)) for key in _SELECTORS
        )
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
            f"({_format_duration(self.duration)}, {self.time_zone.key})"
        )

    def matches(
        self, app_name: str, namespace: str, cluster_server: str, cluster_name: str
    ) -> bool:
        """Whether this window applies to an Application with that name and destination."""
        apps, namespaces, clusters = self._globs
        results: list[bool] = []
        if apps:
            results.append(any(_glob_matches(g, app_name) for g in apps))
        if clusters:
            results.append(
                any(
                    (cluster_name and _glob_matches(g, cluster_name))
                    or (cluster_server and _glob_matches(g, cluster_server))
                    for g in clusters
                )
            )
        if namespaces:
            results.append(any(_glob_matches(g, namespace) for g in namespaces))
        if self.and_operator:
            return bool(results) and all(results)
        return any(results)

    def is_active(self, now: datetime) -> bool:
        """Whether ``now`` lies in [fire, fire + duration) for the most recent fire."""
        moment = _utc(now)
        last = self.schedule.previous_fire(moment.astimezone(self.time_zone))
        return moment < last.astimezone(UTC) + self.duration

    def next_change(self, now: datetime) -> datetime:
        """When ``is_active`` next flips (in UTC).

        For a window that never closes (its duration covers the gaps between fires), the search
        stops after a bounded number of fires and answers the moment up to which the window is
        known to stay active: a safe time to look again.
        """
        moment = _utc(now)
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


@dataclass(frozen=True, slots=True)
class SyncDecision:
    """Whether an update may be written now, why, and when to ask again if not."""

    allowed: bool
    reason: str
    retry_at: datetime | None  # earliest moment the answer becomes "allowed"; None when allowed


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


def can_update(
    windows: Sequence[SyncWindow], app: Mapping[str, Any], now: datetime
) -> SyncDecision:
    """Whether the windows let an automated update into ``app`` (a raw Application) at ``now``."""
    moment = _utc(now)
    name, namespace, server, cluster = _destination(app)
    matching = [w for w in windows if w.matches(name, namespace, server, cluster)]
    if not matching:
        return SyncDecision(True, f"no sync window applies to Application {name!r}", None)
    allowed, reason = _judge(matching, moment)
    if allowed:
        return SyncDecision(True, reason, None)
    return SyncDecision(False, reason, _when_allowed(matching, moment))


def _allowed(states: Sequence[tuple[SyncWindow, bool]]) -> bool:
    if any(w.kind == "deny" and active for w, active in states):
        return False
    if any(w.kind == "allow" and active for w, active in states):
        return True
    return not any(w.kind == "allow" for w, _ in states)


def _judge(matching: Sequence[SyncWindow], moment: datetime) -> tuple[bool, str]:
    states = [(w, w.is_active(moment)) for w in matching]
    active_denies = [w for w, active in states if active and w.kind == "deny"]
    active_allows = [w for w, active in states if active and w.kind == "allow"]
    allows = [w for w, _ in states if w.kind == "allow"]
    if active_denies:
        ends = [(w.next_change(moment), w) for w in active_denies]
        end, window = max(ends, key=lambda pair: pair[0])
        more = len(active_denies) - 1
        extra = f" (and {more} more active deny window{'s' if more > 1 else ''})" if more else ""
        return False, f"{window} is active {_until(end, window, moment)}{extra}"
    if active_allows:
        window = active_allows[0]
        return True, f"{window} is active {_until(window.next_change(moment), window, moment)}"
    if allows:
        start, window = min(((w.next_change(moment), w) for w in allows), key=lambda p: p[0])
        return (
            False,
            f"no allow window is active; {window} opens next at {_when(start, window, moment)}",
        )
    return True, "no deny window is active and no allow window applies"


def _when_allowed(matching: Sequence[SyncWindow], moment: datetime) -> datetime:
    """The first change point at which the decision turns to allowed (bounded look-ahead).

    Each window's next change is recomputed only once it has been reached. A change point at
    which nothing flips comes from a window that never closes: nothing can be learnt beyond
    it cheaply, so it is the moment to look again.
    """
    changes = [w.next_change(moment) for w in matching]
    states = [w.is_active(moment) for w in matching]
    probe = moment
    for _ in range(_MAX_DECISION_STEPS):
        probe = min(changes)
        now_states = [w.is_active(probe) for w in matching]
        if _allowed(list(zip(matching, now_states, strict=True))) or now_states == states:
            break
        states = now_states
        changes = [
            w.next_change(probe) if change <= probe else change
            for w, change in zip(matching, changes, strict=True)
        ]
    return probe


def _destination(app: Mapping[str, Any]) -> tuple[str, str, str, str]:
    metadata = app.get("metadata")
    spec = app.get("spec")
    destination = spec.get("destination") if isinstance(spec, Mapping) else None
    if not isinstance(destination, Mapping):
        destination = {}
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return (
        _text(name),
        _text(destination.get("namespace")),
        _text(destination.get("server")),
        _text(destination.get("name")),
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"a time-zone-aware datetime is needed, got {now.isoformat()}")
    return now.astimezone(UTC)


def _until(end: datetime, window: SyncWindow, now: datetime) -> str:
    # A window that never closes reports a bounded horizon rather than an end.
    at_least = "at least " if window.is_active(end) else ""
    return f"{at_least}until {_when(end, window, now)}"


def _when(moment: datetime, window: SyncWindow, now: datetime) -> str:
    local = moment.astimezone(window.time_zone)
    clock = "%H:%M:%S" if local.second or local.microsecond else "%H:%M"
    if local.date() != now.astimezone(window.time_zone).date():
        clock = "%Y-%m-%d " + clock
    return f"{local.strftime(clock)} {local.tzname()}"


def _format_duration(duration: timedelta) -> str:
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


def _re2_options() -> Any:
    options = re2.Options()
    options.log_errors = False
    return options


_RE2_OPTIONS = _re2_options()


def _compile_glob(key: str, pattern: str) -> Any:
    """A gobwas glob (as Argo CD compiles it, no separators) as an anchored RE2 program."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidSyncWindow(
            f"{key} glob {pattern[:30] + '...'!r} has {len(pattern)} characters, "
            f"more than the {MAX_PATTERN_LENGTH} accepted"
        )
    try:
        return re2.compile("(?s)" + _glob_to_regex(pattern), _RE2_OPTIONS)
    except (ValueError, re2.error) as err:
        raise InvalidSyncWindow(f"{key} glob {pattern!r}: {err}; {_GLOB_FORMS}") from None


def _glob_matches(glob: Any, text: str) -> bool:
    try:
        return glob.fullmatch(text) is not None
    except UnicodeEncodeError:
        # RE2 takes UTF-8; a lone surrogate (possible after JSON decoding) cannot be one.
        cleaned = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
        return glob.fullmatch(cleaned) is not None


def _glob_to_regex(pattern: str) -> str:
    out: list[str] = []
    depth = 0
    i = 0
    while i < len(pattern):
        char = pattern[i]
        i += 1
        if char == "\\":
            if i == len(pattern):
                raise ValueError("it ends with a lone '\\'")
            out.append(_literal(pattern[i]))
            i += 1
        elif char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            regex, i = _glob_class(pattern, i)
            out.append(regex)
        elif char == "{":
            depth += 1
            out.append("(?:")
        elif char == "," and depth:
            out.append("|")
        elif char == "}" and depth:
            depth -= 1
            out.append(")")
        else:
            out.append(_literal(char))
    if depth:
        raise ValueError("a '{' is never closed")
    return "".join(out)


def _glob_class(pattern: str, i: int) -> tuple[str, int]:
    """``[...]`` after its '[': one range ``a-z`` or a list of characters, optionally negated."""
    negate = i < len(pattern) and pattern[i] == "!"
    i += negate
    if i + 2 < len(pattern) and pattern[i + 1] == "-":
        low, high = pattern[i], pattern[i + 2]
        if pattern[i + 3 : i + 4] != "]":
            raise ValueError("a range class holds one range and must close after it")
        if low > high:
            raise ValueError(f"the range {low}-{high} is reversed")
        body = f"{_literal(low)}-{_literal(high)}"
        i += 4
    else:
        chars: list[str] = []
        while i < len(pattern) and pattern[i] != "]":
            if pattern[i] == "\\" and i + 1 < len(pattern):
                i += 1
            chars.append(pattern[i])
            i += 1
        if i == len(pattern):
            raise ValueError("a '[' is never closed")
        if not chars:
            raise ValueError("a character class is empty")
        body = "".join(_literal(c) for c in chars)
        i += 1
    return f"[{'^' if negate else ''}{body}]", i


def _literal(char: str) -> str:
    return char if char.isascii() and char.isalnum() else f"\\x{{{ord(char):x}}}"
