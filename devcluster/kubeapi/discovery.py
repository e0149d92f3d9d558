"""The served resource types (built-ins plus CRDs) and the discovery documents built from them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from imageupdater.errors import InvalidInput

from .tables import PrinterColumn, printer_columns

JSON = dict[str, Any]
# libyaml when present: the Application CRD is 7,000 lines and every test builds a KubeAPI.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")
SERVER_VERSION: JSON = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-devcluster",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23",
    "compiler": "gc",
    "platform": "linux/amd64",
}


class InvalidCRD(InvalidInput):
    """A CustomResourceDefinition the emulator cannot serve."""


@dataclass(frozen=True, slots=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    status_subresource: bool = False
    custom: bool = False  # CRD-served: stricter PUT, merge-only patches, generation rules
    verbs: tuple[str, ...] = VERBS  # as discovery lists them (SelfSubjectAccessReview: create)
    # The CRD version's printer columns (``tables``); () for built-ins, answered as JSON.
    columns: tuple[PrinterColumn, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def storage_key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def api_resources(self) -> list[JSON]:
        main: JSON = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            main["shortNames"] = list(self.short_names)
        out = [main]
        if self.status_subresource:
            out.append(
                {
                    "name": f"{self.plural}/status",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": self.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        return out


def _builtin(
    group: str, version: str, kind: str, plural: str, *, namespaced: bool = True, **kw: Any
) -> ResourceType:
    return ResourceType(group, version, plural, kind.lower(), kind, namespaced, **kw)


BUILTINS: tuple[ResourceType, ...] = (
    _builtin("", "v1", "Namespace", "namespaces", namespaced=False, short_names=("ns",),
             status_subresource=True),
    _builtin("", "v1", "Secret", "secrets"),
    _builtin("", "v1", "ConfigMap", "configmaps", short_names=("cm",)),
    _builtin("", "v1", "Event", "events", short_names=("ev",)),
    _builtin("", "v1", "Service", "services", short_names=("svc",), status_subresource=True),
    _builtin("events.k8s.io", "v1", "Event", "events", short_names=("ev",)),
    _builtin("coordination.k8s.io", "v1", "Lease", "leases"),
    # What an install applies; stored and served, never run (nothing schedules pods here).
    _builtin("apps", "v1", "Deployment", "deployments", short_names=("deploy",),
             status_subresource=True),
    _builtin("batch", "v1", "Job", "jobs", status_subresource=True),
    _builtin("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short_names=("pdb",),
             status_subresource=True),
    _builtin("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies",
             short_names=("netpol",)),
    _builtin("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration",
             "mutatingwebhookconfigurations", namespaced=False),
    _builtin("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration",
             "validatingwebhookconfigurations", namespaced=False),
    _builtin("apiextensions.k8s.io", "v1", "CustomResourceDefinition",
             "customresourcedefinitions", namespaced=False, short_names=("crd", "crds"),
             status_subresource=True),
    _builtin("", "v1", "ServiceAccount", "serviceaccounts", short_names=("sa",)),
    _builtin("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    _builtin("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _builtin("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
    _builtin("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings",
             namespaced=False),
    _builtin("authorization.k8s.io", "v1", "SelfSubjectAccessReview",
             "selfsubjectaccessreviews", namespaced=False, verbs=("create",)),
)  # fmt: skip

CRD_GROUP = "apiextensions.k8s.io"


def _required(crd: str, field: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidCRD(f"CRD {crd}: {field} is {value!r}, expected a non-empty string")
    return value


def crd_resource_types(crd: JSON) -> list[ResourceType]:
    """The served versions of one CRD; raises InvalidCRD naming the missing or wrong field."""
    name = (crd.get("metadata") or {}).get("name", "<unnamed>")
    if crd.get("kind") != "CustomResourceDefinition":
        raise InvalidCRD(
            f"{name}: kind is {crd.get('kind')!r}, expected 'CustomResourceDefinition'"
        )
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, plural, kind = (
        _required(name, "spec.group", spec.get("group")),
        _required(name, "spec.names.plural", names.get("plural")),
        _required(name, "spec.names.kind", names.get("kind")),
    )
    if name != f"{plural}.{group}":
        raise InvalidCRD(f"CRD {name}: metadata.name must be '{plural}.{group}'")
    scope = spec.get("scope", "Namespaced")
    if scope not in ("Namespaced", "Cluster"):
        raise InvalidCRD(f"CRD {name}: spec.scope is {scope!r}, expected Namespaced or Cluster")
    out = []
    for v in spec.get("versions") or []:
        if not v.get("served", True):
            continue
        out.append(
            ResourceType(
                group=group,
                version=str(v["name"]),
                plural=plural,
                singular=names.get("singular") or kind.lower(),
                kind=kind,
                namespaced=scope == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                status_subresource="status" in (v.get("subresources") or {}),
                custom=True,
                columns=_columns(v, name),
            )
        )
    if not out:
        raise InvalidCRD(f"CRD {name}: spec.versions has no served version")
    return out


def _columns(version: JSON, crd_name: str) -> tuple[PrinterColumn, ...]:
    try:
        return printer_columns(version, crd_name)
    except InvalidInput as exc:
        raise InvalidCRD(str(exc)) from None


def load_crd_files(paths: Iterable[Path]) -> list[JSON]:
    """Every CustomResourceDefinition document in the given YAML files or directories."""
    docs: list[JSON] = []
    for path in paths:
        files = (
            sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")) if path.is_dir() else [path]
        )
        for file in files:
            with file.open(encoding="utf-8") as fh:
                for doc in yaml.load_all(fh, Loader=_LOADER):
                    if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                        docs.append(doc)
    return docs


class Resources:
    """The registry of served types, keyed by group/version/plural."""

    def __init__(self, types: Iterable[ResourceType] = BUILTINS) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        for t in types:
            self.add(t)

    def add(self, rt: ResourceType) -> None:
        self._types[(rt.group, rt.version, rt.plural)] = rt

    def remove_group_plural(self, group: str, plural: str) -> None:
        for key in [k for k in self._types if k[0] == group and k[2] == plural]:
            del self._types[key]

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def any_version(self, group: str, plural: str) -> ResourceType | None:
        return next((t for t in self if t.group == group and t.plural == plural), None)

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        return next((t for t in self if t.api_version == api_version and t.kind == kind), None)

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._types.values()))

    def group_versions(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for t in self:
            versions = out.setdefault(t.group, [])
            if t.version not in versions:
                versions.append(t.version)
        return out

    # ---- discovery documents ----

    def api_versions(self, server_address: str) -> JSON:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
            ],
        }

    def _group(self, group: str, versions: list[str]) -> JSON:
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": entries, "preferredVersion": entries[0]}

    def api_group_list(self) -> JSON:
        groups = [self._group(g, vs) for g, vs in sorted(self.group_versions().items()) if g]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def api_group(self, group: str) -> JSON | None:
        versions = self.group_versions().get(group)
        if not group or not versions:
            return None
        return {"kind": "APIGroup", "apiVersion": "v1", **self._group(group, versions)}

    def api_resource_list(self, group: str, version: str) -> JSON | None:
        resources = [
            r for t in self if t.group == group and t.version == version for r in t.api_resources()
        ]
        if not resources:
            return None
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": sorted(resources, key=lambda r: str(r["name"])),
        }
