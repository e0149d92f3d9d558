"""``image-updater certs``: create, store, inject and rotate the webhook's certificates.

Run it once (a Job or an init container, ``--once``) or as a loop beside the webhook. With
``--cert-dir`` it also writes ``tls.crt``/``tls.key``/``ca.crt`` for the webhook server,
which reloads them without a restart.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from imageupdater.cli import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from imageupdater.durations import parse_duration
from imageupdater.errors import ImageUpdaterError, InvalidInput
from imageupdater.logsetup import LOG_LEVELS, configure_logging

if TYPE_CHECKING:
    from certs import manager


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "certs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    namespace = os.environ.get("POD_NAMESPACE", "argocd")
    parser.add_argument(
        "--namespace",
        default=namespace,
        help="namespace of the Service and Secret (default: $POD_NAMESPACE or argocd)",
    )
    parser.add_argument(
        "--service",
        default="image-updater-webhook",
        help="the webhook Service's name (default: %(default)s)",
    )
    parser.add_argument(
        "--secret-name",
        default="image-updater-webhook-tls",
        help="the Secret holding the material (default: %(default)s)",
    )
    parser.add_argument(
        "--webhook-configuration",
        action="append",
        default=[],
        metavar="NAME",
        help="a Mutating- or ValidatingWebhookConfiguration to inject the CA bundle into; "
        "repeatable "
        "(default: image-updater)",
    )
    parser.add_argument(
        "--dns-name",
        action="append",
        default=[],
        help="an extra DNS name for the certificate; repeatable",
    )
    parser.add_argument(
        "--ip-address",
        action="append",
        default=[],
        help="an IP address for the certificate; repeatable",
    )
    parser.add_argument("--cert-dir", type=Path, help="also write tls.crt, tls.key and ca.crt here")
    parser.add_argument(
        "--cert-lifetime",
        default="8760h",
        help="serving certificate lifetime, Go duration (default: %(default)s)",
    )
    parser.add_argument(
        "--ca-lifetime", default="87600h", help="CA lifetime, Go duration (default: %(default)s)"
    )
    parser.add_argument(
        "--once", action="store_true", help="one pass, then exit (for a Job or init container)"
    )
    parser.add_argument(
        "--check-interval",
        default="12h",
        help="loop mode: longest wait between passes (default: %(default)s)",
    )
    parser.add_argument(
        "--kubeconfig", help="kubeconfig file (default: in-cluster, else ~/.kube/config)"
    )
    parser.add_argument(
        "--loglevel", default="info", choices=LOG_LEVELS, help="log level (default: %(default)s)"
    )
    parser.add_argument(
        "--logformat",
        default="text",
        choices=("text", "json"),
        help="log format (default: %(default)s)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    configure_logging(args.loglevel, args.logformat)
    try:
        cert_lifetime = dt.timedelta(seconds=parse_duration(args.cert_lifetime))
        ca_lifetime = dt.timedelta(seconds=parse_duration(args.ca_lifetime))
        interval = dt.timedelta(seconds=parse_duration(args.check_interval))
    except ValueError as exc:
        print(f"image-updater certs: {exc}", file=sys.stderr)
        return EXIT_INVALID
    # Imported here: the manager pulls in the Kubernetes client, which `--help` and flag
    # errors should not wait for.
    from certs import manager

    settings = manager.CertSettings(
        namespace=args.namespace,
        service=args.service,
        secret_name=args.secret_name,
        webhook_configurations=args.webhook_configuration or ["image-updater"],
        extra_dns_names=args.dns_name,
        ip_addresses=args.ip_address,
        cert_dir=args.cert_dir,
        cert_lifetime=cert_lifetime,
        ca_lifetime=ca_lifetime,
    )
    import asyncio  # the event loop only when the command runs, not for `--help`

    return asyncio.run(_main(args, settings, interval))


async def _main(
    args: argparse.Namespace, settings: manager.CertSettings, interval: dt.timedelta
) -> int:
    from certs import manager
    from imageupdater import kube

    try:
        async with await kube.KubeClient.connect(args.kubeconfig) as client:
            if args.once:
                outcome = await manager.ensure(client, settings)
                _report(outcome)
                return EXIT_OK
            await manager.run(client, settings, interval=interval, on_pass=_report)
    except InvalidInput as exc:
        logging.getLogger("image_updater.certs").error("%s", exc)
        return EXIT_INVALID
    except ImageUpdaterError as exc:
        logging.getLogger("image_updater.certs").error("%s", exc)
        return EXIT_FAILED
    return EXIT_OK


def _report(outcome: manager.Outcome) -> None:
    log = logging.getLogger("image_updater.certs")
    if outcome.skipped_cert_manager:
        log.info("left to cert-manager: %s", ", ".join(outcome.skipped_cert_manager))
    if outcome.bundle is not None:
        log.info(
            "certificate %s, valid until %s; caBundle injected into: %s",
            "renewed" if outcome.renewed else "current",
            outcome.bundle.not_after.isoformat(),
            ", ".join(outcome.injected) or "(already current)",
        )
