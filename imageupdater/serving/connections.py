"""The connections of one listener: their phases and deadlines, the caps, and the middleware
through which aiohttp's handlers report which connection is handling a request."""

from __future__ import annotations

__all__ = ["Guard", "GuardedProtocol", "Phase"]

import asyncio
import contextlib
import enum
import logging
import ssl
from collections.abc import Awaitable, Callable

from aiohttp import web

from imageupdater.serving.limits import ServerLimits, ServerStats

log = logging.getLogger("image_updater.serving")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Phase(enum.Enum):
    HANDSHAKE = "handshake"  # TLS not established yet
    ACCEPTED = "accepted"  # nothing of a request received yet
    HEAD = "head"  # bytes of a request head received, the handler not reached
    HANDLING = "handling"  # a request is in the application
    IDLE = "idle"  # between requests on a keep-alive connection


class GuardedProtocol(asyncio.Protocol):
    """One connection: delegates to aiohttp's protocol, enforces the phase deadlines.

    With TLS it first sits on the raw socket, then (``loop.start_tls``) is the protocol of
    the TLS transport: aiohttp's protocol only sees the connection once the handshake is done.
    """

    def __init__(self, guard: Guard, inner: asyncio.Protocol) -> None:
        self.guard = guard
        self.inner = inner
        self.transport: asyncio.Transport | None = None
        self.phase = Phase.ACCEPTED
        self.started = False  # inner.connection_made was called
        self.lost = False
        self.pending = False  # bytes of a next request arrived while handling this one
        self._early: list[bytes] = []  # decrypted bytes that beat the end of start_tls
        # When the current phase is over (loop time); the guard's sweep enforces it.
        self.deadline: float | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if not self.guard.admit(self):
            self.lost = True
            transport.abort()
            return
        if self.guard.tls is None:
            self.start(transport)
            return
        self.phase = Phase.HANDSHAKE
        # start_tls must be the one to read the ClientHello.
        transport.pause_reading()
        self._arm(self.guard.limits.handshake_timeout)
        self.guard.handshake(self, transport)

    def start(self, transport: asyncio.Transport) -> None:
        if self.lost:
            return
        self.transport = transport
        self.phase = Phase.ACCEPTED
        self._arm(self.guard.limits.header_timeout)
        self.started = True
        self.inner.connection_made(transport)
        early, self._early = self._early, []
        for chunk in early:
            self.data_received(chunk)

    def data_received(self, data: bytes) -> None:
        if self.lost:
            return
        if not self.started:
            # SSLProtocol delivers what came with the handshake before start_tls returns.
            self._early.append(data)
            return
        if self.phase is Phase.IDLE:
            self.phase = Phase.HEAD
            self._arm(self.guard.limits.header_timeout)
        elif self.phase is Phase.ACCEPTED:
            # The deadline stays the one set at accept: a dribbled head gains no time.
            self.phase = Phase.HEAD
        elif self.phase is Phase.HANDLING:
            self.pending = True
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        if not self.started or self.lost:
            return None
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.lost and not self.started:
            return
        self.lost = True
        self._disarm()
        self.guard.forget(self)
        if self.started:
            self.started = False
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.started:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.started:
            self.inner.resume_writing()

    def handling(self) -> None:
        self.phase = Phase.HANDLING
        self.pending = False
        self._disarm()

    def handled(self) -> None:
        if self.lost or self.transport is None or self.transport.is_closing():
            return
        if self.pending:
            self.phase = Phase.HEAD
            self._arm(self.guard.limits.header_timeout)
        else:
            self.phase = Phase.IDLE
            self._arm(self.guard.limits.idle_timeout)

    def flushed(self) -> bool:
        return self.transport is None or self.transport.get_write_buffer_size() == 0

    def drop(self) -> None:
        self._disarm()
        if self.transport is not None:
            self.transport.abort()

    # A deadline is a number the guard's sweep reads, not a loop timer: a timer per phase
    # change is three heap pushes and cancels per request on the hot path.
    def _arm(self, delay: float) -> None:
        self.deadline = self.guard.loop.time() + delay

    def _disarm(self) -> None:
        self.deadline = None

    def expire(self) -> None:
        self.deadline = None
        if self.phase is Phase.HANDLING:
            return
        if self.phase is Phase.IDLE:
            self.guard.stats.idle_timeouts += 1
        elif self.phase is Phase.HANDSHAKE:
            self.guard.stats.handshake_timeouts += 1
        else:
            self.guard.stats.header_timeouts += 1
        self.drop()


class Guard:
    """The connections of one listener and the requests in flight on them."""

    def __init__(
        self,
        factory: Callable[[], asyncio.Protocol],
        limits: ServerLimits,
        cap: int,
        tls: ssl.SSLContext | None,
    ) -> None:
        self.factory = factory
        self.limits = limits
        self.cap = cap
        self.tls = tls
        self.stats = ServerStats()
        self.connections: dict[GuardedProtocol, None] = {}  # an ordered set, oldest first
        self.by_transport: dict[asyncio.BaseTransport, GuardedProtocol] = {}
        self.handshakes: set[asyncio.Task[None]] = set()
        self.in_flight = 0
        self.loop = asyncio.get_running_loop()
        # Deadlines are checked this often: a tenth of the shortest, so a phase lasts at
        # most 10 % longer than its limit, and never more often than every 20 ms.
        shortest = min(limits.header_timeout, limits.idle_timeout, limits.handshake_timeout)
        self.tick = min(max(shortest / 10, 0.02), 0.5)
        self._sweeper: asyncio.Task[None] | None = None

    def start_sweeping(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep())

    async def stop_sweeping(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            now = self.loop.time()
            late = [
                conn
                for conn in self.connections
                if conn.deadline is not None and conn.deadline <= now
            ]
            for conn in late:
                conn.expire()

    def protocol(self) -> asyncio.Protocol:
        return GuardedProtocol(self, self.factory())

    def admit(self, conn: GuardedProtocol) -> bool:
        assert conn.transport is not None
        if len(self.connections) >= self.cap:
            victim = self._victim()
            if victim is None:
                self.stats.refused_connections += 1
                return False
            self.stats.shed_connections += 1
            self.forget(victim)
            victim.drop()
        self.connections[conn] = None
        self.by_transport[conn.transport] = conn
        return True

    def _victim(self) -> GuardedProtocol | None:
        """The oldest connection not being handled, preferring one with nothing left to send
        (an abort discards unsent bytes)."""
        fallback = None
        for conn in self.connections:
            if conn.phase is Phase.HANDLING:
                continue
            if conn.flushed():
                return conn
            fallback = fallback or conn
        return fallback

    def forget(self, conn: GuardedProtocol) -> None:
        self.connections.pop(conn, None)
        if conn.transport is not None and self.by_transport.get(conn.transport) is conn:
            del self.by_transport[conn.transport]

    def handshake(self, conn: GuardedProtocol, raw: asyncio.Transport) -> None:
        task = asyncio.create_task(self._handshake(conn, raw))
        self.handshakes.add(task)
        task.add_done_callback(self.handshakes.discard)

    async def _handshake(self, conn: GuardedProtocol, raw: asyncio.Transport) -> None:
        assert self.tls is not None
        try:
            tls = await asyncio.get_running_loop().start_tls(
                raw,
                conn,
                self.tls,
                server_side=True,
                # The sweep enforces the handshake deadline (and counts it); this one is
                # only the backstop, a little later.
                ssl_handshake_timeout=self.limits.handshake_timeout + 3 * self.tick,
                # A peer that never answers our close_notify holds a descriptor meanwhile.
                ssl_shutdown_timeout=self.limits.handshake_timeout,
            )
        except OSError as exc:
            # The client's failure (no shared cipher, reset, shed, timed out): one debug line,
            # not an error per attacker connection. start_tls has closed the socket.
            log.debug("TLS handshake failed: %r", exc)
            conn.connection_lost(None)
            return
        if tls is None or conn.lost or conn not in self.connections:
            # Shed or gone while the handshake finished.
            if tls is not None:
                tls.abort()
            return
        self.by_transport.pop(raw, None)
        self.by_transport[tls] = conn
        conn.start(tls)

    def abort_handshakes(self) -> None:
        for task in list(self.handshakes):
            task.cancel()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        transport = request.transport
        conn = self.by_transport.get(transport) if transport is not None else None
        if conn is not None:
            conn.handling()
        try:
            if request.path in self.limits.exempt_paths:
                response = await self._within_body_deadline(request, handler)
            elif self.in_flight >= self.limits.max_in_flight:
                self.stats.shed_requests += 1
                response = web.Response(
                    status=503,
                    text="server busy, retry later\n",
                    headers={"Retry-After": str(self.limits.retry_after)},
                )
                # An overloaded server wants the client gone, not kept alive.
                response.force_close()
            else:
                self.in_flight += 1
                try:
                    response = await self._within_body_deadline(request, handler)
                finally:
                    self.in_flight -= 1
            # Send it while the connection still counts as handling: one that is marked idle
            # may be shed by the next accept, and an abort drops unsent bytes.
            with contextlib.suppress(ConnectionError):
                await response.prepare(request)
                await response.write_eof()
            return response
        finally:
            if conn is not None:
                conn.handled()

    async def _within_body_deadline(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        if request.content.is_eof():
            return await handler(request)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(None) as deadline:

                def expire() -> None:
                    # Only a body still arriving is late; a handler busy after reading all of
                    # it is bounded by its own deadlines.
                    if not request.content.is_eof():
                        deadline.reschedule(loop.time())

                timer = loop.call_later(self.limits.body_timeout, expire)
                try:
                    return await handler(request)
                finally:
                    timer.cancel()
        except TimeoutError:
            if not deadline.expired():
                raise
            self.stats.body_timeouts += 1
            late = web.Response(status=408, text="request body not received in time\n")
            late.force_close()
            # Answer, then close at once: aiohttp would otherwise linger, reading the rest of
            # a body we already know is late.
            with contextlib.suppress(ConnectionError):
                await late.prepare(request)
                await late.write_eof()
            if request.transport is not None:
                request.transport.close()
            return late
