"""Upstream settings this version does not support are refused at start, named, never
ignored: environment variables, and keys of the ConfigMap argocd-image-updater-config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from imageupdater.cli.upstream_settings import (
    SUPPORTED_KEYS,
    UNSUPPORTED_ENV,
    UNSUPPORTED_KEYS,
    check_upstream_settings,
)
from imageupdater.errors import InvalidInput

BINARY = Path(sys.executable).with_name("image-updater")


def configmap(tmp_path: Path, *keys: str) -> Path:
    """A ConfigMap volume as the kubelet lays it out: one file per key, plus its own entries."""
    directory = tmp_path / "cm"
    data = directory / "..2026_12_03_01"
    data.mkdir(parents=True)
    (directory / "..data").symlink_to(data.name)
    for key in keys:
        (data / key).write_text("x")
        (directory / key).symlink_to(f"..data/{key}")
    return directory


@pytest.mark.parametrize("name", sorted(UNSUPPORTED_ENV))
def test_every_unsupported_upstream_variable_is_refused_by_name(name: str) -> None:
    with pytest.raises(InvalidInput, match=f"environment variable {name} is upstream's"):
        check_upstream_settings({name: "1"}, None)


@pytest.mark.parametrize("key", sorted(UNSUPPORTED_KEYS))
def test_every_unsupported_upstream_configmap_key_is_refused_by_name(
    tmp_path: Path, key: str
) -> None:
    with pytest.raises(InvalidInput, match=f"key '{key}' is upstream's and not supported"):
        check_upstream_settings({}, configmap(tmp_path, key))


def test_a_misspelt_key_is_refused_with_the_known_keys(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"unknown key 'log.levle'; known keys: .*log\.level"):
        check_upstream_settings({}, configmap(tmp_path, "log.levle"))


def test_supported_keys_and_the_kubelets_own_entries_pass(tmp_path: Path) -> None:
    check_upstream_settings({"IMAGE_UPDATER_INTERVAL": "2m"}, configmap(tmp_path, *SUPPORTED_KEYS))
    check_upstream_settings({}, tmp_path / "not-mounted")


@pytest.mark.parametrize("command", ["run", "admission"])
def test_both_components_refuse_at_start(tmp_path: Path, command: str) -> None:
    directory = configmap(tmp_path, "log.level", "max_concurrent_reconciles")
    done = subprocess.run(
        [str(BINARY), command, "--configmap-dir", str(directory)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "MAX_CONCURRENT_APPS": "8"},
        timeout=60,
    )
    assert done.returncode == 2
    assert "environment variable MAX_CONCURRENT_APPS is upstream's" in done.stderr
    assert "key 'max_concurrent_reconciles' is upstream's" in done.stderr
    assert "MAX_CONCURRENCY" in done.stderr
    assert "Traceback" not in done.stderr
