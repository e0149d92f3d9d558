"""``image-updater run``: the reconciler, with upstream's v0 flags and environment variables.

Every flag's default can come from the environment variable upstream's manifests set from
the ``argocd-image-updater-config`` ConfigMap (listed in each flag's help), so an existing
install's ConfigMap keeps working. Flags win over the environment.
"""

from __future__ import annotations

__all__ = ["register", "run"]

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry

from imageupdater import kube
from imageupdater.argocd import ArgoCDClient
from imageupdater.cli import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from imageupdater.durations import parse_duration
from imageupdater.errors import ImageUpdaterError, InvalidInput
from imageupdater.logsetup import LOG_LEVELS, configure_logging
from imageupdater.registries_conf import RegistriesConf
from imageupdater.registry_metrics import RegistryCounterCollector
from imageupdater.service import ResolverService
from reconciler.apps_api import ApplicationsAPI, KubeApplications
from reconciler.argocd_api import ArgoCDApplications
from reconciler.controller import Controller, ControllerSettings
from reconciler.cycle import Cycle, CycleSettings
from reconciler.events import EventRecorder
from reconciler.health import serve_probes
from reconciler.leader import LeaderElector
from reconciler.metrics import ReconcilerMetrics

log = logging.getLogger("image_updater.reconciler")
DEFAULT_REGISTRIES_CONF = "/app/config/registries.conf"


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise InvalidInput(f"environment variable {name}={value!r}: expected true or false")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the reconciler: keep Applications' images current",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add(
        "--interval",
        default=None,
        help="time between full resyncs, Go duration; 0 = run once (env IMAGE_UPDATER_INTERVAL; "
        "default 2m)",
    )
    add(
        "--once",
        action="store_true",
        help="run one cycle and exit (implies --interval 0, no probes)",
    )
    add("--dry-run", action="store_true", help="resolve and plan, but write nothing")
    add(
        "--allow-cross-namespace-secrets",
        action="store_true",
        help="accept pull-secret and git secret references outside the Application's namespace",
    )
    add(
        "--max-concurrency",
        type=int,
        default=None,
        help="Applications processed in parallel (env MAX_CONCURRENCY; default 10)",
    )
    add("--kubeconfig", help="kubeconfig file (default: in-cluster, else ~/.kube/config)")
    add(
        "--applications-api",
        choices=("kubernetes", "argocd"),
        default=None,
        help="where Applications are read and patched (env APPLICATIONS_API; default kubernetes)",
    )
    add(
        "--argocd-server-addr",
        default=None,
        help="Argo CD API server host[:port] (env ARGOCD_SERVER)",
    )
    add(
        "--argocd-grpc-web",
        action="store_true",
        default=None,
        help="accepted for compatibility; the REST API is used (env ARGOCD_GRPC_WEB)",
    )
    add(
        "--argocd-insecure",
        action="store_true",
        default=None,
        help="skip TLS verification of the Argo CD API (env ARGOCD_INSECURE)",
    )
    add(
        "--argocd-plaintext",
        action="store_true",
        default=None,
        help="talk plain HTTP to the Argo CD API (env ARGOCD_PLAINTEXT)",
    )
    add(
        "--argocd-token",
        "--argocd-auth-token",
        dest="argocd_token",
        default=None,
        help="bearer token for the Argo CD API (env ARGOCD_TOKEN; prefer the env var)",
    )
    add(
        "--match-application-label",
        default=None,
        help="label selector Applications must match, e.g. team=web,tier!=test",
    )
    add(
        "--match-application-name",
        action="append",
        default=[],
        help="glob Application names must match; repeatable (default: all)",
    )
    add(
        "--application-namespace",
        action="append",
        default=[],
        help="namespace to watch; repeatable (default: all namespaces)",
    )
    add(
        "--argocd-namespace",
        default=None,
        help="namespace of AppProjects (env ARGOCD_NAMESPACE; default: each Application's own)",
    )
    add(
        "--registries-conf-path",
        default=DEFAULT_REGISTRIES_CONF,
        help="registries.conf file ('' = none; default: %(default)s when it exists)",
    )
    add("--health-port", type=int, default=8080, help="port for /healthz and /readyz; 0 = off")
    add("--metrics-port", type=int, default=8081, help="port for /metrics; 0 = off")
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
    add(
        "--disable-kube-events",
        action="store_true",
        default=None,
        help="do not create Kubernetes Events (env IMAGE_UPDATER_KUBE_EVENTS=false)",
    )
    add(
        "--leader-election",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="run several replicas with one active (Lease-based; default off)",
    )
    add(
        "--leader-election-namespace",
        default=None,
        help="namespace of the Lease (default: $POD_NAMESPACE or argocd)",
    )
    add("--leader-election-name", default="image-updater-leader", help="name of the Lease")
    add(
        "--listen-address",
        default="0.0.0.0",  # noqa: S104 - probes must be reachable in a pod
        help="address the probe and metrics servers bind (default %(default)s)",
    )
    parser.set_defaults(handler=run)


def _settings(args: argparse.Namespace) -> argparse.Namespace:
    """Fill unset flags from the environment (upstream's ConfigMap-backed variables)."""
    interval = args.interval or _env("IMAGE_UPDATER_INTERVAL", "2m")
    args.interval_seconds = 0.0 if args.once else parse_duration(interval)
    if args.interval_seconds < 0:
        raise InvalidInput(f"--interval {interval!r}: must not be negative")
    if args.max_concurrency is None:
        raw = _env("MAX_CONCURRENCY", "10")
        if not raw.isdigit() or not 1 <= int(raw) <= 100:
            raise InvalidInput(f"MAX_CONCURRENCY={raw!r}: expected a number from 1 to 100")
        args.max_concurrency = int(raw)
    if args.max_concurrency < 1:
        raise InvalidInput(f"--max-concurrency {args.max_concurrency}: must be at least 1")
    args.applications_api = args.applications_api or _env("APPLICATIONS_API", "kubernetes")
    if args.applications_api not in ("kubernetes", "argocd"):
        raise InvalidInput(
            f"APPLICATIONS_API={args.applications_api!r}: expected kubernetes or argocd"
        )
    args.argocd_server_addr = args.argocd_server_addr or _env("ARGOCD_SERVER", "")
    for flag, env in (
        ("argocd_grpc_web", "ARGOCD_GRPC_WEB"),
        ("argocd_insecure", "ARGOCD_INSECURE"),
        ("argocd_plaintext", "ARGOCD_PLAINTEXT"),
    ):
        if getattr(args, flag) is None:
            setattr(args, flag, _env_bool(env, False))
    args.argocd_token = args.argocd_token or os.environ.get("ARGOCD_TOKEN", "")
    args.argocd_namespace = args.argocd_namespace or os.environ.get("ARGOCD_NAMESPACE")
    args.loglevel = args.loglevel or _env("IMAGE_UPDATER_LOGLEVEL", "info")
    args.logformat = args.logformat or _env("IMAGE_UPDATER_LOGFORMAT", "text")
    if args.disable_kube_events is None:
        args.disable_kube_events = not _env_bool("IMAGE_UPDATER_KUBE_EVENTS", True)
    args.lease_namespace = args.leader_election_namespace or _env("POD_NAMESPACE", "argocd")
    if args.applications_api == "argocd" and not args.argocd_server_addr:
        raise InvalidInput(
            "--applications-api argocd needs --argocd-server-addr (or ARGOCD_SERVER)"
        )
    return args


def _registries(path: str) -> RegistriesConf:
    """``''`` means none; the default path may be absent; any other path must exist."""
    if not path or (path == DEFAULT_REGISTRIES_CONF and not Path(path).exists()):
        return RegistriesConf.load(None)
    if not Path(path).is_file():
        raise InvalidInput(f"{path!r} does not exist or is not a file")
    return RegistriesConf.load(Path(path))


def run(args: argparse.Namespace) -> int:
    try:
        args = _settings(args)
    except (InvalidInput, ValueError) as exc:
        print(f"image-updater run: {exc}", file=sys.stderr)
        return EXIT_INVALID
    configure_logging(args.loglevel, args.logformat)
    try:
        conf = _registries(args.registries_conf_path)
    except ImageUpdaterError as exc:
        print(f"image-updater run: --registries-conf-path: {exc}", file=sys.stderr)
        return EXIT_INVALID
    try:
        return asyncio.run(_main(args, conf))
    except InvalidInput as exc:
        log.error("%s", exc)
        return EXIT_INVALID
    except ImageUpdaterError as exc:
        log.error("%s", exc)
        return EXIT_FAILED


async def _api(
    args: argparse.Namespace, client: kube.KubeClient, metrics: ReconcilerMetrics
) -> ApplicationsAPI:
    if args.applications_api == "argocd":
        argocd = ArgoCDClient(
            args.argocd_server_addr,
            token=args.argocd_token,
            plaintext=args.argocd_plaintext,
            insecure=args.argocd_insecure,
            grpc_web=args.argocd_grpc_web,
        )
        return ArgoCDApplications(
            argocd,
            metrics,
            namespaces=args.application_namespace,
            label_selector=args.match_application_label,
        )
    return KubeApplications(
        client,
        metrics,
        namespaces=args.application_namespace,
        label_selector=args.match_application_label,
        project_namespace=args.argocd_namespace,
    )


async def _main(args: argparse.Namespace, conf: RegistriesConf) -> int:
    registry = CollectorRegistry()
    metrics = ReconcilerMetrics(registry)
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(await kube.KubeClient.connect(args.kubeconfig))
        resolver = await stack.enter_async_context(ResolverService(conf, secrets=client))
        api = await _api(args, client, metrics)
        if hasattr(api, "close"):
            stack.push_async_callback(api.close)
        elector: LeaderElector | None = None
        if args.leader_election:
            identity = f"{socket.gethostname()}_{os.getpid()}"
            elector = LeaderElector(
                client,
                namespace=args.lease_namespace,
                name=args.leader_election_name,
                identity=identity,
            )
        events = EventRecorder(client, enabled=not args.disable_kube_events)
        is_leader = elector.is_leader if elector is not None else (lambda: True)
        cycle = Cycle(
            api=api,
            resolve=resolver.resolve,
            metrics=metrics,
            events=events,
            settings=CycleSettings(
                dry_run=args.dry_run,
                max_concurrency=args.max_concurrency,
                allow_cross_namespace_secrets=args.allow_cross_namespace_secrets,
            ),
            is_leader=is_leader,
        )
        controller = Controller(
            api=api,
            cycle=cycle,
            metrics=metrics,
            settings=ControllerSettings(
                interval=args.interval_seconds, name_patterns=args.match_application_name
            ),
            is_leader=is_leader,
            leader_changed=elector.changed if elector is not None else None,
        )
        metrics.leader.set_function(lambda: 1.0 if is_leader() else 0.0)
        _watch_registry_counters(resolver, metrics)
        if not args.once:
            await stack.enter_async_context(
                serve_probes(
                    args.listen_address,
                    health_port=args.health_port,
                    metrics_port=args.metrics_port,
                    registry=registry,
                    ready=controller.synced.is_set,
                )
            )
        tasks = []
        if elector is not None:
            tasks.append(asyncio.create_task(elector.run(), name="leader-election"))
            # Give the first election a moment so a lone replica starts work at once.
            await elector.try_acquire_or_renew()
        main = asyncio.create_task(controller.run(), name="controller")
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            # A pod being stopped: finish cleanly (and let the elector release its lease).
            loop.add_signal_handler(sig, main.cancel)
        try:
            await main
        except asyncio.CancelledError:
            log.info("stopping")
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    return EXIT_OK


def _watch_registry_counters(resolver: ResolverService, metrics: ReconcilerMetrics) -> None:
    """Mirror the registry client's request counters into Prometheus at scrape time."""
    metrics.registry.register(RegistryCounterCollector(resolver.client.snapshot))
