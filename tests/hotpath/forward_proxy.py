"""A tiny HTTP proxy on 127.0.0.1 for the proxy tests: ``CONNECT`` tunnels and forwarding.

It knows a few made-up names (``routes``: ``"host:port"`` → a local ``(address, port)``), so a
request for one of them can only succeed through it. It notes the first request of each
connection (the request line and its ``Proxy-Authorization``) and then copies bytes both
ways; a forwarded ``http`` request keeps its absolute-form target, which HTTP servers accept.
A name it does not know gets ``502``; ``refuse`` answers every request with that status.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from yarl import URL


@dataclass(frozen=True, slots=True)
class Seen:
    method: str
    target: str
    proxy_authorization: str | None


@dataclass
class ForwardProxy:
    routes: Mapping[str, tuple[str, int]]
    refuse: int | None = None
    seen: list[Seen] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._accepted, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks, self._tasks = list(self._tasks), set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: asyncio.StreamWriter | None = None
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            line, *lines = head.decode("latin-1").split("\r\n")
            method, target, _ = line.split(" ", 2)
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (h.partition(":") for h in lines if h)
            }
            self.seen.append(Seen(method, target, headers.get("proxy-authorization")))
            authority = target if method == "CONNECT" else URL(target).authority
            destination = self.routes.get(authority)
            if self.refuse is not None or destination is None:
                status = self.refuse or 502
                writer.write(f"HTTP/1.1 {status} Refused\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
                return
            up_reader, upstream = await asyncio.open_connection(*destination)
            if method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                upstream.write(head)
            await asyncio.gather(_copy(reader, upstream), _copy(up_reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            ends = [each for each in (upstream, writer) if each is not None]
            for each in ends:
                each.close()  # both before any await: a cancelled close must not skip one
            for each in ends:
                with contextlib.suppress(ConnectionError):
                    await each.wait_closed()


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while chunk := await source.read(64 * 1024):
            sink.write(chunk)
            await sink.drain()
    finally:
        if sink.can_write_eof():
            with contextlib.suppress(OSError):
                sink.write_eof()
