"""Reading ``spec.rules`` of a policy: each rule strictly, and the rules against each other.

Owns what each rule accepts and how its patterns are normalised the way ``ImageRef``
normalises images: registry globs are compared with lower-cased hosts, ``index.docker.io``
is ``docker.io``; a repository pattern without glob characters is read as an image name
(``nginx`` is ``docker.io/library/nginx``), and one that can never match (no registry host,
a tag) is refused rather than silently useless.
"""

from __future__ import annotations

__all__ = ["duration_field", "parse_rules"]

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from imageupdater.cron import CronSchedule, InvalidCronExpression
from imageupdater.durations import parse_duration
from imageupdater.errors import InvalidInput
from imageupdater.images import ImageRef
from imageupdater.strategies import Strategy
from imageupdater.updatepolicy.fields import ROLLBACK_FIELDS, RULE_FIELDS, WINDOW_FIELDS
from imageupdater.updatepolicy.globs import Glob
from imageupdater.updatepolicy.model import DEFAULT_ROLLBACK_WINDOW, Bump, Rules, UpdateWindow
from imageupdater.updatepolicy.reading import (
    Collector,
    child,
    describe,
    glob_list,
    index,
    mapping,
    quoted,
    string,
    unknown_fields,
    value_shown,
)
from imageupdater.versions import Constraint

_GLOB_CHARS = frozenset("*?[]{}\\")
_STRATEGIES = tuple(s.value for s in Strategy)
_DEPRECATED_STRATEGIES = {"latest": Strategy.NEWEST_BUILD, "name": Strategy.ALPHABETICAL}
_BUMPS = tuple(b.value for b in Bump)
_DURATION_FORM = "Go duration such as '24h', '90m' or '1h30m'"


def parse_rules(value: object, path: str, out: Collector) -> Rules | None:
    """``spec.rules`` (``value`` None when absent); None when any rule is wrong."""
    if value is None:
        out.warning(path, "there are no rules, so the policy restricts nothing")
        return Rules()
    raw = mapping(value, path, out)
    if raw is None:
        return None
    if not raw:
        out.warning(path, "there are no rules, so the policy restricts nothing")
    errors_before = _errors(out)
    unknown_fields(raw, path, RULE_FIELDS, out)
    rules = Rules(
        allowed_registries=_present(raw, "allowedRegistries", path, out, _registries),
        allowed_repositories=_present(raw, "allowedRepositories", path, out, _repositories),
        denied_tags=_present(raw, "deniedTags", path, out, _tags) or (),
        allowed_strategies=_present(raw, "allowedStrategies", path, out, _strategies),
        required_constraint=_present(raw, "requiredConstraint", path, out, _constraint),
        max_bump=_present(raw, "maxBump", path, out, _bump),
        minimum_age=_present(raw, "minimumAge", path, out, _age),
        require_digest=_present(raw, "requireDigest", path, out, _flag) or False,
        update_windows=_present(raw, "updateWindows", path, out, _windows),
        rollback_window=_present(raw, "rollbackOnDegraded", path, out, _rollback),
    )
    strategies = rules.allowed_strategies
    if rules.max_bump is not None and strategies is not None and Strategy.SEMVER not in strategies:
        out.error(
            child(path, "maxBump"),
            f"maxBump {rules.max_bump.value!r} measures bumps between semantic versions, but "
            f"allowedStrategies ({', '.join(s.value for s in strategies)}) does not allow "
            "semver; add semver to allowedStrategies or remove maxBump",
        )
    return None if _errors(out) > errors_before else rules


def _errors(out: Collector) -> int:
    return sum(1 for p in out.problems if p.severity == "error")


_T = TypeVar("_T")


def _present(
    raw: Mapping[Any, Any],
    name: str,
    path: str,
    out: Collector,
    reader: Callable[[object, str, Collector], _T | None],
) -> _T | None:
    """What ``reader`` makes of the field ``name``; None when the field is absent (or wrong)."""
    return reader(raw[name], child(path, name), out) if name in raw else None


def _registries(value: object, path: str, out: Collector) -> tuple[Glob, ...] | None:
    return glob_list(
        value,
        path,
        out,
        what="registry host",
        empty="an empty list allows no registry; leave allowedRegistries out to allow any",
        normalise=_registry_pattern,
    )


def _registry_pattern(text: str) -> str:
    if "/" in text:
        raise ValueError(
            "a registry glob matches the registry host[:port] only (e.g. 'ghcr.io', "
            "'*.example.com'), never a path; put repository paths in allowedRepositories"
        )
    lowered = text.lower()
    # Only a literal host is normalised: a glob such as '*docker.io' already means what it says.
    return ImageRef(lowered, "x").registry_host if not _is_glob(lowered) else lowered


def _repositories(value: object, path: str, out: Collector) -> tuple[Glob, ...] | None:
    return glob_list(
        value,
        path,
        out,
        what="repository",
        empty="an empty list allows no repository; leave allowedRepositories out to allow any",
        normalise=_repository_pattern,
    )


def _repository_pattern(text: str) -> str:
    if not _is_glob(text):
        if "/" not in text and "." in text:
            raise ValueError(
                "it looks like a registry host; allowedRepositories names repositories "
                "('ghcr.io/acme/web', 'ghcr.io/acme/*'), allowedRegistries names hosts"
            )
        try:
            ref = ImageRef.parse(text)
        except InvalidInput as err:
            raise ValueError(f"it is not a repository name ({err})") from None
        if ref.tag is not None or ref.digest is not None or ref.alias is not None:
            raise ValueError(
                f"a repository is named without alias, tag or digest, e.g. {ref.full_name!r}"
            )
        return f"{ref.registry_host}/{ref.repository}"
    host, slash, rest = text.partition("/")
    if not slash or not ("." in host or ":" in host or host == "localhost" or _is_glob(host)):
        raise ValueError(
            "it has no registry host, so it can never match: repositories are matched as "
            "'host/repository', e.g. 'ghcr.io/acme/*' ('docker.io/library/*' for Docker Hub's "
            "official images)"
        )
    host = host.lower()
    if not _is_glob(host):
        host = ImageRef(host, "x").registry_host
    return f"{host}/{rest.lower()}"


def _is_glob(text: str) -> bool:
    return any(c in _GLOB_CHARS for c in text)


def _tags(value: object, path: str, out: Collector) -> tuple[Glob, ...] | None:
    return glob_list(value, path, out, what="tag")


def _strategies(value: object, path: str, out: Collector) -> tuple[Strategy, ...] | None:
    accepted = ", ".join(_STRATEGIES)
    if not isinstance(value, list | tuple):
        out.error(path, f"must be a list of update strategies ({accepted}), not {describe(value)}")
        return None
    if not value:
        out.error(
            path,
            "is an empty list, which allows no update strategy; leave allowedStrategies out "
            "to allow any",
        )
        return None
    found: list[Strategy] = []
    good = True
    for position, item in enumerate(value):
        if isinstance(item, str) and item in _STRATEGIES:
            strategy = Strategy(item)
            if strategy not in found:
                found.append(strategy)
            continue
        good = False
        hint = ""
        if isinstance(item, str) and item.lower() in _DEPRECATED_STRATEGIES:
            hint = f" ({item!r} is the deprecated name of "
            hint += f"{_DEPRECATED_STRATEGIES[item.lower()].value!r}; write that)"
        elif isinstance(item, str) and item.lower() in _STRATEGIES:
            hint = f" (did you mean {item.lower()!r}?)"
        out.error(
            index(path, position),
            f"update strategy {value_shown(item)} is not accepted{hint}; accepted: {accepted}",
        )
    return tuple(found) if good else None


def _constraint(value: object, path: str, out: Collector) -> Constraint | None:
    text = string(value, path, out, what="a semver constraint such as '<3' or '^1.2'")
    if text is None:
        return None
    try:
        return Constraint.parse(text)
    except InvalidInput as err:
        out.error(path, str(err))
        return None


def _bump(value: object, path: str, out: Collector) -> Bump | None:
    if isinstance(value, str) and value in _BUMPS:
        return Bump(value)
    hint = ""
    if isinstance(value, str) and value.lower() in _BUMPS:
        hint = f" (did you mean {value.lower()!r}?)"
    out.error(path, f"{value_shown(value)} is not accepted{hint}; accepted: {', '.join(_BUMPS)}")
    return None


def _age(value: object, path: str, out: Collector) -> timedelta | None:
    return duration_field(value, path, out, positive=False)


def duration_field(value: object, path: str, out: Collector, *, positive: bool) -> timedelta | None:
    """A Go duration field (``minimumAge``, ``window``, ``soak``…); None with a problem."""
    what = f"{'a positive' if positive else 'a non-negative'} {_DURATION_FORM}"
    if not isinstance(value, str):
        out.error(path, f"must be {what}, not {describe(value)}")
        return None
    try:
        duration = timedelta(seconds=parse_duration(value.strip()))
    except ValueError as err:
        days = " (Go durations have no days: write '168h' for a week)" if "d" in value else ""
        out.error(path, f"{err}{days}; accepted: {what}")
        return None
    except OverflowError:
        out.error(path, f"{quoted(value)} is longer than any duration accepted; accepted: {what}")
        return None
    if positive and duration <= timedelta(0):
        out.error(path, f"{quoted(value)} is not positive; accepted: {what}")
        return None
    return duration


def _flag(value: object, path: str, out: Collector) -> bool | None:
    if isinstance(value, bool):
        return value
    out.error(path, f"must be true or false, not {describe(value)}")
    return None


def _rollback(value: object, path: str, out: Collector) -> timedelta | None:
    """``rollbackOnDegraded: {window: <duration>}``: present opts in; the window defaults to
    10m."""
    raw = mapping(value, path, out)
    if raw is None:
        return None
    unknown_fields(raw, path, ROLLBACK_FIELDS, out)
    if "window" not in raw:
        return DEFAULT_ROLLBACK_WINDOW
    window = duration_field(raw["window"], child(path, "window"), out, positive=True)
    if window is not None and window.total_seconds() < 1:
        out.error(child(path, "window"), "must be at least 1s; accepted: e.g. '10m', '1h'")
        return None
    return window


def _windows(value: object, path: str, out: Collector) -> tuple[UpdateWindow, ...] | None:
    if not isinstance(value, list | tuple):
        out.error(
            path, f"must be a list of {{schedule, duration, timeZone}}, not {describe(value)}"
        )
        return None
    if not value:
        out.error(
            path,
            "is an empty list, so no window would ever open; leave updateWindows out to allow "
            "updates at any time",
        )
        return None
    windows: list[UpdateWindow] = []
    good = True
    for position, item in enumerate(value):
        window = _window(item, index(path, position), out)
        good = good and window is not None
        if window is not None:
            windows.append(window)
    return tuple(windows) if good else None


def _window(value: object, path: str, out: Collector) -> UpdateWindow | None:
    raw = mapping(value, path, out)
    if raw is None:
        return None
    unknown_fields(raw, path, WINDOW_FIELDS, out)
    schedule = _schedule(raw.get("schedule"), child(path, "schedule"), out)
    duration = duration_field(raw.get("duration"), child(path, "duration"), out, positive=True)
    zone = _zone(raw.get("timeZone"), child(path, "timeZone"), out)
    if schedule is None or duration is None or zone is None:
        return None
    return UpdateWindow(schedule, duration, zone)


def _schedule(value: object, path: str, out: Collector) -> CronSchedule | None:
    text = string(value, path, out, what="a cron expression such as '0 9 * * 1-5' or '@daily'")
    if text is None:
        return None
    try:
        return CronSchedule.parse(text)
    except InvalidCronExpression as err:
        out.error(path, str(err))
        return None


def _zone(value: object, path: str, out: Collector) -> ZoneInfo | None:
    accepted = "accepted: an IANA time zone name such as 'UTC' or 'Europe/Berlin'"
    if value is None:
        return ZoneInfo("UTC")
    if not isinstance(value, str) or not value:
        out.error(path, f"{describe(value)} is not a time zone; {accepted}")
        return None
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        out.error(path, f"{quoted(value)} is not a known time zone; {accepted}")
        return None
