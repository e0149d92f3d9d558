"""Resolving one :class:`~imageupdater.policy.ImagePolicy` against its registry.

Owns the path from a policy to a :class:`Resolution`: pick the endpoint from
``registries.conf``, list tags (cached and shared by every policy naming the repository),
apply the tag filter, narrow semver candidates by the constraint, fetch metadata only when
the strategy needs it (``newest-build``: every candidate, cached by digest; ``digest``: the
followed tag only), and let :mod:`imageupdater.strategies` choose.

Each listed tag goes through the tag filter once and, for ``semver``, through the version
parse and the constraint once: the allowed list that becomes ``Resolution.candidates`` is
the one the choice is made from (:func:`~imageupdater.strategies.select_allowed`).

Update policies (``policies``, a :class:`~imageupdater.updatepolicy.PolicyFilter`) judge the
candidates after the tag filter (and the constraint) and before the strategy, for every
strategy: what an ``Enforce`` policy takes out cannot be chosen, so ``maxBump: minor`` moves
1.4 to 1.9 past a 2.0. For ``semver`` only the versions above the running one are judged
(the strategy never goes below it). A ``minimumAge`` needs creation times, which tag names
do not carry: for ``semver`` and ``alphabetical`` the metadata of the candidates is read in
the strategy's order, best first, until one is old enough (what lies below it could not be
chosen anyway). ``Resolution.decision`` keeps what the policies found and
``Resolution.deferral`` an update they hold back for a while. Without policies nothing of
this runs: the remembered choices serve as before; with policies that do not depend on
time the choice is remembered under the policies too.
"""

from __future__ import annotations

__all__ = ["Resolution", "SelectionMemo", "resolve"]

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from imageupdater.choice import RunningVersion
from imageupdater.credentials import CredentialRef
from imageupdater.errors import RegistryError, RegistryNotFound
from imageupdater.platforms import Platform, current_platform
from imageupdater.policy import ImagePolicy
from imageupdater.registries_conf import RegistriesConf, RegistryEndpoint, TagSortMode
from imageupdater.registry import RegistryClient
from imageupdater.registry.cache import SingleFlight
from imageupdater.strategies import (
    SemverRanking,
    Strategy,
    missing_followed_tag,
    prefers,
    select,
    semver_allowed,
)
from imageupdater.tags import TagFilter, TagInfo
from imageupdater.versions import Constraint, Version

if TYPE_CHECKING:
    # Types only: a lookup no policy judges (`test`, admission) loads none of the policies.
    from imageupdater.updatepolicy import CandidateDecision, Deferral, PolicyFilter

_LOG = logging.getLogger("image_updater.resolver")
_SYNTHETIC_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# One tag's metadata read: the tag, an error, or None (no image for the platforms).
_TagMetadata = TagInfo | RegistryError | None


@dataclass(frozen=True, slots=True)
class Resolution:
    image: str  # "registry/name" as upstream's test prints it
    strategy: Strategy
    constraint: str | None
    tag: str | None  # chosen tag, None when nothing qualifies
    digest: str | None
    candidates: tuple[str, ...]  # tags left after filters (and constraint, for semver)
    # With update policies: what they made of the candidates, an update they hold back for
    # now (one the strategy would move to), and whether the write pins the digest.
    decision: CandidateDecision | None = None
    deferral: Deferral | None = None
    pin_digest: bool = False


class SelectionMemo:
    """Choices of tag-list-only strategies, remembered while the tag list stays the same.

    For ``semver`` and ``alphabetical`` the answer depends only on the repository's tag list,
    the policy and the current tag. The registry client hands back the *same* tuple for a
    repository while its tag list is cached, so a remembered choice is reused at once while
    that object is current; a list read again (a new object) is compared with the one the
    choice was made from, and the choice is reused only when the two are equal — a list
    that changed in any way, order included, recomputes it. :meth:`canonical` makes that
    one comparison per repository and read rather than one per choice. This takes
    filtering and version parsing off the hot path of repeated admission reviews, of
    Applications sharing a policy, and of every reconcile cycle in which a repository got
    no new tag. Bounded, least recently used first out.

    A semver choice that is not remembered yet (a new current tag) is made from the
    policy's remembered :class:`~imageupdater.strategies.SemverRanking` of the same list, so
    the tags are not parsed and checked again either.

    It also keeps what resolutions share without remembering any answer: parsed version
    constraints (a pure function of their text), and the metadata reads in flight — two
    ``newest-build`` resolutions of one repository that differ only in the current tag
    read the same tags' metadata at the same moment, so they share that one read while it
    runs (the registry client would answer both from the same cache).
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[tuple[str, ...], Resolution]] = OrderedDict()
        self._rankings: OrderedDict[Hashable, tuple[tuple[str, ...], SemverRanking]] = OrderedDict()
        self.rankings_reused = 0
        self._constraints: OrderedDict[str, Constraint] = OrderedDict()
        # Per tag list (registry, repository, credentials): the first object read with this
        # content, and the object the registry client hands out now.
        self._lists: OrderedDict[Hashable, tuple[tuple[str, ...], tuple[str, ...]]] = OrderedDict()
        self.metadata_reads: SingleFlight[Hashable, list[_TagMetadata]] = SingleFlight()
        self.hits = 0
        self.misses = 0

    def constraint(self, text: str) -> Constraint:
        """``Constraint.parse(text)``, parsed once (its errors are raised every time)."""
        parsed = self._constraints.get(text)
        if parsed is None:
            parsed = Constraint.parse(text)
            self._constraints[text] = parsed
            if len(self._constraints) > self.max_entries:
                self._constraints.popitem(last=False)
        return parsed

    def canonical(self, list_key: Hashable, tags: tuple[str, ...]) -> tuple[str, ...]:
        """``tags``, or the equal list seen before under ``list_key`` (so choices remembered
        with that one are found by identity); a changed list becomes the one kept."""
        kept = self._lists.get(list_key)
        if kept is not None and (kept[1] is tags or kept[0] == tags):
            if kept[1] is not tags:
                self._lists[list_key] = (kept[0], tags)
            self._lists.move_to_end(list_key)
            return kept[0]
        self._lists[list_key] = (tags, tags)
        self._lists.move_to_end(list_key)
        if len(self._lists) > self.max_entries:
            self._lists.popitem(last=False)
        return tags

    def get(self, key: Hashable, tags: tuple[str, ...]) -> Resolution | None:
        entry = self._entries.get(key)
        if entry is None or (entry[0] is not tags and entry[0] != tags):
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[1]

    def put(self, key: Hashable, tags: tuple[str, ...], resolution: Resolution) -> None:
        self._entries[key] = (tags, resolution)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def ranking(self, key: Hashable, tags: tuple[str, ...]) -> SemverRanking | None:
        """The ``semver`` ranking of ``tags`` for a policy whatever its current tag (``key``
        is the choice's key without it), under the same rule as :meth:`get`."""
        entry = self._rankings.get(key)
        if entry is None or (entry[0] is not tags and entry[0] != tags):
            return None
        self._rankings.move_to_end(key)
        self.rankings_reused += 1
        return entry[1]

    def put_ranking(self, key: Hashable, tags: tuple[str, ...], ranking: SemverRanking) -> None:
        self._rankings[key] = (tags, ranking)
        self._rankings.move_to_end(key)
        while len(self._rankings) > self.max_entries:
            self._rankings.popitem(last=False)


def _memo_key(
    policy: ImagePolicy, endpoint: RegistryEndpoint, repository: str, current: str | None
) -> tuple[Hashable, ...]:
    return (
        endpoint.api_url,
        repository,
        policy.image.full_name,
        policy.strategy,
        policy.constraint,
        policy.tag_filter.allow.pattern,
        policy.tag_filter.ignore,
        current,
    )


async def resolve(
    policy: ImagePolicy,
    *,
    client: RegistryClient,
    conf: RegistriesConf,
    current_tag: str | None = None,
    logger: logging.Logger | None = None,
    memo: SelectionMemo | None = None,
    policies: PolicyFilter | None = None,
) -> Resolution:
    """Choose the tag ``policy`` should run now (``Resolution.tag`` None: none qualifies),
    among the candidates ``policies`` (the update policies of its Application) let through.

    Raises ``InvalidInput`` (a bad constraint, digest without a tag to follow) before any
    request, and ``RegistryError`` when the registry cannot answer.
    """
    log = logger or _LOG
    image = policy.image
    endpoint = conf.lookup(image.registry, image.repository)
    repository = endpoint.qualify(image.repository)
    platforms = policy.platforms or (current_platform(),)
    credentials = policy.pull_secret

    def done(candidates: Sequence[TagInfo], *, listed: Sequence[str]) -> Resolution:
        return _finish(policy, candidates, listed, current_tag)

    def source() -> _Source:  # built only for an image under update policies
        return _Source(client, endpoint, repository, tuple(platforms), credentials, log)

    if not policy.strategy.lists_tags:
        infos, listed = await _digest_candidates(
            policy, client, endpoint, repository, platforms, credentials, log
        )
        if policies is not None:
            return await _judged(policy, policies, infos, listed, current_tag, source())
        return done(infos, listed=listed)
    # Parse before any request: a bad constraint is the user's error, not the registry's.
    constraint = (memo.constraint if memo is not None else Constraint.parse)(
        policy.constraint or ""
    )
    tags = await client.list_tags(endpoint, repository, credentials=credentials)
    memo_key: tuple[Hashable, ...] | None = None
    if (
        memo is not None
        and policy.strategy.choice_depends_on_tags_only
        and (policies is None or policies.timeless)
    ):
        memo_key = _memo_key(policy, endpoint, repository, current_tag)
        if policies is not None:
            memo_key = (*memo_key, policies.policies)
        tags = memo.canonical(
            (endpoint.api_url, repository, str(credentials) if credentials else ""), tags
        )
        remembered = memo.get(memo_key, tags)
        if remembered is not None:
            return remembered
    tag_filter = policy.tag_filter
    if policies is not None and not policy.strategy.needs_metadata:
        resolution = await _by_name(
            policy, policies, _kept(tag_filter, tags), constraint, current_tag, source()
        )
        if memo is not None and memo_key is not None:
            memo.put(memo_key, tags, resolution)
        return resolution
    if not policy.strategy.needs_metadata:
        if policy.strategy.constraint_is_semver:
            # Candidates are what the constraint allows: that is what ``test`` lists, and
            # what the choice is made from, each tag evaluated once — and, through the
            # memo, once for every current tag of the policy.
            ranking_key = memo_key[:-1] if memo_key is not None else None
            ranking = (
                memo.ranking(ranking_key, tags)
                if memo is not None and ranking_key is not None
                else None
            )
            if ranking is None:
                kept = _kept(tag_filter, tags)
                log.debug(
                    "%s: %d of %d tags pass the tag filter", image.full_name, len(kept), len(tags)
                )
                ranking = SemverRanking.of(semver_allowed(kept, constraint))
                if memo is not None and ranking_key is not None:
                    memo.put_ranking(ranking_key, tags, ranking)
            resolution = _resolution(policy, ranking.choose(current_tag), ranking.names)
        else:
            kept = _kept(tag_filter, tags)
            log.debug(
                "%s: %d of %d tags pass the tag filter", image.full_name, len(kept), len(tags)
            )
            resolution = done([TagInfo(tag) for tag in kept], listed=kept)
        if memo is not None and memo_key is not None:
            memo.put(memo_key, tags, resolution)
        return resolution
    kept = _kept(tag_filter, tags)
    log.debug("%s: %d of %d tags pass the tag filter", image.full_name, len(kept), len(tags))
    if endpoint.tagsortmode is not TagSortMode.NONE:
        synthetic = _synthetic_dates(tags, kept, endpoint.tagsortmode)
        if policies is not None:
            # List positions are no creation times: a minimumAge cannot take them for one.
            return await _judged(
                policy, policies, synthetic, kept, current_tag, source(), undated=True
            )
        return done(synthetic, listed=kept)
    infos = await _metadata(
        client,
        endpoint,
        repository,
        kept,
        platforms,
        credentials,
        image.full_name,
        log,
        memo.metadata_reads if memo is not None else None,
    )
    if policies is not None:
        return await _judged(policy, policies, infos, kept, current_tag, source())
    return done(infos, listed=kept)


@dataclass(frozen=True, slots=True)
class _Source:
    """Where one resolution reads single tags from, for what the policies need."""

    client: RegistryClient
    endpoint: RegistryEndpoint
    repository: str
    platforms: tuple[Platform, ...]
    credentials: CredentialRef | None
    log: logging.Logger

    async def info(self, tag: str) -> TagInfo | None:
        return await self.client.tag_info(
            self.endpoint,
            self.repository,
            tag,
            platforms=self.platforms,
            credentials=self.credentials,
        )

    async def digest(self, tag: str) -> str:
        return await self.client.manifest_digest(
            self.endpoint, self.repository, tag, credentials=self.credentials
        )


async def _by_name(
    policy: ImagePolicy,
    policies: PolicyFilter,
    kept: Sequence[str],
    constraint: Constraint,
    current: str | None,
    source: _Source,
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
    return await _judged(policy, policies, ordered, listed, current, source, stay=stay)


# Rules a candidate's creation time or the clock decide: waiting lifts them.
_TIME_RULES = frozenset({"minimumAge", "updateWindows"})


async def _dated_until_old_enough(
    policy: ImagePolicy, policies: PolicyFilter, ordered: Sequence[TagInfo], source: _Source
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


async def _judged(
    policy: ImagePolicy,
    policies: PolicyFilter,
    candidates: Sequence[TagInfo],
    listed: Sequence[str],
    current: str | None,
    source: _Source,
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


def _kept(tag_filter: TagFilter, tags: Sequence[str]) -> list[str]:
    return list(tags) if tag_filter.keeps_every_tag else [t for t in tags if tag_filter.keeps(t)]


def _finish(
    policy: ImagePolicy, candidates: Sequence[TagInfo], listed: Sequence[str], current: str | None
) -> Resolution:
    chosen = select(policy.strategy, candidates, constraint=policy.constraint, current=current)
    return _resolution(policy, chosen, listed)


def _resolution(policy: ImagePolicy, chosen: TagInfo | None, listed: Sequence[str]) -> Resolution:
    return Resolution(
        image=policy.image.full_name,
        strategy=policy.strategy,
        constraint=policy.constraint,
        tag=chosen.name if chosen else None,
        digest=chosen.digest if chosen else None,
        candidates=tuple(listed),
    )


def _synthetic_dates(
    listed: Sequence[str], kept: Sequence[str], mode: TagSortMode
) -> list[TagInfo]:
    """Dates from list position for registries that list tags in time order (upstream §13)."""
    count = len(listed)
    position = {tag: index for index, tag in enumerate(listed)}

    def age(tag: str) -> int:
        index = position[tag]
        return count - index if mode is TagSortMode.LATEST_FIRST else index + 1

    return [TagInfo(tag, created=_SYNTHETIC_EPOCH + timedelta(seconds=age(tag))) for tag in kept]


async def _metadata(
    client: RegistryClient,
    endpoint: RegistryEndpoint,
    repository: str,
    tags: Sequence[str],
    platforms: Sequence[Platform],
    credentials: CredentialRef | None,
    image: str,
    log: logging.Logger,
    shared: SingleFlight[Hashable, list[_TagMetadata]] | None = None,
) -> list[TagInfo]:
    """Metadata for every tag; a tag whose metadata fails is dropped with a warning, but if
    every tag fails the first error is raised (an outage must not look like "no update").

    With ``shared``, identical reads in flight at the same time are one read; each caller
    still logs and raises for itself."""

    def read() -> Awaitable[list[_TagMetadata]]:
        return _read_metadata(client, endpoint, repository, tags, platforms, credentials)

    if shared is None:
        results = await read()
    else:
        key = (
            endpoint.api_url,
            repository,
            tuple(tags),
            tuple(platforms),
            str(credentials) if credentials else None,
        )
        results = await shared.do(key, read)
    infos: list[TagInfo] = []
    failures: list[RegistryError] = []
    for tag, result in zip(tags, results, strict=True):
        if isinstance(result, RegistryError):
            log.warning("%s: skipping tag %s: %s", image, tag, result)
            failures.append(result)
        elif result is None:
            log.debug("%s: tag %s has no image for %s", image, tag, _names(platforms))
        else:
            infos.append(result)
    if failures and len(failures) == len(tags):
        raise failures[0]
    return infos


async def _read_metadata(
    client: RegistryClient,
    endpoint: RegistryEndpoint,
    repository: str,
    tags: Sequence[str],
    platforms: Sequence[Platform],
    credentials: CredentialRef | None,
) -> list[_TagMetadata]:
    results: list[_TagMetadata] = [None] * len(tags)
    queue = iter(enumerate(tags))

    # ``max_concurrency`` readers taking the next tag in turn: as many reads at once as a
    # semaphore would allow, without a task per tag (most answers come from the cache).
    async def reader() -> None:
        for index, tag in queue:
            try:
                results[index] = await client.tag_info(
                    endpoint, repository, tag, platforms=platforms, credentials=credentials
                )
            except RegistryError as exc:
                results[index] = exc

    readers = min(max(client.settings.max_concurrency, 1), len(tags))
    await asyncio.gather(*(reader() for _ in range(readers)))
    return results


async def _digest_candidates(
    policy: ImagePolicy,
    client: RegistryClient,
    endpoint: RegistryEndpoint,
    repository: str,
    platforms: Sequence[Platform],
    credentials: CredentialRef | None,
    log: logging.Logger,
) -> tuple[list[TagInfo], list[str]]:
    """The followed tag with its current digest, when it exists and fits the platforms.

    No tag list is needed: one ``HEAD`` answers whether the tag exists and what it points
    at, and the platform check reads metadata cached by that digest."""
    followed = policy.constraint
    if not followed:
        raise missing_followed_tag(repr(str(policy.image)), name=policy.image.full_name)
    if not policy.tag_filter.keeps(followed):
        log.info("%s: the followed tag %s is excluded by the tag filter", policy.image, followed)
        return [], []
    try:
        await client.manifest_digest(endpoint, repository, followed, credentials=credentials)
    except RegistryNotFound:
        log.info("%s: the followed tag %s does not exist", policy.image.full_name, followed)
        return [], []
    info = await client.tag_info(
        endpoint, repository, followed, platforms=platforms, credentials=credentials
    )
    if info is None:
        log.info("%s:%s has no image for %s", policy.image.full_name, followed, _names(platforms))
        return [], [followed]
    return [info], [followed]


def _names(platforms: Sequence[Platform]) -> str:
    return ", ".join(str(p) for p in platforms) or "any platform"
