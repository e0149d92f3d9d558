"""``image-updater migrate --help`` through the command's own parser, importing nothing but
the CLI (tests.migrate.helpers imports yaml and the converter; this module must not)."""

from __future__ import annotations


def run_help() -> int:
    from imageupdater.cli import _Parser
    from imageupdater.cli.migrate_cmd import register

    top = _Parser(prog="image-updater")
    register(top.add_subparsers(dest="command", parser_class=_Parser))
    try:
        top.parse_args(["migrate", "--help"])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 1
