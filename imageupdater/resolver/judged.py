"""Candidates judged by the update policies before the strategy chooses (see the package
docstring): semver and alphabetical by name, creation times read only as far as a
``minimumAge`` needs, digests pinned for ``requireDigest``."""

from __future__ import annotations

__all__ = ["by_name", "judged"]

from collections.abc import Sequence
from typing import TYPE_CHECKING

from imageupdater.choice import RunningVersion
from imageupdater.errors import RegistryError
from imageupdater.policy import ImagePolicy
from imageupdater.resolver.model import Resolution
from imageupdater.resolver.reads import TagSource
from imageupdater.strategies import prefers, select, semver_allowed
from imageupdater.tags import TagInfo
from imageupdater.versions import Constraint, Version

if TYPE_CHECKING:
    # Types only: a lookup no policy judges (`test`, admission) loads none of the policies.
    from imageupdater.updatepolicy import PolicyFilter


async def by_name(
    policy: ImagePolicy,
    policies: PolicyFilter,
    kept: Sequence[str],
    constraint: Constraint,
    current: str | None,
    source: TagSource,
) -> Resolution:
    """``semver`` and ``alphabetical`` under update policies: the candidates the strategy
    could move to, best first, judged (dated first when a minimumAge asks)."""
    stay: list[TagInfo] = []
    if policy.strategy.constraint_is_semver:
        allowed = semver_allowed(kept, constraint)
        running = Version.parse(current) if current else None
        above = [
            a
            for a in allowed
            if a.tag.name != current and (running is None or a.version.precedence(running) >= 0)
        ]
        above.sort(key=lambda a: a.version, reverse=True)
        ordered = [a.tag for a in above]
        # What runs is no update: the policies judge it as the running version (standing
        # violations), not as a candidate; it stays a choice, so nothing moves below it.
        stay = [a.tag for a in allowed if a.tag.name == current]
        listed: Sequence[str] = [a.tag.name for a in allowed]
    else:
        ordered = [TagInfo(tag) for tag in sorted(kept, reverse=True)]
        listed = kept
    if policies.needs_creation_times:
        ordered = await _dated_until_old_enough(policy, policies, ordered, source)
    return await judged(policy, policies, ordered, listed, current, source, stay=stay)


# Rules a candidate's creation time or the clock decide: waiting lifts them.
_TIME_RULES = frozenset({"minimumAge", "updateWindows"})


async def _dated_until_old_enough(
    policy: ImagePolicy, policies: PolicyFilter, ordered: Sequence[TagInfo], source: TagSource
) -> list[TagInfo]:
    """``ordered`` (best first) with creation times, read one tag at a time until one is old
    enough for every ``Enforce`` minimumAge: the strategy chooses that one or a better one,
    so nothing below it is read. Candidates other rules take out are not read at all."""
    undated = policies.apply(policy, ordered)
    blocked = {f.candidate.name for f in undated.filtered if f.finding.rule not in _TIME_RULES}
    age = policies.enforced_age
    dated: list[TagInfo] = []
    failures: list[RegistryError] = []
    tried = 0
    for candidate in ordered:
        if candidate.name in blocked:
            continue
        tried += 1
        try:
            info = await source.info(candidate.name)
        except RegistryError as exc:
            source.log.warning(
                "%s: skipping tag %s: %s", policy.image.full_name, candidate.name, exc
            )
            failures.append(exc)
            continue
        if info is None:
            continue  # no image for the platforms
        dated.append(info)
        if info.created is not None and info.created + age <= policies.now:
            break
    if failures and len(failures) == tried:
        raise failures[0]
    return dated


async def judged(
    policy: ImagePolicy,
    policies: PolicyFilter,
    candidates: Sequence[TagInfo],
    listed: Sequence[str],
    current: str | None,
    source: TagSource,
    *,
    stay: Sequence[TagInfo] = (),
    undated: bool = False,
) -> Resolution:
    """The policies' decision on ``candidates``, then the strategy's choice among what they
    kept (and ``stay``, the running tag); ``undated``: judge without the creation times."""
    judged = [TagInfo(c.name, c.digest) for c in candidates] if undated else candidates
    decision = policies.apply(policy, judged)
    kept_names = {c.name for c in decision.kept}
    pool = [c for c in candidates if c.name in kept_names]
    chosen = select(policy.strategy, [*pool, *stay], constraint=policy.constraint, current=current)
    held = [
        c.name
        for c in (decision.deferral.candidates if decision.deferral is not None else ())
        if prefers(policy.strategy, c, chosen, current=current)
        and not _runs(policy, c, policies.running)
    ]
    pin = decision.require_digest and chosen is not None
    digest = chosen.digest if chosen is not None else None
    if pin and chosen is not None and digest is None:
        digest = await source.digest(chosen.name)
    out = {f.candidate.name for f in decision.filtered}
    return Resolution(
        image=policy.image.full_name,
        strategy=policy.strategy,
        constraint=policy.constraint,
        tag=chosen.name if chosen else None,
        digest=digest,
        candidates=tuple(t for t in listed if t not in out),
        decision=decision,
        deferral=decision.deferral_for(held) if held else None,
        pin_digest=pin,
    )


def _runs(policy: ImagePolicy, candidate: TagInfo, running: RunningVersion | None) -> bool:
    digest = candidate.digest if policy.strategy.follows_digest else None
    return running is not None and RunningVersion(candidate.name, digest) == running
