"""Helpers for the registry client tests: a manual clock and endpoints for local registries."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from imageupdater.credential_sources import CredentialCache
from imageupdater.credentials import CredentialRef, Credentials
from imageupdater.registries_conf import RegistryEndpoint


class ManualClock:
    """A clock that moves only when told to, or when someone sleeps on it."""

    def __init__(self) -> None:
        self.time = 1000.0
        self.start = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.time

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.time - 1000.0)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.time += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        self.time += seconds


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def endpoint_for(url: str, **fields: object) -> RegistryEndpoint:
    """A registries.conf entry for a local registry at ``url`` (http://127.0.0.1:<port>)."""
    return RegistryEndpoint(name="local", api_url=url.rstrip("/"), **fields)  # type: ignore[arg-type]


Skopeo = Callable[..., bytes]


@pytest.fixture
def skopeo(tmp_path: Path) -> Skopeo:
    """Run ``skopeo <args>`` (an independent registry client) with a private auth file."""
    if shutil.which("skopeo") is None:
        pytest.fail("skopeo is not installed: run ./dev test, which installs it", pytrace=False)
    auth_file = tmp_path / "skopeo-auth.json"
    auth_file.write_text("{}")
    env = {**os.environ, "REGISTRY_AUTH_FILE": str(auth_file)}

    def run(*args: str) -> bytes:
        done = subprocess.run(["skopeo", *args], capture_output=True, env=env, timeout=60)
        if done.returncode != 0:
            pytest.fail(f"skopeo {' '.join(args)} failed: {done.stderr.decode()}", pytrace=False)
        return done.stdout

    return run


class ScriptedResolver:
    """A credential resolver answering from a list, one entry per call (the last repeats)."""

    def __init__(self, *answers: Credentials) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def resolve(self, ref: CredentialRef, *, registry_host: str, api_url: str) -> Credentials:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        return answer


def credential_cache(*answers: Credentials) -> tuple[CredentialCache, ScriptedResolver]:
    resolver = ScriptedResolver(*answers)
    return CredentialCache(resolver), resolver


ENV_REF = CredentialRef.parse("env:REGISTRY_CREDS")
