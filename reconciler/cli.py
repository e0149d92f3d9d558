"""``image-updater run``: the reconciler, with upstream's v0 flags and environment variables.

Every flag's default can come from the environment variable upstream's manifests set from
the ``argocd-image-updater-config`` ConfigMap (listed in each flag's help), so an existing
install's ConfigMap keeps working. Flags win over the environment.
"""

from __future__ import annotations

__all__ = ["register", "register_webhook", "run", "run_webhook"]

import argparse
import logging
import sys
from collections.abc import Callable

from imageupdater.cli import EXIT_FAILED, EXIT_INVALID
from imageupdater.cli.redis_flags import add_redis_flags
from imageupdater.cli.tenant_flags import add_credential_rule_flags, add_reachability_flags
from imageupdater.errors import ImageUpdaterError, InvalidInput
from imageupdater.logsetup import LOG_LEVELS, configure_logging
from reconciler.options import RECEIVER_SECRET_FLAGS, RunOptions, secret_env
from reconciler.shard_options import add_shard_flags

log = logging.getLogger("image_updater.reconciler")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run",
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
    add_credential_rule_flags(add)
    add(
        "--max-concurrency",
        type=int,
        default=None,
        help="Applications processed in parallel (env MAX_CONCURRENCY; default 10)",
    )
    add(
        "--configmap-dir",
        default=None,
        help="where upstream's ConfigMap argocd-image-updater-config is mounted whole, to refuse "
        "keys that are not supported ('' = do not check; default "
        "/app/config/argocd-image-updater-config if present)",
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
        "--watch-namespaces",
        default=None,
        help="namespaces whose ImageUpdater resources are acted on: a comma list, or '*' for "
        "all (env IMAGE_UPDATER_WATCH_NAMESPACES, ConfigMap key watch.namespaces; default: "
        "the pod's own namespace, POD_NAMESPACE, else argocd)",
    )
    add(
        "--registries-conf-path",
        default=None,
        help="registries.conf file ('' = none; default: /app/config/registries.conf if present)",
    )
    add_reachability_flags(add)
    add("--health-port", type=int, default=8080, help="port for /healthz and /readyz; 0 = off")
    add("--metrics-port", type=int, default=8081, help="port for /metrics; 0 = off")
    add(
        "--api-unready-after",
        default="60s",
        help="/readyz turns unready once every list and watch of Applications has failed for "
        "this long, Go duration (default %(default)s)",
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
    add_shard_flags(add)
    _add_git_flags(add)
    add(
        "--listen-address",
        default="0.0.0.0",  # noqa: S104 - probes must be reachable in a pod
        help="address the probe, metrics and webhook servers bind (default %(default)s)",
    )
    add(
        "--enable-webhook",
        action="store_true",
        default=None,
        help="also receive registry push events (leader only; env ENABLE_WEBHOOK, ConfigMap "
        "webhook.enable); see docs/push-webhooks.md",
    )
    add_receiver_flags(add, default_port=8082)
    add_redis_flags(add)
    parser.set_defaults(handler=run)


def add_receiver_flags(add: Callable[..., object], *, default_port: int) -> None:
    """The registry webhook receiver's flags, upstream's names (``run`` and ``webhook``)."""
    add(
        "--webhook-port",
        type=int,
        default=None,
        help=f"port of the registry webhook receiver (env WEBHOOK_PORT; default {default_port})",
    )
    add(
        "--webhook-require-secret",
        nargs="?",
        const=True,
        default=None,
        type=_go_bool,
        metavar="true|false",
        help="serve only the registry types that have a secret; --webhook-require-secret=false "
        "serves every type, those without a secret unauthenticated (env "
        "WEBHOOK_REQUIRE_SECRET; default true)",
    )
    for kind, flag in RECEIVER_SECRET_FLAGS.items():
        add(
            f"--{flag}-webhook-secret",
            default=None,
            help=f"secret of type={kind} deliveries (env {secret_env(flag)}, Secret "
            f"argocd-image-updater-secret key webhook.{flag}-secret; prefer the env var)",
        )
    add(
        "--webhook-ratelimit-allowed",
        type=int,
        default=None,
        help="deliveries processed per hour, the rest delayed (never dropped); 0 = no limit "
        "(env WEBHOOK_RATELIMIT_ALLOWED)",
    )
    add(
        "--webhook-coalesce-window",
        default="250ms",
        help="how long push events to one repository are gathered into one targeted cycle, "
        "Go duration (default %(default)s)",
    )
    add(
        "--disable-tls",
        action="store_true",
        default=None,
        help="serve the webhook receiver over plain HTTP (env DISABLE_TLS)",
    )
    add("--tlsminversion", default=None, help="minimum TLS version (env TLS_MIN_VERSION; 1.3)")
    add("--tlsmaxversion", default=None, help="maximum TLS version (env TLS_MAX_VERSION; 1.3)")
    add(
        "--tlsciphers",
        default=None,
        help="colon-separated TLS 1.2 cipher suites, Go names (env TLS_CIPHERS)",
    )
    add(
        "--webhook-tls-cert",
        default=None,
        help="receiver certificate (default /app/config/tls/tls.crt; none there: self-signed)",
    )
    add("--webhook-tls-key", default=None, help="receiver key (default /app/config/tls/tls.key)")


def _go_bool(text: str) -> bool:
    """A Go boolean flag's value, as upstream's command lines write it (``--x=false``)."""
    if text.lower() in ("true", "1", "t"):
        return True
    if text.lower() in ("false", "0", "f"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def register_webhook(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``image-updater webhook``: upstream's standalone receiver — no polling, a targeted
    cycle per coalesced batch of push events."""
    parser = subparsers.add_parser(
        "webhook",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--dry-run", action="store_true", help="resolve and plan, but write nothing")
    add_credential_rule_flags(add)
    add("--kubeconfig", help="kubeconfig file (default: in-cluster, else ~/.kube/config)")
    add(
        "--configmap-dir",
        default=None,
        help="where upstream's ConfigMap is mounted whole ('' = do not check)",
    )
    add(
        "--max-concurrency",
        type=int,
        default=None,
        help="Applications processed in parallel (env MAX_CONCURRENCY; default 10)",
    )
    add("--argocd-namespace", default=None, help="namespace of AppProjects (env ARGOCD_NAMESPACE)")
    add(
        "--application-namespace",
        action="append",
        default=[],
        help="namespace to watch; repeatable (default: all namespaces)",
    )
    add("--registries-conf-path", default=None, help="registries.conf file ('' = none)")
    add_reachability_flags(add)
    add(
        "--loglevel",
        choices=LOG_LEVELS,
        default=None,
        help="log level (env IMAGE_UPDATER_LOGLEVEL)",
    )
    add("--logformat", choices=("text", "json"), default=None, help="log format")
    add(
        "--disable-kube-events",
        action="store_true",
        default=None,
        help="do not create Kubernetes Events (env IMAGE_UPDATER_KUBE_EVENTS=false)",
    )
    _add_git_flags(add)
    add(
        "--listen-address",
        default="0.0.0.0",  # noqa: S104 - the receiver must be reachable in a pod
        help="address the receiver binds (default %(default)s)",
    )
    add_receiver_flags(add, default_port=8080)
    parser.set_defaults(
        handler=run_webhook,
        # What `run` has and the receiver does not: the run options are built from them.
        once=False,
        interval="2m",
        applications_api=None,
        argocd_server_addr=None,
        argocd_grpc_web=None,
        argocd_insecure=None,
        argocd_plaintext=None,
        argocd_token=None,
        match_application_label=None,
        match_application_name=[],
        health_port=0,
        metrics_port=0,
        api_unready_after="60s",
        leader_election=False,
        leader_election_namespace=None,
        leader_election_name="image-updater-leader",
        enable_webhook=True,
        standalone=True,
    )


def _add_git_flags(add: Callable[..., object]) -> None:
    add(
        "--git-commit-user",
        default=None,
        help="commit author name (env GIT_COMMIT_USER, ConfigMap git.user; "
        "default argocd-image-updater)",
    )
    add(
        "--git-commit-email",
        default=None,
        help="commit author e-mail (env GIT_COMMIT_EMAIL, ConfigMap git.email; "
        "default noreply@argoproj.io)",
    )
    add(
        "--git-commit-message-path",
        default=None,
        help="commit message template, Go text/template (ConfigMap git.commit-message-template; "
        "default /app/config/commit.template if present, else the built-in one)",
    )
    add(
        "--git-commit-signing-key",
        default=None,
        help="sign commits: a GPG key id, or the path of an SSH private key "
        "(env GIT_COMMIT_SIGNING_KEY)",
    )
    add(
        "--git-commit-signing-method",
        choices=("openpgp", "ssh"),
        default=None,
        help="how --git-commit-signing-key signs (env GIT_COMMIT_SIGNING_METHOD; default openpgp)",
    )
    add(
        "--git-commit-sign-off",
        action="store_true",
        default=None,
        help="add a Signed-off-by trailer (env GIT_COMMIT_SIGN_OFF)",
    )
    add(
        "--git-commit-method",
        choices=("git", "api"),
        default=None,
        help="accepted for compatibility; only 'git' (the git CLI) is supported "
        "(env GIT_COMMIT_METHOD)",
    )
    add(
        "--git-commit-per-application",
        action="store_true",
        help="one commit per Application (upstream's way) instead of one per repository and "
        "branch; still one push",
    )
    add(
        "--git-pull-request-branch",
        choices=("stable", "per-change"),
        default="stable",
        help="pull-request head branch: one per target, updated in place (stable, default), or "
        "upstream's image-updater-<TargetKey>-<SHA256> per change set",
    )
    add("--github-api-url", default=None, help="GitHub API base (default: from the repo URL)")
    add("--gitlab-api-url", default=None, help="GitLab API base (default: from the repo URL)")
    add(
        "--git-cache-dir",
        default=None,
        help="where repositories are cached between cycles (env IMAGE_UPDATER_GIT_CACHE; "
        "default /tmp/image-updater/git)",
    )
    add(
        "--git-known-hosts-path",
        default=None,
        help="mounted ssh_known_hosts, used when ConfigMap argocd-ssh-known-hosts-cm has none "
        "(default /app/config/ssh/ssh_known_hosts)",
    )
    add(
        "--git-parallel-repositories",
        type=int,
        default=4,
        help="repositories written at the same time (default %(default)s)",
    )


def run_webhook(args: argparse.Namespace) -> int:
    return run(args, command="webhook")


def run(args: argparse.Namespace, command: str = "run") -> int:
    try:
        options = RunOptions.from_args(args)
    except (ImageUpdaterError, ValueError) as exc:
        print(f"image-updater {command}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    configure_logging(options.loglevel, options.logformat)
    from imageupdater.registries_conf import RegistriesConf  # yaml, cryptography: only now

    try:
        conf = RegistriesConf.from_flag(options.registries_conf_path)
    except ImageUpdaterError as exc:
        print(f"image-updater {command}: --registries-conf-path: {exc}", file=sys.stderr)
        return EXIT_INVALID
    # Imported here: the process wiring pulls in the Kubernetes and HTTP clients, which
    # `--help` and flag errors should not wait for.
    import asyncio

    from reconciler import runner

    try:
        return asyncio.run(runner.main(options, conf))
    except InvalidInput as exc:
        log.error("%s", exc)
        return EXIT_INVALID
    except ImageUpdaterError as exc:
        log.error("%s", exc)
        return EXIT_FAILED
