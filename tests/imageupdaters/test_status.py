"""The ``status`` an ImageUpdater shows, as upstream writes it (§17.5), and when it changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from imageupdater.images import ImageRef
from imageupdater.imageupdaters import (
    CycleResult,
    ImageChange,
    arbitrate,
    completed_status,
    reconciling_status,
    status_changed,
    status_merge_patch,
)
from imageupdater.imageupdaters.status import timestamp
from tests.imageupdaters.builders import app, parsed, ref, resource

T0 = datetime(2026, 8, 18, 20, 58, 22, 123456, tzinfo=UTC)
T1 = T0 + timedelta(minutes=2)


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in status["conditions"]}


def change(alias: str | None, old: str, new: str, image: str = "ghcr.io/org/web") -> ImageChange:
    ref = ImageRef.parse(image)
    return ImageChange(ref if alias is None else ImageRef.parse(f"{alias}={image}"), old, new)


def test_a_clean_cycle_reports_counts_and_ready() -> None:
    result = CycleResult(applications_matched=3, images_considered=5)
    status = completed_status(None, result, generation=4, now=T0)
    assert status["observedGeneration"] == 4
    assert status["lastCheckedAt"] == "2026-08-18T20:58:22Z"
    assert (status["applicationsMatched"], status["imagesManaged"]) == (3, 5)
    assert "lastUpdatedAt" not in status and "recentUpdates" not in status
    assert conditions(status) == {
        "Reconciling": ("False", "Idle", "Last check completed. Awaiting next cycle."),
        "Error": ("False", "NoErrors", "No errors during last reconciliation."),
        "Ready": ("True", "ReconcileSucceeded", "Reconciled 3 applications, 0 images updated."),
        "Superseded": (
            "False",
            "NoOverlap",
            "No other ImageUpdater takes over an Application this one selects.",
        ),
    }
    assert all(c["observedGeneration"] == 4 for c in status["conditions"])
    assert all(c["lastTransitionTime"] == "2026-08-18T20:58:22Z" for c in status["conditions"])


def test_errors_during_checks_keep_ready_true_with_partial_errors() -> None:
    result = CycleResult(
        applications_matched=2, images_updated=1, errors=2, changes=(change("web", "1.0", "1.1"),)
    )
    assert conditions(completed_status(None, result, generation=1, now=T0))["Error"] == (
        "True",
        "PartialErrors",
        "2 error(s) occurred during image update checks.",
    )
    assert conditions(completed_status(None, result, generation=1, now=T0))["Ready"] == (
        "True",
        "ReconcileCompletedWithErrors",
        "Reconciled 2 applications with 2 errors, 1 images updated.",
    )


def test_a_failed_cycle_is_not_ready() -> None:
    result = CycleResult(failure="spec.applicationRefs[0].namePattern: invalid namePattern 'a['")
    got = conditions(completed_status(None, result, generation=1, now=T0))
    assert got["Error"][:2] == ("True", "ReconcileError")
    assert got["Ready"] == (
        "False",
        "ReconcileFailed",
        "Reconciliation failed: spec.applicationRefs[0].namePattern: invalid namePattern 'a['",
    )


def test_recent_updates_are_aggregated_by_alias_and_new_version() -> None:
    changes = (
        change("web", "1.0", "1.1"),
        change("web", "1.0", "1.1"),
        change("web", "1.0", "1.2"),
        change(None, "6", "7", image="redis"),
    )
    result = CycleResult(applications_matched=3, images_updated=4, changes=changes)
    status = completed_status(None, result, generation=1, now=T0)
    assert status["lastUpdatedAt"] == "2026-08-18T20:58:22Z"
    assert status["recentUpdates"] == [
        {
            "alias": "web",
            "image": "ghcr.io/org/web",
            "newVersion": "1.1",
            "applicationsUpdated": 2,
            "updatedAt": "2026-08-18T20:58:22Z",
            "message": "Updated from 1.0 to 1.1.",
        },
        {
            "alias": "web",
            "image": "ghcr.io/org/web",
            "newVersion": "1.2",
            "applicationsUpdated": 1,
            "updatedAt": "2026-08-18T20:58:22Z",
            "message": "Updated from 1.0 to 1.2.",
        },
        {
            "alias": "redis",
            "image": "redis",
            "newVersion": "7",
            "applicationsUpdated": 1,
            "updatedAt": "2026-08-18T20:58:22Z",
            "message": "Updated from 6 to 7.",
        },
    ]


def test_a_cycle_without_updates_keeps_the_last_updates() -> None:
    first = completed_status(
        None,
        CycleResult(images_updated=1, changes=(change("web", "1", "2"),)),
        generation=1,
        now=T0,
    )
    second = completed_status(first, CycleResult(), generation=1, now=T1)
    assert second["recentUpdates"] == first["recentUpdates"]
    assert second["lastUpdatedAt"] == first["lastUpdatedAt"]
    assert second["lastCheckedAt"] == timestamp(T1)


def test_a_condition_keeps_its_transition_time_until_its_status_changes() -> None:
    first = completed_status(None, CycleResult(), generation=1, now=T0)
    same = completed_status(first, CycleResult(errors=1), generation=1, now=T1)
    by_type = {c["type"]: c for c in same["conditions"]}
    assert by_type["Ready"]["lastTransitionTime"] == timestamp(T0)  # True → True
    assert by_type["Ready"]["reason"] == "ReconcileCompletedWithErrors"
    assert by_type["Error"]["lastTransitionTime"] == timestamp(T1)  # False → True


def test_reconciling_is_true_during_a_cycle_and_changes_nothing_else() -> None:
    done = completed_status(None, CycleResult(applications_matched=1), generation=1, now=T0)
    during = reconciling_status(done, generation=2, now=T1)
    assert conditions(during)["Reconciling"] == (
        "True",
        "Reconciling",
        "Image update check in progress.",
    )
    assert {k: v for k, v in during.items() if k != "conditions"} == {
        k: v for k, v in done.items() if k != "conditions"
    }
    assert [c["type"] for c in during["conditions"]] == [c["type"] for c in done["conditions"]]


def test_superseded_names_the_applications_another_resource_takes() -> None:
    mine = parsed(resource(ref("web-*"), name="broad"))
    theirs = parsed(resource(ref("web-1"), name="narrow"))
    superseded = arbitrate([mine, theirs], app("web-1")).superseded
    status = completed_status(None, CycleResult(superseded=superseded), generation=1, now=T0)
    state, reason, message = conditions(status)["Superseded"]
    assert (state, reason) == ("True", "SelectedByAnotherImageUpdater")
    assert "'web-1' by 'narrow'" in message


def test_fields_that_are_not_ours_are_kept() -> None:
    status = completed_status({"custom": 1}, CycleResult(), generation=1, now=T0)
    assert status["custom"] == 1


def test_an_unchanged_cycle_differs_only_by_the_check_time() -> None:
    first = completed_status(None, CycleResult(applications_matched=1), generation=1, now=T0)
    again = completed_status(first, CycleResult(applications_matched=1), generation=1, now=T1)
    assert status_changed(first, again)  # as upstream: every check is written
    assert not status_changed(first, again, checked_at_resolution=timedelta(minutes=10))
    later = completed_status(
        first, CycleResult(applications_matched=1), generation=1, now=T0 + timedelta(minutes=10)
    )
    assert status_changed(first, later, checked_at_resolution=timedelta(minutes=10))


@pytest.mark.parametrize(
    "result",
    [
        pytest.param(CycleResult(applications_matched=2), id="count"),
        pytest.param(CycleResult(applications_matched=1, errors=1), id="condition"),
        pytest.param(
            CycleResult(
                applications_matched=1, images_updated=1, changes=(change("web", "1", "2"),)
            ),
            id="update",
        ),
    ],
)
def test_any_real_change_is_written_whatever_the_resolution(result: CycleResult) -> None:
    first = completed_status(None, CycleResult(applications_matched=1), generation=1, now=T0)
    new = completed_status(first, result, generation=1, now=T1)
    assert status_changed(first, new, checked_at_resolution=timedelta(hours=1))


def test_a_new_generation_is_a_change() -> None:
    first = completed_status(None, CycleResult(), generation=1, now=T0)
    assert status_changed(first, completed_status(first, CycleResult(), generation=2, now=T0))


def test_condition_order_is_not_a_change() -> None:
    first = completed_status(None, CycleResult(), generation=1, now=T0)
    shuffled = {**first, "conditions": list(reversed(first["conditions"]))}
    assert not status_changed(first, shuffled)
    assert status_changed(None, first)


def test_the_merge_patch_sets_fields_that_went_away_to_null() -> None:
    assert status_merge_patch({"a": 1, "gone": 2}, {"a": 3}) == {"status": {"gone": None, "a": 3}}


def test_timestamps_need_a_time_zone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        timestamp(datetime(2026, 1, 1))
