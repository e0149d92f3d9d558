"""`admission --workers N`: read from the flag or IMAGE_UPDATER_ADMISSION_WORKERS, a number from
1 to 64 or auto, every other value refused with a message naming where it came from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from imageupdater.cli import build_parser
from imageupdater.errors import InvalidInput
from webhook.options import MAX_WORKERS, WORKERS_ENV, WebhookOptions

BINARY = Path(sys.executable).with_name("image-updater")


def options(*flags: str) -> WebhookOptions:
    return WebhookOptions.from_args(build_parser().parse_args(["admission", *flags]))


@pytest.fixture(autouse=True)
def _no_workers_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WORKERS_ENV, raising=False)


def test_one_worker_without_the_flag_or_the_variable() -> None:
    assert options().workers == 1


@pytest.mark.parametrize(("text", "expected"), [("1", 1), ("2", 2), ("64", 64), (" 8 ", 8)])
def test_the_flag_sets_the_number_of_workers(text: str, expected: int) -> None:
    assert options("--workers", text).workers == expected


def test_auto_is_one_worker_per_usable_cpu() -> None:
    assert options("--workers", "auto").workers == min(len(os.sched_getaffinity(0)), MAX_WORKERS)
    assert options("--workers", "AUTO").workers == options("--workers", "auto").workers


def test_the_variable_is_read_when_the_flag_is_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WORKERS_ENV, "3")
    assert options().workers == 3
    assert options("--workers", "2").workers == 2


@pytest.mark.parametrize("text", ["0", "65", "-1", "1.5", "two", "", "4 workers", "١"], ids=repr)
def test_a_bad_flag_value_is_refused_naming_the_flag_and_the_value(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        options("--workers", text)
    assert str(caught.value) == (
        f"--workers {text!r}: expected a number from 1 to {MAX_WORKERS}, or auto"
    )


def test_a_bad_variable_value_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(WORKERS_ENV, "many")
    with pytest.raises(InvalidInput, match=r"^IMAGE_UPDATER_ADMISSION_WORKERS='many': expected"):
        options()


def test_the_command_exits_2_naming_the_bad_value() -> None:
    env = {k: v for k, v in os.environ.items() if k != WORKERS_ENV}
    done = subprocess.run(
        [str(BINARY), "admission", "--workers", "0", "--registries-conf-path", ""],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert done.returncode == 2
    assert "--workers '0': expected a number from 1 to 64, or auto" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_help_says_what_workers_share_and_how_metrics_are_served() -> None:
    done = subprocess.run(
        [str(BINARY), "admission", "--help"], capture_output=True, text=True, check=True
    )
    text = " ".join(done.stdout.split())
    assert "--workers N" in text
    assert "SO_REUSEPORT" in text
    assert '/metrics answers for all of them, each series labelled worker="<i>"' in text
