"""``image-updater version``: print the version, in upstream's format or ``--short``."""

from __future__ import annotations

import argparse
import platform
import sys

import imageupdater


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("version", help="print the version and exit")
    parser.add_argument("--short", action="store_true", help="print only the version number")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.short:
        print(f"v{imageupdater.__version__}")
    else:
        print(f"image-updater: v{imageupdater.__version__}")
        print(f"  Python:   {platform.python_version()} ({sys.implementation.name})")
        print(f"  Platform: {platform.system().lower()}/{platform.machine()}")
    return 0
