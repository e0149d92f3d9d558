"""Building the CLI parser imports no HTTP, Kubernetes, crypto, YAML or metrics library, and
no event loop (asyncio alone is some 50 imports)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = (
    "aiohttp",
    "kubernetes_asyncio",
    "cryptography",
    "yaml",
    "ruamel",
    "prometheus_client",
    "asyncio",
)
COMMANDS = (
    "version",
    "test",
    "lint",
    "template",
    "certs",
    "admission",
    "webhook",
    "run",
    "hold",
    "release",
    "migrate",
)


def _imported(argv: list[str]) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    code = f"import sys; from imageupdater.cli import main; sys.exit(main({argv!r}))"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return modules, done


@pytest.mark.parametrize(
    ("argv", "code"),
    [(["--help"], 0), (["version"], 0), (["run", "--intervl", "x"], 2)],
)
def test_parser_imports_no_heavy_library(argv: list[str], code: int) -> None:
    modules, done = _imported(argv)
    assert done.returncode == code, done.stderr[-2000:]
    assert "imageupdater.cli" in modules
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == [], heavy


@pytest.mark.parametrize("command", COMMANDS)
def test_each_subcommand_help_works(command: str) -> None:
    modules, done = _imported([command, "--help"])
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage: image-updater" in done.stdout
    assert not {m for m in modules if m.split(".")[0] in HEAVY}


def test_default_registries_conf_matches() -> None:
    from imageupdater.cli.test_cmd import DEFAULT_REGISTRIES_CONF
    from imageupdater.registries_conf import DEFAULT_PATH

    assert DEFAULT_REGISTRIES_CONF == DEFAULT_PATH
