"""Command-line habits upstream users bring: misspelt flags, upstream-only flags, `version`.

Every test runs the installed console script as a subprocess, as a user would.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imageupdater import cli
from imageupdater.cli.upstream_flags import UPSTREAM_ONLY_FLAGS
from imageupdater.platforms import current_platform

BINARY = Path(sys.executable).with_name("image-updater")


def image_updater(*args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST")
    }
    if home is not None:
        env["HOME"] = str(home)
    return subprocess.run(
        [str(BINARY), *args], capture_output=True, text=True, check=False, env=env, timeout=60
    )


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ["run", "--intervl", "2m"],
            "image-updater run: unknown flag --intervl (did you mean --interval?)",
            id="run",
        ),
        pytest.param(
            ["run", "--dryrun"],
            "image-updater run: unknown flag --dryrun (did you mean --dry-run?)",
            id="run-without-dash",
        ),
        pytest.param(
            ["run", "-once"],
            "image-updater run: unknown flag -once (did you mean --once?)",
            id="go-style-single-dash",
        ),
        pytest.param(
            ["run", "--kube-config=/tmp/x"],
            "image-updater run: unknown flag --kube-config (did you mean --kubeconfig?)",
            id="with-equals-value",
        ),
        pytest.param(
            ["test", "nginx", "--semver-constrant", "1.x"],
            "image-updater test: unknown flag --semver-constrant "
            "(did you mean --semver-constraint?)",
            id="test",
        ),
        pytest.param(
            ["admission", "--max-conections", "10"],
            "image-updater admission: unknown flag --max-conections "
            "(did you mean --max-connections?)",
            id="admission",
        ),
        pytest.param(
            ["certs", "--namespce", "argocd"],
            "image-updater certs: unknown flag --namespce (did you mean --namespace?)",
            id="certs",
        ),
        pytest.param(
            ["version", "--shrt"],
            "image-updater version: unknown flag --shrt (did you mean --short?)",
            id="version",
        ),
    ],
)
def test_a_misspelt_flag_names_the_subcommand_and_the_closest_flag(
    args: list[str], expected: str
) -> None:
    done = image_updater(*args)
    assert done.returncode == 2
    assert one_line(done) == expected
    assert done.stdout == ""


def test_a_flag_like_no_other_points_to_the_subcommands_help() -> None:
    done = image_updater("run", "--frobnicate")
    assert done.returncode == 2
    assert one_line(done) == (
        "image-updater run: unknown flag --frobnicate (see image-updater run --help)"
    )


def test_an_unknown_flag_is_named_even_when_it_took_the_place_of_a_required_argument() -> None:
    # Without the flag check this says "the following arguments are required: IMAGE".
    done = image_updater("test", "--update-strategi", "semver")
    assert done.returncode == 2
    assert one_line(done) == (
        "image-updater test: unknown flag --update-strategi (did you mean --update-strategy?)"
    )


def test_a_commands_flag_before_the_command_says_where_it_goes() -> None:
    done = image_updater("--interval", "2m", "run")
    assert done.returncode == 2
    assert one_line(done) == (
        "image-updater: unknown flag --interval "
        "(a command's flag goes after the command: image-updater run --interval)"
    )


def test_an_unknown_command_is_still_named_as_one() -> None:
    done = image_updater("frobnicate", "--x")
    assert done.returncode == 2
    assert "invalid choice: 'frobnicate'" in one_line(done)


def test_an_extra_argument_names_the_subcommand() -> None:
    done = image_updater("version", "extra")
    assert done.returncode == 2
    assert one_line(done) == "image-updater version: error: unrecognized arguments: extra"


@pytest.mark.parametrize(
    ("args", "flag", "instead"),
    [
        pytest.param(
            ["run", "--warmup-cache=false"], "--warmup-cache", "--once --dry-run", id="warmup"
        ),
        pytest.param(
            ["run", "--max-concurrent-apps", "5"],
            "--max-concurrent-apps",
            "--max-concurrency",
            id="v1-apps",
        ),
        pytest.param(
            ["run", "--metrics-bind-address", ":8443"],
            "--metrics-bind-address",
            "--metrics-port",
            id="v1-metrics",
        ),
        pytest.param(
            ["run", "--health-probe-bind-address", ":8081"],
            "--health-probe-bind-address",
            "--health-port",
            id="v1-health",
        ),
        pytest.param(["run", "--enable-http2"], "--enable-http2", "HTTP/1.1", id="http2"),
        pytest.param(
            ["run", "--disable-kubernetes"], "--disable-kubernetes", "--applications-api", id="v0"
        ),
        pytest.param(
            ["test", "nginx", "--disable-kubernetes"],
            "--disable-kubernetes",
            "$KUBECONFIG",
            id="test-v0",
        ),
    ],
)
def test_a_flag_only_upstream_has_is_named_as_upstreams_with_what_to_use_instead(
    args: list[str], flag: str, instead: str
) -> None:
    done = image_updater(*args)
    assert done.returncode == 2
    line = one_line(done)
    command = args[0]
    assert line.startswith(
        f"image-updater {command}: {flag} is an upstream flag this version does not support ("
    )
    assert line.endswith(")")
    assert instead in line


def test_every_upstream_only_flag_in_the_table_reaches_its_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A flag added to a command makes its table entry unused, which is fine; an entry the
    command would take as an abbreviation of one of its flags would never be reached. (In
    process, for speed: the subprocess cases above show the same main() end to end.)"""
    subcommands = build_subparsers()
    checked = 0
    for command, flags in UPSTREAM_ONLY_FLAGS.items():
        known = {opt for action in subcommands[command]._actions for opt in action.option_strings}
        for flag in flags:
            if flag in known:
                continue
            with pytest.raises(SystemExit) as exit_:
                cli.main([command, *(["nginx"] if command == "test" else []), flag])
            captured = capsys.readouterr()
            assert exit_.value.code == 2, (command, flag, captured.err)
            assert captured.err.startswith(
                f"image-updater {command}: {flag} is an upstream flag"
            ), captured.err
            checked += 1
    assert checked, "the table names no flag the commands lack"


def build_subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    (action,) = [a for a in parser._actions if a.dest == "command"]
    choices = action.choices
    assert isinstance(choices, dict)
    return dict(choices)


def test_help_still_works_for_every_subcommand_and_starts_fast() -> None:
    for command in build_subparsers():
        started = time.monotonic()
        done = image_updater(command, "--help")
        elapsed = time.monotonic() - started
        assert done.returncode == 0, (command, done.stderr)
        assert done.stdout.startswith(f"usage: image-updater {command}"), done.stdout
        assert elapsed < 10, f"{command} --help took {elapsed:.1f}s"
    # The Kubernetes client is not loaded to print help.
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\nfrom imageupdater import cli\ntry:\n    cli.main(['run', '--help'])\n"
            "except SystemExit:\n    pass\n"
            "print('kubernetes_asyncio' in sys.modules, file=sys.stderr)",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert probe.stderr.strip() == "False", probe.stderr


def test_version_prints_the_platform_image_resolution_defaults_to_in_upstreams_line() -> None:
    done = image_updater("version")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("image-updater: v")
    assert any(line.strip().startswith("Python:") for line in lines)
    assert f"  Platform: {current_platform()}" in lines
    assert image_updater("version", "--short").stdout.strip().startswith("v")
