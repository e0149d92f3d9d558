"""The ``image-updater`` command line.

Subcommands are plugins registered under the ``imageupdater.commands`` entry-point group
(see ``pyproject.toml``): each entry names a ``register(subparsers)`` function that adds its
parser and sets ``handler`` to a callable taking the parsed namespace and returning an exit
code. The core finds the apps' commands (``webhook``, ``run``, ``certs``) this way without
importing them.

Exit codes shared by every subcommand: 0 success, 1 the operation failed (registry, network,
cluster), 2 invalid input (the message names the flag or key and the value).
"""

from __future__ import annotations

__all__ = ["EXIT_FAILED", "EXIT_INVALID", "EXIT_OK", "Handler", "build_parser", "main"]

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import cast

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2

Handler = Callable[[argparse.Namespace], int]
ENTRY_POINT_GROUP = "imageupdater.commands"


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit code 2, never a traceback."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_INVALID, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="image-updater",
        description=(
            "Keep Argo CD Applications' container images current. Compatible with Argo CD "
            "Image Updater's annotations, registries.conf and `test` command."
        ),
    )
    subparsers = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser),
    )
    subparsers.required = True
    entry_points = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
    for entry_point in entry_points:
        register: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]
        register = entry_point.load()
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
