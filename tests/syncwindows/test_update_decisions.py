"""can_update: Argo CD's precedence for automated syncs, a reason, and when to look again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imageupdater.syncwindows import SyncWindow, can_update

from .builders import application, window
from .strategies import daily_schedule


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


APP = application("web", namespace="prod", server="https://kubernetes.default.svc")

NIGHTLY_DENY = {"kind": "deny", "schedule": "0 22 * * *", "duration": "1h"}
OFFICE_ALLOW = {"kind": "allow", "schedule": "0 9 * * 1-5", "duration": "8h"}
# 2024-05-01 is a Wednesday.
PRECEDENCE: list[tuple[str, list[dict[str, Any]], str, bool]] = [
    ("no windows", [], "2024-05-01T22:30+00:00", True),
    (
        "a window for another app",
        [{**NIGHTLY_DENY, "applications": ["api"]}],
        "2024-05-01T22:30+00:00",
        True,
    ),
    ("active deny", [NIGHTLY_DENY], "2024-05-01T22:30+00:00", False),
    ("inactive deny", [NIGHTLY_DENY], "2024-05-01T12:00+00:00", True),
    ("active allow", [OFFICE_ALLOW], "2024-05-01T12:00+00:00", True),
    ("inactive allow blocks", [OFFICE_ALLOW], "2024-05-01T18:00+00:00", False),
    (
        "deny beats an active allow",
        [OFFICE_ALLOW, {**NIGHTLY_DENY, "schedule": "0 12 * * *"}],
        "2024-05-01T12:30+00:00",
        False,
    ),
    (
        "an active allow beats inactive allows",
        [OFFICE_ALLOW, {**OFFICE_ALLOW, "schedule": "0 20 * * *"}],
        "2024-05-01T12:00+00:00",
        True,
    ),
    (
        "inactive deny and inactive allow",
        [NIGHTLY_DENY, OFFICE_ALLOW],
        "2024-05-01T18:00+00:00",
        False,
    ),
    (
        "manual sync does not unblock an update",
        [{**NIGHTLY_DENY, "manualSync": True}],
        "2024-05-01T22:30+00:00",
        False,
    ),
    (
        "manual sync on an inactive allow",
        [{**OFFICE_ALLOW, "manualSync": True}],
        "2024-05-01T18:00+00:00",
        False,
    ),
    (
        "an allow window for another app does not block",
        [{**OFFICE_ALLOW, "namespaces": ["dev"]}],
        "2024-05-01T18:00+00:00",
        True,
    ),
]


@pytest.mark.parametrize(
    ("raws", "now", "allowed"), [pytest.param(*row[1:], id=row[0]) for row in PRECEDENCE]
)
def test_windows_decide_like_argo_cd_does_for_an_automated_sync(
    raws: list[dict[str, Any]], now: str, allowed: bool
) -> None:
    windows = [window(**raw) for raw in raws]
    decision = can_update(windows, APP, at(now))
    assert decision.allowed is allowed
    assert (decision.retry_at is None) is allowed


def test_no_window_means_allowed_with_a_reason() -> None:
    decision = can_update([], APP, at("2024-05-01T10:00+00:00"))
    assert decision.allowed
    assert decision.reason == "no sync window applies to Application 'web'"


def test_an_active_deny_says_until_when_in_its_own_zone() -> None:
    deny = window(**NIGHTLY_DENY)
    decision = can_update([deny], APP, at("2024-05-01T22:30+00:00"))
    assert decision.reason == "deny window '0 22 * * *' (1h, UTC) is active until 23:00 UTC"
    assert decision.retry_at == at("2024-05-01T23:00+00:00")


def test_a_deny_ending_on_another_day_names_the_date() -> None:
    deny = window("deny", "0 22 * * *", "3h", timeZone="Europe/Berlin")
    decision = can_update([deny], APP, at("2024-05-01T20:30+00:00"))
    assert decision.reason == (
        "deny window '0 22 * * *' (3h, Europe/Berlin) is active until 2024-05-02 01:00 CEST"
    )
    assert decision.retry_at == at("2024-05-01T23:00+00:00")


def test_an_inactive_allow_says_when_it_opens() -> None:
    allow = window(**OFFICE_ALLOW, timeZone="Europe/Berlin")
    decision = can_update([allow], APP, at("2024-05-03T16:00+00:00"))  # a Friday evening
    assert decision.reason == (
        "no allow window is active; allow window '0 9 * * 1-5' (8h, Europe/Berlin) "
        "opens next at 2024-05-06 09:00 CEST"
    )
    assert decision.retry_at == at("2024-05-06T07:00+00:00")


def test_several_active_denies_name_the_one_ending_last() -> None:
    short = window("deny", "0 22 * * *", "1h")
    long = window("deny", "0 21 * * *", "4h")
    decision = can_update([short, long], APP, at("2024-05-01T22:30+00:00"))
    assert decision.reason == (
        "deny window '0 21 * * *' (4h, UTC) is active until 2024-05-02 01:00 UTC"
        " (and 1 more active deny window)"
    )
    assert decision.retry_at == at("2024-05-02T01:00+00:00")


def test_an_active_allow_is_the_reason_an_update_goes_in() -> None:
    decision = can_update([window(**OFFICE_ALLOW)], APP, at("2024-05-01T10:00+00:00"))
    assert decision.reason == "allow window '0 9 * * 1-5' (8h, UTC) is active until 17:00 UTC"


def test_only_inactive_denies_let_an_update_in() -> None:
    decision = can_update([window(**NIGHTLY_DENY)], APP, at("2024-05-01T10:00+00:00"))
    assert decision.reason == "no deny window is active and no allow window applies"


def test_retry_waits_for_the_deny_and_the_next_allow_together() -> None:
    # At 22:30 the deny ends at 23:00, but the office-hours allow opens only the next morning.
    windows = [window(**NIGHTLY_DENY), window(**OFFICE_ALLOW)]
    decision = can_update(windows, APP, at("2024-05-01T22:30+00:00"))
    assert not decision.allowed
    assert decision.retry_at == at("2024-05-02T09:00+00:00")


def test_retry_skips_an_allow_window_that_a_deny_covers() -> None:
    windows = [
        window("allow", "0 10 * * *", "1h"),
        window("allow", "0 14 * * *", "1h"),
        window("deny", "0 9 * * *", "3h"),
    ]
    decision = can_update(windows, APP, at("2024-05-01T08:00+00:00"))
    assert decision.retry_at == at("2024-05-01T14:00+00:00")


def test_a_deny_that_never_closes_gives_a_bounded_moment_to_look_again() -> None:
    forever = window("deny", "* * * * *", "1h")
    now = at("2024-05-01T10:00+00:00")
    decision = can_update([forever], APP, now)
    assert not decision.allowed
    assert decision.retry_at is not None
    assert decision.retry_at > now + timedelta(hours=1)
    assert "is active at least until" in decision.reason


def test_the_destination_is_read_from_the_raw_application() -> None:
    by_cluster = window("deny", clusters=["in-cluster"])
    now = at("2024-05-01T22:30+00:00")
    assert not can_update([by_cluster], application("x", cluster="in-cluster"), now).allowed
    assert can_update([by_cluster], application("x", server="https://other"), now).allowed
    assert can_update([by_cluster], {"metadata": {"name": "bare"}}, now).allowed


def test_a_naive_clock_is_refused() -> None:
    with pytest.raises(ValueError, match="time-zone-aware"):
        can_update([], APP, datetime(2024, 1, 1))


def _allowed_at(windows: list[SyncWindow], moment: datetime) -> bool:
    """Argo CD's precedence, restated plainly from each window's activity."""
    active = [(w.kind, w.is_active(moment)) for w in windows]
    if ("deny", True) in active:
        return False
    return ("allow", True) in active or all(kind == "deny" for kind, _ in active)


def _first_allowed_minute(
    windows: list[SyncWindow], start: datetime, horizon: timedelta
) -> datetime | None:
    """The brute-force oracle: ask at every minute (every fire and every end is on one)."""
    moment = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while moment <= start + horizon:
        if _allowed_at(windows, moment):
            return moment
        moment += timedelta(minutes=1)
    return None


@settings(max_examples=30, deadline=None)
@given(
    schedules=st.lists(
        st.tuples(st.sampled_from(["allow", "deny"]), daily_schedule(), st.integers(1, 600)),
        min_size=1,
        max_size=3,
    ),
    offset=st.integers(0, 7 * 24 * 60),
)
def test_a_blocked_update_is_retried_at_the_first_minute_it_is_allowed(
    schedules: list[tuple[str, str, int]], offset: int
) -> None:
    windows = [window(kind, text, f"{minutes}m") for kind, text, minutes in schedules]
    now = at("2024-05-01T00:00+00:00") + timedelta(minutes=offset)
    decision = can_update(windows, APP, now)
    if decision.allowed:
        return
    assert decision.retry_at is not None
    assert decision.retry_at > now
    horizon = timedelta(days=1)
    expected = _first_allowed_minute(windows, now, horizon)
    if expected is not None:
        assert decision.retry_at == expected
    else:
        assert (
            decision.retry_at > now + horizon
            or not can_update(windows, APP, decision.retry_at).allowed
        )
