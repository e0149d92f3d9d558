"""A cluster as kubectl drives it, for the webhook's end-to-end tests: the API emulator with
the webhook configurations of ``manifests/`` pointing at our HTTPS server, and the real
``kubectl`` talking to it."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from certs.authority import Bundle, renew, service_dns_names
from certs.files import server_context, write_files
from devcluster.kubeapi import KubeAPI
from webhook.admission import Admission
from webhook.metrics import WebhookMetrics
from webhook.server import make_app

MANIFESTS = Path(__file__).parents[2] / "manifests" / "base" / "webhook-configurations.yaml"


@dataclass
class KubectlCluster:
    api: KubeAPI
    kubeconfig: Path
    cache: Path

    async def kubectl(self, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "KUBECACHEDIR": str(self.cache)}
        process = await asyncio.create_subprocess_exec(
            "kubectl",
            *args,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate(stdin.encode() if stdin else None)
        return process.returncode or 0, out.decode(), err.decode()

    async def apply(self, obj: dict[str, Any]) -> tuple[int, str, str]:
        return await self.kubectl("apply", "--validate=false", "-f", "-", stdin=yaml.safe_dump(obj))


def webhook_certificates(directory: Path) -> tuple[Bundle, ssl.SSLContext]:
    """A CA and serving certificate for the webhook Service (and 127.0.0.1), written to
    ``directory``, and a server context serving them."""
    names = [*service_dns_names("image-updater-webhook", "argocd"), "localhost"]
    bundle = renew(None, names, now=dt.datetime.now(dt.UTC), ip_addresses=["127.0.0.1"])
    assert bundle is not None
    write_files(bundle, directory)
    return bundle, server_context(directory / "tls.crt", directory / "tls.key")


async def serve_webhook(
    admission: Admission, metrics: WebhookMetrics, context: ssl.SSLContext
) -> tuple[web.AppRunner, int]:
    """Our admission server on 127.0.0.1 over TLS; the runner (to clean up) and its port."""
    runner = web.AppRunner(make_app(admission, metrics))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context).start()
    return runner, runner.addresses[0][1]


def register_webhooks(api: KubeAPI, bundle: Bundle) -> None:
    """The manifests' webhook configurations, trusting ``bundle``'s CA, stored in ``api``."""
    ca_bundle = base64.b64encode(bundle.ca_bundle).decode()
    for document in yaml.safe_load_all(MANIFESTS.read_text()):
        for hook in document["webhooks"]:
            hook["clientConfig"]["caBundle"] = ca_bundle
        api.store.put(document)
