"""The webhook process: TLS, certificate reload or in-process rotation, resolver, server.

Kept apart from the flag parsing in ``webhook.cli`` so ``image-updater --help`` and
invalid-flag errors do not pay for importing the Kubernetes and HTTP stacks.
"""

from __future__ import annotations

__all__ = ["serve"]

import argparse
import asyncio
import contextlib
import logging
import os
import signal

from prometheus_client import CollectorRegistry

from certs import manager as cert_manager
from certs.files import CertReloader, server_context
from imageupdater import kube
from imageupdater.cli import EXIT_OK
from imageupdater.errors import ImageUpdaterError
from imageupdater.registries_conf import RegistriesConf
from imageupdater.service import ResolverService
from imageupdater.serving import ServerLimits, serve_app
from webhook.admission import Admission, AdmissionSettings
from webhook.metrics import WebhookMetrics
from webhook.server import make_app

log = logging.getLogger("image_updater.webhook")


async def _connect(args: argparse.Namespace) -> kube.KubeClient | None:
    if args.kubeconfig or "KUBERNETES_SERVICE_HOST" in os.environ:
        return await kube.KubeClient.connect(args.kubeconfig)
    return None


async def serve(args: argparse.Namespace, conf: RegistriesConf) -> int:
    async with contextlib.AsyncExitStack() as stack:
        client = await _connect(args)
        if client is not None:
            stack.push_async_callback(client.close)
        background: list[asyncio.Task[None]] = []
        if args.self_signed_certs:
            if client is None:
                raise ImageUpdaterError("--self-signed-certs needs cluster access (--kubeconfig)")
            settings = cert_manager.CertSettings(
                namespace=args.certs_namespace,
                service=args.certs_service,
                secret_name=args.certs_secret,
                webhook_configurations=args.certs_webhook_configuration or ["image-updater"],
                cert_dir=args.tls_cert_file.parent,
            )
            # The first pass writes the files the TLS context needs before we listen.
            await cert_manager.ensure(client, settings)
            background.append(asyncio.create_task(cert_manager.run(client, settings)))
        context = server_context(args.tls_cert_file, args.tls_key_file)
        reloader = CertReloader(
            context, args.tls_cert_file, args.tls_key_file, interval=args.reload_interval_s
        )
        await stack.enter_async_context(reloader.running())
        resolver = await stack.enter_async_context(
            ResolverService(conf, secrets=client, reachability=args.reachability)
        )
        registry = CollectorRegistry()
        metrics = WebhookMetrics(registry, registry_snapshot=resolver.client.snapshot)
        admission = Admission(
            AdmissionSettings(
                resolve_timeout=args.resolve_timeout_s,
                credentials=args.credential_rules,
            ),
            resolver.resolve,
        )
        app = make_app(admission, metrics, max_body=args.max_body_bytes)
        limits = ServerLimits(
            max_connections=args.max_connections, max_in_flight=args.max_in_flight_requests
        )
        server = await stack.enter_async_context(
            serve_app(app, args.address, args.port, ssl_context=context, limits=limits)
        )
        log.info(
            "serving admission reviews on https://%s:%d (at most %d connections, %d requests "
            "in flight)",
            args.address,
            server.port,
            server.max_connections,
            limits.max_in_flight,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
        log.info("shutting down")
    return EXIT_OK
