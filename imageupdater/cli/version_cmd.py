"""``image-updater version``: print the version, in upstream's format or ``--short``.

The ``Platform:`` line is the platform ``test`` and the annotations' ``platforms`` default
to, in registries' naming (``linux/amd64``, ``linux/arm/v7``)."""

from __future__ import annotations

import argparse
import platform
import sys

import imageupdater
from imageupdater.errors import InvalidInput
from imageupdater.platforms import current_platform


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("version")
    parser.add_argument("--short", action="store_true", help="print only the version number")
    parser.set_defaults(handler=run)


def _platform() -> str:
    """The platform image resolution defaults to (``linux/amd64``), as upstream prints it."""
    try:
        return str(current_platform())
    except InvalidInput:  # a machine registries have no name for: say what it is
        return f"{sys.platform}/{platform.machine()} (no registry platform name)"


def run(args: argparse.Namespace) -> int:
    if args.short:
        print(f"v{imageupdater.__version__}")
    else:
        print(f"image-updater: v{imageupdater.__version__}")
        print(f"  Python:   {platform.python_version()} ({sys.implementation.name})")
        print(f"  Platform: {_platform()}")
    return 0
