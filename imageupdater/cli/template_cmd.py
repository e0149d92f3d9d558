"""``image-updater template [PATH]``: render a commit message template with sample changes,
as upstream's ``template`` command does, so a template can be tried before it is deployed.

Without PATH the default template is rendered. A template that does not parse is reported
with its line and column (exit 2), the same check ``run`` makes at start.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from imageupdater.cli import EXIT_INVALID, EXIT_OK
from imageupdater.errors import InvalidInput

SAMPLE_APP = "example-app"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "template",
        description=(
            "Render the commit message template at PATH (the default template when PATH is "
            f"omitted) for application {SAMPLE_APP!r} with two sample changes: a tag update "
            "and a digest update."
        ),
    )
    parser.add_argument("path", nargs="?", type=Path, help="the template file")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from imageupdater.gitops.messages import (  # the template engine: only now
        commit_message,
        load_commit_template,
        sample_changes,
    )

    try:
        template = load_commit_template(args.path, explicit=True)
    except InvalidInput as exc:
        print(f"image-updater template: {exc}", file=sys.stderr)
        return EXIT_INVALID
    rendered = commit_message(template, SAMPLE_APP, sample_changes())
    if rendered.problem is not None:
        print(f"image-updater template: {rendered.problem}", file=sys.stderr)
        return EXIT_INVALID
    sys.stdout.write(rendered.text if rendered.text.endswith("\n") else rendered.text + "\n")
    return EXIT_OK
