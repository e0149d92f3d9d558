"""Rollbacks in the reconciler: respecting a human's revert, and backing out an update that
broke its Application.

The decisions are ``imageupdater.updatepolicy.rollback``'s; this module reads what they need
from an Application, writes their bookkeeping and reports them:

* :meth:`Rollbacks.screen` runs for each Application after its live images are known and
  before anything is resolved. An image someone reverted below the version last written is
  held (``image-updater.io/hold[.<alias>]`` with "rolled back from X to Y by someone
  else"), a Normal ``RollbackDetected`` Event and ``image_updater_rollbacks_total{reason=
  "manual"}``, and is not resolved. A watched update whose Application degraded or whose
  sync failed within the window becomes a *restore*: the cycle writes the previous version
  back through the Application's own writer, with the hold and the record in the same
  write. One that stayed Healthy through its window is marked verified (``UpdateVerified``).
  Record-only changes (seen running, verified, a revert's hold) are one guarded annotation
  patch — bookkeeping that a later cycle repeats if it fails, never half of an update.
* :meth:`Rollbacks.record` adds the record of a planned update to its plan, so it is
  written with the update (argocd: the same merge patch; git: see :meth:`before_push`).

Nothing is written under ``--dry-run`` (each would-be write is a log line naming the
Application and image) or by a replica that is not the leader.
"""

from __future__ import annotations

__all__ = ["Restore", "Rollbacks", "Screened"]

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from imageupdater.application import Application, app_key
from imageupdater.choice import ChosenImage, RunningVersion
from imageupdater.errors import KubeError
from imageupdater.plan import Plan
from imageupdater.policy import ImagePolicy
from imageupdater.updatepolicy import PolicySet
from imageupdater.updatepolicy.holds import hold_key, parse_holds
from imageupdater.updatepolicy.rollback import (
    LAST_WRITTEN_ANNOTATION,
    WrittenImage,
    app_status,
    gate_window,
    health_verdict,
    is_newer,
    manual_rollback,
    parse_last_written,
    record_changes,
    record_key,
    resumable,
    resume_opt_in,
    reverted,
)
from reconciler.apps_api import ApplicationsAPI
from reconciler.events import EventRecorder
from reconciler.metrics import ReconcilerMetrics
from reconciler.work import CycleResult, Job

log = logging.getLogger("image_updater.reconciler")

Annotations = tuple[tuple[str, str | None], ...]


@dataclass(frozen=True, slots=True)
class Restore:
    """An update to back out: write ``previous`` for ``policy`` again, because ``why``."""

    policy: ImagePolicy
    bad: str
    previous: RunningVersion
    why: str  # "degraded" | "sync_failed" (the metric's reason)

    @property
    def choice(self) -> ChosenImage:
        return ChosenImage(self.policy, self.previous.tag or "", self.previous.digest)

    @property
    def reason(self) -> str:
        what = "the Application became Degraded" if self.why == "degraded" else "its sync failed"
        return f"rolled back from {self.bad} to {self.previous}: {what} after the update"


@dataclass(frozen=True, slots=True)
class Screened:
    """What :meth:`Rollbacks.screen` leaves for the cycle."""

    app: Application  # after a bookkeeping patch, the Application as it now is
    jobs: list[Job]
    restores: tuple[Restore, ...] = ()
    annotations: Annotations = ()  # to write with the restore
    # Images held by a rollback hold that a newer version ends: the version it must beat.
    floors: Mapping[ImagePolicy, str] = field(default_factory=dict)


def _annotations(app: Application) -> Mapping[str, object]:
    metadata: Any = app.get("metadata")
    found = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    return found if isinstance(found, Mapping) else {}


class Rollbacks:
    def __init__(
        self,
        *,
        api: ApplicationsAPI,
        events: EventRecorder,
        metrics: ReconcilerMetrics,
        clock: Callable[[], dt.datetime],
        dry_run: bool,
        is_leader: Callable[[], bool],
    ) -> None:
        self.api = api
        self.events = events
        self.metrics = metrics
        self.clock = clock
        self.dry_run = dry_run
        self.is_leader = is_leader

    # -- reading -----------------------------------------------------------------------------

    @staticmethod
    def gate(
        app: Application, policies: PolicySet | None, soak: dt.timedelta | None = None
    ) -> dt.timedelta | None:
        """The health gate's window: the Application's annotation first (it may also turn
        the gate off), else the shortest window of the update policies that ask for one.
        ``soak``: the Application is in a rollout's first wave, so its updates are watched
        at least that long, whatever the rest says (the rest of the rollout waits on it)."""
        window = gate_window(_annotations(app), policies.policies if policies else ())
        if soak is None:
            return window
        return soak if window is None else max(window, soak)

    @staticmethod
    def resumable(app: Application, images: Sequence[ImagePolicy]) -> set[ImagePolicy]:
        """The held images a newer version may release (resolved although held)."""
        annotations = _annotations(app)
        opt_in, _ = resume_opt_in(annotations)
        if not opt_in:
            return set()
        records = parse_last_written(annotations).record
        holds = parse_holds(annotations, [p.alias for p in images]).holds
        return {
            p
            for p in images
            if resumable(records.get(record_key(p)), holds.reason(p.alias), opt_in)
        }

    # -- each cycle --------------------------------------------------------------------------

    async def screen(
        self, app: Application, jobs: list[Job], result: CycleResult, resumed: set[ImagePolicy]
    ) -> Screened:
        annotations = _annotations(app)
        if LAST_WRITTEN_ANNOTATION not in annotations:
            return Screened(app, jobs)
        key = app_key(app)
        records = parse_last_written(annotations).record
        before = records
        holds: list[tuple[str, str]] = []
        kept: list[Job] = []
        restores: list[Restore] = []
        floors: dict[ImagePolicy, str] = {}
        status = app_status(app)
        now = self.clock()
        for job in jobs:
            name = record_key(job.policy)
            record = records.get(name)
            if record is None:
                kept.append(job)
                continue
            if job.policy in resumed:
                floors[job.policy] = record.version
                kept.append(job)
                continue
            revert = manual_rollback(record, job.running)
            if revert is not None:
                records = records.put(name, reverted(record, revert))
                holds.append((hold_key(job.policy.image.alias), revert.reason))
                self.metrics.rollbacks.labels(key, "manual").inc()
                log.warning(
                    "image '%s' of %s was %s; holding it instead of updating it again",
                    job.policy.image.full_name,
                    key,
                    revert.reason,
                    extra={"application": key, "reason": "rolled_back"},
                )
                result.images_skipped += 1
                continue
            if record.seen is None and job.running is not None and job.running == record.written:
                # A git write reached the cluster: from now on a lower version is a revert,
                # and a health window counts from here.
                record = dataclasses.replace(record, seen=now)
                records = records.put(name, record)
            verdict = health_verdict(record, job.running, status, now)
            if verdict in ("degraded", "sync-failed"):
                previous = RunningVersion.parse(record.previous)
                if previous is not None and previous.tag is not None:
                    why = "degraded" if verdict == "degraded" else "sync_failed"
                    restore = Restore(job.policy, record.version, previous, why)
                    restores.append(restore)
                    records = records.put(
                        name,
                        WrittenImage(
                            version=str(previous),
                            at=now,
                            state="rolled-back",
                            previous=record.version,
                            seen=now,
                        ),
                    )
                    holds.append((hold_key(job.policy.image.alias), restore.reason))
                    continue
                log.warning(
                    "image '%s' of %s: %s within its rollback window, but no earlier version "
                    "is known to write back; left as it is",
                    job.policy.image.full_name,
                    key,
                    "the Application became Degraded" if verdict == "degraded" else "a sync failed",
                    extra={"application": key, "reason": "rollback_impossible"},
                )
                records = records.put(name, dataclasses.replace(record, state="unverified"))
            elif verdict == "verified":
                records = records.put(name, dataclasses.replace(record, state="verified"))
                await self._verified(app, job, record)
            elif verdict == "unverified":
                log.info(
                    "update of image '%s' of %s to %s ended its rollback window while the "
                    "Application is %s; not verified, not rolled back",
                    job.policy.image.full_name,
                    key,
                    record.version,
                    status.health or "of unknown health",
                    extra={"application": key},
                )
                records = records.put(name, dataclasses.replace(record, state="unverified"))
            elif verdict == "watching":
                watched = records.get(name)
                result.defer_until(watched.deadline if watched is not None else None)
            kept.append(job)
        changes: list[tuple[str, str | None]] = list(holds)
        if records != before:
            changes.append((LAST_WRITTEN_ANNOTATION, records.annotation()))
        if restores:
            return Screened(app, kept, tuple(restores), tuple(changes), floors)
        if changes:
            app = await self._bookkeep(app, tuple(changes), holds)
        return Screened(app, kept, (), (), floors)

    async def _verified(self, app: Application, job: Job, record: WrittenImage) -> None:
        key = app_key(app)
        message = (
            f"image {job.policy.image.full_name} at {record.version} stayed Healthy through its "
            "rollback window"
        )
        log.info("%s: %s", key, message, extra={"application": key})
        if not self.dry_run:
            await self.events.record(app, "Normal", "UpdateVerified", message, aggregate=False)

    async def _bookkeep(
        self, app: Application, changes: Annotations, holds: Sequence[tuple[str, str]]
    ) -> Application:
        """One guarded annotation patch; the Application as it is afterwards."""
        key = app_key(app)
        if self.dry_run or not self.is_leader():
            why = "dry run" if self.dry_run else "not the leader"
            log.info(
                "%s: would write %s on %s",
                why,
                ", ".join(name for name, _ in changes),
                key,
                extra={"application": key},
            )
            return app
        meta = app.get("metadata", {})
        patch: dict[str, Any] = {"metadata": {"annotations": dict(changes)}}
        if meta.get("resourceVersion") is not None:
            patch["metadata"]["resourceVersion"] = meta.get("resourceVersion")
        try:
            fresh = await self.api.patch(meta.get("namespace", ""), meta.get("name", ""), patch)
        except KubeError as exc:
            # Bookkeeping only: the next cycle finds the same and writes it again; meanwhile
            # a detected revert's image stays out of this cycle all the same.
            log.warning(
                "cannot record rollback state on %s (retried next cycle): %s",
                key,
                exc,
                extra={"application": key},
            )
            return app
        for _, reason in holds:
            await self.events.record(fresh, "Normal", "RollbackDetected", reason)
        return fresh

    def record(
        self,
        app: Application,
        plan: Plan,
        gate: dt.timedelta | None,
        *,
        seen: bool,
        floors: Mapping[ImagePolicy, str],
        was: Mapping[str, RunningVersion | None],
        extra: Annotations = (),
    ) -> Plan:
        """``plan`` with the record of its changes (and ``extra``: a restore's holds and
        record) among its annotations; ``was``: what each image (by record key) ran before,
        the version a rollback writes back. ``seen``: the written version is what runs from
        the moment it is written (argocd: the override is the running version).

        A resumed image (its choice newer than the version someone reverted) loses its
        rollback hold in the same write."""
        if not plan.changes and not extra:
            return plan
        now = self.clock()
        annotations = _annotations(app)
        records = parse_last_written(annotations).record
        changes: dict[str, str | None] = dict(extra)
        if not extra:
            records = record_changes(records, plan.changes, was, now, gate, seen=seen)
            by_alias = {(p.image.alias, p.image.full_name): p for p in floors}
            for change in plan.changes:
                resumed = by_alias.get((change.alias, change.image))
                if resumed is not None and is_newer(str(change.new), floors[resumed]):
                    changes[hold_key(change.alias)] = None
            changes[LAST_WRITTEN_ANNOTATION] = records.annotation()
        return dataclasses.replace(plan, annotations=tuple(changes.items()))

    async def before_push(self, app: Application, plan: Plan) -> str | None:
        """git write-back: write the plan's annotations (the record, a restore's hold) to the
        Application before the push, guarded by its resourceVersion; the reason when it
        cannot be written (then nothing is pushed: a push without its record would be
        taken for a human's edit later). A record written for a push that then fails names
        a version never seen running, which is not taken for anything."""
        if not plan.annotations:
            return None
        meta = app.get("metadata", {})
        patch: dict[str, Any] = {"metadata": {"annotations": dict(plan.annotations)}}
        if meta.get("resourceVersion") is not None:
            patch["metadata"]["resourceVersion"] = meta.get("resourceVersion")
        try:
            await self.api.patch(meta.get("namespace", ""), meta.get("name", ""), patch)
        except KubeError as exc:
            return f"cannot record the update on the Application before pushing it: {exc}"
        return None

    async def rolled_back(self, app: Application, restores: Sequence[Restore]) -> None:
        key = app_key(app)
        for restore in restores:
            self.metrics.rollbacks.labels(key, restore.why).inc()
            log.warning(
                "image '%s' of %s %s; holding it",
                restore.policy.image.full_name,
                key,
                restore.reason,
                extra={"application": key, "reason": "rolled_back"},
            )
            await self.events.record(app, "Warning", "UpdateRolledBack", restore.reason)
