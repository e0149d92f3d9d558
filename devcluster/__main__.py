"""`python -m devcluster <subcommand>`: the local stand-ins as commands.

Each subcommand is a `module:function` taking its own argv and returning an exit code, so
adding one is one line in SUBCOMMANDS.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

SUBCOMMANDS: dict[str, str] = {
    "kubeapi": "devcluster.kubeapi.cli:main",
    "demo": "devcluster.demo:main",
    "install": "devcluster.install_demo:main",
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in SUBCOMMANDS:
        given = (
            f"unknown subcommand {args[0]!r}; " if args and args[0] not in ("-h", "--help") else ""
        )
        print(f"usage: python -m devcluster {{{','.join(SUBCOMMANDS)}}} ...\n{given}"
              f"subcommands: {', '.join(SUBCOMMANDS)}", file=sys.stderr)  # fmt: skip
        return 0 if args[:1] in (["-h"], ["--help"]) else 2
    module, _, func = SUBCOMMANDS[args[0]].partition(":")
    entry: Callable[[list[str]], int] = getattr(importlib.import_module(module), func)
    return entry(args[1:])


if __name__ == "__main__":
    sys.exit(main())
