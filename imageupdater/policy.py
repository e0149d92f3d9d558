"""What one image and one Application ask for, already parsed and validated.

These values are the output of ``annotations.parse`` and the input of resolution, planning
and write-back. They hold no raw annotation text that still needs interpreting, except the
git branch and write-back target, whose parts are exposed through properties so every
consumer splits them the same way.
"""

from __future__ import annotations

__all__ = [
    "KUSTOMIZATION_FILES",
    "AppConfig",
    "HelmTarget",
    "ImagePolicy",
    "KustomizeTarget",
    "PluginTarget",
    "TargetKind",
    "WriteBackConfig",
    "WriteBackMethod",
    "WriteBackTarget",
    "colons_outside_templates",
    "split_branch",
    "template_spans",
]

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from imageupdater.strategies import Strategy
from imageupdater.tags import TagFilter

if TYPE_CHECKING:
    from imageupdater.credentials import CredentialRef
    from imageupdater.images import ImageRef
    from imageupdater.platforms import Platform

WriteBackMethod = Literal["argocd", "git"]
TargetKind = Literal["override", "kustomization", "helmvalues"]

_TEMPLATE_OPEN = "{{"
_TEMPLATE_CLOSE = "}}"


@dataclass(frozen=True, slots=True)
class HelmTarget:
    """Helm parameter names; ``spec`` (full ``name:tag``) wins over ``name``/``tag``."""

    name: str | None = None
    tag: str | None = None
    spec: str | None = None


@dataclass(frozen=True, slots=True)
class KustomizeTarget:
    """The image name as written in the kustomization's ``images[].name``."""

    name: str | None = None


@dataclass(frozen=True, slots=True)
class PluginTarget:
    """Config-management-plugin env var names receiving the image name, tag or full spec."""

    name: str | None = None
    tag: str | None = None
    spec: str | None = None


@dataclass(frozen=True, slots=True)
class ImagePolicy:
    """How one image of an Application is kept current."""

    image: ImageRef
    strategy: Strategy = Strategy.SEMVER
    constraint: str | None = None
    tag_filter: TagFilter = field(default_factory=TagFilter)
    platforms: tuple[Platform, ...] = ()
    pull_secret: CredentialRef | None = None
    force_update: bool = False
    helm: HelmTarget | None = None
    kustomize: KustomizeTarget | None = None
    plugin: PluginTarget | None = None

    @property
    def alias(self) -> str | None:
        return self.image.alias


# kustomize's file names, in the order it looks for them: what a kustomization target's
# directory holds (and what a target written as a file path may name).
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


@dataclass(frozen=True, slots=True)
class WriteBackTarget:
    """``write-back-target``, read once: what kind of file is written, and where.

    ``kind`` is ``override`` (a parameter override file, the default), ``kustomization``
    or ``helmvalues``; ``path`` is the directory (kustomization) or file (the others), None
    when the default applies; ``text`` is the value as written (None when unset). Whether
    the value is acceptable is the annotation parser's to say; any text reads as a target.
    """

    kind: TargetKind
    path: str | None
    text: str | None

    @classmethod
    def parse(cls, text: str | None) -> WriteBackTarget:
        if not text:
            return cls("override", None, None)
        kinds: tuple[TargetKind, ...] = ("kustomization", "helmvalues")
        for kind in kinds:
            if text == kind:
                return cls(kind, None, text)
            if text.startswith(kind + ":"):
                return cls(kind, text[len(kind) + 1 :] or None, text)
        return cls("override", text, text)

    @property
    def source_kind(self) -> Literal["Helm", "Kustomize"] | None:
        """The source kind this target forces before anything the cluster reports (§9).

        Upstream's rule, kept exactly: a kustomization target is Kustomize; a target whose
        text ends in ``.yaml``/``.yml`` and does not name an override file is Helm.
        """
        if self.kind == "kustomization":
            return "Kustomize"
        text = self.text or ""
        base = text.rsplit("/", 1)[-1]
        if text.endswith((".yaml", ".yml")) and not base.startswith(".argocd-source-"):
            return "Helm"
        return None


@dataclass(frozen=True, slots=True)
class WriteBackConfig:
    """Where and how chosen versions are recorded.

    ``git_credentials`` is the credential form after ``git:``: ``"repocreds"`` (the
    default for git), ``"secret:<ns>/<name>"`` or ``"secret:<name>"`` (the Application's
    namespace); ``None`` for the argocd method.
    """

    method: WriteBackMethod = "argocd"
    git_credentials: str | None = None
    branch: str | None = None
    repository: str | None = None
    target: WriteBackTarget = field(default_factory=lambda: WriteBackTarget.parse(None))
    # ``git-pull-request``: push to a branch of the updater's own and open a pull request
    # (GitHub) or merge request (GitLab) against the base branch.
    pull_request: Literal["github", "gitlab"] | None = None
    pull_request_labels: tuple[str, ...] = ()

    @property
    def git_secret(self) -> tuple[str | None, str] | None:
        """``(namespace or None, name)`` of the git credentials Secret, when one is used."""
        if self.git_credentials is None or not self.git_credentials.startswith("secret:"):
            return None
        ref = self.git_credentials.removeprefix("secret:")
        namespace, sep, name = ref.partition("/")
        return (namespace, name) if sep else (None, ref)

    @property
    def base_branch(self) -> str | None:
        """The branch to check out; ``None`` means the source's ``targetRevision``."""
        if self.branch is None:
            return None
        base, _target = split_branch(self.branch)
        return base or None

    @property
    def target_branch(self) -> str | None:
        """The branch to push to (may be a template); ``None`` means the base branch."""
        if self.branch is None:
            return None
        return split_branch(self.branch)[1]


@dataclass(frozen=True, slots=True)
class AppConfig:
    """Everything one Application's image-updater annotations ask for."""

    images: tuple[ImagePolicy, ...]
    write_back: WriteBackConfig = WriteBackConfig()


def template_spans(text: str) -> list[tuple[int, int]]:
    """Half-open spans of ``{{ ... }}`` actions; an unclosed one runs to the end."""
    spans: list[tuple[int, int]] = []
    pos = 0
    while (start := text.find(_TEMPLATE_OPEN, pos)) != -1:
        close = text.find(_TEMPLATE_CLOSE, start + len(_TEMPLATE_OPEN))
        end = len(text) if close == -1 else close + len(_TEMPLATE_CLOSE)
        spans.append((start, end))
        pos = end
    return spans


def colons_outside_templates(text: str) -> list[int]:
    """Positions of ``:`` that separate branch parts (a template may contain its own)."""
    spans = template_spans(text)
    return [
        i
        for i, char in enumerate(text)
        if char == ":" and not any(start <= i < end for start, end in spans)
    ]


def split_branch(text: str) -> tuple[str, str | None]:
    """``"main"`` → ``("main", None)``; ``"main:up-{{.SHA256}}"`` → ``("main", "up-…")``.

    Validation (at most one separating ``:``) is the parser's job; here a second ``:``
    stays part of the target.
    """
    colons = colons_outside_templates(text)
    if not colons:
        return text, None
    return text[: colons[0]], text[colons[0] + 1 :]
