"""One reconcile cycle over a set of Applications (upstream behaviour §3.2, §8–§10).

1. Parse each Application's annotations (invalid ones become a Warning Event and a metric,
   never an exception), pick the source to write and the live images.
2. Resolve every distinct (image policy, current version) **once** for all Applications —
   the registry client's caches then make that one tag list per repository. Each distinct
   resolution is a task of its own, started as soon as an Application names it and bounded
   by ``CycleSettings.resolve_deadline``; registries get their own concurrency slots.
3. As soon as its own resolutions are done, an Application is planned and written back with
   one JSON merge patch carrying ``metadata.resourceVersion`` (at most ``max_concurrency``
   writes at a time); on 409 re-read and re-plan (bounded), on a sync window that forbids
   syncing, defer and say when it may be retried. So a registry that hangs holds back only
   the Applications that use it, and those only until the deadline.

Nothing is written when nothing changes, a version is never lowered, and an image whose
registry failed is reported (a WARNING log line and an Event) while the rest of the
Application proceeds. Event messages never carry counters or countdowns — the recorder
aggregates repeats, which needs stable text; back-off detail goes to the log.
"""

from __future__ import annotations

__all__ = ["Cycle", "CycleResult", "CycleSettings"]

import asyncio
import contextlib
import datetime as dt
import logging
import math
from collections.abc import (
    Awaitable,
    Callable,
    Collection,
    Coroutine,
    Hashable,
    Iterable,
    Sequence,
)
from dataclasses import dataclass, field
from typing import Any

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
Outcome = Resolution | ImageUpdaterError
ResolveFn = Callable[[ImagePolicy, str | None], Awaitable[Resolution]]
CONFLICT_RETRIES = 3


def _failure_text(job: Job, exc: ImageUpdaterError) -> str:
    """How one failed image reads in its Application's ``ImageUpdateFailed`` Event.

    The one place that decides what a tenant sees of a registry error (the log keeps the
    full text).
    """
    return f"{job.policy.image.full_name}: {exc.public_message}"


class _Resolutions:
    """This cycle's lookups: one task per distinct key, started when an Application first
    names it and awaited only by the Applications that need it."""

    def __init__(self, lookup: Callable[[Job], Coroutine[Any, Any, Outcome]]) -> None:
        self._lookup = lookup
        self._tasks: dict[ResolutionKey, asyncio.Task[Outcome]] = {}

    def start(self, jobs: Iterable[Job]) -> None:
        for job in jobs:
            if job.key not in self._tasks:
                self._tasks[job.key] = asyncio.create_task(self._lookup(job))

    async def outcomes(self, jobs: Collection[Job]) -> dict[ResolutionKey, Outcome]:
        self.start(jobs)
        tasks = {self._tasks[job.key] for job in jobs}
        if tasks:
            # ``wait``, not ``gather``: a waiter being cancelled must not cancel a lookup
            # other Applications share.
            await asyncio.wait(tasks)
        return {job.key: self._tasks[job.key].result() for job in jobs}

    @property
    def tasks(self) -> list[asyncio.Task[Outcome]]:
        return list(self._tasks.values())


@dataclass(slots=True)
class _Registries:
    """Per registry host within one cycle: its lookup slots, and whether it went silent."""

    slots_per_registry: int
    slots: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    # A host on which a lookup ran past the deadline with no other lookup answered in the
    # meantime: lookups still queued for it fail at once instead of each waiting out a
    # deadline of its own. A host that is slow for one repository but answers the others
    # is not silent.
    silent: dict[str, RegistryUnavailable] = field(default_factory=dict)
    answered: dict[str, float] = field(default_factory=dict)  # loop time of the last answer

    def slot(self, host: str) -> asyncio.Semaphore:
        if host not in self.slots:
            self.slots[host] = asyncio.Semaphore(self.slots_per_registry)
        return self.slots[host]


@dataclass(slots=True)
class _Report:
    """What one Application's Events say at the end of its write."""

    problems: list[str] = field(default_factory=list)
    deferred: str | None = None


class Cycle:
    """Runs cycles; owns nothing long-lived but repository back-off and last failures."""

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
        # The error a backing-off repository last gave: reported again while it rests, so
        # its Event keeps one message (and aggregates) instead of alternating with a
        # "skipped" text.
        self._last_failure: dict[Hashable, RegistryError] = {}
        self.resolve = resolve
        self.metrics = metrics
        self.events = events
        self.settings = settings
        self.is_leader = is_leader
        self.clock = clock

    async def run(self, apps: Sequence[Application], *, trigger: str = "resync") -> CycleResult:
        result = CycleResult()
        loop = asyncio.get_running_loop()
        started = loop.time()
        registries = _Registries(max(self.settings.max_concurrency, 1) * 5)
        table = _Resolutions(lambda job: self._lookup(job, registries))
        projects: _ProjectCache = {}
        limit = asyncio.Semaphore(self.settings.max_concurrency)

        async def one(item: AppWork) -> None:
            outcomes = await table.outcomes(item.jobs)
            async with limit:
                await self._write(item, outcomes, table, projects, result)

        writers: list[asyncio.Task[None]] = []
        with self.scope():
            try:
                for app in apps:
                    prepared = await self._prepare(app, result)
                    if prepared is not None:
                        table.start(prepared.jobs)
                        writers.append(asyncio.create_task(one(prepared)))
                await asyncio.gather(*writers)
            finally:
                # Only reached with work still running when the cycle failed or was
                # cancelled: leave no lookup or write behind it.
                pending = [t for t in [*writers, *table.tasks] if not t.done()]
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        elapsed = loop.time() - started
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
        rules = self.settings.credentials
        parsed = annotation_parser.parse(
            annotations,
            namespace=rules.secret_scope(namespace),
            operator_credentials=rules.allows_operator_kinds(namespace),
        )
        if parsed.config is None:
            result.errors += 1
            self.metrics.invalid_configs.labels(key).inc()
            message = "; ".join(str(p) for p in parsed.errors)
            log.warning("skipping %s: invalid image-updater annotations: %s", key, message)
            await self.events.record(
                app, "Warning", "InvalidConfiguration", message or "invalid annotations"
            )
            return None
        await self.events.forget(key, "InvalidConfiguration")
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

    async def _lookup(self, job: Job, registries: _Registries) -> Outcome:
        repository = job.policy.image.identity()
        host = repository[0]
        waiting = self.backoff.remaining(repository)
        if waiting > 0:
            log.info(
                "not asking registry %s for %s: it failed %d times in a row, next attempt in %.0fs",
                host,
                repository[1],
                self.backoff.failures(repository),
                waiting,
            )
            last = self._last_failure.get(repository)
            return last or RegistryUnavailable(
                f"registry {host} keeps failing; it is asked again after a pause", registry=host
            )
        deadline = self.settings.resolve_deadline
        async with registries.slot(host):
            silent = registries.silent.get(host)
            if silent is not None:
                self._failed(repository, silent)
                return silent
            loop = asyncio.get_running_loop()
            begun = loop.time()
            timer = asyncio.timeout(deadline if deadline > 0 else None)
            try:
                async with timer:
                    outcome = await self.resolve(job.policy, job.current)
            except TimeoutError:
                if not timer.expired():
                    raise
                exc = RegistryUnavailable(
                    f"registry {host} did not answer within {deadline:g}s", registry=host
                )
                answered = registries.answered.get(host, -math.inf)
                if host not in registries.silent and answered < begun:
                    log.warning(
                        "registry %s did not answer for %s within %gs; its lookups still "
                        "queued in this cycle fail at once",
                        host,
                        repository[1],
                        deadline,
                    )
                    registries.silent[host] = exc
                self._failed(repository, exc)
                return exc
            except ImageUpdaterError as exc:
                if isinstance(exc, RegistryError):
                    self._failed(repository, exc)
                return exc
        registries.answered[host] = loop.time()
        registries.silent.pop(host, None)
        self.backoff.succeeded(repository)
        self._last_failure.pop(repository, None)
        return outcome

    def _failed(self, repository: tuple[str, str], exc: RegistryError) -> None:
        after = exc.retry_after if isinstance(exc, RateLimited) else 0.0
        pause = self.backoff.failed(repository, retry_after=after)
        self._last_failure[repository] = exc
        log.debug("%s/%s backs off for %.0fs: %s", *repository, pause, exc)

    # -- 3. plan and write ---------------------------------------------------------------------

    def _chosen(
        self,
        item: AppWork,
        outcomes: dict[ResolutionKey, Outcome],
        failures: list[tuple[Job, ImageUpdaterError]],
    ) -> list[ChosenImage]:
        """The chosen version of every image, or [] when every image already runs its choice.

        Like upstream, once one image needs an update all managed images are (re)set, so the
        overrides always name every image; when none does, nothing is written at all.
        """
        chosen = []
        outdated = False
        for job in item.jobs:
            outcome = outcomes.get(job.key)
            if isinstance(outcome, ImageUpdaterError):
                failures.append((job, outcome))
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
        outcomes: dict[ResolutionKey, Outcome],
        table: _Resolutions,
        projects: _ProjectCache,
        result: CycleResult,
    ) -> None:
        key = app_key(item.app)
        failures: list[tuple[Job, ImageUpdaterError]] = []
        chosen = self._chosen(item, outcomes, failures)
        report = _Report([_failure_text(job, exc) for job, exc in failures])
        for job, exc in failures:
            log.warning(
                "cannot update image '%s' of %s: %s",
                job.policy.image.full_name,
                key,
                exc,
                extra={"application": key},
            )
        if failures:
            result.errors += len(failures)
            self.metrics.images_errors.labels(key).inc(len(failures))
        await self._update(item, chosen, table, projects, result, report)
        # One Event per reason per cycle, so that what a cycle found is one stable message.
        if report.problems:
            await self.events.record(
                item.app, "Warning", "ImageUpdateFailed", "; ".join(report.problems)
            )
        else:
            await self.events.forget(key, "ImageUpdateFailed")
        if report.deferred is not None:
            await self.events.record(item.app, "Normal", "UpdateDeferred", report.deferred)
        else:
            await self.events.forget(key, "UpdateDeferred")

    async def _update(
        self,
        item: AppWork,
        chosen: list[ChosenImage],
        table: _Resolutions,
        projects: _ProjectCache,
        result: CycleResult,
        report: _Report,
    ) -> None:
        key = app_key(item.app)
        app = item.app
        for attempt in range(CONFLICT_RETRIES + 1):
            plan = plan_overrides(app, item.source, chosen)
            if not plan.changed:
                return
            windows = await self._windows(app, projects)
            if isinstance(windows, str):
                result.errors += 1
                log.warning("not updating %s: %s", key, windows, extra={"application": key})
                report.problems.append(windows)
                return
            now = self.clock()
            decision = syncwindows.can_update(windows, app, now)
            if not decision.allowed:
                result.deferred += 1
                result.deferred_apps.add(key)
                result.defer_until(decision.retry_at)
                self.metrics.deferred.labels(key).inc()
                log.info("update of %s deferred: %s", key, decision.reason)
                report.deferred = _deferral_text(windows, app, decision, now)
                return
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
                # Keys the re-read brings in are resolved now, inside this cycle's scope.
                chosen = self._chosen(item, await table.outcomes(item.jobs), [])
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


def _deferral_text(
    windows: Sequence[syncwindows.SyncWindow],
    app: Application,
    decision: syncwindows.SyncDecision,
    now: dt.datetime,
) -> str:
    """The ``UpdateDeferred`` message: which windows hold the update and the instant it may go in.

    Built here rather than taken from ``decision.reason``, whose wording of a time depends on
    the current date (a new Event at midnight); this text changes only when a window opens
    or closes.
    """
    meta = app.get("metadata", {})
    destination = app.get("spec", {}).get("destination") or {}
    matching = [
        w
        for w in windows
        if w.matches(
            meta.get("name", ""),
            destination.get("namespace", "") or "",
            destination.get("server", "") or "",
            destination.get("name", "") or "",
        )
    ]
    denies = [str(w) for w in matching if w.kind == "deny" and w.is_active(now)]
    if denies:
        why = f"{', '.join(denies)} {'is' if len(denies) == 1 else 'are'} active"
    else:
        allows = [str(w) for w in matching if w.kind == "allow"]
        why = f"no allow window is active ({', '.join(allows)})"
    if decision.retry_at is None:
        return f"image update waits: {why}"
    until = decision.retry_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"image update waits: {why}; next allowed at {until}"
