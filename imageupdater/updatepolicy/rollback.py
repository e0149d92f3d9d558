"""Rollbacks: the record of what the updater last wrote, and the decisions made from it.

Owns the ``image-updater.io/last-written`` annotation — a small JSON map, per image (its
alias, else its image name), of the version the updater last wrote, the one it replaced,
when, whether it has been seen running, and where its health watch stands — and the pure
decisions read from it:

* :func:`manual_rollback`: the image runs a version *older* than the one last written and
  seen running, so someone reverted it (in the Application or in Git); the updater holds
  the image instead of undoing the revert.
* :func:`resumes`: with ``image-updater.io/resume-after-rollback: newer`` a hold placed by a
  detected rollback ends by itself once a version newer than the reverted one appears.
* :func:`health_verdict`: for an update under a health gate (``rollback-on-degraded``),
  whether the Application degraded or its sync failed within the window (roll back), stayed
  Healthy through it (verified), or the window ended otherwise.

The record is written in the same write as the update it describes (``argocd``: the same
merge patch; ``git``: a guarded annotation patch made *before* the push — a record whose
version was never seen running is only a claim, never taken for a rollback). Pure: no I/O,
no clock (times are parameters).
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_WINDOW",
    "LAST_WRITTEN_ANNOTATION",
    "RESUME_ANNOTATION",
    "ROLLBACK_ANNOTATION",
    "AppStatus",
    "HealthVerdict",
    "LastWritten",
    "ParsedRecord",
    "RecordState",
    "Revert",
    "WrittenImage",
    "app_status",
    "gate_window",
    "health_verdict",
    "is_newer",
    "manual_rollback",
    "opt_in_problems",
    "parse_gate",
    "parse_last_written",
    "record_changes",
    "record_key",
    "resumable",
    "resume_opt_in",
    "resumes",
    "reverted",
    "rollback_reason",
]

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, TypedDict, cast, get_args

from imageupdater.choice import RunningVersion
from imageupdater.durations import parse_duration
from imageupdater.plan import Change
from imageupdater.policy import ImagePolicy
from imageupdater.problems import Problem
from imageupdater.updatepolicy.model import API_GROUP, DEFAULT_ROLLBACK_WINDOW, Policy
from imageupdater.versions import Version

LAST_WRITTEN_ANNOTATION = f"{API_GROUP}/last-written"
RESUME_ANNOTATION = f"{API_GROUP}/resume-after-rollback"
ROLLBACK_ANNOTATION = f"{API_GROUP}/rollback-on-degraded"
DEFAULT_WINDOW = DEFAULT_ROLLBACK_WINDOW

# written: no health gate; watching: inside its window; verified: Healthy through it;
# unverified: the window ended while not Healthy (nothing rolled back); reverted: someone
# else lowered it (held); rolled-back: the updater wrote the previous version back (held).
RecordState = Literal["written", "watching", "verified", "unverified", "reverted", "rolled-back"]
_STATES: frozenset[str] = frozenset(get_args(RecordState))


class RawRecord(TypedDict, total=False):
    """One image's entry as stored in the annotation's JSON."""

    version: str
    previous: str
    at: str
    seen: str
    window: int  # seconds; absent when not gated
    state: str
    to: str  # reverted: the version someone else set
    revision: str  # git: the commit that carries the update


@dataclass(frozen=True, slots=True)
class WrittenImage:
    """What the updater last wrote for one image."""

    version: str  # as written: tag, tag@digest or @digest
    at: dt.datetime
    state: RecordState = "written"
    previous: str | None = None  # the version it replaced (what a rollback writes back)
    seen: dt.datetime | None = None  # first seen running (argocd: at once, = at)
    window: dt.timedelta | None = None  # the health gate's window, counted from ``seen``
    to: str | None = None  # state reverted: what someone else set instead

    @property
    def written(self) -> RunningVersion | None:
        return RunningVersion.parse(self.version)

    @property
    def deadline(self) -> dt.datetime | None:
        """When the health watch ends (None: not watching, or not seen running yet)."""
        if self.state != "watching" or self.window is None or self.seen is None:
            return None
        return self.seen + self.window

    def to_raw(self) -> RawRecord:
        raw: RawRecord = {"version": self.version, "at": _stamp(self.at), "state": self.state}
        if self.previous is not None:
            raw["previous"] = self.previous
        if self.seen is not None:
            raw["seen"] = _stamp(self.seen)
        if self.window is not None:
            raw["window"] = int(self.window.total_seconds())
        if self.to is not None:
            raw["to"] = self.to
        return raw


@dataclass(frozen=True, slots=True)
class LastWritten:
    """Every image's record, by key (:func:`record_key`), sorted."""

    images: tuple[tuple[str, WrittenImage], ...] = ()

    def get(self, key: str) -> WrittenImage | None:
        return next((record for k, record in self.images if k == key), None)

    def put(self, key: str, record: WrittenImage) -> LastWritten:
        kept = {k: r for k, r in self.images if k != key}
        kept[key] = record
        return LastWritten(tuple(sorted(kept.items())))

    def annotation(self) -> str:
        """The annotation's value: compact JSON with sorted keys (stable, so an unchanged
        record is an unchanged annotation)."""
        raw = {key: record.to_raw() for key, record in self.images}
        return json.dumps(raw, sort_keys=True, separators=(",", ":"))

    @property
    def watching(self) -> bool:
        return any(record.state == "watching" for _, record in self.images)


@dataclass(frozen=True, slots=True)
class ParsedRecord:
    record: LastWritten
    problems: tuple[Problem, ...] = ()


def record_key(policy: ImagePolicy) -> str:
    """An image's key in the record: its alias, else its image name."""
    return policy.image.alias or policy.image.full_name


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def parse_last_written(annotations: Mapping[str, object] | None) -> ParsedRecord:
    """Read the record; an entry that cannot be read is dropped with a problem (the updater
    then knows nothing of that image's last write, as before it wrote one)."""
    value = (annotations or {}).get(LAST_WRITTEN_ANNOTATION)
    if value is None:
        return ParsedRecord(LastWritten())
    key = LAST_WRITTEN_ANNOTATION
    try:
        raw = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        raw = None
    if not isinstance(raw, dict):
        return ParsedRecord(
            LastWritten(),
            (
                Problem(
                    key,
                    "is not a JSON object of image records; the updater writes it (remove it "
                    "to start afresh); rollbacks of earlier updates are not recognised",
                    "warning",
                ),
            ),
        )
    images: dict[str, WrittenImage] = {}
    problems: list[Problem] = []
    for name, entry in raw.items():
        record = _entry(entry) if isinstance(name, str) else None
        if record is None:
            problems.append(
                Problem(key, f"cannot read the record of image {name!r}; it is ignored", "warning")
            )
            continue
        images[name] = record
    return ParsedRecord(LastWritten(tuple(sorted(images.items()))), tuple(problems))


def _entry(entry: object) -> WrittenImage | None:
    if not isinstance(entry, dict):
        return None
    raw = cast(dict[str, Any], entry)
    version, at, state = raw.get("version"), _time(raw.get("at")), raw.get("state", "written")
    if not isinstance(version, str) or RunningVersion.parse(version) is None or at is None:
        return None
    if state not in _STATES:
        return None
    window = raw.get("window")
    previous, to = raw.get("previous"), raw.get("to")
    return WrittenImage(
        version=version,
        at=at,
        state=cast(RecordState, state),
        previous=previous if isinstance(previous, str) and previous else None,
        seen=_time(raw.get("seen")),
        window=dt.timedelta(seconds=window) if isinstance(window, int) and window > 0 else None,
        to=to if isinstance(to, str) and to else None,
    )


# -- manual rollbacks ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Revert:
    """Someone set ``to``, older than ``written`` (what the updater last wrote)."""

    written: str
    to: str

    @property
    def reason(self) -> str:
        return rollback_reason(self.written, self.to)


def rollback_reason(written: str, to: str) -> str:
    return f"rolled back from {written} to {to} by someone else"


def _semver(text: str | None) -> Version | None:
    version = RunningVersion.parse(text)
    return Version.parse(version.tag) if version is not None and version.tag else None


def is_newer(candidate: str | None, than: str) -> bool:
    """Whether ``candidate`` is a semver version above ``than`` (False when either is not
    semver: then "newer" has no meaning)."""
    new, old = _semver(candidate), _semver(than)
    return new is not None and old is not None and new.precedence(old) > 0


def manual_rollback(record: WrittenImage | None, running: RunningVersion | None) -> Revert | None:
    """The revert when the image runs a version older than the last one written.

    Only a version that was seen running counts (a git write not yet synced is not
    reverted), only semver versions are ordered (a digest or ``latest`` cannot be "older"),
    and a revert already recorded is not detected again (its hold speaks for it). After an
    automatic rollback the record names the version written back, so lowering it further
    is a revert like any other.
    """
    if record is None or running is None or running.tag is None:
        return None
    if record.seen is None or record.state == "reverted":
        return None
    if not is_newer(record.version, str(running)):
        return None
    return Revert(record.version, str(running))


def reverted(record: WrittenImage, revert: Revert) -> WrittenImage:
    """The record after a revert was found: the same last write, now reverted."""
    return replace(record, state="reverted", to=revert.to)


def resume_opt_in(annotations: Mapping[str, object] | None) -> tuple[bool, Problem | None]:
    """Whether the Application asks to resume after a rollback once a newer version appears."""
    value = (annotations or {}).get(RESUME_ANNOTATION)
    if value is None:
        return False, None
    if value == "newer":
        return True, None
    return False, Problem(
        RESUME_ANNOTATION,
        f"{value!r} is not understood; accepted: 'newer' (resume once a version newer than the "
        "reverted one appears); a detected rollback stays held until released",
        "warning",
    )


def resumes(
    record: WrittenImage | None, hold_reason: str | None, opt_in: bool, candidate: str | None
) -> bool:
    """Whether a hold placed by a detected rollback ends for ``candidate`` (the version
    the strategy chose): only with the opt-in, only the hold the rollback placed (its reason
    unchanged; a hold a human wrote or reworded is theirs), and only for a version newer
    than the reverted one."""
    if not opt_in or record is None or record.state != "reverted" or record.to is None:
        return False
    if hold_reason != rollback_reason(record.version, record.to):
        return False
    return is_newer(candidate, record.version)


def resumable(record: WrittenImage | None, hold_reason: str | None, opt_in: bool) -> bool:
    """Whether the image is held only by a rollback hold that a newer version may end (so it
    is still resolved, to look for one)."""
    return (
        opt_in
        and record is not None
        and record.state == "reverted"
        and record.to is not None
        and hold_reason == rollback_reason(record.version, record.to)
    )


# -- health-gated updates --------------------------------------------------------------------


def parse_gate(value: object) -> tuple[dt.timedelta | None, Problem | None]:
    """``rollback-on-degraded``: "true" (the default window), "false", or a Go duration (the
    window); None when not opted in."""
    if value is None or value == "false":
        return None, None
    if value == "true":
        return DEFAULT_WINDOW, None
    if isinstance(value, str):
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            seconds, reason = 0.0, str(exc)
        else:
            reason = "it must be longer than 0"
        if seconds >= 1:
            return dt.timedelta(seconds=seconds), None
    else:
        reason = "it is not text"
    return DEFAULT_WINDOW, Problem(
        ROLLBACK_ANNOTATION,
        f"{value!r} is not accepted ({reason}); accepted: 'true' (a 10m window), 'false', or "
        "a window such as '15m'; the default window applies",
        "warning",
    )


def gate_window(
    annotations: Mapping[str, object] | None, policies: Iterable[Policy]
) -> dt.timedelta | None:
    """The health gate's window for an Application: its annotation first (which may also
    turn the gate off), else the shortest window of the update policies that ask for one."""
    if annotations is not None and ROLLBACK_ANNOTATION in annotations:
        return parse_gate(annotations[ROLLBACK_ANNOTATION])[0]
    windows = [p.rules.rollback_window for p in policies if p.rules.rollback_window is not None]
    return min(windows) if windows else None


def record_changes(
    record: LastWritten,
    changes: Iterable[Change],
    was: Mapping[str, RunningVersion | None],
    now: dt.datetime,
    gate: dt.timedelta | None,
    *,
    seen: bool,
) -> LastWritten:
    """The record after writing ``changes``: each changed image's version, what it replaced
    (its old override, else ``was``: what ran, by record key), the time, and a health watch
    when gated and there is a version to go back to. ``seen``: the written version runs from
    the moment it is written (an override in the Application)."""
    for change in changes:
        name = change.alias or change.image
        before = change.old if change.old is not None else was.get(name)
        previous = str(before) if before is not None else None
        watched = gate is not None and previous is not None
        record = record.put(
            name,
            WrittenImage(
                version=str(change.new),
                at=now,
                state="watching" if watched else "written",
                previous=previous,
                seen=now if seen else None,
                window=gate if watched else None,
            ),
        )
    return record


@dataclass(frozen=True, slots=True)
class AppStatus:
    """What Argo CD reports of an Application, as far as a health gate reads it."""

    health: str | None = None
    sync: str | None = None
    phase: str | None = None  # of the last operation
    started: dt.datetime | None = None  # when the last operation started
    revision: str | None = None  # of the last operation's sync


def app_status(app: Mapping[str, Any]) -> AppStatus:
    status = app.get("status")
    if not isinstance(status, Mapping):
        return AppStatus()

    def text(block: object, *path: str) -> str | None:
        for part in path:
            block = block.get(part) if isinstance(block, Mapping) else None
        return block if isinstance(block, str) else None

    operation = status.get("operationState")
    return AppStatus(
        health=text(status, "health", "status"),
        sync=text(status, "sync", "status"),
        phase=text(operation, "phase"),
        started=_time(text(operation, "startedAt")),
        revision=text(operation, "syncResult", "revision"),
    )


HealthVerdict = Literal["watching", "degraded", "sync-failed", "verified", "unverified"]


def health_verdict(
    record: WrittenImage, running: RunningVersion | None, status: AppStatus, now: dt.datetime
) -> HealthVerdict | None:
    """Where a watched update stands; None when the record is not under watch.

    The window runs from when the version was first seen running. Inside it, a ``Degraded``
    health or a failed sync that started after the update was written rolls back — but only
    while the watched version is what runs (a degradation before it is live is not its
    doing). After it: ``verified`` when Healthy, else ``unverified`` (too late to blame the
    update: nothing is rolled back).
    """
    if record.state != "watching" or record.window is None:
        return None
    written = record.written
    if record.seen is None or running is None or written is None or running != written:
        # Not live yet (git: not synced), or no longer ours to judge.
        return "watching"
    if now < record.seen + record.window:
        if status.health == "Degraded":
            return "degraded"
        if (
            status.phase in ("Failed", "Error")
            and status.started is not None
            and status.started >= record.at - dt.timedelta(seconds=1)
        ):
            return "sync-failed"
        return "watching"
    return "verified" if status.health == "Healthy" else "unverified"


def opt_in_problems(annotations: Mapping[str, object] | None) -> tuple[Problem, ...]:
    """What is wrong with the rollback opt-ins (``rollback-on-degraded``,
    ``resume-after-rollback``), as warnings that say what applies instead: the one check
    ``kubectl apply``, ``lint`` and the reconciler's Events share."""
    found: list[Problem] = []
    if annotations is not None and ROLLBACK_ANNOTATION in annotations:
        problem = parse_gate(annotations[ROLLBACK_ANNOTATION])[1]
        if problem is not None:
            found.append(problem)
    problem = resume_opt_in(annotations)[1]
    if problem is not None:
        found.append(Problem(problem.key, problem.message, "warning"))
    return tuple(found)
