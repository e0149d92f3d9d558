"""The field vocabulary of the two policy kinds: which fields exist where.

The parser refuses any field not named here (with a "did you mean"), and a test holds the
CRDs in ``manifests/crds/`` to exactly these paths, so the resource's schema, the parser and
the documentation cannot drift apart. A namespaced ``ImageUpdatePolicy`` has no namespace
criteria: it applies to Applications in its own namespace only.
"""

from __future__ import annotations

__all__ = [
    "CLUSTER_MATCH_FIELDS",
    "FIRST_WAVE_FIELDS",
    "NAMESPACED_MATCH_FIELDS",
    "ROLLBACK_FIELDS",
    "ROLLOUT_FIELDS",
    "RULE_FIELDS",
    "SPEC_FIELDS",
    "TOP_FIELDS",
    "WINDOW_FIELDS",
    "match_fields",
    "spec_paths",
]

from imageupdater.updatepolicy.model import CLUSTER_KIND, PolicyKind
from imageupdater.updatepolicy.selectors import REQUIREMENT_FIELDS, SELECTOR_FIELDS

TOP_FIELDS = ("apiVersion", "kind", "metadata", "spec", "status")
SPEC_FIELDS = ("action", "match", "rules", "rollout")
CLUSTER_MATCH_FIELDS = (
    "namespaces",
    "namespaceSelector",
    "applicationSelector",
    "projects",
    "names",
)
NAMESPACED_MATCH_FIELDS = ("applicationSelector", "projects", "names")
RULE_FIELDS = (
    "allowedRegistries",
    "allowedRepositories",
    "deniedTags",
    "allowedStrategies",
    "requiredConstraint",
    "maxBump",
    "minimumAge",
    "requireDigest",
    "updateWindows",
    "rollbackOnDegraded",
)
ROLLBACK_FIELDS = ("window",)
ROLLOUT_FIELDS = ("firstWave", "soak")
FIRST_WAVE_FIELDS = ("count", "percent", "selector")
WINDOW_FIELDS = ("schedule", "duration", "timeZone")
_SELECTORS = ("namespaceSelector", "applicationSelector")


def match_fields(kind: PolicyKind) -> tuple[str, ...]:
    return CLUSTER_MATCH_FIELDS if kind == CLUSTER_KIND else NAMESPACED_MATCH_FIELDS


def spec_paths(kind: PolicyKind) -> frozenset[str]:
    """Every field path under ``spec`` the parser reads for ``kind``; ``[]`` marks the items
    of a list (``spec.rules.updateWindows[].schedule``)."""
    paths = {f"spec.{name}" for name in SPEC_FIELDS}
    for name in match_fields(kind):
        base = f"spec.match.{name}"
        paths.add(base)
        if name in _SELECTORS:
            paths.update(f"{base}.{field}" for field in SELECTOR_FIELDS)
            paths.update(f"{base}.matchExpressions[].{field}" for field in REQUIREMENT_FIELDS)
    paths.update(f"spec.rules.{name}" for name in RULE_FIELDS)
    paths.update(f"spec.rules.updateWindows[].{name}" for name in WINDOW_FIELDS)
    paths.update(f"spec.rules.rollbackOnDegraded.{name}" for name in ROLLBACK_FIELDS)
    paths.update(f"spec.rollout.{name}" for name in ROLLOUT_FIELDS)
    paths.update(f"spec.rollout.firstWave.{name}" for name in FIRST_WAVE_FIELDS)
    wave_selector = "spec.rollout.firstWave.selector"
    paths.update(f"{wave_selector}.{field}" for field in SELECTOR_FIELDS)
    paths.update(f"{wave_selector}.matchExpressions[].{field}" for field in REQUIREMENT_FIELDS)
    return frozenset(paths)
