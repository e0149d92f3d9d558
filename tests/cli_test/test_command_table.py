"""The command table is the one list of subcommands: each entry registers the parser it is
listed as, `--help` shows every summary, and a start builds only the command it runs."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from imageupdater.cli import build_parser
from imageupdater.cli.commands import COMMANDS


def _choices(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_each_listed_command_registers_the_parser_it_is_listed_as(command: object) -> None:
    name = command.name  # type: ignore[attr-defined]
    parsers = _choices(build_parser(name))
    assert list(parsers) == sorted(c.name for c in COMMANDS)
    assert callable(parsers[name].get_default("handler"))
    others = [p for n, p in parsers.items() if n != name]
    assert all(p.get_default("handler") is None for p in others)


def test_the_full_parser_has_every_command_with_a_handler() -> None:
    parsers = _choices(build_parser())
    assert set(parsers) == {c.name for c in COMMANDS}
    assert all(callable(p.get_default("handler")) for p in parsers.values())


def test_help_shows_each_command_with_its_summary(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser(None).parse_args(["--help"])
    shown = " ".join(capsys.readouterr().out.split())
    for command in COMMANDS:
        assert f"{command.name} {command.summary}" in shown


def _modules(argv: list[str]) -> set[str]:
    code = f"import sys; from imageupdater.cli import main; sys.exit(main({argv!r}))"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


@pytest.mark.parametrize("argv", [["version"], ["lint", "--help"], ["--help"]])
def test_a_start_imports_no_other_commands_module(argv: list[str]) -> None:
    modules = _modules(argv)
    owner = {c.name: c.target.split(":")[0] for c in COMMANDS}
    running = owner.get(argv[0])
    for module in set(owner.values()) - {running}:
        assert module not in modules, f"{argv} imported {module}"
    assert "importlib.metadata" not in modules
