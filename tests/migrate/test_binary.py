"""The installed command, and what building its parser costs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from imageupdater.imageupdaters import bind, parse
from tests.migrate.helpers import application

BINARY = Path(sys.executable).with_name("image-updater")
ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("aiohttp", "kubernetes_asyncio", "cryptography", "yaml", "ruamel", "prometheus_client")


def test_the_installed_image_updater_migrate_reads_standard_input() -> None:
    """Needs the ``migrate`` entry point in pyproject.toml (and the package reinstalled)."""
    text = yaml.safe_dump(
        application("shop", {"image-list": "web=ghcr.io/org/web:1.x", "force-update": "true"})
    )
    done = subprocess.run(
        [str(BINARY), "migrate", "-"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    [resource] = [d for d in yaml.safe_load_all(done.stdout) if d]
    updater = parse(resource).updater
    assert updater is not None
    binding = bind(updater, {"metadata": {"name": "shop", "namespace": "argocd"}})
    assert binding is not None
    assert "1 Application converted into 1 ImageUpdater" in done.stderr


def test_building_the_parser_and_help_import_no_heavy_library() -> None:
    code = "import sys; from tests.migrate.helpers_light import run_help; sys.exit(run_help())"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage: image-updater migrate" in done.stdout
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "imageupdater.cli.migrate_cmd" in modules
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == []
    assert "imageupdater.cli.migrate_run" not in modules
