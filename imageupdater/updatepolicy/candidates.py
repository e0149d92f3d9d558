"""``filter_candidates``: the tags every applicable policy lets the strategy choose from.

Owns the reconciler's side of the policies, before ``strategies.select``:

* Only ``Enforce`` filters. The kept set is the intersection over every Enforce policy
  (strictest wins); ``requireDigest`` holds if any Enforce policy asks for it.
* ``Warn`` and ``Audit`` policies filter nothing: what they would have filtered is kept in
  ``would_filter``, and :meth:`CandidateDecision.findings_for` turns the chosen candidate's
  entries into findings, so a Warn Event is about the update that happens, not about every
  tag in the repository.
* A breach no filtering can cure is a standing violation (every action): the image's
  registry, repository or strategy is not allowed (an Enforce policy then keeps no
  candidate at all), the running tag is denied or misses the required constraint, or
  ``maxBump`` cannot measure from the running version (unknown, or no semantic version: an
  Enforce policy then keeps no candidate, so nothing moves until a version tag runs).
* Time defers rather than refuses: a candidate younger than ``minimumAge``, or any candidate
  while none of a policy's ``updateWindows`` is open, is filtered, and the
  :class:`Deferral` says the earliest moment one of them can become eligible, naming the
  policy and rule that hold it longest. A candidate without a creation time cannot be shown
  to be old enough: it is filtered (never treated as old), and a standing violation says the
  registry reported no creation time.

:class:`PolicyFilter` binds the policies of one Application to what they measure from (the
running version, the moment) for the resolver, which applies it between the tag filter and
the strategy and reads creation times only when it asks for them.

Pure: ``now`` is a parameter.
"""

from __future__ import annotations

__all__ = ["CandidateDecision", "Deferral", "Filtered", "PolicyFilter", "filter_candidates"]

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from imageupdater.choice import RunningVersion
from imageupdater.policy import ImagePolicy
from imageupdater.syncwindows.window import as_utc, format_duration
from imageupdater.tags import TagInfo
from imageupdater.updatepolicy.checks import (
    Subject,
    bump_finding,
    bump_unmeasurable,
    constraint_finding,
    normalised_name,
    registry_finding,
    repository_finding,
    strategy_finding,
    tag_finding,
)
from imageupdater.updatepolicy.findings import Finding
from imageupdater.updatepolicy.model import Action, Policy, PolicyRef, PolicySet, RuleName
from imageupdater.updatepolicy.reading import quoted
from imageupdater.versions import Version

# Standing breaches that leave an Enforce policy no candidate to keep.
_BLOCKING: frozenset[RuleName] = frozenset(
    {"allowedRegistries", "allowedRepositories", "allowedStrategies", "maxBump"}
)
# How many tag names a standing violation about many candidates quotes.
_NAMED = 5


@dataclass(frozen=True, slots=True)
class Filtered:
    """One candidate one policy rule takes out (or, for Warn/Audit, would take out).

    ``eligible_at`` is when the rule stops holding it (minimumAge, updateWindows), None when
    waiting does not help.
    """

    candidate: TagInfo
    finding: Finding
    eligible_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Deferral:
    """Candidates held back by time only: the earliest moment one can become eligible
    (``until``, UTC), and the policy and rule holding that one longest."""

    until: datetime
    policy: PolicyRef
    rule: RuleName
    message: str
    candidates: tuple[TagInfo, ...]

    def describe(self, image: str) -> str:
        """One line for an Event or an admission warning: ``image`` waits until when, why."""
        return f"image {image!r} waits until {self.until:%Y-%m-%dT%H:%M:%SZ}: {self.message}"


@dataclass(frozen=True, slots=True)
class CandidateDecision:
    """What the policies make of one image's candidates."""

    kept: tuple[TagInfo, ...]
    filtered: tuple[Filtered, ...] = ()
    deferral: Deferral | None = None
    violations: tuple[Finding, ...] = ()
    would_filter: tuple[Filtered, ...] = ()
    require_digest: bool = False
    digest_advised: tuple[Finding, ...] = ()  # Warn/Audit requireDigest, when no Enforce has it

    def findings_for(self, chosen: TagInfo | None) -> tuple[Finding, ...]:
        """The findings to report once the strategy chose ``chosen`` (None: nothing): the
        standing violations, and what Warn/Audit policies say about the chosen tag."""
        found = list(self.violations)
        if chosen is not None:
            found.extend(f.finding for f in self.would_filter if f.candidate.name == chosen.name)
            found.extend(self.digest_advised)
        return tuple(dict.fromkeys(found))

    def deferral_for(self, names: Collection[str]) -> Deferral | None:
        """The deferral of only the candidates named (those the strategy would prefer to
        what it chose): when the first of them becomes eligible, and what holds it."""
        if self.deferral is None:
            return None
        wanted = [c for c in self.deferral.candidates if c.name in names]
        return _deferral(wanted, self.filtered) if wanted else None


@dataclass(frozen=True, slots=True, eq=False)
class PolicyFilter:
    """The policies that apply to one image of one Application, with the running version
    (``maxBump`` measures from it) and the moment (``minimumAge``, ``updateWindows``)."""

    policies: PolicySet
    running: RunningVersion | None
    now: datetime

    @property
    def needs_creation_times(self) -> bool:
        """Whether a candidate's creation time matters (a ``minimumAge``, any action)."""
        return any(p.rules.minimum_age for p in self.policies.policies)

    @property
    def enforced_age(self) -> timedelta:
        """The age every candidate must reach before an ``Enforce`` policy lets it through."""
        ages = [
            p.rules.minimum_age
            for p in self.policies.policies
            if p.action is Action.ENFORCE and p.rules.minimum_age
        ]
        return max(ages, default=timedelta(0))

    @property
    def timeless(self) -> bool:
        """Whether the outcome is a function of the tag names alone (no clock, no creation
        time, no digest read), so a choice made under it can be remembered."""
        return not any(
            p.rules.minimum_age
            or p.rules.update_windows
            or (p.rules.require_digest and p.action is Action.ENFORCE)
            for p in self.policies.policies
        )

    def apply(self, image_policy: ImagePolicy, candidates: Sequence[TagInfo]) -> CandidateDecision:
        return filter_candidates(
            self.policies.policies, image_policy, self.running, candidates, self.now
        )


def filter_candidates(
    policies: Sequence[Policy],
    image_policy: ImagePolicy,
    running_version: RunningVersion | None,
    candidates: Sequence[TagInfo],
    now: datetime,
) -> CandidateDecision:
    """Apply every policy (already matched to the Application) to one image's candidates."""
    moment = as_utc(now)
    image = image_policy.image
    subject = Subject(f"image {quoted(image.alias or image.full_name)}", "", normalised_name(image))
    running_tag = running_version.tag if running_version is not None else None
    violations: list[Finding] = []
    filtered: list[Filtered] = []
    would_filter: list[Filtered] = []
    for policy in policies:
        standing = _standing(policy, image_policy, running_tag, subject)
        violations.extend(standing)
        blocking = [f for f in standing if f.rule in _BLOCKING]
        if blocking:
            held = [Filtered(c, f) for c in candidates for f in blocking]
        else:
            held = _held(policy, candidates, running_tag, subject, moment)
            undated = [c.name for c in candidates if _undated(policy, c)]
            if undated:
                violations.append(_undated_violation(policy, undated, subject))
        (filtered if policy.action is Action.ENFORCE else would_filter).extend(held)
    out_names = {f.candidate.name for f in filtered}
    kept = tuple(c for c in candidates if c.name not in out_names)
    enforced = [p for p in policies if p.action is Action.ENFORCE]
    require_digest = any(p.rules.require_digest for p in enforced)
    advised = () if require_digest else _digest_advice(policies, subject)
    return CandidateDecision(
        kept=kept,
        filtered=tuple(filtered),
        deferral=_deferral(candidates, filtered),
        violations=tuple(violations),
        would_filter=tuple(would_filter),
        require_digest=require_digest,
        digest_advised=advised,
    )


def _standing(
    policy: Policy, image_policy: ImagePolicy, running: str | None, subject: Subject
) -> list[Finding]:
    image = image_policy.image
    found = [
        registry_finding(policy, image, subject),
        repository_finding(policy, image, subject),
        strategy_finding(policy, image_policy.strategy, subject),
        bump_unmeasurable(policy, running, subject),
    ]
    if running is not None:
        running_subject = Subject(f"{subject.label} (running)", subject.key, subject.image)
        found.append(tag_finding(policy, running, running_subject))
        found.append(constraint_finding(policy, running, running_subject))
    return [f for f in found if f is not None]


def _held(
    policy: Policy,
    candidates: Sequence[TagInfo],
    running: str | None,
    subject: Subject,
    now: datetime,
) -> list[Filtered]:
    """Every (candidate, rule) this policy takes out, one candidate at a time."""
    held: list[Filtered] = []
    running_version = Version.parse(running) if running is not None else None
    closed = _closed_window(policy, subject, now)
    about = Subject(f"{subject.label} candidate", subject.key, subject.image)
    for candidate in candidates:
        for finding in (
            tag_finding(policy, candidate.name, about),
            constraint_finding(policy, candidate.name, about),
            bump_finding(policy, running_version, candidate.name, about)
            if running_version is not None
            else None,
        ):
            if finding is not None:
                held.append(Filtered(candidate, finding))
        age = _too_young(policy, candidate, about, now)
        if age is not None:
            held.append(age)
        if closed is not None:
            held.append(Filtered(candidate, closed[0], closed[1]))
    return held


def _undated(policy: Policy, candidate: TagInfo) -> bool:
    return bool(policy.rules.minimum_age) and candidate.created is None


def _too_young(
    policy: Policy, candidate: TagInfo, subject: Subject, now: datetime
) -> Filtered | None:
    age = policy.rules.minimum_age
    if not age:
        return None
    allowed = f"images at least {format_duration(age)} old"
    if candidate.created is None:
        message = (
            f"{subject.label} {quoted(candidate.name)} has no known creation time, so it "
            f"cannot be shown to be at least {format_duration(age)} old"
        )
        return Filtered(
            candidate, _make(policy, "minimumAge", candidate.name, message, allowed, subject)
        )
    eligible = candidate.created + age
    if now >= eligible:
        return None
    message = (
        f"{subject.label} {quoted(candidate.name)} was created {candidate.created.isoformat()}, "
        f"less than {format_duration(age)} ago; it becomes eligible at {eligible.isoformat()}"
    )
    finding = _make(policy, "minimumAge", candidate.name, message, allowed, subject)
    return Filtered(candidate, finding, eligible)


def _closed_window(
    policy: Policy, subject: Subject, now: datetime
) -> tuple[Finding, datetime | None] | None:
    windows = policy.rules.update_windows
    if not windows or any(w.is_active(now) for w in windows):
        return None
    openings = [(o, w) for w in windows if (o := w.next_opening(now)) is not None]
    allowed = "updates while a window is open: " + ", ".join(str(w) for w in windows)
    if not openings:
        message = f"no update window is open for {subject.label}, and none opens again"
        return _make(policy, "updateWindows", "", message, allowed, subject), None
    opening, window = min(openings, key=lambda pair: pair[0])
    message = (
        f"no update window is open for {subject.label}; the next opens at "
        f"{opening.isoformat()} ({window})"
    )
    return _make(policy, "updateWindows", opening.isoformat(), message, allowed, subject), opening


def _make(
    policy: Policy,
    rule: RuleName,
    value: str,
    message: str,
    allowed: str,
    subject: Subject | None = None,
) -> Finding:
    key, image = (subject.key, subject.image) if subject is not None else ("", "")
    return Finding(policy.ref, policy.action, rule, value, message, allowed, key, image)


def _undated_violation(policy: Policy, names: Sequence[str], subject: Subject) -> Finding:
    age = format_duration(policy.rules.minimum_age or timedelta(0))
    shown = ", ".join(quoted(n) for n in names[:_NAMED]) + (", ..." if len(names) > _NAMED else "")
    held = "they are not updated to" if policy.action is Action.ENFORCE else "they were not checked"
    message = (
        f"{subject.label}: the registry reported no creation time for {len(names)} "
        f"candidate(s) ({shown}), so minimumAge {age} cannot be checked; {held} until it does "
        "(creation times come from image metadata: the reconciler must read it)"
    )
    return _make(policy, "minimumAge", names[0], message, f"images at least {age} old", subject)


def _digest_advice(policies: Sequence[Policy], subject: Subject) -> tuple[Finding, ...]:
    return tuple(
        _make(
            policy,
            "requireDigest",
            "",
            f"the write for {subject.label} does not pin the digest",
            "writes that pin the digest (tag@sha256:...)",
            subject,
        )
        for policy in policies
        if policy.action is not Action.ENFORCE and policy.rules.require_digest
    )


def _deferral(candidates: Sequence[TagInfo], filtered: Sequence[Filtered]) -> Deferral | None:
    """The earliest time a candidate held only by time is free of every Enforce rule."""
    by_name: dict[str, list[Filtered]] = {}
    for entry in filtered:
        by_name.setdefault(entry.candidate.name, []).append(entry)
    best: tuple[datetime, Filtered] | None = None
    deferred: list[TagInfo] = []
    for candidate in candidates:
        entries = by_name.get(candidate.name)
        if not entries or any(e.eligible_at is None for e in entries):
            continue
        deferred.append(candidate)
        latest = max(entries, key=lambda e: e.eligible_at or datetime.min)
        assert latest.eligible_at is not None
        if best is None or latest.eligible_at < best[0]:
            best = (latest.eligible_at, latest)
    if best is None:
        return None
    binding = best[1].finding
    return Deferral(best[0], binding.policy, binding.rule, binding.text, tuple(deferred))
