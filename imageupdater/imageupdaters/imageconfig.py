"""``applicationRefs[].images[]``: one image's alias, name, settings and manifest target, and
the ``ImagePolicy`` it becomes once the levels above are inherited.

Owns the entry's shape (``alias`` with the CRD's pattern, unique per applicationRef;
``imageName`` as ``[registry/]path[:constraint]`` or ``@digest``), ``manifestTargets`` with
the CRD's CEL rules (exactly one of ``helm``, ``kustomize``, ``plugin``; a plugin target
names ``spec`` or ``name``), and the checks that need the inherited strategy: the constraint
must fit it (a semver range for ``semver``, one plain tag for ``digest``; ignored, with a
warning, otherwise). Target names are judged by the annotation parser's validator.
"""

from __future__ import annotations

__all__ = ["ImageEntry", "build_policy", "parse_images"]

from collections.abc import Callable
from dataclasses import dataclass, replace

from imageupdater.annotations import values as v
from imageupdater.annotations.constraint import check_constraint
from imageupdater.annotations.limits import MAX_CONSTRAINT_LENGTH
from imageupdater.annotations.report import Collector, quote
from imageupdater.errors import InvalidImageReference
from imageupdater.images import ImageRef
from imageupdater.imageupdaters import fields as f
from imageupdater.imageupdaters.quirk import Written
from imageupdater.imageupdaters.settings import (
    Scope,
    UpdateSettings,
    inherit,
    parse_update_settings,
)
from imageupdater.imageupdaters.verification import VerificationBlock, parse_verification
from imageupdater.patterns import compile_re2, fullmatches
from imageupdater.policy import HelmTarget, ImagePolicy, KustomizeTarget, PluginTarget
from imageupdater.strategies import Strategy
from imageupdater.tags import TagFilter

_ALIAS = compile_re2(r"[a-zA-Z0-9][a-zA-Z0-9-._]*")
_FIELDS = ("alias", "imageName", "commonUpdateSettings", "manifestTargets", "imagesVerification")
_TARGET_MESSAGE = (
    "Exactly one of helm, kustomize, or plugin must be specified within manifestTargets "
    "if the block is present."
)
_MAX_ENV_NAME = 253

# platforms setting path -> the strategy of every image it reached
PlatformUses = dict[str, list[Strategy]]


@dataclass(frozen=True, slots=True)
class ImageEntry:
    """One images[] entry as written; ``ref`` None when its imageName was refused."""

    path: str
    alias: str
    text: str
    ref: ImageRef | None
    settings: UpdateSettings
    helm: HelmTarget | None = None
    kustomize: KustomizeTarget | None = None
    plugin: PluginTarget | None = None
    verification: VerificationBlock | None = None


def parse_images(
    out: Collector,
    path: str,
    value: object,
    scope: Scope,
    written: Callable[[str], Written],
) -> list[ImageEntry]:
    """Every entry that has an alias and an imageName; ``written(alias)`` answers the quirk."""
    items = f.listing(out, path, value, max_items=f.MAX_IMAGES_PER_REF)
    entries: list[ImageEntry] = []
    seen: dict[str, str] = {}
    for index, raw in enumerate(items or ()):
        where = f.item(path, index)
        entry = _parse_entry(out, where, raw, scope, written)
        if entry is None:
            continue
        if entry.alias in seen:
            out.error(
                f.at(where, "alias"),
                f"alias '{entry.alias}' is also used by {seen[entry.alias]}; aliases are unique "
                "within an applicationRef (the API server keys images by alias)",
            )
            continue
        seen[entry.alias] = where
        entries.append(entry)
    return entries


def _parse_entry(
    out: Collector, path: str, value: object, scope: Scope, written: Callable[[str], Written]
) -> ImageEntry | None:
    raw = f.obj(out, path, value, _FIELDS)
    if raw is None:
        return None
    alias = _required(out, f.at(path, "alias"), raw.get("alias"), "a short name such as 'web'")
    if alias is not None and not fullmatches(_ALIAS, alias):
        out.error(
            f.at(path, "alias"),
            f"alias {quote(alias)} must start with a letter or digit and hold only letters, "
            "digits, '-', '.' and '_' (the CRD's pattern ^[a-zA-Z0-9][a-zA-Z0-9-._]*$)",
        )
        alias = None
    text = _required(
        out, f.at(path, "imageName"), raw.get("imageName"), "the image, e.g. 'ghcr.io/org/web:1.x'"
    )
    ref = (
        None if text is None or alias is None else _image(out, f.at(path, "imageName"), text, alias)
    )
    settings = parse_update_settings(
        out,
        f.at(path, "commonUpdateSettings"),
        raw.get("commonUpdateSettings"),
        scope,
        None if alias is None else written(alias),
    )
    helm, kustomize, plugin = _targets(
        out, f.at(path, "manifestTargets"), raw.get("manifestTargets")
    )
    verification = parse_verification(
        out, f.at(path, "imagesVerification"), raw.get("imagesVerification")
    )
    if alias is None or text is None:
        return None
    return ImageEntry(path, alias, text, ref, settings, helm, kustomize, plugin, verification)


def _required(out: Collector, path: str, value: object, what: str) -> str | None:
    if value is None:
        out.error(path, f"is missing; give {what}")
        return None
    return f.string(out, path, value)


def _image(out: Collector, path: str, text: str, alias: str) -> ImageRef | None:
    try:
        ref = ImageRef.parse(text)
    except InvalidImageReference as err:
        out.error(path, str(err))
        return None
    if ref.alias is not None:
        out.error(
            path,
            f"{quote(text)} has an alias before '='; write only the image here, the alias "
            "belongs in the alias field",
        )
        return None
    if ref.tag is not None and len(ref.tag) > MAX_CONSTRAINT_LENGTH:
        out.error(
            path,
            f"its constraint is {len(ref.tag)} characters long; at most "
            f"{MAX_CONSTRAINT_LENGTH} are accepted",
        )
        return None
    if ref.tag is not None and not out.budget.take_constraint(len(ref.tag)):
        out.error(
            path,
            f"the constraints of all imageNames are more than {f.MAX_CONSTRAINTS_LENGTH} "
            "characters long together",
        )
        return None
    return replace(ref, alias=alias)


def _targets(
    out: Collector, path: str, value: object
) -> tuple[HelmTarget | None, KustomizeTarget | None, PluginTarget | None]:
    if value is None:
        return None, None, None
    raw = f.obj(out, path, value, ("helm", "kustomize", "plugin"))
    if raw is None:
        return None, None, None
    kinds: tuple[v.ParameterKind, ...] = ("helm", "kustomize", "plugin")
    present = [kind for kind in kinds if raw.get(kind) is not None]
    if len(present) != 1:
        out.error(path, f"{_TARGET_MESSAGE} Found {' and '.join(present) or 'none'}.")
        return None, None, None
    kind = present[0]
    where = f.at(path, kind)
    names = f.obj(
        out, where, raw[kind], ("name",) if kind == "kustomize" else ("name", "tag", "spec")
    )
    if names is None:
        return None, None, None
    read = {
        part: _name(out, f.at(where, part), names[part], kind)
        for part in names
        if names[part] is not None
    }
    if kind == "kustomize":
        if names.get("name") is None:
            out.error(
                f.at(where, "name"),
                "is missing; give the image name as the kustomization's images[].name lists it",
            )
        name = read.get("name")
        return None, (KustomizeTarget(name) if name else None), None
    if read.get("spec") and (ignored := [p for p in ("name", "tag") if read.get(p)]):
        for part in ignored:
            out.warn(f.at(where, part), f"is ignored because {f.at(where, 'spec')} is set")
    name, tag, spec = read.get("name"), read.get("tag"), read.get("spec")
    if kind == "helm":
        return (HelmTarget(name, tag, spec) if name or tag or spec else None), None, None
    if names.get("spec") is None and names.get("name") is None:
        out.error(where, "At least one of spec or name must be specified in plugin target.")
    return None, None, PluginTarget(name, tag, spec)


def _name(out: Collector, path: str, value: object, kind: v.ParameterKind) -> str | None:
    text = f.string(out, path, value)
    if text is None:
        return None
    if not text:
        if kind == "plugin":
            out.error(path, f"is empty; an env var name is 1 to {_MAX_ENV_NAME} characters long")
        else:
            out.warn(path, "has an empty value, which is ignored (the default applies)")
        return None
    return v.parse_parameter_name(out, path, text, kind)


def build_policy(
    out: Collector, entry: ImageEntry, inherited: UpdateSettings, platform_uses: PlatformUses
) -> ImagePolicy | None:
    """The image's policy with ``inherited`` (the applicationRef's merged settings) below
    its own; None when its imageName was refused."""
    merged = inherit(out, inherited, entry.settings)
    if entry.ref is None:
        return None
    strategy = Strategy.SEMVER if merged.strategy is None else merged.strategy.value
    check_constraint(
        out,
        f.at(entry.path, "imageName"),
        ref=entry.ref,
        text=entry.text,
        strategy=strategy,
        source="" if merged.strategy is None else f" (set by {merged.strategy.path})",
    )
    if merged.platforms is not None:
        platform_uses.setdefault(merged.platforms.path, []).append(strategy)
    allow = TagFilter().allow if merged.allow_tags is None else merged.allow_tags.value
    return ImagePolicy(
        image=entry.ref,
        strategy=strategy,
        constraint=entry.ref.tag,
        tag_filter=TagFilter(
            allow=allow, ignore=() if merged.ignore_tags is None else merged.ignore_tags.value
        ),
        platforms=() if merged.platforms is None else merged.platforms.value,
        pull_secret=None if merged.pull_secret is None else merged.pull_secret.value,
        force_update=False if merged.force_update is None else merged.force_update.value,
        helm=entry.helm,
        kustomize=entry.kustomize,
        plugin=entry.plugin,
    )
