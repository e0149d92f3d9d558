"""Three resolution services (three replicas' worth) on one Redis and the fault registry,
which counts every request it answers."""

from __future__ import annotations

import asyncio
import time

from devcluster.faultregistry import FaultRegistry, Kind
from imageupdater.errors import RegistryUnavailable
from imageupdater.registry import ClientSettings
from imageupdater.service import ResolverService
from imageupdater.shared_cache_settings import SharedCacheSettings
from tests.registry_client.test_resolver import conf_for, policy

FAST = ClientSettings(backoff=0.01, tls_cert_dir=None)


async def test_three_services_resolving_at_once_from_a_slow_registry_make_one_tag_list_request(
    settings: SharedCacheSettings, fault_registry: FaultRegistry
) -> None:
    fault_registry.add_tags("app", ["1.0.0", "1.1.0", "2.0.0"])
    fault_registry.slow(0.3, kinds=[Kind.TAGS])
    conf = conf_for(fault_registry)
    wanted = policy(fault_registry, "app")
    async with (
        ResolverService(conf, settings=FAST, shared=settings) as a,
        ResolverService(conf, settings=FAST, shared=settings) as b,
        ResolverService(conf, settings=FAST, shared=settings) as c,
    ):
        results = await asyncio.gather(*(s.resolve(wanted) for s in (a, b, c)))
    assert [r.tag for r in results] == ["2.0.0"] * 3
    assert fault_registry.count(Kind.TAGS) == 1


async def test_when_the_lock_holders_fetch_fails_the_others_stop_waiting_and_ask_themselves(
    settings: SharedCacheSettings, fault_registry: FaultRegistry
) -> None:
    fault_registry.add_tags("app", ["1.0.0"])
    # 1 + 3 retries: the first replica's whole fetch fails, later ones succeed.
    fault_registry.fail(4, kinds=[Kind.TAGS])
    fault_registry.slow(0.05, kinds=[Kind.TAGS])
    conf = conf_for(fault_registry)
    wanted = policy(fault_registry, "app")
    async with (
        ResolverService(conf, settings=FAST, shared=settings) as a,
        ResolverService(conf, settings=FAST, shared=settings) as b,
        ResolverService(conf, settings=FAST, shared=settings) as c,
    ):
        started = time.monotonic()
        results = await asyncio.gather(
            *(s.resolve(wanted) for s in (a, b, c)), return_exceptions=True
        )
        took = time.monotonic() - started
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 1 and isinstance(failed[0], RegistryUnavailable)
    assert [r.tag for r in results if not isinstance(r, BaseException)] == ["1.0.0"] * 2
    assert took < settings.lock_wait  # they did not sit out the whole wait
