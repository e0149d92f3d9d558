# ruff: noqa: F811 - the reconciler tests' fixtures are imported to be used here
"""Fixtures for the receiver: the reconciler's (emulated cluster, real registry, a cycle)
plus a controller running its loop and a receiver served on 127.0.0.1 in front of it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from imageupdater import kube
from imageupdater.pushevents import ReceiverConfig
from imageupdater.service import ResolverService
from reconciler.apps_api import KubeApplications
from reconciler.controller import Controller, ControllerSettings
from reconciler.cycle import Cycle
from reconciler.metrics import ReceiverMetrics, ReconcilerMetrics
from reconciler.pushes import (
    HourlyLimiter,
    PushBatcher,
    TargetIndex,
    registry_aliases,
    repository_forgetter,
)
from reconciler.receiver import Receiver, serve_receiver
from reconciler.receiver_tls import TlsSettings
from tests.reconciler.conftest import (  # noqa: F401 - fixtures shared with the reconciler tests
    conf,
    make_cycle,
    metrics,
    resolver,
    seeded,
)

SECRET = "push-secret-3f9c2a"


@dataclass
class Pushes:
    """A running controller with a receiver in front of it."""

    controller: Controller
    batcher: PushBatcher
    receiver: Receiver
    resolver: ResolverService
    url: str
    session: aiohttp.ClientSession
    receiver_metrics: ReceiverMetrics
    registry: CollectorRegistry

    def tag_lists(self) -> int:
        snapshot = self.resolver.client.snapshot()["requests"]
        return sum(sum(kinds.get("tags", {}).values()) for kinds in snapshot.values())

    async def post(self, kind: str, body: bytes, **kwargs: Any) -> tuple[int, str]:
        headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
        params = {"type": kind, **kwargs.pop("params", {})}
        async with self.session.post(
            self.url + "/webhook", data=body, headers=headers, params=params, **kwargs
        ) as response:
            return response.status, await response.text()


@pytest.fixture
def start_pushes(
    cluster: kube.KubeClient,
    resolver: ResolverService,
    make_cycle: Callable[..., Cycle],
    metrics: ReconcilerMetrics,
) -> Callable[..., contextlib.AbstractAsyncContextManager[Pushes]]:
    @contextlib.asynccontextmanager
    async def start(
        *,
        secrets: dict[str, str] | None = None,
        window: float = 0.2,
        limiter: HourlyLimiter | None = None,
        tls: TlsSettings | None = None,
        is_leader: Callable[[], bool] = lambda: True,
        resync: bool = True,
    ) -> AsyncIterator[Pushes]:
        api = KubeApplications(cluster, metrics)
        cycle = make_cycle(api=api)
        controller = Controller(
            api=api,
            cycle=cycle,
            metrics=metrics,
            settings=ControllerSettings(interval=3600, debounce=0.05, resync=resync),
        )
        registry = CollectorRegistry()
        receiver_metrics = ReceiverMetrics(registry)

        def aliases() -> dict[str, str]:
            return registry_aliases(resolver.conf)

        batcher = PushBatcher(
            targets=TargetIndex(
                lambda: controller.index, cycle.reviews, cycle.settings.credentials
            ),
            run_for=controller.run_for,
            forget=repository_forgetter(resolver),
            metrics=receiver_metrics,
            window=window,
            limiter=limiter,
            aliases=aliases,
        )
        receiver = Receiver(
            ReceiverConfig(secrets or {"generic": SECRET, "distribution": SECRET}),
            batcher,
            receiver_metrics,
            is_leader=is_leader,
        )
        task = asyncio.create_task(controller.run())
        try:
            async with (
                serve_receiver(receiver, "127.0.0.1", 0, tls=tls) as server,
                aiohttp.ClientSession() as session,
            ):
                scheme = "https" if tls is not None else "http"
                await controller.synced.wait()
                yield Pushes(
                    controller,
                    batcher,
                    receiver,
                    resolver,
                    f"{scheme}://127.0.0.1:{server.port}",
                    session,
                    receiver_metrics,
                    registry,
                )
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return start
