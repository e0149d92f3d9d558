"""End to end with the real registry: Debian's docker-registry notifies the receiver of a
push (its ``notifications: endpoints:``), and the Application is updated through the argocd
write-back at once, not an interval later."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import shutil
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from devcluster.kubeapi import KubeAPI
from devcluster.registry import BINARY, NotifyingRegistry, free_port
from devcluster.seeder import ImageSeeder
from imageupdater import kube
from imageupdater.pushevents import ReceiverConfig
from imageupdater.registries_conf import RegistriesConf
from imageupdater.service import ResolverService
from reconciler.apps_api import KubeApplications
from reconciler.controller import Controller, ControllerSettings
from reconciler.cycle import Cycle, CycleSettings
from reconciler.events import EventRecorder
from reconciler.metrics import ReceiverMetrics, ReconcilerMetrics
from reconciler.pushes import PushBatcher, TargetIndex, registry_aliases, repository_forgetter
from reconciler.receiver import Receiver, serve_receiver
from tests.reconciler.conftest import BASE, application, stored
from tests.waiting import async_wait_until

SECRET = "distribution-secret-91c"
pytestmark = pytest.mark.registry


async def test_a_pushed_tag_reaches_the_application_through_the_registry_s_notification(
    tmp_path: Path, kube_api: KubeAPI, cluster: kube.KubeClient
) -> None:
    if shutil.which(BINARY) is None:
        pytest.fail(f"{BINARY} is not installed: run ./dev test, which installs it")
    port = free_port()
    registry = NotifyingRegistry(
        tmp_path / "registry",
        f"http://127.0.0.1:{port}/webhook?type=distribution",
        secret=SECRET,
        backoff="200ms",
    )
    registry.start()
    try:
        conf = RegistriesConf.parse(
            f"registries:\n- name: local\n  prefix: {registry.host}\n  api_url: {registry.url}\n",
            source="test",
        )
        async with contextlib.AsyncExitStack() as stack:
            session = await stack.enter_async_context(aiohttp.ClientSession())
            seeder = ImageSeeder(registry.url, session)
            await seeder.push("team/app", "1.0.0", created=BASE)
            image = f"{registry.host}/team/app"
            kube_api.store.put(
                application("app", {"image-list": f"{image}:1.x"}, images=[f"{image}:1.0.0"])
            )
            resolver = await stack.enter_async_context(ResolverService(conf))
            metrics = ReconcilerMetrics(CollectorRegistry())
            api = KubeApplications(cluster, metrics)
            cycle = Cycle(
                api=api,
                resolve=resolver.resolve,
                scope=resolver.cycle,
                metrics=metrics,
                events=EventRecorder(cluster),
                settings=CycleSettings(),
                clock=lambda: dt.datetime.now(dt.UTC),
            )
            controller = Controller(
                api=api,
                cycle=cycle,
                metrics=metrics,
                settings=ControllerSettings(interval=3600),
            )
            receiver_metrics = ReceiverMetrics(CollectorRegistry())
            batcher = PushBatcher(
                targets=TargetIndex(
                    lambda: controller.index, cycle.reviews, cycle.settings.credentials
                ),
                run_for=controller.run_for,
                forget=repository_forgetter(resolver),
                metrics=receiver_metrics,
                window=0.2,
                aliases=lambda: registry_aliases(resolver.conf),
            )
            receiver = Receiver(ReceiverConfig({"distribution": SECRET}), batcher, receiver_metrics)
            await stack.enter_async_context(serve_receiver(receiver, "127.0.0.1", port, tls=None))
            task = asyncio.create_task(controller.run())
            try:
                # The first resync: 1.0.0 runs and is the newest.
                await async_wait_until(
                    lambda: controller.cycles, within=10, what="the first resync"
                )
                assert _images(kube_api) == []
                pushed_at = asyncio.get_running_loop().time()
                await seeder.push("team/app", "1.1.0", created=BASE + dt.timedelta(days=1))
                await async_wait_until(
                    lambda: _images(kube_api) == [f"{image}:1.1.0"],
                    within=10,
                    what="the Application updated to 1.1.0 from the registry's notification",
                )
                took = asyncio.get_running_loop().time() - pushed_at
                assert took < 5, f"push to patch took {took:.2f}s"
                # The resync and one targeted cycle (recorded once the cycle has ended).
                await async_wait_until(
                    lambda: len(controller.cycles) == 2, within=5, what="the targeted cycle"
                )
                await batcher.idle()
                assert receiver_metrics.push_to_update._sum.get() > 0
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    finally:
        registry.stop()


def _images(api: KubeAPI) -> list[str]:
    return list(stored(api, "app")["spec"]["source"].get("kustomize", {}).get("images", []))
