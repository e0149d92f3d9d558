"""What a resolution reads from the registry beyond the tag list: every candidate's metadata
(``newest-build``), the followed tag (``digest``), single tags for the update policies, and
dates from list positions (``tagsortmode``)."""

from __future__ import annotations

__all__ = ["TagMetadata", "TagSource", "digest_candidates", "metadata", "synthetic_dates"]

import asyncio
import logging
from collections.abc import Awaitable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from imageupdater.credentials import CredentialRef
from imageupdater.errors import RegistryError, RegistryNotFound
from imageupdater.platforms import Platform
from imageupdater.policy import ImagePolicy
from imageupdater.registries_conf import RegistryEndpoint, TagSortMode
from imageupdater.registry import RegistryClient
from imageupdater.registry.cache import SingleFlight
from imageupdater.strategies import missing_followed_tag
from imageupdater.tags import TagInfo

_SYNTHETIC_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# One tag's metadata read: the tag, an error, or None (no image for the platforms).
TagMetadata = TagInfo | RegistryError | None


@dataclass(frozen=True, slots=True)
class TagSource:
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


def synthetic_dates(listed: Sequence[str], kept: Sequence[str], mode: TagSortMode) -> list[TagInfo]:
    """Dates from list position for registries that list tags in time order (upstream §13)."""
    count = len(listed)
    position = {tag: index for index, tag in enumerate(listed)}

    def age(tag: str) -> int:
        index = position[tag]
        return count - index if mode is TagSortMode.LATEST_FIRST else index + 1

    return [TagInfo(tag, created=_SYNTHETIC_EPOCH + timedelta(seconds=age(tag))) for tag in kept]


async def metadata(
    client: RegistryClient,
    endpoint: RegistryEndpoint,
    repository: str,
    tags: Sequence[str],
    platforms: Sequence[Platform],
    credentials: CredentialRef | None,
    image: str,
    log: logging.Logger,
    shared: SingleFlight[Hashable, list[TagMetadata]] | None = None,
) -> list[TagInfo]:
    """Metadata for every tag; a tag whose metadata fails is dropped with a warning, but if
    every tag fails the first error is raised (an outage must not look like "no update").

    With ``shared``, identical reads in flight at the same time are one read; each caller
    still logs and raises for itself."""

    def read() -> Awaitable[list[TagMetadata]]:
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
) -> list[TagMetadata]:
    results: list[TagMetadata] = [None] * len(tags)
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


async def digest_candidates(
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
