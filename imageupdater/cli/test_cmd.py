"""``image-updater test IMAGE``: show which tag an image would move to, with upstream's flags.

Logs go to stderr (default level ``info``; upstream defaults to ``debug`` on stdout), so
stdout carries only the result: upstream-like lines ending with the chosen tag, or with
``--output json`` exactly one JSON object. Exit codes: 0 the lookup ran (even when no tag
qualifies), 2 invalid input (the message names the flag and the value), 1 registry, auth
or network failure (the message names the registry host, never credentials).

This module only builds the parser; the lookup (registry client, aiohttp, credentials) is
:mod:`imageupdater.cli.test_run`, imported when the command runs.
"""

from __future__ import annotations

__all__ = ["DEFAULT_REGISTRIES_CONF", "register", "run"]

import argparse
from pathlib import Path

from imageupdater.logsetup import LOG_LEVELS

# imageupdater.registries_conf.DEFAULT_PATH, not imported here (it loads yaml and
# cryptography); tests/startup checks the two are equal.
DEFAULT_REGISTRIES_CONF = Path("/app/config/registries.conf")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "test",
        description=(
            "Resolve IMAGE against its registry the way the updater would and print the "
            "tag it would choose. IMAGE's tag, if any, is the version constraint (or, for "
            "the digest strategy, the tag to follow) unless --semver-constraint is given."
        ),
    )
    parser.add_argument("image", metavar="IMAGE", help="image reference, e.g. nginx:1.x")
    parser.add_argument(
        "--update-strategy",
        default="semver",
        help="semver (default), newest-build, alphabetical or digest",
    )
    parser.add_argument("--semver-constraint", default=None, help="version constraint or tag")
    parser.add_argument("--allow-tags", default=None, help="'any' or 'regexp:<RE2>'")
    parser.add_argument(
        "--ignore-tags", action="append", default=[], help="glob of tags to ignore (repeatable)"
    )
    parser.add_argument(
        "--platforms",
        action="append",
        default=[],
        help="os/arch[/variant], repeatable or comma-separated (default: this machine's)",
    )
    parser.add_argument(
        "--credentials",
        default=None,
        help="credential reference overriding the registry's (pullsecret:, secret:, env:, ext:)",
    )
    parser.add_argument(
        "--registries-conf-path",
        default=None,
        help=f"registries.conf to use (default: {DEFAULT_REGISTRIES_CONF} when it exists)",
    )
    parser.add_argument(
        "--kubeconfig",
        default=None,
        help="kubeconfig for pullsecret: and secret: credentials (default: $KUBECONFIG, else "
        "~/.kube/config; in a pod, its service account)",
    )
    parser.add_argument(
        "--rate-limit", default="20", help="requests per second per registry (default 20)"
    )
    parser.add_argument(
        "--timeout", default="30", help="seconds allowed for each registry request (default 30)"
    )
    parser.add_argument(
        "--loglevel",
        default="info",
        choices=[lv for lv in LOG_LEVELS if lv != "warning"],
        help="log level on stderr (default info)",
    )
    parser.add_argument("--output", default="text", choices=("text", "json"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from imageupdater.cli.test_run import run as run_test

    return run_test(args)
