"""`image-updater admission` as a process, as an operator watches it: /metrics and JSON logs.

The server runs from certificate files (as with cert-manager or the ``certs`` Job), is sent
a review to deny over TLS, scraped, and stopped; its log is read line by line.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from prometheus_client.parser import text_string_to_metric_families

import imageupdater
from certs.authority import Bundle, renew
from certs.files import write_files
from devcluster.registry import free_port
from tests.waiting import wait_until
from tests.webhook.reviews import application, body, ours, review

BINARY = Path(sys.executable).with_name("image-updater")
MILLISECONDS_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@dataclass
class Admission:
    port: int
    context: ssl.SSLContext
    bundle: Bundle
    process: subprocess.Popen[str]

    def get(self, path: str) -> str:
        with urllib.request.urlopen(
            f"https://127.0.0.1:{self.port}{path}", context=self.context
        ) as answer:
            return str(answer.read().decode())

    def post(self, path: str, data: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"https://127.0.0.1:{self.port}{path}",
            data=body(data),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, context=self.context) as answer:  # noqa: S310
            decoded: dict[str, Any] = json.loads(answer.read())
            return decoded

    def samples(self) -> dict[str, dict[str, float]]:
        found: dict[str, dict[str, float]] = {}
        for family in text_string_to_metric_families(self.get("/metrics")):
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                found.setdefault(sample.name, {})[labels] = sample.value
        return found

    def stop(self) -> list[dict[str, Any]]:
        """SIGTERM, then every JSON log line the process wrote."""
        self.process.send_signal(signal.SIGTERM)
        output, _ = self.process.communicate(timeout=15)
        assert self.process.returncode == 0, output
        return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


@pytest.fixture
def admission(tmp_path: Path) -> Iterator[Admission]:
    made = renew(None, ["localhost"], now=dt.datetime.now(dt.UTC), ip_addresses=["127.0.0.1"])
    assert made is not None
    write_files(made, tmp_path)
    port = free_port()
    # No cluster: the server only serves (the environment must not point it at one).
    env = {k: v for k, v in os.environ.items() if k != "KUBERNETES_SERVICE_HOST"}
    process = subprocess.Popen(
        [
            *(str(BINARY), "admission", "--address", "127.0.0.1", "--port", str(port)),
            *("--tls-cert-file", str(tmp_path / "tls.crt")),
            *("--tls-key-file", str(tmp_path / "tls.key")),
            *("--registries-conf-path", "", "--logformat", "json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    served = Admission(
        port,
        ssl.create_default_context(cadata=made.ca_cert.decode()),
        made,
        process,
    )
    try:
        wait_until(
            lambda: served.get("/healthz") == "ok",
            within=20,
            what="the admission process to answer /healthz over TLS",
            ignoring=(OSError,),
        )
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=15)


def test_the_process_exports_its_build_and_process_metrics(admission: Admission) -> None:
    samples = admission.samples()
    ((labels, value),) = samples["image_updater_build_info"].items()
    assert value == 1.0
    assert f"version={imageupdater.__version__}" in labels
    assert "python_version=3." in labels
    assert samples["process_resident_memory_bytes"][""] > 0
    assert samples["process_cpu_seconds_total"][""] > 0
    assert samples["process_open_fds"][""] > 0
    admission.stop()


def test_a_denial_is_logged_once_naming_its_reason_and_problems(admission: Admission) -> None:
    app = application(ours(image_list="web=nginx", web__update_stratgy="semver"), name="shop")
    answer = admission.post("/validate", review(app))
    assert answer["response"]["allowed"] is False
    lines = admission.stop()
    (denial,) = [line for line in lines if "denied" in line["msg"]]
    assert denial["level"] == "info"
    assert denial["application"] == "argocd/shop"
    assert denial["reason"] == "invalid-annotations"
    assert denial["uid"] == answer["response"]["uid"]
    assert "validate CREATE argocd/shop: denied (invalid-annotations): " in denial["msg"]
    assert (
        "argocd-image-updater.argoproj.io/web.update-stratgy: unknown annotation" in (denial["msg"])
    )
    assert "\n" not in denial["msg"]
    for line in lines:
        assert MILLISECONDS_UTC.match(line["time"]), line


def test_the_process_exports_when_the_certificate_it_serves_expires(
    admission: Admission,
) -> None:
    samples = admission.samples()
    admission.stop()
    expiry = samples.get("image_updater_certificate_expiry_timestamp_seconds", {})
    serving = x509.load_pem_x509_certificate(admission.bundle.cert)
    ca = x509.load_pem_x509_certificate(admission.bundle.ca_cert)
    assert expiry == {
        "certificate=ca": ca.not_valid_after_utc.timestamp(),
        "certificate=serving": serving.not_valid_after_utc.timestamp(),
    }
