"""``python -m devcluster install``: the install, working, on this machine.

It starts Debian's ``docker-registry`` and the Kubernetes API emulator, applies
``manifests/install.yaml`` with the real ``kubectl``, puts a ``registries.conf`` into
upstream's ConfigMap, and starts the admission server and the reconciler from the
Deployments in ``install.yaml`` — their args, their env from the ConfigMap, their mounts,
their own ServiceAccount's token under RBAC — as ``devcluster.installer`` does for the
tests. Then it walks the flow an operator would try: a broken Application denied at
``kubectl apply``, a good one admitted with its image override, a newer image pushed and
written by the reconciler, the Events. With ``--keep-running`` everything stays up
afterwards (the kubeconfig path is printed) until Ctrl-C. Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import signal
import ssl
import subprocess
import tempfile
import threading
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp

from devcluster.installer import NAMESPACE, ROOT, Component, component, install_docs, kubectl
from devcluster.kubeapi import KubeAPI, run_in_thread, write_kubeconfig
from devcluster.registry import LocalRegistry, free_port
from devcluster.seeder import ImageSeeder

PREFIX = "argocd-image-updater.argoproj.io/"
_BASE = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


def _say(text: str = "") -> None:
    print(text, flush=True)


async def _push(url: str, tags: Sequence[str], day: int = 0) -> None:
    async with aiohttp.ClientSession() as session:
        seeder = ImageSeeder(url, session)
        for offset, tag in enumerate(tags):
            created = _BASE + dt.timedelta(days=day + offset)
            await seeder.push("demo/nginx", tag, created=created)


def _app(name: str, image_list: str, extra: dict[str, str] | None = None) -> str:
    annotations = {PREFIX + "image-list": image_list}
    annotations.update({PREFIX + k: v for k, v in (extra or {}).items()})
    return json.dumps(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": name, "namespace": NAMESPACE, "annotations": annotations},
            "spec": {
                "project": "default",
                "source": {
                    "repoURL": "https://git.example/shop.git",
                    "path": name,
                    "kustomize": {},
                },
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"},
            },
        }
    )


def _wait(probe: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    while dt.datetime.now(dt.UTC) < deadline:
        try:
            if found := probe():
                return found
        except OSError:
            pass
        threading.Event().wait(0.1)
    raise TimeoutError(f"timed out after {seconds:g} s waiting for {what}")


def _show(title: str, done: subprocess.CompletedProcess[str]) -> None:
    _say(f"$ {title}")
    for line in (done.stdout + done.stderr).strip().splitlines():
        _say(f"  {line}")
    _say(f"  (exit {done.returncode})")
    _say()


class _Parts:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.running: list[tuple[Component, subprocess.Popen[str]]] = []

    def start(self, part: Component) -> None:
        self.running.append((part, part.start(self.workdir / f"{part.name}.log")))

    def stop(self) -> None:
        for _, process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _, process in self.running:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devcluster install",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--keep-running", action="store_true", help="stay up after the flow until Ctrl-C"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="image-updater-install-") as scratch:
        workdir = Path(scratch)
        with LocalRegistry(workdir / "registry") as registry:
            asyncio.run(_push(registry.url, ["1.26.2", "1.26.9"]))
            return _flow(workdir, registry, keep_running=args.keep_running)


def _flow(workdir: Path, registry: LocalRegistry, *, keep_running: bool) -> int:
    image = f"{registry.host}/demo/nginx"
    port, health, metrics = free_port(), free_port(), free_port()
    api = KubeAPI(service_addresses={(NAMESPACE, "image-updater-webhook"): f"127.0.0.1:{port}"})
    parts = _Parts(workdir)
    with run_in_thread(api) as server:
        admin = write_kubeconfig(workdir / "kubeconfig", server.url)
        install = ROOT / "manifests" / "install.yaml"
        _show(
            "kubectl apply -n argocd -f manifests/install.yaml",
            kubectl(admin, "apply", "--validate=false", "-n", NAMESPACE, "-f", str(install)),
        )
        conf = f"registries:\n- name: local\n  prefix: {registry.host}\n  api_url: {registry.url}\n"
        configmap = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "argocd-image-updater-config", "namespace": NAMESPACE},
            "data": {"registries.conf": conf, "interval": "2s"},
        }
        _show(
            "kubectl apply -f argocd-image-updater-config.yaml   (registries.conf, interval 2s)",
            kubectl(admin, "apply", "--validate=false", "-f", "-", stdin=json.dumps(configmap)),
        )
        docs = install_docs()
        admission = component(api, docs, "image-updater-admission", workdir, server_url=server.url)
        certs = workdir / "admission-certs"
        admission.extra += [
            "--address", "127.0.0.1", "--port", str(port),
            "--tls-cert-file", str(certs / "tls.crt"), "--tls-key-file", str(certs / "tls.key"),
        ]  # fmt: skip
        reconciler = component(
            api, docs, "image-updater-reconciler", workdir, server_url=server.url
        )
        reconciler.extra += [
            "--listen-address", "127.0.0.1", "--health-port", str(health),
            "--metrics-port", str(metrics), "--git-cache-dir", str(workdir / "git-cache"),
        ]  # fmt: skip
        try:
            for part in (admission, reconciler):
                _say(f"starting {part.name} from its Deployment, as {part.service_account}:")
                _say("  image-updater " + " ".join(part.argv))
                local = [a for a in part.extra if not a.endswith(".kubeconfig")]
                _say("  on this machine also: " + " ".join(a for a in local if a != "--kubeconfig"))
                parts.start(part)
            _say()

            def admission_ready() -> bool:
                if not (certs / "ca.crt").exists():
                    return False
                context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
                context.check_hostname = False
                url = f"https://127.0.0.1:{port}/readyz"
                with urllib.request.urlopen(url, context=context, timeout=5) as answer:
                    return bool(answer.status == 200)

            def reconciler_ready() -> bool:
                url = f"http://127.0.0.1:{health}/readyz"
                with urllib.request.urlopen(url, timeout=5) as answer:
                    return bool(answer.status == 200)

            _wait(admission_ready, 30, "the admission server")
            _wait(reconciler_ready, 30, "the reconciler")
            _show(
                "kubectl apply -f broken.yaml   (update-stratgy: a typo)",
                kubectl(
                    admin, "apply", "--validate=false", "-f", "-",
                    stdin=_app("broken", image, {"update-stratgy": "semver"}),
                ),
            )  # fmt: skip
            _show(
                f"kubectl apply -f shop.yaml   (image-list: {image}:~1.26)",
                kubectl(
                    admin,
                    "apply",
                    "--validate=false",
                    "-f",
                    "-",
                    stdin=_app("shop", f"{image}:~1.26"),
                ),
            )

            def images() -> list[str] | None:
                app = api.store.get("argoproj.io", None, "applications", NAMESPACE, "shop") or {}
                source = app.get("spec", {}).get("source", {})
                return (source.get("kustomize") or {}).get("images") or None

            _say(f"the admission server set the override: {_wait(images, 10, 'the override')}")
            # Argo CD would sync it and report the image running; the emulator runs no Argo CD.
            app = dict(api.store.get("argoproj.io", None, "applications", NAMESPACE, "shop") or {})
            app["status"] = {"sourceType": "Kustomize", "summary": {"images": [f"{image}:1.26.9"]}}
            api.store.put(app)
            asyncio.run(_push(registry.url, ["1.26.10"], day=10))
            _say(f"pushed {image}:1.26.10; waiting for the reconciler ...")
            _wait(lambda: images() == [f"{image}:1.26.10"], 30, "the reconciler's write")
            _say(f"the reconciler wrote: {images()}")
            _show(
                "kubectl get events -n argocd",
                kubectl(
                    admin, "get", "events", "-n", NAMESPACE, "-o",
                    "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}",
                ),
            )  # fmt: skip
            if keep_running:
                _say(f"running; try: kubectl --kubeconfig {admin} get applications -n argocd")
                _say(f"logs: {workdir}/*.log; Ctrl-C stops everything")
                with contextlib.suppress(KeyboardInterrupt):
                    threading.Event().wait()
        finally:
            parts.stop()
    _say("registry, API emulator, admission server and reconciler stopped; done.")
    return 0
