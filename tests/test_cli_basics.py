"""The command line's shared behaviour: version, usage errors, exit codes."""

import subprocess
import sys

import pytest

import imageupdater
from imageupdater import cli


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["version", "--short"]) == 0
    assert capsys.readouterr().out.strip() == f"v{imageupdater.__version__}"


def test_an_unknown_subcommand_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["frobnicate"])
    assert exc.value.code == cli.EXIT_INVALID
    err = capsys.readouterr().err
    assert "invalid choice: 'frobnicate'" in err
    assert "Traceback" not in err


def test_the_console_script_runs_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "imageupdater.cli", "version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("image-updater: v")


def test_webhook_is_upstreams_registry_receiver_and_refuses_to_start_without_a_secret() -> None:
    import subprocess
    import sys
    from pathlib import Path

    binary = Path(sys.executable).with_name("image-updater")
    done = subprocess.run(
        [str(binary), "webhook", "--help"], capture_output=True, text=True, check=False, timeout=30
    )
    assert done.returncode == 0
    assert "--webhook-port" in done.stdout and "--webhook-require-secret" in done.stdout
    env = {k: v for k, v in __import__("os").environ.items() if not k.endswith("_WEBHOOK_SECRET")}
    done = subprocess.run(
        [str(binary), "webhook"], capture_output=True, text=True, check=False, timeout=30, env=env
    )
    assert done.returncode == 2
    assert "give at least one --<type>-webhook-secret" in done.stderr


def test_every_subcommand_parses_with_the_shared_parser_so_flag_errors_read_the_same() -> None:
    parser = cli.build_parser()
    (action,) = [a for a in parser._actions if a.dest == "command"]
    assert isinstance(action.choices, dict)
    for name, subparser in action.choices.items():
        assert type(subparser) is type(parser), name


def test_an_unknown_flag_of_a_subcommand_exits_2_naming_the_subcommand(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["version", "--shrot"])
    assert exc.value.code == cli.EXIT_INVALID
    assert capsys.readouterr().err == (
        "image-updater version: unknown flag --shrot (did you mean --short?)\n"
    )
