"""skopeo, the independent registry client these tests check the stand-ins against."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

Skopeo = Callable[..., subprocess.CompletedProcess[bytes]]


@pytest.fixture
def skopeo(tmp_path: Path) -> Skopeo:
    """Run ``skopeo <args>`` with a private empty auth file; returns the finished process."""
    if shutil.which("skopeo") is None:
        pytest.fail("skopeo is not installed: run ./dev test, which installs it", pytrace=False)
    auth_file = tmp_path / "skopeo-auth.json"
    auth_file.write_text("{}")
    env = {**os.environ, "REGISTRY_AUTH_FILE": str(auth_file)}

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        done = subprocess.run(["skopeo", *args], capture_output=True, env=env, timeout=60)
        if check and done.returncode != 0:
            pytest.fail(f"skopeo {' '.join(args)} failed: {done.stderr.decode()}", pytrace=False)
        return done

    return run
