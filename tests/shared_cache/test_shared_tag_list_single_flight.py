"""The cross-replica single flight for tag lists under many staggered lookups.

A replica whose read missed can win the lock just after another replica stored the list and
let the lock go; it must find that list instead of asking the registry again. Three shared
caches on one real Redis, many repositories, lookups started at staggered moments so every
interleaving of read, lock, store and unlock occurs; the fetch stands for the registry.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import replace

from imageupdater.registry.shared import SharedCache
from imageupdater.shared_cache_settings import SharedCacheSettings

API = "https://registry.example"
ROUNDS = 40
REPOSITORIES = [f"team/svc-{n:03d}" for n in range(60)]


async def _round(
    caches: list[SharedCache], api: str, fetches: Counter[str], seed: int
) -> list[bool]:
    rng = random.Random(seed)

    async def look(cache: SharedCache, repository: str, delay: float) -> bool:
        await asyncio.sleep(delay)

        async def fetch() -> tuple[str, ...]:
            fetches[repository] += 1
            await asyncio.sleep(rng.uniform(0, 0.001))
            return ("1.0", repository)

        tags = await cache.tags(api, repository, "", ttl=30.0, fetch=fetch)
        return tags == ("1.0", repository)

    return await asyncio.gather(
        *(
            look(cache, repository, rng.uniform(0, 0.003))
            for repository in REPOSITORIES
            for cache in caches
        )
    )


async def test_staggered_lookups_from_three_replicas_fetch_each_tag_list_once(
    settings: SharedCacheSettings,
) -> None:
    # Timeouts far beyond any wait here: this test is about the single flight, not outages
    # (a slow machine must not turn a Redis call into a fallback fetch).
    patient = replace(settings, timeout=10.0, lock_wait=30.0)
    caches = [SharedCache(patient) for _ in range(3)]
    for cache in caches:
        await cache.open()
    try:
        for seed in range(ROUNDS):
            fetches: Counter[str] = Counter()
            # A registry of its own per round: its keys start empty.
            answers = await _round(caches, f"{API}/{seed}", fetches, seed)
            assert all(answers)
            assert fetches == Counter(dict.fromkeys(REPOSITORIES, 1)), (
                seed,
                {r: n for r, n in fetches.items() if n != 1},
            )
    finally:
        for cache in caches:
            await cache.close()
