"""``image-updater lint``: check the image-updater annotations of Application manifests.

Prints one line per problem, ``<file>: <namespace>/<name>: <annotation key>: <message>``
(``warning: `` before the message of a warning), and exits 0 when there is no error, 1
when there is one, 2 when a file cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from imageupdater.cli import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from imageupdater.cli.tenant_flags import add_credential_rule_flags, credential_rules
from imageupdater.errors import InvalidInput
from imageupdater.lint import LintFinding, lint_documents

_STDIN = "-"
_STDIN_NAME = "<stdin>"
_SUFFIXES = (".yaml", ".yml")

_DESCRIPTION = """\
Check the argocd-image-updater.argoproj.io/* annotations of every Argo CD Application
(argoproj.io/v1alpha1, also inside kind: List) in YAML files, with the same rules the
admission webhook applies. Other kinds are ignored.

Each FILE is a YAML file (multi-document allowed), '-' for standard input, or a directory,
which is searched recursively for *.yaml and *.yml files (in name order).

Output: one line per problem,
  <file>: <namespace>/<name>: <annotation key>: <message>
  <file>: <namespace>/<name>: <annotation key>: warning: <message>
(namespace 'default' when the manifest sets none).

Exit status: 0 no errors (warnings allowed), 1 at least one error, 2 a file could not be
read.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "lint",
        help="check Application manifests' image-updater annotations",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="YAML file, directory (searched for *.yaml, *.yml) or '-' for standard input",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print errors only, not warnings"
    )
    # The same rules the webhook and the reconciler are started with, so CI says what
    # `kubectl apply` would.
    add_credential_rule_flags(parser.add_argument)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        rules = credential_rules(args)
    except InvalidInput as exc:
        print(f"image-updater lint: {exc}", file=sys.stderr)
        return EXIT_INVALID
    unreadable = False
    failed = False
    for name in args.files:
        for source, text in _read(name):
            if text is None:
                unreadable = True
                continue
            for finding in lint_documents(text, source=source, rules=rules):
                failed |= finding.severity == "error"
                _print(finding, quiet=args.quiet)
    if unreadable:
        return EXIT_INVALID
    return EXIT_FAILED if failed else EXIT_OK


def _print(finding: LintFinding, *, quiet: bool) -> None:
    if quiet and finding.severity == "warning":
        return
    print(finding)


def _read(name: str) -> list[tuple[str, str | None]]:
    """``(source, text)`` for a file, stdin or each YAML file of a directory; None = unreadable."""
    if name == _STDIN:
        try:
            return [(_STDIN_NAME, sys.stdin.read())]
        except (OSError, UnicodeDecodeError) as err:
            print(f"image-updater lint: {_STDIN_NAME}: cannot read: {err}", file=sys.stderr)
            return [(_STDIN_NAME, None)]
    path = Path(name)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
        if not files:
            print(f"image-updater lint: {name}: no *.yaml or *.yml files found", file=sys.stderr)
            return [(name, None)]
        return [(str(p), _read_file(p)) for p in files]
    return [(name, _read_file(path))]


def _read_file(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        print(f"image-updater lint: {path}: cannot read: {reason}", file=sys.stderr)
        return None
