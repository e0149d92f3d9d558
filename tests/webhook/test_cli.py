"""`image-updater admission` as a process: in-process certificates, probes, shutdown, bad flags."""

from __future__ import annotations

import base64
import signal
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import yaml

from devcluster.kubeapi import KubeAPI, run_in_thread, write_kubeconfig
from devcluster.registry import free_port
from tests.waiting import wait_until

BINARY = Path(sys.executable).with_name("image-updater")
MANIFESTS = Path(__file__).parents[2] / "manifests" / "base" / "webhook-configurations.yaml"


def test_invalid_flags_exit_2_naming_the_value() -> None:
    done = subprocess.run(
        [str(BINARY), "admission", "--resolve-timeout", "soon"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "'soon'" in done.stderr
    assert "Traceback" not in done.stderr


def test_self_signed_mode_issues_certificates_injects_the_ca_and_serves(tmp_path: Path) -> None:
    port = free_port()
    api = KubeAPI()
    for document in yaml.safe_load_all(MANIFESTS.read_text()):
        api.store.put(document)
    with run_in_thread(api) as running:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", running.url)
        certs = tmp_path / "certs"
        process = subprocess.Popen(
            [
                str(BINARY),
                "admission",
                "--self-signed-certs",
                "--kubeconfig",
                str(kubeconfig),
                "--address",
                "127.0.0.1",
                "--port",
                str(port),
                "--certs-namespace",
                "argocd",
                "--tls-cert-file",
                str(certs / "tls.crt"),
                "--tls-key-file",
                str(certs / "tls.key"),
                "--registries-conf-path",
                "",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_until(
                (certs / "ca.crt").exists,
                within=20,
                what="the webhook process to write its CA certificate",
            )
            context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
            context.check_hostname = False  # the certificate names the Service, we dial 127.0.0.1

            def healthz() -> str:
                with urllib.request.urlopen(
                    f"https://127.0.0.1:{port}/healthz", context=context
                ) as r:
                    return str(r.read().decode())

            body = wait_until(
                healthz,
                within=20,
                what="the webhook process to answer /healthz over TLS",
                ignoring=(OSError,),
            )
            assert body == "ok"
            secret = api.store.get("", "v1", "secrets", "argocd", "image-updater-webhook-tls")
            assert secret is not None and secret["type"] == "kubernetes.io/tls"
            ca = base64.b64decode(secret["data"]["ca.crt"])
            for plural in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
                config = api.store.get(
                    "admissionregistration.k8s.io", None, plural, None, "image-updater"
                )
                assert config is not None
                assert base64.b64decode(config["webhooks"][0]["clientConfig"]["caBundle"]) == ca
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=15)
    assert process.returncode == 0, output
    assert "shutting down" in output
