"""The write-back seam: what becomes of a planned change, and the writers that record it.

Between "planned" and "written" sit two steps:

1. :func:`decide` — pure: given a plan, the AppProject's sync windows, the clock, dry run
   and leadership, the change is :class:`Planned` (to be written), :class:`Deferred` (a
   window forbids it now), :class:`Blocked` (the windows cannot be read, so nothing may be
   written past a freeze the user meant to have) or :class:`Skipped` (nothing to write,
   dry run, not the leader).
2. A :class:`Writer` per write-back method records the planned changes. A *streaming*
   writer (``argocd``: one guarded patch per Application) is handed each Application's
   change as soon as it is decided, so a slow registry holds back only its own
   Applications; a *batch* writer (``git``: one commit per repository and branch) is
   handed the whole cycle's planned changes at once, so it can group them.

A writer returns, for each change it was given, where it ended: :class:`Written`,
:class:`WriteFailed`, or — after re-planning a change that met a concurrent edit — any
decision. The cycle does the accounting (metrics, logs, Events) for all of them in one
place, whichever writer ran.
"""

from __future__ import annotations

__all__ = [
    "CONFLICT_RETRIES",
    "ArgoCDWriter",
    "Blocked",
    "Commit",
    "Decision",
    "Deferred",
    "Outcome",
    "Planned",
    "Skipped",
    "WriteContext",
    "WriteFailed",
    "Writer",
    "Written",
    "decide",
]

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from imageupdater import syncwindows
from imageupdater.application import Application
from imageupdater.errors import KubeConflict, KubeError, KubeNotFound
from imageupdater.plan import Plan, merge_patch
from reconciler.apps_api import ApplicationsAPI
from reconciler.work import AppWork, Commit

CONFLICT_RETRIES = 3


@dataclass(frozen=True, slots=True)
class Planned:
    work: AppWork
    plan: Plan


@dataclass(frozen=True, slots=True)
class Deferred:
    work: AppWork
    plan: Plan
    decision: syncwindows.SyncDecision
    windows: tuple[syncwindows.SyncWindow, ...]
    now: dt.datetime


@dataclass(frozen=True, slots=True)
class Blocked:
    work: AppWork
    reason: str


SkipReason = Literal["unchanged", "dry-run", "not-leader", "gone"]


@dataclass(frozen=True, slots=True)
class Skipped:
    work: AppWork
    why: SkipReason
    plan: Plan | None = None


Decision = Planned | Deferred | Blocked | Skipped


@dataclass(frozen=True, slots=True)
class Written:
    work: AppWork  # as it was written: after a conflict, the re-read Application
    plan: Plan
    commit: Commit | None = None  # git write-back only


@dataclass(frozen=True, slots=True)
class WriteFailed:
    work: AppWork
    reason: str  # for the operator's log
    rejected: bool  # the write itself was refused (counts as a failed patch of its images)
    public: str | None = None  # for the Application's owner (an Event), when they can act


Outcome = Written | WriteFailed | Deferred | Blocked | Skipped


def decide(
    work: AppWork,
    plan: Plan,
    windows: tuple[syncwindows.SyncWindow, ...] | str,
    now: dt.datetime,
    *,
    dry_run: bool,
    leader: bool,
) -> Decision:
    """What happens to ``plan``; ``windows`` is the reason they cannot be read, if so."""
    if not plan.changed:
        return Skipped(work, "unchanged", plan)
    if isinstance(windows, str):
        return Blocked(work, windows)
    verdict = syncwindows.can_update(windows, work.app, now)
    if not verdict.allowed:
        return Deferred(work, plan, verdict, windows, now)
    if dry_run:
        return Skipped(work, "dry-run", plan)
    if not leader:
        return Skipped(work, "not-leader", plan)
    return Planned(work, plan)


@dataclass(frozen=True, slots=True)
class WriteContext:
    """What a writer may ask of the cycle while writing.

    ``replan`` re-reads nothing itself: given a fresh copy of an Application it prepares,
    resolves (inside the cycle's registry scope, reusing this cycle's lookups) and decides
    again; None when the Application no longer asks for updates. ``conflict`` counts one
    write refused because the object changed under it.
    """

    replan: Callable[[Application], Awaitable[Decision | None]]
    conflict: Callable[[], None]


class Writer(Protocol):
    """Records planned changes for one write-back method."""

    @property
    def streaming(self) -> bool:
        """True: called with each Application's change as soon as it is decided;
        False: called once per cycle with every planned change of the cycle."""
        ...

    @property
    def previews(self) -> bool:
        """True: under ``--dry-run`` the cycle hands it the would-be changes for ``preview``."""
        ...

    async def write(self, changes: Sequence[Planned], context: WriteContext) -> list[Outcome]:
        """Record ``changes``; one outcome per change, in order."""
        ...

    async def preview(self, changes: Sequence[Skipped]) -> None:
        """Show what ``write`` would record for these dry-run changes, touching nothing."""
        ...


class ArgoCDWriter:
    """The ``argocd`` method: a JSON merge patch of the Application, guarded by its
    ``resourceVersion`` so a concurrent edit is a 409, never a lost update; on 409 the
    Application is re-read and re-planned, a bounded number of times."""

    streaming = True
    previews = False  # the dry-run log line says all a merge patch would do

    def __init__(self, api: ApplicationsAPI) -> None:
        self.api = api

    async def preview(self, changes: Sequence[Skipped]) -> None:
        return None

    async def write(self, changes: Sequence[Planned], context: WriteContext) -> list[Outcome]:
        return [await self._write_one(change, context) for change in changes]

    async def _write_one(self, change: Planned, context: WriteContext) -> Outcome:
        for attempt in range(CONFLICT_RETRIES + 1):
            work, plan = change.work, change.plan
            meta = work.app.get("metadata", {})
            namespace, name = meta.get("namespace", ""), meta.get("name", "")
            try:
                await self.api.patch(namespace, name, merge_patch(work.app, plan))
            except KubeConflict:
                context.conflict()
                if attempt == CONFLICT_RETRIES:
                    break
                try:
                    fresh = await self.api.get(namespace, name)
                except KubeNotFound:
                    return Skipped(work, "gone", plan)
                except KubeError as exc:
                    return WriteFailed(work, f"cannot re-read it after a conflict: {exc}", False)
                decision = await context.replan(fresh)
                if decision is None:
                    return Skipped(work, "gone", plan)
                if not isinstance(decision, Planned):
                    return decision
                change = decision
                continue
            except KubeError as exc:
                return WriteFailed(work, f"patching failed: {exc}", True)
            return Written(work, plan)
        return WriteFailed(
            change.work, f"giving up after {CONFLICT_RETRIES + 1} conflicting writes", False
        )
