"""/readyz of the reconciler: ready once listed, unready while the API server is lost for
longer than the grace period, ready again by itself when it answers.

In-process against the API emulator with its fault injection (a 500 is an API server that
does not serve), probes served as the runner serves them; then the same through the
``image-updater run`` process.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp

from devcluster.kubeapi import KubeAPI, run_in_thread, write_kubeconfig
from devcluster.registry import free_port
from imageupdater import kube
from reconciler.apps_api import API_RETRIES, KubeApplications
from reconciler.controller import Controller, ControllerSettings
from reconciler.cycle import Cycle
from reconciler.health import serve_probes
from reconciler.metrics import ReconcilerMetrics
from tests.kube_activity import KubeActivity
from tests.waiting import async_wait_until, wait_until

BINARY = Path(sys.executable).with_name("image-updater")


async def readyz(session: aiohttp.ClientSession, port: int) -> tuple[int, str]:
    async with session.get(f"http://127.0.0.1:{port}/readyz") as answer:
        return answer.status, await answer.text()


@contextlib.asynccontextmanager
async def probed(controller: Controller, metrics: ReconcilerMetrics) -> AsyncIterator[int]:
    """The controller running, its probes served on 127.0.0.1; yields the health port."""
    task = asyncio.create_task(controller.run())
    try:
        async with serve_probes(
            "127.0.0.1",
            health_port=free_port(),
            metrics_port=0,
            registry=metrics.registry,
            ready=controller.ready,
        ) as (port,):
            yield port
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_readyz_turns_unready_when_the_api_server_is_lost_past_the_grace_and_recovers(
    kube_api: KubeAPI,
    kube_activity: KubeActivity,
    cluster: kube.KubeClient,
    make_cycle: Callable[..., Cycle],
    metrics: ReconcilerMetrics,
) -> None:
    api = KubeApplications(cluster, metrics)
    controller = Controller(
        api=api,
        cycle=make_cycle(api=api),
        metrics=metrics,
        settings=ControllerSettings(interval=3600, api_unready_after=0.5),
    )
    # The first list answers; then the watch fails, and so does the relist after it, retries
    # included (the next one, a few seconds in, answers again).
    kube_api.faults.inject(verb="watch", resource="applications", status=500)
    async with probed(controller, metrics) as port, aiohttp.ClientSession() as session:
        await controller.synced.wait()
        retries = API_RETRIES + 1
        kube_api.faults.inject(verb="list", resource="applications", status=500, times=retries)
        assert await readyz(session, port) == (200, "ok")

        async def unready() -> str | None:
            status, text = await readyz(session, port)
            return text if status == 503 else None

        reason: str = await async_wait_until(
            unready,
            within=5,
            what="/readyz to say the API server is lost",
        )
        assert reason.startswith(
            "not ready: the API server has not answered lists or watches of Applications in "
            "all namespaces for "
        )
        assert "(allowed: 0.5s)" in reason
        assert "500" in reason  # the last error says what the API server answered

        async def ready_again() -> bool:
            return await readyz(session, port) == (200, "ok")

        await async_wait_until(
            ready_again,  # type: ignore[arg-type]
            within=10,
            what="/readyz to recover by itself",
        )
        await kube_activity.until(lambda: kube_api.store.watchers >= 1, "watch after the relist")
    assert (
        metrics.registry.get_sample_value("image_updater_watch_restarts_total", {"reason": "error"})
        == 2.0
    )  # the watch, then the relist


async def test_a_short_outage_within_the_grace_keeps_readyz_ready(
    kube_api: KubeAPI,
    kube_activity: KubeActivity,
    cluster: kube.KubeClient,
    make_cycle: Callable[..., Cycle],
    metrics: ReconcilerMetrics,
) -> None:
    api = KubeApplications(cluster, metrics)
    controller = Controller(
        api=api,
        cycle=make_cycle(api=api),
        metrics=metrics,
        settings=ControllerSettings(interval=3600, api_unready_after=60),
    )
    kube_api.faults.inject(verb="watch", resource="applications", status=500)
    async with probed(controller, metrics) as port, aiohttp.ClientSession() as session:
        await kube_activity.until(
            lambda: kube_api.requests.count(verb="list", resource="applications") >= 2,
            "the relist after the failed watch",
            within=5,
        )
        assert await readyz(session, port) == (200, "ok")
        assert controller.ready() is True


async def test_readyz_waits_for_the_first_list(metrics: ReconcilerMetrics) -> None:
    async with (
        serve_probes(
            "127.0.0.1",
            health_port=free_port(),
            metrics_port=0,
            registry=metrics.registry,
            ready=lambda: False,
        ) as (port,),
        aiohttp.ClientSession() as session,
    ):
        assert await readyz(session, port) == (503, "not ready: Applications not listed yet")


def test_the_reconciler_process_turns_unready_without_the_api_server_and_recovers(
    tmp_path: Path,
) -> None:
    # Watches end every second, so the one after the faults are armed meets them.
    api = KubeAPI(max_watch_seconds=1.0)
    health = free_port()
    with run_in_thread(api) as running:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", running.url)
        process = subprocess.Popen(
            [
                *(str(BINARY), "run", "--kubeconfig", str(kubeconfig), "--interval", "1h"),
                *("--registries-conf-path", "", "--listen-address", "127.0.0.1"),
                *("--health-port", str(health), "--metrics-port", "0"),
                *("--api-unready-after", "1s"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

        def probe() -> tuple[int, str]:
            if process.poll() is not None:
                raise AssertionError(f"image-updater run exited {process.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{health}/readyz") as answer:
                    return answer.status, str(answer.read().decode())
            except urllib.error.HTTPError as refused:
                with refused:
                    return refused.code, str(refused.read().decode())

        try:
            wait_until(
                lambda: probe() == (200, "ok"),
                within=30,
                what="the reconciler process to be ready",
                ignoring=(OSError,),
            )
            api.faults.inject(verb="watch", resource="applications", status=500)
            retries = API_RETRIES + 1
            api.faults.inject(verb="list", resource="applications", status=500, times=retries)

            def unready() -> str | None:
                status, text = probe()
                return text if status == 503 else None

            text = wait_until(unready, within=10, what="the reconciler process to turn unready")
            assert "the API server has not answered" in text
            wait_until(
                lambda: probe() == (200, "ok"),
                within=15,
                what="the reconciler process to be ready again",
            )
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
