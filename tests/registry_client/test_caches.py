"""LRU/TTL caches and single-flight."""

from __future__ import annotations

import asyncio

import pytest

from imageupdater.registry.cache import LruCache, SingleFlight

from .conftest import ManualClock


def test_the_least_recently_used_entry_is_evicted_first(clock: ManualClock) -> None:
    cache: LruCache[str, int] = LruCache(max_entries=2, clock=clock)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recently used
    cache.put("c", 3)
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c"), len(cache)) == (1, 3, 2)


def test_an_entry_past_its_ttl_is_not_fresh_but_still_a_hint(clock: ManualClock) -> None:
    cache: LruCache[str, str] = LruCache(max_entries=10, clock=clock, ttl=30)
    cache.put("app:1", "sha256:aa")
    clock.advance(29.9)
    assert cache.get("app:1") == "sha256:aa"
    clock.advance(0.1)
    assert cache.get("app:1") is None
    assert cache.get_stale("app:1") == "sha256:aa"


def test_a_cache_needs_room_for_one_entry(clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="max_entries"):
        LruCache(max_entries=0, clock=clock)


async def test_concurrent_identical_calls_run_once() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    calls = 0
    release = asyncio.Event()

    async def work() -> int:
        nonlocal calls
        calls += 1
        await release.wait()
        return 42

    waiters = [asyncio.create_task(flights.do("k", work)) for _ in range(10)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiters) == [42] * 10
    assert calls == 1
    assert len(flights) == 0


async def test_every_waiter_sees_the_failure_and_the_next_call_runs_again() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    calls = 0

    async def boom() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        raise RuntimeError("registry down")

    results = await asyncio.gather(
        *(flights.do("k", boom) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results)
    with pytest.raises(RuntimeError):
        await flights.do("k", boom)
    assert calls == 2


async def test_one_cancelled_waiter_does_not_cancel_the_others() -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    release = asyncio.Event()

    async def work() -> str:
        await release.wait()
        return "done"

    first = asyncio.create_task(flights.do("k", work))
    second = asyncio.create_task(flights.do("k", work))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    release.set()
    assert await second == "done"
    assert first.cancelled()
