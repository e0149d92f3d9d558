"""From accepted push events to targeted, coalesced cycles.

Events are a hint: nothing in them is written anywhere. For each repository an event
names, ``PushBatcher`` waits ``window`` seconds for more (a CI job pushing ten tags, a
burst of a hundred pushes), then, once per batch:

1. finds the Applications of the controller's index whose image-list names an image of
   that registry and repository (:func:`imageupdater.pushevents.matches`), through
   :class:`TargetIndex`, which re-reads an Application only when its object changed;
2. forgets that repository's cached tag list and tag digests (``RegistryClient.invalidate``),
   so the cycle re-reads the registry, and nothing else;
3. asks the controller for one cycle over just those Applications (``Controller.run_for``):
   the normal strategy, filters, policies, holds and write-back decide.

Batches that are ready together share one cycle, and a batch waits while the controller
runs another cycle — so a burst of a hundred pushes to one repository within a window
costs one tag list and at most one write per Application.

``--webhook-ratelimit-allowed`` (N per hour, upstream's) spaces deliveries out before they
join a batch; it delays, it never drops. A delivery waiting for its turn absorbs later
ones for the same repository, so the wait is bounded in memory by the repositories named.
"""

from __future__ import annotations

__all__ = [
    "HourlyLimiter",
    "PushBatcher",
    "TargetIndex",
    "registry_aliases",
    "repository_forgetter",
]

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from imageupdater.application import Application
from imageupdater.credentials import CredentialRules
from imageupdater.images import ImageRef
from imageupdater.pushevents import PushEvent, RepositoryKey, event_key, image_key
from imageupdater.registries_conf import RegistriesConf
from imageupdater.review import ReviewMemo
from imageupdater.service import ResolverService
from reconciler.configsource import ConfigSource
from reconciler.metrics import ReceiverMetrics
from reconciler.work import CycleResult

log = logging.getLogger("image_updater.webhook")

RunFor = Callable[[Sequence[str]], Awaitable[CycleResult | None]]


def registry_aliases(conf: RegistriesConf) -> dict[str, str]:
    """Other hosts a configured registry is known by: its API host, when images name it
    by its prefix (events from the registry itself carry the API host)."""
    aliases = {}
    for endpoint in conf.endpoints:
        api_host = urlsplit(endpoint.api_url).netloc.lower()
        if endpoint.prefix and api_host and api_host != endpoint.host.lower():
            aliases[api_host] = endpoint.host.lower()
    return aliases


def repository_forgetter(resolver: ResolverService) -> Callable[[ImageRef], int]:
    """Forgets one image's repository in the resolver's registry caches, found the way
    the resolver finds it (``registries.conf`` endpoint, ``defaultns``)."""

    def forget(image: ImageRef) -> int:
        endpoint = resolver.conf.lookup(image.registry, image.repository)
        return resolver.client.invalidate(endpoint.api_url, endpoint.qualify(image.repository))

    return forget


class TargetIndex:
    """Which Applications use which repositories, kept per Application object: an
    Application is read again (through the cycle's shared ``ReviewMemo``, or the cycle's
    :class:`~reconciler.configsource.ConfigSource` when it has one, so an Application an
    ImageUpdater resource configures is found by that resource's images) only when the
    index holds a new object for it."""

    def __init__(
        self,
        index: Callable[[], Mapping[str, Application]],
        reviews: ReviewMemo,
        rules: CredentialRules,
        aliases: Callable[[], Mapping[str, str]] = dict,
        configs: ConfigSource | None = None,
    ) -> None:
        self._index = index
        self._reviews = reviews
        self._rules = rules
        self._aliases = aliases
        self._configs = configs
        self._seen: dict[str, tuple[Application, dict[RepositoryKey, tuple[ImageRef, ...]]]] = {}

    async def _images(
        self, key: str, app: Application
    ) -> dict[RepositoryKey, tuple[ImageRef, ...]]:
        seen = self._seen.get(key)
        if seen is not None and seen[0] is app:
            return seen[1]
        if self._configs is not None:
            reviewed = await self._configs.reviewed(app, self._reviews, self._rules)
        else:
            reviewed = self._reviews.reviewed(app, self._rules)
        config = reviewed.review.config if reviewed is not None else None
        found: dict[RepositoryKey, list[ImageRef]] = {}
        aliases = self._aliases()
        for policy in config.images if config is not None else ():
            found.setdefault(image_key(policy.image, aliases), []).append(policy.image)
        images = {repo: tuple(refs) for repo, refs in found.items()}
        self._seen[key] = (app, images)
        return images

    async def targets(self, repository: RepositoryKey) -> dict[str, tuple[ImageRef, ...]]:
        """Each Application key using ``repository``, with its images of it."""
        index = self._index()
        for gone in [key for key in self._seen if key not in index]:
            del self._seen[gone]
        found = {}
        for key, app in index.items():
            images = (await self._images(key, app)).get(repository)
            if images:
                found[key] = images
        return found


class HourlyLimiter:
    """At most ``allowed`` per hour, evenly spaced (upstream's go.uber.org/ratelimit, without
    its burst slack): :meth:`wait` returns at once the first time, then each call one
    spacing after the previous one returned."""

    def __init__(
        self,
        allowed: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if allowed < 1:
            raise ValueError(f"allowed must be at least 1 per hour, got {allowed}")
        self.spacing = 3600.0 / allowed
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None

    async def wait(self) -> float:
        """Wait for the next turn; returns the seconds waited."""
        now = self._clock()
        due = now if self._next is None else max(now, self._next)
        self._next = due + self.spacing
        if due > now:
            await self._sleep(due - now)
        return due - now


@dataclass(slots=True)
class _Batch:
    """The events of one repository gathered within a window."""

    first_received: float  # monotonic time the first of them was received
    events: list[PushEvent] = field(default_factory=list)


class PushBatcher:
    """Coalesces accepted events per repository into targeted cycles (see the module)."""

    def __init__(
        self,
        *,
        targets: TargetIndex,
        run_for: RunFor,
        forget: Callable[[ImageRef], int],
        metrics: ReceiverMetrics,
        window: float = 0.25,
        limiter: HourlyLimiter | None = None,
        aliases: Callable[[], Mapping[str, str]] = dict,
        clock: Callable[[], float] = time.monotonic,
        max_events_per_batch: int = 100,
    ) -> None:
        if window < 0:
            raise ValueError(f"window must not be negative, got {window}")
        self.targets = targets
        self.window = window
        self.limiter = limiter
        self._run_for = run_for
        self._forget = forget
        self._metrics = metrics
        self._aliases = aliases
        self._clock = clock
        self._max_events = max_events_per_batch  # kept per batch, for the log only
        self._held: OrderedDict[RepositoryKey, _Batch] = OrderedDict()  # waiting for a turn
        self._held_wake = asyncio.Event()
        self._gathering: dict[RepositoryKey, _Batch] = {}
        self._timers: dict[RepositoryKey, asyncio.TimerHandle] = {}
        self._ready: OrderedDict[RepositoryKey, _Batch] = OrderedDict()
        self._ready_wake = asyncio.Event()
        self.batches_run = 0
        self._idle = asyncio.Event()
        self._idle.set()

    # -- intake ---------------------------------------------------------------------------

    def submit(self, events: Sequence[PushEvent], received_at: float | None = None) -> None:
        """Take the events of one accepted delivery; returns at once."""
        if not events:
            return
        received = self._clock() if received_at is None else received_at
        aliases = self._aliases()
        by_repository: dict[RepositoryKey, list[PushEvent]] = {}
        for event in events:
            by_repository.setdefault(event_key(event, aliases), []).append(event)
        for repository, found in by_repository.items():
            if self.limiter is None:
                self._gather(repository, found, received)
                continue
            held = self._held.get(repository)
            if held is None:
                self._held[repository] = _Batch(received, found[: self._max_events])
                self._metrics.waiting.inc()
            else:
                self._metrics.coalesced.inc(len(found))
                _extend(held, found, self._max_events)
            self._held_wake.set()
        self._idle.clear()

    def _gather(self, repository: RepositoryKey, events: list[PushEvent], received: float) -> None:
        batch = self._gathering.get(repository)
        if batch is not None:
            self._metrics.coalesced.inc(len(events))
            _extend(batch, events, self._max_events)
            return
        self._gathering[repository] = _Batch(received, events[: self._max_events])
        loop = asyncio.get_running_loop()
        self._timers[repository] = loop.call_later(self.window, self._window_closed, repository)

    def _window_closed(self, repository: RepositoryKey) -> None:
        self._timers.pop(repository, None)
        batch = self._gathering.pop(repository, None)
        if batch is None:
            return
        ready = self._ready.get(repository)
        if ready is None:
            self._ready[repository] = batch
        else:
            ready.first_received = min(ready.first_received, batch.first_received)
            _extend(ready, batch.events, self._max_events)
        self._ready_wake.set()

    # -- work -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve batches until cancelled (the receiver's background task)."""
        tasks = [asyncio.create_task(self._run_batches(), name="push-batches")]
        if self.limiter is not None:
            tasks.append(asyncio.create_task(self._release_held(), name="push-rate-limit"))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()

    async def _release_held(self) -> None:
        assert self.limiter is not None
        while True:
            while not self._held:
                self._held_wake.clear()
                await self._held_wake.wait()
            waited = await self.limiter.wait()
            if waited > 0:
                self._metrics.delayed.inc()
            repository, batch = self._held.popitem(last=False)
            self._metrics.waiting.dec()
            self._gather(repository, batch.events, batch.first_received)

    async def _run_batches(self) -> None:
        while True:
            while not self._ready:
                if not self._gathering and not self._held:
                    self._idle.set()
                self._ready_wake.clear()
                await self._ready_wake.wait()
            batches, self._ready = self._ready, OrderedDict()
            await self._run(batches)

    async def _run(self, batches: Mapping[RepositoryKey, _Batch]) -> None:
        apps: set[str] = set()
        images: dict[tuple[str, str], ImageRef] = {}
        for repository, batch in batches.items():
            found = await self.targets.targets(repository)
            shown = ", ".join(str(e) for e in batch.events[:3])
            if not found:
                self._metrics.batches.labels("no_match").inc()
                log.info("push to %s/%s (%s): no Application uses it", *repository, shown or "-")
                continue
            log.info(
                "push to %s/%s (%d event(s): %s): checking %d Application(s)",
                *repository,
                len(batch.events),
                shown,
                len(found),
            )
            apps.update(found)
            for refs in found.values():
                for ref in refs:
                    images[ref.identity()] = ref
        if not apps:
            return
        for ref in images.values():
            self._forget(ref)
        self.batches_run += 1
        result = await self._run_for(sorted(apps))
        outcome = "not_leader" if result is None else "ran"
        self._metrics.batches.labels(outcome).inc(len(batches))
        if result is not None and result.images_updated > 0:
            done = self._clock()
            for batch in batches.values():
                self._metrics.push_to_update.observe(max(0.0, done - batch.first_received))

    async def idle(self) -> None:
        """Wait until nothing is waiting, gathering or ready (tests, shutdown)."""
        await self._idle.wait()


def _extend(batch: _Batch, events: Sequence[PushEvent], cap: int) -> None:
    room = cap - len(batch.events)
    if room > 0:
        batch.events.extend(events[:room])
