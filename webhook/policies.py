"""Update policies at admission: the stored policies the webhook judges Applications by, and
the verdict on a policy resource itself.

Validation runs within the API server's deadline and must not wait on a list call, so the
policies are read in the background: :class:`PolicyWatch` lists both policy kinds (and,
only while some policy selects by namespace labels, the namespaces) every ``interval``
seconds and keeps the last good :class:`PolicySnapshot`. A listing that fails keeps the
previous snapshot and is logged; before the first success the snapshot is empty, so the
webhook admits by annotations alone (the reconciler still applies every policy before
it writes). A policy the API server stores with mistakes (written before the webhook
judged policies) is left out of the snapshot and logged, never half-applied.

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

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from imageupdater.errors import ImageUpdaterError, KubeForbidden
from imageupdater.kube import Resource
from imageupdater.policy import AppConfig
from imageupdater.problems import Problem
from imageupdater.updatepolicy import (
    API_GROUP,
    API_VERSION,
    KINDS,
    Finding,
    Policy,
    applicable,
    check_application,
    parse_policy,
)
from webhook.review import Request, Verdict

log = logging.getLogger("image_updater.webhook")

_VERSION = API_VERSION.rpartition("/")[2]
POLICY_RESOURCES = (
    Resource(API_GROUP, _VERSION, "clusterimageupdatepolicies"),
    Resource(API_GROUP, _VERSION, "imageupdatepolicies"),
)
NAMESPACES = Resource("", "v1", "namespaces")
# A denial is read in a terminal; the rest is summarised (lint lists them all).
_MAX_LINES = 20

ListFn = Callable[[Resource], Awaitable[Mapping[str, Any]]]


@dataclass(frozen=True, slots=True)
class PolicySnapshot:
    """The valid stored policies, and the labels of every namespace when a policy needs them."""

    policies: tuple[Policy, ...] = ()
    namespace_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def for_application(self, app: Mapping[str, Any]) -> tuple[Policy, ...]:
        metadata = app.get("metadata")
        namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else None
        labels = self.namespace_labels.get(namespace) if isinstance(namespace, str) else None
        return applicable(self.policies, app, labels)


class PolicyWatch:
    """Keeps a :class:`PolicySnapshot` current by listing through ``list_objects``."""

    def __init__(self, list_objects: ListFn, *, interval: float = 10.0) -> None:
        self._list = list_objects
        self.interval = interval
        self.snapshot = PolicySnapshot()
        self._logged: set[tuple[str, str]] = set()

    async def refresh(self) -> bool:
        """One listing; True when the snapshot was replaced."""
        try:
            policies = [
                policy
                for resource in POLICY_RESOURCES
                for policy in self._valid(await self._listed(resource))
            ]
            labels: dict[str, Mapping[str, str]] = {}
            if any(p.match.namespace_selector is not None for p in policies):
                labels = _namespace_labels(await self._listed(NAMESPACES))
        except ImageUpdaterError as exc:
            log.warning("cannot list update policies (keeping the last ones read): %s", exc)
            return False
        self.snapshot = PolicySnapshot(tuple(policies), labels)
        return True

    async def _listed(self, resource: Resource) -> Mapping[str, Any]:
        """A listing; a kind this install may not list (a namespaced install has no
        cluster-wide rights) counts as empty, said once."""
        try:
            return await self._list(resource)
        except KubeForbidden as exc:
            key = (resource.plural, "forbidden")
            if key not in self._logged:
                self._logged.add(key)
                log.warning(
                    "not allowed to list %s, so admission applies none of them: %s",
                    resource.plural,
                    exc,
                )
            return {"items": []}

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.refresh()

    def _valid(self, listing: Mapping[str, Any]) -> list[Policy]:
        items = listing.get("items")
        found: list[Policy] = []
        for item in items if isinstance(items, list) else ():
            parsed = parse_policy(item)
            if parsed.policy is not None:
                found.append(parsed.policy)
                continue
            name = str(parsed.ref) if parsed.ref is not None else "<unnamed>"
            first = parsed.problems[0] if parsed.problems else None
            key = (name, str(first))
            if key not in self._logged:  # once per policy and mistake, not every interval
                self._logged.add(key)
                log.warning("update policy %s is not applied: %s", name, first)
        return found


def _namespace_labels(listing: Mapping[str, Any]) -> dict[str, Mapping[str, str]]:
    found: dict[str, Mapping[str, str]] = {}
    items = listing.get("items")
    for item in items if isinstance(items, list) else ():
        metadata = item.get("metadata") if isinstance(item, Mapping) else None
        if not isinstance(metadata, Mapping) or not isinstance(metadata.get("name"), str):
            continue
        raw = metadata.get("labels")
        labels = raw if isinstance(raw, Mapping) else {}
        found[metadata["name"]] = {str(k): str(v) for k, v in labels.items()}
    return found


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
    return check_application(policies, app, config) if policies else ()


def _lines(problems: Sequence[Problem]) -> str:
    lines = [f"  {p}" for p in problems[:_MAX_LINES]]
    if len(problems) > _MAX_LINES:
        lines.append(f"  … and {len(problems) - _MAX_LINES} more (image-updater lint lists them)")
    return "\n".join(lines)
