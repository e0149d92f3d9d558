"""The ``status`` of a policy resource, built as pure data for the reconciler to write.

Owns the status shape the CRDs declare and its bounds: ``matchedApplications`` (a count),
``applications`` (their ``namespace/name``, sorted, at most :data:`MAX_APPLICATIONS`),
``lastViolations`` (newest first, at most :data:`MAX_VIOLATIONS`), one ``Ready`` condition
(``True``/``Valid``, or ``False``/``InvalidSpec`` with the parse errors) whose
``lastTransitionTime`` moves only when its status does, ``observedGeneration``, and for a
policy with a rollout the updates going through its waves (``rollouts``, at most
``waves.MAX_ROLLOUTS``).
"""

from __future__ import annotations

__all__ = [
    "MAX_APPLICATIONS",
    "MAX_CONDITION_MESSAGE",
    "MAX_VIOLATIONS",
    "Condition",
    "PolicyStatus",
    "ViolationRecord",
    "policy_status",
    "violation_record",
]

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypedDict

from imageupdater.syncwindows.window import as_utc
from imageupdater.updatepolicy.findings import Finding
from imageupdater.updatepolicy.model import ParsedPolicy
from imageupdater.updatepolicy.waves import MAX_ROLLOUTS, RolloutStatus

MAX_APPLICATIONS = 100
MAX_VIOLATIONS = 20
MAX_CONDITION_MESSAGE = 1024


class ViolationRecord(TypedDict):
    time: str  # RFC 3339, UTC
    application: str  # namespace/name
    image: str
    rule: str
    message: str
    action: str


class Condition(TypedDict):
    type: str
    status: str  # "True" | "False"
    reason: str
    message: str
    lastTransitionTime: str
    observedGeneration: int


class PolicyStatus(TypedDict, total=False):
    observedGeneration: int
    matchedApplications: int
    applications: list[str]
    lastViolations: list[ViolationRecord]
    conditions: list[Condition]
    rollouts: list[RolloutStatus]


_RECORD = ("time", "application", "image", "rule", "message", "action")


def _time(now: datetime) -> str:
    return as_utc(now).strftime("%Y-%m-%dT%H:%M:%SZ")


def violation_record(finding: Finding, application: str, now: datetime) -> ViolationRecord:
    """One ``lastViolations`` entry for ``finding`` about ``application`` (``namespace/name``)."""
    return {
        "time": _time(now),
        "application": application,
        "image": finding.image,
        "rule": finding.rule,
        "message": finding.text,
        "action": finding.action.value,
    }


def policy_status(
    parsed: ParsedPolicy,
    *,
    generation: int,
    applications: Iterable[str],
    violations: Sequence[ViolationRecord] = (),
    previous: Mapping[str, Any] | None = None,
    now: datetime,
    rollouts: Sequence[RolloutStatus] = (),
) -> PolicyStatus:
    """The status to write: ``violations`` are this round's (newest last, as found), put
    before the previous ones and cut to the bound; ``rollouts`` (by image and version) appear
    only while there are some."""
    names = sorted(set(applications))
    earlier = _previous_violations(previous)
    newest_first = [*reversed(violations), *earlier][:MAX_VIOLATIONS]
    status: PolicyStatus = {
        "observedGeneration": generation,
        "matchedApplications": len(names),
        "applications": names[:MAX_APPLICATIONS],
        "lastViolations": newest_first,
        "conditions": [_ready(parsed, generation, previous, now)],
    }
    if rollouts:
        status["rollouts"] = list(rollouts[:MAX_ROLLOUTS])
    return status


def _ready(
    parsed: ParsedPolicy, generation: int, previous: Mapping[str, Any] | None, now: datetime
) -> Condition:
    if parsed.policy is not None:
        status, reason, message = "True", "Valid", "the policy is valid and in force"
    else:
        status, reason = "False", "InvalidSpec"
        message = "; ".join(str(p) for p in parsed.errors) or "the policy cannot be read"
        if len(message) > MAX_CONDITION_MESSAGE:
            message = message[: MAX_CONDITION_MESSAGE - 3] + "..."
    since = _time(now)
    for old in _previous_conditions(previous):
        if old.get("type") == "Ready" and old.get("status") == status:
            kept = old.get("lastTransitionTime")
            since = kept if isinstance(kept, str) and kept else since
    return {
        "type": "Ready",
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since,
        "observedGeneration": generation,
    }


def _previous_violations(previous: Mapping[str, Any] | None) -> list[ViolationRecord]:
    raw = previous.get("lastViolations") if isinstance(previous, Mapping) else None
    kept: list[ViolationRecord] = []
    for item in raw if isinstance(raw, list) else ():
        if isinstance(item, Mapping) and all(isinstance(item.get(f), str) for f in _RECORD):
            kept.append(
                ViolationRecord(
                    time=item["time"],
                    application=item["application"],
                    image=item["image"],
                    rule=item["rule"],
                    message=item["message"],
                    action=item["action"],
                )
            )
    return kept


def _previous_conditions(previous: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    raw = previous.get("conditions") if isinstance(previous, Mapping) else None
    return [c for c in raw if isinstance(c, Mapping)] if isinstance(raw, list) else []
