"""What AppProject sync windows say about injecting an override at admission time.

The reconciler holds an update while a window forbids syncing (``writeback.decide``); the
webhook must not inject the same override behind its back at ``kubectl apply``. Both ask
``syncwindows.can_update`` of the same windows. AppProjects are read through the API and
remembered for a few seconds, so a burst of applies costs one read per project.
"""

from __future__ import annotations

__all__ = ["ProjectReader", "SyncWindowGate"]

import datetime as dt
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from imageupdater import syncwindows
from imageupdater.application import Application
from imageupdater.errors import ImageUpdaterError

# (namespace, name) -> the AppProject object, or None when it does not exist.
ProjectReader = Callable[[str, str], Awaitable[Mapping[str, Any] | None]]
_TTL = 5.0


class SyncWindowGate:
    """``project_namespace``: where AppProjects live (Argo CD's namespace); None means the
    Application's own, as the reconciler reads them."""

    def __init__(
        self,
        read: ProjectReader,
        *,
        project_namespace: str | None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self.project_namespace = project_namespace
        self._clock = clock
        self._monotonic = monotonic
        self._cache: dict[
            tuple[str, str], tuple[float, tuple[syncwindows.SyncWindow, ...] | str]
        ] = {}

    async def _windows(self, namespace: str, name: str) -> tuple[syncwindows.SyncWindow, ...] | str:
        key = (namespace, name)
        found = self._cache.get(key)
        if found is not None and self._monotonic() - found[0] < _TTL:
            return found[1]
        try:
            project = await self._read(namespace, name)
            value: tuple[syncwindows.SyncWindow, ...] | str = (
                syncwindows.parse_windows(project) if project else ()
            )
        except ImageUpdaterError as exc:
            value = f"the sync windows of AppProject {name!r} cannot be read: {exc}"
        self._cache[key] = (self._monotonic(), value)
        if len(self._cache) > 1024:
            self._cache.pop(next(iter(self._cache)))
        return value

    async def holds(self, app: Application) -> str | None:
        """Why the override must wait, for the warning; None when it may be set now."""
        meta = app.get("metadata", {})
        spec = app.get("spec", {})
        project = spec.get("project") if isinstance(spec.get("project"), str) else "default"
        namespace = self.project_namespace or str(meta.get("namespace", ""))
        windows = await self._windows(namespace, project or "default")
        if isinstance(windows, str):
            return (
                f"image-updater: {windows}; admitted without image overrides, the reconciler "
                "decides once they can be read"
            )
        verdict = syncwindows.can_update(windows, app, self._clock())
        if verdict.allowed:
            return None
        return (
            f"image-updater: image overrides not set now: {verdict.reason}; the reconciler "
            "sets them when the sync window allows"
        )
