"""The object store: objects by type/namespace/name, the resourceVersion counter, the event
history watches replay from, and the subscriptions live watches read.

Safe to use from a test's thread while the server runs in another: every mutation holds one
lock, and events reach watchers through their own event loop (`call_soon_threadsafe`).
Every object handed out is a deep copy, so callers can never alias stored state.
"""

from __future__ import annotations

import asyncio
import copy
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from .discovery import Resources, ResourceType
from .status import ApiError, already_exists, conflict, not_found

JSON = dict[str, Any]
EventType = Literal["ADDED", "MODIFIED", "DELETED"]
StorageKey = tuple[str, str]  # (group, plural): every served version shares one storage


@dataclass(frozen=True, slots=True)
class StoreEvent:
    type: EventType
    rv: int
    key: StorageKey
    obj: JSON
    old: JSON | None = None


class Subscription:
    """One live watch's inbox; bounded, and closed (not blocked) when a slow reader overflows."""

    def __init__(self, loop: asyncio.AbstractEventLoop, maxsize: int) -> None:
        self._loop = loop
        self.queue: asyncio.Queue[StoreEvent | None] = asyncio.Queue(maxsize=maxsize)
        self.overflowed = False
        self.closed = False

    def _put(self, item: StoreEvent | None) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True
            self.closed = True
            self.queue.get_nowait()
            self.queue.put_nowait(None)

    def deliver(self, item: StoreEvent | None) -> None:
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._put, item)


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _spec_part(obj: JSON, rt: ResourceType) -> JSON:
    """What `generation` tracks: everything but metadata (and status when it is a subresource)."""
    skip = {"metadata", "apiVersion", "kind"} | ({"status"} if rt.status_subresource else set())
    return {k: v for k, v in obj.items() if k not in skip}


def _comparable(obj: JSON) -> JSON:
    out = copy.deepcopy(obj)
    meta = out.get("metadata") or {}
    for volatile in ("resourceVersion", "managedFields", "generation"):
        meta.pop(volatile, None)
    out.pop("apiVersion", None)
    return out


class Store:
    def __init__(
        self,
        resources: Resources,
        *,
        history_limit: int = 1000,
        auto_create_namespaces: bool = True,
        watch_queue_size: int = 10_000,
    ) -> None:
        self.resources = resources
        self.lock = threading.RLock()
        self.auto_create_namespaces = auto_create_namespaces
        self._objects: dict[StorageKey, dict[tuple[str, str], JSON]] = {}
        self._rv = 0
        self._history: deque[StoreEvent] = deque()
        self._history_limit = history_limit
        self._compacted_rv = 0
        self._subs: set[Subscription] = set()
        self._watch_queue_size = watch_queue_size

    # ---- versions and history ----

    @property
    def resource_version(self) -> int:
        return self._rv

    @property
    def compacted_rv(self) -> int:
        """Watches must resume from at least this resourceVersion, or get 410 Expired."""
        return self._compacted_rv

    def compact(self) -> None:
        """Forget the whole event history (a test hook for 410 Expired)."""
        with self.lock:
            self._history.clear()
            self._compacted_rv = self._rv

    def history_after(self, rv: int) -> list[StoreEvent]:
        with self.lock:
            return [e for e in self._history if e.rv > rv]

    def _emit(self, event: StoreEvent) -> None:
        self._history.append(event)
        while len(self._history) > self._history_limit:
            self._compacted_rv = self._history.popleft().rv
        for sub in list(self._subs):
            sub.deliver(event)

    def subscribe(self, loop: asyncio.AbstractEventLoop) -> Subscription:
        sub = Subscription(loop, self._watch_queue_size)
        with self.lock:
            self._subs.add(sub)
        return sub

    @property
    def watchers(self) -> int:
        """How many watches are open now."""
        with self.lock:
            return len(self._subs)

    def unsubscribe(self, sub: Subscription) -> None:
        with self.lock:
            self._subs.discard(sub)

    def close_watchers(self) -> None:
        """Wake every watcher with end-of-stream, so server shutdown never waits on them."""
        with self.lock:
            subs, self._subs = list(self._subs), set()
        for sub in subs:
            sub.deliver(None)

    # ---- reads ----

    def read(self, rt: ResourceType, namespace: str, name: str) -> JSON | None:
        with self.lock:
            obj = self._objects.get(rt.storage_key, {}).get((namespace, name))
            return self._at_version(obj, rt) if obj is not None else None

    def items(self, rt: ResourceType, namespace: str | None = None) -> list[JSON]:
        with self.lock:
            bucket = self._objects.get(rt.storage_key, {})
            keys = sorted(k for k in bucket if namespace is None or k[0] == namespace)
            return [self._at_version(bucket[k], rt) for k in keys]

    @staticmethod
    def _at_version(obj: JSON, rt: ResourceType) -> JSON:
        out = copy.deepcopy(obj)
        out["apiVersion"] = rt.api_version
        return out

    # ---- writes (the verbs call these after validation and admission) ----

    def create(self, rt: ResourceType, obj: JSON) -> JSON:
        with self.lock:
            meta = obj.setdefault("metadata", {})
            ns, name = meta.get("namespace", ""), meta["name"]
            bucket = self._objects.setdefault(rt.storage_key, {})
            if (ns, name) in bucket:
                raise already_exists(rt.group, rt.plural, name)
            if ns:
                self.ensure_namespace(ns)
            self._rv += 1
            meta.setdefault("uid", str(uuid.uuid4()))
            # typed clients send `creationTimestamp: null` (Go's zero metav1.Time)
            if meta.get("creationTimestamp") is None:
                meta["creationTimestamp"] = now_rfc3339()
            meta["generation"] = 1
            meta["resourceVersion"] = str(self._rv)
            obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
            bucket[(ns, name)] = copy.deepcopy(obj)
            self._emit(StoreEvent("ADDED", self._rv, rt.storage_key, copy.deepcopy(obj)))
            return copy.deepcopy(obj)

    def update(self, rt: ResourceType, obj: JSON, *, expect_rv: str | None = None) -> JSON:
        """Replace the stored object; a no-op keeps the resourceVersion and emits nothing."""
        with self.lock:
            meta = obj["metadata"]
            ns, name = meta.get("namespace", ""), meta["name"]
            bucket = self._objects.get(rt.storage_key, {})
            old = bucket.get((ns, name))
            if old is None:
                raise not_found(rt.group, rt.plural, name)
            if expect_rv is not None and expect_rv != old["metadata"]["resourceVersion"]:
                raise conflict(rt.group, rt.plural, name)
            for fixed in ("uid", "creationTimestamp"):
                meta[fixed] = old["metadata"].get(fixed)
            obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
            if _comparable(obj) == _comparable(old):
                return self._at_version(old, rt)
            generation = int(old["metadata"].get("generation", 1))
            if _spec_part(obj, rt) != _spec_part(old, rt):
                generation += 1
            self._rv += 1
            meta["generation"] = generation
            meta["resourceVersion"] = str(self._rv)
            bucket[(ns, name)] = copy.deepcopy(obj)
            self._emit(StoreEvent("MODIFIED", self._rv, rt.storage_key, copy.deepcopy(obj), old))
            return copy.deepcopy(obj)

    def remove(self, rt: ResourceType, namespace: str, name: str) -> JSON:
        with self.lock:
            bucket = self._objects.get(rt.storage_key, {})
            old = bucket.pop((namespace, name), None)
            if old is None:
                raise not_found(rt.group, rt.plural, name)
            self._rv += 1
            gone = copy.deepcopy(old)
            gone["metadata"]["resourceVersion"] = str(self._rv)
            self._emit(StoreEvent("DELETED", self._rv, rt.storage_key, gone, old))
            if rt.storage_key == ("", "namespaces"):
                self._remove_namespace_contents(name)
            return self._at_version(gone, rt)

    def _remove_namespace_contents(self, namespace: str) -> None:
        for key, bucket in list(self._objects.items()):
            rt = self.resources.any_version(*key)
            for ns, name in [k for k in bucket if k[0] == namespace]:
                if rt is not None:
                    self.remove(rt, ns, name)

    def ensure_namespace(self, name: str) -> None:
        rt = self.resources.lookup("", "v1", "namespaces")
        if rt is None or ("", name) in self._objects.get(rt.storage_key, {}):
            return
        if not self.auto_create_namespaces:
            raise not_found("", "namespaces", name)
        self.create(
            rt,
            {
                "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            },
        )

    # ---- test hooks ----

    def _type_for(self, obj: JSON) -> ResourceType:
        rt = self.resources.by_kind(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        if rt is None:
            raise ApiError(
                404,
                f"no resource is served for apiVersion {obj.get('apiVersion')!r} kind "
                f"{obj.get('kind')!r}; register its CRD first",
            )
        return rt

    def put(self, obj: JSON) -> JSON:
        """Seed or overwrite an object unconditionally (no admission); returns the stored copy."""
        rt = self._type_for(obj)
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if rt.namespaced:
            meta.setdefault("namespace", "default")
        else:
            meta.pop("namespace", None)
        with self.lock:
            if self.read(rt, meta.get("namespace", ""), meta["name"]) is None:
                return self.create(rt, obj)
            meta.pop("resourceVersion", None)
            return self.update(rt, obj)

    def _resolve(self, group: str, version: str | None, plural: str) -> ResourceType:
        rt = (
            self.resources.lookup(group, version, plural)
            if version
            else self.resources.any_version(group, plural)
        )
        if rt is None:
            raise ApiError(
                404, f"the server could not find the requested resource {plural}.{group}"
            )
        return rt

    def get(
        self, group: str, version: str | None, plural: str, namespace: str | None, name: str
    ) -> JSON | None:
        """One object, or None; `version` None means any served version."""
        return self.read(self._resolve(group, version, plural), namespace or "", name)

    def list(
        self, group: str, version: str | None, plural: str, namespace: str | None = None
    ) -> list[JSON]:
        return self.items(self._resolve(group, version, plural), namespace)

    def delete(
        self, group: str, version: str | None, plural: str, namespace: str | None, name: str
    ) -> JSON:
        return self.remove(self._resolve(group, version, plural), namespace or "", name)
