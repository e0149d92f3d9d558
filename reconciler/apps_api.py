"""Where Applications come from and where patches go: the Kubernetes API or Argo CD's API.

``ApplicationsAPI`` is the one interface the controller and the cycle use, capabilities
included (``watchable``, ``scopes``, ``close``), so neither asks which adapter it holds.
``KubeApplications`` talks to the Kubernetes API (list + watch, merge patches guarded by
``resourceVersion``) and ``reconciler.argocd_api.ArgoCDApplications`` to Argo CD's REST API
(list + periodic relist; no watch). Both count requests into the metrics the way upstream's
dashboards expect.
"""

from __future__ import annotations

__all__ = [
    "ApplicationsAPI",
    "KubeApplications",
    "OwnWrites",
]

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Protocol

from imageupdater import kube
from imageupdater.application import Application
from imageupdater.errors import KubeError, KubeNotFound, KubeUnavailable
from reconciler.metrics import ReconcilerMetrics

API_RETRIES = 3


class ApplicationsAPI(Protocol):
    @property
    def watchable(self) -> bool:
        """True when ``watch`` reports changes; False: the controller relists each interval."""
        ...

    @property
    def scopes(self) -> tuple[str | None, ...]:
        """The namespaces listed (and, when watchable, watched) one at a time; None = all.

        Never empty: ``(None,)`` when every namespace is selected.
        """
        ...

    async def list_all(self) -> tuple[list[Application], str | None]: ...

    async def list_namespace(self, namespace: str | None) -> tuple[list[Application], str | None]:
        """The selected Applications in one of ``scopes`` and the version to watch from."""
        ...

    def watch(
        self, namespace: str | None, resource_version: str | None
    ) -> AsyncIterator[kube.WatchEvent]: ...

    async def get(self, namespace: str, name: str) -> Application: ...

    async def patch(self, namespace: str, name: str, patch: dict[str, Any]) -> Application: ...

    def own_write(self, app: Application) -> bool:
        """True (once) when ``app`` is exactly what one of our own patches produced: the
        controller then has nothing new to process in it."""
        ...

    async def get_project(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    async def close(self) -> None:
        """Release what the adapter owns (Argo CD's HTTP session); a shared client stays open."""
        ...


class OwnWrites:
    """The resourceVersion each of our patches produced, per Application, until its watch
    event comes back (bounded: an event that never comes must not grow it)."""

    def __init__(self, limit: int = 10_000) -> None:
        self._versions: dict[str, str] = {}
        self._limit = limit

    @staticmethod
    def _key(app: Application) -> tuple[str, str]:
        meta = app.get("metadata", {})
        return f"{meta.get('namespace', '')}/{meta.get('name', '')}", str(
            meta.get("resourceVersion", "")
        )

    def remember(self, app: Application) -> None:
        key, version = self._key(app)
        if version:
            self._versions.pop(key, None)
            self._versions[key] = version
            if len(self._versions) > self._limit:
                self._versions.pop(next(iter(self._versions)))

    def recognise(self, app: Application) -> bool:
        key, version = self._key(app)
        if version and self._versions.get(key) == version:
            del self._versions[key]
            return True
        return False


class KubeApplications:
    """Applications through the Kubernetes API, in the selected namespaces (None = all)."""

    watchable = True

    def __init__(
        self,
        client: kube.KubeClient,
        metrics: ReconcilerMetrics,
        *,
        namespaces: Sequence[str] = (),
        label_selector: str | None = None,
        project_namespace: str | None = None,
        retry_backoff: float = 0.2,
    ) -> None:
        self.retry_backoff = retry_backoff
        self._client = client
        self._metrics = metrics
        self._own_writes = OwnWrites()
        self.namespaces: tuple[str | None, ...] = tuple(namespaces) or (None,)
        self.label_selector = label_selector
        # AppProjects live in Argo CD's own namespace, whatever namespace the app is in.
        self.project_namespace = project_namespace

    async def _counted(self, verb: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """One API call, retried on 429/5xx/transport errors (bounded), counted every try."""
        for attempt in range(API_RETRIES + 1):
            self._metrics.k8s_requests.inc()
            try:
                result = await call()
            except KubeError as exc:
                self._metrics.k8s_errors.inc()
                self._metrics.api_requests.labels(verb, str(exc.status or "error")).inc()
                if not isinstance(exc, KubeUnavailable) or attempt == API_RETRIES:
                    raise
                await asyncio.sleep(self.retry_backoff * 2**attempt * (0.5 + random.random()))  # noqa: S311 - jitter, not crypto
                continue
            self._metrics.api_requests.labels(verb, "ok").inc()
            return result
        raise AssertionError("unreachable")

    async def list_all(self) -> tuple[list[Application], str | None]:
        items: list[Application] = []
        version: str | None = None
        for namespace in self.namespaces:
            listed, version = await self.list_namespace(namespace)
            items.extend(listed)
        # With several namespaces each has its own watch; one version is only meaningful
        # for a single list, which is the common case (all namespaces or one).
        return items, version if len(self.namespaces) == 1 else None

    @property
    def scopes(self) -> tuple[str | None, ...]:
        return self.namespaces

    async def list_namespace(self, namespace: str | None) -> tuple[list[Application], str | None]:
        listed = await self._counted(
            "list",
            lambda: self._client.list(
                kube.APPLICATIONS, namespace, label_selector=self.label_selector
            ),
        )
        version = (listed.get("metadata") or {}).get("resourceVersion")
        return list(listed.get("items") or []), version

    async def watch(
        self, namespace: str | None, resource_version: str | None
    ) -> AsyncIterator[kube.WatchEvent]:
        self._metrics.k8s_requests.inc()
        self._metrics.api_requests.labels("watch", "ok").inc()
        async for event in self._client.watch(
            kube.APPLICATIONS,
            namespace,
            resource_version=resource_version,
            label_selector=self.label_selector,
        ):
            yield event

    async def get(self, namespace: str, name: str) -> Application:
        result: Application = await self._counted(
            "get", lambda: self._client.get(kube.APPLICATIONS, namespace, name)
        )
        return result

    async def patch(self, namespace: str, name: str, patch: dict[str, Any]) -> Application:
        result: Application = await self._counted(
            "patch", lambda: self._client.patch(kube.APPLICATIONS, namespace, name, patch)
        )
        self._own_writes.remember(result)
        return result

    def own_write(self, app: Application) -> bool:
        return self._own_writes.recognise(app)

    async def get_project(self, namespace: str, name: str) -> dict[str, Any] | None:
        project_ns = self.project_namespace or namespace
        try:
            project: dict[str, Any] = await self._counted(
                "get", lambda: self._client.get(kube.APPPROJECTS, project_ns, name)
            )
        except KubeNotFound:
            return None
        return project

    async def close(self) -> None:
        """Nothing to release: the Kubernetes client belongs to whoever passed it in."""
