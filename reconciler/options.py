"""``RunOptions``: every setting of ``image-updater run``, typed and frozen, built once.

``RunOptions.from_args`` fills what the flags leave unset from upstream's ConfigMap-backed
environment variables (flags win), checks every value and raises ``InvalidInput`` (or
``ValueError`` from a duration) naming the flag or variable; the process wiring in
``reconciler.runner`` then reads typed fields, never the ``argparse.Namespace``.

Cheap to import: ``image-updater --help`` and flag errors load this module.
"""

from __future__ import annotations

__all__ = ["ApplicationsAPIKind", "GitOptions", "RunOptions"]

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from imageupdater.cli.tenant_flags import credential_rules, reachability
from imageupdater.cli.upstream_settings import CONFIGMAP_DIR, check_upstream_settings
from imageupdater.credentials import CredentialRules
from imageupdater.durations import parse_duration
from imageupdater.errors import InvalidInput
from imageupdater.logsetup import log_settings
from imageupdater.tags import Glob

if TYPE_CHECKING:
    from imageupdater.registry.reachability import ReachabilityPolicy

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
        )


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
