"""``KubeClient``: the API server over aiohttp, raw JSON in and out.

Objects travel as plain dicts (``TypedDict`` at the call sites), never as generated models:
Argo CD Applications are custom objects anyway, and plain dicts keep the webhook, the
reconciler and the emulator-driven tests speaking the same JSON. Every non-2xx answer and
transport error becomes one of ``KubeError``'s subclasses (statuses by the table in
:func:`imageupdater.errors.kube_error`, shared with the Argo CD adapter) with a message that
names the object, never a token or a Secret's data.

One ``aiohttp.ClientSession`` per client, which does not read the environment itself
(``trust_env=False``: no per-request proxy or ``.netrc`` look-ups); the proxy is chosen once
(:mod:`.proxy`). Normal calls have connect and read timeouts; a watch has none beyond its
``timeoutSeconds`` and a margin. A 401 is retried once when the credential source renewed
what it sent (an exec plugin re-run, a token file re-read).
"""

from __future__ import annotations

__all__ = ["KubeClient"]

import contextlib
import json
import os
import ssl
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import aiohttp

from imageupdater import __version__
from imageupdater.errors import (
    CredentialError,
    InvalidKubeconfig,
    KubeError,
    KubeNotFound,
    KubeUnavailable,
    kube_error,
)

from .credentials import Credentials, CredentialSource, source_for
from .incluster import SERVICE_ACCOUNT, ServiceAccount
from .locate import choose
from .proxy import Proxy, proxy_for
from .resources import JSON, MERGE_PATCH, SECRETS, Resource, WatchEvent, decode_secret_data
from .settings import Connection
from .tls import TLSContexts
from .watchstream import lines, watch_event

_CALL_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)
_WATCH_MARGIN = 30  # seconds past timeoutSeconds before a silent watch counts as lost


def _status_error(status: int, body: bytes | None, what: str) -> KubeError:
    """The error for a non-2xx answer, worded from the Kubernetes Status body when there is one."""
    reason = ""
    try:
        decoded = json.loads(body) if body else {}
        if isinstance(decoded, dict):
            reason = str(decoded.get("message", ""))[:300]
    except (TypeError, ValueError):
        reason = ""
    return kube_error(status, f"{what}: {reason or 'HTTP ' + str(status)}")


def _transport_error(exc: BaseException, what: str) -> KubeUnavailable:
    detail = str(exc) or ("timed out" if isinstance(exc, TimeoutError) else "")
    return KubeUnavailable(f"{what}: {type(exc).__name__}: {detail}")


class KubeClient:
    """Typed access to the API objects Image Updater reads and writes."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        connection: Connection,
        credentials: CredentialSource,
        tls: TLSContexts | None,
        proxy: Proxy | None,
    ) -> None:
        self._session = session
        self._connection = connection
        self._credentials = credentials
        self._tls = tls
        cluster = connection.cluster
        self._server = cluster.server
        self._static: dict[str, Any] = {}
        if proxy is not None:
            self._static["proxy"] = proxy.url
            if proxy.username is not None:
                self._static["proxy_headers"] = {"Proxy-Authorization": proxy.authorization}
        if cluster.https and cluster.tls_server_name:
            self._static["server_hostname"] = cluster.tls_server_name
        self._impersonate = connection.user.impersonate

    @classmethod
    async def connect(
        cls,
        kubeconfig: str | None = None,
        *,
        context: str | None = None,
        environ: Mapping[str, str] | None = None,
        service_account: ServiceAccount = SERVICE_ACCOUNT,
        clock: Callable[[], float] = time.monotonic,
    ) -> KubeClient:
        """A client from ``kubeconfig``, else ``$KUBECONFIG``, else the in-cluster service
        account when in a pod, else ``~/.kube/config`` (see :func:`kubeconfig_problem`).

        The credentials are fetched (a token file read, an exec plugin run) and the TLS
        context built here, so a broken configuration is an InvalidKubeconfig now, not a
        failure at the first request. ``environ`` (default ``os.environ``) is where
        ``$KUBECONFIG``, the in-cluster variables, proxies and an exec plugin's environment
        come from; ``service_account`` where the pod's token and CA are mounted."""
        env = os.environ if environ is None else environ
        connection = choose(kubeconfig or None, context, env, service_account)
        try:
            credentials = source_for(connection, environ=env, clock=clock)
            first = await credentials.current()
            tls = TLSContexts(connection.cluster) if connection.cluster.https else None
            if tls is not None:
                tls.context(first.certificate)
            proxy = proxy_for(connection.cluster, env)
        except InvalidKubeconfig as exc:
            raise InvalidKubeconfig(f"cannot load {connection.origin}: {exc}") from exc
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=100),
            trust_env=False,
            headers={"User-Agent": f"image-updater/{__version__}"},
        )
        try:
            return cls(session, connection, credentials, tls, proxy)
        except BaseException:
            await session.close()
            raise

    @property
    def server(self) -> str:
        """The API server's URL (scheme, host, port and any path prefix)."""
        return self._server

    async def close(self) -> None:
        await self._session.close()

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- one request ---------------------------------------------------------------------------

    async def _current(self, what: str) -> Credentials:
        try:
            return await self._credentials.current()
        except InvalidKubeconfig as exc:
            raise KubeUnavailable(f"{what}: {exc}") from exc

    def _options(self, credentials: Credentials, content_type: str, what: str) -> dict[str, Any]:
        headers: list[tuple[str, str]] = [
            ("Accept", "application/json"),
            ("Content-Type", content_type),
            *self._impersonate,
        ]
        if credentials.authorization:
            headers.append(("Authorization", credentials.authorization))
        options = {**self._static, "headers": headers}
        if self._tls is not None:
            try:
                context: ssl.SSLContext = self._tls.context(credentials.certificate)
            except InvalidKubeconfig as exc:
                raise KubeUnavailable(f"{what}: {exc}") from exc
            options["ssl"] = context
        return options

    async def _open(
        self,
        method: str,
        path: str,
        *,
        what: str,
        query: Mapping[str, str] | None,
        data: bytes | None,
        content_type: str,
        deadlines: aiohttp.ClientTimeout,
    ) -> aiohttp.ClientResponse:
        """The response, its body unread (the caller releases it); transport errors are the
        caller's to map."""
        url = self._server + path
        for attempt in (1, 2):
            credentials = await self._current(what)
            response = await self._session.request(
                method,
                url,
                params=query,
                data=data,
                timeout=deadlines,
                **self._options(credentials, content_type, what),
            )
            if response.status != 401 or attempt == 2:
                return response
            try:
                renewed = await self._credentials.refused(credentials)
            except InvalidKubeconfig as exc:
                response.release()
                raise KubeUnavailable(f"{what}: {exc}") from exc
            if not renewed:
                return response
            response.release()
        raise AssertionError("unreachable")

    async def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> JSON:
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        try:
            response = await self._open(
                method,
                path,
                what=what,
                query=query,
                data=data,
                content_type=content_type,
                deadlines=_CALL_TIMEOUT,
            )
            try:
                raw = await response.read()
            finally:
                response.release()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise _transport_error(exc, what) from exc
        if not 200 <= response.status <= 299:
            raise _status_error(response.status, raw, what)
        try:
            decoded = json.loads(raw) if raw else {}
        except ValueError as exc:
            raise KubeUnavailable(f"{what}: the API server answered with invalid JSON") from exc
        if not isinstance(decoded, dict):
            raise KubeUnavailable(f"{what}: the API server answered with a non-object")
        return decoded

    # -- generic verbs on any resource (raw JSON) ---------------------------------------------

    async def get(self, resource: Resource, namespace: str | None, name: str) -> JSON:
        what = f"get {resource.plural} {namespace + '/' if namespace else ''}{name}"
        return await self._call("GET", resource.path(namespace, name), what=what)

    async def get_or_none(
        self, resource: Resource, namespace: str | None, name: str
    ) -> JSON | None:
        try:
            return await self.get(resource, namespace, name)
        except KubeNotFound:
            return None

    async def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> JSON:
        query = {}
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        what = f"list {resource.plural}" + (f" in {namespace}" if namespace else "")
        return await self._call("GET", resource.path(namespace), what=what, query=query)

    async def create(self, resource: Resource, namespace: str | None, body: JSON) -> JSON:
        name = body.get("metadata", {}).get("name") or body.get("metadata", {}).get("generateName")
        what = f"create {resource.plural} {namespace + '/' if namespace else ''}{name}"
        return await self._call("POST", resource.path(namespace), what=what, body=body)

    async def replace(self, resource: Resource, namespace: str | None, body: JSON) -> JSON:
        name = body["metadata"]["name"]
        what = f"replace {resource.plural} {namespace + '/' if namespace else ''}{name}"
        return await self._call("PUT", resource.path(namespace, name), what=what, body=body)

    async def patch(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        patch: Any,
        *,
        content_type: str = MERGE_PATCH,
        dry_run: bool = False,
    ) -> JSON:
        what = f"patch {resource.plural} {namespace + '/' if namespace else ''}{name}"
        query = {"dryRun": "All"} if dry_run else None
        return await self._call(
            "PATCH",
            resource.path(namespace, name),
            what=what,
            body=patch,
            content_type=content_type,
            query=query,
        )

    async def watch(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        timeout_seconds: int = 300,
        bookmarks: bool = True,
    ) -> AsyncIterator[WatchEvent]:
        """Events after ``resource_version`` until the server ends the watch; 410 → KubeGone."""
        query = {"watch": "true", "timeoutSeconds": str(timeout_seconds)}
        if bookmarks:
            query["allowWatchBookmarks"] = "true"
        if resource_version:
            query["resourceVersion"] = resource_version
        if label_selector:
            query["labelSelector"] = label_selector
        what = f"watch {resource.plural}" + (f" in {namespace}" if namespace else "")
        deadlines = aiohttp.ClientTimeout(
            total=timeout_seconds + _WATCH_MARGIN, sock_connect=_CALL_TIMEOUT.sock_connect
        )
        try:
            response = await self._open(
                "GET",
                resource.path(namespace),
                what=what,
                query=query,
                data=None,
                content_type="application/json",
                deadlines=deadlines,
            )
            try:
                if not 200 <= response.status <= 299:
                    raise _status_error(response.status, await response.read(), what)
                async with contextlib.aclosing(lines(response.content, what)) as body:
                    async for line in body:
                        event = watch_event(line, what)
                        if event is not None:
                            yield event
            finally:
                response.close()  # a watch left early must not go back to the pool
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise _transport_error(exc, what) from exc

    # -- Secrets -------------------------------------------------------------------------------

    async def read_secret(self, namespace: str, name: str) -> Mapping[str, bytes]:
        """The ``SecretReader`` protocol: decoded data, or CredentialError when unavailable."""
        try:
            secret = await self.get(SECRETS, namespace, name)
        except KubeNotFound as exc:
            raise CredentialError(f"secret {namespace}/{name} not found") from exc
        except KubeError as exc:
            raise CredentialError(f"cannot read secret {namespace}/{name}: {exc}") from exc
        return decode_secret_data(secret)
