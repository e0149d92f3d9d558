"""The webhook's HTTP layer: aiohttp routes around ``Admission``.

``POST /validate`` and ``POST /mutate`` take an AdmissionReview and answer one; a body that
is too large gets 413, one that is not an AdmissionReview gets 400 with the reason — never a
500. ``GET /healthz`` (alive), ``GET /readyz`` (serving) and ``GET /metrics`` (Prometheus).
"""

from __future__ import annotations

__all__ = ["ADMISSION", "METRICS", "make_app"]

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from webhook import review
from webhook.admission import Admission, Decision
from webhook.metrics import WebhookMetrics

log = logging.getLogger("image_updater.webhook")

ADMISSION = web.AppKey("admission", Admission)
METRICS = web.AppKey("metrics", WebhookMetrics)
MAX_BODY = review.MAX_BODY


def _record(
    metrics: WebhookMetrics,
    endpoint: str,
    request: review.Request,
    decision: Decision,
    started: float,
) -> None:
    metrics.duration.labels(endpoint, request.operation, decision.outcome).observe(
        time.perf_counter() - started
    )
    if decision.denial_reason:
        metrics.denials.labels(decision.denial_reason).inc()
    for outcome, count in decision.mutations.items():
        if count:
            metrics.mutations.labels(outcome).inc(count)


def _handler(endpoint: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(http: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        received_at = asyncio.get_running_loop().time()
        admission = http.app[ADMISSION]
        metrics = http.app[METRICS]
        try:
            body = await http.read()
        except web.HTTPRequestEntityTooLarge:
            metrics.malformed.inc()
            raise
        try:
            request = review.decode(body)
        except review.MalformedReview as exc:
            metrics.malformed.inc()
            log.warning("refused a malformed review on /%s: %s", endpoint, exc)
            return web.json_response({"error": str(exc)}, status=400)
        if endpoint == "validate":
            decision = admission.validate(request)
        else:
            decision = await admission.mutate(request, received_at=received_at)
        _record(metrics, endpoint, request, decision, started)
        verdict = decision.verdict
        log.log(
            logging.INFO if not verdict.allowed or verdict.patch else logging.DEBUG,
            "%s %s %s/%s: %s",
            endpoint,
            request.operation,
            request.namespace,
            request.name,
            decision.outcome,
            extra={"uid": request.uid, "application": f"{request.namespace}/{request.name}"},
        )
        return web.json_response(review.encode(request, verdict))

    return handle


async def _healthz(http: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _metrics(http: web.Request) -> web.Response:
    payload = generate_latest(http.app[METRICS].registry)
    return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE_LATEST})


def make_app(
    admission: Admission, metrics: WebhookMetrics, *, max_body: int = MAX_BODY
) -> web.Application:
    app = web.Application(client_max_size=max_body)
    app[ADMISSION] = admission
    app[METRICS] = metrics
    app.router.add_post("/validate", _handler("validate"))
    app.router.add_post("/mutate", _handler("mutate"))
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _healthz)
    app.router.add_get("/metrics", _metrics)

    async def close_admission(app: web.Application) -> None:
        await app[ADMISSION].close()

    app.on_cleanup.append(close_admission)
    return app
