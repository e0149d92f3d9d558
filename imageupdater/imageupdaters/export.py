"""Writing an Application's ``AppConfig`` as an ImageUpdater ``applicationRef``, and proving
the resource reads back as the same configuration (``image-updater migrate``).

Pure: raw JSON out, no YAML, no I/O. The steps, in the order ``migrate`` takes them:

* :func:`export_ref` — one Application's configuration (from its annotations) → one
  applicationRef selecting exactly that Application (``namePattern`` is its name, glob
  characters escaped), with the :class:`Notice` s of what had to change (an image without an
  alias is given one; a ``/`` in an alias is written ``_``; pull-request labels without a
  provider, which have no effect, are dropped) and the ``AppConfig`` it must read back as.
* :func:`pack` — applicationRefs of one namespace into as few resources as the reader's caps
  (and ``kubectl apply``'s last-applied record) allow.
* :func:`image_updater` — the resource around them; :func:`verify` — parse it back with
  :func:`~imageupdater.imageupdaters.parse`, bind every Application with
  :func:`~imageupdater.imageupdaters.bind` and compare configurations.

Where settings go: a setting every image of the Application shares goes on the
applicationRef's ``commonUpdateSettings`` (as an application-wide annotation reads), the
others on each image's; only values other than the defaults are written, and nothing is
written at the spec level. So no image block ever sets a field back to ``semver``/``false``
over a level above, which keeps the result exact even where upstream's v1.0–v1.3 CRD stores
those two defaults in every block (see ``quirk``): a block read as "not set" inherits the
same value it would have set.
"""

from __future__ import annotations

__all__ = [
    "ExportedRef",
    "Notice",
    "Verified",
    "export_ref",
    "image_updater",
    "name_pattern",
    "pack",
    "verify",
]

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from imageupdater.annotations.keys import key_alias
from imageupdater.annotations.report import full_key, quote
from imageupdater.credentials import CredentialRules
from imageupdater.imageupdaters import fields as f
from imageupdater.imageupdaters.model import FromResource, ImageUpdater
from imageupdater.imageupdaters.parse import API_VERSION, KIND, parse
from imageupdater.imageupdaters.selection import bind
from imageupdater.policy import AppConfig, ImagePolicy, WriteBackConfig
from imageupdater.problems import Problem
from imageupdater.strategies import Strategy

JSON = dict[str, Any]

_IMAGE_LIST = full_key("image-list")
_LABELS = full_key("git-pull-request-labels")
_GLOB_SPECIAL = frozenset("*?[]\\")
_ALIAS_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_ALIAS_CHARS = _ALIAS_START | frozenset("-._")
# kubectl apply (client-side) records the whole object in an annotation of at most 256 KiB;
# stay well below it so the record, metadata and kubectl's own fields fit.
MAX_RESOURCE_BYTES = 192 * 1024


@dataclass(frozen=True, slots=True)
class Notice:
    """What had to change for one Application without changing what is updated, or how;
    ``key`` is the annotation concerned. (What an ImageUpdater cannot hold at all, the
    reader refuses: :func:`verify` reports it.)"""

    key: str
    message: str


@dataclass(frozen=True, slots=True)
class ExportedRef:
    """One Application's applicationRef, and the configuration it must read back as."""

    application: str
    ref: JSON
    expected: AppConfig
    notices: tuple[Notice, ...] = ()

    @property
    def images(self) -> int:
        return len(self.expected.images)

    @property
    def globs(self) -> int:
        """``ignoreTags`` globs written, as the reader's per-resource budget counts them."""
        blocks = [self.ref.get("commonUpdateSettings") or {}]
        blocks += [image.get("commonUpdateSettings") or {} for image in self.ref["images"]]
        return sum(len(block.get("ignoreTags", ())) for block in blocks)

    @property
    def constraints(self) -> int:
        return sum(len(p.image.tag or "") for p in self.expected.images)

    @property
    def size(self) -> int:
        return len(json.dumps(self.ref, separators=(",", ":"))) + 1


def name_pattern(name: str) -> str:
    """A ``namePattern`` (Go ``filepath.Match``) that matches ``name`` and nothing else."""
    return "".join("\\" + char if char in _GLOB_SPECIAL else char for char in name)


def export_ref(application: str, config: AppConfig) -> ExportedRef:
    """The applicationRef configuring the Application named ``application`` as ``config``."""
    notices: list[Notice] = []
    aliases = _aliases(config.images, notices)
    images = [
        replace(p, image=replace(p.image, alias=a))
        for p, a in zip(config.images, aliases, strict=True)
    ]
    settings = [_settings(policy) for policy in images]
    first, *rest = settings or [{}]
    shared = {
        name: value
        for name, value in first.items()
        if all(name in other and other[name] == value for other in rest)
    }
    ref: JSON = {"namePattern": name_pattern(application)}
    if shared:
        ref["commonUpdateSettings"] = shared
    write_back = config.write_back
    if write_back.pull_request is None and write_back.pull_request_labels:
        notices.append(
            Notice(
                _LABELS,
                "is not carried over: without git-pull-request it has no effect, and an "
                "ImageUpdater holds labels only inside gitConfig.pullRequest",
            )
        )
        write_back = replace(write_back, pull_request_labels=())
    block = _write_back(write_back)
    if block:
        ref["writeBackConfig"] = block
    ref["images"] = [
        _image(policy, {k: v for k, v in own.items() if k not in shared})
        for policy, own in zip(images, settings, strict=True)
    ]
    expected = AppConfig(tuple(images), write_back)
    return ExportedRef(application, ref, expected, tuple(notices))


def _aliases(policies: Sequence[ImagePolicy], notices: list[Notice]) -> list[str]:
    """Every image's alias in the resource: as written, with ``/`` as ``_`` (the CRD's
    pattern has no ``/``; hold annotations already spell it so), or made up when missing."""
    taken = {key_alias(p.alias) for p in policies if p.alias is not None}
    found: list[str] = []
    for policy in policies:
        alias = policy.alias
        if alias is not None:
            written = key_alias(alias)
            if written != alias:
                notices.append(
                    Notice(
                        _IMAGE_LIST,
                        f"alias {quote(alias)} is written {quote(written)}: an ImageUpdater "
                        "alias cannot contain '/' (hold annotations already spell it so; a "
                        f"commit message template's .Alias now reads {quote(written)})",
                    )
                )
            found.append(written)
            continue
        made = _unique(_alias_for(policy), taken)
        taken.add(made)
        notices.append(
            Notice(
                _IMAGE_LIST,
                f"image {quote(str(policy.image))} has no alias; it is given the alias "
                f"{quote(made)}, since an ImageUpdater names every image (a commit message "
                f"template's .Alias now reads {quote(made)} instead of '')",
            )
        )
        found.append(made)
    return found


def _alias_for(policy: ImagePolicy) -> str:
    last = policy.image.name.rsplit("/", 1)[-1]
    text = "".join(char if char in _ALIAS_CHARS else "-" for char in last)
    text = text.lstrip("-._")
    return text or "image"


def _unique(alias: str, taken: set[str]) -> str:
    if alias not in taken:
        return alias
    number = 2
    while f"{alias}-{number}" in taken:
        number += 1
    return f"{alias}-{number}"


def _settings(policy: ImagePolicy) -> JSON:
    """The image's ``commonUpdateSettings`` fields that differ from the defaults."""
    found: JSON = {}
    if policy.strategy is not Strategy.SEMVER:
        found["updateStrategy"] = policy.strategy.value
    if policy.force_update:
        found["forceUpdate"] = True
    if policy.tag_filter.allow.pattern is not None:
        found["allowTags"] = str(policy.tag_filter.allow)
    if policy.tag_filter.ignore:
        found["ignoreTags"] = list(policy.tag_filter.ignore)
    if policy.pull_secret is not None:
        found["pullSecret"] = str(policy.pull_secret)
    if policy.platforms:
        found["platforms"] = [str(platform) for platform in policy.platforms]
    return found


def _image(policy: ImagePolicy, settings: JSON) -> JSON:
    entry: JSON = {
        "alias": policy.alias,
        "imageName": str(replace(policy.image, alias=None)),
    }
    if settings:
        entry["commonUpdateSettings"] = settings
    target = _target(policy)
    if target is not None:
        entry["manifestTargets"] = target
    return entry


def _target(policy: ImagePolicy) -> JSON | None:
    if policy.kustomize is not None:
        return {"kustomize": {"name": policy.kustomize.name}}
    for kind, names in (("helm", policy.helm), ("plugin", policy.plugin)):
        if names is not None:
            fields = {"name": names.name, "tag": names.tag, "spec": names.spec}
            return {kind: {k: v for k, v in fields.items() if v is not None}}
    return None


def _write_back(config: WriteBackConfig) -> JSON:
    block: JSON = {}
    if config.method == "git":
        credentials = config.git_credentials
        block["method"] = "git" if credentials in (None, "repocreds") else f"git:{credentials}"
    git: JSON = {}
    if config.repository is not None:
        git["repository"] = config.repository
    if config.branch is not None:
        git["branch"] = config.branch
    if config.target.text is not None:
        git["writeBackTarget"] = config.target.text
    if config.pull_request is not None:
        pull_request: JSON = {config.pull_request: {}}
        if config.pull_request_labels:
            pull_request["labels"] = list(config.pull_request_labels)
        git["pullRequest"] = pull_request
    if git:
        block["gitConfig"] = git
    return block


def pack(
    refs: Sequence[ExportedRef], *, max_bytes: int = MAX_RESOURCE_BYTES
) -> list[list[ExportedRef]]:
    """``refs`` in order, cut into runs that one resource can hold: the reader's caps on
    applicationRefs, images, ``ignoreTags`` globs and constraint length, and ``max_bytes``
    of JSON (one applicationRef always gets a resource of its own, whatever its size)."""
    runs: list[list[ExportedRef]] = []
    totals = [0, 0, 0, 0, 0]
    limits = (f.MAX_APPLICATION_REFS, f.MAX_IMAGES, f.MAX_GLOBS, f.MAX_CONSTRAINTS_LENGTH)
    for ref in refs:
        costs = [1, ref.images, ref.globs, ref.constraints, ref.size]
        fits = bool(runs) and all(
            total + cost <= limit
            for total, cost, limit in zip(totals, costs, (*limits, max_bytes), strict=True)
        )
        if not fits:
            runs.append([])
            totals = [0, 0, 0, 0, 0]
        runs[-1].append(ref)
        totals = [total + cost for total, cost in zip(totals, costs, strict=True)]
    return runs


def image_updater(name: str, namespace: str | None, refs: Iterable[ExportedRef]) -> JSON:
    """The ImageUpdater holding ``refs`` (no namespace: wherever it is applied)."""
    metadata: JSON = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata,
        "spec": {"applicationRefs": [ref.ref for ref in refs]},
    }


@dataclass(frozen=True, slots=True)
class Verified:
    """What reading a generated resource back found: the reader's ``problems`` (field paths
    as keys) and ``mismatches``, each a sentence naming the Application; an empty
    ``mismatches`` and no error mean every Application reads back exactly as exported.
    ``updater`` is the resource as read (None when it could not be)."""

    problems: tuple[Problem, ...]
    mismatches: tuple[str, ...]
    updater: ImageUpdater | None = None

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")

    @property
    def exact(self) -> bool:
        return not self.errors and not self.mismatches


def verify(
    resource: Mapping[str, Any],
    refs: Sequence[ExportedRef],
    *,
    rules: CredentialRules | None = None,
    others: Iterable[str] = (),
) -> Verified:
    """Parse ``resource`` as the webhook and ``run`` will, and check that each of ``refs``
    (in the order written) selects its Application with its own applicationRef and reads
    back as its ``expected`` configuration, and that no Application in ``others`` (the
    rest of the namespace) is selected at all."""
    result = parse(resource, rules=rules)
    if result.updater is None or result.errors:
        return Verified(result.problems, ())
    updater = result.updater
    metadata = resource.get("metadata")
    namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else None
    mismatches: list[str] = []

    def app(name: str) -> JSON:
        return {"metadata": {"name": name, "namespace": namespace}}

    for index, exported in enumerate(refs):
        name = exported.application
        binding = bind(updater, app(name))
        if binding is None or binding.ref.index != index:
            got = "no applicationRef" if binding is None else binding.ref.path
            mismatches.append(
                f"Application {quote(name)} is selected by {got}, not by "
                f"spec.applicationRefs[{index}] made for it"
            )
            continue
        source = binding.ref.source
        if not isinstance(source, FromResource):
            mismatches.append(f"Application {quote(name)}: {binding.ref.path} is not usable")
        elif source.config != exported.expected:
            mismatches.append(
                f"Application {quote(name)} reads back differently from "
                f"{binding.ref.path}: {_difference(source.config, exported.expected)}"
            )
    # A pattern without glob characters matches only itself: those (the ones migrate
    # writes) are a set look-up, so checking thousands of other Applications stays cheap.
    literal = {
        ref.name_pattern
        for ref in updater.refs
        if ref.label_selector is None and not _GLOB_SPECIAL.intersection(ref.name_pattern)
    }
    rest = [ref for ref in updater.refs if ref.name_pattern not in literal]
    for name in others:
        if name not in literal and not any(ref.selects(name, {}) for ref in rest):
            continue
        binding = bind(updater, app(name))
        if binding is not None:
            mismatches.append(
                f"Application {quote(name)}, which is not migrated, is selected by "
                f"{binding.ref.path}"
            )
    return Verified(result.problems, tuple(mismatches), updater)


def _difference(got: AppConfig, wanted: AppConfig) -> str:
    if got.write_back != wanted.write_back:
        return f"write-back {got.write_back!r} instead of {wanted.write_back!r}"
    if len(got.images) != len(wanted.images):
        return f"{len(got.images)} images instead of {len(wanted.images)}"
    for have, want in zip(got.images, wanted.images, strict=True):
        if have != want:
            return f"image {have!r} instead of {want!r}"
    return "the configurations differ"
