"""A reconcile cycle reads each repository once, however long it runs past the TTLs."""

from __future__ import annotations

from devcluster.faultregistry import FaultRegistry, Kind
from imageupdater.registry import ClientSettings, RegistryClient

from .conftest import ManualClock, endpoint_for


async def test_inside_a_cycle_a_tag_list_read_in_it_stays_fresh_past_its_ttl(
    fault_registry: FaultRegistry,
) -> None:
    fault_registry.add_tags("app", ["1.0"])
    endpoint = endpoint_for(fault_registry.url)
    clock = ManualClock()
    async with RegistryClient(settings=ClientSettings(tag_list_ttl=30), clock=clock) as client:
        with client.cycle():
            await client.list_tags(endpoint, "app")
            clock.advance(45)  # a long cycle
            await client.list_tags(endpoint, "app")
            assert fault_registry.count(Kind.TAGS) == 1
        await client.list_tags(endpoint, "app")  # after the cycle the TTL rules again
    assert fault_registry.count(Kind.TAGS) == 2


async def test_a_new_cycle_does_not_keep_what_an_earlier_one_read(
    fault_registry: FaultRegistry,
) -> None:
    fault_registry.add_tags("app", ["1.0"])
    endpoint = endpoint_for(fault_registry.url)
    clock = ManualClock()
    async with RegistryClient(settings=ClientSettings(tag_list_ttl=30), clock=clock) as client:
        with client.cycle():
            await client.list_tags(endpoint, "app")
        clock.advance(120)
        fault_registry.add_tags("app", ["1.1"])
        with client.cycle():
            assert sorted(await client.list_tags(endpoint, "app")) == ["1.0", "1.1"]
    assert fault_registry.count(Kind.TAGS) == 2
