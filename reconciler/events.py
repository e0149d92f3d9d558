"""Kubernetes Events on Applications: what was updated, and what went wrong.

``ImagesUpdated`` carries upstream's per-image annotations
(``argocd-image-updater.image-<i>/full-image-name``, ``…/image-name``, ``…/old-tag``,
``…/new-tag``) and message, so existing alerting keeps working; each update is an Event of its
own. Failures — invalid annotations, registry errors, deferrals by sync windows — are
Warning/Normal Events too, which upstream lacks, and they repeat every cycle while the
condition lasts. Repeats are aggregated the way client-go's event correlator does it: the
same (Application, type, reason, message) does not create a new Event but raises the
existing one's ``count`` and ``lastTimestamp`` with a merge patch. So that a condition does
not cost an API write per cycle either, the patch is sent at most once per
``aggregation_interval`` (occurrences in between are counted, so ``count`` is exact when it
is written) and once more when the condition clears or its message changes. A changed
message starts a new Event; so does a condition that cleared and came back.

That only works if messages are stable: callers must keep counters, countdowns and clock
readings out of them (they belong in the log).
"""

from __future__ import annotations

__all__ = ["AGGREGATION_INTERVAL", "EventRecorder", "shorten"]

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from imageupdater import kube
from imageupdater.application import Application
from imageupdater.errors import KubeError, KubeNotFound
from imageupdater.plan import Change
from reconciler.work import Commit

log = logging.getLogger("image_updater.reconciler")

COMPONENT = "ArgocdImageUpdater"
EventType = Literal["Normal", "Warning"]
# Kubernetes rejects Event messages longer than this many bytes.
_MAX_MESSAGE = 1024
_ELLIPSIS = "…"
# A cut goes back at most this far for a space; past it a word is cut (a long URL or digest).
_WORD_SEARCH = 80
# How often a repeating Event's count is written back (client-go patches on every repeat,
# but it sees a repeat per failure, not one per Application per cycle).
AGGREGATION_INTERVAL = dt.timedelta(minutes=5)


@dataclass(slots=True)
class _Series:
    """One Event in the cluster and the occurrences it stands for."""

    uid: str
    event_type: str
    message: str
    namespace: str
    name: str  # the Event's metadata.name
    body: dict[str, Any]  # as created, to re-create it if the cluster dropped it (event TTL)
    count: int  # occurrences so far
    written: int  # the count the cluster has
    last_seen: dt.datetime
    written_at: dt.datetime


def shorten(message: str, limit: int = _MAX_MESSAGE) -> str:
    """``message`` in at most ``limit`` UTF-8 bytes: whole when it fits, else cut after the
    last word that fits, ending in an ellipsis — never mid-word, never mid-character.

    Only a word longer than the search window (a URL, a digest) is cut inside.
    """
    if len(message.encode()) <= limit:
        return message
    room = limit - len(_ELLIPSIS.encode())
    head = message.encode()[:room].decode(errors="ignore")
    # The cut fell between words when the next character is a space.
    if not message[len(head) : len(head) + 1].isspace():
        for index in range(len(head) - 1, max(len(head) - _WORD_SEARCH, 0) - 1, -1):
            if head[index].isspace():
                head = head[:index]
                break
    return head.rstrip().rstrip(";,:").rstrip() + _ELLIPSIS


def _timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventRecorder:
    def __init__(
        self,
        client: kube.KubeClient | None,
        *,
        enabled: bool = True,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        aggregation_interval: dt.timedelta = AGGREGATION_INTERVAL,
    ) -> None:
        self._client = client
        self.enabled = enabled and client is not None
        self._clock = clock
        self.aggregation_interval = aggregation_interval
        self._series: dict[tuple[str, str], _Series] = {}
        self.sent = 0  # Events created
        self.patched = 0  # count updates written

    async def record(
        self,
        app: Application,
        event_type: EventType,
        reason: str,
        message: str,
        *,
        annotations: Mapping[str, str] | None = None,
        aggregate: bool = True,
    ) -> None:
        """Report an occurrence: a new Event, or one more on the Event that said the same.

        ``aggregate=False`` always creates a new Event (each image update is news of its own,
        with its own annotations).
        """
        if not self.enabled or self._client is None:
            return
        meta = app.get("metadata", {})
        key = (f"{meta.get('namespace', '')}/{meta.get('name', '')}", reason)
        now = self._clock()
        message = shorten(message)
        series = self._series.get(key) if aggregate else None
        if (
            series is not None
            and series.uid == meta.get("uid", "")
            and series.event_type == event_type
            and series.message == message
        ):
            series.count += 1
            series.last_seen = now
            if now - series.written_at >= self.aggregation_interval:
                await self._write_count(series, reason)
            return
        if series is not None:
            await self._flush(key)
        created = await self._create(app, event_type, reason, message, annotations, now)
        if aggregate and created is not None:
            self._series[key] = created

    async def forget(self, app_key: str, reason: str) -> None:
        """The condition cleared: write its final count; the next occurrence is a new Event."""
        # Called for every Application and reason each cycle, mostly with nothing to do.
        if (app_key, reason) in self._series:
            await self._flush((app_key, reason))

    async def _flush(self, key: tuple[str, str]) -> None:
        series = self._series.pop(key, None)
        if series is not None and series.count != series.written:
            await self._write_count(series, key[1])

    async def _create(
        self,
        app: Application,
        event_type: EventType,
        reason: str,
        message: str,
        annotations: Mapping[str, str] | None,
        now: dt.datetime,
    ) -> _Series | None:
        assert self._client is not None
        meta = app.get("metadata", {})
        namespace = meta.get("namespace", "default")
        name = f"{meta.get('name', 'app')}.{uuid.uuid4().hex[:16]}"
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "annotations": dict(annotations or {}),
            },
            "involvedObject": {
                # An ImageUpdater's Events name it; everything else is an Application's.
                "apiVersion": app.get("apiVersion") or "argoproj.io/v1alpha1",
                "kind": app.get("kind") or "Application",
                "name": meta.get("name", ""),
                "namespace": namespace,
                "uid": meta.get("uid", ""),
                "resourceVersion": meta.get("resourceVersion", ""),
            },
            "reason": reason,
            "message": message,
            "type": event_type,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "firstTimestamp": _timestamp(now),
            "lastTimestamp": _timestamp(now),
            "count": 1,
        }
        try:
            await self._client.create(kube.EVENTS, namespace, body)
        except KubeError as exc:
            # An Event is best effort: never fail an update because its Event was refused.
            log.warning(
                "could not record event %s on %s/%s: %s", reason, namespace, meta.get("name"), exc
            )
            return None
        self.sent += 1
        return _Series(
            uid=meta.get("uid", ""),
            event_type=event_type,
            message=message,
            namespace=namespace,
            name=name,
            body=body,
            count=1,
            written=1,
            last_seen=now,
            written_at=now,
        )

    async def _write_count(self, series: _Series, reason: str) -> None:
        assert self._client is not None
        # Occurrences recorded while this write is under way stay pending for the next one.
        count = series.count
        patch = {"count": count, "lastTimestamp": _timestamp(series.last_seen)}
        try:
            try:
                await self._client.patch(kube.EVENTS, series.namespace, series.name, patch)
            except KubeNotFound:
                # Expired (the API server's event TTL) or deleted: like client-go, create it
                # again under its name, carrying the whole count.
                body = {**series.body, "metadata": dict(series.body["metadata"]), **patch}
                await self._client.create(kube.EVENTS, series.namespace, body)
        except KubeError as exc:
            # Keep counting (the next write carries every occurrence), but do not retry
            # before the next interval: a refusing API server gets no write per cycle either.
            series.written_at = self._clock()
            log.warning(
                "could not update event %s on %s (%s): %s",
                reason,
                series.body["involvedObject"]["name"],
                series.name,
                exc,
            )
            return
        series.written = count
        series.written_at = self._clock()
        self.patched += 1

    async def images_updated(
        self, app: Application, changes: Sequence[Change], *, commit: Commit | None = None
    ) -> None:
        annotations: dict[str, str] = {}
        for index, change in enumerate(changes):
            prefix = f"argocd-image-updater.image-{index}"
            annotations[f"{prefix}/full-image-name"] = f"{change.image}:{change.new}"
            annotations[f"{prefix}/image-name"] = change.image
            annotations[f"{prefix}/old-tag"] = str(change.old or "")
            annotations[f"{prefix}/new-tag"] = str(change.new)
        name = app.get("metadata", {}).get("name", "")
        message = f"Successfully updated application '{name}'"
        if commit is not None:
            message += (
                f" in commit {commit.sha[:12]} on branch {commit.branch} of {commit.repository}"
            )
            annotations["argocd-image-updater.git/commit"] = commit.sha
            annotations["argocd-image-updater.git/branch"] = commit.branch
            if commit.pull_request is not None:
                message += f"; pull request {commit.pull_request}"
                annotations["argocd-image-updater.git/pull-request"] = commit.pull_request
        await self.record(
            app,
            "Normal",
            "ImagesUpdated",
            message,
            annotations=annotations,
            aggregate=False,
        )
