"""Helpers for `image-updater test` tests: seeding, registries.conf files, running the CLI.

The CLI runs its own event loop (``asyncio.run``), so these tests are synchronous: seeding
happens in a short ``asyncio.run`` of its own, and the fault registry serves from a thread.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from devcluster.faultregistry import FaultRegistry
from devcluster.seeder import ImageSeeder, Media
from imageupdater import cli

DAY0 = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Seed:
    tag: str
    days: int = 0  # created = DAY0 + days
    platforms: tuple[str, ...] = ("linux/amd64",)
    media: Media = "docker"


def seed(
    url: str,
    repository: str,
    images: Sequence[Seed],
    *,
    username: str | None = None,
    password: str | None = None,
) -> dict[str, str]:
    """Push ``images``; returns {tag: digest}."""

    async def push() -> dict[str, str]:
        async with aiohttp.ClientSession() as session:
            seeder = ImageSeeder(url, session, username=username, password=password)
            return {
                image.tag: await seeder.push(
                    repository,
                    image.tag,
                    created=DAY0 + timedelta(days=image.days),
                    platforms=list(image.platforms),
                    media=image.media,
                )
                for image in images
            }

    return asyncio.run(push())


def write_conf(path: Path, url: str, *, prefix: str | None = None, **extra: str) -> Path:
    """A registries.conf with one entry for the registry at ``url``."""
    host = prefix or url.split("://", 1)[1]
    lines = ["registries:", "- name: local", f"  prefix: {host}", f"  api_url: {url}"]
    lines += [f"  {key}: {value}" for key, value in extra.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass(frozen=True, slots=True)
class Outcome:
    code: int
    out: str
    err: str

    @property
    def json(self) -> dict[str, Any]:
        lines = self.out.splitlines()
        assert len(lines) == 1, f"expected exactly one JSON line on stdout, got {self.out!r}"
        document = json.loads(lines[0])
        assert isinstance(document, dict)
        return document

    @property
    def error_line(self) -> str:
        lines = [line for line in self.err.splitlines() if "error:" in line]
        assert len(lines) == 1, f"expected one error line on stderr, got {self.err!r}"
        assert "Traceback" not in self.err
        return lines[0]


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Any:
    def run(*argv: str) -> Outcome:
        try:
            code = cli.main(["test", *argv])
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run


@pytest.fixture
def threaded_fault_registry() -> Iterator[FaultRegistry]:
    """A fault registry served from a background thread, for code running its own loop."""
    fault = FaultRegistry()
    fault.start()
    try:
        yield fault
    finally:
        fault.stop()
