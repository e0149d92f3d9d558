"""``image-updater webhook``: the validating and mutating admission webhook server.

Serves HTTPS (TLS 1.2 or newer) with the certificate in ``--tls-cert-file`` /
``--tls-key-file``, reloading them when they change. With ``--self-signed-certs`` it also
runs the ``certs`` rotation loop in-process: it keeps the CA and serving certificate in a
Secret, injects the CA bundle into the webhook configurations and writes the files it
serves. Leave that off when cert-manager (or the ``certs`` Job) provides the certificate.
"""

from __future__ import annotations

__all__ = ["register", "run"]

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry

from certs import manager as cert_manager
from certs.files import CertReloader, server_context
from imageupdater import kube
from imageupdater.cli import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from imageupdater.durations import parse_duration
from imageupdater.errors import ImageUpdaterError, InvalidInput
from imageupdater.logsetup import LOG_LEVELS, configure_logging
from imageupdater.registries_conf import RegistriesConf
from imageupdater.service import ResolverService
from webhook.admission import Admission, AdmissionSettings
from webhook.metrics import WebhookMetrics
from webhook.server import MAX_BODY, make_app

log = logging.getLogger("image_updater.webhook")
DEFAULT_REGISTRIES_CONF = "/app/config/registries.conf"
# controller-runtime's conventional mount point for webhook certificates, so manifests fit.
CERT_DIR = Path("/tmp/k8s-webhook-server/serving-certs")  # noqa: S108


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "webhook",
        help="serve the admission webhook that validates and mutates Applications",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add(
        "--address",
        default="0.0.0.0",  # noqa: S104 - kube-apiserver reaches the pod IP
        help="address to listen on (default %(default)s)",
    )
    add("--port", type=int, default=8443, help="HTTPS port (default %(default)s)")
    add(
        "--tls-cert-file",
        type=Path,
        default=CERT_DIR / "tls.crt",
        help="serving certificate, reloaded when it changes (default %(default)s)",
    )
    add(
        "--tls-key-file",
        type=Path,
        default=CERT_DIR / "tls.key",
        help="serving key (default %(default)s)",
    )
    add(
        "--registries-conf-path",
        default=DEFAULT_REGISTRIES_CONF,
        help="registries.conf file ('' = none; default %(default)s when it exists)",
    )
    add(
        "--kubeconfig",
        help="kubeconfig for pull secrets and certificates (default: in-cluster if "
        "available, else none)",
    )
    add(
        "--resolve-timeout",
        default="2s",
        help="longest wait for registries while mutating, Go duration (default %(default)s)",
    )
    add(
        "--allow-cross-namespace-secrets",
        action="store_true",
        help="accept pull-secret and git secret references outside the Application's namespace",
    )
    add(
        "--max-body-bytes",
        type=int,
        default=MAX_BODY,
        help="largest AdmissionReview accepted (default %(default)s)",
    )
    add(
        "--cert-reload-interval",
        default="10s",
        help="how often the certificate files are checked for changes (default %(default)s)",
    )
    add(
        "--self-signed-certs",
        action="store_true",
        help="manage the CA and serving certificate in-process (Secret, caBundle, files)",
    )
    add(
        "--certs-namespace",
        default=os.environ.get("POD_NAMESPACE", "argocd"),
        help="with --self-signed-certs: namespace of the Service and Secret",
    )
    add(
        "--certs-service",
        default="image-updater-webhook",
        help="with --self-signed-certs: the webhook Service's name",
    )
    add(
        "--certs-secret",
        default="image-updater-webhook-tls",
        help="with --self-signed-certs: the Secret holding the material",
    )
    add(
        "--certs-webhook-configuration",
        action="append",
        default=[],
        help="with --self-signed-certs: configuration to inject the CA into; repeatable "
        "(default image-updater)",
    )
    add("--loglevel", choices=LOG_LEVELS, default="info", help="log level (default %(default)s)")
    add(
        "--logformat",
        choices=("text", "json"),
        default="text",
        help="log format (default %(default)s)",
    )
    parser.set_defaults(handler=run)


def _registries(path: str) -> RegistriesConf:
    """``''`` means none; the default path may be absent; any other path must exist."""
    if not path or (path == DEFAULT_REGISTRIES_CONF and not Path(path).exists()):
        return RegistriesConf.load(None)
    if not Path(path).is_file():
        raise InvalidInput(f"--registries-conf-path {path!r} does not exist or is not a file")
    return RegistriesConf.load(Path(path))


def run(args: argparse.Namespace) -> int:
    configure_logging(args.loglevel, args.logformat)
    try:
        args.resolve_timeout_s = parse_duration(args.resolve_timeout)
        args.reload_interval_s = parse_duration(args.cert_reload_interval)
        conf = _registries(args.registries_conf_path)
    except (ValueError, ImageUpdaterError) as exc:
        print(f"image-updater webhook: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if args.resolve_timeout_s <= 0:
        print("image-updater webhook: --resolve-timeout must be positive", file=sys.stderr)
        return EXIT_INVALID
    try:
        return asyncio.run(_serve(args, conf))
    except InvalidInput as exc:
        log.error("%s", exc)
        return EXIT_INVALID
    except ImageUpdaterError as exc:
        log.error("%s", exc)
        return EXIT_FAILED
    except OSError as exc:
        log.error("cannot serve: %s", exc)
        return EXIT_FAILED


async def _connect(args: argparse.Namespace) -> kube.KubeClient | None:
    if args.kubeconfig or "KUBERNETES_SERVICE_HOST" in os.environ:
        return await kube.KubeClient.connect(args.kubeconfig)
    return None


async def _serve(args: argparse.Namespace, conf: RegistriesConf) -> int:
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
        resolver = await stack.enter_async_context(ResolverService(conf, secrets=client))
        registry = CollectorRegistry()
        metrics = WebhookMetrics(registry, registry_snapshot=resolver.client.snapshot)
        admission = Admission(
            AdmissionSettings(
                resolve_timeout=args.resolve_timeout_s,
                allow_cross_namespace_secrets=args.allow_cross_namespace_secrets,
            ),
            resolver.resolve,
        )
        app = make_app(admission, metrics, max_body=args.max_body_bytes)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, args.address, args.port, ssl_context=context)
        await site.start()
        log.info("serving admission reviews on https://%s:%d", args.address, args.port)
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
