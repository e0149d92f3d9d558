"""Planning image overrides for the argocd write-back: what to set in an Application's source.

Pure: given an Application, the source to write (``application.select_source``) and the tag
chosen for each image, compute the new source block, the list of changes, and the patch that
applies it — a JSON merge patch guarded by ``resourceVersion`` for the reconciler, a JSONPatch
for the admission webhook. Both apps call this module, so they write byte-identical overrides
(upstream behaviour §10):

* Helm: ``helm.parameters`` entries ``{name, value, forceString: true}``; the name parameter
  (default ``image.name``) gets ``registry/name``, the tag parameter (default ``image.tag``)
  gets ``tag`` or ``tag@digest``; a configured spec parameter gets the full reference instead.
  Same-named parameters are replaced in place, new ones appended.
* Kustomize: ``kustomize.images`` entries ``[<kustomize name>=]<registry/name>:<tag>[@digest]``,
  replacing the entry for the same image name.
* Plugin: ``plugin.env`` entries by name (spec, name, tag variables), replaced or appended.
"""

from __future__ import annotations

__all__ = [
    "Change",
    "Plan",
    "current_override",
    "current_overrides",
    "helm_parameter_names",
    "json_patch",
    "managed_names",
    "merge_patch",
    "plan_overrides",
]

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from imageupdater.application import (
    Application,
    ApplicationSource,
    HelmParameter,
    PluginEnvEntry,
    SourceRef,
)
from imageupdater.choice import ChosenImage, RunningVersion
from imageupdater.policy import ImagePolicy

DEFAULT_HELM_NAME = "image.name"
DEFAULT_HELM_TAG = "image.tag"


@dataclass(frozen=True, slots=True)
class Change:
    """One image whose override changes: ``old`` is the version set before (None when unset)."""

    alias: str | None
    image: str
    old: RunningVersion | None
    new: RunningVersion


@dataclass(frozen=True, slots=True)
class Plan:
    source: SourceRef
    old_source: ApplicationSource
    new_source: ApplicationSource
    changes: tuple[Change, ...]
    # Annotations written in the same patch as the source (None removes one): the record of
    # what was written (``updatepolicy.rollback``) and holds, so they land with the update
    # or not at all.
    annotations: tuple[tuple[str, str | None], ...] = ()

    @property
    def changed(self) -> bool:
        return self.old_source != self.new_source


def _kustomize_key(entry: str) -> str:
    """The image name an entry overrides: before ``=``, else the name without tag or digest."""
    if "=" in entry:
        return entry.split("=", 1)[0]
    name = entry.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def _kustomize_version(entry: str) -> RunningVersion | None:
    target = entry.split("=", 1)[1] if "=" in entry else entry
    at = target.find("@")
    digest = target[at:] if at >= 0 else ""
    name = target[:at] if at >= 0 else target
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = name[colon + 1 :] if colon > slash else ""
    return RunningVersion.parse(tag + digest)


def _helm_names(policy: ImagePolicy) -> tuple[str | None, str | None, str | None]:
    """(spec param, name param, tag param); a spec param replaces the name/tag pair."""
    target = policy.helm
    if target is not None and target.spec:
        return target.spec, None, None
    name = target.name if target is not None and target.name else DEFAULT_HELM_NAME
    tag = target.tag if target is not None and target.tag else DEFAULT_HELM_TAG
    return None, name, tag


def _plugin_names(policy: ImagePolicy) -> tuple[str | None, str | None, str | None]:
    target = policy.plugin
    if target is None:
        return None, None, None
    if target.spec:
        return target.spec, None, None
    return None, target.name, target.tag


def _kustomize_name(policy: ImagePolicy) -> str:
    target = policy.kustomize
    return target.name if target is not None and target.name else policy.image.full_name


def helm_parameter_names(policy: ImagePolicy) -> tuple[str | None, str | None, str | None]:
    """(spec parameter, name parameter, tag parameter) this image writes in a Helm source."""
    return _helm_names(policy)


def managed_names(kind: str, policies: Sequence[ImagePolicy]) -> list[str]:
    """The Helm parameters or plugin env vars the tracked images own (an override file
    written back to git holds only these, as upstream's does)."""
    names: list[str] = []
    for policy in policies:
        triple = _helm_names(policy) if kind == "Helm" else _plugin_names(policy)
        names.extend(name for name in triple if name is not None and name not in names)
    return names


def current_override(
    source: ApplicationSource, kind: str, policy: ImagePolicy
) -> RunningVersion | None:
    """The version this source already overrides the image with, if any."""
    return current_overrides(source, kind, (policy,))[0]


def current_overrides(
    source: ApplicationSource, kind: str, policies: Sequence[ImagePolicy]
) -> list[RunningVersion | None]:
    """:func:`current_override` for each of ``policies``, reading the source once."""
    if kind == "Kustomize":
        entries = source.get("kustomize", {}).get("images", [])
        keys = [_kustomize_key(entry) for entry in entries]
        found: list[RunningVersion | None] = []
        for policy in policies:
            key = _kustomize_name(policy)
            found.append(
                next(
                    (_kustomize_version(e) for e, k in zip(entries, keys, strict=True) if k == key),
                    None,
                )
            )
        return found
    if kind == "Helm":
        values = {
            p.get("name"): p.get("value") for p in source.get("helm", {}).get("parameters", [])
        }
        names = _helm_names
    else:
        values = {e.get("name"): e.get("value") for e in source.get("plugin", {}).get("env", [])}
        names = _plugin_names
    overrides: list[RunningVersion | None] = []
    for policy in policies:
        spec_name, _, tag_name = names(policy)
        if spec_name is not None:
            value = values.get(spec_name)
            overrides.append(_kustomize_version(value) if value else None)
        else:
            overrides.append(RunningVersion.parse(values.get(tag_name)) if tag_name else None)
    return overrides


def _set_helm(source: ApplicationSource, chosen: ChosenImage) -> None:
    spec_param, name_param, tag_param = _helm_names(chosen.policy)
    wanted: list[tuple[str, str]] = []
    if spec_param is not None:
        wanted.append((spec_param, chosen.reference))
    else:
        assert name_param is not None and tag_param is not None
        wanted.append((name_param, chosen.policy.image.full_name))
        wanted.append((tag_param, str(chosen.version)))
    params: list[HelmParameter] = source.setdefault("helm", {}).setdefault("parameters", [])
    for name, value in wanted:
        for param in params:
            if param.get("name") == name:
                param["value"] = value
                param["forceString"] = True
                break
        else:
            params.append({"name": name, "value": value, "forceString": True})


def _set_kustomize(source: ApplicationSource, chosen: ChosenImage) -> None:
    target = chosen.policy.kustomize
    key = _kustomize_name(chosen.policy)
    renamed = target is not None and bool(target.name)
    entry = f"{key}={chosen.reference}" if renamed else chosen.reference
    images: list[str] = source.setdefault("kustomize", {}).setdefault("images", [])
    for index, existing in enumerate(images):
        if _kustomize_key(existing) == key:
            images[index] = entry
            return
    images.append(entry)


def _set_plugin(source: ApplicationSource, chosen: ChosenImage) -> None:
    spec_env, name_env, tag_env = _plugin_names(chosen.policy)
    wanted: list[tuple[str, str]] = []
    if spec_env is not None:
        wanted.append((spec_env, chosen.reference))
    if name_env is not None:
        wanted.append((name_env, chosen.policy.image.full_name))
    if tag_env is not None:
        wanted.append((tag_env, str(chosen.version)))
    env: list[PluginEnvEntry] = source.setdefault("plugin", {}).setdefault("env", [])
    for name, value in wanted:
        for item in env:
            if item.get("name") == name:
                item["value"] = value
                break
        else:
            env.append({"name": name, "value": value})


_SETTERS = {"Helm": _set_helm, "Kustomize": _set_kustomize, "Plugin": _set_plugin}


def plan_overrides(
    app: Application,
    source: SourceRef,
    chosen: Sequence[ChosenImage],
    running: Mapping[ImagePolicy, RunningVersion | None] | None = None,
) -> Plan:
    """Apply every chosen image to a copy of the source; the plan says what changed.

    ``running``: the version each image runs, for a write-back whose overrides do not live
    in the Application (git): a change is then measured from what runs, and an image that
    already runs its choice is not listed as changed.
    """
    old_source = source.get(app)
    if not chosen:
        # Nothing to set (every image runs its choice): the copy would equal the original.
        return Plan(source, old_source, old_source, ())
    new_source: ApplicationSource = copy.deepcopy(old_source)
    changes: list[Change] = []
    setter = _SETTERS[source.kind]
    for item in chosen:
        old = current_override(old_source, source.kind, item.policy)
        if old is None and running is not None:
            old = running.get(item.policy)
        setter(new_source, item)
        # Spelled differently is a change even where upstream's equality calls the two the
        # same (``1.0@sha256:…`` for ``1.0``): the plan compares what is written.
        if old is None or str(old) != str(item.version):
            changes.append(
                Change(item.policy.image.alias, item.policy.image.full_name, old, item.version)
            )
    return Plan(source, old_source, new_source, tuple(changes))


def merge_patch(app: Application, plan: Plan) -> dict[str, Any]:
    """A JSON merge patch (RFC 7386) that sets the planned source, guarded by ``resourceVersion``.

    Lists cannot be merged by RFC 7386, so the patch carries the whole block it changes
    (``helm`` / ``kustomize`` / ``plugin`` of one source, or the whole ``sources`` list for a
    multi-source Application); the ``resourceVersion`` guard turns a concurrent edit into a 409
    instead of a lost update.
    """
    resource_version = app.get("metadata", {}).get("resourceVersion")
    patch: dict[str, Any] = {}
    if resource_version is not None:
        patch["metadata"] = {"resourceVersion": resource_version}
    if plan.annotations:
        patch.setdefault("metadata", {})["annotations"] = dict(plan.annotations)
    block = {"Helm": "helm", "Kustomize": "kustomize", "Plugin": "plugin"}[plan.source.kind]
    if plan.source.index is None:
        patch["spec"] = {"source": {block: plan.new_source.get(block)}}
    else:
        sources = copy.deepcopy(app.get("spec", {}).get("sources", []))
        sources[plan.source.index] = plan.new_source
        patch["spec"] = {"sources": sources}
    return patch


def _pointer(parts: Sequence[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def json_patch(app: Application, plan: Plan) -> list[dict[str, Any]]:
    """A JSONPatch (RFC 6902) for the admission webhook: add or replace the one changed block."""
    if not plan.changed:
        return []
    operations: list[dict[str, Any]] = []
    base = list(plan.source.path)
    spec = app.get("spec")
    if spec is None:
        operations.append({"op": "add", "path": "/spec", "value": {}})
    if plan.source.index is None and (spec is None or "source" not in spec):
        operations.append({"op": "add", "path": _pointer(base), "value": {}})
    block = {"Helm": "helm", "Kustomize": "kustomize", "Plugin": "plugin"}[plan.source.kind]
    op = "replace" if block in plan.old_source else "add"
    operations.append(
        {"op": op, "path": _pointer([*base, block]), "value": plan.new_source.get(block)}
    )
    operations.extend(_annotation_operations(app, plan.annotations))
    return operations


def _annotation_operations(
    app: Application, annotations: Sequence[tuple[str, str | None]]
) -> list[dict[str, Any]]:
    if not annotations:
        return []
    metadata = app.get("metadata")
    present = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    operations: list[dict[str, Any]] = []
    if not isinstance(metadata, Mapping):
        operations.append({"op": "add", "path": "/metadata", "value": {}})
    if not isinstance(present, Mapping):
        operations.append({"op": "add", "path": "/metadata/annotations", "value": {}})
        present = {}
    for key, value in annotations:
        path = _pointer(["metadata", "annotations", key])
        if value is not None:
            operations.append({"op": "add", "path": path, "value": value})
        elif key in present:
            operations.append({"op": "remove", "path": path})
    return operations
