"""The webhook's operator metrics: the process, the build, and certificate expiry.

Composed as ``webhook.serve`` composes the server (the reloader that serves the files feeds
the expiry), served on 127.0.0.1 and scraped over HTTP.
"""

from __future__ import annotations

import datetime as dt
import platform
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

import imageupdater
from certs.authority import Bundle, renew
from certs.files import CertReloader, server_context, write_files
from imageupdater.serving import serve_app
from webhook.admission import Admission, AdmissionSettings
from webhook.metrics import CertificateExpiry, WebhookMetrics
from webhook.server import make_app

NOW = dt.datetime.now(dt.UTC)
EXPIRY = "image_updater_certificate_expiry_timestamp_seconds"


def issued(current: Bundle | None = None, *, days: int = 365) -> Bundle:
    made = renew(current, ["localhost"], now=NOW, cert_lifetime=dt.timedelta(days=days), force=True)
    assert made is not None
    return made


def not_after(pem: bytes) -> float:
    return x509.load_pem_x509_certificate(pem).not_valid_after_utc.timestamp()


async def scrape(certificates: CertificateExpiry | None = None) -> dict[str, dict[str, float]]:
    """Every sample the server exports: name -> rendered labels -> value."""
    metrics = WebhookMetrics(CollectorRegistry(), certificates=certificates)
    app = make_app(Admission(AdmissionSettings()), metrics)
    async with (
        serve_app(app, "127.0.0.1", 0) as server,
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{server.port}/metrics") as answer,
    ):
        assert answer.status == 200
        text = await answer.text()
    samples: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[labels] = sample.value
    return samples


async def test_the_build_and_the_process_are_exported() -> None:
    samples = await scrape()
    labels = (
        f"platform={platform.system().lower()}/{platform.machine()},"
        f"python_version={platform.python_version()},version={imageupdater.__version__}"
    )
    assert samples["image_updater_build_info"] == {labels: 1.0}
    assert samples["process_resident_memory_bytes"][""] > 0
    assert samples["process_open_fds"][""] > 0
    assert "process_cpu_seconds_total" in samples
    assert "process_start_time_seconds" in samples


async def test_the_served_certificate_and_its_ca_expiry_are_exported(tmp_path: Path) -> None:
    first = issued(days=30)
    write_files(first, tmp_path)
    context = server_context(tmp_path / "tls.crt", tmp_path / "tls.key")
    reloader = CertReloader(context, tmp_path / "tls.crt", tmp_path / "tls.key")
    samples = await scrape(reloader.expiry)
    assert samples[EXPIRY] == {
        "certificate=ca": not_after(first.ca_cert),
        "certificate=serving": not_after(first.cert),
    }
    # Rotated on disk and reloaded: the next scrape shows the new serving certificate.
    second = issued(first, days=60)
    write_files(second, tmp_path)
    assert reloader.check()
    samples = await scrape(reloader.expiry)
    assert samples[EXPIRY]["certificate=serving"] == not_after(second.cert)
    assert samples[EXPIRY]["certificate=serving"] > not_after(first.cert)


@pytest.mark.parametrize("certificates", [None, dict], ids=["not-wired", "nothing-known"])
async def test_without_known_certificates_the_expiry_family_is_still_described(
    certificates: CertificateExpiry | None,
) -> None:
    # So that an alert on it can tell "no samples" from "the metric does not exist".
    metrics = WebhookMetrics(CollectorRegistry(), certificates=certificates)
    described = {family.name for family in metrics.registry.collect()}
    assert EXPIRY in described
    assert EXPIRY not in await scrape(certificates)  # a family without samples
