"""A wake-up call from the Kubernetes API emulator: each response it starts.

An emulator response starts after the request took effect (an object stored, a list read, a
watch subscribed), so a test waiting for "the controller has relisted and watches again" looks
again at each response instead of polling the request log on a timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web


class KubeActivity:
    def __init__(self) -> None:
        self._wake = asyncio.Event()

    def attach(self, app: web.Application) -> web.Application:
        """Listen to ``app`` (the emulator's, before it is started); returns it."""
        app.on_response_prepare.append(self._prepared)
        return app

    async def _prepared(self, _request: web.Request, _response: web.StreamResponse) -> None:
        self._wake.set()

    async def until(self, check: Callable[[], bool], what: str, within: float = 5) -> None:
        """Return once ``check`` holds, looking again at each response the emulator starts."""
        try:
            async with asyncio.timeout(within):
                while not check():
                    self._wake.clear()
                    await self._wake.wait()
        except TimeoutError:
            raise AssertionError(f"the API emulator saw no {what} within {within}s") from None
