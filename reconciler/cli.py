"""``image-updater run``: the reconciler, with upstream's v0 flags and environment variables.

Every flag's default can come from the environment variable upstream's manifests set from
the ``argocd-image-updater-config`` ConfigMap (listed in each flag's help), so an existing
install's ConfigMap keeps working. Flags win over the environment.
"""

from __future__ import annotations

__all__ = ["register", "run"]

import argparse
import logging
import sys
from collections.abc import Callable

from imageupdater.cli import EXIT_FAILED, EXIT_INVALID
from imageupdater.cli.tenant_flags import add_credential_rule_flags, add_reachability_flags
from imageupdater.errors import ImageUpdaterError, InvalidInput
from imageupdater.logsetup import LOG_LEVELS, configure_logging
from reconciler.options import RunOptions

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
    _add_git_flags(add)
    add(
        "--listen-address",
        default="0.0.0.0",  # noqa: S104 - probes must be reachable in a pod
        help="address the probe and metrics servers bind (default %(default)s)",
    )
    parser.set_defaults(handler=run)


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


def run(args: argparse.Namespace) -> int:
    try:
        options = RunOptions.from_args(args)
    except (ImageUpdaterError, ValueError) as exc:
        print(f"image-updater run: {exc}", file=sys.stderr)
        return EXIT_INVALID
    configure_logging(options.loglevel, options.logformat)
    from imageupdater.registries_conf import RegistriesConf  # yaml, cryptography: only now

    try:
        conf = RegistriesConf.from_flag(options.registries_conf_path)
    except ImageUpdaterError as exc:
        print(f"image-updater run: --registries-conf-path: {exc}", file=sys.stderr)
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
