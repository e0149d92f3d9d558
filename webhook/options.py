"""``WebhookOptions``: every setting of ``image-updater admission``, typed and frozen, built once.

``WebhookOptions.from_args`` turns the parsed flags into checked values (durations in
seconds, credential rules, the reachability policy, the certificate settings) and raises
``InvalidInput`` (or ``ValueError`` from a duration) naming the flag; ``webhook.serve`` then
reads typed fields, never the ``argparse.Namespace``.

Cheap to import: ``image-updater --help`` and flag errors load this module.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_WEBHOOK_CONFIGURATION",
    "MAX_WORKERS",
    "WORKERS_ENV",
    "WebhookOptions",
    "parse_workers",
]

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from imageupdater.cli.redis_flags import redis_settings
from imageupdater.cli.tenant_flags import credential_rules, reachability
from imageupdater.cli.upstream_settings import CONFIGMAP_DIR, check_upstream_settings
from imageupdater.credentials import CredentialRules
from imageupdater.durations import parse_duration
from imageupdater.errors import InvalidInput
from imageupdater.logsetup import log_settings

if TYPE_CHECKING:
    from imageupdater.registry.reachability import ReachabilityPolicy
    from imageupdater.shared_cache_settings import SharedCacheSettings

# The webhook configurations the base manifests install, when no --certs-webhook-configuration.
DEFAULT_WEBHOOK_CONFIGURATION = "image-updater"
# --workers: past a few dozen processes per pod the answer is more replicas, not more workers
# (each holds its own resolver, caches and connections to the registries).
MAX_WORKERS = 64
WORKERS_ENV = "IMAGE_UPDATER_ADMISSION_WORKERS"


def _usable_cpus() -> int:
    # The CPUs this process may run on (a cpuset narrows them), not every CPU of the node.
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def parse_workers(flag: str | None, env: Mapping[str, str]) -> int:
    """``--workers``, else ``IMAGE_UPDATER_ADMISSION_WORKERS``, else 1: a number from 1 to
    ``MAX_WORKERS``, or ``auto`` (one per usable CPU, at most ``MAX_WORKERS``)."""
    name, raw = ("--workers", flag) if flag is not None else (WORKERS_ENV, env.get(WORKERS_ENV))
    if raw is None:
        return 1
    text = raw.strip()
    if text.lower() == "auto":
        return min(_usable_cpus(), MAX_WORKERS)
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_WORKERS):
        shown = f"{name} {raw!r}" if name.startswith("--") else f"{name}={raw!r}"
        raise InvalidInput(f"{shown}: expected a number from 1 to {MAX_WORKERS}, or auto")
    return int(text)


@dataclass(frozen=True, slots=True)
class WebhookOptions:
    """What the webhook process serves with (flag names in the comments)."""

    # Listening
    address: str
    port: int
    tls_cert_file: Path
    tls_key_file: Path
    cert_reload_interval: float  # --cert-reload-interval, seconds
    max_body_bytes: int
    max_connections: int  # at least 1, per worker
    max_in_flight_requests: int  # at least 1, per worker
    workers: int  # --workers / IMAGE_UPDATER_ADMISSION_WORKERS: 1..MAX_WORKERS serving processes
    # Reviewing and mutating
    resolve_timeout: float  # --resolve-timeout, seconds, positive
    credentials: CredentialRules  # --allow-cross-namespace-secrets, --allow-env-ext-credentials
    reachability: ReachabilityPolicy  # --allowed-registries, --internal-networks
    registries_conf_path: str | None  # None = upstream's default path if present
    argocd_namespace: str | None  # --argocd-namespace / ARGOCD_NAMESPACE: where AppProjects live
    kubeconfig: str | None  # None: in-cluster when available, else no cluster access
    # --self-signed-certs: in-process CA and serving certificate
    self_signed_certs: bool
    certs_namespace: str
    certs_service: str
    certs_secret: str
    certs_webhook_configurations: tuple[str, ...]  # never empty
    # Logging
    loglevel: str
    logformat: str
    # --redis / IMAGE_UPDATER_REDIS: registry caches shared with the reconciler; None = own
    redis: SharedCacheSettings | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> WebhookOptions:
        """The options the parsed flags ask for; the first invalid value raises."""
        configmap = None if args.configmap_dir == "" else Path(args.configmap_dir or CONFIGMAP_DIR)
        check_upstream_settings(os.environ, configmap)
        loglevel, logformat = log_settings(args.loglevel, args.logformat, os.environ)
        resolve_timeout = parse_duration(args.resolve_timeout)
        reload_interval = parse_duration(args.cert_reload_interval)
        credentials = credential_rules(args)
        policy = reachability(args)
        workers = parse_workers(args.workers, os.environ)
        if args.max_connections < 1 or args.max_in_flight_requests < 1:
            raise InvalidInput("--max-connections and --max-in-flight-requests must be at least 1")
        if resolve_timeout <= 0:
            raise InvalidInput("--resolve-timeout must be positive")
        return cls(
            address=args.address,
            port=args.port,
            tls_cert_file=args.tls_cert_file,
            tls_key_file=args.tls_key_file,
            cert_reload_interval=reload_interval,
            max_body_bytes=args.max_body_bytes,
            max_connections=args.max_connections,
            max_in_flight_requests=args.max_in_flight_requests,
            workers=workers,
            resolve_timeout=resolve_timeout,
            credentials=credentials,
            reachability=policy,
            redis=redis_settings(args, os.environ),
            registries_conf_path=args.registries_conf_path,
            argocd_namespace=args.argocd_namespace or os.environ.get("ARGOCD_NAMESPACE") or None,
            kubeconfig=args.kubeconfig,
            self_signed_certs=args.self_signed_certs,
            certs_namespace=args.certs_namespace,
            certs_service=args.certs_service,
            certs_secret=args.certs_secret,
            certs_webhook_configurations=tuple(args.certs_webhook_configuration)
            or (DEFAULT_WEBHOOK_CONFIGURATION,),
            loglevel=loglevel,
            logformat=logformat,
        )
