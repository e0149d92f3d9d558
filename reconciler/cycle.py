"""One reconcile cycle over a set of Applications (upstream behaviour §3.2, §8–§10).

1. Parse each Application's annotations (invalid ones become a Warning Event and a metric,
   never an exception), pick the source to write and the live images.
2. Resolve every distinct (image policy, current version) **once** for all Applications —
   the registry client's caches then make that one tag list per repository.
3. Plan the overrides per Application and write back with one JSON merge patch carrying
   ``metadata.resourceVersion``; on 409 re-read and re-plan (bounded), on a sync window
   that forbids syncing, defer and say when it may be retried.

Nothing is written when nothing changes, a version is never lowered, and an image whose
registry failed is reported while the rest of the Application proceeds.
"""

from __future__ import annotations

__all__ = ["Cycle", "CycleResult", "CycleSettings"]

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence

from imageupdater import annotations as annotation_parser
from imageupdater import syncwindows
from imageupdater.application import (
    Application,
    app_key,
    live_images,
    select_source,
)
from imageupdater.errors import (
    ImageUpdaterError,
    KubeConflict,
    KubeError,
    KubeNotFound,
    RateLimited,
    RegistryError,
    RegistryUnavailable,
)
from imageupdater.plan import ChosenImage, current_override, merge_patch, plan_overrides
from imageupdater.policy import ImagePolicy
from imageupdater.resolver import Resolution
from imageupdater.strategies import Strategy
from reconciler.apps_api import ApplicationsAPI
from reconciler.backoff import RepositoryBackoff
from reconciler.events import EventRecorder
from reconciler.metrics import ReconcilerMetrics
from reconciler.work import (
    AppWork,
    CycleResult,
    CycleSettings,
    Job,
    ResolutionKey,
    live_entry,
    managed_annotations,
    resolution_key,
    runs,
)

log = logging.getLogger("image_updater.reconciler")

_Windows = tuple[syncwindows.SyncWindow, ...] | str
_ProjectCache = dict[tuple[str, str], "asyncio.Future[_Windows]"]
ResolveFn = Callable[[ImagePolicy, str | None], Awaitable[Resolution]]
CONFLICT_RETRIES = 3


class Cycle:
    """Runs cycles; owns nothing long-lived but the per-cycle resolution table."""

    def __init__(
        self,
        *,
        api: ApplicationsAPI,
        resolve: ResolveFn,
        metrics: ReconcilerMetrics,
        events: EventRecorder,
        settings: CycleSettings,
        is_leader: Callable[[], bool] = lambda: True,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        backoff: RepositoryBackoff | None = None,
        scope: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        # ``scope`` wraps each cycle (ResolverService.cycle: read each repository once per
        # cycle, however long the cycle takes).
        self.scope = scope
        self.api = api
        # Lives across cycles: that is what lets a repository that keeps failing back off.
        self.backoff = backoff or RepositoryBackoff()
        self.resolve = resolve
        self.metrics = metrics
        self.events = events
        self.settings = settings
        self.is_leader = is_leader
        self.clock = clock

    async def run(self, apps: Sequence[Application], *, trigger: str = "resync") -> CycleResult:
        result = CycleResult()
        started = asyncio.get_running_loop().time()
        work: list[AppWork] = []
        for app in apps:
            prepared = await self._prepare(app, result)
            if prepared is not None:
                work.append(prepared)
        with self.scope():
            resolutions = await self._resolve_all(work)
        projects: _ProjectCache = {}
        limit = asyncio.Semaphore(self.settings.max_concurrency)

        async def one(item: AppWork) -> None:
            async with limit:
                await self._write(item, resolutions, projects, result)

        await asyncio.gather(*(one(item) for item in work))
        elapsed = asyncio.get_running_loop().time() - started
        self.metrics.cycle_duration.labels(trigger).observe(elapsed)
        log.info("%s (%s, %.2fs)", result.summary(), trigger, elapsed)
        return result

    # -- 1. parse and select -------------------------------------------------------------------

    async def _prepare(self, app: Application, result: CycleResult) -> AppWork | None:
        annotations = managed_annotations(app)
        if not annotations:
            return None
        key = app_key(app)
        namespace = app.get("metadata", {}).get("namespace")
        scope = None if self.settings.allow_cross_namespace_secrets else namespace
        parsed = annotation_parser.parse(annotations, namespace=scope)
        if parsed.config is None:
            result.errors += 1
            self.metrics.invalid_configs.labels(key).inc()
            message = "; ".join(str(p) for p in parsed.errors)
            log.warning("skipping %s: invalid image-updater annotations: %s", key, message)
            await self.events.record(
                app, "Warning", "InvalidConfiguration", message or "invalid annotations", once=True
            )
            return None
        self.events.forget(key, "InvalidConfiguration")
        config = parsed.config
        if config.write_back.method != "argocd":
            log.info("skipping %s: write-back-method git is not supported yet", key)
            result.images_skipped += len(config.images)
            return None
        source = select_source(app, config.write_back)
        if source is None:
            log.warning("skipping app '%s' because it's not of supported source type", key)
            result.images_skipped += len(config.images)
            return None
        result.applications += 1
        live = live_images(app)
        current_source = source.get(app)
        jobs: list[Job] = []
        for policy in config.images:
            entry = live_entry(policy, live)
            if entry is None and not policy.force_update:
                log.debug(
                    "Image '%s' seems not to be live in this application, skipping",
                    policy.image.full_name,
                    extra={"application": key},
                )
                result.images_skipped += 1
                continue
            result.images_considered += 1
            override = current_override(current_source, source.kind, policy)
            if override:
                version: str | None = override
            elif entry is not None and entry.tag:
                version = f"{entry.tag}@{entry.digest}" if entry.digest else entry.tag
            else:
                version = None
            current = version.split("@", 1)[0] if version else None
            jobs.append(Job(policy, resolution_key(policy, current), current or None, version))
        self.metrics.images_watched.labels(key).set(len(jobs))
        return AppWork(app, config, source, jobs) if jobs else None

    # -- 2. resolve each distinct key once -----------------------------------------------------

    async def _resolve_all(
        self, work: Sequence[AppWork]
    ) -> dict[ResolutionKey, Resolution | ImageUpdaterError]:
        unique: dict[ResolutionKey, Job] = {}
        for item in work:
            for job in item.jobs:
                unique.setdefault(job.key, job)
        limit = asyncio.Semaphore(max(self.settings.max_concurrency, 1) * 5)

        async def one(job: Job) -> Resolution | ImageUpdaterError:
            repository = job.policy.image.identity()
            waiting = self.backoff.remaining(repository)
            if waiting > 0:
                failures = self.backoff.failures(repository)
                return RegistryUnavailable(
                    f"skipped: {'/'.join(repository)} failed {failures} times in a row, "
                    f"next attempt in {waiting:.0f}s"
                )
            async with limit:
                try:
                    outcome = await self.resolve(job.policy, job.current)
                except ImageUpdaterError as exc:
                    if isinstance(exc, RegistryError):
                        after = exc.retry_after if isinstance(exc, RateLimited) else 0.0
                        self.backoff.failed(repository, retry_after=after)
                    return exc
                self.backoff.succeeded(repository)
                return outcome

        keys = list(unique)
        outcomes = await asyncio.gather(*(one(unique[key]) for key in keys))
        return dict(zip(keys, outcomes, strict=True))

    # -- 3. plan and write ---------------------------------------------------------------------

    def _chosen(
        self,
        item: AppWork,
        resolutions: dict[ResolutionKey, Resolution | ImageUpdaterError],
        failures: list[str],
    ) -> list[ChosenImage]:
        """The chosen version of every image, or [] when every image already runs its choice.

        Like upstream, once one image needs an update all managed images are (re)set, so the
        overrides always name every image; when none does, nothing is written at all.
        """
        chosen = []
        outdated = False
        for job in item.jobs:
            outcome = resolutions.get(job.key)
            if isinstance(outcome, ImageUpdaterError):
                failures.append(f"{job.policy.image.full_name}: {outcome}")
                continue
            if outcome is None or outcome.tag is None:
                continue
            # Only the digest strategy follows digests (upstream keeps a tag's digest for it
            # alone); a newest-build choice with one would make a tag-only live image look
            # outdated and write ``tag@digest``.
            digest = outcome.digest if job.policy.strategy is Strategy.DIGEST else None
            choice = ChosenImage(job.policy, outcome.tag, digest)
            outdated = outdated or not runs(job.version, choice)
            chosen.append(choice)
        return chosen if outdated else []

    async def _windows(self, app: Application, cache: _ProjectCache) -> _Windows:
        """The AppProject's sync windows, or the reason they cannot be read (then nothing is
        written: a freeze the user meant to have must not be skipped over a typo). One read
        per AppProject per cycle, however many writers ask at once."""
        namespace = app.get("metadata", {}).get("namespace", "")
        project = app.get("spec", {}).get("project") or "default"
        key = (namespace, project)
        if key not in cache:
            cache[key] = asyncio.ensure_future(self._read_windows(namespace, project))
        return await cache[key]

    async def _read_windows(self, namespace: str, project: str) -> _Windows:
        try:
            raw = await self.api.get_project(namespace, project)
            return syncwindows.parse_windows(raw) if raw else ()
        except ImageUpdaterError as exc:
            return f"the sync windows of AppProject {project!r} cannot be read: {exc}"

    async def _write(
        self,
        item: AppWork,
        resolutions: dict[ResolutionKey, Resolution | ImageUpdaterError],
        projects: _ProjectCache,
        result: CycleResult,
    ) -> None:
        key = app_key(item.app)
        failures: list[str] = []
        chosen = self._chosen(item, resolutions, failures)
        if failures:
            result.errors += len(failures)
            self.metrics.images_errors.labels(key).inc(len(failures))
            await self.events.record(
                item.app, "Warning", "ImageUpdateFailed", "; ".join(failures), once=True
            )
        else:
            self.events.forget(key, "ImageUpdateFailed")
        app = item.app
        for attempt in range(CONFLICT_RETRIES + 1):
            plan = plan_overrides(app, item.source, chosen)
            if not plan.changed:
                return
            windows = await self._windows(app, projects)
            if isinstance(windows, str):
                result.errors += 1
                log.warning("not updating %s: %s", key, windows)
                await self.events.record(app, "Warning", "ImageUpdateFailed", windows, once=True)
                return
            decision = syncwindows.can_update(windows, app, self.clock())
            if not decision.allowed:
                result.deferred += 1
                result.deferred_apps.add(key)
                result.defer_until(decision.retry_at)
                self.metrics.deferred.labels(key).inc()
                log.info("update of %s deferred: %s", key, decision.reason)
                await self.events.record(
                    app,
                    "Normal",
                    "UpdateDeferred",
                    f"image update waits: {decision.reason}",
                    once=True,
                )
                return
            self.events.forget(key, "UpdateDeferred")
            if self.settings.dry_run:
                self.metrics.patches.labels("dry_run").inc()
                for change in plan.changes:
                    log.info("dry run: would set %s to %s in %s", change.image, change.new, key)
                return
            if not self.is_leader():
                log.warning("not the leader any more; not writing %s", key)
                return
            meta = app.get("metadata", {})
            try:
                await self.api.patch(
                    meta.get("namespace", ""), meta.get("name", ""), merge_patch(app, plan)
                )
            except KubeConflict:
                result.conflicts += 1
                self.metrics.patches.labels("conflict").inc()
                if attempt == CONFLICT_RETRIES:
                    break
                try:
                    app = await self.api.get(meta.get("namespace", ""), meta.get("name", ""))
                except KubeNotFound:
                    return
                except KubeError as exc:
                    result.errors += 1
                    log.warning("cannot re-read %s after a conflict: %s", key, exc)
                    return
                refreshed = await self._prepare(app, CycleResult())
                if refreshed is None:
                    return
                item = refreshed
                missing = [j for j in item.jobs if j.key not in resolutions]
                if missing:
                    resolutions.update(
                        await self._resolve_all([AppWork(app, item.config, item.source, missing)])
                    )
                chosen = self._chosen(item, resolutions, [])
                continue
            except KubeError as exc:
                result.errors += 1
                self.metrics.patches.labels("error").inc()
                self.metrics.images_errors.labels(key).inc()
                log.warning("patching %s failed: %s", key, exc)
                return
            result.patches += 1
            result.images_updated += len(plan.changes)
            self.metrics.patches.labels("ok").inc()
            self.metrics.images_updated.labels(key).inc(len(plan.changes))
            for change in plan.changes:
                log.info(
                    "Successfully updated image '%s' to '%s'",
                    change.image,
                    change.new,
                    extra={"application": key, "old_tag": change.old or ""},
                )
            await self.events.images_updated(app, plan.changes)
            return
        result.errors += 1
        log.warning("giving up on %s after %d conflicting writes", key, CONFLICT_RETRIES + 1)
