"""One reconcile cycle over a set of Applications (upstream behaviour §3.2, §8–§10).

1. Parse each Application's annotations (invalid ones become a Warning Event and a metric,
   never an exception), pick the source to write and the live images. Reviews are kept
   across cycles by their exact inputs (``imageupdater.review.ReviewMemo``): the same
   annotations, namespace rules and live images are not parsed or checked again.
2. Resolve every distinct (image policy, current version) **once** for all Applications —
   the registry client's caches then make that one tag list per repository. Each distinct
   resolution is a task of its own, started as soon as an Application names it and bounded
   by ``CycleSettings.resolve_deadline``; registries get their own concurrency slots.
3. As soon as its own resolutions are done, an Application's choices are made
   (``imageupdater.choice``), planned (``imageupdater.plan``) and decided
   (``reconciler.writeback.decide``: sync windows, dry run, leadership), then handed to the
   writer of its write-back method (at most ``max_concurrency`` at a time: that many
   writers take the ready Applications in turn, so an Application costs no task or wait of
   its own — thousands of them wait on a few hundred lookups every cycle). A streaming
   writer (``argocd``: one guarded merge patch, re-planned on 409) writes it at once, so a
   registry that hangs holds back only the Applications that use it, and those only until
   the deadline; a batch writer receives the whole cycle's planned changes at the end.

Update policies (``reconciler.policies``): the policies that apply to an Application are
part of its resolution keys, the resolver filters the candidates by them before the
strategy chooses, a policy deferral (``minimumAge``, ``updateWindows``) is an
``UpdateDeferred`` Event next to the sync windows', and findings go to the
``PolicyReporter`` (Events, metric, the policies' status at the cycle's end). Applications
without policies take exactly the path they took before.

Rollbacks (``reconciler.rollbacks``): after the live images are known, an image someone
else reverted is held instead of resolved, and a watched update whose Application degraded
becomes a restore — the previous versions, chosen instead of resolving, written through the
same writer. Every plan carries the record of what it writes (``Plan.annotations``).

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
import functools
import logging
import math
from collections.abc import (
    Awaitable,
    Callable,
    Collection,
    Coroutine,
    Hashable,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from imageupdater import review, syncwindows
from imageupdater.application import (
    Application,
    app_key,
    select_source,
)
from imageupdater.choice import (
    ChosenImage,
    RunningVersion,
    chosen_image,
    outdated_choices,
    running_version,
)
from imageupdater.errors import (
    ImageUpdaterError,
    RateLimited,
    RegistryError,
    RegistryUnavailable,
)
from imageupdater.plan import current_overrides, plan_overrides
from imageupdater.policy import AppConfig, ImagePolicy
from imageupdater.resolver import Resolution
from imageupdater.tags import TagInfo
from imageupdater.updatepolicy import Finding, PolicyFilter
from imageupdater.updatepolicy.holds import parse_holds
from imageupdater.updatepolicy.rollback import is_newer, record_key
from imageupdater.updatepolicy.waves import WaveVerdict
from reconciler.apps_api import ApplicationsAPI
from reconciler.backoff import RepositoryBackoff
from reconciler.configsource import ConfigSource
from reconciler.events import EventRecorder
from reconciler.metrics import ReconcilerMetrics
from reconciler.policies import PolicyReporter
from reconciler.rollbacks import Rollbacks
from reconciler.verification import SignatureGate
from reconciler.waves import STOPPED_REASON, WAITING_REASON, WavePlan, Waves
from reconciler.work import (
    AppWork,
    CycleResult,
    CycleSettings,
    Job,
    ResolutionKey,
    resolution_key,
)
from reconciler.writeback import (
    ArgoCDWriter,
    Blocked,
    Decision,
    Deferred,
    Outcome,
    Planned,
    Skipped,
    WriteContext,
    WriteFailed,
    Writer,
    Written,
    decide,
)

log = logging.getLogger("image_updater.reconciler")

_Windows = tuple[syncwindows.SyncWindow, ...] | str
_ProjectCache = dict[tuple[str, str], "asyncio.Future[_Windows]"]
Lookup = Resolution | ImageUpdaterError


class ResolveFn(Protocol):
    """``ResolverService.resolve``: called with ``policies`` only for an Application that
    update policies apply to."""

    def __call__(
        self, policy: ImagePolicy, current: str | None, /, policies: PolicyFilter | None = ...
    ) -> Awaitable[Resolution]: ...


def _failure_text(job: Job, exc: ImageUpdaterError) -> str:
    """How one failed image reads in its Application's ``ImageUpdateFailed`` Event.

    The one place that decides what a tenant sees of a registry error (the log keeps the
    full text).
    """
    return f"{job.policy.image.full_name}: {exc.public_message}"


class _Resolutions:
    """This cycle's lookups: one task per distinct key, started when an Application first
    names it; an Application is handed on (:meth:`when_done`) as soon as its own are done,
    without a task or a wait of its own."""

    def __init__(self, lookup: Callable[[Job], Coroutine[Any, Any, Lookup]]) -> None:
        self._lookup = lookup
        self._tasks: dict[ResolutionKey, asyncio.Task[Lookup]] = {}
        # Per key still being looked up: the Applications waiting for it.
        self._waiting: dict[ResolutionKey, list[_Waiter]] = {}

    def start(self, jobs: Iterable[Job]) -> None:
        for job in jobs:
            if job.key not in self._tasks:
                task = asyncio.create_task(self._lookup(job))
                self._tasks[job.key] = task
                task.add_done_callback(functools.partial(self._done, job.key))

    def when_done(self, jobs: Collection[Job], then: Callable[[], None]) -> None:
        """Call ``then`` once every job's lookup is done (at once when they all are)."""
        self.start(jobs)
        pending = {job.key for job in jobs if not self._tasks[job.key].done()}
        if not pending:
            then()
            return
        waiter = _Waiter(len(pending), then)
        for key in pending:
            self._waiting.setdefault(key, []).append(waiter)

    def _done(self, key: ResolutionKey, _: asyncio.Task[Lookup]) -> None:
        for waiter in self._waiting.pop(key, ()):
            waiter.left -= 1
            if waiter.left == 0:
                waiter.then()

    def results(self, jobs: Collection[Job]) -> dict[ResolutionKey, Lookup]:
        """The outcomes of lookups that are done (a lookup that failed unexpectedly raises)."""
        return {job.key: self._tasks[job.key].result() for job in jobs}

    async def outcomes(self, jobs: Collection[Job]) -> dict[ResolutionKey, Lookup]:
        self.start(jobs)
        tasks = {self._tasks[job.key] for job in jobs}
        tasks = {task for task in tasks if not task.done()}
        if tasks:
            # ``wait``, not ``gather``: a waiter being cancelled must not cancel a lookup
            # other Applications share.
            await asyncio.wait(tasks)
        return self.results(jobs)

    @property
    def tasks(self) -> list[asyncio.Task[Lookup]]:
        return list(self._tasks.values())


@dataclass(slots=True)
class _Waiter:
    left: int  # lookups not done yet
    then: Callable[[], None]


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
    policy_deferred: tuple[str, ...] = ()  # by update policies, one per image
    waves: tuple[WaveVerdict, ...] = ()  # rollout waves holding an image back


@dataclass(slots=True)
class _CycleState:
    """What one cycle shares between its Applications."""

    result: CycleResult
    table: _Resolutions
    projects: _ProjectCache = field(default_factory=dict)
    # Changes for batch writers, with each Application's report, written at the cycle's end.
    batches: dict[str, list[tuple[Planned, _Report]]] = field(default_factory=dict)
    # Dry-run changes for writers that can show what they would write.
    previews: dict[str, list[Skipped]] = field(default_factory=dict)


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
        writers: Mapping[str, Writer] | None = None,
        reviews: review.ReviewMemo | None = None,
        policies: PolicyReporter | None = None,
        configs: ConfigSource | None = None,
        signatures: SignatureGate | None = None,
        owns: Callable[[str], bool] = lambda key: True,
        waves: Waves | None = None,
    ) -> None:
        # ``scope`` wraps each cycle (ResolverService.cycle: read each repository once per
        # cycle, however long the cycle takes).
        self.scope = scope
        self.api = api
        # One writer per write-back method; an Application whose method has none is skipped.
        self.writers: Mapping[str, Writer] = (
            writers if writers is not None else {"argocd": ArgoCDWriter(api)}
        )
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
        # Lives across cycles: an Application whose annotations and live images are those
        # of the last cycle is not parsed or checked again.
        self.reviews = reviews if reviews is not None else review.ReviewMemo()
        # None: no update policies are read (an install without them, most tests).
        self.policies = policies
        # Where each Application's configuration comes from (reconciler.configsource):
        # None = its annotations, as always; the ImageUpdater resources' source otherwise.
        self.configs = configs
        # Images that must be signed (an ImageUpdater's imagesVerification): checked before
        # their version is planned (reconciler.verification).
        self.signatures = signatures
        # Scale-out (reconciler.shards): the Applications of the shards this replica holds
        # now; asked per cycle and again right before each write (the fence).
        self.owns = owns
        # Reverts by others and health-gated updates (reconciler.rollbacks): reads the
        # record each Application carries, so it keeps nothing across cycles itself.
        self.rollbacks = Rollbacks(
            api=api,
            events=events,
            metrics=metrics,
            clock=lambda: self.clock(),
            dry_run=settings.dry_run,
            is_leader=lambda: self.is_leader(),
        )
        # Rollout waves (reconciler.waves): planned per cycle over every indexed Application.
        self.waves = waves if waves is not None else Waves()
        self._wave_plan: WavePlan | None = None

    async def run(self, apps: Sequence[Application], *, trigger: str = "resync") -> CycleResult:
        apps = [app for app in apps if self.owns(app_key(app))]
        result = CycleResult()
        loop = asyncio.get_running_loop()
        started = loop.time()
        registries = _Registries(max(self.settings.max_concurrency, 1) * 5)
        state = _CycleState(result, _Resolutions(lambda job: self._lookup(job, registries)))
        self._wave_plan = (
            self.waves.plan(self.policies.watch.snapshot, self._config_of, apps)
            if self.policies is not None
            else None
        )
        # Applications whose lookups are done, written by ``max_concurrency`` writers in the
        # order they became ready; ``left`` counts those not written yet, plus one while
        # Applications are still being prepared.
        ready: asyncio.Queue[AppWork] = asyncio.Queue()
        left = 1
        written: asyncio.Future[None] = loop.create_future()

        def finished_one() -> None:
            nonlocal left
            left -= 1
            if left == 0 and not written.done():
                written.set_result(None)

        async def writer() -> None:
            while True:
                item = await ready.get()
                await self._write(item, state.table.results(item.jobs), state)
                finished_one()

        writers: list[asyncio.Task[None]] = []
        with self.scope():
            try:
                writers = [
                    asyncio.create_task(writer())
                    for _ in range(max(self.settings.max_concurrency, 1))
                ]
                for app in apps:
                    prepared = await self._prepare(app, result)
                    if prepared is not None:
                        left += 1
                        state.table.when_done(
                            prepared.jobs, functools.partial(ready.put_nowait, prepared)
                        )
                finished_one()
                # A writer ends only by failing: then that failure ends the cycle.
                await asyncio.wait([written, *writers], return_when=asyncio.FIRST_COMPLETED)
                for task in writers:
                    if task.done():
                        task.result()
                await self._write_batches(state)
                if self.policies is not None:
                    if self._wave_plan:
                        self.policies.rollouts(self._wave_plan.statuses(), trigger)
                    await self.policies.finish(trigger)
                if self.configs is not None:
                    await self.configs.finish(result, trigger)
            finally:
                # The writers wait for work that will not come; anything else still running
                # is left only when the cycle failed or was cancelled: leave nothing behind,
                # and no failure unread (one is raised; others would be logged as lost).
                pending: list[asyncio.Task[Any]] = []
                everything: list[asyncio.Task[Any]] = [*writers, *state.table.tasks]
                for started_task in everything:
                    if not started_task.done():
                        started_task.cancel()
                        pending.append(started_task)
                    elif not started_task.cancelled():
                        started_task.exception()
                await asyncio.gather(*pending, return_exceptions=True)
        elapsed = loop.time() - started
        self.metrics.cycle_duration.labels(trigger).observe(elapsed)
        log.info(
            "%s (%s, %.2fs)",
            result.summary(),
            trigger,
            elapsed,
            extra={
                "applications": result.applications,
                "images_considered": result.images_considered,
                "images_skipped": result.images_skipped,
                "images_updated": result.images_updated,
                "errors": result.errors,
                "patches": result.patches,
                "deferred": result.deferred,
                "trigger": trigger,
                "duration_seconds": round(elapsed, 3),
            },
        )
        return result

    # -- 1. review and select ------------------------------------------------------------------

    async def _prepare(self, app: Application, result: CycleResult) -> AppWork | None:
        if self.configs is None:
            reviewed = self.reviews.reviewed(app, self.settings.credentials)
        else:
            reviewed = await self.configs.reviewed(app, self.reviews, self.settings.credentials)
        if reviewed is None:
            return None
        found = reviewed.review
        key = app_key(app)
        policies = self.policies.applicable(app, key) if self.policies is not None else None
        config = found.config
        if config is None:
            result.errors += 1
            result.failed_apps.add(key)
            result.tally(key).errors += 1
            self.metrics.invalid_configs.labels(key).inc()
            message = "; ".join(str(p) for p in found.errors)
            self.metrics.applications_skipped.labels("invalid_configuration").inc()
            log.warning(
                "skipping %s: invalid image-updater annotations: %s",
                key,
                message,
                extra={"application": key, "reason": "invalid_configuration"},
            )
            await self.events.record(
                app, "Warning", "InvalidConfiguration", message or "invalid annotations"
            )
            return None
        await self.events.forget(key, "InvalidConfiguration")
        # What ``kubectl apply`` warned about, said again where the owner looks later.
        if found.warnings:
            await self.events.record(
                app, "Warning", "ConfigurationWarning", "; ".join(str(p) for p in found.warnings)
            )
        else:
            await self.events.forget(key, "ConfigurationWarning")
        if config.write_back.method not in self.writers:
            self.metrics.applications_skipped.labels("unsupported_write_back_method").inc()
            log.info(
                "skipping %s: write-back-method %s is not supported yet",
                key,
                config.write_back.method,
                extra={"application": key, "reason": "unsupported_write_back_method"},
            )
            result.images_skipped += len(config.images)
            return None
        resumed = self.rollbacks.resumable(app, config.images)
        images = await self._unheld(app, key, config.images, result, resumed)
        if not images:
            return None
        source = select_source(app, config.write_back)
        if source is None:
            self.metrics.applications_skipped.labels("unsupported_source").inc()
            log.warning(
                "skipping app '%s' because it's not of supported source type",
                key,
                extra={"application": key, "reason": "unsupported_source"},
            )
            result.images_skipped += len(config.images)
            return None
        result.applications += 1
        overrides = current_overrides(source.get(app), source.kind, config.images)
        jobs: list[Job] = []
        for policy, entry, override in zip(config.images, reviewed.entries, overrides, strict=True):
            if policy not in images:
                continue  # held: counted by _unheld
            if entry is None and not policy.force_update:
                log.debug(
                    "Image '%s' seems not to be live in this application, skipping",
                    policy.image.full_name,
                    extra={"application": key},
                )
                result.images_skipped += 1
                continue
            result.images_considered += 1
            running = running_version(policy, override, entry)
            current = running.tag if running is not None else None
            jobs.append(Job(policy, resolution_key(policy, current, policies), running, policies))
        # Reverts by others are held, watched updates judged (reconciler.rollbacks).
        screened = await self.rollbacks.screen(app, jobs, result, resumed)
        jobs = screened.jobs
        self.metrics.images_watched.labels(*self._series(app)).set(len(jobs))
        result.tally(key).images = len(jobs)
        if not jobs and not screened.restores:
            self.metrics.applications_skipped.labels("no_live_images").inc()
            return None
        return AppWork(
            screened.app,
            config,
            source,
            jobs,
            policies,
            restores=screened.restores,
            rollback_annotations=screened.annotations,
            floors=screened.floors,
            gate=self.rollbacks.gate(
                app, policies, self._wave_plan.soak(key, policies) if self._wave_plan else None
            ),
        )

    async def _config_of(self, app: Application) -> AppConfig | None:
        """An Application's configuration as this cycle reads it (for the waves' members)."""
        if self.configs is None:
            reviewed = self.reviews.reviewed(app, self.settings.credentials)
        else:
            reviewed = await self.configs.reviewed(app, self.reviews, self.settings.credentials)
        return reviewed.review.config if reviewed is not None else None

    async def _unheld(
        self,
        app: Application,
        key: str,
        images: Sequence[ImagePolicy],
        result: CycleResult,
        resumed: Collection[ImagePolicy] = (),
    ) -> list[ImagePolicy]:
        """The images no hold keeps: a hold on the Application keeps all of them, a hold on
        an alias that one. Each hold is a Normal ``UpdateHeld`` Event with its reason. An
        image in ``resumed`` (a rollback hold a newer version ends) is still resolved, to
        look for that version; it stays held otherwise."""
        metadata = app.get("metadata")
        annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
        holds = parse_holds(annotations, [p.alias for p in images]).holds
        if not holds.any:
            self.metrics.images_held.labels(key).set(0)
            await self.events.forget(key, "UpdateHeld")
            return list(images)
        free = [p for p in images if holds.reason(p.alias) is None or p in resumed]
        held = len(images) - len(free)
        self.metrics.images_held.labels(key).set(held)
        result.images_skipped += held
        if holds.app is not None:
            message = f"updates are held: {holds.app}"
        else:
            message = "; ".join(
                f"image {p.alias!r} is held: {holds.reason(p.alias)}"
                for p in images
                if holds.reason(p.alias) is not None
            )
        log.info("%s: %s", key, message, extra={"application": key, "reason": "held"})
        await self.events.record(app, "Normal", "UpdateHeld", message)
        if not free:
            self.metrics.applications_skipped.labels("held").inc()
        return free

    # -- 2. resolve each distinct key once -----------------------------------------------------

    async def _lookup(self, job: Job, registries: _Registries) -> Lookup:
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
                    if job.policies is None:
                        outcome = await self.resolve(job.policy, job.current)
                    else:
                        judge = PolicyFilter(job.policies, job.running, self.clock())
                        outcome = await self.resolve(job.policy, job.current, judge)
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

    def _series(self, app: Application) -> tuple[str, str, str]:
        """The labels of upstream's per-image series: the Application (v0) and the
        ImageUpdater resource that configures it (v1; "" when its annotations do)."""
        owner = self.configs.owner(app) if self.configs is not None else None
        name, namespace = owner if owner is not None else ("", "")
        return (app_key(app), name, namespace)

    def _failed(self, repository: tuple[str, str], exc: RegistryError) -> None:
        after = exc.retry_after if isinstance(exc, RateLimited) else 0.0
        # Retrying cannot mend a refused login or a missing repository until someone acts,
        # so those rest for the longest pause at once; outages back off step by step.
        pause = self.backoff.failed(repository, retry_after=after, permanent=not exc.transient)
        self._last_failure[repository] = exc
        log.debug("%s/%s backs off for %.0fs: %s", *repository, pause, exc)

    # -- 3. choose, plan, decide and write ---------------------------------------------------

    def _chosen(
        self,
        item: AppWork,
        outcomes: dict[ResolutionKey, Lookup],
        failures: list[tuple[Job, ImageUpdaterError]],
    ) -> list[ChosenImage]:
        """Every image's choice, or [] when each already runs its own (``outdated_choices``).

        A restore chooses the previous versions and nothing else; an image under a rollback
        hold keeps what it runs unless its choice is newer than the version reverted."""
        if item.restores:
            return [restore.choice for restore in item.restores]
        pairs = []
        for job in item.jobs:
            outcome = outcomes.get(job.key)
            if isinstance(outcome, ImageUpdaterError):
                failures.append((job, outcome))
                continue
            choice = (
                chosen_image(job.policy, outcome.tag, outcome.digest, pin_digest=outcome.pin_digest)
                if outcome
                else None
            )
            floor = item.floors.get(job.policy)
            if choice is not None and floor is not None and not is_newer(choice.tag, floor):
                if job.running is None or job.running.tag is None:
                    continue
                choice = ChosenImage(job.policy, job.running.tag, job.running.digest)
            if choice is not None:
                pairs.append((job.running, choice))
        return outdated_choices(pairs)

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

    async def _decide(
        self, item: AppWork, chosen: Sequence[ChosenImage], state: _CycleState
    ) -> Decision:
        # A git write-back's overrides live in the repository, not in the Application: its
        # changes are measured from what runs.
        running = (
            {job.policy: job.running for job in item.jobs}
            if item.config.write_back.method == "git"
            else None
        )
        if item.restores and running is not None:
            running = {
                **running,
                **{r.policy: RunningVersion.parse(r.bad) for r in item.restores},
            }
        plan = plan_overrides(item.app, item.source, chosen, running)
        if not plan.changed:
            return Skipped(item, "unchanged", plan)
        plan = self.rollbacks.record(
            item.app,
            plan,
            item.gate,
            seen=running is None,
            floors=item.floors,
            was={record_key(job.policy): job.running for job in item.jobs},
            extra=item.rollback_annotations,
        )
        # A restore undoes the updater's own change: a sync window does not keep it in.
        windows: _Windows = ()
        if not item.restores:
            windows = await self._windows(item.app, state.projects)
        return decide(
            item,
            plan,
            windows,
            self.clock(),
            dry_run=self.settings.dry_run,
            leader=self.is_leader() and self.owns(app_key(item.app)),
        )

    async def _replan(self, app: Application, state: _CycleState) -> Decision | None:
        """Decide again for a fresh copy of ``app`` (after a conflicting write)."""
        refreshed = await self._prepare(app, CycleResult())
        if refreshed is None:
            return None
        # Keys the re-read brings in are resolved now, inside this cycle's scope.
        failures: list[tuple[Job, ImageUpdaterError]] = []
        chosen = self._chosen(refreshed, await state.table.outcomes(refreshed.jobs), failures)
        chosen, _ = await self._gated(refreshed, chosen, failures)
        return await self._decide(refreshed, chosen, state)

    async def _gated(
        self,
        item: AppWork,
        chosen: list[ChosenImage],
        failures: list[tuple[Job, ImageUpdaterError]],
    ) -> tuple[list[ChosenImage], list[WaveVerdict]]:
        """The choices the signature check and the rollout waves let through, and the waves'
        verdicts that held an image back; a first write and the re-plan after a conflict
        pass the same gates."""
        if self.signatures is not None and chosen:
            chosen = await self.signatures.signed(item, chosen, failures)
        if not self._wave_plan or not chosen or item.restores:
            return chosen, []
        running = {job.policy: job.running for job in item.jobs}
        return await self._wave_plan.admit(item.app, item.policies, chosen, running)

    def _context(self, state: _CycleState) -> WriteContext:
        def conflict() -> None:
            state.result.conflicts += 1
            self.metrics.patches.labels("conflict").inc()

        return WriteContext(replan=lambda app: self._replan(app, state), conflict=conflict)

    async def _write(
        self, item: AppWork, outcomes: dict[ResolutionKey, Lookup], state: _CycleState
    ) -> None:
        key = app_key(item.app)
        failures: list[tuple[Job, ImageUpdaterError]] = []
        chosen = self._chosen(item, outcomes, failures)
        chosen, held = await self._gated(item, chosen, failures)
        report = _Report([_failure_text(job, exc) for job, exc in failures], waves=tuple(held))
        for job, exc in failures:
            log.warning(
                "cannot update image '%s' of %s: %s",
                job.policy.image.full_name,
                key,
                exc,
                extra={"application": key},
            )
        if failures:
            state.result.errors += len(failures)
            state.result.failed_apps.add(key)
            state.result.tally(key).errors += len(failures)
            self.metrics.images_errors.labels(*self._series(item.app)).inc(len(failures))
        if item.policies is not None and self.policies is not None:
            await self._policy_outcomes(item, outcomes, chosen, report, state.result)
        decision = await self._decide(item, chosen, state)
        method = item.config.write_back.method
        writer = self.writers[method]
        if isinstance(decision, Planned) and not writer.streaming:
            refused = await self.rollbacks.before_push(decision.work.app, decision.plan)
            if refused is None:
                state.batches.setdefault(method, []).append((decision, report))
                return
            outcome: Outcome = WriteFailed(decision.work, refused, False, refused)
            await self._settle(outcome, state.result, report)
            await self._report(item, report)
            return
        if isinstance(decision, Skipped) and decision.why == "dry-run" and writer.previews:
            state.previews.setdefault(method, []).append(decision)
        if isinstance(decision, Planned):
            (outcome,) = await writer.write([decision], self._context(state))
        else:
            outcome = decision
        await self._settle(outcome, state.result, report)
        await self._report(item, report)

    async def _policy_outcomes(
        self,
        item: AppWork,
        outcomes: dict[ResolutionKey, Lookup],
        chosen: Sequence[ChosenImage],
        report: _Report,
        result: CycleResult,
    ) -> None:
        """What the update policies said about this Application's images: deferrals into
        its report, findings to the reporter (about an image's update only when it moves)."""
        assert self.policies is not None
        key = app_key(item.app)
        moving = {choice.policy for choice in chosen}
        findings: list[Finding] = []
        deferred_until: list[dt.datetime] = []
        for job in item.jobs:
            outcome = outcomes.get(job.key)
            if not isinstance(outcome, Resolution) or outcome.decision is None:
                continue
            choice = chosen_image(
                job.policy, outcome.tag, outcome.digest, pin_digest=outcome.pin_digest
            )
            moves = (
                choice is not None
                and job.policy in moving
                and (job.running is None or job.running != choice.version)
            )
            picked = TagInfo(choice.tag) if moves and choice is not None else None
            findings.extend(outcome.decision.findings_for(picked))
            held = outcome.deferral
            if held is not None:
                deferred_until.append(held.until)
                label = job.policy.image.alias or job.policy.image.full_name
                until = held.until.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                report.policy_deferred = (*report.policy_deferred, held.describe(label))
                log.info(
                    "update of image '%s' of %s deferred until %s by %s, rule %s",
                    job.policy.image.full_name,
                    key,
                    until,
                    held.policy,
                    held.rule,
                    extra={"application": key, "reason": "policy_deferred"},
                )
        if deferred_until:
            if key not in result.deferred_apps:
                result.deferred += 1
                result.deferred_apps.add(key)
                self.metrics.deferred.labels(key).inc()
            result.defer_until(min(deferred_until))
        await self.policies.report(item.app, key, findings)

    async def _write_batches(self, state: _CycleState) -> None:
        """Hand each batch writer the cycle's planned changes, all at once."""
        for method, skipped in state.previews.items():
            await self.writers[method].preview(skipped)
        state.previews.clear()
        for method, queued in state.batches.items():
            # A batch is written at the cycle's end: a shard lost meanwhile writes nothing.
            kept = [self.owns(app_key(change.work.app)) for change, _ in queued]
            lost = [item for item, keep in zip(queued, kept, strict=True) if not keep]
            queued = [item for item, keep in zip(queued, kept, strict=True) if keep]
            for change, report in lost:
                fenced = Skipped(change.work, "not-leader", change.plan)
                await self._settle(fenced, state.result, report)
            changes = [change for change, _ in queued]
            outcomes = await self.writers[method].write(changes, self._context(state))
            for (change, report), outcome in zip(queued, outcomes, strict=True):
                await self._settle(outcome, state.result, report)
                await self._report(change.work, report)
        state.batches.clear()

    async def _report(self, item: AppWork, report: _Report) -> None:
        # One Event per reason per cycle, so that what a cycle found is one stable message.
        key = app_key(item.app)
        if report.problems:
            await self.events.record(
                item.app, "Warning", "ImageUpdateFailed", "; ".join(report.problems)
            )
        else:
            await self.events.forget(key, "ImageUpdateFailed")
        deferred = report.deferred
        if report.policy_deferred:
            deferred = "; ".join(t for t in (deferred, *report.policy_deferred) if t)
        if deferred is not None:
            await self.events.record(item.app, "Normal", "UpdateDeferred", deferred)
        else:
            await self.events.forget(key, "UpdateDeferred")
        for state, reason in (("waiting", WAITING_REASON), ("stopped", STOPPED_REASON)):
            said = list(dict.fromkeys(v.message for v in report.waves if v.state == state))
            if not said:
                await self.events.forget(key, reason)
                continue
            for message in said:
                log.info("%s: %s", key, message, extra={"application": key})
            kind: Literal["Normal", "Warning"] = "Warning" if state == "stopped" else "Normal"
            await self.events.record(item.app, kind, reason, "; ".join(said))

    async def _settle(self, outcome: Outcome, result: CycleResult, report: _Report) -> None:
        """The accounting for where one Application's change ended, whichever writer ran."""
        key = app_key(outcome.work.app)
        match outcome:
            case Written(work, plan, commit):
                result.patches += 1
                result.images_updated += len(plan.changes)
                result.tally(key).changes.extend(plan.changes)
                if commit is None:
                    self.metrics.patches.labels("ok").inc()
                self.metrics.images_updated.labels(*self._series(work.app)).inc(len(plan.changes))
                for change in plan.changes:
                    log.info(
                        "Successfully updated image '%s' to '%s'",
                        change.image,
                        str(change.new),
                        extra={"application": key, "old_tag": str(change.old or "")},
                    )
                await self.events.images_updated(work.app, plan.changes, commit=commit)
                if work.restores:
                    await self.rollbacks.rolled_back(work.app, work.restores)
            case WriteFailed(_, reason, rejected, public):
                result.errors += 1
                result.failed_apps.add(key)
                result.tally(key).errors += 1
                if rejected:
                    if outcome.work.config.write_back.method == "argocd":
                        self.metrics.patches.labels("error").inc()
                    self.metrics.images_errors.labels(*self._series(outcome.work.app)).inc()
                log.warning("not updating %s: %s", key, reason, extra={"application": key})
                if public is not None:
                    report.problems.append(public)
            case Blocked(_, reason):
                result.errors += 1
                result.failed_apps.add(key)
                result.tally(key).errors += 1
                log.warning("not updating %s: %s", key, reason, extra={"application": key})
                report.problems.append(reason)
            case Deferred(work, _, decision, windows, now):
                if key not in result.deferred_apps:  # an update policy may have deferred too
                    result.deferred += 1
                    result.deferred_apps.add(key)
                    self.metrics.deferred.labels(key).inc()
                result.defer_until(decision.retry_at)
                log.info("update of %s deferred: %s", key, decision.reason)
                report.deferred = _deferral_text(windows, work.app, decision, now)
            case Skipped(_, "dry-run", plan):
                self.metrics.patches.labels("dry_run").inc()
                self.metrics.applications_skipped.labels("dry_run").inc()
                for change in plan.changes if plan is not None else ():
                    log.info("dry run: would set %s to %s in %s", change.image, change.new, key)
            case Skipped(_, "not-leader", _):
                self.metrics.applications_skipped.labels("not_leader").inc()
                log.warning(
                    "not the leader any more; not writing %s",
                    key,
                    extra={"application": key, "reason": "not_leader"},
                )
            case Skipped():
                pass


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
