"""The install, run: ``kubectl apply -f install.yaml`` into the API emulator, then the
admission server and the reconciler started from their Deployments (args, env, ConfigMap
mounts, their own ServiceAccount's token under RBAC), and the demo's flow through kubectl."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from devcluster.kubeapi import KubeAPI, run_in_thread, write_kubeconfig
from devcluster.registry import LocalRegistry, free_port
from devcluster.seeder import ImageSeeder
from tests.install.harness import NAMESPACE, ROOT, Component, component, install_docs, kubectl
from tests.waiting import wait_until

PREFIX = "argocd-image-updater.argoproj.io/"


def seed(registry: LocalRegistry, repo: str, tags: list[str]) -> None:
    import asyncio

    import aiohttp

    async def push() -> None:
        async with aiohttp.ClientSession() as session:
            seeder = ImageSeeder(registry.url, session)
            for day, tag in enumerate(tags):
                await seeder.push(repo, tag, created=dt.datetime(2026, 1, 1 + day, tzinfo=dt.UTC))

    asyncio.run(push())


def app_manifest(name: str, image: str, annotations: dict[str, str]) -> str:
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "annotations": {
                PREFIX + "image-list": image,
                **{PREFIX + k: v for k, v in annotations.items()},
            },
        },
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://git.example/apps.git", "path": name, "kustomize": {}},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "apps"},
        },
    }
    return json.dumps(app)


class Running:
    """The install's components as processes, stopped (and their logs kept) at the end."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.processes: list[tuple[Component, subprocess.Popen[str], Path]] = []

    def start(self, part: Component) -> None:
        log = self.workdir / f"{part.name}.log"
        self.processes.append((part, part.start(log), log))

    def log(self, name: str) -> str:
        for part, _process, log in self.processes:
            if part.name == name:
                return log.read_text(errors="replace")
        raise KeyError(name)

    def stop(self) -> None:
        for _part, process, _log in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _part, process, _log in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    parts = Running(tmp_path)
    try:
        yield parts
    finally:
        parts.stop()


def https_ready(port: int, ca: Path) -> str | None:
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False  # the certificate names the Service; we dial 127.0.0.1
    with urllib.request.urlopen(
        f"https://127.0.0.1:{port}/readyz", context=context, timeout=5
    ) as r:
        return str(r.read().decode()) or None


def http_ready(port: int) -> str | None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
        return str(r.read().decode()) or None


def test_the_installed_components_run_the_demo_flow_under_their_own_rbac(
    tmp_path: Path, registry: LocalRegistry, unique_repo: str, running: Running
) -> None:
    seed(registry, unique_repo, ["1.26.2", "1.26.9"])
    image = f"{registry.host}/{unique_repo}"
    admission_port, health, metrics = free_port(), free_port(), free_port()
    api = KubeAPI(
        service_addresses={(NAMESPACE, "image-updater-webhook"): f"127.0.0.1:{admission_port}"}
    )
    with run_in_thread(api) as server:
        admin = write_kubeconfig(tmp_path / "admin.kubeconfig", server.url)
        install = ROOT / "manifests" / "install.yaml"
        done = kubectl(admin, "apply", "--validate=false", "-n", NAMESPACE, "-f", str(install))
        assert done.returncode == 0, done.stderr
        conf = f"registries:\n- name: local\n  prefix: {registry.host}\n  api_url: {registry.url}\n"
        configmap = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "argocd-image-updater-config", "namespace": NAMESPACE},
            "data": {"registries.conf": conf, "log.level": "debug", "interval": "1s"},
        }
        done = kubectl(admin, "apply", "--validate=false", "-f", "-", stdin=json.dumps(configmap))
        assert done.returncode == 0, done.stderr

        docs = install_docs()
        admission = component(api, docs, "image-updater-admission", tmp_path, server_url=server.url)
        certs = tmp_path / "admission-certs"
        admission.extra += [
            "--address", "127.0.0.1", "--port", str(admission_port),
            "--tls-cert-file", str(certs / "tls.crt"), "--tls-key-file", str(certs / "tls.key"),
        ]  # fmt: skip
        reconciler = component(
            api, docs, "image-updater-reconciler", tmp_path, server_url=server.url
        )
        reconciler.extra += [
            "--listen-address", "127.0.0.1", "--health-port", str(health),
            "--metrics-port", str(metrics), "--git-cache-dir", str(tmp_path / "git-cache"),
        ]  # fmt: skip
        assert admission.env["IMAGE_UPDATER_LOGLEVEL"] == "debug"  # from the ConfigMap
        assert reconciler.env["IMAGE_UPDATER_INTERVAL"] == "1s"
        running.start(admission)
        running.start(reconciler)
        wait_until(
            lambda: (
                https_ready(admission_port, certs / "ca.crt")
                if (certs / "ca.crt").exists()
                else None
            ),
            within=30,
            what="the admission server to serve with its self-signed certificate",
            ignoring=(OSError,),
        )
        wait_until(
            lambda: http_ready(health), within=30, what="the reconciler", ignoring=(OSError,)
        )

        # The webhook configurations got the CA, through the admission server's own rights.
        for plural in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
            config = api.store.get(
                "admissionregistration.k8s.io", None, plural, None, "image-updater"
            )
            assert config is not None and config["webhooks"][0]["clientConfig"].get("caBundle")

        # A mistake is refused at kubectl apply.
        bad = app_manifest("broken", image, {"update-stratgy": "semver"})
        denied = kubectl(admin, "apply", "--validate=false", "-f", "-", stdin=bad)
        assert denied.returncode != 0
        assert "update-stratgy" in denied.stderr and "did you mean" in denied.stderr

        # A good Application is admitted with its override, set by the webhook.
        good = app_manifest("shop", f"{image}:~1.26", {})
        admitted = kubectl(admin, "apply", "--validate=false", "-f", "-", stdin=good)
        assert admitted.returncode == 0, admitted.stderr

        def override() -> list[str] | None:
            app = api.store.get("argoproj.io", None, "applications", NAMESPACE, "shop")
            images = ((app or {}).get("spec", {}).get("source", {}).get("kustomize") or {}).get(
                "images"
            )
            return images or None

        assert wait_until(override, within=10, what="the override") == [f"{image}:1.26.9"]

        # Argo CD syncs it (the emulator runs no Argo CD: its status write, by hand)...
        synced = api.store.get("argoproj.io", None, "applications", NAMESPACE, "shop")
        assert synced is not None
        synced = dict(synced)
        synced["status"] = {"sourceType": "Kustomize", "summary": {"images": [f"{image}:1.26.9"]}}
        api.store.put(synced)
        # ...and a newer build reaches the Application through the reconciler, with an Event.
        seed(registry, unique_repo, ["1.26.10"])

        def updated() -> bool:
            return override() == [f"{image}:1.26.10"]

        wait_until(updated, within=30, what="the reconciler to write 1.26.10")
        events = api.store.list("", None, "events", NAMESPACE)
        assert any(e.get("reason") == "ImagesUpdated" for e in events)
        lease = api.store.get(
            "coordination.k8s.io", None, "leases", NAMESPACE, "image-updater-leader"
        )
        assert lease is not None and lease["spec"]["holderIdentity"]

    for name in ("image-updater-admission", "image-updater-reconciler"):
        log = running.log(name)
        assert "forbidden" not in log.lower(), log[-3000:]
        assert "Traceback" not in log, log[-3000:]


def test_an_upstream_configmap_key_that_is_not_supported_stops_the_components_at_start(
    tmp_path: Path,
) -> None:
    api = KubeAPI()
    for doc in install_docs():
        api.store.put(doc)
    api.store.put(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "argocd-image-updater-config", "namespace": NAMESPACE},
            "data": {"log.level": "info", "max_concurrent_apps": "20"},
        }
    )
    docs = install_docs()
    with run_in_thread(api) as server:
        for name in ("image-updater-reconciler", "image-updater-admission"):
            part = component(api, docs, name, tmp_path, server_url=server.url)
            done = subprocess.run(
                part.command(),
                env={**os.environ, **part.env},
                capture_output=True,
                text=True,
                check=False,
                timeout=60,
            )
            assert done.returncode == 2, done.stderr
            assert "key 'max_concurrent_apps' is upstream's and not supported" in done.stderr


def test_python_m_devcluster_install_shows_the_install_working() -> None:
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "devcluster", "install"],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "denied the request" in done.stdout
    assert "the admission server set the override" in done.stdout
    assert "the reconciler wrote" in done.stdout and "1.26.10" in done.stdout
    assert "ImagesUpdated: Successfully updated application 'shop'" in done.stdout
