"""Registry-level credential caching: expiry, one fetch in flight, invalidation."""

from __future__ import annotations

import asyncio

import pytest

from imageupdater.credential_sources import CredentialCache
from imageupdater.credentials import CredentialRef, Credentials
from imageupdater.errors import CredentialError
from imageupdater.registries_conf import RegistriesConf
from tests.credentials.fakes import CountingResolver

REF = CredentialRef.parse("ext:/app/ecr-login.sh")
API = "https://123.dkr.ecr.example.com"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _get(cache: CredentialCache, expire_after: float, api_url: str = API) -> Credentials:
    return await cache.get(REF, registry_host="ecr", api_url=api_url, expire_after=expire_after)


async def test_credentials_are_fetched_once_and_reused_until_they_expire() -> None:
    resolver, clock = CountingResolver(), FakeClock()
    cache = CredentialCache(resolver, clock=clock)
    first = await _get(cache, 3600)
    clock.now += 3599
    assert await _get(cache, 3600) == first
    assert resolver.calls == 1
    clock.now += 1
    assert await _get(cache, 3600) == Credentials("user", "pass-2")
    assert resolver.calls == 2


async def test_credsexpire_zero_means_never_expire() -> None:
    resolver, clock = CountingResolver(), FakeClock()
    cache = CredentialCache(resolver, clock=clock)
    await _get(cache, 0)
    clock.now += 10 * 365 * 86400
    await _get(cache, 0)
    assert resolver.calls == 1


async def test_the_same_reference_for_another_endpoint_is_a_separate_entry() -> None:
    resolver = CountingResolver()
    cache = CredentialCache(resolver, clock=FakeClock())
    a = await _get(cache, 0, api_url="https://a.example.com")
    b = await _get(cache, 0, api_url="https://b.example.com")
    assert (a.password, b.password) == ("pass-1", "pass-2")
    assert CredentialCache.key("https://a.example.com", REF) in cache
    assert ("https://a.example.com", "ext:/app/ecr-login.sh") in cache


async def test_concurrent_requests_for_one_key_share_a_single_resolution() -> None:
    resolver = CountingResolver()
    resolver.gate.clear()
    cache = CredentialCache(resolver, clock=FakeClock())
    waiters = [asyncio.create_task(_get(cache, 60)) for _ in range(20)]
    await asyncio.sleep(0)
    resolver.gate.set()
    results = await asyncio.gather(*waiters)
    assert resolver.calls == 1
    assert set(results) == {Credentials("user", "pass-1")}


async def test_one_waiter_giving_up_does_not_cancel_the_shared_resolution() -> None:
    resolver = CountingResolver()
    resolver.gate.clear()
    cache = CredentialCache(resolver, clock=FakeClock())
    impatient = asyncio.create_task(_get(cache, 60))
    patient = asyncio.create_task(_get(cache, 60))
    await asyncio.sleep(0)
    impatient.cancel()
    resolver.gate.set()
    assert await patient == Credentials("user", "pass-1")
    with pytest.raises(asyncio.CancelledError):
        await impatient
    assert resolver.calls == 1


async def test_invalidate_forces_the_next_request_to_fetch_again() -> None:
    resolver = CountingResolver()
    cache = CredentialCache(resolver, clock=FakeClock())
    await _get(cache, 3600)
    key = CredentialCache.key(API, REF)
    cache.invalidate(key)
    assert key not in cache
    assert (await _get(cache, 3600)).password == "pass-2"
    cache.invalidate(("https://never-seen", "env:X"))  # unknown keys are fine


async def test_a_failed_script_is_shared_by_its_waiters_and_not_rerun_within_its_back_off() -> None:
    resolver, clock = CountingResolver(fail=True), FakeClock()
    resolver.gate.clear()
    cache = CredentialCache(resolver, clock=clock)
    waiters = [asyncio.create_task(_get(cache, 60)) for _ in range(3)]
    await asyncio.sleep(0)
    resolver.gate.set()
    outcomes = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(o, CredentialError) for o in outcomes)
    assert resolver.calls == 1
    resolver.fail = False
    clock.now += 9
    with pytest.raises(CredentialError, match="resolution 1 failed"):
        await _get(cache, 60)
    assert resolver.calls == 1, "a failing script must not run again within its back-off"
    clock.now += 1
    assert (await _get(cache, 60)).password == "pass-2"


async def test_a_script_that_keeps_failing_backs_off_longer_each_time_up_to_five_minutes() -> None:
    resolver, clock = CountingResolver(fail=True), FakeClock()
    cache = CredentialCache(resolver, clock=clock)
    pauses = []
    for _ in range(8):
        with pytest.raises(CredentialError):
            await _get(cache, 60)
        calls, waited = resolver.calls, 0.0
        while resolver.calls == calls:
            clock.now += 1
            waited += 1
            with pytest.raises(CredentialError):
                await _get(cache, 60)
        pauses.append(waited)
    assert pauses[:5] == [10, 20, 40, 80, 160]
    assert pauses[5:] == [300, 300, 300]


async def test_a_failed_secret_lookup_is_not_remembered() -> None:
    resolver = CountingResolver(fail=True)
    cache = CredentialCache(resolver, clock=FakeClock())
    ref = CredentialRef.parse("pullsecret:team/regcred")
    with pytest.raises(CredentialError):
        await cache.get(ref, registry_host="ecr", api_url=API, expire_after=0)
    resolver.fail = False
    await cache.get(ref, registry_host="ecr", api_url=API, expire_after=0)
    assert resolver.calls == 2


async def test_an_endpoint_supplies_ref_api_url_and_expiry() -> None:
    conf = RegistriesConf.parse(
        "registries:\n"
        "- name: ECR\n  prefix: ecr.example.com\n  api_url: https://ecr.example.com/\n"
        "  credentials: ext:/app/ecr-login.sh\n  credsexpire: 11h\n",
        source="registries.conf",
    )
    resolver, clock = CountingResolver(), FakeClock()
    cache = CredentialCache(resolver, clock=clock)
    endpoint = conf.lookup("ecr.example.com", "team/app")
    await cache.for_endpoint(endpoint)
    assert CredentialCache.key("https://ecr.example.com", REF) in cache
    clock.now += 11 * 3600
    await cache.for_endpoint(endpoint)
    assert resolver.calls == 2
    assert await cache.for_endpoint(conf.lookup("ghcr.io", "x")) is None
