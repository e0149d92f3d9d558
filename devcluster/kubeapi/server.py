"""`KubeAPI`: the emulator object tests hold (store, request log, faults) and its aiohttp
application: URL routing, discovery, the read verbs, and dispatch to the write verbs and
watches.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from .admission import Dispatcher, warning_headers
from .discovery import SERVER_VERSION, Resources, ResourceType, crd_resource_types, load_crd_files
from .faults import Faults, RequestLog, RequestRecord, Verb
from .patching import decode_body, patch_type
from .protobuf import PROTOBUF
from .protobuf import decode_object as decode_protobuf
from .rbac import (
    BOOTSTRAP_POLICY,
    SELF_SUBJECT_ACCESS_REVIEWS,
    Authenticator,
    Authorizer,
    Forbidden,
    Identity,
    access_review,
    request_attributes,
)
from .selectors import SelectorError, parse_field_selector, parse_label_selector
from .status import ApiError, not_found
from .store import Store
from .tables import content_type as table_content_type
from .tables import table, table_version
from .verbs import Context, Writer, Written
from .watch import WatchRequest, expired, open_stream, send, serve

JSON = dict[str, Any]
log = logging.getLogger("devcluster.kubeapi")

DEFAULT_CRDS = Path(__file__).resolve().parent.parent / "crds"
_TRUE = ("true", "True", "1")


@dataclass(frozen=True, slots=True)
class Route:
    group: str
    version: str
    plural: str
    namespace: str | None  # None: cluster-scoped object, or a list/watch across namespaces
    name: str | None
    sub: str


class KubeAPI:
    """One emulated cluster. Tests seed/assert through `store`, count through `requests`,
    and break things through `faults`; `app()` builds a fresh aiohttp application for it."""

    def __init__(
        self,
        *,
        crds: Iterable[Path] = (DEFAULT_CRDS,),
        service_addresses: Mapping[tuple[str, str], str] | None = None,
        users: Mapping[str, str] | None = None,
        service_account_tokens: Mapping[str, tuple[str, str]] | None = None,
        strict_tokens: bool = False,
        history_limit: int = 1000,
        bookmark_interval: float = 10.0,
        max_watch_seconds: float = 1800.0,
        auto_create_namespaces: bool = True,
    ) -> None:
        self.resources = Resources()
        documents = load_crd_files(crds)
        for crd in documents:
            for rt in crd_resource_types(crd):
                self.resources.add(rt)
        self.store = Store(
            self.resources,
            history_limit=history_limit,
            auto_create_namespaces=auto_create_namespaces,
        )
        self.requests = RequestLog()
        self.faults = Faults()
        self.dispatcher = Dispatcher(service_addresses or {})
        self.writer = Writer(self.store, self.resources, self.dispatcher)
        self.authenticator = Authenticator(
            self.store,
            users=users,
            service_account_tokens=service_account_tokens,
            strict=strict_tokens,
        )
        self.authorizer = Authorizer(self.store, self.resources)
        self.bookmark_interval = bookmark_interval
        self.max_watch_seconds = max_watch_seconds
        for crd in documents:
            self.store.put(crd)
        for obj in BOOTSTRAP_POLICY:
            self.store.put(obj)

    def issue_token(self, namespace: str, name: str) -> str:
        """A bearer token authenticating as ServiceAccount `namespace/name`, under RBAC."""
        return self.authenticator.issue_token(namespace, name)

    @property
    def service_addresses(self) -> dict[tuple[str, str], str]:
        """(namespace, service) -> "host:port" used for `clientConfig.service`; mutable."""
        return self.dispatcher.service_addresses

    def app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app[KUBEAPI] = self
        app.router.add_route("*", "/{tail:.*}", self._handle)
        app.cleanup_ctx.append(self._webhook_client)
        app.on_shutdown.append(self._end_watches)
        return app

    async def _webhook_client(self, _app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:
            self.dispatcher.session = session
            yield
            self.dispatcher.session = None

    async def _end_watches(self, _app: web.Application) -> None:
        self.store.close_watchers()

    # ---- request handling ----

    def _authenticate_and_authorize(self, request: web.Request) -> Identity:
        """kube-apiserver's filter order: authentication (401), then authorization (403),
        both before the handler, so a denied request never learns whether its object exists."""
        who = self.authenticator.authenticate(request.headers.get("Authorization", ""))
        if who.rbac:
            attributes = request_attributes(request.method, request.path, request.query)
            decision = self.authorizer.authorize(who, attributes)
            if not decision.allowed:
                raise Forbidden(who, attributes, decision.reason)
        return who

    def _route(self, parts: list[str]) -> Route | None:
        if parts[0] == "api" and len(parts) >= 3:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            candidate = self.resources.lookup(group, version, rest[2])
            if candidate is not None and candidate.namespaced:
                namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            return None
        padded = [*rest, "", ""]
        return Route(group, version, rest[0], namespace, padded[1] or None, padded[2])

    @staticmethod
    def _verb(method: str, route: Route, query: Mapping[str, str]) -> Verb:
        if method == "GET":
            if route.name:
                return "get"
            return "watch" if query.get("watch") in _TRUE else "list"
        verbs: dict[tuple[str, bool], Verb] = {
            ("POST", False): "create",
            ("PUT", True): "update",
            ("PATCH", True): "patch",
            ("DELETE", True): "delete",
        }
        verb = verbs.get((method, bool(route.name)))
        if verb is None:
            raise ApiError(405, f"the server does not allow {method} on this resource path")
        return verb

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        route = self._route(parts) if parts else None
        verb: Verb = "discovery"
        try:
            if route is not None:
                with contextlib.suppress(ApiError):  # raised again below, once authorized
                    verb = self._verb(request.method, route, request.query)
            who = self._authenticate_and_authorize(request)
            if route is None:
                response: web.StreamResponse = self._discovery(request, parts)
            else:
                verb = self._verb(request.method, route, request.query)
                response = await self._resource(request, route, verb, who)
        except ApiError as exc:
            response = web.json_response(
                exc.body(), status=exc.code, headers=exc.headers, dumps=_compact
            )
        self.requests.add(
            RequestRecord(
                verb=verb,
                resource=route.plural if route else "",
                subresource=route.sub if route else "",
                namespace=(route.namespace or "") if route else "",
                name=(route.name or "") if route else "",
                status=response.status,
                method=request.method,
                path=request.path,
            )
        )
        log.debug("%s %s -> %s", request.method, request.path_qs, response.status)
        return response

    def _discovery(self, request: web.Request, parts: list[str]) -> web.StreamResponse:
        doc: JSON | None = None
        if request.method != "GET":
            raise ApiError(405, f"the server does not allow {request.method} on {request.path}")
        if parts in (["healthz"], ["readyz"], ["livez"]):
            return web.Response(text="ok")
        if parts == ["version"]:
            doc = SERVER_VERSION
        elif parts == ["api"]:
            doc = self.resources.api_versions(request.host)
        elif parts == ["apis"]:
            doc = self.resources.api_group_list()
        elif len(parts) == 2 and parts[0] == "api":
            doc = self.resources.api_resource_list("", parts[1])
        elif len(parts) == 2 and parts[0] == "apis":
            doc = self.resources.api_group(parts[1])
        elif len(parts) == 3 and parts[0] == "apis":
            doc = self.resources.api_resource_list(parts[1], parts[2])
        if doc is None:
            raise ApiError(404, "the server could not find the requested resource")
        return web.json_response(doc)

    async def _resource(
        self, request: web.Request, route: Route, verb: Verb, who: Identity
    ) -> web.StreamResponse:
        rt = self.resources.lookup(route.group, route.version, route.plural)
        if rt is None:
            raise ApiError(404, "the server could not find the requested resource")
        if route.sub and (route.sub != "status" or not rt.status_subresource):
            raise ApiError(404, "the server could not find the requested resource")
        if rt.namespaced and route.namespace is None and verb not in ("list", "watch"):
            raise ApiError(404, "the server could not find the requested resource")
        if fault := self.faults.take(verb, rt.plural, route.name or ""):
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status == 410 and verb == "watch":
                resp = await open_stream(request)
                await send(resp, expired(request.query.get("resourceVersion", ""), 0))
                return resp
            if fault.status is not None:
                raise ApiError(
                    fault.status,
                    f"injected fault: {fault.status} for {verb} {rt.plural}",
                    headers={"Retry-After": "1"} if fault.status == 429 else None,
                )
        ns = route.namespace or ""
        query = request.query
        if rt.storage_key == SELF_SUBJECT_ACCESS_REVIEWS:  # answered, never stored
            if verb != "create":
                raise ApiError(
                    405, "the server does not allow this method on the requested resource"
                )
            body = _decode_object(request.content_type, await request.read())
            return web.json_response(access_review(body, who, self.authorizer), status=201)
        if verb == "get":
            obj = self.store.read(rt, ns, route.name or "")
            if obj is None:
                raise _not_found(rt, route.name or "")
            version = _table_version(request, rt, route)
            if version is not None:
                meta = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
                return _table_response(request, rt, [obj], version, meta)
            return web.json_response(obj)
        if verb in ("list", "watch"):
            return await self._list_or_watch(request, rt, route, verb)
        dry_run = query.getall("dryRun", [])
        if any(v != "All" for v in dry_run):
            raise ApiError(400, f"dryRun={dry_run!r} is not supported; the only value is All")
        ctx = Context(who.user_info(), bool(dry_run), query.get("fieldManager"))
        name = route.name or ""
        written: Written
        if verb == "delete":
            return web.json_response(await self.writer.delete(ctx, rt, ns, name))
        raw = await request.read()
        if verb == "patch":
            kind = patch_type(request.content_type, custom=rt.custom)
            body = decode_body(raw, kind)
            written = await self.writer.patch(ctx, rt, ns, name, route.sub, kind, body)
        else:
            body = _decode_object(request.content_type, raw)
            if verb == "create":
                written = await self.writer.create(ctx, rt, ns, body)
            else:
                written = await self.writer.update(ctx, rt, ns, name, route.sub, body)
        response = web.json_response(written.obj, status=201 if written.created else 200)
        for value in warning_headers(written.warnings):
            response.headers.add("Warning", value)
        return response

    async def _list_or_watch(
        self, request: web.Request, rt: ResourceType, route: Route, verb: Verb
    ) -> web.StreamResponse:
        query = request.query
        try:
            labels = parse_label_selector(query.get("labelSelector"))
            fields = parse_field_selector(query.get("fieldSelector"))
        except SelectorError as exc:
            raise ApiError(400, str(exc)) from exc
        if verb == "watch":
            try:
                timeout = float(query.get("timeoutSeconds", self.max_watch_seconds))
            except ValueError as exc:
                raise ApiError(
                    400, f"timeoutSeconds={query['timeoutSeconds']!r} is not a number"
                ) from exc
            watch = WatchRequest(rt, route.namespace, labels, fields,
                                 query.get("resourceVersion"),
                                 min(max(timeout, 0.0), self.max_watch_seconds),
                                 query.get("allowWatchBookmarks") in _TRUE)  # fmt: skip
            return await serve(request, self.store, watch, bookmark_interval=self.bookmark_interval)
        with self.store.lock:
            rv = self.store.resource_version
            items = [
                o
                for o in self.store.items(rt, route.namespace)
                if labels.matches(o["metadata"].get("labels")) and fields.matches(o)
            ]
        meta: JSON = {"resourceVersion": str(rv)}
        items, meta_more = _paginate(items, query.get("limit"), query.get("continue"))
        meta.update(meta_more)
        version = _table_version(request, rt, route)
        if version is not None:
            return _table_response(request, rt, items, version, meta)
        return web.json_response(
            {
                "apiVersion": rt.api_version,
                "kind": f"{rt.kind}List",
                "metadata": meta,
                "items": items,
            }
        )


KUBEAPI = web.AppKey("kubeapi", KubeAPI)


def _compact(obj: Any) -> str:
    """Status bodies as kube-apiserver writes them: compact JSON."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _decode_object(content_type: str, raw: bytes) -> Any:
    """A create/update body: JSON, YAML, or Kubernetes protobuf (built-in kinds only)."""
    if content_type == PROTOBUF:
        return decode_protobuf(raw)
    try:
        if content_type in ("application/yaml", "application/x-yaml"):
            return yaml.safe_load(raw.decode("utf-8"))
        return json.loads(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise ApiError(400, f"the request body is not valid {content_type}: {exc}") from exc


def _table_version(request: web.Request, rt: ResourceType, route: Route) -> str | None:
    """The Table version kubectl asks for, for a custom resource's main resource."""
    if not rt.custom or route.sub:
        return None
    return table_version(request.headers.get("Accept", ""))


def _table_response(
    request: web.Request, rt: ResourceType, objects: list[JSON], version: str, meta: JSON
) -> web.Response:
    include = request.query.get("includeObject", "Metadata")
    if include not in ("None", "Metadata", "Object"):
        raise ApiError(400, f"includeObject={include!r}: expected None, Metadata or Object")
    body = table(rt.columns, objects, version=version, metadata=meta, include=include)
    return web.Response(
        text=json.dumps(body), headers={"Content-Type": table_content_type(version)}
    )


def _not_found(rt: ResourceType, name: str) -> ApiError:
    return not_found(rt.group, rt.plural, name)


def _paginate(items: list[JSON], limit: str | None, token: str | None) -> tuple[list[JSON], JSON]:
    """`limit`/`continue` over (namespace, name) order; the token is the last key returned."""

    def key(o: JSON) -> str:
        return f"{o['metadata'].get('namespace', '')}/{o['metadata']['name']}"

    if token:
        try:
            after = base64.urlsafe_b64decode(token.encode()).decode()
        except ValueError as exc:
            raise ApiError(400, f"continue token {token!r} is not one this server issued") from exc
        items = [o for o in items if key(o) > after]
    if not limit:
        return items, {}
    try:
        n = int(limit)
    except ValueError as exc:
        raise ApiError(400, f"limit={limit!r} is not an integer") from exc
    if n <= 0 or len(items) <= n:
        return items, {}
    page = items[:n]
    more = base64.urlsafe_b64encode(key(page[-1]).encode()).decode()
    return page, {"continue": more, "remainingItemCount": len(items) - n}
