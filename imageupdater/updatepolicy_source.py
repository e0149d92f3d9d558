"""The stored update policies, read from the cluster for the webhook and the reconciler alike.

Neither component may wait on a list call where it applies policies (admission has the API
server's deadline; a cycle has thousands of Applications), so the policies are read in the
background: :class:`PolicyWatch` lists both policy kinds (and, only while some policy
selects by namespace labels, the namespaces) every ``interval`` seconds and keeps the last
good :class:`PolicySnapshot`. A listing that fails keeps the previous snapshot and is
logged; before the first success the snapshot is empty. A kind the component may not list
counts as empty, said once. A policy the API server stores with mistakes (written before
the webhook judged policies) is left out of the policies applied and logged once, never
half-applied; it stays in :attr:`PolicySnapshot.stored`, so the reconciler can say so in its
status (``Ready`` False).

A resource read again unchanged (same uid and resourceVersion) is not parsed again: the
same :class:`~imageupdater.updatepolicy.Policy` object serves, which keeps the policy sets
built from consecutive snapshots equal at the cost of an identity check.

The reconciler's rights are ``list`` on both kinds (and namespaces); the listing goes
through whatever ``list_objects`` the caller hands in (``KubeClient.list``).
"""

from __future__ import annotations

__all__ = [
    "NAMESPACES",
    "POLICY_RESOURCES",
    "PolicySnapshot",
    "PolicyWatch",
    "StoredPolicy",
]

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from imageupdater.errors import ImageUpdaterError, KubeForbidden, KubeNotFound
from imageupdater.kube import Resource
from imageupdater.updatepolicy import (
    API_GROUP,
    API_VERSION,
    FindingsMemo,
    ParsedPolicy,
    Policy,
    PolicySet,
    app_facts,
    applicable_to,
    parse_policy,
)

_VERSION = API_VERSION.rpartition("/")[2]
POLICY_RESOURCES = (
    Resource(API_GROUP, _VERSION, "clusterimageupdatepolicies"),
    Resource(API_GROUP, _VERSION, "imageupdatepolicies"),
)
NAMESPACES = Resource("", "v1", "namespaces")
# Parsed resources kept across listings, by (uid, resourceVersion); more than this many
# distinct ones and the oldest are parsed again when seen.
_PARSED_KEPT = 4096
_APPLICABLE_KEPT = 8192  # distinct Application facts whose policies a snapshot keeps

ListFn = Callable[[Resource], Awaitable[Mapping[str, Any]]]


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    """One policy resource as stored: what the parser made of it, where it lives (for its
    ``status``), its generation and the status it has now."""

    parsed: ParsedPolicy
    resource: Resource
    name: str
    namespace: str | None
    uid: str
    generation: int
    status: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class PolicySnapshot:
    """The valid stored policies, every stored one, and the labels of every namespace when a
    policy needs them."""

    policies: tuple[Policy, ...] = ()
    namespace_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    stored: tuple[StoredPolicy, ...] = ()
    # One PolicySet per distinct applicable tuple of this snapshot (keyed by the policies'
    # ids, which the snapshot keeps alive): Applications matched alike share one value.
    _sets: dict[tuple[int, ...], PolicySet] = field(default_factory=dict, compare=False, repr=False)
    # The policies that apply, per Application facts (admission sees the same Application
    # again and again: every status write); bounded, the oldest first out.
    _applicable: dict[tuple[str, str, str, tuple[tuple[str, str], ...]], tuple[Policy, ...]] = (
        field(default_factory=dict, compare=False, repr=False)
    )
    findings_memo: FindingsMemo = field(default_factory=FindingsMemo, compare=False, repr=False)

    def for_application(self, app: Mapping[str, Any]) -> tuple[Policy, ...]:
        if not self.policies:
            return ()
        facts = app_facts(app)
        key = (facts.namespace, facts.name, facts.project, tuple(sorted(facts.labels.items())))
        found = self._applicable.get(key)
        if found is None:
            labels = self.namespace_labels.get(facts.namespace)
            found = applicable_to(self.policies, facts, labels)
            if len(self._applicable) >= _APPLICABLE_KEPT:
                self._applicable.pop(next(iter(self._applicable)))
            self._applicable[key] = found
        return found

    def policy_set(self, app: Mapping[str, Any]) -> PolicySet | None:
        """The policies that apply to ``app`` as one value; None when none does."""
        found = self.for_application(app)
        if not found:
            return None
        key = tuple(id(p) for p in found)
        kept = self._sets.get(key)
        if kept is None:
            kept = self._sets[key] = PolicySet(found)
        return kept


class PolicyWatch:
    """Keeps a :class:`PolicySnapshot` current by listing through ``list_objects``.

    ``component`` names who applies the policies in the log (``admission``, ``the
    reconciler``)."""

    def __init__(
        self,
        list_objects: ListFn,
        *,
        interval: float = 10.0,
        logger: logging.Logger | None = None,
        component: str = "admission",
    ) -> None:
        self._list = list_objects
        self.interval = interval
        self.snapshot = PolicySnapshot()
        self._log = logger or logging.getLogger("image_updater.policies")
        self._component = component
        self._logged: set[tuple[str, str]] = set()
        self._parsed: dict[tuple[str, str], ParsedPolicy] = {}

    async def refresh(self) -> bool:
        """One listing; True when the snapshot was replaced."""
        try:
            stored = [
                item
                for resource in POLICY_RESOURCES
                for item in self._read(resource, await self._listed(resource))
            ]
            policies = [s.parsed.policy for s in stored if s.parsed.policy is not None]
            labels: dict[str, Mapping[str, str]] = {}
            if any(p.match.namespace_selector is not None for p in policies):
                labels = _namespace_labels(await self._listed(NAMESPACES))
        except ImageUpdaterError as exc:
            self._log.warning("cannot list update policies (keeping the last ones read): %s", exc)
            return False
        self.snapshot = PolicySnapshot(tuple(policies), labels, tuple(stored))
        return True

    async def _listed(self, resource: Resource) -> Mapping[str, Any]:
        """A listing; a kind this install may not list (a namespaced install has no
        cluster-wide rights) counts as empty, said once."""
        try:
            listed = await self._list(resource)
        except KubeNotFound as exc:
            key = (resource.plural, "not-served")
            if key not in self._logged:
                self._logged.add(key)
                self._log.warning(
                    "the API server does not serve %s (its CRD is not installed: kubectl apply "
                    "-k manifests/crds), so %s applies none of them: %s",
                    resource.plural,
                    self._component,
                    exc,
                )
            return {"items": []}
        except KubeForbidden as exc:
            key = (resource.plural, "forbidden")
            if key not in self._logged:
                self._logged.add(key)
                self._log.warning(
                    "not allowed to list %s, so %s applies none of them: %s",
                    resource.plural,
                    self._component,
                    exc,
                )
            return {"items": []}
        # Served again (a CRD installed later): a later disappearance is said again.
        self._logged.discard((resource.plural, "not-served"))
        return listed

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.refresh()

    def _read(self, resource: Resource, listing: Mapping[str, Any]) -> list[StoredPolicy]:
        items = listing.get("items")
        found: list[StoredPolicy] = []
        for item in items if isinstance(items, list) else ():
            if not isinstance(item, Mapping):
                continue
            metadata = item.get("metadata")
            metadata = metadata if isinstance(metadata, Mapping) else {}
            parsed = self._parse(item, metadata)
            if parsed.policy is None:
                self._say_broken(parsed)
            name = metadata.get("name")
            if not isinstance(name, str) or not name:
                continue
            namespace = metadata.get("namespace")
            uid = metadata.get("uid")
            generation = metadata.get("generation")
            status = item.get("status")
            found.append(
                StoredPolicy(
                    parsed=parsed,
                    resource=resource,
                    name=name,
                    namespace=namespace if isinstance(namespace, str) and namespace else None,
                    uid=uid if isinstance(uid, str) else "",
                    generation=generation if isinstance(generation, int) else 0,
                    status=status if isinstance(status, Mapping) else None,
                )
            )
        return found

    def _parse(self, item: Mapping[str, Any], metadata: Mapping[str, Any]) -> ParsedPolicy:
        uid, version = metadata.get("uid"), metadata.get("resourceVersion")
        if not (isinstance(uid, str) and uid and isinstance(version, str) and version):
            return parse_policy(item)
        key = (uid, version)
        parsed = self._parsed.get(key)
        if parsed is None:
            parsed = parse_policy(item)
            self._parsed[key] = parsed
            while len(self._parsed) > _PARSED_KEPT:
                del self._parsed[next(iter(self._parsed))]
        return parsed

    def _say_broken(self, parsed: ParsedPolicy) -> None:
        name = str(parsed.ref) if parsed.ref is not None else "<unnamed>"
        first = parsed.problems[0] if parsed.problems else None
        key = (name, str(first))
        if key not in self._logged:  # once per policy and mistake, not every interval
            self._logged.add(key)
            self._log.warning("update policy %s is not applied: %s", name, first)


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
