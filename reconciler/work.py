"""What a reconcile cycle works on and reports: settings, results, and per-image jobs.

Plain values and pure helpers, split from ``reconciler.cycle`` so the cycle module holds
only the flow (parse, resolve once, plan, write).
"""

from __future__ import annotations

__all__ = [
    "AppTally",
    "AppWork",
    "Commit",
    "CycleResult",
    "CycleSettings",
    "Job",
    "ResolutionKey",
    "resolution_key",
]

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from imageupdater.application import Application, SourceRef
from imageupdater.choice import RunningVersion
from imageupdater.credentials import CredentialRules
from imageupdater.plan import Change
from imageupdater.policy import AppConfig, ImagePolicy
from imageupdater.updatepolicy import PolicySet

if TYPE_CHECKING:
    from reconciler.rollbacks import Restore

ResolutionKey = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class CycleSettings:
    dry_run: bool = False
    max_concurrency: int = 10
    # Like upstream v1, Secrets an Application names must live in its own namespace; env:
    # and ext: are the operator's unless a namespace is opted in.
    credentials: CredentialRules = field(default_factory=CredentialRules)
    # How long one resolution may wait on its registry within a cycle (seconds; 0 = no
    # bound). Past it the image fails for this cycle and its repository backs off, so a
    # registry that hangs holds back its own images only, and for this long at most.
    resolve_deadline: float = 60.0


@dataclass(slots=True)
class AppTally:
    """One Application's part of a cycle: images considered (live or forced), errors, and
    the image changes written."""

    images: int = 0
    errors: int = 0
    changes: list[Change] = field(default_factory=list)


@dataclass(slots=True)
class CycleResult:
    applications: int = 0
    images_considered: int = 0
    images_skipped: int = 0
    images_updated: int = 0
    errors: int = 0
    patches: int = 0
    conflicts: int = 0
    deferred: int = 0
    retry_at: dt.datetime | None = None
    deferred_apps: set[str] = field(default_factory=set)
    failed_apps: set[str] = field(default_factory=set)  # an error held back some of its images
    # Per Application ("namespace/name"): what an ImageUpdater's status adds up.
    apps: dict[str, AppTally] = field(default_factory=dict)

    def tally(self, key: str) -> AppTally:
        found = self.apps.get(key)
        if found is None:
            found = self.apps[key] = AppTally()
        return found

    def summary(self) -> str:
        return (
            f"Processing results: applications={self.applications} "
            f"images_considered={self.images_considered} images_skipped={self.images_skipped} "
            f"images_updated={self.images_updated} errors={self.errors} "
            f"patches={self.patches} deferred={self.deferred}"
        )

    def defer_until(self, when: dt.datetime | None) -> None:
        if when is not None and (self.retry_at is None or when < self.retry_at):
            self.retry_at = when


@dataclass(frozen=True, slots=True)
class Commit:
    """Where a git write-back landed: what the ``ImagesUpdated`` Event names."""

    sha: str
    branch: str
    repository: str
    pull_request: str | None = None  # the pull/merge request's URL


@dataclass(frozen=True, slots=True)
class Job:
    policy: ImagePolicy
    key: ResolutionKey
    running: RunningVersion | None  # the override set in the spec, else the live image
    policies: PolicySet | None = None  # the update policies of its Application

    @property
    def current(self) -> str | None:
        """The tag in use, which a strategy that never downgrades treats as its floor."""
        return self.running.tag if self.running is not None else None


@dataclass(slots=True)
class AppWork:
    app: Application
    config: AppConfig
    source: SourceRef
    jobs: list[Job]
    policies: PolicySet | None = None
    # reconciler.rollbacks: updates to back out (then nothing else is chosen), what the
    # write carries with them (holds, the record), and the versions a resumed image must beat.
    restores: tuple[Restore, ...] = ()
    rollback_annotations: tuple[tuple[str, str | None], ...] = ()
    floors: Mapping[ImagePolicy, str] = field(default_factory=dict)
    gate: dt.timedelta | None = None  # the health gate's window for this Application's updates


def resolution_key(
    policy: ImagePolicy, current: str | None, policies: PolicySet | None = None
) -> ResolutionKey:
    """What makes two images' resolutions identical: everything but alias and targets, and
    the update policies that judge it (Applications under different policies never share a
    resolution; without policies the key is what it always was)."""
    key = (
        policy.image.identity(),
        policy.strategy,
        policy.constraint,
        policy.tag_filter.allow.pattern,
        policy.tag_filter.ignore,
        policy.platforms,
        str(policy.pull_secret) if policy.pull_secret else None,
        current,
    )
    return key if policies is None else (*key, policies)
