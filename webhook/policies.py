"""Update policies at admission: the stored policies the webhook judges Applications by, and
the verdict on a policy resource itself.

Validation runs within the API server's deadline and must not wait on a list call, so the
policies are read in the background by the core's
:class:`~imageupdater.updatepolicy_source.PolicyWatch` (shared with the reconciler, and
re-exported here): both kinds listed every 10 s into a snapshot validation reads without
waiting. Before the first listing succeeds the snapshot is empty, so the webhook admits by
annotations alone (the reconciler still applies every policy before it writes).

The words are :mod:`imageupdater.updatepolicy`'s, the same ``lint`` prints.
"""

from __future__ import annotations

__all__ = [
    "NAMESPACES",
    "POLICY_RESOURCES",
    "PolicySnapshot",
    "PolicyWatch",
    "application_findings",
    "is_policy",
    "policy_verdict",
]

from collections.abc import Mapping, Sequence
from typing import Any

from imageupdater.policy import AppConfig
from imageupdater.problems import Problem
from imageupdater.updatepolicy import (
    API_GROUP,
    KINDS,
    Finding,
    check_application,
    parse_policy,
)
from imageupdater.updatepolicy_source import (
    NAMESPACES,
    POLICY_RESOURCES,
    PolicySnapshot,
    PolicyWatch,
)
from webhook.review import Request, Verdict

# A denial is read in a terminal; the rest is summarised (lint lists them all).
_MAX_LINES = 20


def is_policy(request: Request) -> bool:
    return request.group == API_GROUP and request.kind in KINDS


def policy_verdict(request: Request) -> tuple[Verdict, tuple[str, ...]]:
    """The answer to a CREATE or UPDATE of a policy: denied with every problem (field path
    first) when it has errors, else admitted with its warnings; and the error lines."""
    parsed = parse_policy(request.object)
    errors = [p for p in parsed.problems if p.severity == "error"]
    warnings = [str(p) for p in parsed.problems if p.severity == "warning"]
    if not errors:
        return Verdict(warnings=warnings), ()
    count = len(errors)
    message = f"{count} problem{'s' if count > 1 else ''} in the update policy:\n" + _lines(errors)
    return (
        Verdict(allowed=False, message=message, code=422, warnings=warnings),
        tuple(str(p) for p in errors),
    )


def application_findings(
    snapshot: PolicySnapshot, app: Mapping[str, Any], config: AppConfig | None
) -> tuple[Finding, ...]:
    """What the policies that match ``app`` say about its configuration and overrides."""
    policies = snapshot.for_application(app)
    return check_application(policies, app, config, memo=snapshot.findings_memo) if policies else ()


def _lines(problems: Sequence[Problem]) -> str:
    lines = [f"  {p}" for p in problems[:_MAX_LINES]]
    if len(problems) > _MAX_LINES:
        lines.append(f"  … and {len(problems) - _MAX_LINES} more (image-updater lint lists them)")
    return "\n".join(lines)
