"""``image-updater hold APP`` and ``image-updater release APP``: stop and resume updates.

A hold is an annotation on the Application (``image-updater.io/hold`` for all of it,
``image-updater.io/hold.<alias>`` for one image) whose value is the reason; the webhook's
mutation and the reconciler both leave a held image alone. These commands set and clear
it through the Kubernetes API as ``kubectl annotate`` would, after checking the
Application exists and, with ``--alias``, that its image list names the alias.

This module only builds the parsers; the work is :mod:`imageupdater.cli.hold_run`.
"""

from __future__ import annotations

__all__ = ["register_hold", "register_release"]

import argparse

DEFAULT_NAMESPACE = "argocd"


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("application", metavar="APP", help="the Application's name")
    parser.add_argument(
        "--alias",
        default=None,
        help="one image of the Application, by its image-list alias (default: all of them)",
    )
    parser.add_argument(
        "-n",
        "--namespace",
        default=DEFAULT_NAMESPACE,
        help=f"the Application's namespace (default: {DEFAULT_NAMESPACE})",
    )
    parser.add_argument(
        "--kubeconfig",
        default=None,
        help="kubeconfig to use (default: $KUBECONFIG, else ~/.kube/config; in a pod, its "
        "service account)",
    )
    parser.add_argument("--context", default=None, help="kubeconfig context to use")


def register_hold(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "hold",
        description=(
            "Hold APP: neither the admission webhook nor the reconciler changes its images "
            "(with --alias, that image's) until the hold is released. The reason is shown "
            "by lint, in Events and in the updater's logs."
        ),
    )
    _common(parser)
    parser.add_argument("--reason", required=True, help="why updates stop (shown to others)")
    parser.set_defaults(handler=_run_hold)


def register_release(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "release",
        description=(
            "Release the hold on APP (with --alias, the hold on that image), so updates "
            "resume at the next reconcile. Releasing what is not held changes nothing."
        ),
    )
    _common(parser)
    parser.set_defaults(handler=_run_release)


def _run_hold(args: argparse.Namespace) -> int:
    from imageupdater.cli.hold_run import run_hold

    return run_hold(args)


def _run_release(args: argparse.Namespace) -> int:
    from imageupdater.cli.hold_run import run_release

    return run_release(args)
