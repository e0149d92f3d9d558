"""The subcommands of ``image-updater``: each one's name, one-line summary and the
``module:function`` that registers its parser.

This table is the one home of the list. It names the apps' modules (``webhook``,
``reconciler``, ``certs``) as strings, so the core never imports them: a start imports
only the module of the command it runs, and ``--help`` (which needs just the summaries)
imports none. Reading the same list from package metadata (entry points) cost a start
some 30 ms for ``importlib.metadata`` alone, before any command ran.
"""

from __future__ import annotations

__all__ = ["COMMANDS", "Command"]

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    summary: str  # the line ``image-updater --help`` shows
    target: str  # "module:function" taking the subparsers action


COMMANDS: tuple[Command, ...] = (
    Command("admission", "serve the admission webhook that validates and mutates Applications",
            "webhook.cli:register"),
    Command("certs", "manage the webhook's TLS certificates (self-signed CA, rotation, caBundle)",
            "certs.cli:register"),
    Command("hold", "stop updating an Application (or one of its images), with a reason",
            "imageupdater.cli.hold_cmd:register_hold"),
    Command("lint", "check Application manifests' image-updater annotations",
            "imageupdater.cli.lint_cmd:register"),
    Command("migrate", "print ImageUpdater resources equivalent to Applications' annotations",
            "imageupdater.cli.migrate_cmd:register"),
    Command("release", "release a hold made with `hold` (or by a detected rollback)",
            "imageupdater.cli.hold_cmd:register_release"),
    Command("run", "run the reconciler: keep Applications' images current",
            "reconciler.cli:register"),
    Command("template", "render a git commit message template with sample changes",
            "imageupdater.cli.template_cmd:register"),
    Command("test", "show which tag an image would be updated to",
            "imageupdater.cli.test_cmd:register"),
    Command("version", "print the version and exit", "imageupdater.cli.version_cmd:register"),
    Command("webhook",
            "receive registry push events and update just the matching Applications (no polling)",
            "reconciler.cli:register_webhook"),
)  # fmt: skip
