"""Watch streams: newline-delimited `{"type", "object"}` events over a chunked response.

Without a resourceVersion (or with "0") a watch starts with ADDED for every current object;
with one it replays the history after it, or sends one ERROR event with a 410 Expired Status
when that version is below the history floor. Selectors apply to events the way the real
watch cache applies them: an object that stops matching is sent as DELETED, one that starts
matching as ADDED. Streams end at `timeoutSeconds` (bounded by the server's maximum), on
server shutdown, or when a slow reader lets its inbox overflow.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .discovery import ResourceType
from .selectors import FieldSelector, LabelSelector
from .status import ApiError, status_body
from .store import Store, StoreEvent

JSON = dict[str, Any]
_LIVENESS_CHECK = 1.0  # seconds between checks that an idle watcher's client is still there


@dataclass(frozen=True, slots=True)
class WatchRequest:
    rt: ResourceType
    namespace: str | None
    labels: LabelSelector
    fields: FieldSelector
    resource_version: str | None
    timeout: float
    bookmarks: bool


def _visible(w: WatchRequest, obj: JSON | None) -> bool:
    if obj is None:
        return False
    meta = obj.get("metadata") or {}
    if w.namespace is not None and meta.get("namespace", "") != w.namespace:
        return False
    return w.labels.matches(meta.get("labels")) and w.fields.matches(obj)


def translate(w: WatchRequest, event: StoreEvent) -> JSON | None:
    """The wire event this watcher sees for a store event, or None when it sees nothing."""
    if event.key != w.rt.storage_key:
        return None
    now, before = _visible(w, event.obj), _visible(w, event.old)
    kind: str
    if event.type == "DELETED":
        if not before and not now:
            return None
        kind = "DELETED"
    elif event.type == "ADDED":
        if not now:
            return None
        kind = "ADDED"
    elif now and before:
        kind = "MODIFIED"
    elif now:
        kind = "ADDED"
    elif before:
        kind = "DELETED"
    else:
        return None
    obj = dict(event.obj)
    obj["apiVersion"] = w.rt.api_version
    return {"type": kind, "object": obj}


def expired(rv: str, floor: int) -> JSON:
    return {
        "type": "ERROR",
        "object": status_body(410, f"too old resource version: {rv} ({floor})", reason="Expired"),
    }


async def open_stream(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    return resp


async def send(resp: web.StreamResponse, event: JSON) -> None:
    await resp.write(json.dumps(event, separators=(",", ":")).encode() + b"\n")


async def serve(
    request: web.Request, store: Store, w: WatchRequest, *, bookmark_interval: float
) -> web.StreamResponse:
    rv_text = w.resource_version or ""
    since: int | None = None
    if rv_text not in ("", "0"):
        try:
            since = int(rv_text)
        except ValueError as exc:
            raise ApiError(
                400, f"invalid resourceVersion {rv_text!r}: expected an integer"
            ) from exc
    with store.lock:
        floor = store.compacted_rv
        too_old = since is not None and since < floor
        if too_old:
            initial, last_rv = [expired(rv_text, floor)], floor
        elif since is None:
            initial = [
                {"type": "ADDED", "object": o}
                for o in store.items(w.rt, w.namespace)
                if _visible(w, o)
            ]
            last_rv = store.resource_version
        else:
            initial = [t for e in store.history_after(since) if (t := translate(w, e))]
            last_rv = max(store.resource_version, since)
        sub = None if too_old else store.subscribe(asyncio.get_running_loop())
    if sub is None:
        resp = await open_stream(request)
        await send(resp, initial[0])
        return resp
    loop = asyncio.get_running_loop()
    deadline = loop.time() + w.timeout
    next_bookmark = loop.time() + bookmark_interval
    resp = await open_stream(request)
    try:
        for event in initial:
            await send(resp, event)
        while (remaining := deadline - loop.time()) > 0:
            wait = min(remaining, bookmark_interval, _LIVENESS_CHECK)
            try:
                item = await asyncio.wait_for(sub.queue.get(), wait)
            except TimeoutError:
                if request.transport is None or request.transport.is_closing():
                    break  # the client left; only a write would otherwise notice
                if w.bookmarks and deadline - loop.time() > 0 and loop.time() >= next_bookmark:
                    next_bookmark = loop.time() + bookmark_interval
                    await send(resp, {"type": "BOOKMARK", "object": {
                        "kind": w.rt.kind, "apiVersion": w.rt.api_version,
                        "metadata": {"resourceVersion": str(last_rv)}}})  # fmt: skip
                continue
            if item is None:
                break
            last_rv = max(last_rv, item.rv)
            if (wire := translate(w, item)) is not None:
                await send(resp, wire)
    except ConnectionResetError:
        pass  # the client went away; nothing to tell it
    finally:
        store.unsubscribe(sub)
    with contextlib.suppress(ConnectionResetError):
        await resp.write_eof()
    return resp
