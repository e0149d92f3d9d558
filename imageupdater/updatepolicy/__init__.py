"""Update policies: ``ClusterImageUpdatePolicy`` and ``ImageUpdatePolicy`` (``image-updater.io``),
read, matched to Applications and applied, plus the hold annotations. Pure: no I/O, no clock.

The API, in the order a caller uses it:

* :func:`parse_policy` — one resource → :class:`ParsedPolicy` (the :class:`Policy`, or None,
  and every problem keyed by field path); the webhook denies a broken policy with these
  problems and ``lint`` prints them.
* :func:`applicable` — the policies that apply to one Application (cluster ones, then those
  of its namespace), in a deterministic order.
* :func:`check_application` — admission: the annotations' configuration and the spec's
  overrides against those policies → :class:`Finding` s; :func:`problems` turns them into
  the review's errors (Enforce) and warnings (Warn); Audit findings are only recorded.
* :func:`filter_candidates` — the reconciler: one image's candidate tags → the
  :class:`CandidateDecision` (kept, filtered with reasons, a :class:`Deferral`, standing
  violations, ``require_digest``; ``findings_for(chosen)`` after the strategy chose);
  :class:`PolicyFilter` is what the resolver takes to apply it, :class:`PolicySet` the
  applicable policies as one hashable value.
* :func:`parse_holds`, :func:`hold_patch`, :func:`release_patch` — the hold annotations.
* :func:`policy_status`, :func:`violation_record` — the resource's status as data.

Modules: ``model`` (values), ``globs``, ``selectors``, ``reading`` (field readers and wording),
``fields`` (the field vocabulary the CRDs are tested against), ``parse``, ``parse_rules``,
``matching``, ``findings``, ``checks`` (one rule against one value), ``admission``,
``candidates``, ``holds``, ``status``, ``rollback`` (the last-written record and the
rollback decisions: reverts by others, resuming, health-gated updates).
"""

from __future__ import annotations

__all__ = [
    "API_GROUP",
    "API_VERSION",
    "CLUSTER_KIND",
    "HOLD_ANNOTATION",
    "HOLD_PREFIX",
    "KINDS",
    "NAMESPACED_KIND",
    "Action",
    "Bump",
    "CandidateDecision",
    "Deferral",
    "Filtered",
    "Finding",
    "FindingsMemo",
    "Holds",
    "Match",
    "ParsedHolds",
    "ParsedPolicy",
    "Policy",
    "PolicyFilter",
    "PolicyRef",
    "PolicySet",
    "Rules",
    "UpdateWindow",
    "app_facts",
    "applicable",
    "applicable_to",
    "check_application",
    "filter_candidates",
    "hold_key",
    "hold_patch",
    "parse_holds",
    "parse_policy",
    "policy_status",
    "problems",
    "release_patch",
    "violation_record",
]

from imageupdater.updatepolicy.admission import FindingsMemo, check_application
from imageupdater.updatepolicy.candidates import (
    CandidateDecision,
    Deferral,
    Filtered,
    PolicyFilter,
    filter_candidates,
)
from imageupdater.updatepolicy.findings import Finding, problems
from imageupdater.updatepolicy.holds import (
    HOLD_ANNOTATION,
    HOLD_PREFIX,
    Holds,
    ParsedHolds,
    hold_key,
    hold_patch,
    parse_holds,
    release_patch,
)
from imageupdater.updatepolicy.matching import app_facts, applicable, applicable_to
from imageupdater.updatepolicy.model import (
    API_GROUP,
    API_VERSION,
    CLUSTER_KIND,
    KINDS,
    NAMESPACED_KIND,
    Action,
    Bump,
    Match,
    ParsedPolicy,
    Policy,
    PolicyRef,
    PolicySet,
    Rules,
    UpdateWindow,
)
from imageupdater.updatepolicy.parse import parse_policy
from imageupdater.updatepolicy.status import policy_status, violation_record
