"""Remembered choices and what resolutions share (:class:`SelectionMemo`)."""

from __future__ import annotations

__all__ = ["SelectionMemo", "choice_key"]

from collections import OrderedDict
from collections.abc import Hashable

from imageupdater.policy import ImagePolicy
from imageupdater.registries_conf import RegistryEndpoint
from imageupdater.registry.cache import SingleFlight
from imageupdater.resolver.model import Resolution
from imageupdater.resolver.reads import TagMetadata
from imageupdater.strategies import SemverRanking
from imageupdater.versions import Constraint


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
        self.metadata_reads: SingleFlight[Hashable, list[TagMetadata]] = SingleFlight()
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


def choice_key(
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
