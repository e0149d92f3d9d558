"""A throw-away ``redis-server`` (Debian's) on 127.0.0.1, for the shared registry cache tests.

Never the system service: each instance has its own port, temp dir and no persistence
(``--save '' --appendonly no``), optionally a password (``--requirepass``) and TLS only
(``--tls-port`` with ``--port 0``), and is stopped and reaped by :meth:`LocalRedis.stop`.
"""

from __future__ import annotations

__all__ = ["BINARY", "LocalRedis"]

import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from devcluster.registry import free_port
from devcluster.tls import TinyCA

BINARY = "redis-server"


class LocalRedis:
    """``start()``/``stop()`` (or ``with``); ``address`` is ``127.0.0.1:<port>``."""

    def __init__(self, workdir: Path, *, password: str | None = None, tls: bool = False) -> None:
        self.workdir = workdir
        self.password = password
        self.tls = tls
        self.port = free_port()
        self.ca_file: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://{self.address}/0"

    def start(self) -> None:
        if shutil.which(BINARY) is None:
            raise RuntimeError(f"{BINARY} is not installed (apt-get install redis-server)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = [BINARY, "--bind", "127.0.0.1", "--dir", str(self.workdir)]
        argv += ["--save", "", "--appendonly", "no", "--protected-mode", "no"]
        if self.password is not None:
            argv += ["--requirepass", self.password]
        if self.tls:
            ca = TinyCA("redis test CA")
            self.ca_file = ca.write_ca(self.workdir / "ca.pem")
            ca.issue("127.0.0.1", "localhost").write(
                self.workdir / "tls.crt", self.workdir / "tls.key"
            )
            argv += ["--port", "0", "--tls-port", str(self.port)]
            argv += ["--tls-cert-file", str(self.workdir / "tls.crt")]
            argv += ["--tls-key-file", str(self.workdir / "tls.key")]
            argv += ["--tls-ca-cert-file", str(self.ca_file), "--tls-auth-clients", "no"]
        else:
            argv += ["--port", str(self.port)]
        log = (self.workdir / "redis.log").open("ab")
        self._proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"{BINARY} exited: {(self.workdir / 'redis.log').read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    if self.tls:
                        context = ssl.create_default_context(cafile=str(self.ca_file))
                        with context.wrap_socket(sock, server_hostname="127.0.0.1"):
                            return
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"{BINARY} on {self.address} did not start within 10 s")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
