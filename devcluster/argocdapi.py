"""An emulator of the argocd-server REST endpoints Image Updater uses, fronting a Kubernetes API.

Like argocd-server, it owns no state: it forwards to the Kubernetes API (normally the
``devcluster.kubeapi`` emulator) over HTTP and answers in grpc-gateway's shapes.

Using it
--------
::

    kube = KubeAPI(); kube_server = await aiohttp_server(kube.app())
    argocd = ArgoCDAPI(str(kube_server.make_url("")), tokens={"s3cret"})
    server = await aiohttp_server(argocd.app())               # plain http
    server = await aiohttp_server(argocd.app(), ssl=context)  # or TLS (e.g. trustme)
    argocd.requests.count(operation="patch", status=409)

or from a thread: ``BackgroundServer(argocd.app, ssl_context=...)`` (``devcluster.tokenserver``).

Endpoints (argocd-server's ``application.proto`` / ``project.proto`` REST mappings)
-----------------------------------------------------------------------------------
- ``GET /api/v1/applications`` with ``selector`` (label selector), ``appNamespace``,
  ``projects``/``project`` (repeatable): ``{"metadata": {"resourceVersion"}, "items"}``,
  items sorted by name like argocd-server. Without ``appNamespace`` every namespace is listed
  (argocd-server with ``application.namespaces: *``).
- ``GET /api/v1/applications/{name}?appNamespace=<ns>``: the Application; the namespace
  defaults to the control-plane namespace (``namespace``, "argocd").
- ``PATCH /api/v1/applications/{name}`` with ``{"name", "appNamespace", "patch", "patchType"}``
  where ``patch`` is the patch as a JSON string and ``patchType`` is ``merge`` or ``json``
  (argocd-server's default); answers the updated Application.
- ``GET /api/v1/projects/{name}``: the AppProject from the control-plane namespace.

Errors are ``{"error": m, "code": <gRPC code>, "message": m}`` with the HTTP status
grpc-gateway gives that code; Kubernetes errors are mapped as argocd-server's
``kubeErrToGRPC`` does (404 NotFound, 409 Aborted, 422 InvalidArgument, 400
FailedPrecondition, 401 Unauthenticated, 403 PermissionDenied, 429 ResourceExhausted, 500
Internal, 503 Unavailable). Every request needs ``Authorization: Bearer <token>`` (or the
``argocd.token`` cookie) with one of ``tokens``; otherwise 401 ``no session information`` /
``invalid session``.

Conflicts: by default (``guard_resource_version=True``) a merge patch goes to Kubernetes as
is, so a stale ``metadata.resourceVersion`` in it is a 409 (Aborted). That is stricter than
argocd-server, which applies the patch to a fresh read, ignores the patch's
resourceVersion and retries Kubernetes conflicts itself (10 attempts, then 500
``Failed to update application. Too many conflicts``); ``guard_resource_version=False``
behaves like that.

The request log (``requests``) records operation, namespace, name and status of each call;
it is safe to read from another thread.
"""

from __future__ import annotations

__all__ = ["ArgoCDAPI", "Operation", "RequestLog", "RequestRecord"]

import json
import threading
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
from aiohttp import web
from yarl import URL

JSON = dict[str, Any]
Operation = Literal["list", "get", "patch", "get-project", "other"]

_GROUP_VERSION = "/apis/argoproj.io/v1alpha1"
_KUBE_SESSION = web.AppKey("argocd_kube_session", aiohttp.ClientSession)
_PATCH_TYPES = {"merge": "application/merge-patch+json", "json": "application/json-patch+json"}
_SERVER_RETRIES = 10  # argocd-server's updateApp loop
# gRPC code -> HTTP status, as grpc-gateway's HTTPStatusFromCode maps them.
_HTTP_FOR_CODE = {3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 10: 409, 12: 501,
                  13: 500, 14: 503, 16: 401}  # fmt: skip
# Kubernetes status -> gRPC code, as argocd-server's kubeErrToGRPC maps them.
_CODE_FOR_KUBE = {400: 9, 401: 16, 403: 7, 404: 5, 405: 12, 409: 10, 422: 3, 429: 8, 500: 13,
                  503: 14, 504: 4}  # fmt: skip


@dataclass(frozen=True, slots=True)
class RequestRecord:
    method: str
    path: str
    operation: Operation
    namespace: str | None
    name: str | None
    status: int


class RequestLog:
    """Every request the emulator answered, in order; readable from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    @property
    def records(self) -> tuple[RequestRecord, ...]:
        with self._lock:
            return tuple(self._records)

    def count(
        self,
        *,
        operation: Operation | None = None,
        status: int | None = None,
        name: str | None = None,
    ) -> int:
        return sum(
            1
            for r in self.records
            if (operation is None or r.operation == operation)
            and (status is None or r.status == status)
            and (name is None or r.name == name)
        )

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


class _Failure(Exception):
    """An answer in argocd-server's error shape."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def response(self) -> web.Response:
        body = {"error": self.message, "code": self.code, "message": self.message}
        return web.json_response(body, status=_HTTP_FOR_CODE.get(self.code, 500))


class ArgoCDAPI:
    """One emulated argocd-server; ``app()`` builds its aiohttp application."""

    def __init__(
        self,
        kube_url: str,
        *,
        tokens: Iterable[str],
        namespace: str = "argocd",
        guard_resource_version: bool = True,
        kube_token: str | None = None,
        kube_timeout: float = 10.0,
    ) -> None:
        self.kube_url = URL(kube_url.rstrip("/"))
        self.namespace = namespace
        self.guard_resource_version = guard_resource_version
        self.requests = RequestLog()
        self._tokens = frozenset(tokens)
        if not self._tokens or "" in self._tokens:
            raise ValueError("ArgoCDAPI(tokens=...) needs at least one non-empty token")
        self._kube_token = kube_token
        self._kube_timeout = kube_timeout

    def __repr__(self) -> str:
        return f"ArgoCDAPI(kube_url={str(self.kube_url)!r}, namespace={self.namespace!r})"

    def app(self) -> web.Application:
        app = web.Application()
        app.cleanup_ctx.append(self._kube_session)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def _kube_session(self, app: web.Application) -> AsyncIterator[None]:
        headers = {"Accept": "application/json"}
        if self._kube_token:
            headers["Authorization"] = f"Bearer {self._kube_token}"
        timeout = aiohttp.ClientTimeout(total=self._kube_timeout)
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
            app[_KUBE_SESSION] = session
            yield

    # -- dispatch -------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        operation, name = _route(request.method, request.path)
        namespace = request.query.get("appNamespace") or None
        try:
            self._authenticate(request)
            if operation == "list":
                answer = await self._list(request)
            elif operation == "get" and name:
                answer = await self._kube(request, "GET", self._app_path(namespace, name))
            elif operation == "patch" and name:
                body = await _json_body(request)
                namespace = body.get("appNamespace") or None
                answer = await self._patch(request, namespace, name, body)
            elif operation == "get-project" and name:
                path = f"{_GROUP_VERSION}/namespaces/{self.namespace}/appprojects/{name}"
                answer = await self._kube(request, "GET", path)
            else:
                raise _Failure(5, "Not Found")
        except _Failure as failure:
            response = failure.response()
        else:
            response = web.json_response(answer)
        self.requests.add(
            RequestRecord(request.method, request.path, operation, namespace, name, response.status)
        )
        return response

    def _authenticate(self, request: web.Request) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            token = request.cookies.get("argocd.token", "")
        if not token:
            raise _Failure(16, "no session information")
        if token.strip() not in self._tokens:
            raise _Failure(16, "invalid session: token signature is invalid")

    def _app_path(self, namespace: str | None, name: str) -> str:
        return f"{_GROUP_VERSION}/namespaces/{namespace or self.namespace}/applications/{name}"

    # -- operations -----------------------------------------------------------------------

    async def _list(self, request: web.Request) -> JSON:
        namespace = request.query.get("appNamespace") or None
        path = f"{_GROUP_VERSION}/applications"
        if namespace:
            path = f"{_GROUP_VERSION}/namespaces/{namespace}/applications"
        selector = request.query.get("selector") or None
        params = {"labelSelector": selector} if selector else {}
        listed = await self._kube(request, "GET", path, params=params)
        projects = set(request.query.getall("projects", []) + request.query.getall("project", []))
        items = [
            item
            for item in listed.get("items") or []
            if not projects or (item.get("spec") or {}).get("project") in projects
        ]
        items.sort(key=lambda i: (i["metadata"]["name"], i["metadata"].get("namespace", "")))
        version = (listed.get("metadata") or {}).get("resourceVersion", "")
        return {"metadata": {"resourceVersion": version}, "items": items}

    async def _patch(
        self, request: web.Request, namespace: str | None, name: str, body: JSON
    ) -> JSON:
        patch_type = body.get("patchType") or "json"
        if patch_type not in _PATCH_TYPES:
            raise _Failure(3, f"Patch type '{patch_type}' is not supported")
        text = body.get("patch")
        if not isinstance(text, str):
            raise _Failure(3, "error decoding patch: 'patch' must be the patch as a JSON string")
        try:
            patch = json.loads(text)
        except ValueError as exc:
            raise _Failure(3, f"error decoding {patch_type} patch: {exc}") from exc
        path = self._app_path(namespace, name)
        headers = {"Content-Type": _PATCH_TYPES[patch_type]}
        if self.guard_resource_version or patch_type != "merge" or not isinstance(patch, dict):
            return await self._kube(request, "PATCH", path, body=patch, headers=headers)
        # argocd-server's behaviour: the patch's resourceVersion is ignored and conflicts with
        # concurrent writers are retried on the server, a bounded number of times.
        patch = {**patch, "metadata": {**(patch.get("metadata") or {})}}
        patch["metadata"].pop("resourceVersion", None)
        if not patch["metadata"]:
            del patch["metadata"]
        for _ in range(_SERVER_RETRIES):
            try:
                return await self._kube(request, "PATCH", path, body=patch, headers=headers)
            except _Failure as failure:
                if failure.code != 10:
                    raise
        raise _Failure(13, "Failed to update application. Too many conflicts")

    async def _kube(
        self,
        request: web.Request,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> JSON:
        session = request.app[_KUBE_SESSION]
        url = self.kube_url.with_path(path)
        data = None if body is None else json.dumps(body).encode()
        try:
            async with session.request(
                method, url, params=params or {}, data=data, headers=headers
            ) as answer:
                status = answer.status
                raw = await answer.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _Failure(14, f"connection error: {exc.__class__.__name__}: {exc}") from exc
        try:
            decoded = json.loads(raw) if raw else {}
        except ValueError:
            decoded = {}
        if status >= 400:
            message = decoded.get("message") if isinstance(decoded, dict) else None
            raise _Failure(_CODE_FOR_KUBE.get(status, 13), str(message or f"HTTP {status}"))
        if not isinstance(decoded, dict):
            raise _Failure(13, "the Kubernetes API answered something that is not an object")
        return decoded


def _route(method: str, path: str) -> tuple[Operation, str | None]:
    match (method, [p for p in path.split("/") if p]):
        case ("GET", ["api", "v1", "applications"]):
            return "list", None
        case ("GET", ["api", "v1", "applications", name]):
            return "get", name
        case ("PATCH", ["api", "v1", "applications", name]):
            return "patch", name
        case ("GET", ["api", "v1", "projects", name]):
            return "get-project", name
    return "other", None


async def _json_body(request: web.Request) -> JSON:
    try:
        body = await request.json()
    except ValueError as exc:
        raise _Failure(3, f"invalid request body: {exc}") from exc
    if not isinstance(body, dict):
        raise _Failure(3, "invalid request body: expected a JSON object")
    return body
