"""What one Application's planned change does to the files of its GitOps repository.

Pure: from the write-back target (already resolved to a repo path) and the plan, an
:class:`AppEdit` holds what to write, independent of the files' current content, so that
it can be applied again to whatever the branch holds after another writer moved it (the
edits are idempotent). The writer reads the files, calls :meth:`AppEdit.apply`, and
commits what changed.

* override file: the section for the source kind, from the plan's new source block —
  every ``kustomize.images`` entry, or only the Helm parameters / plugin env the tracked
  images manage;
* kustomization: the same ``kustomize.images`` entries, given to ``kustomize edit set
  image``'s rules (the kustomization file in the directory is found by the writer);
* helm values: for each tracked image the tag key then the name key (or the spec key),
  with the values the plan sets.
"""

from __future__ import annotations

__all__ = ["AppEdit", "app_edit", "commit_changes"]

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from imageupdater.errors import InvalidImageReference
from imageupdater.gitops.helmvalues import HelmValueWrite, set_values
from imageupdater.gitops.kustomization import set_images
from imageupdater.gitops.messages import CommitChange
from imageupdater.gitops.overridefile import OverrideKind, render_override_file
from imageupdater.gitops.paths import ResolvedTarget
from imageupdater.images import ImageRef
from imageupdater.plan import Plan, helm_parameter_names, managed_names
from imageupdater.policy import ImagePolicy

_OVERRIDE_KINDS: dict[str, OverrideKind] = {
    "Kustomize": "kustomize",
    "Helm": "helm",
    "Plugin": "plugin",
}


@dataclass(frozen=True, slots=True)
class AppEdit:
    """``path`` is the file, or for a kustomization the directory holding it."""

    kind: Literal["override", "kustomization", "helmvalues"]
    path: str
    override_kind: OverrideKind | None
    entries: tuple[Any, ...]

    def apply(self, existing: str | None, *, where: str) -> tuple[str, str | None]:
        """The file's new text and, when worth saying, a note (an unparseable override
        file replaced)."""
        if self.kind == "override":
            assert self.override_kind is not None
            rendered = render_override_file(existing, self.override_kind, self.entries)
            note = (
                f"{where} did not parse as an override file and was written afresh"
                if rendered.replaced_unparseable
                else None
            )
            return rendered.content, note
        if self.kind == "kustomization":
            return set_images(existing or "", [str(e) for e in self.entries], where=where), None
        return set_values(existing or "", list(self.entries), where=where), None


def app_edit(target: ResolvedTarget, plan: Plan, policies: Sequence[ImagePolicy]) -> AppEdit:
    source = plan.new_source
    kind = plan.source.kind
    if target.kind == "helmvalues":
        return AppEdit("helmvalues", target.path, None, tuple(_helm_writes(source, policies)))
    if target.kind == "kustomization":
        images = (source.get("kustomize") or {}).get("images") or []
        return AppEdit("kustomization", target.path, None, tuple(str(i) for i in images))
    override_kind = _OVERRIDE_KINDS[kind]
    entries: list[Any]
    if override_kind == "kustomize":
        entries = [str(i) for i in (source.get("kustomize") or {}).get("images") or []]
    elif override_kind == "helm":
        names = managed_names("Helm", policies)
        params = (source.get("helm") or {}).get("parameters") or []
        entries = [dict(p) for p in params if p.get("name") in names]
    else:
        names = managed_names("Plugin", policies)
        env = (source.get("plugin") or {}).get("env") or []
        entries = [dict(e) for e in env if e.get("name") in names]
    return AppEdit("override", target.path, override_kind, tuple(entries))


def _helm_writes(source: Any, policies: Sequence[ImagePolicy]) -> list[HelmValueWrite]:
    values = {
        str(p.get("name")): str(p.get("value", ""))
        for p in (source.get("helm") or {}).get("parameters") or []
    }
    writes: list[HelmValueWrite] = []
    for policy in policies:
        spec, name, tag = helm_parameter_names(policy)
        for key in (spec,) if spec else (tag, name):
            if key is not None and key in values:
                writes.append(HelmValueWrite(key, values[key]))
    return writes


def commit_changes(plan: Plan) -> list[CommitChange]:
    """The plan's changes as commit templates see them."""
    changes = []
    for change in plan.changes:
        try:
            image = ImageRef.parse(change.image).name
        except InvalidImageReference:
            image = change.image
        changes.append(
            CommitChange(
                image=image,
                old_tag=_version_text(change.old),
                new_tag=_version_text(change.new),
                alias=change.alias or "",
            )
        )
    return changes


def _version_text(version: Any) -> str:
    if version is None:
        return ""
    return str(version.digest or version.tag or "")
