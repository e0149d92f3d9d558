"""The registry client's caches: bounded LRU maps (optionally with a time to live) and
single-flight, which collapses identical concurrent lookups into one.

Entries past their TTL are not served as fresh, but stay readable through
:meth:`LruCache.get_stale` until evicted: a stale manifest digest is still a good hint
("this tag was seen before, a HEAD will tell whether it moved").
"""

from __future__ import annotations

__all__ = ["LruCache", "SingleFlight"]

import asyncio
import functools
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from imageupdater.registry.clock import Clock

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """At most ``max_entries`` entries, least recently used evicted first.

    ``ttl=None`` means entries never expire (right for content-addressed data); otherwise
    :meth:`get` answers only entries younger than ``ttl`` seconds on ``clock``.
    """

    def __init__(self, *, max_entries: int, clock: Clock, ttl: float | None = None) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self._max = max_entries
        self._ttl = ttl
        self._clock = clock
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def get(
        self, key: K, *, max_age: float | None = None, fresh_since: float | None = None
    ) -> V | None:
        """The entry if younger than ``max_age`` (default: the cache's ``ttl``), or stored at
        or after ``fresh_since`` (a monotonic time) whatever its age."""
        entry = self._data.get(key)
        if entry is None:
            return None
        stored_at, value = entry
        limit = self._ttl if max_age is None else max_age
        pinned = fresh_since is not None and stored_at >= fresh_since
        if not pinned and limit is not None and self._clock.monotonic() - stored_at >= limit:
            return None
        self._data.move_to_end(key)
        return value

    def get_stale(self, key: K) -> V | None:
        """The entry whatever its age (``None`` only when absent or evicted)."""
        entry = self._data.get(key)
        return None if entry is None else entry[1]

    def put(self, key: K, value: V) -> None:
        self._data[key] = (self._clock.monotonic(), value)
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    def discard(self, key: K) -> None:
        self._data.pop(key, None)

    def discard_where(self, doomed: Callable[[K], bool]) -> int:
        """Drop every entry whose key ``doomed`` picks (a push event's repository, under
        any credentials); returns how many went."""
        keys = [key for key in self._data if doomed(key)]
        for key in keys:
            del self._data[key]
        return len(keys)

    def clear(self) -> None:
        self._data.clear()


class SingleFlight(Generic[K, V]):
    """Runs one call per key at a time; concurrent callers with the same key share its result.

    The call runs in its own task so that one caller being cancelled does not cancel the
    others' answer.
    """

    def __init__(self) -> None:
        self._flights: dict[K, asyncio.Task[V]] = {}

    def __len__(self) -> int:
        return len(self._flights)

    async def do(self, key: K, call: Callable[[], Awaitable[V]]) -> V:
        task = self._flights.get(key)
        if task is None:

            async def run() -> V:
                return await call()

            task = asyncio.create_task(run())
            self._flights[key] = task
            task.add_done_callback(functools.partial(self._forget, key))
        return await asyncio.shield(task)

    def _forget(self, key: K, task: asyncio.Task[V]) -> None:
        if self._flights.get(key) is task:
            del self._flights[key]
        if not task.cancelled():
            # Every waiter may have gone; reading the exception keeps asyncio from
            # reporting it as "never retrieved".
            task.exception()
