"""``--applications-api argocd``: Applications read and patched through Argo CD's REST API.

``ArgoCDApplications`` implements ``reconciler.apps_api.ApplicationsAPI`` over
``imageupdater.argocd.ArgoCDClient``. Argo CD's API has no watch the controller could resume,
so ``watchable`` is False and the controller relists every interval (one list per namespace
in ``scopes``). Patches are JSON merge patches and keep the ``metadata.resourceVersion`` the
caller put in them, so a server that honours it turns a concurrent edit into a conflict
(``KubeConflict``); argocd-server itself re-reads and retries, and when it gives up that is a
``KubeConflict`` too.

Every request counts into upstream's ``argocd_image_updater_argocd_api_requests`` /
``..._errors`` (labelled with the server address) and into ``image_updater_api_requests``
by verb and result (``ok`` or the HTTP status, ``error`` for transport failures).
"""

from __future__ import annotations

__all__ = ["ArgoCDApplications"]

from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any, TypeVar, cast

from imageupdater import kube
from imageupdater.application import Application
from imageupdater.argocd import ArgoCDClient
from imageupdater.errors import KubeError, KubeNotFound
from reconciler.apps_api import OwnWrites
from reconciler.metrics import ReconcilerMetrics

T = TypeVar("T")
_NO_EVENTS: tuple[kube.WatchEvent, ...] = ()


class ArgoCDApplications:
    """Applications through argocd-server, in the selected namespaces (empty = all)."""

    watchable = False

    def __init__(
        self,
        client: ArgoCDClient,
        metrics: ReconcilerMetrics,
        *,
        namespaces: Sequence[str] = (),
        label_selector: str | None = None,
    ) -> None:
        self._client = client
        self._metrics = metrics
        self._own_writes = OwnWrites()
        # dict.fromkeys keeps the order and drops repeats of a repeated flag
        self.namespaces: tuple[str, ...] = tuple(dict.fromkeys(n for n in namespaces if n))
        self.label_selector = label_selector or None

    @property
    def server(self) -> str:
        return self._client.server

    async def _counted(self, verb: str, call: Awaitable[T]) -> T:
        self._metrics.argocd_requests.labels(self.server).inc()
        try:
            result = await call
        except KubeError as exc:
            self._metrics.argocd_errors.labels(self.server).inc()
            self._metrics.api_requests.labels(verb, str(exc.status or "error")).inc()
            raise
        self._metrics.api_requests.labels(verb, "ok").inc()
        return result

    @property
    def scopes(self) -> tuple[str | None, ...]:
        return self.namespaces or (None,)

    async def list_all(self) -> tuple[list[Application], str | None]:
        """Every selected Application; no resourceVersion, since nothing can watch from it."""
        apps: list[Application] = []
        for namespace in self.scopes:
            listed, _ = await self.list_namespace(namespace)
            apps.extend(listed)
        return apps, None

    async def list_namespace(self, namespace: str | None) -> tuple[list[Application], str | None]:
        """The selected Applications in ``namespace`` (None = all), in one request."""
        if namespace is None:
            items = await self._counted(
                "list", self._client.list_applications(selector=self.label_selector)
            )
            return cast(list[Application], items), None
        items = await self._counted(
            "list",
            self._client.list_applications(selector=self.label_selector, app_namespace=namespace),
        )
        # Argo CD before 2.5 knows no appNamespace and answers every namespace.
        return [
            cast(Application, item)
            for item in items
            if (item.get("metadata") or {}).get("namespace") == namespace
        ], None

    async def watch(
        self, namespace: str | None, resource_version: str | None
    ) -> AsyncIterator[kube.WatchEvent]:
        """Nothing: ``watchable`` is False and the controller relists instead."""
        for event in _NO_EVENTS:
            yield event

    async def get(self, namespace: str, name: str) -> Application:
        app = await self._counted("get", self._client.get_application(name, namespace or None))
        return cast(Application, app)

    async def patch(self, namespace: str, name: str, patch: dict[str, Any]) -> Application:
        app = await self._counted(
            "patch", self._client.patch_application(name, namespace or None, patch)
        )
        self._own_writes.remember(cast(Application, app))
        return cast(Application, app)

    def own_write(self, app: Application) -> bool:
        return self._own_writes.recognise(app)

    async def get_project(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The AppProject ``name`` (argocd-server knows its namespace), None when missing."""
        try:
            return await self._counted("get", self._client.get_project(name))
        except KubeNotFound:
            return None

    async def close(self) -> None:
        """End the client's HTTP session: the adapter owns the client it is given."""
        await self._client.close()
