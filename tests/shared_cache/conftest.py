"""A private ``redis-server`` per test (Debian's, on 127.0.0.1) and replicas sharing it.

A "replica" is a :class:`RegistryClient` with its own :class:`SharedCache`: what a reconciler
process builds from ``--redis``. Three of them on one Redis stand for three shards."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from devcluster.redis import BINARY, LocalRedis
from imageupdater.registry import ClientSettings, RegistryClient
from imageupdater.registry.shared import SharedCache
from imageupdater.shared_cache_settings import SharedCacheSettings, parse_redis_address

NO_TLS_DIR = ClientSettings(tls_cert_dir=None)


def _launch(workdir: Path, **options: object) -> Iterator[LocalRedis]:
    if shutil.which(BINARY) is None:
        pytest.fail(f"{BINARY} is not installed: apt-get install redis-server", pytrace=False)
    server = LocalRedis(workdir, **options)  # type: ignore[arg-type]
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[LocalRedis]:
    yield from _launch(tmp_path / "redis")


@pytest.fixture
def settings(redis_server: LocalRedis) -> SharedCacheSettings:
    return quick(parse_redis_address(redis_server.address))


def quick(settings: SharedCacheSettings) -> SharedCacheSettings:
    """Short pauses, so an outage and a recovery fit in a test."""
    return replace(settings, retry_after=0.3, lock_wait=2.0)


@contextlib.asynccontextmanager
async def replica(
    settings: SharedCacheSettings, client_settings: ClientSettings = NO_TLS_DIR
) -> AsyncIterator[RegistryClient]:
    shared = SharedCache(settings)
    await shared.open()
    try:
        async with RegistryClient(settings=client_settings, shared=shared) as client:
            yield client
    finally:
        await shared.close()


@contextlib.asynccontextmanager
async def raw_redis(server: LocalRedis) -> AsyncIterator[aioredis.Redis]:
    """A plain Redis client, to look at (and tamper with) what the replicas stored."""
    client = aioredis.Redis(host="127.0.0.1", port=server.port, password=server.password)
    try:
        yield client
    finally:
        await client.aclose()
