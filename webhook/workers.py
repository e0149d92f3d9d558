"""``image-updater admission --workers N``: a supervisor and N serving processes on one port.

One Python process answers reviews on one core; to use more, N worker processes each run
the whole admission server (``webhook.serve``: its own resolver, caches, Kubernetes client
and metrics registry) and listen on the same address and port with ``SO_REUSEPORT``, so the
kernel spreads new connections over them. They share nothing but the certificate files they
each reload.

The supervisor serves nothing. Before it starts a worker it binds the address with
``SO_REUSEPORT`` and never listens on that socket: the kernel only hands connections to
listening sockets, so it accepts none (no accept queue of its own that a connection could
be stranded in), yet the port stays ours while a worker restarts, port 0 becomes one port
for every worker, and a port taken by another program fails once, before any worker starts.
With ``--self-signed-certs`` only the supervisor issues and rotates certificates (the
Secret, the caBundle injection and the files); the workers are started without it and only
reload the files, as they would from cert-manager.

Each worker is ``python -m webhook.worker``; its ``WorkerSpec`` (the options already checked,
the registries.conf already read) arrives pickled on its stdin, which then stays open: EOF
there means the supervisor is gone, and the worker stops (no orphan holding the port). It
reports that it listens by writing ``ready`` to a pipe.

Policy: a worker that exits before it ever served, on the first start, stops everything
with its exit code (a certificate or address problem will not go away on a retry). A worker
that dies later is restarted after a short pause that doubles with each death (0.1 s up to
5 s); a sixth unexpected exit within a minute stops everything with exit code 1, so the pod
restarts where an operator sees it. SIGTERM or SIGINT stops every worker with SIGTERM (each
drains its requests as the single process does) and, after ``STOP_GRACE`` seconds, kills the
stragglers; the exit code is 0 when every worker stopped cleanly.

Metrics: each worker also serves its own Prometheus exposition on a Unix socket in a private
directory. ``/metrics`` on the shared port lands on any one worker, which answers for all of
them (``webhook.metrics.merge_expositions``): each series gains ``worker="<i>"``, and
``image_updater_admission_worker_up{worker}`` says whose metrics the scrape could read.
"""

from __future__ import annotations

__all__ = [
    "RESTART_LIMIT",
    "RESTART_WINDOW",
    "STOP_GRACE",
    "MetricsPeers",
    "Supervisor",
    "WorkerRole",
    "WorkerSpec",
    "reserve",
    "supervise",
    "worker_main",
]

import asyncio
import collections
import contextlib
import dataclasses
import logging
import os
import pickle
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from imageupdater.cli import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from imageupdater.errors import ImageUpdaterError, InvalidInput
from webhook.options import WebhookOptions

if TYPE_CHECKING:
    from imageupdater.registries_conf import RegistriesConf

log = logging.getLogger("image_updater.webhook")

# Unexpected worker exits tolerated per window before the supervisor gives up.
RESTART_LIMIT = 5
RESTART_WINDOW = 60.0  # seconds
_FIRST_PAUSE = 0.1  # seconds before the first restart; doubles per recent exit
_LONGEST_PAUSE = 5.0
# A worker drains for at most serve_app's shutdown_timeout (10 s); past this it is killed.
STOP_GRACE = 15.0
# How long a scrape waits for a peer worker's metrics.
PEER_TIMEOUT = 2.0
_READY = b"ready\n"


@dataclass(frozen=True, slots=True)
class WorkerRole:
    """Which of the workers this process is, and where its peers' metrics sockets are."""

    index: int
    count: int
    peers: Path  # directory of the workers' metrics sockets, private to this pod's user
    status_fd: int  # the pipe "ready" is written to, then closed
    supervisor_fd: int = -1  # the pipe from the supervisor: EOF when it is gone

    def socket_path(self, index: int) -> Path:
        return self.peers / f"worker-{index}.sock"


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """What a worker process is started with (pickled on its stdin by the supervisor)."""

    options: WebhookOptions
    conf: RegistriesConf
    role: WorkerRole


# -- the worker's side ------------------------------------------------------------------------


class _WorkerField(logging.Filter):
    """Adds ``worker=<i>`` to every log line, so interleaved lines say whose they are."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    def filter(self, record: logging.LogRecord) -> bool:
        record.worker = self.index
        return True


def worker_main() -> int:
    """``python -m webhook.worker``: read the spec from stdin, serve until told to stop."""
    from imageupdater.logsetup import configure_logging

    # The spec comes from our own supervisor through a pipe only it holds.
    spec: WorkerSpec = pickle.load(sys.stdin.buffer)  # noqa: S301
    # The pipe stays ours alone: a program this worker starts (an ext: credential helper)
    # gets /dev/null, so it can neither read the pipe nor keep its EOF from us.
    watched = os.dup(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    spec = dataclasses.replace(spec, role=dataclasses.replace(spec.role, supervisor_fd=watched))
    configure_logging(spec.options.loglevel, spec.options.logformat)
    for handler in logging.getLogger("image_updater").handlers:
        handler.addFilter(_WorkerField(spec.role.index))
    from webhook.serve import serve  # the HTTP stack, only in a worker

    try:
        return asyncio.run(serve(spec.options, spec.conf, role=spec.role))
    except InvalidInput as exc:
        log.error("%s", exc)
        return EXIT_INVALID
    except ImageUpdaterError as exc:
        log.error("%s", exc)
        return EXIT_FAILED
    except OSError as exc:
        log.error("cannot serve: %s", exc)
        return EXIT_FAILED


def report_ready(role: WorkerRole) -> None:
    """Tell the supervisor this worker listens (once; the pipe is closed after)."""
    with contextlib.suppress(OSError):
        os.write(role.status_fd, _READY)
    with contextlib.suppress(OSError):
        os.close(role.status_fd)


def watch_supervisor(role: WorkerRole, stop: asyncio.Event) -> Callable[[], None]:
    """Set ``stop`` when the pipe from the supervisor closes (it is gone); returns the undo."""
    loop = asyncio.get_running_loop()
    fd = role.supervisor_fd
    os.set_blocking(fd, False)

    def readable() -> None:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(fd)
            if not stop.is_set():
                log.warning("the supervisor is gone; stopping")
            stop.set()

    loop.add_reader(fd, readable)

    def undo() -> None:
        loop.remove_reader(fd)

    return undo


class MetricsPeers:
    """A worker's metrics socket, and the reading of every worker's metrics for a scrape."""

    def __init__(self, role: WorkerRole, exposition: Callable[[], bytes]) -> None:
        self.role = role
        self._exposition = exposition

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(self._exposition())
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[MetricsPeers]:
        path = self.role.socket_path(self.role.index)
        path.unlink(missing_ok=True)  # a previous life of this worker's
        server = await asyncio.start_unix_server(self._answer, path=str(path))
        try:
            yield self
        finally:
            server.close()
            await server.wait_closed()
            path.unlink(missing_ok=True)

    async def _read(self, index: int) -> bytes | None:
        if index == self.role.index:
            return self._exposition()
        try:
            async with asyncio.timeout(PEER_TIMEOUT):
                reader, writer = await asyncio.open_unix_connection(
                    str(self.role.socket_path(index))
                )
                try:
                    return await reader.read()
                finally:
                    writer.close()
                    with contextlib.suppress(ConnectionError):
                        await writer.wait_closed()
        except (OSError, TimeoutError) as exc:
            # Restarting, or stuck: this scrape goes without it, and says so.
            log.debug("metrics of worker %d not read: %r", index, exc)
            return None

    async def collect(self) -> bytes:
        from webhook.metrics import merge_expositions

        texts = await asyncio.gather(*(self._read(i) for i in range(self.role.count)))
        return merge_expositions(texts)


# -- the supervisor -----------------------------------------------------------------------------


def reserve(host: str, port: int) -> list[socket.socket]:
    """Sockets bound to every address ``host`` names, with ``SO_REUSEPORT``, not listening.

    Port 0 becomes the first address's ephemeral port for all of them. Raises OSError when
    the port is held by a socket without ``SO_REUSEPORT`` (another program)."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    bound: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            bound.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                # As asyncio's create_server does, so the workers' sockets match.
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and len(bound) > 1:
                address = (address[0], bound[0].getsockname()[1], *address[2:])
            sock.bind(address)
    except BaseException:
        for sock in bound:
            sock.close()
        raise
    return bound


def _exit_text(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit code {code}"


async def _read_status(fd: int) -> bytes:
    """Everything the worker writes to its status pipe, until it closes it (or dies)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    pipe = os.fdopen(fd, "rb", buffering=0)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    try:
        return await reader.read()
    finally:
        transport.close()


class Supervisor:
    """Keeps ``count`` workers running; ``run`` returns the exit code once they are stopped."""

    def __init__(
        self,
        count: int,
        spec: Callable[[int], WorkerSpec],
        *,
        command: Sequence[str] = (sys.executable, "-m", "webhook.worker"),
        restart_limit: int = RESTART_LIMIT,
        restart_window: float = RESTART_WINDOW,
        stop_grace: float = STOP_GRACE,
    ) -> None:
        self.count = count
        self._spec = spec
        self._command = tuple(command)
        self._restart_limit = restart_limit
        self._restart_window = restart_window
        self._stop_grace = stop_grace
        self.stop = asyncio.Event()
        self.processes: dict[int, asyncio.subprocess.Process] = {}
        self._exits: collections.deque[float] = collections.deque()
        self._ready_once: set[int] = set()
        self._all_ready = asyncio.Event()
        self._failure: int | None = None
        self._unclean = False

    def _give_up(self, code: int, message: str, *args: object) -> None:
        log.error(message, *args)
        if self._failure is None:
            self._failure = code
        self.stop.set()

    async def _spawn(self, index: int) -> tuple[asyncio.subprocess.Process, bool]:
        """Start worker ``index``; (its process, whether it reported that it listens)."""
        read_fd, write_fd = os.pipe()
        try:
            process = await asyncio.create_subprocess_exec(
                *self._command, stdin=asyncio.subprocess.PIPE, pass_fds=(write_fd,)
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self.processes[index] = process
        if self.stop.is_set():
            # Stopping began while it started: it gets the signal the others got.
            process.send_signal(signal.SIGTERM)
        spec = self._spec(index)
        spec = dataclasses.replace(spec, role=dataclasses.replace(spec.role, status_fd=write_fd))
        assert process.stdin is not None
        try:
            process.stdin.write(pickle.dumps(spec))
            await process.stdin.drain()
        except ConnectionError:
            pass  # it died at once; its exit code says why
        # stdin stays open: its EOF is how the worker learns that we are gone.
        status = await _read_status(read_fd)
        return process, status == _READY

    async def _keep(self, index: int) -> None:
        """Run worker ``index`` until stopping, restarting it as the policy says."""
        try:
            await self._keep_running(index)
        except Exception as exc:
            # Starting a process failed (the interpreter gone, no memory): running with a
            # worker fewer, unnoticed, would be worse than stopping.
            self._give_up(EXIT_FAILED, "supervising worker %d failed: %r", index, exc)

    async def _keep_running(self, index: int) -> None:
        first = True
        while not self.stop.is_set():
            process, ready = await self._spawn(index)
            if ready:
                log.info(
                    "worker %d (pid %d) is serving", index, process.pid, extra={"worker": index}
                )
                if index not in self._ready_once:
                    self._ready_once.add(index)
                    if len(self._ready_once) == self.count:
                        self._all_ready.set()
            code = await process.wait()
            del self.processes[index]
            if process.stdin is not None:
                process.stdin.close()
            if self.stop.is_set():
                # -SIGTERM: our signal came before it could install its handlers.
                if code not in (0, -signal.SIGTERM):
                    self._unclean = True
                    log.warning(
                        "worker %d (pid %d) stopped (%s)", index, process.pid, _exit_text(code)
                    )
                return
            if first and not ready:
                self._give_up(
                    code if code in (EXIT_FAILED, EXIT_INVALID) else EXIT_FAILED,
                    "worker %d (pid %d) exited before serving (%s); stopping",
                    index,
                    process.pid,
                    _exit_text(code),
                )
                return
            first = False
            now = time.monotonic()
            self._exits.append(now)
            while self._exits and self._exits[0] <= now - self._restart_window:
                self._exits.popleft()
            if len(self._exits) > self._restart_limit:
                self._give_up(
                    EXIT_FAILED,
                    "worker %d (pid %d) exited (%s): %d workers exited within %gs; stopping",
                    index,
                    process.pid,
                    _exit_text(code),
                    len(self._exits),
                    self._restart_window,
                )
                return
            pause = min(_FIRST_PAUSE * 2 ** (len(self._exits) - 1), _LONGEST_PAUSE)
            log.warning(
                "worker %d (pid %d) exited unexpectedly (%s); restarting it in %gs",
                index,
                process.pid,
                _exit_text(code),
                pause,
                extra={"worker": index},
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), pause)

    async def _stop_all(self, keepers: Sequence[asyncio.Task[None]]) -> None:
        for process in list(self.processes.values()):
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        done, pending = await asyncio.wait(keepers, timeout=self._stop_grace)
        if pending:
            self._unclean = True
            for index, process in list(self.processes.items()):
                log.error(
                    "worker %d (pid %d) did not stop within %gs; killing it",
                    index,
                    process.pid,
                    self._stop_grace,
                )
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            await asyncio.wait(pending)
        for task in done | pending:
            if not task.cancelled() and task.exception() is not None:
                self._unclean = True
                log.error("supervising a worker failed", exc_info=task.exception())

    async def run(self, *, started: Callable[[], None] | None = None) -> int:
        keepers = [
            asyncio.create_task(self._keep(i), name=f"worker-{i}") for i in range(self.count)
        ]
        ready = asyncio.create_task(self._all_ready.wait())
        stopping = asyncio.create_task(self.stop.wait())
        try:
            await asyncio.wait({ready, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if ready.done() and started is not None:
                started()
            await stopping
        finally:
            ready.cancel()
            stopping.cancel()
            self.stop.set()
            await self._stop_all(keepers)
        if self._failure is not None:
            return self._failure
        return EXIT_FAILED if self._unclean else EXIT_OK


async def supervise(options: WebhookOptions, conf: RegistriesConf) -> int:
    """Reserve the port, start ``options.workers`` workers, keep them up until SIGTERM/SIGINT."""
    reserved = reserve(options.address, options.port)
    port = int(reserved[0].getsockname()[1])
    async with contextlib.AsyncExitStack() as stack:
        for sock in reserved:
            stack.callback(sock.close)
        peers = Path(tempfile.mkdtemp(prefix="image-updater-admission-"))
        stack.callback(shutil.rmtree, peers, ignore_errors=True)
        rotation: asyncio.Task[None] | None = None
        if options.self_signed_certs:
            from certs import manager as cert_manager
            from webhook.serve import cert_settings, connect

            client = await connect(options.kubeconfig)
            if client is None:
                raise ImageUpdaterError("--self-signed-certs needs cluster access (--kubeconfig)")
            stack.push_async_callback(client.close)
            settings = cert_settings(options)
            # The files the workers load exist before the first of them starts.
            await cert_manager.ensure(client, settings)
            rotation = asyncio.create_task(cert_manager.run(client, settings))
        # The workers only reload what the supervisor (or cert-manager) writes.
        worker_options = dataclasses.replace(options, port=port, self_signed_certs=False)

        def spec(index: int) -> WorkerSpec:
            return WorkerSpec(worker_options, conf, WorkerRole(index, options.workers, peers, -1))

        supervisor = Supervisor(options.workers, spec)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, supervisor.stop.set)

        def started() -> None:
            log.info(
                "serving admission reviews on https://%s:%d with %d workers (pids %s; at most %d "
                "connections and %d requests in flight each)",
                options.address,
                port,
                options.workers,
                ", ".join(str(p.pid) for _, p in sorted(supervisor.processes.items())),
                options.max_connections,
                options.max_in_flight_requests,
            )

        try:
            code = await supervisor.run(started=started)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            if rotation is not None:
                rotation.cancel()
                await asyncio.gather(rotation, return_exceptions=True)
        log.info("shutting down")
    return code
