"""`image-updater admission --workers 2`, the real processes: a supervisor and two workers on
one port.

What an operator can see from outside is what is checked: which processes run (``/proc``),
what the supervisor logs (JSON lines), what ``/metrics`` on the shared port says for each
worker, and which certificate a fresh TLS connection is shown. Reviews go out on fresh
connections, so the kernel's ``SO_REUSEPORT`` spreading (by connection) reaches both workers.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from prometheus_client.parser import text_string_to_metric_families

from certs.authority import Bundle, renew
from certs.files import write_files
from devcluster.kubeapi import KubeAPI, run_in_thread, write_kubeconfig
from devcluster.registry import free_port
from tests.waiting import wait_until
from tests.webhook.reviews import application, body, ours, review

BINARY = Path(sys.executable).with_name("image-updater")
MANIFESTS = Path(__file__).parents[2] / "manifests" / "base" / "webhook-configurations.yaml"
DURATIONS = "image_updater_admission_duration_seconds_count"
EXPIRY = "image_updater_certificate_expiry_timestamp_seconds"
# Two Python processes starting on a busy two-core machine.
START = 60


def issue() -> Bundle:
    made = renew(None, ["localhost"], now=dt.datetime.now(dt.UTC), ip_addresses=["127.0.0.1"])
    assert made is not None
    return made


def children(pid: int) -> set[int]:
    """The live (not zombie) processes whose parent is ``pid``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


@dataclass
class Supervised:
    """The supervisor process, its log file, and the way in over TLS."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    context: ssl.SSLContext
    seen_workers: set[int] = field(default_factory=set)

    def lines(self) -> list[dict[str, Any]]:
        text = self.log.read_text(errors="replace")
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def serving(self) -> dict[int, int]:
        """Worker index -> pid, from the latest "is serving" line of each worker."""
        found: dict[int, int] = {}
        for line in self.lines():
            if line["msg"].endswith("is serving") and "pid" in line["msg"]:
                found[line["worker"]] = int(line["msg"].split("(pid ")[1].split(")")[0])
        return found

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def get(self, path: str) -> str:
        url = self.url(path)
        with urllib.request.urlopen(url, context=self.context, timeout=10) as answer:  # noqa: S310
            return str(answer.read().decode())

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        """One review on a connection of its own (urllib closes it after the answer)."""
        request = urllib.request.Request(  # noqa: S310 - https to our own server
            self.url("/validate"), data=body(data), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, context=self.context, timeout=10) as answer:  # noqa: S310
            decoded: dict[str, Any] = json.loads(answer.read())
            return decoded

    def samples(self) -> dict[str, dict[str, float]]:
        found: dict[str, dict[str, float]] = {}
        for family in text_string_to_metric_families(self.get("/metrics")):
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                found.setdefault(sample.name, {})[labels] = sample.value
        return found

    def per_worker(self, name: str, **labels: str) -> dict[str, float]:
        """``name``'s samples with ``labels``, summed per worker label."""
        sums: dict[str, float] = {}
        for rendered, value in self.samples().get(name, {}).items():
            pairs = dict(pair.split("=", 1) for pair in rendered.split(",") if pair)
            if all(pairs.get(k) == v for k, v in labels.items()):
                sums[pairs["worker"]] = sums.get(pairs["worker"], 0.0) + value
        return sums

    def wait_serving(self, workers: int = 2) -> dict[int, int]:
        wait_until(
            lambda: len(self.serving()) == workers and self.get("/healthz") == "ok",
            within=START,
            what=f"{workers} workers to serve",
            ignoring=(OSError,),
        )
        pids = self.serving()
        self.seen_workers |= set(pids.values())
        return pids

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def tail(self) -> str:
        """The end of the log, for a failing assertion to show."""
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def certs(tmp_path: Path) -> tuple[Path, Bundle]:
    made = issue()
    write_files(made, tmp_path / "certs")
    return tmp_path / "certs", made


@pytest.fixture
def start(tmp_path: Path, certs: tuple[Path, Bundle]) -> Iterator[Any]:
    started: list[Supervised] = []

    def launch(*extra: str, port: int | None = None) -> Supervised:
        directory, made = certs
        port = port or free_port()
        log = tmp_path / f"admission-{len(started)}.log"
        env = {k: v for k, v in os.environ.items() if k != "KUBERNETES_SERVICE_HOST"}
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    *(str(BINARY), "admission", "--address", "127.0.0.1", "--port", str(port)),
                    *("--tls-cert-file", str(directory / "tls.crt")),
                    *("--tls-key-file", str(directory / "tls.key")),
                    *("--registries-conf-path", "", "--logformat", "json"),
                    *("--workers", "2", *extra),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        context = ssl.create_default_context(cadata=made.ca_cert.decode())
        served = Supervised(process, port, log, context)
        started.append(served)
        return served

    yield launch
    for served in started:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait(timeout=15)
        for pid in served.seen_workers:
            if running(pid):
                os.kill(pid, signal.SIGKILL)


def an_application(index: int) -> dict[str, Any]:
    return application(ours(image_list=f"web=nginx:~1.{index}"), name=f"shop-{index}")


def test_both_workers_answer_reviews_on_the_one_port(start: Any) -> None:
    served = start()
    pids = served.wait_serving()
    assert sorted(pids) == [0, 1]
    assert set(pids.values()) == children(served.process.pid)
    sent = 40
    for index in range(sent):
        answer = served.validate(review(an_application(index)))
        assert answer["response"]["allowed"] is True
    counts = served.per_worker(DURATIONS, endpoint="validate")
    # Every review counted once, by the worker that answered it, and both answered some.
    assert sum(counts.values()) == sent
    assert set(counts) == {"0", "1"}
    assert min(counts.values()) > 0
    assert served.per_worker("image_updater_admission_worker_up") == {"0": 1.0, "1": 1.0}
    starts = served.per_worker("process_start_time_seconds")
    assert set(starts) == {"0", "1"}
    assert served.stop() == 0, served.tail()


def test_sigterm_stops_every_worker_and_exits_0(start: Any) -> None:
    served = start()
    pids = served.wait_serving()
    assert served.validate(review(an_application(1)))["response"]["allowed"] is True
    assert served.stop() == 0, served.tail()
    assert not any(running(pid) for pid in pids.values())
    messages = [(line.get("worker"), line["msg"]) for line in served.lines()]
    # Each worker drained and said so, then the supervisor.
    assert (0, "shutting down") in messages
    assert (1, "shutting down") in messages
    assert messages[-1] == (None, "shutting down")
    assert not [m for _, m in messages if "unexpectedly" in m or "killing" in m]


def test_a_killed_worker_is_restarted_while_the_other_answers(start: Any) -> None:
    served = start()
    pids = served.wait_serving()
    before = served.per_worker("process_start_time_seconds")
    os.kill(pids[1], signal.SIGKILL)
    wait_until(lambda: not running(pids[1]), within=10, what="the killed worker to be gone")
    # Its listening socket went with it: every new connection reaches worker 0.
    for index in range(10):
        assert served.validate(review(an_application(index)))["response"]["allowed"] is True
    wait_until(
        lambda: served.serving().get(1) not in (None, pids[1]),
        within=START,
        what="worker 1 to serve again",
    )
    new = served.wait_serving()
    assert new[0] == pids[0]
    assert new[1] != pids[1]
    assert children(served.process.pid) == {pids[0], new[1]}
    (restart,) = [line for line in served.lines() if "unexpectedly" in line["msg"]]
    assert restart["level"] == "warning"
    assert restart["worker"] == 1
    assert restart["msg"] == (
        f"worker 1 (pid {pids[1]}) exited unexpectedly (killed by SIGKILL); restarting it in 0.1s"
    )
    after = served.per_worker("process_start_time_seconds")
    assert after["0"] == before["0"]
    assert after["1"] > before["1"]
    assert served.stop() == 0, served.tail()


def test_workers_that_keep_dying_stop_the_supervisor_with_exit_1(start: Any) -> None:
    served = start()
    served.wait_serving()
    deadline = time.monotonic() + START
    while served.process.poll() is None and time.monotonic() < deadline:
        for pid in children(served.process.pid):
            served.seen_workers.add(pid)
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
    assert served.process.wait(timeout=30) == 1
    assert not any(running(pid) for pid in served.seen_workers)
    errors = [line["msg"] for line in served.lines() if line["level"] == "error"]
    assert any("workers exited within 60s; stopping" in m for m in errors), errors


def test_a_worker_that_cannot_start_stops_the_supervisor_with_its_code(
    start: Any, certs: tuple[Path, Bundle]
) -> None:
    directory, _ = certs
    (directory / "tls.key").write_bytes(b"not a key")
    served = start()
    assert served.process.wait(timeout=START) == 1
    errors = [line["msg"] for line in served.lines() if line["level"] == "error"]
    assert any("exited before serving (exit code 1); stopping" in m for m in errors), errors
    assert children(served.process.pid) == set()


def test_a_port_another_program_holds_is_refused_before_any_worker_starts(start: Any) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        served = start(port=holder.getsockname()[1])
        assert served.process.wait(timeout=START) == 1
    (line,) = [line for line in served.lines() if line["level"] == "error"]
    assert line["msg"].startswith("cannot serve: [Errno 98]")
    assert "is serving" not in served.log.read_text()


def presented(served: Supervised) -> bytes:
    """The certificate a fresh TLS connection is shown (DER)."""
    with (
        socket.create_connection(("127.0.0.1", served.port), timeout=10) as raw,
        served.context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        cert = tls.getpeercert(binary_form=True)
    assert cert is not None
    return cert


def test_rotated_certificate_files_are_served_by_every_worker(
    start: Any, certs: tuple[Path, Bundle]
) -> None:
    directory, first = certs
    served = start("--cert-reload-interval", "100ms")
    served.wait_serving()
    old = x509.load_pem_x509_certificate(first.cert)
    assert {presented(served) for _ in range(8)} == {old.public_bytes(Encoding.DER)}
    rotated = renew(
        first,
        ["localhost"],
        now=dt.datetime.now(dt.UTC),
        ip_addresses=["127.0.0.1"],
        cert_lifetime=dt.timedelta(days=30),
        force=True,
    )
    assert rotated is not None
    write_files(rotated, directory)
    new = x509.load_pem_x509_certificate(rotated.cert)
    expiry = new.not_valid_after_utc.timestamp()
    wait_until(
        lambda: served.per_worker(EXPIRY, certificate="serving") == {"0": expiry, "1": expiry},
        within=START,
        what="both workers to report the rotated certificate",
        ignoring=(OSError,),
    )
    # Fresh connections spread over both workers; each is shown the new certificate.
    assert {presented(served) for _ in range(16)} == {new.public_bytes(Encoding.DER)}
    reloads = [line for line in served.lines() if line["msg"].startswith("reloaded serving")]
    assert sorted(line["worker"] for line in reloads) == [0, 1], served.tail()
    assert served.stop() == 0, served.tail()


def test_with_self_signed_certs_only_the_supervisor_issues_them(tmp_path: Path) -> None:
    port = free_port()
    api = KubeAPI()
    for document in yaml.safe_load_all(MANIFESTS.read_text()):
        api.store.put(document)
    certs = tmp_path / "certs"
    log = tmp_path / "admission.log"
    with run_in_thread(api) as cluster:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", cluster.url)
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    *(str(BINARY), "admission", "--self-signed-certs", "--workers", "2"),
                    *("--kubeconfig", str(kubeconfig), "--certs-namespace", "argocd"),
                    *("--address", "127.0.0.1", "--port", str(port)),
                    *("--tls-cert-file", str(certs / "tls.crt")),
                    *("--tls-key-file", str(certs / "tls.key")),
                    *("--registries-conf-path", "", "--logformat", "json"),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        served = None
        try:
            wait_until((certs / "ca.crt").exists, within=START, what="the CA certificate file")
            context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
            context.check_hostname = False  # the certificate names the Service, we dial 127.0.0.1
            served = Supervised(process, port, log, context)
            served.wait_serving()
            secret = api.store.get("", "v1", "secrets", "argocd", "image-updater-webhook-tls")
            assert secret is not None
            issued = base64.b64decode(secret["data"]["tls.crt"])
            expiry = x509.load_pem_x509_certificate(issued).not_valid_after_utc.timestamp()
            assert served.per_worker(EXPIRY, certificate="serving") == {"0": expiry, "1": expiry}
            # The supervisor's two passes (before the workers start, and its rotation loop's
            # first) read the Secret; a worker that rotated too would add reads of its own.
            assert api.requests.count(verb="get", resource="secrets") == 2
            assert api.requests.count(verb="create", resource="secrets") == 1
            (stored,) = [line for line in served.lines() if "stored new webhook" in line["msg"]]
            assert stored["logger"] == "image_updater.certs"
            assert "worker" not in stored
            config = api.store.get(
                "admissionregistration.k8s.io",
                None,
                "validatingwebhookconfigurations",
                None,
                "image-updater",
            )
            assert config is not None
            ca = base64.b64decode(config["webhooks"][0]["clientConfig"]["caBundle"])
            assert ca == base64.b64decode(secret["data"]["ca.crt"])
            assert served.stop() == 0, served.tail()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=15)
