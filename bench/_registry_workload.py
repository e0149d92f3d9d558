"""The registry-resolution benchmark's workload: which image policies resolve, what each
should choose, and what request counts the targets and upstream's algorithm imply.

Owns :class:`Spec` (one policy, independent of the registry's address), the deterministic
mix of policies over a :class:`~_registry_seed.SeedPlan`, the expected answer of each
policy (worked out from the plan, not by the code under test), and the request models:
the floors our caches promise and upstream's documented per-cycle costs
(``/work/shared/reference/performance-anchors.md`` §1.1).
"""

from __future__ import annotations

__all__ = ["Kind", "Spec", "expected", "make_specs", "our_floors", "to_policy", "upstream_model"]

import random
from dataclasses import dataclass
from enum import StrEnum

from _registry_seed import SeedPlan, build_images

from imageupdater.images import ImageRef
from imageupdater.platforms import parse_platforms
from imageupdater.policy import ImagePolicy
from imageupdater.strategies import Strategy
from imageupdater.tags import TagFilter

DATE_TAGS = "regexp:^[0-9]{8}-[0-9]{4}$"
SHA_TAGS = "regexp:^sha-[0-9a-f]{7}$"


class Kind(StrEnum):
    SEMVER_ANY = "semver, no constraint"
    SEMVER_TILDE = "semver ~1.2"
    SEMVER_CARET = "semver ^2"
    SEMVER_RANGE = "semver >=1.0 <3.0"
    NEWEST_DATE = "newest-build, date tags"
    NEWEST_SHA = "newest-build, sha tags"
    ALPHA_DATE = "alphabetical, date tags"
    DIGEST_LATEST = "digest of latest"


_WEIGHTS = {
    Kind.SEMVER_ANY: 20,
    Kind.SEMVER_TILDE: 10,
    Kind.SEMVER_CARET: 10,
    Kind.SEMVER_RANGE: 10,
    Kind.NEWEST_DATE: 15,
    Kind.NEWEST_SHA: 10,
    Kind.ALPHA_DATE: 10,
    Kind.DIGEST_LATEST: 15,
}
# Upper bounds (exclusive) of the constrained kinds, and their lower bounds.
_RANGES = {
    Kind.SEMVER_TILDE: ((1, 2, 0), (1, 3, 0)),
    Kind.SEMVER_CARET: ((2, 0, 0), (3, 0, 0)),
    Kind.SEMVER_RANGE: ((1, 0, 0), (3, 0, 0)),
}
_CONSTRAINTS = {
    Kind.SEMVER_TILDE: "~1.2",
    Kind.SEMVER_CARET: "^2",
    Kind.SEMVER_RANGE: ">=1.0 <3.0",
    Kind.DIGEST_LATEST: "latest",
}


@dataclass(frozen=True, slots=True)
class Spec:
    kind: Kind
    repo: int
    platforms: tuple[str, ...]
    ignore: tuple[str, ...] = ()


def make_specs(plan: SeedPlan, count: int, *, seed: int = 7) -> list[Spec]:
    """``count`` policies: every repository once, then a skewed share (a few repositories
    are named by many Applications, as base images are)."""
    rng = random.Random(seed)
    repos = list(range(plan.repositories))
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(plan.repositories)]
    chosen = repos[:count] + rng.choices(repos, weights=weights, k=max(0, count - len(repos)))
    kinds = list(_WEIGHTS)
    specs: list[Spec] = []
    for repo in chosen:
        kind = rng.choices(kinds, weights=[_WEIGHTS[k] for k in kinds])[0]
        available = plan.platforms(repo)
        platforms = available if len(available) == 1 else rng.choice([available[:1], available])
        ignore: tuple[str, ...] = ()
        if kind is Kind.SEMVER_ANY and rng.random() < 0.5:
            ignore = ("*-rc.*",)
        elif kind is Kind.ALPHA_DATE:
            ignore = ("latest",)
        specs.append(Spec(kind, repo, platforms, ignore))
    return specs


def to_policy(plan: SeedPlan, spec: Spec, host: str) -> ImagePolicy:
    if spec.kind in (Kind.NEWEST_DATE, Kind.NEWEST_SHA):
        strategy = Strategy.NEWEST_BUILD
    elif spec.kind is Kind.ALPHA_DATE:
        strategy = Strategy.ALPHABETICAL
    elif spec.kind is Kind.DIGEST_LATEST:
        strategy = Strategy.DIGEST
    else:
        strategy = Strategy.SEMVER
    allow = {Kind.NEWEST_SHA: SHA_TAGS}.get(spec.kind, DATE_TAGS)
    uses_allow = spec.kind in (Kind.NEWEST_DATE, Kind.NEWEST_SHA, Kind.ALPHA_DATE)
    return ImagePolicy(
        image=ImageRef.parse(f"{host}/{plan.repository(spec.repo)}"),
        strategy=strategy,
        constraint=_CONSTRAINTS.get(spec.kind),
        tag_filter=TagFilter.parse(allow if uses_allow else None, spec.ignore),
        platforms=parse_platforms(spec.platforms),
    )


def expected(plan: SeedPlan, spec: Spec) -> tuple[str | None, str | None]:
    """The tag ``spec`` must choose and, for metadata strategies, its digest."""
    newest = plan.builds - 1
    top = build_images(plan, spec.repo, newest).top.digest
    if spec.kind is Kind.NEWEST_DATE:
        return plan.date_tag(spec.repo, newest), top
    if spec.kind is Kind.NEWEST_SHA:
        return plan.sha_tag(spec.repo, newest), top
    if spec.kind is Kind.DIGEST_LATEST:
        return "latest", top
    if spec.kind is Kind.ALPHA_DATE:
        return plan.date_tag(spec.repo, newest), None
    best: tuple[tuple[int, int, int, int], str] | None = None
    for i in range(plan.builds):
        parts = plan.version(spec.repo, i)
        tag = plan.version_tag(spec.repo, i)
        if parts is None or tag is None:
            continue
        *numbers, pre = parts
        triple = (numbers[0], numbers[1], numbers[2])
        if pre and (spec.ignore or spec.kind in _RANGES):
            continue  # ignored by glob, or excluded by a constraint without a prerelease
        bounds = _RANGES.get(spec.kind)
        if bounds is not None and not bounds[0] <= triple < bounds[1]:
            continue
        key = (*triple, 0 if pre else 1)
        if best is None or key > best[0]:
            best = (key, tag)
    return (best[1] if best else None), None


def _wanted(plan: SeedPlan, spec: Spec) -> tuple[str, ...]:
    return tuple(p for p in plan.platforms(spec.repo) if p in spec.platforms)


def _candidates(plan: SeedPlan, spec: Spec) -> list[tuple[int, str]]:
    """(build, tag) pairs whose metadata ``spec`` needs."""
    r = spec.repo
    if spec.kind is Kind.NEWEST_DATE:
        return [(i, plan.date_tag(r, i)) for i in range(plan.builds)]
    if spec.kind is Kind.NEWEST_SHA:
        return [(i, plan.sha_tag(r, i)) for i in range(plan.builds)]
    if spec.kind is Kind.DIGEST_LATEST:
        return [(plan.builds - 1, "latest")]
    return []


def our_floors(plan: SeedPlan, specs: list[Spec]) -> dict[str, int]:
    """What the targets allow us: one tag list per distinct repository (digest policies
    need none), each needed config blob once, a revalidating HEAD per tag already seen."""
    listed = {s.repo for s in specs if s.kind is not Kind.DIGEST_LATEST}
    configs: set[tuple[int, int, str]] = set()
    seen_tags: set[tuple[int, str]] = set()
    for spec in specs:
        for build, tag in _candidates(plan, spec):
            seen_tags.add((spec.repo, tag))
            configs.update((spec.repo, build, p) for p in _wanted(plan, spec))
    return {
        "distinct_repositories": len({s.repo for s in specs}),
        "tag_lists": len(listed),
        "config_blobs": len(configs),
        "tags_with_metadata": len(seen_tags),
    }


def upstream_model(plan: SeedPlan, specs: list[Spec]) -> dict[str, dict[str, int]]:
    """Requests upstream's documented algorithm makes (performance-anchors §1.1): a tag
    list per policy per cycle, a manifest GET per digest policy per cycle, and on a cold
    start, per uncached newest-build tag, a manifest GET, a GET per wanted platform's child
    manifest and a config blob GET per platform (cached per tag, never by config digest).
    Metadata is assumed shared between policies of one repository, so the figures are a
    lower bound; an anonymous registry is assumed (no tokens)."""
    digest_policies = sum(1 for s in specs if s.kind is Kind.DIGEST_LATEST)
    tags: set[tuple[int, str]] = set()
    children: set[tuple[int, str, str]] = set()
    for spec in specs:
        if spec.kind not in (Kind.NEWEST_DATE, Kind.NEWEST_SHA):
            continue
        for _build, tag in _candidates(plan, spec):
            tags.add((spec.repo, tag))
            children.update((spec.repo, tag, p) for p in _wanted(plan, spec))
    multi = sum(1 for repo, tag, _ in children if plan.multiarch(repo))
    per_cycle = {"tags": len(specs), "manifest_get": digest_policies, "blob": 0}
    cold = {
        "tags": len(specs),
        "manifest_get": digest_policies + len(tags) + multi,
        "blob": len(children),
    }
    return {"cold": cold, "warm": per_cycle, "next_cycle": per_cycle}
