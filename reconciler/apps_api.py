"""Where Applications come from and where patches go: the Kubernetes API or Argo CD's API.

``ApplicationsAPI`` is the one interface the controller uses; ``KubeApplications`` talks to
the Kubernetes API (list + watch, merge patches guarded by ``resourceVersion``) and
``imageupdater.argocd.ArgoCDClient`` to Argo CD's REST API (list + periodic relist; no watch).
Both count requests into the metrics the way upstream's dashboards expect.
"""

from __future__ import annotations

__all__ = ["ApplicationsAPI", "KubeApplications"]

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

from imageupdater import kube
from imageupdater.application import Application
from imageupdater.errors import KubeError, KubeNotFound
from reconciler.metrics import ReconcilerMetrics


class ApplicationsAPI(Protocol):
    watchable: bool

    async def list_all(self) -> tuple[list[Application], str | None]: ...

    def watch(
        self, namespace: str | None, resource_version: str | None
    ) -> AsyncIterator[kube.WatchEvent]: ...

    async def get(self, namespace: str, name: str) -> Application: ...

    async def patch(self, namespace: str, name: str, patch: dict[str, Any]) -> Application: ...

    async def get_project(self, namespace: str, name: str) -> dict[str, Any] | None: ...


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
    ) -> None:
        self._client = client
        self._metrics = metrics
        self.namespaces: tuple[str | None, ...] = tuple(namespaces) or (None,)
        self.label_selector = label_selector
        # AppProjects live in Argo CD's own namespace, whatever namespace the app is in.
        self.project_namespace = project_namespace

    async def _counted(self, verb: str, call: Any) -> Any:
        self._metrics.k8s_requests.inc()
        try:
            result = await call
        except KubeError as exc:
            self._metrics.k8s_errors.inc()
            self._metrics.api_requests.labels(verb, str(exc.status or "error")).inc()
            raise
        self._metrics.api_requests.labels(verb, "ok").inc()
        return result

    async def list_all(self) -> tuple[list[Application], str | None]:
        items: list[Application] = []
        version: str | None = None
        for namespace in self.namespaces:
            listed = await self._counted(
                "list",
                self._client.list(kube.APPLICATIONS, namespace, label_selector=self.label_selector),
            )
            items.extend(listed.get("items") or [])
            version = (listed.get("metadata") or {}).get("resourceVersion")
        # With several namespaces each has its own watch; one version is only meaningful
        # for a single list, which is the common case (all namespaces or one).
        return items, version if len(self.namespaces) == 1 else None

    async def list_namespace(self, namespace: str | None) -> tuple[list[Application], str | None]:
        listed = await self._counted(
            "list",
            self._client.list(kube.APPLICATIONS, namespace, label_selector=self.label_selector),
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
            "get", self._client.get(kube.APPLICATIONS, namespace, name)
        )
        return result

    async def patch(self, namespace: str, name: str, patch: dict[str, Any]) -> Application:
        result: Application = await self._counted(
            "patch", self._client.patch(kube.APPLICATIONS, namespace, name, patch)
        )
        return result

    async def get_project(self, namespace: str, name: str) -> dict[str, Any] | None:
        project_ns = self.project_namespace or namespace
        try:
            project: dict[str, Any] = await self._counted(
                "get", self._client.get(kube.APPPROJECTS, project_ns, name)
            )
        except KubeNotFound:
            return None
        return project
