"""Registry metric labels are the configured registries plus ``other``: however many hosts
tenants name, the number of series stays put, while errors still name the real host."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from devcluster.faultregistry import FaultRegistry
from imageupdater.errors import RegistryRefused
from imageupdater.registries_conf import RegistriesConf
from imageupdater.registry import ClientSettings, Counters, RegistryClient
from imageupdater.registry.counters import OTHER
from imageupdater.registry.reachability import ReachabilityPolicy
from imageupdater.registry_metrics import RegistryCounterCollector

from .conftest import endpoint_for

TENANT_HOSTS = 10_000


def _hosts(n: int) -> list[str]:
    # IP literals inside 10.0.0.0/8: refused before any packet, so 10,000 cost no network.
    return [f"10.{i // 65536}.{i // 256 % 256}.{i % 256}:5000" for i in range(n)]


def _series(registry: CollectorRegistry) -> dict[str, set[tuple[tuple[str, str], ...]]]:
    out: dict[str, set[tuple[tuple[str, str], ...]]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            out.setdefault(sample.name, set()).add(tuple(sorted(sample.labels.items())))
    return out


async def test_ten_thousand_tenant_hosts_make_a_bounded_number_of_series(
    fault_registry: FaultRegistry,
) -> None:
    fault_registry.add_tags("app", ["1.0"])
    conf = RegistriesConf()
    configured = endpoint_for(fault_registry.url)
    settings = ClientSettings(reachability=ReachabilityPolicy())
    started = time.monotonic()
    async with RegistryClient(settings=settings) as client:
        await client.list_tags(configured, "app")
        results = await asyncio.gather(
            *(client.ping(conf.lookup(host, "app")) for host in _hosts(TENANT_HOSTS)),
            return_exceptions=True,
        )
        snapshot = client.snapshot()
    took = time.monotonic() - started
    refused = [r for r in results if isinstance(r, RegistryRefused)]
    assert len(refused) == TENANT_HOSTS
    assert refused[-1].registry == "10.0.39.15:5000"  # the error keeps the real host
    assert "10.0.39.15" in str(refused[-1])

    registry = CollectorRegistry()
    registry.register(RegistryCounterCollector(lambda: snapshot))
    series = _series(registry)
    label = fault_registry.url.removeprefix("http://")
    totals = series["argocd_image_updater_registry_requests_total"]
    assert totals == {(("registry", label),), (("registry", OTHER),)}
    assert len(series["image_updater_registry_requests_total"]) <= 2 * 6 * 5
    assert snapshot["requests"][OTHER] == {"ping": {"error": TENANT_HOSTS}}
    assert took < 30, f"refusing {TENANT_HOSTS} hosts took {took:.1f}s"


def test_counters_fold_names_past_their_limit_into_other() -> None:
    counters = Counters(max_registries=3)
    for i in range(10):
        counters.request(f"r{i}.example", "tags", 200)
    counters.request("r0.example", "tags", 200)
    snapshot = counters.snapshot()
    assert set(snapshot["requests"]) == {"r0.example", "r1.example", "r2.example", OTHER}
    assert snapshot["requests"]["r0.example"]["tags"] == {"2xx": 2}
    assert snapshot["requests"][OTHER]["tags"] == {"2xx": 7}
    assert counters.requests(registry=OTHER) == 7


@pytest.mark.parametrize("origin", ["config", "builtin"])
async def test_operator_registries_keep_their_own_label(
    fault_registry: FaultRegistry, origin: str
) -> None:
    fault_registry.add_tags("app", ["1.0"])
    endpoint = endpoint_for(fault_registry.url, origin=origin)
    async with RegistryClient() as client:
        await client.list_tags(endpoint, "app")
        requests = client.snapshot()["requests"]
    assert set(requests) == {fault_registry.url.removeprefix("http://")}
