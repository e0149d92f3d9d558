"""``image-updater webhook``: upstream's name for its registry webhook receiver (push events
from Docker Hub, GHCR, Quay, Harbor …). That receiver is not built yet, so the command says
so, and where the admission server went, instead of failing as an unknown command or
starting something else under a name upstream users know for another job."""

from __future__ import annotations

import argparse
import sys

from imageupdater.cli import EXIT_INVALID


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # Whatever upstream flags follow are taken as they are (no option parsing), so the one
    # message below is what the user sees, not "unrecognized arguments".
    parser = subparsers.add_parser(
        "webhook",
        description=__doc__,
        prefix_chars="\x00",
        add_help=False,
    )
    parser.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    print(
        "image-updater webhook: the registry webhook receiver (upstream's `webhook` command) "
        "is not available yet; poll with `image-updater run --interval`. The admission "
        "server is `image-updater admission`.",
        file=sys.stderr,
    )
    return EXIT_INVALID
