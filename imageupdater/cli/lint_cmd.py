"""``image-updater lint``: check the image-updater annotations of Argo CD manifests.

Prints one line per problem, ``<file>: <namespace>/<name>: <annotation key>: <message>``
(``warning: `` before the message of a warning; a note says what was skipped), and exits
0 when there is no error, 1 when there is one, 2 when a file cannot be read. Directories
are walked here (the rules of which files count live in ``imageupdater.lint.paths``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from imageupdater.cli import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from imageupdater.cli.tenant_flags import add_credential_rule_flags, credential_rules
from imageupdater.errors import InvalidInput

if TYPE_CHECKING:
    from imageupdater.lint import LintFinding

# imageupdater.lint (yaml, the review rules) is imported by the functions that use it, so
# that building the parser (`image-updater --help`) does not load it.

_STDIN = "-"
_STDIN_NAME = "<stdin>"
_SUFFIXES = (".yaml", ".yml")

_DESCRIPTION = """\
Check the argocd-image-updater.argoproj.io/* annotations of every Argo CD Application
(argoproj.io/v1alpha1, also inside kind: List) in YAML files, with the same rules the
admission webhook applies. An ApplicationSet is checked through its spec.template, under
its own name; values with template expressions ({{ .values.image }}, {{path}}) are not
evaluated but skipped with a note. An ImageUpdater resource is a warning (not supported
yet). Other kinds are ignored.

Each FILE is a YAML file (multi-document allowed) or a directory, which is
searched recursively for *.yaml and *.yml files (in name order); '-' reads standard input
(e.g. 'kubectl kustomize . | image-updater lint -'). A Helm or Go template (a file below a
chart's templates/ next to Chart.yaml, or one with {{ ... }} outside YAML strings) is
skipped with a note.

--exclude GLOB (repeatable) skips paths, matched relative to the directory searched (a
FILE argument as written) with Python's fnmatch: case-sensitive, '*' also matches '/'. A
GLOB without '/' is matched against each path component ('charts', '*.tmpl.yaml'), one
with '/' against the whole path and each leading directory ('envs/prod'; '/charts' only
at the top); a trailing '/' matches directories only.

Output: one line per problem,
  <file>: <namespace>/<name>: <annotation key>: <message>
  <file>: <namespace>/<name>: <annotation key>: warning: <message>
  <file>: skipped: a Helm/Go template, not YAML until rendered
(namespace 'default' when the manifest sets none).

Exit status: 0 no errors (warnings and notes allowed), 1 at least one error, 2 a file could
not be read.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "lint",
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
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        type=_glob,
        help="skip paths matching GLOB (repeatable; see above for how it matches)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print errors only, not warnings or notes"
    )
    # The same rules the webhook and the reconciler are started with, so CI says what
    # `kubectl apply` would.
    add_credential_rule_flags(parser.add_argument)
    parser.set_defaults(handler=run)


def _glob(value: str) -> str:
    if not value.strip("/"):
        raise argparse.ArgumentTypeError(
            f"{value!r} matches nothing; expected a glob such as 'charts'"
        )
    return value


def run(args: argparse.Namespace) -> int:
    from imageupdater.lint import chart_template, lint_documents, template_skipped

    try:
        rules = credential_rules(args)
    except InvalidInput as exc:
        print(f"image-updater lint: {exc}", file=sys.stderr)
        return EXIT_INVALID
    unreadable = False
    failed = False
    charts = _ChartDirs()
    for name in args.files:
        for source, path, text in _read(name, args.exclude):
            if text is None:
                unreadable = True
                continue
            if path is not None and chart_template(path.absolute(), charts.holds_chart):
                findings = [template_skipped(source)]
            else:
                findings = lint_documents(text, source=source, rules=rules)
            for finding in findings:
                failed |= finding.severity == "error"
                _print(finding, quiet=args.quiet)
    if unreadable:
        return EXIT_INVALID
    return EXIT_FAILED if failed else EXIT_OK


def _print(finding: LintFinding, *, quiet: bool) -> None:
    if quiet and finding.severity != "error":
        return
    print(finding)


class _ChartDirs:
    """Which directories hold a ``Chart.yaml``, each looked up once per run."""

    def __init__(self) -> None:
        self._known: dict[PurePath, bool] = {}

    def holds_chart(self, directory: PurePath) -> bool:
        if directory not in self._known:
            from imageupdater.lint import CHART_FILE

            self._known[directory] = (Path(directory) / CHART_FILE).is_file()
        return self._known[directory]


_Input = tuple[str, Path | None, str | None]


def _read(name: str, patterns: Sequence[str]) -> list[_Input]:
    """``(source, path, text)`` for a file, stdin or each YAML file of a directory.

    ``path`` is None for stdin, ``text`` None when unreadable (already reported).
    """
    from imageupdater.lint import excluded

    if name == _STDIN:
        try:
            return [(_STDIN_NAME, None, sys.stdin.read())]
        except (OSError, UnicodeDecodeError) as err:
            print(f"image-updater lint: {_STDIN_NAME}: cannot read: {err}", file=sys.stderr)
            return [(_STDIN_NAME, None, None)]
    path = Path(name)
    if path.is_dir():
        files, skipped = _yaml_files(path, patterns)
        if not files:
            why = " that --exclude does not skip" if skipped else ""
            print(
                f"image-updater lint: {name}: no *.yaml or *.yml files found{why}",
                file=sys.stderr,
            )
            return [(name, path, None)]
        return [(str(p), p, _read_file(p)) for p in files]
    if excluded(path.as_posix().removeprefix(path.anchor), patterns):
        return []
    return [(name, path, _read_file(path))]


def _yaml_files(root: Path, patterns: Sequence[str]) -> tuple[list[Path], bool]:
    """The YAML files below ``root`` in name order, and whether ``--exclude`` skipped any."""
    from imageupdater.lint import excluded

    found: list[Path] = []
    skipped = False
    for directory, dirnames, filenames in os.walk(root):
        base = Path(directory)
        relative = base.relative_to(root)
        kept = []
        for dirname in dirnames:
            if excluded((relative / dirname).as_posix(), patterns, is_dir=True):
                skipped = True
            else:
                kept.append(dirname)
        dirnames[:] = kept  # os.walk descends only into what is left
        for filename in filenames:
            if Path(filename).suffix not in _SUFFIXES or not (base / filename).is_file():
                continue
            if excluded((relative / filename).as_posix(), patterns):
                skipped = True
                continue
            found.append(base / filename)
    found.sort(key=lambda p: p.relative_to(root).parts)
    return found, skipped


def _read_file(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        print(f"image-updater lint: {path}: cannot read: {reason}", file=sys.stderr)
        return None
