"""Push events become targeted, coalesced cycles: a burst to one repository is one tag list
and one write per Application; only the Applications using the repository are processed;
the rate limit delays and never drops; and a payload is a hint, never trusted."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CollectorRegistry

from devcluster.kubeapi import KubeAPI
from devcluster.seeder import ImageSeeder
from imageupdater.pushevents import PushEvent
from imageupdater.pushevents.auth import hmac_sha256
from reconciler.metrics import ReceiverMetrics
from reconciler.pushes import HourlyLimiter, PushBatcher
from tests.receiver.conftest import SECRET
from tests.reconciler.conftest import BASE, application, stored

Start = Callable[..., Any]


def kustomize_images(api: KubeAPI, name: str) -> list[str]:
    return list(stored(api, name)["spec"]["source"].get("kustomize", {}).get("images", []))


async def test_a_burst_of_a_hundred_pushes_is_one_tag_list_and_one_write_per_application(
    start_pushes: Start,
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    seeder: ImageSeeder,
) -> None:
    image = await seeded(["1.0.0"])
    host, repository = image.split("/", 1)
    for name in ("one", "two"):
        kube_api.store.put(
            application(name, {"image-list": f"{image}:1.x"}, images=[f"{image}:1.0.0"])
        )
    kube_api.store.put(
        application(
            "other", {"image-list": f"{host}/elsewhere:1.x"}, images=[f"{host}/elsewhere:1.0.0"]
        )
    )
    async with start_pushes(window=0.5) as pushes:
        await pushes.controller.run_once("resync")
        await seeder.push(repository, "1.1.0", created=BASE)
        lists_before, cycles_before = pushes.tag_lists(), len(pushes.controller.cycles)
        patches_before = kube_api.requests.count(verb="patch")
        bodies = [
            json.dumps({"registry": host, "repository": repository, "tag": f"1.1.{n}"}).encode()
            for n in range(100)
        ]
        answers = await asyncio.gather(
            *(
                pushes.post("generic", body, headers={"X-Signature": hmac_sha256(SECRET, body)})
                for body in bodies
            )
        )
        assert {status for status, _ in answers} == {200}
        await pushes.batcher.idle()
        assert pushes.tag_lists() - lists_before == 1
        assert len(pushes.controller.cycles) - cycles_before == 1
        assert pushes.controller.cycles[-1].applications == 2  # "other" was not touched
        assert kube_api.requests.count(verb="patch") - patches_before == 2
        for name in ("one", "two"):
            assert kustomize_images(kube_api, name) == [f"{image}:1.1.0"]
        # Only the pushed tag 1.1.0 exists: the tags the payloads named were not trusted.
        coalesced = pushes.registry.get_sample_value("image_updater_push_events_coalesced_total")
        assert coalesced == 99


async def test_a_pushed_tag_the_strategy_does_not_allow_changes_nothing(
    start_pushes: Start,
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    seeder: ImageSeeder,
) -> None:
    image = await seeded(["1.0.0"])
    host, repository = image.split("/", 1)
    kube_api.store.put(
        application("pinned", {"image-list": f"{image}:1.x"}, images=[f"{image}:1.0.0"])
    )
    async with start_pushes(window=0.05) as pushes:
        await pushes.controller.run_once("resync")
        await seeder.push(repository, "2.0.0", created=BASE)
        body = json.dumps({"registry": host, "repository": repository, "tag": "2.0.0"}).encode()
        status, _ = await pushes.post(
            "generic", body, headers={"X-Signature": hmac_sha256(SECRET, body)}
        )
        assert status == 200
        await pushes.batcher.idle()
        assert pushes.batcher.batches_run == 1
        assert kustomize_images(kube_api, "pinned") == []


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[float, list[str]]] = []

    async def __call__(self, keys: Any) -> None:
        self.calls.append((asyncio.get_running_loop().time(), list(keys)))


class _Targets:
    async def targets(self, repository: tuple[str, str]) -> dict[str, tuple[Any, ...]]:
        return {f"argocd/{repository[1].replace('/', '-')}": ()}


async def test_the_rate_limit_delays_deliveries_and_drops_none() -> None:
    recorder = _Recorder()
    metrics = ReceiverMetrics(CollectorRegistry())
    batcher = PushBatcher(
        targets=_Targets(),  # type: ignore[arg-type]
        run_for=recorder,  # type: ignore[arg-type]
        forget=lambda image: 0,
        metrics=metrics,
        window=0.0,
        limiter=HourlyLimiter(36_000),  # one per 0.1 s
    )
    task = asyncio.create_task(batcher.run())
    try:
        start = asyncio.get_running_loop().time()
        for n in range(4):
            batcher.submit([PushEvent("r.example", f"team/app{n}", "1", type="generic")])
        # A repository already waiting absorbs a later delivery for it.
        batcher.submit([PushEvent("r.example", "team/app3", "2", type="generic")])
        async with asyncio.timeout(5):
            await batcher.idle()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    ran = sorted(key for _, keys in recorder.calls for key in keys)
    assert ran == [f"argocd/team-app{n}" for n in range(4)]
    times = [when - start for when, _ in recorder.calls]
    assert times[-1] >= 0.29  # three spacings after the first, never all at once
    assert metrics.delayed._value.get() >= 3
