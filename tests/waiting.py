"""The one bounded wait for things a test cannot get an event from.

A test waits on an event when the code under test offers one (an ``asyncio.Event``, a future,
a response arriving, a socket closing, a store's change feed) and moves a fake clock when the
code takes one. What is left is waiting on something outside the test's event loop that
announces nothing: a subprocess coming up (a registry, the webhook or reconciler binary,
kubectl opening its watch), a file a script writes, a server-side timer in the API emulator.
Those poll here, and only here, so that every such wait is bounded and a timeout names what
was awaited instead of failing an assertion further down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# Often enough that a wait costs little beyond what it waits for, rarely enough not to load
# two cores while a subprocess starts.
INTERVAL = 0.05


def _timed_out(what: str, within: float, last: str | None) -> AssertionError:
    why = f" (last attempt: {last})" if last is not None else ""
    return AssertionError(f"timed out after {within:g}s waiting for {what}{why}")


def wait_until(
    probe: Callable[[], T | None],
    *,
    within: float,
    what: str,
    ignoring: tuple[type[Exception], ...] = (),
    interval: float = INTERVAL,
) -> T:
    """Call ``probe`` until it returns something truthy and return that, from a thread that
    may block (a sync test driving a subprocess). ``ignoring``: exceptions that mean "not
    yet" (``OSError`` while a server is not listening). Raises AssertionError naming
    ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    # Only the text is kept: holding the exception would keep its traceback, its frames and
    # whatever they hold (an HTTP error's open socket) alive until the collector runs, and
    # its ResourceWarning would then fail some later, unrelated test.
    last: str | None = None
    while True:
        try:
            if result := probe():
                return result
        except ignoring as exc:
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            raise _timed_out(what, within, last)
        time.sleep(interval)


async def async_wait_until(
    probe: Callable[[], T | None] | Callable[[], Awaitable[T | None]],
    *,
    within: float,
    what: str,
    ignoring: tuple[type[Exception], ...] = (),
    interval: float = INTERVAL,
) -> T:
    """``wait_until`` for async tests: the loop keeps running between attempts. ``probe``
    may be a plain function or a coroutine function."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    # Only the text is kept: holding the exception would keep its traceback, its frames and
    # whatever they hold (an HTTP error's open socket) alive until the collector runs, and
    # its ResourceWarning would then fail some later, unrelated test.
    last: str | None = None
    while True:
        try:
            result = probe()
            if isinstance(result, Awaitable):
                result = await result
            if result:
                return result  # type: ignore[return-value]
        except ignoring as exc:
            last = f"{type(exc).__name__}: {exc}"
        if loop.time() >= deadline:
            raise _timed_out(what, within, last)
        await asyncio.sleep(interval)
