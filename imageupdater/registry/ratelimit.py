"""Per-registry pacing: a token bucket (the endpoint's ``limit`` in requests per second),
a pause that a ``429 Retry-After`` imposes on that registry only, and a cap on concurrent
requests. Also parses ``Retry-After`` values."""

from __future__ import annotations

__all__ = ["RegistryGate", "TokenBucket", "parse_retry_after"]

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from imageupdater.registry.clock import Clock

# A pause can be extended while we wait for it (another 429 arrives); bounding the number
# of re-checks keeps the wait loop finite whatever the registry does.
_MAX_PAUSE_CHECKS = 16


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; ``rate <= 0`` means unlimited.

    Callers reserve a token up front (the balance may go negative) and sleep until it is
    theirs, so waiters are served in arrival order without a lock or a polling loop.
    """

    def __init__(self, rate: float, *, clock: Clock, burst: float | None = None) -> None:
        self.rate = rate
        self._clock = clock
        self._burst = burst if burst is not None else max(1.0, rate)
        self._tokens = self._burst
        self._last = clock.monotonic()

    @property
    def unlimited(self) -> bool:
        return self.rate <= 0

    def reserve(self) -> float:
        """Take a token; answer how many seconds to wait before using it."""
        if self.unlimited:
            return 0.0
        now = self._clock.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await self._clock.sleep(wait)


class RegistryGate:
    """Everything that paces requests to one registry."""

    def __init__(self, *, rate: float, max_concurrency: int, clock: Clock) -> None:
        self._clock = clock
        self.bucket = TokenBucket(rate, clock=clock)
        self._slots = asyncio.Semaphore(max_concurrency)
        self._paused_until = 0.0

    def pause(self, seconds: float) -> None:
        """Hold every rate-limited request to this registry for ``seconds`` (never shortens)."""
        self._paused_until = max(self._paused_until, self._clock.monotonic() + seconds)

    @property
    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._clock.monotonic())

    async def wait_for_pause(self) -> None:
        for _ in range(_MAX_PAUSE_CHECKS):
            remaining = self.paused_for
            if remaining <= 0:
                return
            await self._clock.sleep(remaining)

    @contextlib.asynccontextmanager
    async def slot(self, *, rate_limited: bool = True) -> AsyncIterator[None]:
        """One concurrent request slot; ``rate_limited=False`` skips the pause and the bucket
        (ping and token requests, like upstream)."""
        async with self._slots:
            if rate_limited:
                await self.wait_for_pause()
                await self.bucket.acquire()
            yield


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or an HTTP date).

    ``None`` when the header is absent or unreadable; a date in the past gives ``0.0``.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
