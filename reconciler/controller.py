"""The control loop: keep an index of Applications current and run cycles when needed.

* A full resync over every indexed Application each ``interval`` (``0`` = run once).
* Watches per namespace keep the index current; an Application whose image-updater
  annotations or spec changed is queued and processed within ``debounce`` seconds, not an
  interval later. Watches resume from the last ``resourceVersion`` and relist on 410 Gone.
* Updates deferred by a sync window are retried when the window may allow them.
* Without a watchable API (Argo CD's REST API) the index is refreshed by relisting.
Only the leader runs cycles; every replica keeps its index warm to take over at once.
"""

from __future__ import annotations

__all__ = ["Controller", "ControllerSettings"]

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from imageupdater import review
from imageupdater.annotations import PREFIX
from imageupdater.application import Application, app_key
from imageupdater.errors import ImageUpdaterError, KubeGone
from imageupdater.tags import Glob
from reconciler.apps_api import ApplicationsAPI
from reconciler.cycle import Cycle, CycleResult
from reconciler.metrics import ReconcilerMetrics

log = logging.getLogger("image_updater.reconciler")
_BACKOFF_MAX = 30.0


@dataclass(frozen=True, slots=True)
class ControllerSettings:
    interval: float = 120.0
    name_patterns: Sequence[str] = ()
    debounce: float = 1.0
    watch_timeout: int = 300


def _interesting(app: Application) -> tuple[Any, ...]:
    """What a change must touch to need processing: our annotations and the spec."""
    annotations = review.our_annotations(app)
    images = (app.get("status", {}).get("summary") or {}).get("images")
    return (sorted(annotations.items()), repr(app.get("spec")), repr(images))


class Controller:
    def __init__(
        self,
        *,
        api: ApplicationsAPI,
        cycle: Cycle,
        metrics: ReconcilerMetrics,
        settings: ControllerSettings,
        is_leader: Callable[[], bool] = lambda: True,
        leader_changed: asyncio.Event | None = None,
    ) -> None:
        self.api = api
        self.cycle = cycle
        self.metrics = metrics
        self.settings = settings
        self.is_leader = is_leader
        self.leader_changed = leader_changed
        # Go filepath.Match, as upstream's --match-application-name uses (not fnmatch).
        self._name_globs = [
            Glob(p, what="--match-application-name glob") for p in settings.name_patterns
        ]
        self.index: dict[str, Application] = {}
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self.synced = asyncio.Event()
        self.cycles: list[CycleResult] = []
        self._retry_at: dt.datetime | None = None

    def _selected(self, app: Application) -> bool:
        if not self.settings.name_patterns:
            return True
        name = app.get("metadata", {}).get("name", "")
        return any(glob.matches(name) for glob in self._name_globs)

    def _store(self, app: Application) -> None:
        key = app_key(app)
        previous = self.index.get(key)
        if not self._selected(app):
            self.index.pop(key, None)
            return
        self.index[key] = app
        if previous is None or _interesting(previous) != _interesting(app):
            self._dirty.add(key)
            self._wake.set()

    def _update_gauges(self) -> None:
        managed = sum(
            1 for app in self.index.values() if PREFIX + "image-list" in review.our_annotations(app)
        )
        self.metrics.applications_watched.set(managed)

    async def relist(self) -> dict[str | None, str | None]:
        """Replace the index with a fresh list; returns each namespace's resourceVersion."""
        versions: dict[str | None, str | None] = {}
        fresh: dict[str, Application] = {}
        # One list per scope, so each watch resumes from its own list's version.
        for namespace in self.api.scopes:
            items, version = await self.api.list_namespace(namespace)
            versions[namespace] = version
            for app in items:
                if self._selected(app):
                    fresh[app_key(app)] = app
        self.index = fresh
        self._update_gauges()
        self.synced.set()
        return versions

    async def _watch_namespace(self, namespace: str | None, version: str | None) -> None:
        backoff = 1.0
        while True:
            try:
                async for event in self.api.watch(namespace, version):
                    backoff = 1.0
                    version = event.object.get("metadata", {}).get("resourceVersion", version)
                    if event.type == "BOOKMARK":
                        continue
                    if event.type == "DELETED":
                        self.index.pop(app_key(event.object), None)  # type: ignore[arg-type]
                        continue
                    self._store(event.object)  # type: ignore[arg-type]
                    self._update_gauges()
            except KubeGone:
                log.info("watch of %s expired (410); relisting", namespace or "all namespaces")
                version = await self._relist_namespace(namespace)
                continue
            except ImageUpdaterError as exc:
                log.warning(
                    "watch of %s failed, retrying in %.0fs: %s",
                    namespace or "all namespaces",
                    backoff,
                    exc,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)

    async def _relist_namespace(self, namespace: str | None) -> str | None:
        while True:
            try:
                items, version = await self.api.list_namespace(namespace)
                break
            except ImageUpdaterError as exc:
                log.warning("relist failed, retrying: %s", exc)
                await asyncio.sleep(2)
        seen = set()
        for app in items:
            if self._selected(app):
                self._store(app)
                seen.add(app_key(app))
        for key in [k for k in self.index if namespace is None or k.startswith(namespace + "/")]:
            if key not in seen:
                self.index.pop(key, None)
        self._update_gauges()
        return version

    async def run_once(
        self, trigger: str = "resync", keys: Sequence[str] | None = None
    ) -> CycleResult:
        apps = (
            list(self.index.values())
            if keys is None
            else [self.index[k] for k in keys if k in self.index]
        )
        result = await self.cycle.run(apps, trigger=trigger)
        self.cycles.append(result)
        del self.cycles[:-20]
        if result.retry_at is not None:
            self._retry_at = result.retry_at
        return result

    def _seconds_until_retry(self) -> float | None:
        if self._retry_at is None:
            return None
        return max(0.0, (self._retry_at - self.cycle.clock()).total_seconds())

    async def run(self) -> None:
        """Run until cancelled (or once, when ``interval`` is 0)."""
        versions = await self.relist()
        if self.settings.interval <= 0:
            if self.is_leader():
                await self.run_once("once")
            return
        watchers: list[asyncio.Task[None]] = []
        if self.api.watchable:
            for namespace, version in versions.items():
                watchers.append(asyncio.create_task(self._watch_namespace(namespace, version)))
        try:
            await self._loop()
        finally:
            for task in watchers:
                task.cancel()
            for task in watchers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_resync = loop.time()
        self._dirty.clear()
        while True:
            now = loop.time()
            if now >= next_resync:
                if not self.api.watchable:
                    with contextlib.suppress(ImageUpdaterError):
                        await self.relist()
                if self.is_leader():
                    self._dirty.clear()
                    self._retry_at = None
                    await self.run_once("resync")
                next_resync = loop.time() + self.settings.interval
                continue
            retry = self._seconds_until_retry()
            if retry is not None and retry <= 0 and self.is_leader():
                self._retry_at = None
                await self.run_once("sync-window")
                continue
            if self._dirty and self.is_leader():
                await asyncio.sleep(self.settings.debounce)
                keys, self._dirty = sorted(self._dirty), set()
                await self.run_once("change", keys)
                continue
            timeout = next_resync - now
            if retry is not None:
                timeout = min(timeout, retry)
            self._wake.clear()
            waits = [asyncio.ensure_future(self._wake.wait())]
            if self.leader_changed is not None:
                waits.append(asyncio.ensure_future(self.leader_changed.wait()))
            _, pending = await asyncio.wait(
                waits, timeout=max(timeout, 0.01), return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            if self.leader_changed is not None and self.leader_changed.is_set():
                self.leader_changed.clear()
                if self.is_leader():
                    next_resync = loop.time()
