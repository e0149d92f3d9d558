"""The control loop: keep an index of Applications current and run cycles when needed.

* A full resync over every indexed Application each ``interval`` (``0`` = run once).
* Watches per namespace keep the index current; an Application whose image-updater
  annotations or spec changed is queued and processed within ``debounce`` seconds, not an
  interval later. Watches resume from the last ``resourceVersion`` and relist on 410 Gone.
* Updates deferred by a sync window are retried when the window may allow them.
* Without a watchable API (Argo CD's REST API) the index is refreshed by relisting.
* A watch that fails is started over with back-off, after a fresh list (which also tells at
  once that the API server answers again); every restart is counted by reason.
* Readiness (``ready``): the first list is indexed, and the API server has not been lost —
  list or watch failing, with no answer since — for longer than ``api_unready_after``. It
  turns ready again by itself with the next answer.
* After each completed cycle the time is recorded
  (``image_updater_last_successful_cycle_timestamp_seconds``).
* Targeted cycles (``run_for``: registry push events) run just the Applications named,
  through the same ``Cycle``, between the other cycles; requests waiting together share one.
  With ``resync`` off (the standalone ``webhook`` command) they are the only cycles.
Only the leader runs cycles; every replica keeps its index warm to take over at once.
"""

from __future__ import annotations

__all__ = ["Controller", "ControllerSettings"]

import asyncio
import contextlib
import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from imageupdater import review
from imageupdater.annotations import PREFIX
from imageupdater.application import Application, app_key
from imageupdater.errors import ImageUpdaterError, KubeGone
from imageupdater.tags import Glob
from imageupdater.updatepolicy.rollback import LAST_WRITTEN_ANNOTATION
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
    # Seconds the API server may fail every list and watch before /readyz says not ready:
    # long enough to ride out an API server restart, short enough that an endpoint which
    # cannot see changes is taken out of rotation (and alerted on).
    api_unready_after: float = 60.0
    # False: no periodic resync and no cycles for watched changes — only the targeted
    # cycles ``run_for`` asks for (upstream's standalone ``webhook`` command polls nothing).
    resync: bool = True


def _interesting(app: Application) -> tuple[Any, ...]:
    """What a change must touch to need processing: our annotations, the spec, the live
    images, and the labels (an ImageUpdater's labelSelectors select by them); and, while an
    update is under a health watch (``reconciler.rollbacks``), its health, sync status and
    last operation, so a degradation is answered within ``debounce``, not a resync later."""
    annotations = review.our_annotations(app)
    status: Any = app.get("status") or {}
    images = (status.get("summary") or {}).get("images")
    labels = repr(app.get("metadata", {}).get("labels"))
    watched: tuple[str, ...] = ()
    if _watching(app):
        operation = status.get("operationState") or {}
        watched = (
            repr(status.get("health")),
            repr((status.get("sync") or {}).get("status")),
            repr(operation.get("phase") if isinstance(operation, Mapping) else None),
        )
    return (sorted(annotations.items()), repr(app.get("spec")), repr(images), labels, watched)


def _watching(app: Application) -> bool:
    """Whether the record of the last write names an update under a health watch (a text
    search: this runs for every watch event, the record is parsed only when it matters)."""
    metadata: Any = app.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    record = annotations.get(LAST_WRITTEN_ANNOTATION) if isinstance(annotations, Mapping) else None
    return isinstance(record, str) and '"state":"watching"' in record


def _lists_images(app: Application) -> bool:
    """Whether ``review.our_annotations(app)`` has ``image-list`` (without building it: this
    runs over the whole index on every list and watch event)."""
    metadata: Any = app.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    return isinstance(annotations, Mapping) and isinstance(annotations.get(_IMAGE_LIST), str)


_IMAGE_LIST = PREFIX + "image-list"


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
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
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
        # A rollout's first wave is chosen among every Application known, not only those a
        # cycle runs (a push cycle names a few; a shard holds a part).
        cycle.waves.population = lambda: self.index.values()
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self.synced = asyncio.Event()
        self.cycles: list[CycleResult] = []
        self._retry_at: dt.datetime | None = None
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        # Per scope (namespace, None = all): since when its lists and watches have failed
        # without an answer in between, and the last error.
        self._api_failing: dict[str | None, tuple[float, str]] = {}
        # Targeted cycles asked for and not run yet: (trigger, keys, who waits for it).
        self._requests: list[tuple[str, frozenset[str], asyncio.Future[CycleResult | None]]] = []

    # -- readiness ---------------------------------------------------------------------------

    def _api_answered(self, namespace: str | None) -> None:
        if self._api_failing.pop(namespace, None) is not None:
            log.info("the API server answers again for %s", namespace or "all namespaces")

    def _api_failed(self, namespace: str | None, exc: Exception) -> None:
        since = self._api_failing.get(namespace, (self._monotonic(), ""))[0]
        self._api_failing[namespace] = (since, str(exc))

    def ready(self) -> bool | str:
        """True when ready; otherwise why not, in a sentence (what ``/readyz`` answers)."""
        if not self.synced.is_set():
            return "Applications not listed yet"
        grace = self.settings.api_unready_after
        now = self._monotonic()
        for namespace, (since, error) in sorted(
            self._api_failing.items(), key=lambda item: item[1][0]
        ):
            if now - since >= grace:
                return (
                    f"the API server has not answered lists or watches of Applications in "
                    f"{namespace or 'all namespaces'} for {now - since:.0f}s (allowed: "
                    f"{grace:g}s): {error}"
                )
        return True

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
        if previous is not None and self.api.own_write(app):
            # Our own patch coming back through the watch: the cycle that wrote it already
            # decided everything in it; processing it again would only re-resolve.
            return
        if previous is None or _interesting(previous) != _interesting(app):
            self._dirty.add(key)
            self._wake.set()

    def _own_echo(self, key: str) -> bool:
        app = self.index.get(key)
        return app is not None and self.api.own_write(app)

    def _update_gauges(self) -> None:
        # Annotation mode's count, under empty resource labels; each ImageUpdater's own is
        # counted by reconciler.imageupdaters.
        configs = self.cycle.configs
        managed = sum(
            1
            for app in self.index.values()
            if _lists_images(app) and (configs is None or configs.owner(app) is None)
        )
        self.metrics.applications_watched.labels("", "").set(managed)

    async def relist(self) -> dict[str | None, str | None]:
        """Replace the index with a fresh list; returns each namespace's resourceVersion."""
        versions: dict[str | None, str | None] = {}
        fresh: dict[str, Application] = {}
        # One list per scope, so each watch resumes from its own list's version.
        for namespace in self.api.scopes:
            try:
                items, version = await self.api.list_namespace(namespace)
            except ImageUpdaterError as exc:
                self._api_failed(namespace, exc)
                raise
            self._api_answered(namespace)
            versions[namespace] = version
            for app in items:
                if self._selected(app):
                    fresh[app_key(app)] = app
        self.index = fresh
        self._update_gauges()
        self.synced.set()
        return versions

    async def _watch_namespace(self, namespace: str | None, version: str | None) -> None:
        scope = namespace or "all namespaces"
        backoff = 1.0
        relist = False
        while True:
            try:
                if relist:
                    version = await self._relist_namespace(namespace)
                    relist = False
                    backoff = 1.0
                async for event in self.api.watch(namespace, version):
                    self._api_answered(namespace)
                    backoff = 1.0
                    version = event.object.get("metadata", {}).get("resourceVersion", version)
                    if event.type == "BOOKMARK":
                        continue
                    if event.type == "DELETED":
                        self.index.pop(app_key(event.object), None)  # type: ignore[arg-type]
                        continue
                    self._store(event.object)  # type: ignore[arg-type]
                    self._update_gauges()
                # The server ended the watch (its timeout): it is there; resume.
                self._api_answered(namespace)
            except KubeGone:
                self._api_answered(namespace)
                self.metrics.watch_restarts.labels("expired").inc()
                log.info("watch of %s expired (410); relisting", scope)
                relist = True
            except ImageUpdaterError as exc:
                self._api_failed(namespace, exc)
                self.metrics.watch_restarts.labels("error").inc()
                what = "relist" if relist else "watch"
                log.warning(
                    "%s of %s failed, relisting and watching again in %.0fs: %s",
                    what,
                    scope,
                    backoff,
                    exc,
                )
                # Whatever the watch missed meanwhile, a fresh list has: and its answer is
                # the first sign that the API server is back.
                relist = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)

    async def _relist_namespace(self, namespace: str | None) -> str | None:
        try:
            items, version = await self.api.list_namespace(namespace)
        except ImageUpdaterError as exc:
            self._api_failed(namespace, exc)
            raise
        self._api_answered(namespace)
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
        # "Successful" is "completed": one Application's failure (a registry down, a typo in
        # its annotations) must not look like a stalled reconciler; those are counted in
        # argocd_image_updater_images_errors_total.
        self.metrics.last_successful_cycle.set(self._wall_clock())
        self.cycles.append(result)
        del self.cycles[:-20]
        if result.retry_at is not None:
            self._retry_at = result.retry_at
        return result

    def run_for(
        self, keys: Iterable[str], trigger: str = "push"
    ) -> asyncio.Future[CycleResult | None]:
        """Ask for one cycle over just the Applications ``keys`` names (``namespace/name``
        keys of the index), run by the control loop through the same ``Cycle`` as every
        other cycle, so a targeted update decides exactly as a resync would. Requests
        waiting together are served by one cycle. The future resolves with its result, or
        with None when this replica is not the leader (nothing ran)."""
        future: asyncio.Future[CycleResult | None] = asyncio.get_running_loop().create_future()
        self._requests.append((trigger, frozenset(keys), future))
        self._wake.set()
        return future

    async def _serve_requests(self) -> None:
        requests, self._requests = self._requests, []
        if not self.is_leader():
            for _, _, future in requests:
                if not future.done():
                    future.set_result(None)
            return
        keys = sorted(set().union(*(wanted for _, wanted, _ in requests)))
        try:
            result = await self.run_once(requests[0][0], keys)
        except BaseException as exc:
            for _, _, future in requests:
                if not future.done():
                    if isinstance(exc, asyncio.CancelledError):
                        future.cancel()
                    else:
                        future.set_exception(exc)
            raise
        for _, _, future in requests:
            if not future.done():
                future.set_result(result)

    def _cancel_requests(self) -> None:
        requests, self._requests = self._requests, []
        for _, _, future in requests:
            future.cancel()

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
            self._cancel_requests()
            for task in watchers:
                task.cancel()
            for task in watchers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        resync = self.settings.resync
        next_resync = loop.time() if resync else math.inf
        self._dirty.clear()
        change_due: float | None = None  # when the watched changes collected so far run
        if self.leader_changed is not None:
            # Leadership won before the loop starts is what the first resync below serves;
            # answering that change again would run every Application twice at start.
            self.leader_changed.clear()
        while True:
            now = loop.time()
            if now >= next_resync:
                if not self.api.watchable:
                    # A failed relist is recorded for readiness; the stale index serves.
                    with contextlib.suppress(ImageUpdaterError):
                        await self.relist()
                if self.is_leader():
                    self._dirty.clear()
                    change_due = None
                    self._retry_at = None
                    await self.run_once("resync")
                next_resync = loop.time() + self.settings.interval
                continue
            if self._requests:
                await self._serve_requests()
                continue
            retry = self._seconds_until_retry()
            if retry is not None and retry <= 0 and self.is_leader():
                self._retry_at = None
                await self.run_once("sync-window")
                continue
            if not resync:
                self._dirty.clear()  # watched changes wait for a push (no polling)
            if self._dirty and self.is_leader():
                # Watched changes wait out the debounce from the first of them, but without
                # sleeping through it: a push asked for meanwhile is served at once.
                change_due = now + self.settings.debounce if change_due is None else change_due
                if now >= change_due:
                    change_due = None
                    keys, self._dirty = sorted(self._dirty), set()
                    # A watch event can outrun the answer to the patch that caused it; by
                    # now that answer is in, and such an echo needs no cycle.
                    keys = [key for key in keys if not self._own_echo(key)]
                    if keys:
                        await self.run_once("change", keys)
                    continue
            else:
                change_due = None
            timeout = next_resync - now
            if change_due is not None:
                timeout = min(timeout, change_due - now)
            if retry is not None:
                timeout = min(timeout, retry)
            timeout = min(timeout, 3600.0)  # math.inf without resync
            self._wake.clear()
            waits = [asyncio.ensure_future(self._wake.wait())]
            if self.leader_changed is not None:
                waits.append(asyncio.ensure_future(self.leader_changed.wait()))
            try:
                await asyncio.wait(
                    waits, timeout=max(timeout, 0.01), return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                # Also when the loop itself is cancelled: leave no waiter behind.
                for task in waits:
                    task.cancel()
            if self.leader_changed is not None and self.leader_changed.is_set():
                self.leader_changed.clear()
                if self.is_leader() and resync:
                    next_resync = loop.time()
