"""The ``image-updater`` command line.

Subcommands are listed in :mod:`imageupdater.cli.commands`: each entry names a
``register(subparsers)`` function that adds its parser (its summary comes from the table)
and sets ``handler`` to a callable taking the parsed namespace and returning an exit code.
Only the command being run has its parser built; the others appear in ``--help`` by their
summaries alone, so a start imports nothing of theirs.

Exit codes shared by every subcommand: 0 success, 1 the operation failed (registry, network,
cluster), 2 invalid input (the message names the flag or key and the value).
"""

from __future__ import annotations

__all__ = ["EXIT_FAILED", "EXIT_INVALID", "EXIT_OK", "Handler", "build_parser", "main"]

import argparse
import difflib
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, cast

from imageupdater.cli.commands import COMMANDS

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2

Handler = Callable[[argparse.Namespace], int]
_SUMMARIES = {command.name: command.summary for command in COMMANDS}

if TYPE_CHECKING:
    _SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    _SubParsers = argparse._SubParsersAction


class _Commands(_SubParsers):
    """The subparsers action: every command's parser gets its summary from the table."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        kwargs.setdefault("help", _SUMMARIES[name])
        return super().add_parser(name, **kwargs)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit code 2, never a traceback.

    An unknown flag is named with the command it was given to and the closest flag that
    command has, or, when it is one of upstream's (:mod:`imageupdater.cli.upstream_flags`),
    as upstream's with what to use instead. Unknown arguments are therefore always an error:
    ``parse_known_args`` never returns any.
    """

    _arguments: Sequence[str] = ()
    # Set on the top-level parser when only one command's parser was built.
    _partial = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self._arguments = list(sys.argv[1:] if args is None else args)
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            flag = next((extra for extra in extras if self._looks_like_a_flag(extra)), None)
            if flag is not None:
                self._unknown_flag(flag)
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras

    def error(self, message: str) -> NoReturn:
        # An unknown flag, or its value, may have taken the place of a missing argument or
        # a command: then the flag is the cause to name.
        candidates: list[str] = []
        if message.startswith("the following arguments are required"):
            candidates = self._options()
        elif message.startswith("argument ") and ": invalid choice: " in message:
            candidates = self._options(leading=True)
        flag = next((arg for arg in candidates if not self._knows(arg)), None)
        if flag is not None:
            self._unknown_flag(flag)
        self.exit(EXIT_INVALID, f"{self.prog}: error: {message}\n")

    def _options(self, *, leading: bool = False) -> list[str]:
        """The flag-like arguments being parsed, up to ``--`` (or, ``leading``, up to the
        first positional-looking one)."""
        found = []
        for arg in self._arguments:
            if arg == "--":
                break
            if self._looks_like_a_flag(arg):
                found.append(arg)
            elif leading:
                break
        return found

    def _looks_like_a_flag(self, arg: str) -> bool:
        if len(arg) < 2 or arg[0] not in self.prefix_chars:
            return False
        try:
            float(arg)
        except ValueError:
            return True
        return False  # a negative number

    def _long_flags(self) -> list[str]:
        return [
            option
            for action in self._actions
            for option in action.option_strings
            if len(option) > 2 and option[1] in self.prefix_chars
        ]

    def _knows(self, arg: str) -> bool:
        name = arg.split("=", 1)[0]
        if name in self._option_string_actions or arg[:2] in self._option_string_actions:
            return True
        return self.allow_abbrev and any(flag.startswith(name) for flag in self._long_flags())

    def _commands_with(self, flag: str) -> list[str]:
        """The subcommands of this parser that have ``flag``."""
        if self._partial:  # a mistyped start: worth building every parser to say where
            return cast("_Parser", build_parser())._commands_with(flag)
        return [
            name
            for action in self._actions
            if isinstance(action, argparse._SubParsersAction)
            for name, parser in action.choices.items()
            if flag in parser._option_string_actions
        ]

    def _unknown_flag(self, arg: str) -> NoReturn:
        from imageupdater.cli.upstream_flags import upstream_only_hint

        name = arg.split("=", 1)[0] if arg[1:2] in self.prefix_chars else arg
        command = " ".join(self.prog.split()[1:])
        hint = upstream_only_hint(command, name)
        owners = self._commands_with(name)
        if hint is not None:
            message = f"{name} is an upstream flag this version does not support ({hint})"
        elif owners:
            where = " or ".join(f"{self.prog} {owner} {name}" for owner in owners[:3])
            message = f"unknown flag {name} (a command's flag goes after the command: {where})"
        else:
            flags = {flag.lstrip(self.prefix_chars): flag for flag in self._long_flags()}
            close = difflib.get_close_matches(
                name.lstrip(self.prefix_chars), list(flags), n=1, cutoff=0.75
            )
            advice = f"did you mean {flags[close[0]]}?" if close else f"see {self.prog} --help"
            message = f"unknown flag {name} ({advice})"
        self.exit(EXIT_INVALID, f"{self.prog}: {message}\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or (``command`` given) one whose only complete
    subparser is that command's; the others then parse nothing and only list themselves."""
    parser = _Parser(
        prog="image-updater",
        description=(
            "Keep Argo CD Applications' container images current. Compatible with Argo CD "
            "Image Updater's annotations, registries.conf and `test` command."
        ),
    )
    subparsers = cast(
        "_Commands",
        parser.add_subparsers(
            dest="command", metavar="COMMAND", parser_class=_Parser, action=_Commands
        ),
    )
    subparsers.required = True
    parser._partial = command is not None
    for entry in COMMANDS:
        if command is not None and entry.name != command:
            subparsers.add_parser(entry.name, add_help=False)
            continue
        module, function = entry.target.split(":")
        register: Callable[[_Commands], None] = getattr(importlib.import_module(module), function)
        register(subparsers)
    return parser


def _command_named(argv: Sequence[str]) -> str | None:
    """The command ``argv`` runs: its first word that is not a flag, when it names one."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    return first if first in _SUMMARIES else None


# Commands that, given no --kubeconfig outside a cluster, read $KUBECONFIG (or
# ~/.kube/config). `admission` then runs without cluster access; `test` reads a kubeconfig
# only for Secret credentials and checks it itself.
_KUBECONFIG_BY_DEFAULT = frozenset({"run", "certs", "hold", "release"})


def _kubeconfig_problem(args: argparse.Namespace) -> str | None:
    """Why the kubeconfig the command was given cannot be read, before the command starts.

    Checked: ``--kubeconfig``, and ``$KUBECONFIG`` for the commands that read it. A missing
    ``~/.kube/config`` is left to the command, which reports it when it connects (after its
    own flags are checked)."""
    given = getattr(args, "kubeconfig", None)
    if not isinstance(given, str | None):
        return None  # not a command's kubeconfig flag
    if not given:
        if args.command not in _KUBECONFIG_BY_DEFAULT or "KUBERNETES_SERVICE_HOST" in os.environ:
            return None
        if not os.environ.get("KUBECONFIG", "").strip(os.pathsep):
            return None
    from imageupdater.kube import kubeconfig_problem  # the Kubernetes client: only now

    return kubeconfig_problem(given or None)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command_named(arguments))
    args = parser.parse_args(arguments)
    problem = _kubeconfig_problem(args)
    if problem is not None:
        print(f"image-updater {args.command}: {problem}", file=sys.stderr)
        return EXIT_INVALID
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
