"""Which file in the repository a git write-back edits (upstream §11.3), and the rule that
it stays inside the repository.

* default: ``<source path>/.argocd-source-<app>.yaml``; ``.argocd-source-<namespace>_<app>.yaml``
  when the Application lives outside the Argo CD namespace (unless that namespace is
  unknown or ``default``, as upstream when run without one);
* ``kustomization[:<dir>]``: a directory, relative to the source path or repo-absolute with
  a leading ``/`` (the kustomization file in it is found later, by listing it);
* ``helmvalues[:<file>]``: a file, the same way; ``values.yaml`` in the source path by default;
* a bare path: the override file, relative to the repository root (upstream joins it to
  the root, so a leading ``/`` changes nothing).

Paths are cleaned as Go's ``filepath.Join`` cleans them; one that climbs above the
repository root is refused here, before anything is read.
"""

from __future__ import annotations

__all__ = [
    "ResolvedTarget",
    "clean_join",
    "key_target",
    "override_file_name",
    "resolve_target",
]

import posixpath
from dataclasses import dataclass
from typing import Literal

from imageupdater.errors import WriteBackTargetError
from imageupdater.policy import WriteBackTarget

DEFAULT_HELM_VALUES = "values.yaml"


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    """``path`` is repo-relative and clean; "" is the repository root (a directory only)."""

    kind: Literal["override", "kustomization", "helmvalues"]
    path: str

    @property
    def key(self) -> str:
        """What upstream's TargetKey hashes for this target: the file, or the kustomize base."""
        return self.path


def clean_join(*parts: str, where: str) -> str:
    """``parts`` joined and cleaned like ``filepath.Join``, relative to the repository root;
    a result above the root is an error naming ``where``."""
    relative = [part.lstrip("/") if n == 0 else part for n, part in enumerate(parts)]
    joined = posixpath.normpath(posixpath.join(*[p for p in relative if p] or ["."]))
    if joined.startswith("/"):
        # A later part was absolute: Go's Join would keep it under the root; so do we.
        joined = joined.lstrip("/")
    if joined in (".", ""):
        return ""
    if joined == ".." or joined.startswith("../"):
        raise WriteBackTargetError(
            f"{where} resolves to {joined!r}, outside the repository; a write-back target "
            "must stay inside it"
        )
    return joined


def override_file_name(app_name: str, app_namespace: str, argocd_namespace: str | None) -> str:
    """The default override file's name for an Application."""
    if not app_namespace or argocd_namespace in (None, "", "default", app_namespace):
        return f".argocd-source-{app_name}.yaml"
    return f".argocd-source-{app_namespace}_{app_name}.yaml"


def resolve_target(
    target: WriteBackTarget,
    *,
    source_path: str,
    app_name: str,
    app_namespace: str,
    argocd_namespace: str | None,
) -> ResolvedTarget:
    """Where ``target`` points for an Application whose source has ``source_path``."""
    where = f"write-back-target {target.text!r}" if target.text else "the default write-back target"
    source = source_path.strip()
    if target.kind == "kustomization":
        return ResolvedTarget("kustomization", _relative(target.path, source, ".", where))
    if target.kind == "helmvalues":
        return ResolvedTarget(
            "helmvalues", _relative(target.path, source, DEFAULT_HELM_VALUES, where)
        )
    if target.path is None:
        name = override_file_name(app_name, app_namespace, argocd_namespace)
        return ResolvedTarget("override", clean_join(source, name, where=where))
    path = clean_join(target.path, where=where)
    if not path:
        raise WriteBackTargetError(f"{where} names the repository root, not a file")
    return ResolvedTarget("override", path)


def _relative(given: str | None, source: str, default: str, where: str) -> str:
    if given is None:
        return clean_join(source, default, where=where)
    if given.startswith("/"):
        return clean_join(given[1:], where=where)
    return clean_join(source, given, where=where)


def key_target(
    target: ResolvedTarget,
    *,
    source_path: str,
    app_name: str,
    app_namespace: str,
    argocd_namespace: str | None,
) -> str:
    """The target part of upstream's TargetKey: the file written, except that for a
    kustomization target upstream hashes the default override file's path (its config
    keeps that default beside the kustomize base)."""
    if target.kind != "kustomization":
        return target.path
    name = override_file_name(app_name, app_namespace, argocd_namespace)
    return clean_join(source_path.strip(), name, where="the default write-back target")
