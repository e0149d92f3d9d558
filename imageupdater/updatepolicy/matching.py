"""Which policies apply to an Application, in a deterministic order.

Owns reading the facts a policy matches on from a raw Application (its namespace, name,
labels and AppProject) and the scope rule: a ``ClusterImageUpdatePolicy`` may apply anywhere,
an ``ImageUpdatePolicy`` only to Applications in its own namespace. The order is cluster
policies by name, then namespaced ones by name, so every surface lists findings alike.
"""

from __future__ import annotations

__all__ = ["AppFacts", "app_facts", "applicable", "applicable_to"]

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from imageupdater.updatepolicy.model import CLUSTER_KIND, Policy

# Every namespace carries this label (the API server sets it since Kubernetes 1.21), so a
# selector on it works even when the caller knows no other label.
NAME_LABEL = "kubernetes.io/metadata.name"
_DEFAULT_NAMESPACE = "default"
_DEFAULT_PROJECT = "default"


@dataclass(frozen=True, slots=True)
class AppFacts:
    """What policies match on. ``project`` is ``default`` when unset, as Argo CD reads it;
    ``namespace`` is ``default`` for a manifest written without one."""

    namespace: str
    name: str
    project: str
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)


def app_facts(app: Mapping[str, Any]) -> AppFacts:
    """The facts of a raw Application of any shape (non-text values are ignored)."""
    metadata = app.get("metadata") if isinstance(app, Mapping) else None
    metadata = metadata if isinstance(metadata, Mapping) else {}
    spec = app.get("spec") if isinstance(app, Mapping) else None
    project = spec.get("project") if isinstance(spec, Mapping) else None
    raw_labels = metadata.get("labels")
    labels = (
        {k: v for k, v in raw_labels.items() if isinstance(k, str) and isinstance(v, str)}
        if isinstance(raw_labels, Mapping)
        else {}
    )
    return AppFacts(
        namespace=_text(metadata.get("namespace")) or _DEFAULT_NAMESPACE,
        name=_text(metadata.get("name")) or "",
        project=_text(project) or _DEFAULT_PROJECT,
        labels=labels,
    )


def applicable(
    policies: Iterable[Policy],
    app: Mapping[str, Any],
    namespace_labels: Mapping[str, str] | None = None,
) -> tuple[Policy, ...]:
    """The policies that apply to ``app``, cluster ones first, each group by name.

    ``namespace_labels`` are the labels of the Application's namespace (for
    ``namespaceSelector``); ``kubernetes.io/metadata.name`` is added when missing.
    """
    return applicable_to(policies, app_facts(app), namespace_labels)


def applicable_to(
    policies: Iterable[Policy],
    facts: AppFacts,
    namespace_labels: Mapping[str, str] | None = None,
) -> tuple[Policy, ...]:
    """:func:`applicable` for facts already read."""
    labels = dict(namespace_labels or {})
    labels.setdefault(NAME_LABEL, facts.namespace)
    found = [
        policy
        for policy in policies
        if (policy.ref.kind == CLUSTER_KIND or policy.ref.namespace == facts.namespace)
        and policy.match.matches(
            namespace=facts.namespace,
            namespace_labels=labels,
            labels=facts.labels,
            project=facts.project,
            name=facts.name,
        )
    ]
    found.sort(key=lambda p: (p.ref.kind != CLUSTER_KIND, p.ref.namespace or "", p.ref.name))
    return tuple(found)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
