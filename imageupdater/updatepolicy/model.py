"""The values of a parsed update policy: what a ``ClusterImageUpdatePolicy`` or an
``ImageUpdatePolicy`` says, with every user pattern already compiled.

Owns the vocabulary (kinds, actions, rule names, bump sizes), :class:`PolicyRef` (how a
policy is named in every message, Event and metric label), update windows and their
activity, and the :class:`Policy` / :class:`ParsedPolicy` values the parser returns
(:class:`Glob` lives in ``globs``, label selectors in ``selectors``). Pure: no I/O, no clock
(times are parameters).

New parts of a policy (rollback, waves) are new fields with defaults on :class:`Policy`, so
existing callers and tests keep working.
"""

from __future__ import annotations

__all__ = [
    "API_GROUP",
    "API_VERSION",
    "CLUSTER_KIND",
    "DEFAULT_ROLLBACK_WINDOW",
    "DEFAULT_SOAK",
    "KINDS",
    "NAMESPACED_KIND",
    "Action",
    "Bump",
    "Glob",
    "Match",
    "ParsedPolicy",
    "Policy",
    "PolicyKind",
    "PolicyRef",
    "PolicySet",
    "Rollout",
    "RuleName",
    "Rules",
    "UpdateWindow",
]

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final, Literal
from zoneinfo import ZoneInfo

from imageupdater.cron import CronSchedule, InvalidCronExpression
from imageupdater.problems import Problem
from imageupdater.strategies import Strategy
from imageupdater.syncwindows.window import as_utc, format_duration
from imageupdater.updatepolicy.globs import Glob
from imageupdater.updatepolicy.selectors import LabelSelector
from imageupdater.versions import Constraint

API_GROUP = "image-updater.io"
API_VERSION = f"{API_GROUP}/v1alpha1"
# How long an update is watched for a rollback when no window is given.
DEFAULT_ROLLBACK_WINDOW = timedelta(minutes=10)
DEFAULT_SOAK = timedelta(minutes=30)
PolicyKind = Literal["ClusterImageUpdatePolicy", "ImageUpdatePolicy"]
CLUSTER_KIND: Final = "ClusterImageUpdatePolicy"
NAMESPACED_KIND: Final = "ImageUpdatePolicy"
KINDS: tuple[PolicyKind, ...] = (CLUSTER_KIND, NAMESPACED_KIND)

RuleName = Literal[
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
]


class Action(StrEnum):
    """What a policy does about a breach: refuse it, allow it with a warning, or record it."""

    ENFORCE = "Enforce"
    WARN = "Warn"
    AUDIT = "Audit"


class Bump(StrEnum):
    """The largest semver part a candidate may change from the running version."""

    PATCH = "patch"
    MINOR = "minor"
    MAJOR = "major"


@dataclass(frozen=True, slots=True)
class PolicyRef:
    """A policy's identity; ``str()`` is how every message and metric label names it."""

    kind: PolicyKind
    name: str
    namespace: str | None = None  # None for a ClusterImageUpdatePolicy

    def __str__(self) -> str:
        if self.namespace is None:
            return f"{self.kind}/{self.name}"
        return f"{self.kind}/{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class UpdateWindow:
    """Updates may go in from each fire of ``schedule`` (read in ``time_zone``) for ``duration``
    of elapsed time, start included, end excluded: the rule of Argo CD's sync windows."""

    schedule: CronSchedule
    duration: timedelta
    time_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    def is_active(self, now: datetime) -> bool:
        """Whether ``now`` (time-zone aware) lies inside the window opened by the last fire."""
        moment = as_utc(now)
        try:
            last = self.schedule.previous_fire(moment.astimezone(self.time_zone))
        except InvalidCronExpression:  # no fire within the years searched
            return False
        return moment < last.astimezone(UTC) + self.duration

    def next_opening(self, now: datetime) -> datetime | None:
        """The next fire after ``now`` (in UTC); None when none is found in the years searched."""
        moment = as_utc(now)
        try:
            return self.schedule.next_fire(moment.astimezone(self.time_zone)).astimezone(UTC)
        except InvalidCronExpression:
            return None

    def __str__(self) -> str:
        return f"{self.schedule.text!r} for {format_duration(self.duration)} ({self.time_zone.key})"


@dataclass(frozen=True, slots=True)
class Match:
    """Which Applications a policy applies to; None (or empty) criteria select everything.
    Every criterion given must hold."""

    namespaces: tuple[Glob, ...] = ()
    namespace_selector: LabelSelector | None = None
    application_selector: LabelSelector | None = None
    projects: tuple[Glob, ...] = ()
    names: tuple[Glob, ...] = ()

    def matches(
        self,
        *,
        namespace: str,
        namespace_labels: Mapping[str, str],
        labels: Mapping[str, str],
        project: str,
        name: str,
    ) -> bool:
        return (
            _any_glob(self.namespaces, namespace)
            and (
                self.namespace_selector is None or self.namespace_selector.matches(namespace_labels)
            )
            and (self.application_selector is None or self.application_selector.matches(labels))
            and _any_glob(self.projects, project)
            and _any_glob(self.names, name)
        )


def _any_glob(globs: tuple[Glob, ...], value: str) -> bool:
    return not globs or any(g.matches(value) for g in globs)


def _selects(selector: LabelSelector | None, labels: Mapping[str, str]) -> bool:
    return selector is None or selector.matches(labels)


@dataclass(frozen=True, slots=True)
class Rules:
    """The rules of one policy; a rule left out (None / () / False) restricts nothing."""

    allowed_registries: tuple[Glob, ...] | None = None  # matched against registry hosts
    allowed_repositories: tuple[Glob, ...] | None = None  # against "host/repository"
    denied_tags: tuple[Glob, ...] = ()
    allowed_strategies: tuple[Strategy, ...] | None = None
    required_constraint: Constraint | None = None
    max_bump: Bump | None = None
    minimum_age: timedelta | None = None
    require_digest: bool = False
    update_windows: tuple[UpdateWindow, ...] | None = None
    # rollbackOnDegraded: watch each update for this long and write the previous version
    # back if the Application degrades or its sync fails meanwhile (None: not asked).
    rollback_window: timedelta | None = None


@dataclass(frozen=True, slots=True)
class Rollout:
    """``spec.rollout``: an update reaches a first wave of the Applications the policy
    matches, and the rest only once every first-wave Application using the image has run
    the new version Healthy for ``soak``. Exactly one of ``count``, ``percent`` and
    ``selector`` says who is in the first wave."""

    soak: timedelta = DEFAULT_SOAK
    count: int | None = None
    percent: int | None = None
    selector: LabelSelector | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    """One valid policy resource."""

    ref: PolicyRef
    action: Action = Action.ENFORCE
    match: Match = field(default_factory=Match)
    rules: Rules = field(default_factory=Rules)
    generation: int | None = None
    rollout: Rollout | None = None


@dataclass(frozen=True, slots=True)
class ParsedPolicy:
    """What the parser made of one resource: the policy (None when any error) and every
    problem, each keyed by its field path (``spec.rules.maxBump``)."""

    policy: Policy | None
    problems: tuple[Problem, ...] = ()
    ref: PolicyRef | None = None  # known whenever kind and name could be read

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")


@dataclass(frozen=True, slots=True, eq=False)
class PolicySet:
    """The policies that apply to one Application, as one value: equal when the policies are
    equal, with the hash computed once.

    The reconciler puts it in its resolution keys and remembered choices, which are hashed
    and compared for every image of every Application each cycle; hashing the policies
    themselves each time would cost microseconds per policy.
    """

    policies: tuple[Policy, ...]
    _hash: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash(self.policies))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PolicySet):
            return NotImplemented
        return self._hash == other._hash and self.policies == other.policies

    def __hash__(self) -> int:
        return self._hash

    def __bool__(self) -> bool:
        return bool(self.policies)

    def __len__(self) -> int:
        return len(self.policies)
