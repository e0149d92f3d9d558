"""Running out of file descriptors: failed accepts become one log line per interval with a
count, never a traceback per attempt; other loop errors go where they went before."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from imageupdater.serving import AcceptErrorReporter, ServerLimits, connection_cap

ROOT = Path(__file__).resolve().parents[2]


def accept_failed(code: int = errno.EMFILE) -> dict[str, Any]:
    # The context asyncio's selector loop reports when accept() fails for want of resources.
    return {
        "message": "socket.accept() out of system resource",
        "exception": OSError(code, os.strerror(code)),
    }


def count_of(record: logging.LogRecord) -> int:
    assert isinstance(record.args, tuple)
    count = record.args[1]
    assert isinstance(count, int)
    return count


async def test_a_storm_of_emfile_accept_errors_logs_one_line_per_interval_with_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    logger = logging.getLogger("test.accept")
    reporter = AcceptErrorReporter(interval=10.0, logger=logger, clock=lambda: now[0])
    loop = asyncio.get_running_loop()
    with caplog.at_level(logging.ERROR, logger="test.accept"):
        for i in range(10_000):
            now[0] = i * 0.003  # 10,000 failures over 30 s
            reporter(loop, accept_failed())
    reporter.close()
    records = [r for r in caplog.records if r.name == "test.accept"]
    assert len(records) == 3
    assert all(r.exc_info is None for r in records)
    assert "Too many open files" in records[0].getMessage()
    counts = [count_of(r) for r in records]
    assert sum(counts) + reporter.suppressed == 10_000


class ManualTimers:
    """The one loop method the reporter schedules with, fired when the test says so."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self._due: list[Callable[[], object]] = []

    def call_later(self, delay: float, callback: Callable[[], object]) -> asyncio.TimerHandle:
        self.delays.append(delay)
        self._due.append(callback)
        return asyncio.TimerHandle(delay, callback, (), asyncio.get_running_loop())

    def fire(self) -> None:
        due, self._due = self._due, []
        for callback in due:
            callback()


async def test_the_tail_of_a_burst_is_reported_once_its_interval_is_over(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    logger = logging.getLogger("test.accept.tail")
    reporter = AcceptErrorReporter(interval=10.0, logger=logger, clock=lambda: now[0])
    timers = ManualTimers()
    with caplog.at_level(logging.ERROR, logger="test.accept.tail"):
        for i in range(5):
            now[0] = i * 0.5
            reporter(timers, accept_failed(errno.ENFILE))  # type: ignore[arg-type]
        assert timers.delays == [10.0 - 0.5]  # the first was reported, the flush is due
        now[0] = 10.0
        timers.fire()
    reporter.close()
    counts = [count_of(r) for r in caplog.records if r.name == "test.accept.tail"]
    assert counts == [1, 4]


async def test_other_loop_errors_go_to_the_previous_handler() -> None:
    seen: list[dict[str, Any]] = []
    reporter = AcceptErrorReporter(lambda _loop, context: seen.append(context))
    loop = asyncio.get_running_loop()
    context = {"message": "Fatal read error", "exception": ConnectionResetError()}
    reporter(loop, context)
    reporter(loop, accept_failed())
    reporter.close()
    assert seen == [context]


@pytest.mark.parametrize(
    ("configured", "soft", "expected"),
    [(1000, 20_000, 1000), (1000, 1024, 896), (1000, 100, 1)],
    ids=["configured-cap", "bounded-by-open-file-limit", "never-below-one"],
)
def test_the_connection_cap_never_passes_the_open_file_limit(
    configured: int, soft: int, expected: int
) -> None:
    assert connection_cap(ServerLimits(max_connections=configured), soft) == expected


SERVER = textwrap.dedent(
    """
    import asyncio, logging, os, resource, sys
    from aiohttp import web
    from imageupdater.serving import ServerLimits, serve_app

    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG)
    resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))

    async def main():
        limits = ServerLimits(fd_headroom=0)
        async with serve_app(web.Application(), "127.0.0.1", 0, limits=limits) as server:
            filler = []
            try:
                while True:
                    filler.append(os.open(os.devnull, os.O_RDONLY))
            except OSError:
                pass
            print(server.port, flush=True)
            await asyncio.sleep(2.5)
            reporter = asyncio.get_running_loop().get_exception_handler()
            print(reporter.suppressed, flush=True)
            for fd in filler:
                os.close(fd)

    asyncio.run(main())
    """
)


async def test_a_process_out_of_descriptors_logs_one_line_not_a_traceback_per_accept() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SERVER,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    async with asyncio.timeout(15):
        port = int(await proc.stdout.readline())
        writers = []
        for _ in range(20):
            # The kernel completes these in the backlog; the server cannot accept them.
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writers.append(writer)
        out, err = await proc.communicate()
    for writer in writers:
        writer.close()
    assert proc.returncode == 0, err.decode()
    log = err.decode()
    assert log.count("cannot accept connections: Too many open files") == 1, log
    assert "Traceback" not in log
    assert "out of system resource" not in log
    assert int(out.split()[-1]) >= 1  # asyncio retried and failed again, quietly
