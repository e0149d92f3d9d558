"""The client against the fault-injecting registry: what distribution 2.8.2 cannot show."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from devcluster.faultregistry import FaultRegistry, Kind
from imageupdater.errors import (
    RateLimited,
    RegistryNotFound,
    RegistryProtocolError,
    RegistryUnavailable,
)
from imageupdater.platforms import Platform
from imageupdater.registry import ClientSettings, RegistryClient
from imageupdater.registry.clock import SystemClock

from .conftest import ManualClock, endpoint_for

AMD64 = (Platform("linux", "amd64"),)
FAST = ClientSettings(backoff=0.01, request_timeout=5, connect_timeout=2)


@pytest.fixture
async def second_fault_registry() -> AsyncIterator[FaultRegistry]:
    fault = FaultRegistry()
    await fault.serve()
    try:
        yield fault
    finally:
        await fault.close()


def label(fault: FaultRegistry) -> str:
    return fault.url.removeprefix("http://")


# -- pagination -------------------------------------------------------------------------------


async def test_every_page_of_a_linked_tag_list_is_read(fault_registry: FaultRegistry) -> None:
    tags = [f"1.{i}" for i in range(10)]
    fault_registry.add_tags("app", tags)
    fault_registry.paginate(3)
    async with RegistryClient(settings=FAST) as client:
        listed = await client.list_tags(endpoint_for(fault_registry.url), "app")
    assert sorted(listed) == sorted(tags)
    assert fault_registry.count(Kind.TAGS) == 4


async def test_the_page_size_is_sent_as_n_when_configured(fault_registry: FaultRegistry) -> None:
    fault_registry.add_tags("app", [f"v{i}" for i in range(5)])
    settings = ClientSettings(page_size=2)
    async with RegistryClient(settings=settings) as client:
        listed = await client.list_tags(endpoint_for(fault_registry.url), "app")
    assert len(listed) == 5
    queries = [r.query for r in fault_registry.log if r.kind is Kind.TAGS]
    assert len(queries) == 3
    assert queries[0] == "n=2"


async def test_a_tag_list_past_the_page_cap_is_an_error(fault_registry: FaultRegistry) -> None:
    fault_registry.endless_pagination(repository="app")
    settings = ClientSettings(max_pages=5)
    async with RegistryClient(settings=settings) as client:
        with pytest.raises(RegistryProtocolError, match="more than 5 pages") as caught:
            await client.list_tags(endpoint_for(fault_registry.url), "app")
    assert label(fault_registry) in str(caught.value)
    assert fault_registry.count(Kind.TAGS) == 5


async def test_a_tag_list_past_the_tag_cap_is_an_error(fault_registry: FaultRegistry) -> None:
    fault_registry.endless_pagination(repository="app")
    fault_registry.paginate(50)
    settings = ClientSettings(max_tags=120)
    async with RegistryClient(settings=settings) as client:
        with pytest.raises(RegistryProtocolError, match="more than 120 tags"):
            await client.list_tags(endpoint_for(fault_registry.url), "app")
    assert fault_registry.count(Kind.TAGS) == 3


async def test_an_unknown_repository_is_not_found(fault_registry: FaultRegistry) -> None:
    async with RegistryClient(settings=FAST) as client:
        with pytest.raises(RegistryNotFound, match="NAME_UNKNOWN"):
            await client.list_tags(endpoint_for(fault_registry.url), "nope")


# -- 429, 5xx, timeouts, malformed and huge answers ---------------------------------------------


async def test_a_429_pauses_only_that_registry_for_retry_after(
    fault_registry: FaultRegistry, second_fault_registry: FaultRegistry
) -> None:
    fault_registry.add_tags("app", ["1.0"])
    second_fault_registry.add_tags("app", ["2.0"])
    fault_registry.rate_limit(1, retry_after=1, kinds=[Kind.TAGS])
    limited, other = endpoint_for(fault_registry.url), endpoint_for(second_fault_registry.url)
    async with RegistryClient(settings=FAST) as client:
        started = time.monotonic()

        async def timed(endpoint: object) -> float:
            await client.list_tags(endpoint, "app")  # type: ignore[arg-type]
            return time.monotonic() - started

        limited_took, other_took = await asyncio.gather(timed(limited), timed(other))
        snapshot = client.snapshot()
    assert limited_took >= 0.95
    assert other_took < 0.5
    assert snapshot["requests"][label(fault_registry)]["tags"] == {"2xx": 1, "4xx": 1}
    assert snapshot["requests"][label(second_fault_registry)]["tags"] == {"2xx": 1}


async def test_a_retry_after_beyond_the_limit_fails_fast_with_the_advised_pause(
    fault_registry: FaultRegistry,
) -> None:
    fault_registry.add_tags("app", ["1.0"])
    fault_registry.rate_limit(1, retry_after=3600)
    async with RegistryClient(settings=ClientSettings(max_retry_after=5)) as client:
        with pytest.raises(RateLimited, match="429") as caught:
            await client.list_tags(endpoint_for(fault_registry.url), "app")
    assert caught.value.retry_after == 3600
    assert caught.value.registry == label(fault_registry)


async def test_a_5xx_is_retried_with_backoff(fault_registry: FaultRegistry) -> None:
    fault_registry.add_tags("app", ["1.0"])
    fault_registry.fail(2, status=503, kinds=[Kind.TAGS])
    clock = ManualClock()
    async with RegistryClient(settings=FAST, clock=clock) as client:
        assert await client.list_tags(endpoint_for(fault_registry.url), "app") == ("1.0",)
    assert fault_registry.count(Kind.TAGS) == 3
    assert clock.slept == [0.01, 0.02]


async def test_a_registry_that_keeps_failing_is_unavailable_after_bounded_retries(
    fault_registry: FaultRegistry,
) -> None:
    fault_registry.add_tags("app", ["1.0"])
    fault_registry.fail(100, status=502, kinds=[Kind.TAGS])
    async with RegistryClient(settings=FAST, clock=ManualClock()) as client:
        with pytest.raises(RegistryUnavailable, match="answered 502 after 4 attempt"):
            await client.list_tags(endpoint_for(fault_registry.url), "app")
    assert fault_registry.count(Kind.TAGS) == 4


async def test_a_slow_answer_times_out(fault_registry: FaultRegistry) -> None:
    fault_registry.add_tags("app", ["1.0"])
    fault_registry.slow(3.0, kinds=[Kind.TAGS])
    settings = ClientSettings(request_timeout=0.3)
    async with RegistryClient(settings=settings) as client:
        started = time.monotonic()
        with pytest.raises(RegistryUnavailable, match="timed out") as caught:
            await client.list_tags(endpoint_for(fault_registry.url), "app")
    assert time.monotonic() - started < 2.0
    assert label(fault_registry) in str(caught.value)


async def test_malformed_json_is_a_protocol_error(fault_registry: FaultRegistry) -> None:
    fault_registry.add_tags("app", ["1.0", "1.1"])
    fault_registry.malformed(kinds=[Kind.TAGS])
    async with RegistryClient(settings=FAST) as client:
        with pytest.raises(RegistryProtocolError, match="tag list of app is not valid JSON"):
            await client.list_tags(endpoint_for(fault_registry.url), "app")


@pytest.mark.parametrize("declared", [True, False], ids=["length-declared", "streamed"])
async def test_a_huge_body_is_refused(fault_registry: FaultRegistry, declared: bool) -> None:
    fault_registry.add_tags("app", ["1.0"])
    fault_registry.huge(3 * 1024 * 1024, declare_length=declared, kinds=[Kind.TAGS])
    settings = ClientSettings(max_body_bytes=1024 * 1024)
    async with RegistryClient(settings=settings) as client:
        with pytest.raises(RegistryProtocolError, match="larger than 1048576 bytes"):
            await client.list_tags(endpoint_for(fault_registry.url), "app")


# -- single-flight and caches -------------------------------------------------------------------


async def test_identical_concurrent_lookups_make_one_request(
    fault_registry: FaultRegistry,
) -> None:
    fault_registry.add_image("app", "1.0", platforms=["linux/amd64", "linux/arm64"])
    endpoint = endpoint_for(fault_registry.url)
    async with RegistryClient(settings=FAST) as client:
        lists = await asyncio.gather(*(client.list_tags(endpoint, "app") for _ in range(20)))
        infos = await asyncio.gather(
            *(client.tag_info(endpoint, "app", "1.0", platforms=AMD64) for _ in range(20))
        )
    assert set(lists) == {("1.0",)}
    assert infos[0] is not None and all(info == infos[0] for info in infos)
    counts = fault_registry.counts()
    assert counts[Kind.PING] == 1
    assert counts[Kind.TAGS] == 1
    assert counts[Kind.MANIFEST_GET] == 2  # the index, then the amd64 child
    assert counts[Kind.BLOB] == 1


async def test_a_tag_list_is_reused_until_its_ttl_passes(fault_registry: FaultRegistry) -> None:
    fault_registry.add_tags("app", ["1.0"])
    endpoint = endpoint_for(fault_registry.url)
    clock = ManualClock()
    async with RegistryClient(settings=ClientSettings(tag_list_ttl=30), clock=clock) as client:
        await client.list_tags(endpoint, "app")
        fault_registry.add_tags("app", ["1.1"])
        clock.advance(29)
        assert await client.list_tags(endpoint, "app") == ("1.0",)
        clock.advance(1)
        assert sorted(await client.list_tags(endpoint, "app")) == ["1.0", "1.1"]
    assert fault_registry.count(Kind.TAGS) == 2


async def test_metadata_is_cached_by_digest_so_a_repushed_tag_is_read_again(
    fault_registry: FaultRegistry,
) -> None:
    day = datetime(2024, 6, 1, tzinfo=UTC)
    fault_registry.add_image("app", "1.0", created=day)
    endpoint = endpoint_for(fault_registry.url)
    clock = ManualClock()
    settings = ClientSettings(digest_ttl=10, metadata_recheck=10)
    async with RegistryClient(settings=settings, clock=clock) as client:
        first = await client.tag_info(endpoint, "app", "1.0", platforms=AMD64)
        assert first is not None and first.created == day
        fault_registry.reset_log()

        clock.advance(5)  # within the re-check period: nothing is asked at all
        assert await client.tag_info(endpoint, "app", "1.0", platforms=AMD64) == first
        assert fault_registry.counts() == {}

        clock.advance(6)  # the digest is due a re-check: a HEAD tells that nothing moved
        warm = await client.tag_info(endpoint, "app", "1.0", platforms=AMD64)
        assert warm == first
        assert fault_registry.counts() == {Kind.MANIFEST_HEAD: 1}
        fault_registry.reset_log()

        repushed = fault_registry.add_image("app", "1.0", created=day + timedelta(days=1))
        clock.advance(11)
        fresh = await client.tag_info(endpoint, "app", "1.0", platforms=AMD64)
    assert fresh is not None
    assert (fresh.digest, fresh.created) == (repushed, day + timedelta(days=1))
    assert fault_registry.counts() == {Kind.MANIFEST_HEAD: 1, Kind.MANIFEST_GET: 1, Kind.BLOB: 1}


async def test_a_list_takes_the_newest_matching_child_and_its_own_digest(
    fault_registry: FaultRegistry,
) -> None:
    digest = fault_registry.add_image(
        "app", "1.0", platforms=["linux/amd64", "linux/arm64/v8"], media="oci"
    )
    endpoint = endpoint_for(fault_registry.url)
    async with RegistryClient(settings=FAST) as client:
        arm = await client.tag_info(endpoint, "app", "1.0", platforms=[Platform("linux", "arm64")])
        s390 = await client.tag_info(endpoint, "app", "1.0", platforms=[Platform("linux", "s390x")])
        both = await client.tag_info(endpoint, "app", "1.0", platforms=())
    assert arm is not None and arm.digest == digest
    assert s390 is None
    assert both is not None and both.digest == digest
    assert fault_registry.count(Kind.BLOB) == 2  # one config per child, each read once


async def test_a_body_that_does_not_match_its_digest_is_refused(
    fault_registry: FaultRegistry,
) -> None:
    fault_registry.add_image("app", "1.0")
    fault_registry.malformed(kinds=[Kind.MANIFEST_GET])
    async with RegistryClient(settings=FAST) as client:
        with pytest.raises(RegistryProtocolError, match="does not match its digest"):
            await client.tag_info(endpoint_for(fault_registry.url), "app", "1.0", platforms=AMD64)


async def test_a_wrong_content_type_on_a_config_blob_does_not_matter(
    fault_registry: FaultRegistry,
) -> None:
    fault_registry.add_image("app", "1.0", labels={"team": "a"})
    fault_registry.wrong_content_type("text/html", kinds=[Kind.BLOB])
    async with RegistryClient(settings=FAST) as client:
        info = await client.tag_info(
            endpoint_for(fault_registry.url), "app", "1.0", platforms=AMD64
        )
    assert info is not None and dict(info.labels) == {"team": "a"}


def test_the_system_clock_moves_forward() -> None:
    clock = SystemClock()
    assert clock.monotonic() <= clock.monotonic()
    assert clock.now().tzinfo is not None


# -- pacing ---------------------------------------------------------------------------------------


async def test_the_endpoint_limit_paces_api_requests_but_not_the_ping(
    fault_registry: FaultRegistry,
) -> None:
    for name in ("a", "b", "c", "d"):
        fault_registry.add_tags(name, ["1.0"])
    clock = ManualClock()
    endpoint = endpoint_for(fault_registry.url, limit=2)
    async with RegistryClient(settings=FAST, clock=clock) as client:
        for name in ("a", "b", "c", "d"):
            await client.list_tags(endpoint, name)
    # Two tokens saved up, then one every half second; the ping took none.
    assert clock.slept == pytest.approx([0.5, 0.5])


async def test_the_rate_limit_setting_overrides_every_endpoint(
    fault_registry: FaultRegistry,
) -> None:
    for name in ("a", "b", "c"):
        fault_registry.add_tags(name, ["1.0"])
    clock = ManualClock()
    settings = ClientSettings(rate_limit=1)
    async with RegistryClient(settings=settings, clock=clock) as client:
        for name in ("a", "b", "c"):
            await client.list_tags(endpoint_for(fault_registry.url), name)
    assert clock.slept == pytest.approx([1.0, 1.0])


async def test_concurrent_requests_to_one_registry_are_capped(
    fault_registry: FaultRegistry,
) -> None:
    for name in ("a", "b", "c"):
        fault_registry.add_tags(name, ["1.0"])
    fault_registry.slow(0.2, kinds=[Kind.TAGS])
    endpoint = endpoint_for(fault_registry.url)
    async with RegistryClient(settings=ClientSettings(max_concurrency=1)) as client:
        await client.ping(endpoint)
        started = time.monotonic()
        await asyncio.gather(*(client.list_tags(endpoint, n) for n in ("a", "b", "c")))
    assert time.monotonic() - started >= 0.55
