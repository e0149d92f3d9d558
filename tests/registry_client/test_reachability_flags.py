"""``--allowed-registries`` and ``--internal-networks`` on the webhook and the reconciler: a
bad value stops the process at start, with one line naming the flag (exit 2)."""

from __future__ import annotations

import pytest

from imageupdater.cli import EXIT_INVALID, main


@pytest.mark.parametrize("command", ["admission", "run"])
@pytest.mark.parametrize(
    ("flags", "named"),
    [
        pytest.param(["--internal-networks", "10.0.0.0/8,nope"], "--internal-networks", id="cidr"),
        pytest.param(["--allowed-registries", "ghcr.io,[x"], "--allowed-registries", id="glob"),
    ],
)
def test_a_bad_reachability_flag_exits_2_naming_it(
    command: str, flags: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, *flags, "--registries-conf-path", ""]) == EXIT_INVALID
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(f"image-updater {command}: ")
    assert named in err
