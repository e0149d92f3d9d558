"""The write verbs (create, update, patch, delete) from request body to stored object:
validation, optimistic concurrency, status-subresource rules, admission, dry run, and the
side effects of writing CRDs (new served types) and webhook configurations (checked first).
"""

from __future__ import annotations

import copy
import secrets
from dataclasses import dataclass, field
from typing import Any

from .admission import (
    Attributes,
    Dispatcher,
    Operation,
    Webhook,
    WebhookKind,
    compile_configuration,
)
from .discovery import CRD_GROUP, InvalidCRD, Resources, ResourceType, crd_resource_types
from .patching import PatchType, apply_patch
from .status import ApiError, already_exists, conflict, invalid, not_found
from .store import Store, now_rfc3339

JSON = dict[str, Any]
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # kube-apiserver's generateName alphabet
_CONFIG_KINDS: dict[tuple[str, str], WebhookKind] = {
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): "mutating",
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): "validating",
}


@dataclass(frozen=True, slots=True)
class Context:
    user: JSON
    dry_run: bool = False
    field_manager: str | None = None


@dataclass(frozen=True, slots=True)
class Written:
    obj: JSON
    warnings: tuple[str, ...] = ()
    created: bool = False


@dataclass(slots=True)
class Writer:
    store: Store
    resources: Resources
    dispatcher: Dispatcher
    _compiled: dict[tuple[str, str, str], list[Webhook]] = field(default_factory=dict)

    # ---- admission plumbing ----

    def webhooks(self) -> list[Webhook]:
        out: list[Webhook] = []
        for (group, plural), kind in sorted(_CONFIG_KINDS.items(), key=lambda kv: kv[1]):
            rt = self.resources.any_version(group, plural)
            if rt is None:
                continue
            for cfg in self.store.items(rt):
                meta = cfg["metadata"]
                key = (plural, meta["name"], meta["resourceVersion"])
                if key not in self._compiled:
                    self._compiled[key] = compile_configuration(cfg, kind)
                out.extend(self._compiled[key])
        # mutating before validating; configurations by name; webhooks in written order
        return sorted(out, key=lambda h: (h.kind != "mutating", h.configuration))

    def _namespace_labels(self, namespace: str) -> dict[str, str]:
        ns_rt = self.resources.lookup("", "v1", "namespaces")
        ns = self.store.read(ns_rt, "", namespace) if ns_rt and namespace else None
        if ns is None:
            return {"kubernetes.io/metadata.name": namespace} if namespace else {}
        return dict(ns["metadata"].get("labels") or {})

    async def _admit(
        self, ctx: Context, rt: ResourceType, sub: str, op: Operation, obj: JSON, old: JSON | None
    ) -> tuple[JSON, tuple[str, ...]]:
        meta = obj["metadata"]
        kind = "CreateOptions" if op == "CREATE" else "UpdateOptions"
        options: JSON = {"apiVersion": "meta.k8s.io/v1", "kind": kind}
        if ctx.field_manager:
            options["fieldManager"] = ctx.field_manager
        if ctx.dry_run:
            options["dryRun"] = ["All"]
        attrs = Attributes(rt, sub, op, meta.get("namespace", ""), meta["name"], obj, old,
                           ctx.dry_run, ctx.user, options,
                           self._namespace_labels(meta.get("namespace", "")))  # fmt: skip
        outcome = await self.dispatcher.admit(attrs, self.webhooks())
        result = outcome.obj
        if not isinstance(result, dict) or not isinstance(result.get("metadata"), dict):
            raise ApiError(500, "Internal error occurred: a webhook removed the object's metadata")
        for fixed in ("name", "namespace"):
            if result["metadata"].get(fixed) != meta.get(fixed):
                raise ApiError(
                    500, f"Internal error occurred: a mutating webhook changed metadata.{fixed}"
                )
        return result, outcome.warnings

    # ---- checks shared by the verbs ----

    def _check_special(self, rt: ResourceType, obj: JSON) -> None:
        kind = _CONFIG_KINDS.get(rt.storage_key)
        if kind is not None:
            compile_configuration(obj, kind)
        if rt.storage_key == (CRD_GROUP, "customresourcedefinitions"):
            try:
                crd_resource_types(obj)
            except InvalidCRD as exc:
                name = obj["metadata"].get("name", "")
                raise ApiError(422, f'CustomResourceDefinition.apiextensions.k8s.io "{name}" '
                                    f"is invalid: {exc}", reason="Invalid") from exc  # fmt: skip

    def _after_write(self, rt: ResourceType, obj: JSON, *, deleted: bool = False) -> None:
        if rt.storage_key != (CRD_GROUP, "customresourcedefinitions"):
            return
        types = crd_resource_types(obj)
        self.resources.remove_group_plural(types[0].group, types[0].plural)
        if not deleted:
            for t in types:
                self.resources.add(t)

    @staticmethod
    def _check_identity(rt: ResourceType, body: Any, namespace: str, name: str | None) -> JSON:
        if not isinstance(body, dict):
            raise ApiError(
                400, f"the request body must be a JSON object, got {type(body).__name__}"
            )
        body = copy.deepcopy(body)
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if api_version not in (None, rt.api_version) or kind not in (None, rt.kind):
            raise ApiError(
                400,
                f"the API version in the data ({api_version}) and kind ({kind}) do not match "
                f"the expected {rt.api_version} {rt.kind}",
            )
        body["apiVersion"], body["kind"] = rt.api_version, rt.kind
        meta = body.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise ApiError(400, "metadata must be an object")
        if rt.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise ApiError(
                    400,
                    f"the namespace of the provided object ({meta['namespace']}) does not match "
                    f"the namespace sent on the request ({namespace})",
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if name is not None and meta.get("name") not in (None, name):
            raise ApiError(
                400,
                f"the name of the object ({meta['name']}) does not match the name on the URL "
                f"({name})",
            )
        if name is not None:
            meta["name"] = name
        checked: JSON = body
        return checked

    # ---- verbs ----

    async def create(self, ctx: Context, rt: ResourceType, namespace: str, body: Any) -> Written:
        obj = self._check_identity(rt, body, namespace, None)
        meta = obj["metadata"]
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise invalid(rt.kind, "", "metadata.name", "",
                              "name or generateName is required")  # fmt: skip
            meta["name"] = meta["generateName"] + "".join(
                secrets.choice(_NAME_CHARS) for _ in range(5)
            )
        if meta.get("resourceVersion"):
            raise invalid(rt.kind, meta["name"], "metadata.resourceVersion",
                          meta["resourceVersion"],
                          "resourceVersion should not be set on objects to be created")  # fmt: skip
        if rt.custom and rt.status_subresource:
            obj.pop("status", None)
        if rt.storage_key == (CRD_GROUP, "customresourcedefinitions"):
            obj["status"] = _crd_status(obj)
        self._check_special(rt, obj)
        if self.store.read(rt, meta.get("namespace", ""), meta["name"]) is not None:
            raise already_exists(rt.group, rt.plural, meta["name"])
        if not ctx.dry_run and meta.get("namespace"):
            self.store.ensure_namespace(meta["namespace"])
        obj, warnings = await self._admit(ctx, rt, "", "CREATE", obj, None)
        if ctx.dry_run:
            if obj["metadata"].get("creationTimestamp") is None:
                obj["metadata"]["creationTimestamp"] = now_rfc3339()
            return Written(obj, warnings, created=True)
        stored = self.store.create(rt, obj)
        self._after_write(rt, stored)
        return Written(stored, warnings, created=True)

    def _current(self, rt: ResourceType, namespace: str, name: str) -> JSON:
        current = self.store.read(rt, namespace, name)
        if current is None:
            raise not_found(rt.group, rt.plural, name)
        return current

    async def _commit_update(
        self, ctx: Context, rt: ResourceType, sub: str, new: JSON, current: JSON
    ) -> Written:
        if sub == "status":
            status = new.get("status")
            new = copy.deepcopy(current)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
        elif rt.status_subresource and rt.custom:
            new.pop("status", None)
            if "status" in current:
                new["status"] = current["status"]
        self._check_special(rt, new)
        new, warnings = await self._admit(ctx, rt, sub, "UPDATE", new, current)
        rv = current["metadata"]["resourceVersion"]
        if ctx.dry_run:
            return Written(new, warnings)
        new["metadata"]["resourceVersion"] = rv
        stored = self.store.update(rt, new, expect_rv=rv)
        self._after_write(rt, stored)
        return Written(stored, warnings)

    async def update(
        self, ctx: Context, rt: ResourceType, namespace: str, name: str, sub: str, body: Any
    ) -> Written:
        new = self._check_identity(rt, body, namespace, name)
        current = self._current(rt, namespace, name)
        rv = new["metadata"].get("resourceVersion")
        if not rv and rt.custom:
            raise invalid(rt.kind, name, "metadata.resourceVersion", 0,
                          "must be specified for an update")  # fmt: skip
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise conflict(rt.group, rt.plural, name)
        return await self._commit_update(ctx, rt, sub, new, current)

    async def patch(
        self,
        ctx: Context,
        rt: ResourceType,
        namespace: str,
        name: str,
        sub: str,
        kind: PatchType,
        body: Any,
    ) -> Written:
        if kind is PatchType.APPLY and not ctx.field_manager:
            raise ApiError(
                422, "PatchOptions.meta.k8s.io is invalid: fieldManager: Required value: "
                "is required for apply patch", reason="Invalid",
            )  # fmt: skip
        current = self.store.read(rt, namespace, name)
        if current is None:
            if kind is PatchType.APPLY and not sub:
                return await self.create(ctx, rt, namespace, _named(body, name))
            raise not_found(rt.group, rt.plural, name)
        patched = apply_patch(current, body, kind)
        new = self._check_identity(rt, patched, namespace, name)
        rv = new["metadata"].get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise conflict(rt.group, rt.plural, name)
        return await self._commit_update(ctx, rt, sub, new, current)

    async def delete(self, ctx: Context, rt: ResourceType, namespace: str, name: str) -> JSON:
        current = self._current(rt, namespace, name)
        if ctx.dry_run:
            return current
        gone = self.store.remove(rt, namespace, name)
        self._after_write(rt, gone, deleted=True)
        return gone


def _named(body: Any, name: str) -> Any:
    if isinstance(body, dict):
        body = copy.deepcopy(body)
        body.setdefault("metadata", {}).setdefault("name", name)
    return body


def _crd_status(crd: JSON) -> JSON:
    names = (crd.get("spec") or {}).get("names") or {}
    now = now_rfc3339()
    return {
        "acceptedNames": names,
        "storedVersions": [
            v["name"] for v in (crd.get("spec") or {}).get("versions") or [] if v.get("storage")
        ],
        "conditions": [
            {"type": t, "status": "True", "reason": r, "message": m, "lastTransitionTime": now}
            for t, r, m in (
                ("NamesAccepted", "NoConflicts", "no conflicts found"),
                ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
            )
        ],
    }
