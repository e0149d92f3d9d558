"""ImageUpdater resources in the reconciler: the watch, which one acts on an Application, and
their status.

* **Watch.** ``argocd-image-updater.argoproj.io/v1alpha1`` ``imageupdaters`` are listed and
  watched in ``--watch-namespaces`` (one list + watch per namespace, or one for all), each
  parsed once per generation by ``imageupdater.imageupdaters.parse``. A resource whose spec
  changed (created, edited, deleted) asks the controller for a cycle over the Applications
  its old and new versions select (``request``): processed within the controller's debounce,
  not an interval later. Status-only writes (ours) are no change. A cluster without the CRD
  (404) is annotation mode only, said once in the log and looked at again every minute.
* **The source of each Application's configuration** (``reconciler.configsource``): of the
  resources in the Application's own namespace, ``imageupdaters.arbitrate`` names the one
  that acts (the most specific applicationRef; equal ones by resource name) and the others
  stand back. The winner's applicationRef decides: ``FromResource`` — its settings, through
  the same cycle as annotations; ``useAnnotations: true`` — the annotations, read exactly as
  in annotation mode; ``Unusable`` — nothing (the resource's status and a Warning Event say
  why). An Application no resource selects keeps annotation mode (in the namespaces
  ``--application-namespace`` allows).
* **The rule for an Application selected both ways** (an ``image-list`` annotation and a
  resource whose applicationRef is not ``useAnnotations: true``): the resource wins, the
  annotations are ignored, and a Warning ``ConfigurationConflict`` Event on the Application
  says so, naming the resource and the applicationRef. Never both.
* **Status** (upstream §17.5, written by ``reconciler.imageupdater_status``): after each cycle, for
  every resource the cycle touched (all of them after a resync), built from the last cycle
  of each Application it acts on, and written to the ``status`` subresource with a merge
  patch only when it differs (``status_changed``; a ``lastCheckedAt`` younger than
  ``checked_at_resolution`` does not count, so an idle resource is not rewritten every
  interval). ``Reconciling`` is written True when a new generation is seen and False with
  the cycle's outcome. Only the leader writes, never in a dry run, and nothing before the
  first cycle over every Application (counts need them all).
* **No thrash**: a resource that stands back reports each such Application in its
  ``Superseded`` condition and a Normal ``SelectedByAnotherImageUpdater`` Event.

The parser and the status builders are imported when the first resource is seen, so ``run``
in a cluster without ImageUpdaters loads none of them.
"""

from __future__ import annotations

__all__ = [
    "CONFLICT_REASON",
    "IMAGE_UPDATERS",
    "INVALID_REASON",
    "ImageUpdaters",
    "application_namespaces",
]

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from imageupdater import kube
from imageupdater.annotations import PREFIX
from imageupdater.application import Application, app_key
from imageupdater.credentials import CredentialRules
from imageupdater.errors import ImageUpdaterError, KubeError, KubeGone, KubeNotFound
from imageupdater.review import Reviewed, ReviewMemo
from reconciler.configsource import reviewed_from_config
from reconciler.events import EventRecorder
from reconciler.imageupdater_status import (
    IMAGE_UPDATERS,
    INVALID_REASON,
    AppState,
    Key,
    StatusWriter,
    image_changes,
    key_of,
)
from reconciler.metrics import ReconcilerMetrics
from reconciler.work import CycleResult

if TYPE_CHECKING:
    from imageupdater.imageupdaters import Arbitration, ImageUpdater, ParseResult, Verification
    from imageupdater.imageupdaters.status import ImageChange
    from imageupdater.policy import ImagePolicy

log = logging.getLogger("image_updater.reconciler")

CONFLICT_REASON = "ConfigurationConflict"  # on an Application selected both ways
COMPLETE_TRIGGERS = frozenset({"resync", "once"})
_IMAGE_LIST = PREFIX + "image-list"
_BACKOFF_MAX = 30.0
_ABSENT_RETRY = 60.0  # seconds between looks for a CRD that is not installed


@dataclass(frozen=True, slots=True)
class StoredUpdater:
    """One ImageUpdater as last listed or watched, and its parse (per generation)."""

    obj: Mapping[str, Any]
    parsed: ParseResult

    @property
    def meta(self) -> Mapping[str, Any]:
        metadata = self.obj.get("metadata")
        return metadata if isinstance(metadata, Mapping) else {}

    @property
    def key(self) -> Key:
        return (str(self.meta.get("namespace") or ""), str(self.meta.get("name") or ""))

    @property
    def uid(self) -> str:
        return str(self.meta.get("uid") or "")

    @property
    def generation(self) -> int:
        value = self.meta.get("generation")
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    @property
    def status(self) -> Mapping[str, Any] | None:
        value = self.obj.get("status")
        return value if isinstance(value, Mapping) else None

    @property
    def updater(self) -> ImageUpdater | None:
        return self.parsed.updater


def _spec_identity(obj: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes a watched version news: a new object, a new generation, or new metadata
    the parse reads (the applied record, labels are not read). Status writes are not."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    assert isinstance(meta, Mapping)
    annotations = meta.get("annotations")
    applied = (
        annotations.get("kubectl.kubernetes.io/last-applied-configuration")
        if isinstance(annotations, Mapping)
        else None
    )
    return (meta.get("uid"), meta.get("generation"), applied)


def _lists_images(app: Application) -> bool:
    annotations = app.get("metadata", {}).get("annotations")
    return isinstance(annotations, Mapping) and isinstance(annotations.get(_IMAGE_LIST), str)


class ImageUpdaters:
    """The ImageUpdater resources of the watched namespaces, as a cycle's ``ConfigSource``.

    Owns what lives across cycles: the parsed resources, each Application's last state,
    the statuses written. ``connect`` hands it the controller's index and its request for a
    targeted cycle (both exist only once the controller does).
    """

    def __init__(
        self,
        client: kube.KubeClient | None,
        *,
        events: EventRecorder,
        namespaces: Sequence[str] | None,
        annotation_namespaces: Iterable[str] | None = None,
        rules: CredentialRules | None = None,
        dry_run: bool = False,
        is_leader: Callable[[], bool] = lambda: True,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        checked_at_resolution: dt.timedelta = dt.timedelta(minutes=10),
        metrics: ReconcilerMetrics | None = None,
        watch_timeout: int = 300,
        absent_retry: float = _ABSENT_RETRY,
    ) -> None:
        self.client = client
        self.events = events
        # None = every namespace (one list and watch for all).
        self.scopes: tuple[str | None, ...] = (None,) if namespaces is None else tuple(namespaces)
        # Where an Application no resource selects is configured by its annotations (None =
        # everywhere): namespaces watched only for ImageUpdaters are not annotation mode.
        self.annotation_namespaces = (
            None if annotation_namespaces is None else frozenset(annotation_namespaces)
        )
        self.rules = rules or CredentialRules()
        self.dry_run = dry_run
        self.is_leader = is_leader
        self.clock = clock
        self.checked_at_resolution = checked_at_resolution
        self.watch_timeout = watch_timeout
        self.absent_retry = absent_retry
        self.stored: dict[Key, StoredUpdater] = {}
        self._by_namespace: dict[str, list[ImageUpdater]] = {}
        self._apps: Callable[[], Iterable[Application]] = lambda: ()
        self._request: Callable[[list[str]], object] | None = None
        self._absent_said: set[str | None] = set()
        # Per cycle: each Application's arbitration as the cycle read it.
        self._seen: dict[str, Arbitration] = {}
        # Across cycles.
        self._states: dict[str, AppState] = {}
        self.metrics = metrics
        self._changed: set[Key] = set()
        self._complete = False
        self.statuses = StatusWriter(
            client, events=events, clock=clock, checked_at_resolution=checked_at_resolution
        )

    def connect(
        self, apps: Callable[[], Iterable[Application]], request: Callable[[list[str]], object]
    ) -> None:
        """``apps``: the Applications indexed now; ``request``: a cycle over these keys."""
        self._apps = apps
        self._request = request

    # -- listing and watching ----------------------------------------------------------------

    async def refresh(self) -> dict[str | None, str | None]:
        """List every scope (before the first cycle); returns each list's resourceVersion.
        A scope that cannot be listed is logged and left empty: annotations still work."""
        versions: dict[str | None, str | None] = {}
        for namespace in self.scopes:
            try:
                versions[namespace] = await self._relist(namespace, announce=False)
            except ImageUpdaterError as exc:
                self._unlisted(namespace, exc)
                versions[namespace] = None
        return versions

    def _unlisted(self, namespace: str | None, exc: ImageUpdaterError) -> None:
        where = namespace or "all namespaces"
        if isinstance(exc, KubeNotFound):
            if namespace not in self._absent_said:
                self._absent_said.add(namespace)
                log.info(
                    "ImageUpdater resources cannot be listed in %s (the CRD "
                    "imageupdaters.argocd-image-updater.argoproj.io is not installed?): "
                    "Applications there are configured by their annotations only",
                    where,
                )
            return
        log.warning("cannot list ImageUpdater resources in %s: %s", where, exc)

    async def _relist(self, namespace: str | None, *, announce: bool = True) -> str | None:
        assert self.client is not None
        listed = await self.client.list(IMAGE_UPDATERS, namespace)
        if namespace in self._absent_said:
            self._absent_said.discard(namespace)
            log.info("ImageUpdater resources are served in %s now", namespace or "all namespaces")
        seen: set[Key] = set()
        for obj in listed.get("items") or []:
            if isinstance(obj, Mapping):
                # A list's items carry no apiVersion/kind; the parse and Events want them.
                full = {"apiVersion": IMAGE_UPDATERS.api_version, "kind": "ImageUpdater", **obj}
                seen.add(self._store(full, announce=announce))
        for key in [k for k in self.stored if namespace is None or k[0] == namespace]:
            if key not in seen:
                self._remove(key, announce=announce)
        version = (listed.get("metadata") or {}).get("resourceVersion")
        return version if isinstance(version, str) else None

    def _store(self, obj: Mapping[str, Any], *, announce: bool) -> Key:
        from imageupdater.imageupdaters import parse

        meta = obj.get("metadata") or {}
        key: Key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        old = self.stored.get(key)
        if old is not None and _spec_identity(old.obj) == _spec_identity(obj):
            self.stored[key] = StoredUpdater(obj, old.parsed)  # a status write: keep the parse
            return key
        stored = StoredUpdater(obj, parse(obj, rules=self.rules))
        self.stored[key] = stored
        self._reindex(key[0])
        self._changed.add(key)
        if stored.parsed.errors:
            log.warning(
                "ImageUpdater %s/%s is invalid: %s",
                *key,
                "; ".join(str(p) for p in stored.parsed.errors),
            )
        if announce:
            self._announce(key[0], old, stored)
        return key

    def _remove(self, key: Key, *, announce: bool) -> None:
        old = self.stored.pop(key, None)
        self.statuses.forget(key)
        if self.metrics is not None and old is not None:
            # A deleted resource's series go with it, as upstream's finalizer removes them.
            with contextlib.suppress(KeyError):
                self.metrics.applications_watched.remove(key[1], key[0])
        self._changed.discard(key)
        self._reindex(key[0])
        if announce and old is not None:
            self._announce(key[0], old, None)

    def _reindex(self, namespace: str) -> None:
        found = [
            s.updater
            for k, s in sorted(self.stored.items())
            if k[0] == namespace and s.updater is not None
        ]
        if found:
            self._by_namespace[namespace] = found
        else:
            self._by_namespace.pop(namespace, None)

    def _announce(
        self, namespace: str, old: StoredUpdater | None, new: StoredUpdater | None
    ) -> None:
        """Ask for a cycle over the Applications either version selects (those the old one
        no longer selects go back to their annotations, or to nothing)."""
        from imageupdater.imageupdaters import bind

        updaters = [s.updater for s in (old, new) if s is not None and s.updater is not None]
        keys = sorted(
            {
                app_key(app)
                for app in self._apps()
                if app.get("metadata", {}).get("namespace") == namespace
                and any(bind(u, app) is not None for u in updaters)
            }
        )
        if self._request is not None:
            # Even with no Application: the cycle's end writes the resource's status.
            asked = self._request(keys)
            if isinstance(asked, asyncio.Future):
                # Nobody waits for it; a failed cycle is logged by the controller.
                asked.add_done_callback(lambda f: f.cancelled() or f.exception())

    async def run(self, versions: Mapping[str | None, str | None] | None = None) -> None:
        """Watch every scope until cancelled."""
        versions = versions or {}
        tasks = [
            asyncio.create_task(self._watch(namespace, versions.get(namespace)))
            for namespace in self.scopes
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _watch(self, namespace: str | None, version: str | None) -> None:
        assert self.client is not None
        where = namespace or "all namespaces"
        backoff = 1.0
        while True:
            try:
                if version is None:
                    version = await self._relist(namespace)
                async for event in self.client.watch(
                    IMAGE_UPDATERS,
                    namespace,
                    resource_version=version,
                    timeout_seconds=self.watch_timeout,
                ):
                    backoff = 1.0
                    meta = event.object.get("metadata") or {}
                    version = meta.get("resourceVersion") or version
                    if event.type == "BOOKMARK":
                        continue
                    key: Key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
                    if event.type == "DELETED":
                        self._remove(key, announce=True)
                        continue
                    full = {
                        "apiVersion": IMAGE_UPDATERS.api_version,
                        "kind": "ImageUpdater",
                        **event.object,
                    }
                    self._store(full, announce=True)
                    stored = self.stored.get(key)
                    if stored is not None and self._writes_status():
                        await self.statuses.mark_reconciling(stored)
            except KubeGone:
                log.info("watch of ImageUpdaters in %s expired (410); relisting", where)
                version = None
            except KubeNotFound as exc:
                self._unlisted(namespace, exc)
                version = None
                await asyncio.sleep(self.absent_retry)
            except KubeError as exc:
                log.warning(
                    "watch of ImageUpdaters in %s failed, relisting in %.0fs: %s",
                    where,
                    backoff,
                    exc,
                )
                version = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)

    # -- the configuration of each Application (ConfigSource) --------------------------------

    async def reviewed(
        self, app: Application, memo: ReviewMemo, rules: CredentialRules
    ) -> Reviewed | None:
        namespace = app.get("metadata", {}).get("namespace") or ""
        key = app_key(app)
        updaters = self._by_namespace.get(namespace)
        if not updaters:
            self._seen.pop(key, None)
            self._states.pop(key, None)
            return self._annotations(app, namespace, memo, rules)
        from imageupdater.imageupdaters import FromResource, Unusable, arbitrate

        arbitration = arbitrate(updaters, app)
        self._seen[key] = arbitration
        winner = arbitration.winner
        if winner is None or not isinstance(winner.source, FromResource | Unusable):
            # Nobody selects it, or the winner says useAnnotations: true.
            await self.events.forget(key, CONFLICT_REASON)
            if winner is None:
                return self._annotations(app, namespace, memo, rules)
            return memo.reviewed(app, rules)
        ref = winner.ref
        unusable = isinstance(winner.source, Unusable)
        if _lists_images(app):
            what = (
                "whose settings are invalid (see its status), so nothing is updated"
                if unusable
                else "which configures its images"
            )
            await self.events.record(
                app,
                "Warning",
                CONFLICT_REASON,
                f"selected by ImageUpdater '{winner.updater.name}' ({ref.path}, namePattern "
                f"'{ref.name_pattern}'), {what}: the annotation {_IMAGE_LIST} and the other "
                f"{PREFIX}* annotations are ignored; set useAnnotations: true in that "
                "applicationRef to use them, or remove them",
            )
        else:
            await self.events.forget(key, CONFLICT_REASON)
        if isinstance(winner.source, FromResource):
            return reviewed_from_config(app, winner.source.config, memo)
        return None

    def owner(self, app: Application) -> tuple[str, str] | None:
        """(name, namespace) of the resource acting on ``app``: as this cycle arbitrated,
        else as the last one did; None when none does (its annotations, if any)."""
        key = app_key(app)
        arbitration = self._seen.get(key)
        if arbitration is not None:
            winner = arbitration.winner
            if winner is None:
                return None
            return (winner.updater.name, winner.updater.namespace or "")
        state = self._states.get(key)
        if state is None or state.winner is None:
            return None
        return (state.winner[1], state.winner[0])

    def verification(self, app: Application, policy: ImagePolicy) -> Verification | None:
        """Whether ``policy`` (an image of ``app`` as this cycle configured it) must be
        signed: its effective ``imagesVerification`` when enabled, else None (annotation
        mode, no block, or ``enabled: false``)."""
        arbitration = self._seen.get(app_key(app))
        winner = arbitration.winner if arbitration is not None else None
        if winner is None:
            return None
        from imageupdater.imageupdaters import FromResource, UseAnnotations

        source = winner.source
        found: Verification | None = None
        if isinstance(source, FromResource):
            found = next(
                (
                    v
                    for p, v in zip(source.config.images, source.verifications, strict=False)
                    if p == policy
                ),
                None,
            )
        elif isinstance(source, UseAnnotations):
            found = source.verification
        return found if found is not None and found.enabled else None

    def _annotations(
        self, app: Application, namespace: str, memo: ReviewMemo, rules: CredentialRules
    ) -> Reviewed | None:
        allowed = self.annotation_namespaces
        if allowed is not None and namespace not in allowed:
            return None  # indexed only for the ImageUpdaters of its namespace
        return memo.reviewed(app, rules)

    # -- status ------------------------------------------------------------------------------

    @property
    def status_writes(self) -> int:
        return self.statuses.writes

    def _writes_status(self) -> bool:
        """Only the leader writes statuses, and never in a dry run."""
        return not self.dry_run and self.client is not None and self.is_leader()

    def _count_watched(self) -> None:
        """``argocd_image_updater_applications_watched_total`` per resource, as upstream v1
        exports it: the Applications each one acts on (0 for one that acts on none)."""
        if self.metrics is None:
            return
        acting: dict[Key, int] = dict.fromkeys(self.stored, 0)
        for state in self._states.values():
            if state.winner is not None and state.winner in acting:
                acting[state.winner] += 1
        for (namespace, name), count in acting.items():
            self.metrics.applications_watched.labels(name, namespace).set(count)

    async def finish(self, result: CycleResult, trigger: str) -> None:
        complete = trigger in COMPLETE_TRIGGERS
        seen, self._seen = self._seen, {}
        touched: set[Key] = set(self._changed)
        changes: dict[Key, list[ImageChange]] = {}
        for key, arbitration in seen.items():
            tally = result.apps.get(key)
            winner = arbitration.winner
            owner = key_of(winner.updater) if winner is not None else None
            previous = self._states.get(key)
            if previous is not None and previous.winner is not None:
                touched.add(previous.winner)
            if owner is not None:
                touched.add(owner)
                if tally is not None and tally.changes:
                    changes.setdefault(owner, []).extend(image_changes(tally.changes))
            for loser in arbitration.superseded:
                touched.add(key_of(loser.binding.updater))
            self._states[key] = AppState(
                owner,
                arbitration.superseded,
                tally.images if tally is not None else 0,
                tally.errors if tally is not None else 0,
            )
        if complete:
            self._complete = True
            for gone in set(self._states) - set(seen):
                del self._states[gone]
            touched |= set(self.stored)
        self._count_watched()
        if not self._complete or not self._writes_status():
            if self.dry_run:
                self._changed.clear()
            return
        self._changed.clear()
        for resource in sorted(touched):
            stored = self.stored.get(resource)
            if stored is not None:
                await self.statuses.report(stored, changes.get(resource, []), self._states)


def application_namespaces(
    annotations: Sequence[str], watched: Sequence[str] | None
) -> tuple[str, ...]:
    """Where Applications are indexed: the annotation namespaces (``--application-namespace``,
    () = all) and the ImageUpdaters' (``--watch-namespaces``, None = all), since a resource
    selects Applications of its own namespace. () = every namespace."""
    if not annotations or watched is None:
        return ()
    return tuple(dict.fromkeys([*annotations, *watched]))
