"""The status of ImageUpdater resources, as upstream writes it (§17.5): built with
``imageupdater.imageupdaters.completed_status`` from the last cycle of each Application a
resource acts on, and written to the ``status`` subresource with a merge patch only when it
differs (``status_changed``; a ``lastCheckedAt`` younger than ``checked_at_resolution`` does
not count). What this process wrote is remembered per resource uid, since its watch may not
have brought it back yet. Whether to write at all (leader, dry run) is the caller's call.
"""

from __future__ import annotations

__all__ = ["INVALID_REASON", "AppState", "Key", "StatusWriter", "image_changes", "key_of"]

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from imageupdater import kube
from imageupdater.application import Application
from imageupdater.errors import KubeError, KubeNotFound
from reconciler.events import EventRecorder

if TYPE_CHECKING:
    from imageupdater.imageupdaters import ImageUpdater, Superseded
    from imageupdater.imageupdaters.status import ImageChange
    from reconciler.imageupdaters import StoredUpdater

log = logging.getLogger("image_updater.reconciler")

IMAGE_UPDATERS = kube.Resource("argocd-image-updater.argoproj.io", "v1alpha1", "imageupdaters")
INVALID_REASON = "InvalidImageUpdater"  # on a resource with errors
_SHOWN = 10  # Superseded Applications named in one Event

Key = tuple[str, str]  # (namespace, name) of a resource


@dataclass(frozen=True, slots=True)
class AppState:
    """An Application as its last cycle left it: who acts on it, who stood back, its tally."""

    winner: Key | None
    superseded: tuple[Superseded, ...] = ()
    images: int = 0
    errors: int = 0


@dataclass(slots=True)
class _Written:
    """The status this process last wrote for one resource (uid), which its watch may not
    have brought back yet."""

    uid: str
    status: Mapping[str, Any]


class StatusWriter:
    """Writes statuses; ``writes`` counts those that reached the API."""

    def __init__(
        self,
        client: kube.KubeClient | None,
        *,
        events: EventRecorder,
        clock: Callable[[], dt.datetime],
        checked_at_resolution: dt.timedelta,
    ) -> None:
        self.client = client
        self.events = events
        self.clock = clock
        self.checked_at_resolution = checked_at_resolution
        self.writes = 0
        self._written: dict[Key, _Written] = {}

    def forget(self, key: Key) -> None:
        """The resource is gone."""
        self._written.pop(key, None)

    async def report(
        self,
        stored: StoredUpdater,
        changes: list[ImageChange],
        states: Mapping[str, AppState],
    ) -> None:
        """Write ``stored``'s status from the last cycle of each Application (``states``)."""
        from imageupdater.imageupdaters import CycleResult, completed_status
        from imageupdater.imageupdaters.selection import SUPERSEDED_REASON

        key = stored.key
        parsed = stored.parsed
        mine = [s for s in states.values() if s.winner == key]
        superseded = [
            loser
            for state in states.values()
            for loser in state.superseded
            if key_of(loser.binding.updater) == key
        ]
        superseded.sort(key=lambda s: s.binding.application)
        failure = None
        if parsed.errors:
            failure = "invalid ImageUpdater: " + "; ".join(str(p) for p in parsed.errors)
            await self.events.record(_event_object(stored), "Warning", INVALID_REASON, failure)
        else:
            await self.events.forget(_event_key(stored), INVALID_REASON)
        outcome = CycleResult(
            applications_matched=len(mine),
            images_considered=sum(s.images for s in mine),
            images_updated=len(changes),
            errors=sum(s.errors for s in mine),
            changes=tuple(changes),
            failure=failure,
            superseded=tuple(superseded),
        )
        if superseded:
            shown = "; ".join(s.message for s in superseded[:_SHOWN])
            more = f"; and {len(superseded) - _SHOWN} more" if len(superseded) > _SHOWN else ""
            await self.events.record(
                _event_object(stored), "Normal", SUPERSEDED_REASON, shown + more
            )
        else:
            await self.events.forget(_event_key(stored), SUPERSEDED_REASON)
        previous = self.previous(stored)
        status = completed_status(previous, outcome, generation=stored.generation, now=self.clock())
        await self._write(stored, previous, status)

    def previous(self, stored: StoredUpdater) -> Mapping[str, Any] | None:
        written = self._written.get(stored.key)
        if written is not None and written.uid == stored.uid:
            return written.status
        return stored.status

    async def mark_reconciling(self, stored: StoredUpdater) -> None:
        """A generation not seen before: ``Reconciling`` True until its cycle is done."""
        from imageupdater.imageupdaters import reconciling_status

        previous = self.previous(stored)
        observed = (previous or {}).get("observedGeneration")
        if observed == stored.generation:
            return
        status = reconciling_status(previous, generation=stored.generation, now=self.clock())
        await self._write(stored, previous, status)

    async def _write(
        self,
        stored: StoredUpdater,
        previous: Mapping[str, Any] | None,
        status: Mapping[str, Any],
    ) -> None:
        from imageupdater.imageupdaters import status_changed, status_merge_patch

        assert self.client is not None
        if not status_changed(previous, status, checked_at_resolution=self.checked_at_resolution):
            return
        namespace, name = stored.key
        try:
            await self.client.patch(
                IMAGE_UPDATERS, namespace, f"{name}/status", status_merge_patch(previous, status)
            )
        except KubeNotFound:
            return  # deleted since it was seen
        except KubeError as exc:
            # Tried again after the next cycle.
            log.warning("could not write the status of ImageUpdater %s/%s: %s", *stored.key, exc)
            return
        self._written[stored.key] = _Written(stored.uid, dict(status))
        self.writes += 1


def key_of(updater: ImageUpdater) -> Key:
    return (updater.namespace or "", updater.name)


def _event_object(stored: StoredUpdater) -> Application:
    # The recorder reads apiVersion, kind and metadata of whatever it reports on.
    return stored.obj  # type: ignore[return-value]


def _event_key(stored: StoredUpdater) -> str:
    return f"{stored.key[0]}/{stored.key[1]}"


def image_changes(changes: Iterable[Any]) -> list[ImageChange]:
    """The plan's changes as the status words them (``recentUpdates``)."""
    from imageupdater.errors import InvalidInput
    from imageupdater.images import ImageRef
    from imageupdater.imageupdaters import ImageChange

    out: list[ImageChange] = []
    for change in changes:
        try:
            image = ImageRef.parse(change.image)
        except InvalidInput:
            continue
        image = dataclasses.replace(image, tag=None, digest=None, alias=change.alias)
        old = str(change.old) if change.old is not None else "the running version"
        out.append(ImageChange(image, old, str(change.new)))
    return out
