"""A loop exception handler that summarises failed ``accept()`` calls instead of logging a
traceback for each."""

from __future__ import annotations

__all__ = ["AcceptErrorReporter"]

import asyncio
import errno
import logging
import os
import resource
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("image_updater.serving")

# accept() failing for want of a resource: asyncio reports every failure to the loop's
# exception handler with a traceback (up to a backlog's worth per readiness event).
_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})

ExceptionHandler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]


class AcceptErrorReporter:
    """A loop exception handler: resource errors summarised per interval, the rest passed on."""

    def __init__(
        self,
        previous: ExceptionHandler | None = None,
        *,
        interval: float = 10.0,
        logger: logging.Logger = log,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.previous = previous
        self.interval = interval
        self.logger = logger
        self.clock = clock
        self.suppressed = 0
        self._last_report: float | None = None
        self._last_errno = errno.EMFILE
        self._flush: asyncio.TimerHandle | None = None

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if not (isinstance(exc, OSError) and exc.errno in _RESOURCE_ERRNOS):
            if self.previous is not None:
                self.previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        self._last_errno = exc.errno
        now = self.clock()
        if self._last_report is None or now - self._last_report >= self.interval:
            self._report(now, 1 + self.suppressed)
            return
        self.suppressed += 1
        if self._flush is None:
            # Report the tail of a burst too, once its interval is over.
            delay = self._last_report + self.interval - now
            self._flush = loop.call_later(max(delay, 0.0), self._flush_now)

    def _flush_now(self) -> None:
        self._flush = None
        if self.suppressed:
            self._report(self.clock(), self.suppressed)

    def _report(self, now: float, count: int) -> None:
        self.suppressed = 0
        self._last_report = now
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        self.logger.error(
            "cannot accept connections: %s (%d time(s) in the last %.0f s; open-file limit %d)",
            os.strerror(self._last_errno),
            count,
            self.interval,
            soft,
        )

    def close(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
