"""Replicas sharing registry caches through a real Redis, against the real local registry."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from devcluster.redis import LocalRedis
from devcluster.registry import LocalRegistry, free_port
from devcluster.seeder import ImageSeeder
from imageupdater.credentials import CredentialRef
from imageupdater.errors import InvalidInput
from imageupdater.platforms import Platform
from imageupdater.registry import ClientSettings, RegistryClient
from imageupdater.registry.shared import SharedCache, credential_identity
from imageupdater.shared_cache_settings import SharedCacheSettings, parse_redis_address
from tests.registry_client.conftest import endpoint_for

from .conftest import _launch, quick, raw_redis, replica

AMD64 = (Platform("linux", "amd64"),)
LOGGER = "image_updater.shared_cache"


def tag_requests(*clients: RegistryClient) -> int:
    return sum(c.counters.requests(kind="tags") for c in clients)


def shared_of(client: RegistryClient) -> SharedCache:
    assert client.shared is not None
    return client.shared


async def test_three_replicas_asking_one_after_another_make_one_tag_list_request(
    settings: SharedCacheSettings, registry: LocalRegistry, seeder: ImageSeeder, unique_repo: str
) -> None:
    await seeder.push(unique_repo, "1.0")
    await seeder.push(unique_repo, "1.1")
    endpoint = endpoint_for(registry.url)
    async with replica(settings) as a, replica(settings) as b, replica(settings) as c:
        answers = [await r.list_tags(endpoint, unique_repo) for r in (a, b, c)]
        assert tag_requests(a, b, c) == 1
        assert shared_of(b).counters.count("tags", "hit") == 1
    assert all(sorted(tags) == ["1.0", "1.1"] for tags in answers)


async def test_three_replicas_asking_at_the_same_moment_make_one_tag_list_request(
    settings: SharedCacheSettings, registry: LocalRegistry, seeder: ImageSeeder, unique_repo: str
) -> None:
    await seeder.push(unique_repo, "2.0")
    endpoint = endpoint_for(registry.url)
    async with replica(settings) as a, replica(settings) as b, replica(settings) as c:
        answers = await asyncio.gather(*(r.list_tags(endpoint, unique_repo) for r in (a, b, c)))
        assert tag_requests(a, b, c) == 1
        waited = sum(shared_of(r).counters.count("tags", "waited") for r in (a, b, c))
        hits = sum(shared_of(r).counters.count("tags", "hit") for r in (a, b, c))
        assert waited + hits == 2
    assert answers == [("2.0",)] * 3


async def test_replicas_with_different_credentials_do_not_share_a_tag_list(
    settings: SharedCacheSettings,
    redis_server: LocalRedis,
    registry: LocalRegistry,
    seeder: ImageSeeder,
    unique_repo: str,
) -> None:
    await seeder.push(unique_repo, "1.0")
    endpoint = endpoint_for(registry.url)
    async with replica(settings) as a, replica(settings) as b, raw_redis(redis_server) as raw:
        await a.list_tags(endpoint, unique_repo)
        await b.list_tags(endpoint, unique_repo, credentials=CredentialRef.parse("env:REG_CREDS"))
        assert tag_requests(a, b) == 2
        fields = await raw.hkeys(f"image-updater:v1:tags:{endpoint.api_url}/{unique_repo}")
    # Keys name a hash of the reference, never the reference or a secret.
    assert sorted(fields) == sorted(
        [credential_identity("").encode(), credential_identity("env:REG_CREDS").encode()]
    )
    assert not any(b"REG_CREDS" in f for f in fields)


async def test_metadata_read_by_one_replica_is_not_fetched_again_by_another(
    settings: SharedCacheSettings, registry: LocalRegistry, seeder: ImageSeeder, unique_repo: str
) -> None:
    await seeder.push(unique_repo, "1.0", platforms=["linux/amd64", "linux/arm64/v8"])
    endpoint = endpoint_for(registry.url)
    async with replica(settings) as a, replica(settings) as b:
        first = await a.tag_info(endpoint, unique_repo, "1.0", platforms=AMD64)
        second = await b.tag_info(endpoint, unique_repo, "1.0", platforms=AMD64)
        # b asks for the list by tag (its digest); the child manifest and the config
        # come from what a stored.
        assert b.counters.requests(kind="blob") == 0
        assert b.counters.requests(kind="manifest_get") == 1
        assert shared_of(b).counters.count("config", "hit") == 1
        assert shared_of(b).counters.count("manifest", "hit") == 1
    assert first == second
    assert first is not None and first.created is not None


async def test_a_poisoned_manifest_or_config_in_redis_is_ignored_and_read_from_the_registry(
    settings: SharedCacheSettings,
    redis_server: LocalRedis,
    registry: LocalRegistry,
    seeder: ImageSeeder,
    unique_repo: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await seeder.push(unique_repo, "1.0", platforms=["linux/amd64", "linux/arm64/v8"])
    endpoint = endpoint_for(registry.url)
    async with replica(settings) as a:
        truth = await a.tag_info(endpoint, unique_repo, "1.0", platforms=AMD64)
    async with raw_redis(redis_server) as raw:
        keys = [k async for k in raw.scan_iter(match="image-updater:v1:*:sha256:*")]
        assert {k.split(b":")[2] for k in keys} == {b"manifest", b"config"}
        for key in keys:  # Redis is Argo CD's: anyone there could write anything
            await raw.set(key, b'application/vnd.oci.image.manifest.v1+json\n{"created": "1999"}')
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        async with replica(settings) as b:
            again = await b.tag_info(endpoint, unique_repo, "1.0", platforms=AMD64)
            assert shared_of(b).counters.count("config", "poisoned") == 1
            assert shared_of(b).counters.count("manifest", "poisoned") == 1
            assert b.counters.requests(kind="blob") == 1
    assert again == truth
    assert "does not match its digest" in caplog.text


async def test_a_push_invalidation_removes_the_shared_tag_list(
    settings: SharedCacheSettings,
    redis_server: LocalRedis,
    registry: LocalRegistry,
    seeder: ImageSeeder,
    unique_repo: str,
) -> None:
    await seeder.push(unique_repo, "1.0")
    endpoint = endpoint_for(registry.url)
    key = f"image-updater:v1:tags:{endpoint.api_url}/{unique_repo}"
    async with replica(settings) as a, replica(settings) as b, raw_redis(redis_server) as raw:
        await a.list_tags(endpoint, unique_repo)
        assert await raw.exists(key) == 1
        await seeder.push(unique_repo, "1.1")
        a.invalidate(endpoint.api_url, unique_repo)
        # At once, before the deletion reached Redis, the invalidating replica sees the push.
        assert sorted(await a.list_tags(endpoint, unique_repo)) == ["1.0", "1.1"]
        await shared_of(a).drain()
        a.invalidate(endpoint.api_url, unique_repo)
        await shared_of(a).drain()
        assert await raw.exists(key) == 0
        assert sorted(await b.list_tags(endpoint, unique_repo)) == ["1.0", "1.1"]


async def test_redis_stopped_mid_run_means_correct_answers_one_log_line_and_counted_errors(
    settings: SharedCacheSettings,
    redis_server: LocalRedis,
    registry: LocalRegistry,
    seeder: ImageSeeder,
    unique_repo: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await seeder.push(unique_repo, "1.0")
    endpoint = endpoint_for(registry.url)
    no_local_cache = replace(ClientSettings(tls_cert_dir=None), tag_list_ttl=0.0)
    # Long enough that the five lookups below fit in one pause even on a loaded machine.
    settings = replace(settings, retry_after=2.5)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        async with replica(settings, no_local_cache) as a:
            assert await a.list_tags(endpoint, unique_repo) == ("1.0",)
            redis_server.stop()
            await seeder.push(unique_repo, "1.1")
            loop = asyncio.get_running_loop()
            started = loop.time()
            for _ in range(5):
                assert sorted(await a.list_tags(endpoint, unique_repo)) == ["1.0", "1.1"]
            assert loop.time() - started < 2.0  # an outage costs one short timeout, not five
            shared = shared_of(a)
            assert shared.counters.errors == 1  # then Redis is left alone for retry_after
            assert not shared.available
            redis_server.start()  # same port
            await asyncio.sleep(settings.retry_after)
            assert sorted(await a.list_tags(endpoint, unique_repo)) == ["1.0", "1.1"]
            assert shared_of(a).available
    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert sum("is unavailable" in line for line in lines) == 1
    assert sum("answers again" in line for line in lines) == 1


async def test_redis_unreachable_at_start_is_an_outage_not_a_failure(
    tmp_path: Path, registry: LocalRegistry, seeder: ImageSeeder, unique_repo: str
) -> None:
    await seeder.push(unique_repo, "1.0")
    nobody = quick(parse_redis_address(f"127.0.0.1:{free_port()}"))
    async with replica(nobody) as a:
        assert await a.list_tags(endpoint_for(registry.url), unique_repo) == ("1.0",)
        assert shared_of(a).counters.errors == 1


# -- password -------------------------------------------------------------------------------

SECRET = "s3cr3t-redis-pw"


@pytest.fixture
def locked_redis(tmp_path: Path) -> Iterator[LocalRedis]:
    yield from _launch(tmp_path / "locked", password=SECRET)


async def test_a_password_protected_redis_is_shared_with_the_right_password(
    locked_redis: LocalRedis, registry: LocalRegistry, seeder: ImageSeeder, unique_repo: str
) -> None:
    await seeder.push(unique_repo, "1.0")
    settings = quick(parse_redis_address(locked_redis.address, password=SECRET))
    assert SECRET not in repr(settings)
    endpoint = endpoint_for(registry.url)
    async with replica(settings) as a, replica(settings) as b:
        await a.list_tags(endpoint, unique_repo)
        await b.list_tags(endpoint, unique_repo)
        assert tag_requests(a, b) == 1


@pytest.mark.parametrize("password", ["wrong-password", None], ids=["wrong", "missing"])
async def test_a_refused_password_stops_the_start_with_an_error_that_does_not_show_it(
    locked_redis: LocalRedis, password: str | None
) -> None:
    shared = SharedCache(parse_redis_address(locked_redis.address, password=password))
    with pytest.raises(InvalidInput, match="Redis refused") as caught:
        await shared.open()
    message = str(caught.value)
    assert locked_redis.address in message
    assert "REDIS_PASSWORD" in message
    assert "wrong-password" not in message and SECRET not in message


# -- TLS --------------------------------------------------------------------------------------


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[LocalRedis]:
    yield from _launch(tmp_path / "tls", tls=True)


async def test_rediss_with_the_servers_ca_shares_the_cache(
    tls_redis: LocalRedis, registry: LocalRegistry, seeder: ImageSeeder, unique_repo: str
) -> None:
    await seeder.push(unique_repo, "1.0")
    settings = quick(parse_redis_address(tls_redis.url, ca_file=str(tls_redis.ca_file)))
    endpoint = endpoint_for(registry.url)
    async with replica(settings) as a, replica(settings) as b:
        await a.list_tags(endpoint, unique_repo)
        await b.list_tags(endpoint, unique_repo)
        assert tag_requests(a, b) == 1
        assert shared_of(a).counters.errors == 0


async def test_rediss_with_an_untrusted_certificate_is_not_used(
    tls_redis: LocalRedis,
    registry: LocalRegistry,
    seeder: ImageSeeder,
    unique_repo: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await seeder.push(unique_repo, "1.0")
    settings = quick(parse_redis_address(tls_redis.url))  # the system's CAs do not sign it
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        async with replica(settings) as a:
            assert await a.list_tags(endpoint_for(registry.url), unique_repo) == ("1.0",)
            assert not shared_of(a).available
    assert "certificate" in caplog.text.lower() or "ssl" in caplog.text.lower()
