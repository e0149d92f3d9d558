"""``image-updater test IMAGE``: show which tag an image would move to, with upstream's flags.

Logs go to stderr (default level ``info``; upstream defaults to ``debug`` on stdout), so
stdout carries only the result: upstream-like lines ending with the chosen tag, or with
``--output json`` exactly one JSON object. Exit codes: 0 the lookup ran (even when no tag
qualifies), 2 invalid input (the message names the flag and the value), 1 registry, auth
or network failure (the message names the registry host, never credentials).
"""

from __future__ import annotations

__all__ = ["DEFAULT_REGISTRIES_CONF", "run"]

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path

from imageupdater.cli import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from imageupdater.credential_sources import CredentialCache, CredentialSource, SecretReader
from imageupdater.credentials import CredentialRef
from imageupdater.errors import ImageUpdaterError, InvalidInput, InvalidKubeconfig
from imageupdater.images import ImageRef
from imageupdater.logsetup import configure_logging
from imageupdater.platforms import Platform, current_platform, parse_platforms
from imageupdater.policy import ImagePolicy
from imageupdater.registries_conf import DEFAULT_PATH, RegistriesConf
from imageupdater.registry import ClientSettings, RegistryClient
from imageupdater.resolver import Resolution, resolve
from imageupdater.strategies import missing_followed_tag, parse_strategy
from imageupdater.tags import AllowTags, TagFilter
from imageupdater.versions import Constraint

DEFAULT_REGISTRIES_CONF = DEFAULT_PATH
_LOG = logging.getLogger("image_updater.cli.test")
_KUBE_KINDS = ("pullsecret", "secret")


class _BadFlag(InvalidInput):
    """Invalid input attributed to one flag."""

    def __init__(self, flag: str, message: str) -> None:
        super().__init__(f"{flag}: {message}")


def run(args: argparse.Namespace) -> int:
    configure_logging(args.loglevel)
    try:
        request = _build(args)
        resolution = asyncio.run(_resolve(request, args))
    except InvalidKubeconfig as exc:  # worded as every command words it
        print(f"image-updater test: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except InvalidInput as exc:
        return _fail(exc, EXIT_INVALID)
    except ImageUpdaterError as exc:
        return _fail(exc, EXIT_FAILED)
    _print(resolution, args.output)
    return EXIT_OK


def _fail(exc: Exception, code: int) -> int:
    line = " ".join(str(exc).split())
    print(f"image-updater test: error: {line}", file=sys.stderr)
    return code


class _Request:
    """Everything the flags say, validated before any network traffic."""

    def __init__(
        self,
        policy: ImagePolicy,
        conf: RegistriesConf,
        settings: ClientSettings,
        credentials: CredentialRef | None,
    ) -> None:
        self.policy = policy
        self.conf = conf
        self.settings = settings
        self.credentials = credentials


def _build(args: argparse.Namespace) -> _Request:
    try:
        image = ImageRef.parse(args.image)
    except InvalidInput as exc:
        raise _BadFlag("IMAGE", str(exc)) from exc
    try:
        strategy, deprecation = parse_strategy(args.update_strategy)
    except InvalidInput as exc:
        raise _BadFlag("--update-strategy", str(exc)) from exc
    if deprecation:
        _LOG.warning("%s", deprecation)
    constraint, source = (
        (args.semver_constraint, "--semver-constraint")
        if args.semver_constraint is not None
        else (image.tag, "IMAGE")
    )
    if strategy.constraint_is_semver and constraint:
        try:
            Constraint.parse(constraint)
        except InvalidInput as exc:
            raise _BadFlag(source, str(exc)) from exc
    if strategy.follows_one_tag and not constraint:
        error = missing_followed_tag(
            repr(args.image), name=image.full_name, alternative=" or --semver-constraint latest"
        )
        raise _BadFlag("IMAGE", str(error))
    try:
        allow = AllowTags.parse(args.allow_tags or "")
    except InvalidInput as exc:
        raise _BadFlag("--allow-tags", str(exc)) from exc
    try:
        tag_filter = TagFilter(allow, TagFilter.parse(None, args.ignore_tags).ignore)
    except InvalidInput as exc:
        raise _BadFlag("--ignore-tags", str(exc)) from exc
    platforms = _platforms(args.platforms)
    credentials = None
    if args.credentials is not None:
        try:
            # A user may paste user:password here by mistake: never echo the value.
            credentials = CredentialRef.parse(args.credentials, show_value=False)
        except InvalidInput as exc:
            raise _BadFlag("--credentials", str(exc)) from exc
    conf = _load_conf(args.registries_conf_path)
    rate_limit = _positive(args.rate_limit, "--rate-limit", "requests per second")
    timeout = _positive(args.timeout, "--timeout", "seconds")
    settings = ClientSettings(
        rate_limit=rate_limit, request_timeout=timeout, connect_timeout=min(10.0, timeout)
    )
    policy = ImagePolicy(
        image=image,
        strategy=strategy,
        constraint=constraint or None,
        tag_filter=tag_filter,
        platforms=platforms,
        pull_secret=credentials,
    )
    return _Request(policy, conf, settings, credentials)


def _positive(text: str, flag: str, unit: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise _BadFlag(flag, f"{text!r} is not a positive number of {unit}")
    return value


def _platforms(values: list[str]) -> tuple[Platform, ...]:
    try:
        platforms = parse_platforms(values)
    except InvalidInput as exc:
        raise _BadFlag("--platforms", str(exc)) from exc
    if platforms:
        return platforms
    try:
        here = current_platform()
    except InvalidInput as exc:
        raise _BadFlag("--platforms", f"no default: {exc}") from exc
    if here.os not in ("linux", "windows"):
        _LOG.warning(
            "this machine's platform %s is probably not what your cluster runs; "
            "pass --platforms linux/amd64 (or another) to check the images a cluster would use",
            here,
        )
    return (here,)


def _load_conf(path_text: str | None) -> RegistriesConf:
    try:
        return RegistriesConf.from_flag(path_text)
    except InvalidInput as exc:
        raise _BadFlag("--registries-conf-path", str(exc)) from exc


async def _resolve(request: _Request, args: argparse.Namespace) -> Resolution:
    policy = request.policy
    endpoint = request.conf.lookup(policy.image.registry, policy.image.repository)
    ref = request.credentials or endpoint.credentials
    secrets: SecretReader | None = None
    kube = None
    if ref is not None and ref.kind in _KUBE_KINDS:
        # Like kubectl: --kubeconfig, else $KUBECONFIG, else ~/.kube/config; in a pod
        # without --kubeconfig, the pod's service account.
        from imageupdater.kube import KubeClient  # only when a secret has to be read

        in_cluster = "KUBERNETES_SERVICE_HOST" in os.environ
        if not (args.kubeconfig or in_cluster or _default_kubeconfig_exists()):
            flag = "--credentials" if request.credentials else "--registries-conf-path"
            raise _BadFlag(
                flag,
                f"a {ref.kind}: credential reference reads a Kubernetes secret; pass "
                "--kubeconfig or set $KUBECONFIG (or run inside a cluster)",
            )
        kube = await KubeClient.connect(args.kubeconfig)
        secrets = kube
    credentials = CredentialCache(CredentialSource(secrets=secrets, environ=os.environ))
    logger = logging.getLogger("image_updater.registry")
    _LOG.info("retrieving information about image %s", policy.image.full_name)
    try:
        async with RegistryClient(
            settings=request.settings, credentials=credentials, logger=logger
        ) as client:
            return await resolve(policy, client=client, conf=request.conf)
    finally:
        if kube is not None:
            await kube.close()


def _default_kubeconfig_exists() -> bool:
    """Whether there is a kubeconfig to read without --kubeconfig: $KUBECONFIG names one
    (a missing one is then reported, naming it), or ~/.kube/config exists."""
    if os.environ.get("KUBECONFIG", "").strip(os.pathsep):
        return True
    return Path("~/.kube/config").expanduser().exists()


def _print(resolution: Resolution, output: str) -> None:
    if output == "json":
        document = {
            "image": resolution.image,
            "strategy": resolution.strategy.value,
            "constraint": resolution.constraint,
            "tag": resolution.tag,
            "digest": resolution.digest,
            "candidates": list(resolution.candidates),
        }
        print(json.dumps(document))
        return
    print(f"retrieving information about image {resolution.image}")
    print(
        f"strategy {resolution.strategy.value}, constraint "
        f"{resolution.constraint if resolution.constraint else '(none)'}"
    )
    print(f"found {len(resolution.candidates)} tags eligible for consideration")
    if resolution.tag is None:
        print("no matching tag found")
        return
    suffix = (
        f"@{resolution.digest}" if resolution.strategy.follows_digest and resolution.digest else ""
    )
    print(f"latest image according to constraint is {resolution.image}:{resolution.tag}{suffix}")
