"""One ``spec.applicationRefs[]`` entry: its selection criteria and what it configures.

Owns reading ``namePattern`` (a Go ``filepath.Match`` glob, checked), ``labelSelectors``,
``useAnnotations``, and turning the entry's settings, with the spec-level ones under them,
into its :data:`~imageupdater.imageupdaters.model.RefSource`. Also the CRD's CEL rule
"either useAnnotations is true or images lists at least one image", the warnings for fields
``useAnnotations: true`` ignores, and upstream's rule that such an entry verifies signatures
with its own ``imagesVerification`` only (the spec-level one is not inherited: a warning
says so rather than leaving images unverified in silence).
"""

from __future__ import annotations

__all__ = ["Context", "parse_ref"]

from dataclasses import dataclass, field

from imageupdater.annotations.report import Collector
from imageupdater.errors import InvalidTagFilter
from imageupdater.imageupdaters import fields as f
from imageupdater.imageupdaters.imageconfig import PlatformUses, build_policy, parse_images
from imageupdater.imageupdaters.model import (
    ApplicationRef,
    FromResource,
    RefSource,
    Unusable,
    UseAnnotations,
)
from imageupdater.imageupdaters.quirk import Evidence, Written
from imageupdater.imageupdaters.selectors import parse_selector
from imageupdater.imageupdaters.settings import (
    Scope,
    UpdateSettings,
    inherit,
    parse_update_settings,
)
from imageupdater.imageupdaters.verification import (
    VerificationBlock,
    merge_verification,
    parse_verification,
)
from imageupdater.imageupdaters.writeback import (
    WriteBackSettings,
    build_write_back,
    inherit_write_back,
    parse_write_back_settings,
)
from imageupdater.policy import AppConfig
from imageupdater.problems import Problem
from imageupdater.tags import Glob

_FIELDS = (
    "namePattern",
    "labelSelectors",
    "useAnnotations",
    "imagesVerification",
    "commonUpdateSettings",
    "writeBackConfig",
    "images",
)
_IMAGES_RULE = (
    "Either useAnnotations must be true, or images must be provided with at least one item"
)


@dataclass(slots=True)
class Context:
    """What every applicationRef inherits, and what is left of the resource's allowance."""

    scope: Scope
    evidence: Evidence
    settings: UpdateSettings = field(default_factory=UpdateSettings)
    write_back: WriteBackSettings = field(default_factory=WriteBackSettings)
    verification: VerificationBlock | None = None
    errors: tuple[Problem, ...] = ()  # spec-level: every applicationRef reading them is unusable
    images_left: int = f.MAX_IMAGES
    platform_uses: PlatformUses = field(default_factory=dict)


def parse_ref(out: Collector, index: int, value: object, ctx: Context) -> ApplicationRef | None:
    """The entry, or None when what it selects cannot be known (its problems are in ``out``)."""
    path = f.item("spec.applicationRefs", index)
    raw = f.obj(out, path, value, _FIELDS)
    if raw is None:
        return None
    errors = out.error_count
    pattern = None
    glob = None
    if raw.get("namePattern") is None:
        out.error(
            f.at(path, "namePattern"),
            "is missing; give a glob of Application names such as 'web-*' ('*' selects all)",
        )
    elif (pattern := f.string(out, f.at(path, "namePattern"), raw["namePattern"])) is not None:
        try:
            glob = Glob(pattern, what="namePattern")
        except InvalidTagFilter as err:
            out.error(f.at(path, "namePattern"), str(err))
    selector = None
    if raw.get("labelSelectors") is not None:
        selector = parse_selector(out, f.at(path, "labelSelectors"), raw["labelSelectors"])
    selectable = out.error_count == errors and pattern is not None and glob is not None
    own = Collector()
    own.budget = out.budget
    use_annotations = False
    if raw.get("useAnnotations") is not None:
        use_annotations = (
            f.boolean(own, f.at(path, "useAnnotations"), raw["useAnnotations"]) is True
        )
    if use_annotations:
        source = _annotations(own, path, raw, ctx)
    else:
        source = _resource(own, path, raw, ctx, pattern or "")
    out.problems.extend(own.problems)
    if not selectable or pattern is None or glob is None:
        return None
    return ApplicationRef(index, pattern, selector, source, glob)


def _annotations(own: Collector, path: str, raw: dict[str, object], ctx: Context) -> RefSource:
    for name in ("images", "commonUpdateSettings", "writeBackConfig"):
        if raw.get(name) is not None:
            own.warn(
                f.at(path, name),
                "is ignored because useAnnotations is true: each selected Application's "
                "argocd-image-updater.argoproj.io/* annotations configure its images and "
                "write-back",
            )
    block = parse_verification(own, f.at(path, "imagesVerification"), raw.get("imagesVerification"))
    if raw.get("imagesVerification") is None and ctx.verification is not None:
        own.warn(
            ctx.verification.path,
            f"does not apply to {path}, which has useAnnotations: true: like upstream, such an "
            "applicationRef verifies signatures only with its own imagesVerification; repeat "
            "the block there to verify its images",
        )
    if own.error_count:
        return Unusable(tuple(p for p in own.problems if p.severity == "error"))
    return UseAnnotations(merge_verification(block))


def _resource(
    own: Collector, path: str, raw: dict[str, object], ctx: Context, pattern: str
) -> RefSource:
    images = raw.get("images")
    if images is None or images == []:
        own.error(
            f.at(path, "images") if "images" in raw else path,
            f"{_IMAGES_RULE}: list the images this applicationRef updates, or set "
            "useAnnotations: true to read them from each Application's annotations",
        )

    def written(alias: str | None) -> Written:
        return lambda name: ctx.evidence.written(pattern, alias, name)

    settings = parse_update_settings(
        own,
        f.at(path, "commonUpdateSettings"),
        raw.get("commonUpdateSettings"),
        ctx.scope,
        written(None),
    )
    write_back = parse_write_back_settings(
        own, f.at(path, "writeBackConfig"), raw.get("writeBackConfig"), ctx.scope.secret_namespace
    )
    verification = parse_verification(
        own, f.at(path, "imagesVerification"), raw.get("imagesVerification")
    )
    entries = (
        []
        if images is None
        else parse_images(own, f.at(path, "images"), images, ctx.scope, written)
    )
    if len(entries) > ctx.images_left:
        own.error(
            f.at(path, "images"),
            f"the ImageUpdater lists more than {f.MAX_IMAGES} images over all its "
            "applicationRefs; split it into several ImageUpdaters",
        )
        entries = []
    ctx.images_left -= len(entries)
    inherited = inherit(own, ctx.settings, settings)
    policies = [build_policy(own, entry, inherited, ctx.platform_uses) for entry in entries]
    verifications = tuple(
        merge_verification(ctx.verification, verification, e.verification) for e in entries
    )
    config = build_write_back(
        own, inherit_write_back(ctx.write_back, write_back), ctx.scope.secret_namespace
    )
    errors = ctx.errors + tuple(p for p in own.problems if p.severity == "error")
    images_read = tuple(p for p in policies if p is not None)
    if errors or len(images_read) != len(policies):
        return Unusable(errors)
    return FromResource(AppConfig(images_read, config), verifications)
