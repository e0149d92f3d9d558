"""Resolving one :class:`~imageupdater.policy.ImagePolicy` against its registry.

Owns the path from a policy to a :class:`Resolution`: pick the endpoint from
``registries.conf``, list tags (cached and shared by every policy naming the repository),
apply the tag filter, narrow semver candidates by the constraint, fetch metadata only when
the strategy needs it (``newest-build``: every candidate, cached by digest; ``digest``: the
followed tag only), and let :mod:`imageupdater.strategies` choose.

Each listed tag goes through the tag filter once and, for ``semver``, through the version
parse and the constraint once: the allowed list that becomes ``Resolution.candidates`` is
the one the choice is made from (:func:`~imageupdater.strategies.select_allowed`).
"""

from __future__ import annotations

__all__ = ["Resolution", "SelectionMemo", "resolve"]

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from imageupdater.credentials import CredentialRef
from imageupdater.errors import RegistryError, RegistryNotFound
from imageupdater.platforms import Platform, current_platform
from imageupdater.policy import ImagePolicy
from imageupdater.registries_conf import RegistriesConf, RegistryEndpoint, TagSortMode
from imageupdater.registry import RegistryClient
from imageupdater.strategies import (
    Strategy,
    missing_followed_tag,
    select,
    select_allowed,
    semver_allowed,
)
from imageupdater.tags import TagInfo
from imageupdater.versions import Constraint

_LOG = logging.getLogger("image_updater.resolver")
_SYNTHETIC_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Resolution:
    image: str  # "registry/name" as upstream's test prints it
    strategy: Strategy
    constraint: str | None
    tag: str | None  # chosen tag, None when nothing qualifies
    digest: str | None
    candidates: tuple[str, ...]  # tags left after filters (and constraint, for semver)


class SelectionMemo:
    """Choices of tag-list-only strategies, remembered while the tag list stays the same.

    For ``semver`` and ``alphabetical`` the answer depends only on the repository's tag list,
    the policy and the current tag. The registry client hands back the *same* tuple for a
    repository while its tag list is cached, so a remembered choice is reused exactly as
    long as that object is current: a refreshed list (a new object) recomputes it. This
    takes filtering and version parsing off the hot path of repeated admission reviews and
    of Applications sharing a policy. Bounded, least recently used first out.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[tuple[str, ...], Resolution]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, tags: tuple[str, ...]) -> Resolution | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] is not tags:
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


def _memo_key(
    policy: ImagePolicy, endpoint: RegistryEndpoint, repository: str, current: str | None
) -> Hashable:
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
) -> Resolution:
    """Choose the tag ``policy`` should run now (``Resolution.tag`` None: none qualifies).

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

    if not policy.strategy.lists_tags:
        infos, listed = await _digest_candidates(
            policy, client, endpoint, repository, platforms, credentials, log
        )
        return done(infos, listed=listed)
    # Parse before any request: a bad constraint is the user's error, not the registry's.
    constraint = Constraint.parse(policy.constraint or "")
    tags = await client.list_tags(endpoint, repository, credentials=credentials)
    memo_key = None
    if memo is not None and policy.strategy.choice_depends_on_tags_only:
        memo_key = _memo_key(policy, endpoint, repository, current_tag)
        remembered = memo.get(memo_key, tags)
        if remembered is not None:
            return remembered
    tag_filter = policy.tag_filter
    kept = list(tags) if tag_filter.keeps_every_tag else [t for t in tags if tag_filter.keeps(t)]
    log.debug("%s: %d of %d tags pass the tag filter", image.full_name, len(kept), len(tags))
    if not policy.strategy.needs_metadata:
        if policy.strategy.constraint_is_semver:
            # Candidates are what the constraint allows: that is what ``test`` lists, and
            # what the choice is made from, each tag evaluated once.
            allowed = semver_allowed(kept, constraint)
            chosen = select_allowed(allowed, current=current_tag)
            resolution = _resolution(policy, chosen, [entry.tag.name for entry in allowed])
        else:
            resolution = done([TagInfo(tag) for tag in kept], listed=kept)
        if memo is not None and memo_key is not None:
            memo.put(memo_key, tags, resolution)
        return resolution
    if endpoint.tagsortmode is not TagSortMode.NONE:
        return done(_synthetic_dates(tags, kept, endpoint.tagsortmode), listed=kept)
    infos = await _metadata(
        client, endpoint, repository, kept, platforms, credentials, image.full_name, log
    )
    return done(infos, listed=kept)


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
) -> list[TagInfo]:
    """Metadata for every tag; a tag whose metadata fails is dropped with a warning, but if
    every tag fails the first error is raised (an outage must not look like "no update")."""
    slots = asyncio.Semaphore(client.settings.max_concurrency)

    async def one(tag: str) -> TagInfo | RegistryError | None:
        async with slots:
            try:
                return await client.tag_info(
                    endpoint, repository, tag, platforms=platforms, credentials=credentials
                )
            except RegistryError as exc:
                return exc

    results = await asyncio.gather(*(one(tag) for tag in tags))
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
