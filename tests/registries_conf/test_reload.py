"""registries.conf edits reach a running process without a restart (upstream needs one),
as a ConfigMap volume delivers them: the file is swapped through a symlink."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from imageupdater.registries_conf import DEFAULT_PATH, RegistriesConf
from imageupdater.service import ResolverService, conf_watch_path, watch_registries_conf
from tests.waiting import async_wait_until

ONE = "registries:\n- name: one\n  prefix: one.example\n  api_url: https://one.example\n"
TWO = ONE + "- name: two\n  prefix: two.example\n  api_url: https://two.example\n"


def configmap_volume(root: Path, content: str, generation: int) -> Path:
    """Lay ``content`` out as the kubelet does: ``..data`` -> a timestamped dir; the file
    a symlink through ``..data``. Returns the path the process reads."""
    data = root / f"..2026_12_03_{generation}"
    data.mkdir()
    (data / "registries.conf").write_text(content)
    link = root / "..data_tmp"
    link.symlink_to(data.name)
    link.replace(root / "..data")
    target = root / "registries.conf"
    if not target.is_symlink():
        target.symlink_to("..data/registries.conf")
    return target


def prefixes(service: ResolverService) -> set[str]:
    return {e.prefix for e in service.conf.endpoints if e.origin == "config"}


@contextlib.asynccontextmanager
async def watching(service: ResolverService, path: Path) -> AsyncIterator[None]:
    task = asyncio.create_task(watch_registries_conf(service, path, interval=0.02))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def eventually(check: Callable[[], bool]) -> None:
    await async_wait_until(check, within=3.0, what="the watcher to act", interval=0.01)


async def test_an_edited_configmap_is_picked_up_without_a_restart(tmp_path: Path) -> None:
    path = configmap_volume(tmp_path, ONE, 1)
    async with ResolverService(RegistriesConf.load(path)) as service, watching(service, path):
        assert prefixes(service) == {"one.example"}
        configmap_volume(tmp_path, TWO, 2)
        await eventually(lambda: prefixes(service) == {"one.example", "two.example"})


async def test_an_invalid_edit_is_reported_and_the_running_configuration_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = configmap_volume(tmp_path, ONE, 1)
    async with ResolverService(RegistriesConf.load(path)) as service, watching(service, path):
        with caplog.at_level(logging.ERROR, logger="image_updater.registries_conf"):
            configmap_volume(tmp_path, "registries:\n- name: broken\n  prefix: [\n", 2)
            await eventually(lambda: "changed but is invalid" in caplog.text)
        assert prefixes(service) == {"one.example"}
        # Fixed again: picked up.
        configmap_volume(tmp_path, TWO, 3)
        await eventually(lambda: len(prefixes(service)) == 2)


async def test_a_removed_file_keeps_the_running_configuration(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "registries.conf"
    path.write_text(ONE)
    async with ResolverService(RegistriesConf.load(path)) as service, watching(service, path):
        with caplog.at_level(logging.WARNING, logger="image_updater.registries_conf"):
            path.unlink()
            await eventually(lambda: "was removed" in caplog.text)
        assert prefixes(service) == {"one.example"}


async def test_a_file_that_appears_later_is_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "registries.conf"
    async with ResolverService(RegistriesConf.load(None)) as service, watching(service, path):
        path.write_text(ONE)
        await eventually(lambda: prefixes(service) == {"one.example"})


def test_the_followed_path_is_upstreams_default_unless_told_otherwise() -> None:
    assert conf_watch_path(None) == DEFAULT_PATH
    assert conf_watch_path("/etc/iu/registries.conf") == Path("/etc/iu/registries.conf")
    assert conf_watch_path("") is None
