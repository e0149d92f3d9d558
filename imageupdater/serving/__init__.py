"""Serving an aiohttp application hardened against slow and greedy clients.

Every server the product starts (the admission server, the reconciler's probe and metrics
servers) goes through ``serve_app``. It owns what plain aiohttp leaves open:

* a deadline for the request head (from accept, or from the first byte after keep-alive
  idleness), for the request body, and for keep-alive idleness;
* a cap on open connections, bounded by the open-file limit (raised to the hard limit), which
  sheds the oldest connection that is idle or still sending its head before it refuses a new
  one, so probes stay answerable while someone holds many slow connections;
* a cap on requests in flight: beyond it a request is answered 503 with ``Retry-After``
  before its body is read; probe paths are exempt;
* TLS terminated per connection (``loop.start_tls``) under a handshake deadline, so a
  connection stuck in the handshake counts against the cap and can be shed like the others;
* a loop exception handler that turns a storm of failed ``accept()`` calls (EMFILE and
  friends) into one log line per interval with a count, and a filter that keeps aiohttp
  from logging a traceback for every undecodable request body (``unreadable_bodies``).

Only public APIs: a delegating ``asyncio.Protocol`` around the runner's protocol factory, a
``web.BaseSite`` that listens with it, ``loop.start_tls``, and an aiohttp middleware that
finds its connection by ``request.transport``. ``limits`` holds the settings and counters,
``connections`` the per-connection state machine and the caps, ``accept_errors`` the loop
exception handler.
"""

from __future__ import annotations

__all__ = [
    "AcceptErrorReporter",
    "HardenedServer",
    "ServerLimits",
    "ServerStats",
    "connection_cap",
    "raise_fd_limit",
    "serve_app",
]

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web

from imageupdater.serving.accept_errors import AcceptErrorReporter
from imageupdater.serving.connections import Guard
from imageupdater.serving.limits import ServerLimits, ServerStats, connection_cap, raise_fd_limit
from imageupdater.serving.unreadable_bodies import UnreadableBodyFilter


class _Site(web.BaseSite):
    """A TCP site that listens through the guard's protocol factory."""

    def __init__(
        self,
        runner: web.AppRunner,
        guard: Guard,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None,
        *,
        reuse_port: bool = False,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=guard.limits.backlog)
        self.guard = guard
        self.host = host
        self.requested_port = port
        self.reuse_port = reuse_port
        self.listener: asyncio.Server | None = None

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def port(self) -> int:
        if self.listener is not None and self.listener.sockets:
            return int(self.listener.sockets[0].getsockname()[1])
        return self.requested_port

    async def start(self) -> None:
        await super().start()
        # TLS is the guard's (start_tls per connection), so connections still in the
        # handshake count against the cap and have their own deadline.
        self.listener = await asyncio.get_running_loop().create_server(
            self.guard.protocol,
            self.host,
            self.requested_port,
            backlog=self._backlog,
            reuse_port=self.reuse_port or None,
        )

    async def stop(self) -> None:
        if self.listener is not None:
            self.listener.close()
        self.guard.abort_handshakes()
        await super().stop()


@dataclass(slots=True)
class HardenedServer:
    """A running server: where it listens and what its guards did."""

    port: int
    max_connections: int  # the cap in force, after the open-file bound
    stats: ServerStats
    _guard: Guard = field(repr=False)

    @property
    def connections(self) -> int:
        return len(self._guard.connections)

    @property
    def in_flight(self) -> int:
        return self._guard.in_flight


@contextlib.asynccontextmanager
async def serve_app(
    app: web.Application,
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    limits: ServerLimits | None = None,
    shutdown_timeout: float = 10.0,
    reuse_port: bool = False,
) -> AsyncIterator[HardenedServer]:
    """Serve ``app`` on (host, port) while the context is open; port 0 binds ephemerally.

    ``reuse_port`` listens with ``SO_REUSEPORT``: several processes of one user may then
    listen on the same port, and the kernel spreads new connections over them (the webhook's
    ``--workers``). The app must not be frozen yet: the guard's middleware goes first in its
    chain.
    """
    limits = limits or ServerLimits()
    cap = connection_cap(limits, raise_fd_limit())
    UnreadableBodyFilter.installed()
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    reporter: AcceptErrorReporter | None = None
    if not isinstance(previous, AcceptErrorReporter):
        reporter = AcceptErrorReporter(previous)
        loop.set_exception_handler(reporter)
    runner = web.AppRunner(
        app,
        access_log=None,
        keepalive_timeout=limits.idle_timeout,
        # A body left unread behind an answer (413, 503) is drained no longer than a body
        # may take, then the connection closes.
        lingering_time=limits.body_timeout,
        shutdown_timeout=shutdown_timeout,
    )

    def factory() -> asyncio.Protocol:
        assert runner.server is not None
        return runner.server()

    guard = Guard(factory, limits, cap, ssl_context)
    try:
        app.middlewares.insert(0, guard.middleware)
        await runner.setup()
        try:
            site = _Site(runner, guard, host, port, ssl_context, reuse_port=reuse_port)
            await site.start()
            guard.start_sweeping()
            yield HardenedServer(site.port, cap, guard.stats, guard)
        finally:
            await guard.stop_sweeping()
            await runner.cleanup()
    finally:
        if reporter is not None:
            reporter.close()
            if loop.get_exception_handler() is reporter:
                loop.set_exception_handler(previous)
