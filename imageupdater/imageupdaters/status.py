"""The ``status`` of an ImageUpdater, as upstream writes it (§17.5), and whether it changed.

Owns the status shape and wording: ``observedGeneration``, ``lastCheckedAt``,
``lastUpdatedAt`` and ``recentUpdates`` (both replaced only by a cycle that updated
something), ``applicationsMatched``, ``imagesManaged``, and the conditions ``Reconciling``
(True/``Reconciling`` during a cycle, then False/``Idle``), ``Ready`` and ``Error`` with
upstream's reasons and messages, each set as ``apimeta.SetStatusCondition`` sets it (its
``lastTransitionTime`` moves only when its status does). One condition is ours:
``Superseded``, True while another, more specific ImageUpdater takes over Applications this
one selects (``selection.arbitrate``).

Upstream writes the status every cycle, so ``lastCheckedAt`` alone makes every write new;
:func:`status_changed` says so too unless the caller accepts a coarser ``lastCheckedAt``
(``checked_at_resolution``), which is the one field whose churn may be skipped. Time is
passed in (``now``): nothing here reads a clock.
"""

from __future__ import annotations

__all__ = [
    "ERROR",
    "READY",
    "RECONCILING",
    "SUPERSEDED",
    "CycleResult",
    "ImageChange",
    "completed_status",
    "recent_updates",
    "reconciling_status",
    "set_condition",
    "status_changed",
    "status_merge_patch",
    "timestamp",
]

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from imageupdater.images import ImageRef
from imageupdater.imageupdaters.selection import SUPERSEDED_REASON, Superseded

READY = "Ready"
RECONCILING = "Reconciling"
ERROR = "Error"
SUPERSEDED = "Superseded"
_MAX_MESSAGE = 32768  # metav1.Condition's limit
_SHOWN_SUPERSEDED = 10


@dataclass(frozen=True, slots=True)
class ImageChange:
    """One image of one Application moved from ``old_version`` to ``new_version`` (each a
    tag, ``tag@digest`` or digest as written); ``image`` is the policy's image (its alias,
    registry and name are used)."""

    image: ImageRef
    old_version: str
    new_version: str


@dataclass(frozen=True, slots=True)
class CycleResult:
    """What one cycle for one ImageUpdater did. ``failure`` is why it could not run at all
    (an invalid resource, Applications that could not be listed): ``Ready`` is then False."""

    applications_matched: int = 0
    images_considered: int = 0
    images_updated: int = 0
    errors: int = 0
    changes: tuple[ImageChange, ...] = ()
    failure: str | None = None
    superseded: tuple[Superseded, ...] = ()


def timestamp(moment: datetime) -> str:
    """``metav1.Time`` as JSON: RFC 3339 in UTC, whole seconds."""
    if moment.utcoffset() is None:
        raise ValueError("timestamp: the time must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(
    conditions: Sequence[Mapping[str, Any]], condition: Mapping[str, Any], now: datetime
) -> list[dict[str, Any]]:
    """``conditions`` with ``condition`` set by its type, as ``apimeta.SetStatusCondition``."""
    result = [dict(c) for c in conditions]
    for existing in result:
        if existing.get("type") == condition["type"]:
            if existing.get("status") != condition["status"]:
                existing["status"] = condition["status"]
                existing["lastTransitionTime"] = timestamp(now)
            for key in ("reason", "message", "observedGeneration"):
                existing[key] = condition[key]
            return result
    result.append({**condition, "lastTransitionTime": timestamp(now)})
    return result


def _condition(
    kind: str, status: bool, reason: str, message: str, generation: int
) -> dict[str, Any]:
    return {
        "type": kind,
        "status": "True" if status else "False",
        "reason": reason,
        "message": message[:_MAX_MESSAGE],
        "observedGeneration": generation,
    }


def _conditions(stored: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    raw = (stored or {}).get("conditions")
    return [c for c in raw if isinstance(c, Mapping)] if isinstance(raw, list) else []


def reconciling_status(
    stored: Mapping[str, Any] | None, *, generation: int, now: datetime
) -> dict[str, Any]:
    """The status at the start of a cycle: ``Reconciling`` True, nothing else changed."""
    status = dict(stored or {})
    condition = _condition(
        RECONCILING, True, "Reconciling", "Image update check in progress.", generation
    )
    status["conditions"] = set_condition(_conditions(stored), condition, now)
    return status


def completed_status(
    stored: Mapping[str, Any] | None, result: CycleResult, *, generation: int, now: datetime
) -> dict[str, Any]:
    """The status after a cycle, built on the stored one (fields not ours are kept)."""
    status = dict(stored or {})
    status["observedGeneration"] = generation
    status["lastCheckedAt"] = timestamp(now)
    status["applicationsMatched"] = result.applications_matched
    status["imagesManaged"] = result.images_considered
    if result.images_updated > 0:
        status["lastUpdatedAt"] = timestamp(now)
        updates = recent_updates(result.changes, now)
        if updates:
            status["recentUpdates"] = updates
        else:
            status.pop("recentUpdates", None)
    apps, errors, updated = result.applications_matched, result.errors, result.images_updated
    conditions: list[dict[str, Any]] = [dict(c) for c in _conditions(stored)]
    wanted = [
        _condition(
            RECONCILING, False, "Idle", "Last check completed. Awaiting next cycle.", generation
        )
    ]
    if result.failure is not None:
        wanted += [
            _condition(ERROR, True, "ReconcileError", result.failure, generation),
            _condition(
                READY,
                False,
                "ReconcileFailed",
                f"Reconciliation failed: {result.failure}",
                generation,
            ),
        ]
    elif errors > 0:
        wanted += [
            _condition(
                ERROR,
                True,
                "PartialErrors",
                f"{errors} error(s) occurred during image update checks.",
                generation,
            ),
            _condition(
                READY,
                True,
                "ReconcileCompletedWithErrors",
                f"Reconciled {apps} applications with {errors} errors, {updated} images updated.",
                generation,
            ),
        ]
    else:
        wanted += [
            _condition(
                ERROR, False, "NoErrors", "No errors during last reconciliation.", generation
            ),
            _condition(
                READY,
                True,
                "ReconcileSucceeded",
                f"Reconciled {apps} applications, {updated} images updated.",
                generation,
            ),
        ]
    wanted.append(_superseded(result.superseded, generation))
    for condition in wanted:
        conditions = set_condition(conditions, condition, now)
    status["conditions"] = conditions
    return status


def _superseded(superseded: Sequence[Superseded], generation: int) -> dict[str, Any]:
    if not superseded:
        return _condition(
            SUPERSEDED,
            False,
            "NoOverlap",
            "No other ImageUpdater takes over an Application this one selects.",
            generation,
        )
    shown = ", ".join(
        f"'{d.binding.application}' by '{d.winner.updater.name}'"
        for d in superseded[:_SHOWN_SUPERSEDED]
    )
    more = (
        f" and {len(superseded) - _SHOWN_SUPERSEDED} more"
        if len(superseded) > _SHOWN_SUPERSEDED
        else ""
    )
    return _condition(
        SUPERSEDED,
        True,
        SUPERSEDED_REASON,
        f"{len(superseded)} Application(s) this ImageUpdater selects are updated by another, more "
        f"specific (or, equally specific, first by name) ImageUpdater instead: {shown}{more}.",
        generation,
    )


def recent_updates(changes: Sequence[ImageChange], now: datetime) -> list[dict[str, Any]]:
    """Upstream's ``recentUpdates``: one entry per (alias or image name, new version), in
    order of first appearance, counting the Applications it was written to."""
    entries: dict[tuple[str, str], dict[str, Any]] = {}
    for change in changes:
        alias = change.image.alias or change.image.name
        key = (alias, change.new_version)
        if key in entries:
            entries[key]["applicationsUpdated"] += 1
            continue
        entries[key] = {
            "alias": alias,
            "image": change.image.full_name,
            "newVersion": change.new_version,
            "applicationsUpdated": 1,
            "updatedAt": timestamp(now),
            "message": f"Updated from {change.old_version} to {change.new_version}.",
        }
    return list(entries.values())


def status_changed(
    stored: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    *,
    checked_at_resolution: timedelta = timedelta(0),
) -> bool:
    """Whether ``new`` must be written over ``stored``. Conditions compare by type (their
    order is not content). A ``lastCheckedAt`` that moved by less than
    ``checked_at_resolution`` does not count; with the default, every move counts (as
    upstream, which writes every cycle)."""
    if stored is None:
        return True
    old_rest, new_rest = dict(stored), dict(new)
    old_checked, new_checked = (
        old_rest.pop("lastCheckedAt", None),
        new_rest.pop("lastCheckedAt", None),
    )
    for rest in (old_rest, new_rest):
        rest["conditions"] = {str(c.get("type")): dict(c) for c in _conditions(rest)}
    if old_rest != new_rest:
        return True
    if old_checked == new_checked:
        return False
    if checked_at_resolution <= timedelta(0):
        return True
    try:
        moved = datetime.fromisoformat(str(new_checked)) - datetime.fromisoformat(str(old_checked))
    except ValueError:
        return True
    return moved < timedelta(0) or moved >= checked_at_resolution


def status_merge_patch(stored: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (for the ``status`` subresource) turning ``stored`` into ``new``:
    lists are replaced whole, fields that went away are set to null."""
    removed = {key: None for key in (stored or {}) if key not in new}
    return {"status": {**removed, **new}}
