"""The webhook benchmark's harness: the ``wrk`` driver, the webhook server process, and the
per-process resource readings (CPU from ``/proc/<pid>/stat``, peak RSS from VmHWM).

``wrk`` (Debian package ``wrk``) is the load generator: it is C, so one thread drives
hundreds of keep-alive TLS connections on a fraction of a core and leaves the other core to
the server. A Lua script cycles through pre-formatted requests (one body per line of a
file) and, when a rate is given, paces sends on a per-thread schedule read from
``CLOCK_MONOTONIC`` through LuaJIT's FFI (wrk's ``delay()`` hook waits until the next slot).
Its ``done()`` hook prints one JSON line with the counts and latency percentiles.
"""

from __future__ import annotations

__all__ = [
    "WRK_INSTALL",
    "ProcStats",
    "ProcTree",
    "Server",
    "WrkResult",
    "issue_certs",
    "run_wrk",
    "webhook",
    "wrk_binary",
]

import asyncio
import contextlib
import datetime as dt
import json
import os
import resource
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from certs.authority import renew
from certs.files import write_files
from devcluster.registry import free_port

WRK_INSTALL = "wrk is not installed; install it with: apt-get install -y wrk"
_MARK = "WRKJSON "

# -- wrk --------------------------------------------------------------------------------------

_LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local bodies_file = %(bodies)s
local target_path = %(path)s
local rate = %(rate)s
local prepared = {}
local count = 0
local cursor = 0
local started = nil
local slots = 0

function init(args)
  local f = assert(io.open(bodies_file, "r"))
  for line in f:lines() do
    count = count + 1
    prepared[count] = wrk.format("POST", target_path,
      {["Content-Type"] = "application/json", ["Accept"] = "application/json"}, line)
  end
  f:close()
  cursor = math.random(count) - 1
end

function request()
  cursor = cursor %% count + 1
  return prepared[cursor]
end

if rate > 0 then
  function delay()
    local now = now_ms()
    if started == nil then started = now end
    slots = slots + 1
    local wait = started + slots * 1000.0 / rate - now
    if wait < 0 then return 0 end
    return math.floor(wait)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%(mark)s{"requests":%%d,"duration_us":%%d,"bytes":%%d,' ..
    '"errors":{"connect":%%d,"read":%%d,"write":%%d,"status":%%d,"timeout":%%d},' ..
    '"p50_us":%%.1f,"p99_us":%%.1f,"p999_us":%%.1f,"max_us":%%.1f,"mean_us":%%.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
"""


def wrk_binary() -> str | None:
    return shutil.which("wrk")


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal here


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    duration_s: float
    errors: dict[str, int]
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    mean_ms: float
    client_cpu_s: float  # wrk's own user+system time

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def client_cpu_pct(self) -> float:
        return 100.0 * self.client_cpu_s / self.duration_s if self.duration_s else 0.0


def run_wrk(
    url: str,
    bodies_file: Path,
    script_dir: Path,
    *,
    connections: int,
    duration: float,
    rate: float = 0.0,
    threads: int = 1,
    timeout: float = 5.0,
) -> WrkResult:
    """One wrk run of ``duration`` seconds; ``rate`` > 0 paces the total to that many req/s."""
    binary = wrk_binary()
    if binary is None:
        raise RuntimeError(WRK_INSTALL)
    base, _, path = url.partition("://")
    host, _, rest = path.partition("/")
    script = script_dir / f"load-{connections}-{int(rate)}.lua"
    script.write_text(
        _LUA
        % {
            "bodies": _lua_string(str(bodies_file)),
            "path": _lua_string("/" + rest),
            "rate": repr(rate / threads if rate > 0 else 0.0),
            "mark": _MARK,
        }
    )
    command = [
        binary,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={max(1, round(timeout))}s",
        "-s",
        str(script),
        f"{base}://{host}/{rest}",
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 60, check=False
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [line for line in done.stdout.splitlines() if line.startswith(_MARK)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"wrk failed (exit {done.returncode}): {done.stderr.strip() or done.stdout[-500:]}"
        )
    data = json.loads(lines[-1][len(_MARK) :])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return WrkResult(
        requests=int(data["requests"]),
        duration_s=data["duration_us"] / 1e6,
        errors={k: int(v) for k, v in data["errors"].items()},
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        p999_ms=data["p999_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        mean_ms=data["mean_us"] / 1000,
        client_cpu_s=cpu,
    )


# -- reading the measured process ------------------------------------------------------------


class ProcStats:
    """CPU time and peak RSS of another process, read from ``/proc``."""

    TICKS = os.sysconf("SC_CLK_TCK")

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def cpu_seconds(self) -> float:
        text = Path(f"/proc/{self.pid}/stat").read_text()
        # The command name (field 2) may hold spaces; fields after its ')' are fixed.
        fields = text[text.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / self.TICKS  # utime, stime

    def _status(self, key: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise RuntimeError(f"/proc/{self.pid}/status has no {key}")

    def peak_rss_kib(self) -> int:
        return self._status("VmHWM")

    def rss_kib(self) -> int:
        return self._status("VmRSS")

    @classmethod
    def machine_busy_seconds(cls) -> float:
        """CPU time every process on the machine spent, summed over cores (``/proc/stat``)."""
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return (sum(fields[:8]) - idle) / cls.TICKS

    def reset_peak(self) -> bool:
        """Restart VmHWM from the current RSS (Linux ``clear_refs`` 5); False if refused."""
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True


class ProcTree:
    """A process and its children (``--workers``: the supervisor and its workers), summed."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.members = [ProcStats(p) for p in [pid, *children(pid)]]

    def cpu_seconds(self) -> float:
        return sum(member.cpu_seconds() for member in self.members)

    def peak_rss_kib(self) -> int:
        return sum(member.peak_rss_kib() for member in self.members)

    def reset_peak(self) -> bool:
        done = [member.reset_peak() for member in self.members]  # every one, not until False
        return all(done)


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from ``/proc/<pid>/stat``'s ppid field)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


# -- the webhook process --------------------------------------------------------------------


def issue_certs(directory: Path) -> Path:
    bundle = renew(None, ["localhost"], now=dt.datetime.now(dt.UTC), ip_addresses=["127.0.0.1"])
    assert bundle is not None
    write_files(bundle, directory)
    return directory


@contextlib.contextmanager
def webhook(
    out: Path,
    certs: Path,
    conf: Path | None,
    name: str,
    timeout: float,
    tree: Path | None,
    *,
    workers: int = 1,
    kubeconfig: Path | None = None,
) -> Iterator[Server]:
    """The real ``image-updater admission`` process on 127.0.0.1, ready to serve; ``tree`` is
    another source tree to run it from (a baseline to compare with); ``conf`` None serves
    without a registries.conf; ``workers`` > 1 starts that many workers (``--workers``);
    ``kubeconfig`` gives it cluster access (it then judges by the update policies there)."""
    port = free_port()
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    log = (out / f"webhook-{name}.log").open("wb")
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "image-updater"),
            "admission",
            "--address=127.0.0.1",
            f"--port={port}",
            f"--tls-cert-file={certs / 'tls.crt'}",
            f"--tls-key-file={certs / 'tls.key'}",
            f"--registries-conf-path={conf if conf is not None else ''}",
            f"--resolve-timeout={timeout * 1000:g}ms",
            *([f"--workers={workers}"] if workers > 1 else []),
            *([f"--kubeconfig={kubeconfig}"] if kubeconfig is not None else []),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    server = Server(proc.pid, f"https://127.0.0.1:{port}", certs / "ca.crt")
    try:
        asyncio.run(server.wait_ready(proc))
        if workers > 1:
            # /healthz answers once one worker listens; every one must before measuring.
            asyncio.run(server.wait_workers(proc, workers))
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@dataclass(frozen=True, slots=True)
class Server:
    pid: int
    url: str
    ca_file: Path

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    async def wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        async with aiohttp.ClientSession() as session:
            for _ in range(300):  # 15 s
                if proc.poll() is not None:
                    raise RuntimeError(f"the webhook exited with {proc.returncode}; see its log")
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(self.url + "/healthz", ssl=self.context()) as resp:
                        if resp.status == 200:
                            return
                await asyncio.sleep(0.05)
        raise RuntimeError("the webhook did not answer /healthz within 15 s")

    async def wait_workers(self, proc: subprocess.Popen[bytes], count: int) -> None:
        """Until ``/metrics`` says every one of ``count`` workers is up."""
        wanted = [f'image_updater_admission_worker_up{{worker="{i}"}} 1.0' for i in range(count)]
        async with aiohttp.ClientSession() as session:
            for _ in range(600):  # 30 s
                if proc.poll() is not None:
                    raise RuntimeError(f"the webhook exited with {proc.returncode}; see its log")
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(self.url + "/metrics", ssl=self.context()) as resp:
                        text = await resp.text()
                        if all(line in text for line in wanted):
                            return
                await asyncio.sleep(0.05)
        raise RuntimeError(f"not all {count} workers were up within 30 s")

    async def post_all(
        self, endpoint: str, bodies: Sequence[bytes], *, concurrent: bool = False
    ) -> list[tuple[float, dict[str, Any]]]:
        """(seconds, response) for each body, one at a time or all at once."""
        ctx = self.context()
        async with aiohttp.ClientSession() as session:
            async with session.get(self.url + "/healthz", ssl=ctx) as resp:
                await resp.read()  # open the keep-alive connection before timing

            async def one(body: bytes) -> tuple[float, dict[str, Any]]:
                started = time.perf_counter()
                async with session.post(
                    f"{self.url}/{endpoint}",
                    data=body,
                    ssl=ctx,
                    headers={"Content-Type": "application/json"},
                ) as resp:
                    if resp.status != 200:
                        raise RuntimeError(f"/{endpoint} answered {resp.status}")
                    answer = await resp.json()
                return time.perf_counter() - started, answer["response"]

            if concurrent:
                return list(await asyncio.gather(*(one(b) for b in bodies)))
            return [await one(b) for b in bodies]
