"""The registry webhook receiver: ``POST /webhook?type=<type>`` (or ``X-Registry-Type``)
and ``GET /healthz``, served hardened (``imageupdater.serving``) with TLS by default.

Per delivery, stopping at the first refusal (each counted by type and reason): the type
must be served (``--webhook-require-secret``); content type, event header and shared
secret are checked from the head alone, before the body is read; the body may hold at
most 1 MiB (413); a signed body's HMAC is checked and replays refused; then the payload
is read (``imageupdater.pushevents``). Accepted events go to the ``PushBatcher`` and the
answer is ``200 Webhook received and processing`` at once, as upstream. A follower (with
leader election) answers 503 before reading anything: only the leader runs cycles, and a
registry that retries reaches it. Refusals are logged at most once a minute per (type,
reason), with how many were not logged, so a flood of bad deliveries cannot flood the log.
"""

from __future__ import annotations

__all__ = ["MAX_BODY", "RECEIVER", "Receiver", "make_app", "receiving", "serve_receiver"]

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from imageupdater.errors import InvalidPushEvent
from imageupdater.pushevents import (
    SOURCES,
    Delivery,
    ReceiverConfig,
    ReplayGuard,
    admit_body,
    admit_head,
)
from imageupdater.serving import HardenedServer, ServerLimits, serve_app
from reconciler.metrics import ReceiverMetrics
from reconciler.pushes import PushBatcher
from reconciler.receiver_tls import TlsSettings

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from imageupdater.credentials import CredentialRules
    from imageupdater.service import ResolverService
    from reconciler.controller import Controller
    from reconciler.options import ReceiverOptions

log = logging.getLogger("image_updater.webhook")

MAX_BODY = 1 << 20  # upstream's maxWebhookBodySize
_LOG_EVERY = 60.0


@dataclass(slots=True)
class _Quiet:
    last: float
    suppressed: int = 0


class Receiver:
    """Judges deliveries and hands accepted events to ``batcher``."""

    def __init__(
        self,
        config: ReceiverConfig,
        batcher: PushBatcher,
        metrics: ReceiverMetrics,
        *,
        is_leader: Callable[[], bool] = lambda: True,
        replays: ReplayGuard | None = None,
        max_body: int = MAX_BODY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.batcher = batcher
        self.metrics = metrics
        self.is_leader = is_leader
        self.replays = replays or ReplayGuard()
        self.max_body = max_body
        self._clock = clock
        self._quiet: dict[tuple[str, str], _Quiet] = {}

    async def webhook(self, request: web.Request) -> web.Response:
        head = Delivery(
            query={key: request.query[key] for key in request.query},
            headers={key.lower(): value for key, value in request.headers.items()},
        )
        claimed = head.query.get("type", "") or head.header("X-Registry-Type")
        label = claimed if claimed in SOURCES else "unknown"
        self.metrics.received.labels(label).inc()
        if not self.is_leader():
            return web.Response(
                status=503,
                headers={"Retry-After": "5"},
                text="not the leader: this replica runs no updates; retry",
            )
        received = self._clock()
        try:
            source, secret = self.config.source(head)
            admit_head(source, secret, head)
            if request.content_length is not None and request.content_length > self.max_body:
                raise InvalidPushEvent(
                    f"request body too large (limit {self.max_body} bytes)",
                    reason="too_large",
                    status=413,
                )
            try:
                body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                raise InvalidPushEvent(
                    f"request body too large (limit {self.max_body} bytes)",
                    reason="too_large",
                    status=413,
                ) from None
            delivery = Delivery(head.query, head.headers, body)
            admit_body(source, secret, delivery, self.replays, received)
            events = source.parse(delivery)
        except InvalidPushEvent as exc:
            self.metrics.rejected.labels(label, exc.reason).inc()
            self._log_refusal(label, exc, request.remote or "")
            return web.Response(status=exc.status, text=str(exc))
        self.metrics.accepted.labels(source.name).inc(len(events))
        if not events:
            return web.Response(text="Webhook received: no push to act on")
        log.info(
            "push event from %s (%s): %s%s",
            request.remote or "-",
            source.name,
            events[0],
            f" and {len(events) - 1} more" if len(events) > 1 else "",
        )
        self.batcher.submit(events, received)
        return web.Response(text="Webhook received and processing")

    def _log_refusal(self, label: str, exc: InvalidPushEvent, remote: str) -> None:
        now = self._clock()
        key = (label, exc.reason)
        quiet = self._quiet.get(key)
        if quiet is not None and now - quiet.last < _LOG_EVERY:
            quiet.suppressed += 1
            return
        more = (
            f" ({quiet.suppressed} more like it not logged)" if quiet and quiet.suppressed else ""
        )
        self._quiet[key] = _Quiet(now)
        log.warning("refused a %s webhook delivery from %s: %s%s", label, remote or "-", exc, more)


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="OK")


RECEIVER: web.AppKey[Receiver] = web.AppKey("receiver", Receiver)


def make_app(receiver: Receiver) -> web.Application:
    # client_max_size makes aiohttp itself stop reading past the limit (413) when a
    # chunked body gives no Content-Length to check first.
    app = web.Application(client_max_size=receiver.max_body)
    app[RECEIVER] = receiver
    app.router.add_post("/webhook", receiver.webhook)
    app.router.add_get("/healthz", _healthz)
    return app


@contextlib.asynccontextmanager
async def serve_receiver(
    receiver: Receiver,
    host: str,
    port: int,
    *,
    tls: TlsSettings | None,
    limits: ServerLimits | None = None,
) -> AsyncIterator[HardenedServer]:
    """Serve the receiver (``tls=None``: plain HTTP, ``--disable-tls``) and run its batcher
    while the block runs."""
    import asyncio

    async with contextlib.AsyncExitStack() as stack:
        context = None
        if tls is not None:
            context = await stack.enter_async_context(tls.serving())
        else:
            log.warning("webhook receiver serves plain HTTP (--disable-tls)")
        batches = asyncio.create_task(receiver.batcher.run(), name="push-batcher")

        async def stop_batches() -> None:
            batches.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await batches

        stack.push_async_callback(stop_batches)
        server = await stack.enter_async_context(
            serve_app(make_app(receiver), host, port, ssl_context=context, limits=limits)
        )
        log.info(
            "webhook receiver on %s://%s:%d serving %s",
            "https" if context is not None else "http",
            host,
            server.port,
            ", ".join(receiver.config.enabled()) or "no type",
        )
        yield server


@contextlib.asynccontextmanager
async def receiving(
    options: ReceiverOptions,
    *,
    controller: Controller,
    resolver: ResolverService,
    registry: CollectorRegistry,
    rules: CredentialRules,
    is_leader: Callable[[], bool],
) -> AsyncIterator[HardenedServer]:
    """The process wiring: a receiver whose batches run as the controller's targeted
    cycles, its metrics in ``registry``, served while the block runs."""
    from reconciler.pushes import (
        HourlyLimiter,
        TargetIndex,
        registry_aliases,
        repository_forgetter,
    )

    def aliases() -> dict[str, str]:
        return registry_aliases(resolver.conf)  # follows registries.conf reloads

    metrics = ReceiverMetrics(registry)
    batcher = PushBatcher(
        targets=TargetIndex(
            lambda: controller.index,
            controller.cycle.reviews,
            rules,
            aliases,
            configs=controller.cycle.configs,
        ),
        run_for=controller.run_for,
        forget=repository_forgetter(resolver),
        metrics=metrics,
        window=options.window,
        limiter=HourlyLimiter(options.ratelimit_allowed) if options.ratelimit_allowed else None,
        aliases=aliases,
    )
    receiver = Receiver(options.config, batcher, metrics, is_leader=is_leader)
    async with serve_receiver(receiver, options.address, options.port, tls=options.tls) as server:
        yield server
