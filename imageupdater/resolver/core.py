"""The path from a policy to its :class:`~imageupdater.resolver.model.Resolution` (see the
package docstring)."""

from __future__ import annotations

__all__ = ["resolve"]

import logging
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING

from imageupdater.platforms import current_platform
from imageupdater.policy import ImagePolicy
from imageupdater.registries_conf import RegistriesConf, TagSortMode
from imageupdater.registry import RegistryClient
from imageupdater.resolver.judged import by_name, judged
from imageupdater.resolver.memo import SelectionMemo, choice_key
from imageupdater.resolver.model import Resolution
from imageupdater.resolver.reads import TagSource, digest_candidates, metadata, synthetic_dates
from imageupdater.strategies import SemverRanking, select, semver_allowed
from imageupdater.tags import TagFilter, TagInfo
from imageupdater.versions import Constraint

if TYPE_CHECKING:
    # Types only: a lookup no policy judges (`test`, admission) loads none of the policies.
    from imageupdater.updatepolicy import PolicyFilter


_LOG = logging.getLogger("image_updater.resolver")


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

    def source() -> TagSource:  # built only for an image under update policies
        return TagSource(client, endpoint, repository, tuple(platforms), credentials, log)

    if not policy.strategy.lists_tags:
        infos, listed = await digest_candidates(
            policy, client, endpoint, repository, platforms, credentials, log
        )
        if policies is not None:
            return await judged(policy, policies, infos, listed, current_tag, source())
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
        memo_key = choice_key(policy, endpoint, repository, current_tag)
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
        resolution = await by_name(
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
        synthetic = synthetic_dates(tags, kept, endpoint.tagsortmode)
        if policies is not None:
            # List positions are no creation times: a minimumAge cannot take them for one.
            return await judged(
                policy, policies, synthetic, kept, current_tag, source(), undated=True
            )
        return done(synthetic, listed=kept)
    infos = await metadata(
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
        return await judged(policy, policies, infos, kept, current_tag, source())
    return done(infos, listed=kept)


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
