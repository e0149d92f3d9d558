"""Kubernetes Events on Applications: what was updated, and what went wrong.

``ImagesUpdated`` carries upstream's per-image annotations
(``argocd-image-updater.image-<i>/full-image-name``, ``…/image-name``, ``…/old-tag``,
``…/new-tag``) and message, so existing alerting keeps working. Failures — invalid
annotations, registry errors, deferrals by sync windows — are Warning/Normal events too,
which upstream lacks; the same message is not repeated for an Application until it changes,
so a broken configuration does not emit an Event every cycle.
"""

from __future__ import annotations

__all__ = ["EventRecorder"]

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from imageupdater import kube
from imageupdater.application import Application
from imageupdater.errors import KubeError
from imageupdater.plan import Change

log = logging.getLogger("image_updater.reconciler")

COMPONENT = "ArgocdImageUpdater"
EventType = Literal["Normal", "Warning"]
# Kubernetes rejects Event messages longer than this.
_MAX_MESSAGE = 1024


class EventRecorder:
    def __init__(
        self,
        client: kube.KubeClient | None,
        *,
        enabled: bool = True,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._client = client
        self.enabled = enabled and client is not None
        self._clock = clock
        self._last: dict[tuple[str, str], str] = {}
        self.sent = 0

    async def record(
        self,
        app: Application,
        event_type: EventType,
        reason: str,
        message: str,
        *,
        annotations: Mapping[str, str] | None = None,
        once: bool = False,
    ) -> None:
        """Create an Event; with ``once``, skip it if the last one for this reason said the same."""
        meta = app.get("metadata", {})
        key = (f"{meta.get('namespace', '')}/{meta.get('name', '')}", reason)
        if once and self._last.get(key) == message:
            return
        self._last[key] = message
        if not self.enabled or self._client is None:
            return
        now = self._clock().strftime("%Y-%m-%dT%H:%M:%SZ")
        namespace = meta.get("namespace", "default")
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta.get('name', 'app')}.{uuid.uuid4().hex[:16]}",
                "namespace": namespace,
                "annotations": dict(annotations or {}),
            },
            "involvedObject": {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "name": meta.get("name", ""),
                "namespace": namespace,
                "uid": meta.get("uid", ""),
                "resourceVersion": meta.get("resourceVersion", ""),
            },
            "reason": reason,
            "message": message[:_MAX_MESSAGE],
            "type": event_type,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self._client.create(kube.EVENTS, namespace, body)
            self.sent += 1
        except KubeError as exc:
            # An Event is best effort: never fail an update because its Event was refused.
            log.warning("could not record event %s on %s/%s: %s", reason, *key[0].split("/"), exc)

    def forget(self, app_key: str, reason: str) -> None:
        """The condition cleared: the next occurrence is reported again."""
        self._last.pop((app_key, reason), None)

    async def images_updated(self, app: Application, changes: Sequence[Change]) -> None:
        annotations: dict[str, str] = {}
        for index, change in enumerate(changes):
            prefix = f"argocd-image-updater.image-{index}"
            annotations[f"{prefix}/full-image-name"] = f"{change.image}:{change.new}"
            annotations[f"{prefix}/image-name"] = change.image
            annotations[f"{prefix}/old-tag"] = change.old or ""
            annotations[f"{prefix}/new-tag"] = change.new
        name = app.get("metadata", {}).get("name", "")
        await self.record(
            app,
            "Normal",
            "ImagesUpdated",
            f"Successfully updated application '{name}'",
            annotations=annotations,
        )
