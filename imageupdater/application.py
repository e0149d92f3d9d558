"""Reading Argo CD Applications: their shape, which source we update, which images are live.

Pure functions over the raw JSON (typed as ``TypedDict``), shared by the webhook and the
reconciler so both make the same decisions (upstream behaviour §8 and §9).
"""

from __future__ import annotations

__all__ = [
    "Application",
    "ApplicationSource",
    "HelmParameter",
    "PluginEnvEntry",
    "SourceKind",
    "SourceRef",
    "app_key",
    "live_image_texts",
    "live_images",
    "parse_live_images",
    "select_source",
]

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NotRequired, TypedDict

from imageupdater.errors import InvalidImageReference
from imageupdater.images import ImageRef
from imageupdater.policy import WriteBackConfig

SourceKind = Literal["Helm", "Kustomize", "Plugin"]


class HelmParameter(TypedDict):
    name: str
    value: str
    forceString: NotRequired[bool]


class PluginEnvEntry(TypedDict):
    name: str
    value: str


class HelmBlock(TypedDict, total=False):
    parameters: list[HelmParameter]


class KustomizeBlock(TypedDict, total=False):
    images: list[str]


class PluginBlock(TypedDict, total=False):
    name: str
    env: list[PluginEnvEntry]


class ApplicationSource(TypedDict, total=False):
    repoURL: str
    path: str
    chart: str
    targetRevision: str
    ref: str
    helm: HelmBlock
    kustomize: KustomizeBlock
    plugin: PluginBlock
    directory: dict[str, Any]


class ApplicationSpec(TypedDict, total=False):
    project: str
    source: ApplicationSource
    sources: list[ApplicationSource]
    sourceHydrator: dict[str, Any]
    destination: dict[str, Any]


class ApplicationSummary(TypedDict, total=False):
    images: list[str]


class ApplicationStatus(TypedDict, total=False):
    summary: ApplicationSummary
    sourceType: str
    sourceTypes: list[str]


class ObjectMeta(TypedDict, total=False):
    name: str
    namespace: str
    uid: str
    resourceVersion: str
    generation: int
    labels: dict[str, str]
    annotations: dict[str, str]


class Application(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: ApplicationSpec
    status: ApplicationStatus


@dataclass(frozen=True, slots=True)
class SourceRef:
    """The source we read and write: ``index`` is None for ``spec.source``."""

    kind: SourceKind
    index: int | None

    @property
    def path(self) -> tuple[str | int, ...]:
        return ("spec", "source") if self.index is None else ("spec", "sources", self.index)

    def get(self, app: Application) -> ApplicationSource:
        spec = app.get("spec", {})
        if self.index is None:
            return spec.get("source", {})
        return spec.get("sources", [])[self.index]


def app_key(app: Application) -> str:
    meta = app.get("metadata", {})
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


_KINDS: tuple[SourceKind, ...] = ("Helm", "Kustomize", "Plugin")
_KIND_BY_NAME: dict[str, SourceKind] = {kind: kind for kind in _KINDS}
_BLOCK_OF: dict[SourceKind, str] = {"Helm": "helm", "Kustomize": "kustomize", "Plugin": "plugin"}


def _forced_kind(write_back: WriteBackConfig | None) -> SourceKind | None:
    """A git write-back target decides the kind before anything the cluster reports (§9)."""
    if write_back is None or write_back.method != "git":
        return None
    return write_back.target.source_kind


def _declared_kind(source: ApplicationSource) -> SourceKind | None:
    for kind in _KINDS:
        if _BLOCK_OF[kind] in source:
            return kind
    return None


def select_source(app: Application, write_back: WriteBackConfig | None = None) -> SourceRef | None:
    """The one source image overrides go to, and its kind; None for unsupported (Directory) apps.

    Single source: ``status.sourceType`` or an explicit helm/kustomize/plugin block. Multi-source:
    the first source with an explicit block, else the first whose ``status.sourceTypes`` entry is
    supported (upstream §9). Unlike upstream we also accept an explicit block when Argo CD has not
    reported a type yet (a freshly created Application), so the webhook can plan on create.
    """
    spec = app.get("spec", {})
    status = app.get("status", {})
    forced = _forced_kind(write_back)
    sources = spec.get("sources")
    if sources:
        reported = list(status.get("sourceTypes", []))
        for index, source in enumerate(sources):
            declared = _declared_kind(source)
            if declared is not None and (forced is None or declared == forced):
                return SourceRef(declared, index)
        for index, _ in enumerate(sources):
            kind = _KIND_BY_NAME.get(reported[index]) if index < len(reported) else None
            if kind is not None:
                return SourceRef(forced or kind, index)
        return None
    if forced is not None:
        return SourceRef(forced, None)
    single = spec.get("source")
    if single is None:
        return None
    reported_kind = _KIND_BY_NAME.get(status.get("sourceType", ""))
    if reported_kind is not None:
        return SourceRef(reported_kind, None)
    declared = _declared_kind(single)
    if declared is not None:
        return SourceRef(declared, None)
    if "chart" in single:
        return SourceRef("Helm", None)
    return None


def live_images(app: Application) -> tuple[ImageRef, ...]:
    """Images Argo CD reports as deployed (``status.summary.images``), unparsable ones skipped.

    Any shape is read: ``lint`` hands over manifests as their authors wrote them, and a
    status that is not what Argo CD writes simply reports no images.
    """
    return parse_live_images(live_image_texts(app))


def live_image_texts(app: Application | Mapping[str, Any]) -> tuple[str, ...]:
    """The text entries of ``status.summary.images`` (other values skipped): all that
    :func:`live_images` reads, so a cache of its answer can be keyed on them."""
    status: object = app.get("status")
    summary = status.get("summary") if isinstance(status, Mapping) else None
    images = summary.get("images") if isinstance(summary, Mapping) else None
    if not isinstance(images, list):
        return ()
    return tuple(text for text in images if isinstance(text, str))


def parse_live_images(texts: Sequence[str]) -> tuple[ImageRef, ...]:
    """:func:`live_images` from the texts :func:`live_image_texts` read."""
    found: list[ImageRef] = []
    for text in texts:
        try:
            found.append(ImageRef.parse(text))
        except InvalidImageReference:
            continue
    return tuple(found)


def find_live(image: ImageRef, live: Sequence[ImageRef]) -> ImageRef | None:
    """The live entry for ``image`` by normalised identity (``nginx`` is ``library/nginx``)."""
    wanted = image.identity()
    for candidate in live:
        if candidate.identity() == wanted:
            return candidate
    return None
