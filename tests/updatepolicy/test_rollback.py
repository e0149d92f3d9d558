"""The rollback decisions, pure: the record's reading and writing, when a running version is a
revert by someone else, when a rollback hold may end, and what a health watch concludes."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imageupdater.choice import RunningVersion
from imageupdater.updatepolicy import parse_policy
from imageupdater.updatepolicy.rollback import (
    DEFAULT_WINDOW,
    LAST_WRITTEN_ANNOTATION,
    RESUME_ANNOTATION,
    AppStatus,
    LastWritten,
    WrittenImage,
    app_status,
    gate_window,
    health_verdict,
    manual_rollback,
    parse_gate,
    parse_last_written,
    resumable,
    resume_opt_in,
    resumes,
    rollback_reason,
)

from .builders import resource

T0 = dt.datetime(2026, 3, 20, 12, 0, tzinfo=dt.UTC)
SEEN = WrittenImage("1.1.0", T0, previous="1.0.0", seen=T0)
WATCHED = WrittenImage(
    "1.1.0", T0, state="watching", previous="1.0.0", seen=T0, window=DEFAULT_WINDOW
)


def rv(text: str) -> RunningVersion:
    version = RunningVersion.parse(text)
    assert version is not None
    return version


# -- the record ------------------------------------------------------------------------------

versions = st.from_regex(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}", fullmatch=True)
moments = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)
).map(lambda d: d.replace(microsecond=0))
records = st.builds(
    WrittenImage,
    version=versions,
    at=moments,
    state=st.sampled_from(["written", "watching", "verified", "unverified", "reverted"]),
    previous=st.none() | versions,
    seen=st.none() | moments,
    window=st.none() | st.integers(1, 86_400).map(lambda s: dt.timedelta(seconds=s)),
    to=st.none() | versions,
)


@given(st.dictionaries(st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True), records))
def test_the_record_reads_back_what_was_written(entries: dict[str, WrittenImage]) -> None:
    record = LastWritten()
    for key, entry in entries.items():
        record = record.put(key, entry)
    parsed = parse_last_written({LAST_WRITTEN_ANNOTATION: record.annotation()})
    assert parsed.problems == ()
    assert parsed.record == record


def test_no_record_is_no_knowledge_and_no_problem() -> None:
    assert parse_last_written({}).record == LastWritten()


@pytest.mark.parametrize(
    "value",
    ["not json", "[]", json.dumps({"web": {"version": "", "at": "2026-01-01T00:00:00Z"}})],
    ids=["not-json", "not-an-object", "an-entry-without-version"],
)
def test_an_unreadable_record_is_a_warning_and_knows_nothing(value: str) -> None:
    parsed = parse_last_written({LAST_WRITTEN_ANNOTATION: value})
    assert parsed.record.images == ()
    [problem] = parsed.problems
    assert problem.key == LAST_WRITTEN_ANNOTATION and problem.severity == "warning"


# -- reverts by someone else -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "running", "revert"),
    [
        (SEEN, "1.0.0", "1.0.0"),
        (SEEN, "0.9.0", "0.9.0"),
        (SEEN, "1.1.0", None),
        (SEEN, "1.2.0", None),
        (SEEN, "1.1.0@sha256:" + "a" * 64, None),
        (WrittenImage("1.1.0", T0, previous="1.0.0"), "1.0.0", None),
        (WrittenImage("1.1.0", T0, state="reverted", seen=T0, to="1.0.0"), "1.0.0", None),
        (WrittenImage("latest", T0, seen=T0), "1.0.0", None),
        (SEEN, "latest", None),
        (None, "1.0.0", None),
    ],
    ids=[
        "lower-is-a-revert",
        "lower-still-is-a-revert",
        "the-same-is-not",
        "higher-is-not",
        "the-same-with-a-digest-is-not",
        "never-seen-running-is-not-yet-a-revert",
        "a-recorded-revert-is-not-found-again",
        "a-non-semver-write-has-no-order",
        "a-non-semver-running-version-has-no-order",
        "no-record-no-revert",
    ],
)
def test_a_revert_is_a_lower_version_than_the_one_written_and_seen(
    record: WrittenImage | None, running: str, revert: str | None
) -> None:
    found = manual_rollback(record, rv(running))
    assert (found.to if found is not None else None) == revert
    if found is not None:
        assert found.reason == f"rolled back from 1.1.0 to {revert} by someone else"


@given(versions, versions)
def test_a_revert_is_found_exactly_when_the_running_version_is_lower(
    written: str, running: str
) -> None:
    from imageupdater.versions import Version

    lower = Version.parse(running).precedence(Version.parse(written)) < 0  # type: ignore[union-attr,arg-type]
    found = manual_rollback(WrittenImage(written, T0, seen=T0), rv(running))
    assert (found is not None) == lower


REVERTED = WrittenImage("1.1.0", T0, state="reverted", seen=T0, to="1.0.0")
HOLD = rollback_reason("1.1.0", "1.0.0")


@pytest.mark.parametrize(
    ("opt_in", "hold", "candidate", "expected"),
    [
        (True, HOLD, "1.2.0", True),
        (True, HOLD, "1.1.0", False),
        (True, HOLD, "1.0.5", False),
        (False, HOLD, "1.2.0", False),
        (True, "incident 4711", "1.2.0", False),
        (True, HOLD, None, False),
    ],
    ids=[
        "a-newer-version-resumes",
        "the-reverted-version-does-not",
        "an-older-one-does-not",
        "not-without-the-opt-in",
        "not-a-hold-someone-reworded",
        "not-without-a-candidate",
    ],
)
def test_a_rollback_hold_ends_only_for_a_newer_version_with_the_opt_in(
    opt_in: bool, hold: str, candidate: str | None, expected: bool
) -> None:
    assert resumes(REVERTED, hold, opt_in, candidate) is expected
    assert resumable(REVERTED, hold, opt_in) is (opt_in and hold == HOLD)


@pytest.mark.parametrize(
    ("value", "opt_in", "problem"),
    [(None, False, False), ("newer", True, False), ("yes", False, True)],
    ids=["absent", "newer", "not-understood"],
)
def test_the_resume_opt_in_reads_newer_only(value: str | None, opt_in: bool, problem: bool) -> None:
    found, issue = resume_opt_in({} if value is None else {RESUME_ANNOTATION: value})
    assert found is opt_in and (issue is not None) is problem


# -- health-gated updates --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "window", "problem"),
    [
        (None, None, False),
        ("false", None, False),
        ("true", DEFAULT_WINDOW, False),
        ("15m", dt.timedelta(minutes=15), False),
        ("soon", DEFAULT_WINDOW, True),
        ("0s", DEFAULT_WINDOW, True),
    ],
    ids=["absent", "false", "true", "a-window", "not-a-duration", "a-zero-window"],
)
def test_the_gate_annotation(value: str | None, window: dt.timedelta | None, problem: bool) -> None:
    found, issue = parse_gate(value)
    assert found == window and (issue is not None) is problem


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("status", "running", "now", "verdict"),
    [
        (AppStatus(health="Progressing"), "1.1.0", at(3), "watching"),
        (AppStatus(health="Degraded"), "1.1.0", at(3), "degraded"),
        (AppStatus(health="Degraded"), "1.1.0", at(11), "unverified"),
        (AppStatus(health="Healthy"), "1.1.0", at(11), "verified"),
        (AppStatus(health="Healthy"), "1.1.0", at(10), "verified"),
        (AppStatus(health="Healthy", phase="Failed", started=at(1)), "1.1.0", at(3), "sync-failed"),
        (AppStatus(health="Healthy", phase="Error", started=at(1)), "1.1.0", at(3), "sync-failed"),
        (AppStatus(health="Healthy", phase="Failed", started=at(-60)), "1.1.0", at(3), "watching"),
        (AppStatus(health="Degraded"), "1.0.0", at(3), "watching"),
    ],
    ids=[
        "progressing-inside",
        "degraded-inside",
        "degraded-after",
        "healthy-after",
        "healthy-at-the-end",
        "a-failed-sync-after-the-write",
        "an-errored-sync-after-the-write",
        "a-sync-that-failed-before-the-write",
        "not-running-the-watched-version",
    ],
)
def test_the_health_verdict(
    status: AppStatus, running: str, now: dt.datetime, verdict: str
) -> None:
    assert health_verdict(WATCHED, rv(running), status, now) == verdict


def test_an_update_not_under_watch_has_no_verdict() -> None:
    assert health_verdict(SEEN, rv("1.1.0"), AppStatus(health="Degraded"), at(1)) is None


def test_a_git_update_is_watched_from_when_it_is_seen_running() -> None:
    pending = WrittenImage("1.1.0", T0, state="watching", previous="1.0.0", window=DEFAULT_WINDOW)
    assert health_verdict(pending, rv("1.0.0"), AppStatus(health="Degraded"), at(1)) == "watching"
    assert pending.deadline is None


def test_the_status_is_read_from_argo_cds_fields() -> None:
    status = app_status(
        {
            "status": {
                "health": {"status": "Degraded"},
                "sync": {"status": "OutOfSync"},
                "operationState": {
                    "phase": "Failed",
                    "startedAt": "2026-03-20T12:01:00Z",
                    "syncResult": {"revision": "abc"},
                },
            }
        }
    )
    assert status == AppStatus("Degraded", "OutOfSync", "Failed", at(1), "abc")


# -- the policy rule -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "window"),
    [({}, DEFAULT_WINDOW), ({"window": "1h"}, dt.timedelta(hours=1))],
    ids=["default-window", "a-window"],
)
def test_the_policy_rule_opts_in(rule: dict[str, str], window: dt.timedelta) -> None:
    parsed = parse_policy(resource({"rollbackOnDegraded": rule}))
    assert parsed.policy is not None and parsed.policy.rules.rollback_window == window


@pytest.mark.parametrize(
    ("rule", "key"),
    [
        ({"window": "soon"}, "spec.rules.rollbackOnDegraded.window"),
        ({"window": "0s"}, "spec.rules.rollbackOnDegraded.window"),
        ({"windw": "1h"}, "spec.rules.rollbackOnDegraded.windw"),
        ("true", "spec.rules.rollbackOnDegraded"),
    ],
    ids=["not-a-duration", "zero", "unknown-field", "not-an-object"],
)
def test_a_wrong_policy_rule_is_refused_by_its_path(rule: object, key: str) -> None:
    parsed = parse_policy(resource({"rollbackOnDegraded": rule}))
    assert key in {p.key for p in parsed.errors}


@pytest.mark.parametrize(
    ("annotations", "windows", "expected"),
    [
        ({}, [], None),
        ({}, ["20m", "5m"], dt.timedelta(minutes=5)),
        ({"image-updater.io/rollback-on-degraded": "true"}, [], DEFAULT_WINDOW),
        ({"image-updater.io/rollback-on-degraded": "false"}, ["5m"], None),
        ({"image-updater.io/rollback-on-degraded": "1h"}, ["5m"], dt.timedelta(hours=1)),
    ],
    ids=[
        "nobody-asks",
        "the-shortest-policy-window",
        "the-annotation",
        "the-annotation-turns-it-off",
        "the-annotation-wins",
    ],
)
def test_the_gate_comes_from_the_annotation_else_the_policies(
    annotations: dict[str, str], windows: list[str], expected: dt.timedelta | None
) -> None:
    policies = []
    for index, window in enumerate(windows):
        parsed = parse_policy(
            resource({"rollbackOnDegraded": {"window": window}}, name=f"p{index}")
        )
        assert parsed.policy is not None
        policies.append(parsed.policy)
    assert gate_window(annotations, policies) == expected
