"""The cert-manager overlay, with this test playing cert-manager's part: it issues the
Secret the Certificate names and injects the CA into the annotated webhook configurations
as cert-manager's CA injector does. The admission server (started from the overlay's
Deployment, under its own RBAC) serves that certificate, reloads it on renewal, and
``image-updater certs`` leaves it alone."""

from __future__ import annotations

import base64
import copy
import json
import signal
import socket
import ssl
import subprocess
from pathlib import Path
from typing import Any

from cryptography import x509

from devcluster.kubeapi import KubeAPI, run_in_thread, write_kubeconfig
from devcluster.registry import free_port
from devcluster.tls import TinyCA
from tests.install.harness import BINARY, NAMESPACE, component, kubectl, render
from tests.install.test_install_runs import app_manifest
from tests.waiting import wait_until

CERT_MANAGER_KINDS = {"Issuer", "Certificate"}  # no cert-manager in the emulator: played here
DNS = ["image-updater-webhook.argocd.svc", "image-updater-webhook.argocd.svc.cluster.local"]


def issue(api: KubeAPI, ca: TinyCA) -> bytes:
    """cert-manager's issuer: the Secret the Certificate names; returns the certificate."""
    issued = ca.issue(*DNS, "127.0.0.1")
    api.store.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {
                "name": "image-updater-webhook-tls",
                "namespace": NAMESPACE,
                "annotations": {"cert-manager.io/certificate-name": "image-updater-webhook"},
            },
            "data": {
                "tls.crt": base64.b64encode(issued.cert_pem).decode(),
                "tls.key": base64.b64encode(issued.key_pem).decode(),
                "ca.crt": base64.b64encode(ca.cert_pem).decode(),
            },
        }
    )
    return issued.cert_pem


def inject(api: KubeAPI, ca: TinyCA) -> None:
    """cert-manager's CA injector: every configuration annotated inject-ca-from."""
    for plural in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
        config = copy.deepcopy(
            api.store.get("admissionregistration.k8s.io", None, plural, None, "image-updater")
        )
        assert config is not None
        annotations = config["metadata"].get("annotations") or {}
        assert annotations.get("cert-manager.io/inject-ca-from") == "argocd/image-updater-webhook"
        for hook in config["webhooks"]:
            hook["clientConfig"]["caBundle"] = base64.b64encode(ca.cert_pem).decode()
        api.store.put(config)


def served_certificate(port: int, ca: Path) -> bytes | None:
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=DNS[0]) as tls,
    ):
        return tls.getpeercert(binary_form=True)


def der(pem: bytes) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)


def test_the_webhook_serves_cert_managers_certificate_and_reloads_it(tmp_path: Path) -> None:
    port = free_port()
    api = KubeAPI(service_addresses={(NAMESPACE, "image-updater-webhook"): f"127.0.0.1:{port}"})
    docs = render("cert-manager")
    for doc in docs:
        if doc["kind"] not in CERT_MANAGER_KINDS:
            api.store.put(doc)
    ca = TinyCA("cert-manager test CA")
    first = issue(api, ca)
    inject(api, ca)
    ca_file = ca.write_ca(tmp_path / "ca.crt")
    with run_in_thread(api) as server:
        admission = component(api, docs, "image-updater-admission", tmp_path, server_url=server.url)
        mounted = admission.mounts["/tmp/k8s-webhook-server/serving-certs"]
        assert (mounted / "tls.crt").read_bytes() == first
        admission.extra += [
            "--address", "127.0.0.1", "--port", str(port), "--registries-conf-path", "",
            "--tls-cert-file", str(mounted / "tls.crt"), "--tls-key-file", str(mounted / "tls.key"),
            "--cert-reload-interval", "200ms",
        ]  # fmt: skip
        log = tmp_path / "admission.log"
        process = admission.start(log)
        try:
            wait_until(
                lambda: served_certificate(port, ca_file),
                within=30,
                what="the admission server to serve cert-manager's certificate",
                ignoring=(OSError,),
            )
            assert served_certificate(port, ca_file) == der(first)
            # kubectl -> emulator -> webhook, verified with the injected caBundle.
            admin = write_kubeconfig(tmp_path / "admin.kubeconfig", server.url)
            bad = app_manifest("broken", "ghcr.io/acme/web", {"update-stratgy": "semver"})
            denied = kubectl(admin, "apply", "--validate=false", "-f", "-", stdin=bad)
            assert denied.returncode != 0 and "update-stratgy" in denied.stderr, denied.stderr

            # Renewal: cert-manager writes the Secret, the kubelet updates the mounted files.
            renewed = issue(api, ca)
            secret = api.store.get("", "v1", "secrets", NAMESPACE, "image-updater-webhook-tls")
            assert secret is not None
            for key in ("tls.key", "tls.crt"):
                (mounted / key).write_bytes(base64.b64decode(secret["data"][key]))
            wait_until(
                lambda: served_certificate(port, ca_file) == der(renewed),
                within=10,
                what="the admission server to serve the renewed certificate",
                ignoring=(OSError,),
            )

            # `image-updater certs` sees the configurations are cert-manager's and touches nothing.
            before = _snapshot(api)
            done = subprocess.run(
                [
                    str(BINARY), "certs", "--once", "--kubeconfig", str(admin),
                    "--namespace", NAMESPACE, "--service", "image-updater-webhook",
                    "--secret-name", "image-updater-webhook-tls",
                    "--webhook-configuration", "image-updater",
                ],
                capture_output=True, text=True, check=False, timeout=60,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            assert "cert-manager" in done.stderr
            assert _snapshot(api) == before
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(15)
    output = log.read_text()
    assert "forbidden" not in output.lower(), output[-2000:]


def _snapshot(api: KubeAPI) -> str:
    found: list[Any] = [api.store.get("", "v1", "secrets", NAMESPACE, "image-updater-webhook-tls")]
    for plural in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
        found.append(
            api.store.get("admissionregistration.k8s.io", None, plural, None, "image-updater")
        )
    return json.dumps(found, sort_keys=True)
