"""The clock the registry client reads: monotonic time for TTLs and pauses, wall time for
HTTP dates, and sleeping. Injected so tests can run TTLs and back-offs in milliseconds."""

from __future__ import annotations

__all__ = ["Clock", "SystemClock"]

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
