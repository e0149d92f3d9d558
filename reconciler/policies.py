"""Update policies in the reconciler: which apply to each Application, what their findings
become, and the policies' status.

* Matching reads the snapshot of the core's ``PolicyWatch`` (the same listing the admission
  webhook judges by), so a cycle never waits on a list call; the policies of one
  Application are one ``PolicySet``, which the cycle puts in its resolution keys.
* Findings, per Application per cycle (the resolver filtered the candidates already): a
  standing violation or a ``Warn`` finding about the update made is a Warning
  ``PolicyViolation`` Event, one per Application with every finding in it, repeated each
  cycle while it stands so the recorder aggregates it as it does every other condition;
  ``Audit`` findings make no Event. Every finding counts once in
  ``image_updater_policy_violations_total{policy,rule,action}`` and once in its policy's
  ``status.lastViolations`` when it starts to stand (again after it cleared), not once per
  cycle.
* Status: each policy's ``matchedApplications``/``applications``, ``lastViolations`` and
  ``Ready`` condition (``imageupdater.updatepolicy.policy_status``), written with a merge
  patch to the ``status`` subresource by the leader only, never in a dry run, and only when
  it changed. Counts need every Application: nothing is written before the first cycle
  over all of them, and a cycle over some (a change) updates only theirs.
"""

from __future__ import annotations

__all__ = ["COMPLETE_TRIGGERS", "PolicyReporter"]

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from imageupdater import kube
from imageupdater.application import Application
from imageupdater.errors import KubeError, KubeNotFound
from imageupdater.updatepolicy import Action, Finding, PolicyRef, PolicySet
from imageupdater.updatepolicy.status import (
    MAX_VIOLATIONS,
    ViolationRecord,
    policy_status,
    violation_record,
)
from imageupdater.updatepolicy.waves import MAX_ROLLOUTS, RolloutStatus
from imageupdater.updatepolicy_source import PolicyWatch, StoredPolicy
from reconciler.events import EventRecorder
from reconciler.metrics import ReconcilerMetrics

log = logging.getLogger("image_updater.reconciler")

# The controller's triggers for a cycle over every Application it indexes.
COMPLETE_TRIGGERS = frozenset({"resync", "once"})
REASON = "PolicyViolation"


class PolicyReporter:
    """Owns what lives across cycles: the findings standing per Application, which policies
    matched which Application, violations not written yet, and the status last written."""

    def __init__(
        self,
        watch: PolicyWatch,
        *,
        client: kube.KubeClient | None,
        metrics: ReconcilerMetrics,
        events: EventRecorder,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        dry_run: bool = False,
        is_leader: Callable[[], bool] = lambda: True,
    ) -> None:
        self.watch = watch
        self.client = client
        self.metrics = metrics
        self.events = events
        self.clock = clock
        self.dry_run = dry_run
        self.is_leader = is_leader
        self._standing: dict[str, frozenset[Finding]] = {}
        self._matched: dict[str, frozenset[PolicyRef]] = {}
        self._seen: set[str] = set()
        self._complete = False
        self._pending: dict[PolicyRef, list[ViolationRecord]] = {}
        # Per (policy, uid): the status this process wrote last, which the snapshot shows
        # only after its next listing.
        self._written: dict[tuple[PolicyRef, str], Mapping[str, Any]] = {}
        self.status_writes = 0
        # status.rollouts per policy: what the rest asked for, replaced by a complete cycle's
        # and merged from a partial one's; past the bound the least recently asked go.
        self._rollouts: dict[PolicyRef, dict[tuple[str, str], RolloutStatus]] = {}

    def rollouts(self, found: Mapping[PolicyRef, Sequence[RolloutStatus]], trigger: str) -> None:
        """This cycle's rollout entries (``reconciler.waves``), for the status."""
        complete = trigger in COMPLETE_TRIGGERS
        for ref, entries in found.items():
            kept = {} if complete else self._rollouts.get(ref, {})
            for entry in entries:
                kept.pop((entry["image"], entry["version"]), None)
                kept[(entry["image"], entry["version"])] = entry
            while len(kept) > MAX_ROLLOUTS:
                kept.pop(next(iter(kept)))
            self._rollouts[ref] = kept

    def applicable(self, app: Application, key: str) -> PolicySet | None:
        """The policies that apply to ``app`` (None: none), remembered for the status."""
        found = self.watch.snapshot.policy_set(app)
        self._seen.add(key)
        refs = frozenset(p.ref for p in found.policies) if found is not None else frozenset()
        if refs:
            self._matched[key] = refs
        else:
            self._matched.pop(key, None)
        return found

    async def report(self, app: Application, key: str, findings: Sequence[Finding]) -> None:
        """One Application's findings of this cycle (empty: none stands any more)."""
        found = tuple(dict.fromkeys(findings))
        before = self._standing.get(key, frozenset())
        now = self.clock()
        for finding in found:
            if finding in before:
                continue
            self.metrics.policy_violations.labels(
                str(finding.policy), finding.rule, finding.action.value
            ).inc()
            pending = self._pending.setdefault(finding.policy, [])
            pending.append(violation_record(finding, key, now))
            del pending[:-MAX_VIOLATIONS]  # the status keeps no more (nor does a follower)
            log.info(
                "%s: %s",
                key,
                finding.text,
                extra={"application": key, "reason": "policy_violation"},
            )
        if found:
            self._standing[key] = frozenset(found)
        else:
            self._standing.pop(key, None)
        shown = [f for f in found if f.action is not Action.AUDIT]
        if shown:
            await self.events.record(app, "Warning", REASON, "; ".join(f.text for f in shown))
        else:
            await self.events.forget(key, REASON)

    async def finish(self, trigger: str) -> None:
        """The end of a cycle: forget Applications a complete cycle did not see, and write
        the status of every policy whose status changed."""
        if trigger in COMPLETE_TRIGGERS:
            self._complete = True
            for gone in set(self._matched) - self._seen:
                del self._matched[gone]
            for gone in set(self._standing) - self._seen:
                del self._standing[gone]
        self._seen = set()
        if not self._complete or self.dry_run or self.client is None or not self.is_leader():
            return
        applications: dict[PolicyRef, list[str]] = {}
        for app_key, refs in self._matched.items():
            for ref in refs:
                applications.setdefault(ref, []).append(app_key)
        for stored in self.watch.snapshot.stored:
            await self._write_status(stored, applications)

    async def _write_status(
        self, stored: StoredPolicy, applications: Mapping[PolicyRef, list[str]]
    ) -> None:
        assert self.client is not None
        ref = stored.parsed.ref
        if ref is None:
            return
        key = (ref, stored.uid)
        previous = self._written.get(key, stored.status)
        pending = self._pending.get(ref, [])
        status = policy_status(
            stored.parsed,
            generation=stored.generation,
            applications=applications.get(ref, ()),
            violations=pending,
            previous=previous,
            now=self.clock(),
            rollouts=[entry for _, entry in sorted(self._rollouts.get(ref, {}).items())],
        )
        if previous is not None and dict(previous) == dict(status):
            self._pending.pop(ref, None)
            return
        removed = {name: None for name in previous or {} if name not in status}
        patch = {"status": {**removed, **status}}
        try:
            # The status subresource, addressed by name: ``<name>/status``.
            await self.client.patch(
                stored.resource, stored.namespace, f"{stored.name}/status", patch
            )
        except KubeNotFound:
            return  # deleted since the listing
        except KubeError as exc:
            # Tried again at the end of the next cycle, pending violations included.
            log.warning("could not write the status of update policy %s: %s", ref, exc)
            return
        self._written[key] = status
        self._pending.pop(ref, None)
        self.status_writes += 1
