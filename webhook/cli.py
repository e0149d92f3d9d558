"""``image-updater admission``: the validating and mutating admission webhook server.

Serves HTTPS (TLS 1.2 or newer) with the certificate in ``--tls-cert-file`` /
``--tls-key-file``, reloading them when they change. With ``--self-signed-certs`` it also
runs the ``certs`` rotation loop in-process: it keeps the CA and serving certificate in a
Secret, injects the CA bundle into the webhook configurations and writes the files it
serves. Leave that off when cert-manager (or the ``certs`` Job) provides the certificate.

With ``--workers N`` (N > 1) a supervisor starts N serving processes that listen on the one
port (``SO_REUSEPORT``: the kernel spreads connections over them), each with its own caches;
it alone rotates certificates with ``--self-signed-certs``, the workers reload the files. It
restarts a worker that dies (at most 5 times a minute, then it stops and exits 1) and stops
them all, each draining its requests, on SIGTERM or SIGINT. ``/metrics`` on any worker
answers for all of them, every series labelled ``worker="<i>"``, plus
``image_updater_admission_worker_up``.
"""

from __future__ import annotations

__all__ = ["register", "run"]

import argparse
import logging
import os
import sys
from pathlib import Path

from imageupdater.cli import EXIT_FAILED, EXIT_INVALID
from imageupdater.cli.redis_flags import add_redis_flags
from imageupdater.cli.tenant_flags import add_credential_rule_flags, add_reachability_flags
from imageupdater.errors import ImageUpdaterError, InvalidInput
from imageupdater.logsetup import LOG_LEVELS, configure_logging
from webhook.options import WebhookOptions
from webhook.review import MAX_BODY

log = logging.getLogger("image_updater.webhook")
# controller-runtime's conventional mount point for webhook certificates, so manifests fit.
CERT_DIR = Path("/tmp/k8s-webhook-server/serving-certs")  # noqa: S108


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "admission",
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
        default=None,
        help="registries.conf file ('' = none; default: /app/config/registries.conf if present)",
    )
    add_reachability_flags(add)
    add_redis_flags(add)
    add(
        "--kubeconfig",
        help="kubeconfig for pull secrets and certificates (default: in-cluster if "
        "available, else none)",
    )
    add(
        "--configmap-dir",
        default=None,
        help="where upstream's ConfigMap argocd-image-updater-config is mounted whole, to refuse "
        "keys that are not supported ('' = do not check; default "
        "/app/config/argocd-image-updater-config if present)",
    )
    add(
        "--argocd-namespace",
        default=None,
        help="where AppProjects live, for their sync windows (env ARGOCD_NAMESPACE; default: "
        "each Application's own namespace)",
    )
    add(
        "--resolve-timeout",
        default="2s",
        help="longest wait for registries while mutating, Go duration (default %(default)s)",
    )
    add_credential_rule_flags(add)
    add(
        "--max-body-bytes",
        type=int,
        default=MAX_BODY,
        help="largest AdmissionReview accepted (default %(default)s)",
    )
    add(
        "--max-connections",
        type=int,
        default=1000,
        help="open connections at most; past it the oldest idle or slow one is dropped; "
        "never above the open-file limit (default %(default)s)",
    )
    add(
        "--max-in-flight-requests",
        type=int,
        default=128,
        help="reviews handled at once; past it 503 with Retry-After (default %(default)s)",
    )
    add(
        "--workers",
        default=None,
        metavar="N",
        help="serving processes sharing the port (SO_REUSEPORT), 1 to 64 or 'auto' (one per "
        "CPU); the connection and in-flight limits apply to each; /metrics answers for all "
        'of them, each series labelled worker="<i>" (env IMAGE_UPDATER_ADMISSION_WORKERS; '
        "default 1)",
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
    add(
        "--loglevel",
        choices=LOG_LEVELS,
        default=None,
        help="log level (env IMAGE_UPDATER_LOGLEVEL; default info)",
    )
    add(
        "--logformat",
        choices=("text", "json"),
        default=None,
        help="log format (env IMAGE_UPDATER_LOGFORMAT; default text)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from imageupdater.registries_conf import RegistriesConf  # yaml, cryptography: only now

    try:
        options = WebhookOptions.from_args(args)
        conf = RegistriesConf.from_flag(options.registries_conf_path)
    except (ValueError, ImageUpdaterError) as exc:
        print(f"image-updater admission: {exc}", file=sys.stderr)
        return EXIT_INVALID
    configure_logging(options.loglevel, options.logformat)
    # Imported here: serving pulls in aiohttp, TLS and the Kubernetes client, which `--help`
    # and flag errors should not wait for.
    import asyncio

    try:
        if options.workers > 1:
            from webhook.workers import supervise  # serves nothing itself: the workers do

            return asyncio.run(supervise(options, conf))
        from webhook.serve import serve

        return asyncio.run(serve(options, conf))
    except InvalidInput as exc:
        log.error("%s", exc)
        return EXIT_INVALID
    except ImageUpdaterError as exc:
        log.error("%s", exc)
        return EXIT_FAILED
    except OSError as exc:
        log.error("cannot serve: %s", exc)
        return EXIT_FAILED
