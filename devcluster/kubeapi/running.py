"""Serving a KubeAPI on 127.0.0.1: on the caller's loop (`serve_app`) or from a background
thread for kubectl and synchronous callers (`run_in_thread`)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

from .server import KubeAPI


@dataclass(slots=True)
class RunningKubeAPI:
    """A KubeAPI served from a background thread; `stop()` (or leaving `with`) shuts it down."""

    api: KubeAPI
    url: str
    port: int
    _loop: asyncio.AbstractEventLoop = field(repr=False)
    _stopped: asyncio.Event = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join(timeout=30)

    def __enter__(self) -> RunningKubeAPI:
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()


async def serve_app(api: KubeAPI, port: int) -> tuple[web.AppRunner, int]:
    """Start `api` on 127.0.0.1:<port> (0 picks a free port); returns the runner and port."""
    runner = web.AppRunner(api.app(), shutdown_timeout=5.0, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = runner.addresses[0][1]
    return runner, int(bound)


def run_in_thread(api: KubeAPI | None = None, *, port: int = 0) -> RunningKubeAPI:
    """Serve `api` (a fresh KubeAPI by default) on 127.0.0.1 from a daemon thread."""
    api = api or KubeAPI()
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        stopped = asyncio.Event()
        try:
            runner, bound = await serve_app(api, port)
        except OSError as exc:
            box["error"] = exc
            ready.set()
            return
        box.update(loop=asyncio.get_running_loop(), stopped=stopped, port=bound)
        ready.set()
        try:
            await stopped.wait()
        finally:
            await runner.cleanup()

    thread = threading.Thread(target=lambda: asyncio.run(main()), name="kubeapi", daemon=True)
    thread.start()
    ready.wait(timeout=30)
    if "error" in box:
        raise box["error"]
    return RunningKubeAPI(api, f"http://127.0.0.1:{box['port']}", box["port"], box["loop"],
                          box["stopped"], thread)  # fmt: skip
