"""``RunOptions``: every setting of ``image-updater run``, typed and frozen, built once.

``RunOptions.from_args`` fills what the flags leave unset from upstream's ConfigMap-backed
environment variables (flags win), checks every value and raises ``InvalidInput`` (or
``ValueError`` from a duration) naming the flag or variable; the process wiring in
``reconciler.runner`` then reads typed fields, never the ``argparse.Namespace``.

Cheap to import: ``image-updater --help`` and flag errors load this module.
"""

from __future__ import annotations

__all__ = ["ApplicationsAPIKind", "GitOptions", "ReceiverOptions", "RunOptions", "receiver_options"]

import argparse
import os
import re  # fixed patterns only (namespace names), never a user's
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from imageupdater.cli.redis_flags import redis_settings
from imageupdater.cli.tenant_flags import credential_rules, reachability
from imageupdater.cli.upstream_settings import CONFIGMAP_DIR, check_upstream_settings
from imageupdater.credentials import CredentialRules
from imageupdater.durations import parse_duration
from imageupdater.errors import InvalidInput
from imageupdater.logsetup import log_settings
from imageupdater.tags import Glob
from reconciler.shard_options import Sharding, sharding

if TYPE_CHECKING:
    from imageupdater.pushevents import ReceiverConfig
    from imageupdater.registry.reachability import ReachabilityPolicy
    from imageupdater.shared_cache_settings import SharedCacheSettings
    from reconciler.receiver_tls import TlsSettings

ApplicationsAPIKind = Literal["kubernetes", "argocd"]
SigningMethod = Literal["openpgp", "ssh"]
PullRequestBranches = Literal["stable", "per-change"]

# Upstream's defaults (§11.5) and mount points (§11.4, §11.1).
DEFAULT_GIT_USER = "argocd-image-updater"
DEFAULT_GIT_EMAIL = "noreply@argoproj.io"
DEFAULT_COMMIT_TEMPLATE_PATH = "/app/config/commit.template"
DEFAULT_KNOWN_HOSTS_PATH = "/app/config/ssh/ssh_known_hosts"
DEFAULT_GIT_CACHE = "/tmp/image-updater/git"  # noqa: S108 - an emptyDir in the pod


@dataclass(frozen=True, slots=True)
class GitOptions:
    """The git write-back's settings (flag / env / ConfigMap key in the comments)."""

    user: str  # --git-commit-user / GIT_COMMIT_USER / git.user
    email: str  # --git-commit-email / GIT_COMMIT_EMAIL / git.email
    signing_key: str  # --git-commit-signing-key / GIT_COMMIT_SIGNING_KEY ("" = unsigned)
    signing_method: SigningMethod  # --git-commit-signing-method / GIT_COMMIT_SIGNING_METHOD
    sign_off: bool  # --git-commit-sign-off / GIT_COMMIT_SIGN_OFF
    message_path: str  # --git-commit-message-path (git.commit-message-template mounted)
    message_path_explicit: bool  # given on the command line: a missing file is an error
    per_application: bool  # --git-commit-per-application (upstream: one commit per app)
    pull_request_branches: PullRequestBranches  # --git-pull-request-branch
    github_api_url: str | None  # --github-api-url (default: derived from the repository URL)
    gitlab_api_url: str | None  # --gitlab-api-url
    cache_dir: str  # --git-cache-dir
    known_hosts_path: str  # --git-known-hosts-path
    parallel_repositories: int  # --git-parallel-repositories


def _configmap_dir(flag: str | None) -> Path | None:
    """``--configmap-dir``: where the install mounts upstream's ConfigMap whole ("" = none)."""
    if flag is None:
        return CONFIGMAP_DIR
    return Path(flag) if flag else None


def _env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name)
    if value is None:
        return default
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise InvalidInput(f"environment variable {name}={value!r}: expected true or false")


def _flag_or_env_bool(flag: bool | None, env: Mapping[str, str], name: str) -> bool:
    return _env_bool(env, name, False) if flag is None else flag


@dataclass(frozen=True, slots=True)
class RunOptions:
    """What the reconciler process runs with (flag names in the comments)."""

    # Cycles
    interval: float  # --interval / IMAGE_UPDATER_INTERVAL, seconds; 0 = once
    once: bool  # --once: one cycle, no probes
    dry_run: bool
    max_concurrency: int  # --max-concurrency / MAX_CONCURRENCY
    credentials: CredentialRules  # --allow-cross-namespace-secrets, --allow-env-ext-credentials
    reachability: ReachabilityPolicy  # --allowed-registries, --internal-networks
    registries_conf_path: str | None  # None = upstream's default path if present
    # Where Applications come from
    kubeconfig: str | None
    applications_api: ApplicationsAPIKind  # --applications-api / APPLICATIONS_API
    argocd_server_addr: str  # --argocd-server-addr / ARGOCD_SERVER
    argocd_token: str  # --argocd-token / ARGOCD_TOKEN
    argocd_plaintext: bool
    argocd_insecure: bool
    argocd_grpc_web: bool
    argocd_namespace: str | None  # where AppProjects live; None = each Application's own
    namespaces: tuple[str, ...]  # --application-namespace; empty = all
    label_selector: str | None  # --match-application-label
    name_patterns: tuple[str, ...]  # --match-application-name (checked globs)
    # Process
    kube_events: bool  # not --disable-kube-events / not IMAGE_UPDATER_KUBE_EVENTS (upstream's)
    leader_election: bool
    lease_namespace: str  # --leader-election-namespace / POD_NAMESPACE, default argocd
    lease_name: str  # --leader-election-name
    listen_address: str
    health_port: int  # 0 = off
    metrics_port: int  # 0 = off
    api_unready_after: float  # --api-unready-after, seconds
    loglevel: str  # --loglevel / IMAGE_UPDATER_LOGLEVEL
    logformat: str  # --logformat / IMAGE_UPDATER_LOGFORMAT
    git: GitOptions
    receiver: ReceiverOptions | None = None  # --enable-webhook; None = no receiver
    standalone: bool = False  # the `webhook` command: push events only, no polling
    # --watch-namespaces / IMAGE_UPDATER_WATCH_NAMESPACES (watch.namespaces): where
    # ImageUpdater resources are read; None = every namespace ('*').
    watch_namespaces: tuple[str, ...] | None = ("argocd",)
    # --shards / IMAGE_UPDATER_SHARDS and the Lease timings (reconciler.shard_options).
    sharding: Sharding = field(default_factory=Sharding)
    # --redis / IMAGE_UPDATER_REDIS: registry caches shared by the replicas; None = own only
    redis: SharedCacheSettings | None = None

    @classmethod
    def from_args(
        cls, args: argparse.Namespace, env: Mapping[str, str] | None = None
    ) -> RunOptions:
        """The options the parsed flags and the environment (default ``os.environ``) ask for."""
        env = os.environ if env is None else env
        check_upstream_settings(env, _configmap_dir(args.configmap_dir))
        loglevel, logformat = log_settings(args.loglevel, args.logformat, env)
        raw_interval = args.interval or env.get("IMAGE_UPDATER_INTERVAL", "2m")
        interval = 0.0 if args.once else parse_duration(raw_interval)
        if interval < 0:
            raise InvalidInput(f"--interval {raw_interval!r}: must not be negative")
        max_concurrency: int | None = args.max_concurrency
        if max_concurrency is None:
            raw = env.get("MAX_CONCURRENCY", "10")
            if not raw.isdigit() or not 1 <= int(raw) <= 100:
                raise InvalidInput(f"MAX_CONCURRENCY={raw!r}: expected a number from 1 to 100")
            max_concurrency = int(raw)
        if max_concurrency < 1:
            raise InvalidInput(f"--max-concurrency {max_concurrency}: must be at least 1")
        api = args.applications_api or env.get("APPLICATIONS_API", "kubernetes")
        if api not in ("kubernetes", "argocd"):
            raise InvalidInput(f"APPLICATIONS_API={api!r}: expected kubernetes or argocd")
        server = args.argocd_server_addr or env.get("ARGOCD_SERVER", "")
        grpc_web = _flag_or_env_bool(args.argocd_grpc_web, env, "ARGOCD_GRPC_WEB")
        insecure = _flag_or_env_bool(args.argocd_insecure, env, "ARGOCD_INSECURE")
        plaintext = _flag_or_env_bool(args.argocd_plaintext, env, "ARGOCD_PLAINTEXT")
        # Upstream's naming, kept: IMAGE_UPDATER_KUBE_EVENTS is --disable-kube-events's
        # variable, so "true" turns Events off.
        if args.disable_kube_events is None:
            kube_events = not _env_bool(env, "IMAGE_UPDATER_KUBE_EVENTS", False)
        else:
            kube_events = not args.disable_kube_events
        credentials = credential_rules(args)
        for pattern in args.match_application_name:
            Glob(pattern, what="--match-application-name glob")  # fail at start, not per app
        api_unready_after = parse_duration(args.api_unready_after)
        if api_unready_after <= 0:
            raise InvalidInput(
                f"--api-unready-after {args.api_unready_after!r}: must be longer than 0s"
            )
        enable_webhook = _flag_or_env_bool(args.enable_webhook, env, "ENABLE_WEBHOOK")
        if enable_webhook and args.once:
            raise InvalidInput("--enable-webhook (or ENABLE_WEBHOOK) and --once do not go together")
        if api == "argocd" and not server:
            raise InvalidInput(
                "--applications-api argocd needs --argocd-server-addr (or ARGOCD_SERVER)"
            )
        return cls(
            interval=interval,
            once=args.once,
            dry_run=args.dry_run,
            max_concurrency=max_concurrency,
            credentials=credentials,
            reachability=reachability(args),
            registries_conf_path=args.registries_conf_path,
            kubeconfig=args.kubeconfig,
            applications_api="argocd" if api == "argocd" else "kubernetes",
            argocd_server_addr=server,
            argocd_token=args.argocd_token or env.get("ARGOCD_TOKEN", ""),
            argocd_plaintext=plaintext,
            argocd_insecure=insecure,
            argocd_grpc_web=grpc_web,
            argocd_namespace=args.argocd_namespace or env.get("ARGOCD_NAMESPACE"),
            namespaces=tuple(args.application_namespace),
            label_selector=args.match_application_label,
            name_patterns=tuple(args.match_application_name),
            kube_events=kube_events,
            leader_election=args.leader_election,
            lease_namespace=args.leader_election_namespace or env.get("POD_NAMESPACE", "argocd"),
            lease_name=args.leader_election_name,
            listen_address=args.listen_address,
            health_port=args.health_port,
            metrics_port=args.metrics_port,
            api_unready_after=api_unready_after,
            loglevel=loglevel,
            logformat=logformat,
            git=_git_options(args, env),
            standalone=getattr(args, "standalone", False),
            watch_namespaces=watch_namespaces(getattr(args, "watch_namespaces", None), env),
            sharding=sharding(args, env),
            redis=redis_settings(args, env),
            receiver=(
                receiver_options(
                    args, env, default_port=8080 if getattr(args, "standalone", False) else 8082
                )
                if enable_webhook
                else None
            ),
        )


def watch_namespaces(flag: str | None, env: Mapping[str, str]) -> tuple[str, ...] | None:
    """Upstream's ``--watch-namespaces``: "" = the pod's own namespace, ``*`` = all (None),
    else a comma list. An empty item or a name Kubernetes would refuse is an error."""
    raw = flag if flag is not None else env.get("IMAGE_UPDATER_WATCH_NAMESPACES", "")
    where = "--watch-namespaces" if flag is not None else "IMAGE_UPDATER_WATCH_NAMESPACES"
    text = raw.strip()
    if not text:
        return (env.get("POD_NAMESPACE") or "argocd",)
    if text == "*":
        return None
    names = [part.strip() for part in text.split(",")]
    for name in names:
        if name == "*":
            raise InvalidInput(f"{where} {raw!r}: '*' means every namespace and stands alone")
        if not _DNS_LABEL.fullmatch(name):
            raise InvalidInput(
                f"{where} {raw!r}: {name!r} is not a namespace name (lowercase letters, digits "
                "and '-', at most 63 characters); give a comma list such as 'argocd,team-a', "
                "or '*' for all"
            )
    return tuple(dict.fromkeys(names))


_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def _git_options(args: argparse.Namespace, env: Mapping[str, str]) -> GitOptions:
    method = args.git_commit_method or env.get("GIT_COMMIT_METHOD", "git")
    if method != "git":
        raise InvalidInput(
            f"--git-commit-method {method!r} (or GIT_COMMIT_METHOD) is not supported: commits "
            "are made with the git CLI ('git'); GitHub's commit API ('api') is not implemented"
        )
    signing_method = args.git_commit_signing_method or env.get(
        "GIT_COMMIT_SIGNING_METHOD", "openpgp"
    )
    if signing_method not in ("openpgp", "ssh"):
        raise InvalidInput(f"GIT_COMMIT_SIGNING_METHOD={signing_method!r}: expected openpgp or ssh")
    parallel = args.git_parallel_repositories
    if not 1 <= parallel <= 64:
        raise InvalidInput(f"--git-parallel-repositories {parallel}: expected 1 to 64")
    known_hosts = args.git_known_hosts_path or env.get(
        "IMAGE_UPDATER_GIT_KNOWN_HOSTS", DEFAULT_KNOWN_HOSTS_PATH
    )
    return GitOptions(
        user=args.git_commit_user or env.get("GIT_COMMIT_USER") or DEFAULT_GIT_USER,
        email=args.git_commit_email or env.get("GIT_COMMIT_EMAIL") or DEFAULT_GIT_EMAIL,
        signing_key=args.git_commit_signing_key or env.get("GIT_COMMIT_SIGNING_KEY", ""),
        signing_method="ssh" if signing_method == "ssh" else "openpgp",
        sign_off=_flag_or_env_bool(args.git_commit_sign_off, env, "GIT_COMMIT_SIGN_OFF"),
        message_path=args.git_commit_message_path or DEFAULT_COMMIT_TEMPLATE_PATH,
        message_path_explicit=args.git_commit_message_path is not None,
        per_application=args.git_commit_per_application,
        pull_request_branches=(
            "per-change" if args.git_pull_request_branch == "per-change" else "stable"
        ),
        github_api_url=args.github_api_url or env.get("IMAGE_UPDATER_GITHUB_API_URL"),
        gitlab_api_url=args.gitlab_api_url or env.get("IMAGE_UPDATER_GITLAB_API_URL"),
        cache_dir=args.git_cache_dir or env.get("IMAGE_UPDATER_GIT_CACHE", DEFAULT_GIT_CACHE),
        known_hosts_path=known_hosts,
        parallel_repositories=parallel,
    )


# --<flag>-webhook-secret / <ENV>_WEBHOOK_SECRET per registry type; the install's env vars
# come from the argocd-image-updater-secret keys webhook.<flag>-secret, as upstream's do.
RECEIVER_SECRET_FLAGS = {
    "docker.io": "docker",
    "ghcr.io": "ghcr",
    "quay.io": "quay",
    "harbor": "harbor",
    "acr": "acr",
    "aliyun-acr": "aliyun-acr",
    "cloudevents": "cloudevents",
    "distribution": "distribution",
    "generic": "generic",
}


def secret_env(flag: str) -> str:
    return flag.upper().replace("-", "_") + "_WEBHOOK_SECRET"


@dataclass(frozen=True, slots=True)
class ReceiverOptions:
    """The registry webhook receiver's settings (``run --enable-webhook`` and ``webhook``)."""

    port: int  # --webhook-port / WEBHOOK_PORT
    address: str  # --listen-address
    config: ReceiverConfig  # secrets per type, --webhook-require-secret (repr hides secrets)
    ratelimit_allowed: int  # --webhook-ratelimit-allowed / WEBHOOK_RATELIMIT_ALLOWED, per hour
    tls: TlsSettings | None  # None = --disable-tls / DISABLE_TLS
    window: float  # --webhook-coalesce-window, seconds


def _env_int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidInput(f"environment variable {name}={raw!r}: expected {low} to {high}")
    return int(raw)


def receiver_options(
    args: argparse.Namespace, env: Mapping[str, str], *, default_port: int
) -> ReceiverOptions:
    """The receiver's options from its flags and upstream's environment variables."""
    from imageupdater.pushevents import ReceiverConfig
    from reconciler.receiver_tls import (
        DEFAULT_TLS_CERT,
        DEFAULT_TLS_KEY,
        TlsSettings,
        parse_ciphers,
        parse_version,
    )

    port = args.webhook_port
    if port is None:
        port = _env_int(env, "WEBHOOK_PORT", default_port, 0, 65535)
    if not 0 <= port <= 65535:
        raise InvalidInput(f"--webhook-port {port}: expected 0 to 65535")
    secrets = {}
    for kind, flag in RECEIVER_SECRET_FLAGS.items():
        value = getattr(args, f"{flag.replace('-', '_')}_webhook_secret")
        secrets[kind] = value if value is not None else env.get(secret_env(flag), "")
    require = args.webhook_require_secret
    if require is None:
        require = _env_bool(env, "WEBHOOK_REQUIRE_SECRET", True)
    config = ReceiverConfig(secrets, require_secret=require)
    if not config.enabled():
        # Upstream starts and refuses every delivery; a receiver that can accept nothing is
        # a misconfiguration, said at start.
        raise InvalidInput(
            "the webhook receiver has no registry type to serve: give at least one "
            "--<type>-webhook-secret (or its <TYPE>_WEBHOOK_SECRET variable, from the "
            "argocd-image-updater-secret key webhook.<type>-secret), or turn "
            "--webhook-require-secret off"
        )
    allowed = args.webhook_ratelimit_allowed
    if allowed is None:
        allowed = _env_int(env, "WEBHOOK_RATELIMIT_ALLOWED", 0, 0, 10**9)
    if allowed < 0:
        raise InvalidInput(f"--webhook-ratelimit-allowed {allowed}: must not be negative")
    disable_tls = args.disable_tls
    if disable_tls is None:
        disable_tls = _env_bool(env, "DISABLE_TLS", False)
    tls = None
    if not disable_tls:
        minimum = args.tlsminversion or env.get("TLS_MIN_VERSION") or "1.3"
        maximum = args.tlsmaxversion or env.get("TLS_MAX_VERSION") or "1.3"
        tls = TlsSettings(
            minimum=parse_version(minimum, "--tlsminversion"),
            maximum=parse_version(maximum, "--tlsmaxversion"),
            ciphers=parse_ciphers(args.tlsciphers or env.get("TLS_CIPHERS", "")),
            cert_file=Path(args.webhook_tls_cert) if args.webhook_tls_cert else DEFAULT_TLS_CERT,
            key_file=Path(args.webhook_tls_key) if args.webhook_tls_key else DEFAULT_TLS_KEY,
        )
    window = parse_duration(args.webhook_coalesce_window)
    if not 0 <= window <= 60:
        raise InvalidInput(
            f"--webhook-coalesce-window {args.webhook_coalesce_window!r}: expected 0s to 60s"
        )
    return ReceiverOptions(
        port=port,
        address=args.listen_address,
        config=config,
        ratelimit_allowed=allowed,
        tls=tls,
        window=window,
    )
