"""Reading spec.syncWindows strictly: every mistake names the window and what is accepted."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from imageupdater.errors import InvalidInput
from imageupdater.syncwindows import InvalidSyncWindow, SyncWindow, parse_windows

from .builders import project, raw_window


def test_a_full_window_parses_into_its_fields() -> None:
    parsed = SyncWindow.parse(
        {
            "kind": "allow",
            "schedule": "0 9 * * 1-5",
            "duration": "1h30m",
            "applications": ["web-*"],
            "namespaces": ["prod"],
            "clusters": ["https://kubernetes.default.svc"],
            "timeZone": "Europe/Berlin",
            "manualSync": True,
            "andOperator": True,
            "syncOverrun": True,
            "description": "office hours",
        }
    )
    assert parsed.kind == "allow"
    assert parsed.schedule.text == "0 9 * * 1-5"
    assert parsed.duration == timedelta(hours=1, minutes=30)
    assert parsed.applications == ("web-*",)
    assert parsed.namespaces == ("prod",)
    assert parsed.clusters == ("https://kubernetes.default.svc",)
    assert parsed.time_zone == ZoneInfo("Europe/Berlin")
    assert (parsed.manual_sync, parsed.and_operator, parsed.sync_overrun) == (True, True, True)


def test_defaults_are_utc_and_every_flag_off() -> None:
    parsed = SyncWindow.parse(raw_window())
    assert parsed.time_zone.key == "UTC"
    assert (parsed.manual_sync, parsed.and_operator, parsed.sync_overrun) == (False, False, False)
    assert (parsed.namespaces, parsed.clusters) == ((), ())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1h", timedelta(hours=1), id="hours"),
        pytest.param("30m", timedelta(minutes=30), id="minutes"),
        pytest.param("1h30m", timedelta(hours=1, minutes=30), id="hours-and-minutes"),
        pytest.param("90s", timedelta(seconds=90), id="seconds"),
        pytest.param("1.5h", timedelta(hours=1, minutes=30), id="fractional"),
        pytest.param("72h", timedelta(days=3), id="days-as-hours"),
    ],
)
def test_a_go_duration_becomes_a_timedelta(text: str, expected: timedelta) -> None:
    assert SyncWindow.parse(raw_window(duration=text)).duration == expected


def test_an_empty_time_zone_means_utc() -> None:
    assert SyncWindow.parse(raw_window(timeZone="")).time_zone.key == "UTC"


REJECTS: list[tuple[str, dict[str, Any], str]] = [
    (
        "unknown kind",
        raw_window(kind="block"),
        "kind 'block' is not accepted; accepted: 'allow' or 'deny'",
    ),
    ("kind in capitals", raw_window(kind="Deny"), "kind 'Deny'"),
    (
        "missing schedule",
        {"kind": "deny", "duration": "1h", "applications": ["*"]},
        "schedule None is missing",
    ),
    (
        "bad schedule",
        raw_window(schedule="0 25 * * *"),
        "hour field '25': 25 is above the maximum 23",
    ),
    ("never-firing schedule", raw_window(schedule="0 0 31 2 *"), "never fires"),
    (
        "missing duration",
        {"kind": "deny", "schedule": "@daily", "applications": ["*"]},
        "duration None is missing",
    ),
    (
        "days are not a unit",
        raw_window(duration="1d"),
        "duration '1d' is not a duration; accepted: a positive Go duration",
    ),
    ("zero duration", raw_window(duration="0"), "duration '0' is not positive"),
    ("negative duration", raw_window(duration="-1h"), "duration '-1h' is not positive"),
    ("duration as a number", raw_window(duration=3600), "duration 3600 is missing or not a string"),
    (
        "unknown time zone",
        raw_window(timeZone="Mars/Olympus"),
        "timeZone 'Mars/Olympus' is not a known time zone",
    ),
    ("path as time zone", raw_window(timeZone="../../etc/passwd"), "is not a known time zone"),
    ("time zone as a number", raw_window(timeZone=2), "timeZone 2 is not a string"),
    (
        "applications as a string",
        raw_window(applications="web"),
        "applications 'web' is not accepted; accepted: a list",
    ),
    (
        "namespaces with a number",
        raw_window(namespaces=["a", 1]),
        "namespaces ['a', 1] is not accepted",
    ),
    (
        "flag as a string",
        raw_window(manualSync="yes"),
        "manualSync 'yes' is not accepted; accepted: true or false",
    ),
    ("and operator as a number", raw_window(andOperator=1), "andOperator 1 is not accepted"),
    (
        "selects nothing",
        {"kind": "deny", "schedule": "@daily", "duration": "1h"},
        "selects no Application",
    ),
    ("empty selector lists", raw_window(applications=[], namespaces=[]), "selects no Application"),
    (
        "unclosed class",
        raw_window(applications=["web-[a"]),
        "applications glob 'web-[a': a '[' is never closed",
    ),
    (
        "unclosed alternatives",
        raw_window(clusters=["{a,b"]),
        "clusters glob '{a,b': a '{' is never closed",
    ),
    ("lone escape", raw_window(namespaces=["prod\\"]), "it ends with a lone '\\'"),
    ("two ranges in a class", raw_window(applications=["[a-z0-9]"]), "holds one range"),
    ("reversed range", raw_window(applications=["[z-a]"]), "the range z-a is reversed"),
    ("empty class", raw_window(applications=["[]"]), "a character class is empty"),
    ("huge glob", raw_window(applications=["a" * 1001]), "more than the 1000 accepted"),
]


@pytest.mark.parametrize(("raw", "fragment"), [pytest.param(r, f, id=i) for i, r, f in REJECTS])
def test_an_invalid_window_is_an_error_saying_what_is_wrong(
    raw: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(InvalidSyncWindow) as caught:
        SyncWindow.parse(raw, index=3)
    assert fragment in str(caught.value)
    assert str(caught.value).startswith("syncWindows[3]")
    assert isinstance(caught.value, InvalidInput)


def test_the_error_names_the_window_by_index_and_schedule() -> None:
    with pytest.raises(
        InvalidSyncWindow, match=r"^syncWindows\[1\] \(schedule '@daily'\): duration"
    ):
        SyncWindow.parse(raw_window(schedule="@daily", duration="soon"), index=1)


def test_a_window_that_is_not_an_object_is_an_error() -> None:
    with pytest.raises(InvalidSyncWindow, match=r"syncWindows\[0\] is str, not an object"):
        SyncWindow.parse("deny", index=0)  # type: ignore[arg-type]


def test_a_project_yields_its_windows_in_order() -> None:
    windows = parse_windows(project(raw_window("deny"), raw_window("allow", "@daily", "2h")))
    assert [w.kind for w in windows] == ["deny", "allow"]
    assert windows[1].duration == timedelta(hours=2)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param({"spec": {}}, id="no-windows"),
        pytest.param({}, id="no-spec"),
        pytest.param({"spec": {"syncWindows": None}}, id="null-windows"),
        pytest.param({"spec": {"syncWindows": []}}, id="empty-list"),
    ],
)
def test_a_project_without_windows_has_none(raw: dict[str, Any]) -> None:
    assert parse_windows(raw) == ()


def test_every_broken_window_of_a_project_is_reported_at_once() -> None:
    raw = project(raw_window(), raw_window(kind="never"), raw_window(duration="x"), name="payments")
    with pytest.raises(InvalidSyncWindow) as caught:
        parse_windows(raw)
    message = str(caught.value)
    assert message.startswith("AppProject 'payments': ")
    assert "syncWindows[1] (schedule '0 22 * * *'): kind 'never'" in message
    assert "syncWindows[2] (schedule '0 22 * * *'): duration 'x'" in message
    assert "syncWindows[0]" not in message


def test_sync_windows_that_are_not_a_list_are_an_error() -> None:
    with pytest.raises(InvalidSyncWindow, match=r"spec\.syncWindows is dict; accepted: a list"):
        parse_windows({"metadata": {"name": "p"}, "spec": {"syncWindows": {"kind": "deny"}}})


def test_a_window_describes_itself_for_messages() -> None:
    parsed = SyncWindow.parse(raw_window("allow", "0 9 * * 1-5", "1h30m", timeZone="Europe/Berlin"))
    assert str(parsed) == "allow window '0 9 * * 1-5' (1h30m, Europe/Berlin)"
    assert (
        str(SyncWindow.parse(raw_window(duration="45s"))) == "deny window '0 22 * * *' (45s, UTC)"
    )


def test_the_berlin_time_zone_is_available() -> None:
    # zoneinfo needs the system database or the tzdata package; either must be installed.
    assert ZoneInfo("Europe/Berlin").utcoffset(None) is None
    assert (
        SyncWindow.parse(raw_window(timeZone="America/New_York")).time_zone.key
        == "America/New_York"
    )
