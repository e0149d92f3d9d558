"""Probe and metrics servers of the reconciler: ``/healthz``, ``/readyz`` and ``/metrics``.

Upstream serves health on ``--health-port`` (8080) and metrics on ``--metrics-port``
(8081); the same port may serve both. ``/readyz`` answers what ``ready`` says: ready once
the first list of Applications has been indexed, and not while the API server has been lost
for longer than its grace period (``Controller.ready``); a 503 names the reason. Both are
served hardened (``imageupdater.serving``): head, body and idle deadlines and connection and
in-flight caps, so a slow client cannot starve the kubelet's probes.
"""

from __future__ import annotations

__all__ = ["PROBE_LIMITS", "Readiness", "serve_probes"]

import contextlib
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from imageupdater.serving import ServerLimits, serve_app

# True when ready; otherwise False, or why not in a sentence.
Readiness = Callable[[], bool | str]
_NOT_LISTED = "Applications not listed yet"


def _app(
    *, health: bool, metrics: bool, registry: CollectorRegistry, ready: Readiness
) -> web.Application:
    app = web.Application()

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(_: web.Request) -> web.Response:
        answer = ready()
        if answer is True:
            return web.Response(text="ok")
        return web.Response(status=503, text=f"not ready: {answer or _NOT_LISTED}")

    async def scrape(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    if health:
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/readyz", readyz)
    if metrics:
        app.router.add_get("/metrics", scrape)
    return app


# Probes and scrapes are small and few: a tighter cap than the admission server's leaves
# the reconciler's descriptors to its watches and registry clients.
PROBE_LIMITS = ServerLimits(max_connections=256, max_in_flight=32)


@contextlib.asynccontextmanager
async def serve_probes(
    address: str,
    *,
    health_port: int,
    metrics_port: int,
    registry: CollectorRegistry,
    ready: Readiness,
    limits: ServerLimits = PROBE_LIMITS,
) -> AsyncIterator[list[int]]:
    """Serve while the context is open; yields the bound ports (0 ports bind ephemerally)."""
    plans: list[tuple[int, bool, bool]] = []
    if health_port >= 0 and metrics_port >= 0 and health_port == metrics_port and health_port:
        plans.append((health_port, True, True))
    else:
        if health_port:
            plans.append((health_port, True, False))
        if metrics_port:
            plans.append((metrics_port, False, True))
    async with contextlib.AsyncExitStack() as stack:
        ports: list[int] = []
        for port, health, metrics in plans:
            app = _app(health=health, metrics=metrics, registry=registry, ready=ready)
            server = await stack.enter_async_context(serve_app(app, address, port, limits=limits))
            ports.append(server.port)
        yield ports
