"""``parse``: a raw ``ImageUpdater`` object → the parsed resource and every problem at once.

Owns the resource's outer shape (``apiVersion``/``kind``, ``metadata``, ``spec`` with its
fields; ``spec.namespace``, removed in upstream v1.2, is an error as the CRD's strict
validation makes it), the spec-level settings every applicationRef inherits, the rule that
``namePattern`` is unique (the API server keys applicationRefs by it), and the warnings that
need every image at once (``platforms`` that reach no strategy reading manifests).

The result's ``updater`` is None when what the resource selects cannot be known (its outer
shape, a ``namePattern`` or a label selector is wrong): then it must not act on anything.
Otherwise every applicationRef is present, those with bad settings as ``Unusable``, so an
Application they select is held back instead of falling to a less specific one. Pure and
bounded (``fields`` caps), so the webhook may call it on every apply.
"""

from __future__ import annotations

__all__ = ["API_VERSION", "KIND", "ParseResult", "parse"]

from collections.abc import Mapping
from dataclasses import dataclass

from imageupdater.annotations.report import Collector, quote
from imageupdater.credentials import CredentialRules
from imageupdater.imageupdaters import fields as f
from imageupdater.imageupdaters.imageconfig import PlatformUses
from imageupdater.imageupdaters.model import ApplicationRef, ImageUpdater
from imageupdater.imageupdaters.quirk import read_evidence
from imageupdater.imageupdaters.refs import Context, parse_ref
from imageupdater.imageupdaters.settings import Scope, parse_update_settings
from imageupdater.imageupdaters.verification import parse_verification
from imageupdater.imageupdaters.writeback import parse_write_back_settings
from imageupdater.problems import Problem

API_VERSION = "argocd-image-updater.argoproj.io/v1alpha1"
KIND = "ImageUpdater"
_SPEC_FIELDS = ("applicationRefs", "commonUpdateSettings", "writeBackConfig", "imagesVerification")


@dataclass(frozen=True, slots=True)
class ParseResult:
    """``updater`` is None when nothing may be selected; ``problems`` in document order."""

    updater: ImageUpdater | None
    problems: tuple[Problem, ...] = ()

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")


def parse(resource: object, *, rules: CredentialRules | None = None) -> ParseResult:
    """Parse one ImageUpdater object (as the API server or a YAML file gives it).

    ``rules`` decides which credential references its settings may make, for its namespace,
    exactly as for an Application's annotations there. Never raises.
    """
    out = f.new_collector()
    top = f.obj(out, "", resource, ("apiVersion", "kind", "metadata", "spec", "status"))
    if top is None:
        return ParseResult(None, _done(out))
    selectable = _check_type(out, top)
    metadata = top.get("metadata")
    if not isinstance(metadata, Mapping):
        if metadata is not None:
            out.error("metadata", f"must be an object, not {f.describe(metadata)}")
        metadata = {}
    name = metadata.get("name")
    namespace = metadata.get("namespace")
    generation = metadata.get("generation")
    namespace = f.clean(namespace) if isinstance(namespace, str) and namespace else None
    rules = rules or CredentialRules()
    scope = Scope(rules.secret_scope(namespace), rules.allows_operator_kinds(namespace))
    if top.get("spec") is None:
        out.error("spec", "is missing; an ImageUpdater needs spec.applicationRefs")
        return ParseResult(None, _done(out))
    spec = f.obj(out, "spec", top["spec"], (*_SPEC_FIELDS, "namespace"))
    if spec is None:
        return ParseResult(None, _done(out))
    if "namespace" in spec:
        out.error(
            "spec.namespace",
            "was removed in upstream v1.2: Applications are looked up in the ImageUpdater's "
            "own namespace (metadata.namespace); delete this field",
        )
    ctx = _context(out, spec, scope, metadata)
    refs = _refs(out, spec.get("applicationRefs"), ctx)
    _platform_warnings(out, ctx.platform_uses)
    if refs is None or not selectable:
        return ParseResult(None, _done(out))
    updater = ImageUpdater(
        name=f.clean(name) if isinstance(name, str) else "",
        namespace=namespace,
        generation=generation
        if isinstance(generation, int) and not isinstance(generation, bool)
        else 0,
        refs=refs,
    )
    return ParseResult(updater, _done(out))


def _done(out: Collector) -> tuple[Problem, ...]:
    # A check that runs once per applicationRef on an inherited value (a spec-level branch,
    # say) finds the same problem each time; it is reported once.
    return tuple(dict.fromkeys(out.problems))


def _check_type(out: Collector, top: Mapping[str, object]) -> bool:
    ok = True
    for field_name, wanted in (("apiVersion", API_VERSION), ("kind", KIND)):
        value = top.get(field_name)
        if value != wanted:
            found = "missing" if value is None else f"not {f.describe(value)}"
            out.error(field_name, f"must be {quote(wanted)}, {found}")
            ok = False
    return ok


def _context(
    out: Collector, spec: Mapping[str, object], scope: Scope, metadata: Mapping[str, object]
) -> Context:
    spec_level = Collector()
    spec_level.budget = out.budget
    ctx = Context(
        scope=scope,
        evidence=read_evidence(metadata),
        settings=parse_update_settings(
            spec_level, "spec.commonUpdateSettings", spec.get("commonUpdateSettings"), scope
        ),
        write_back=parse_write_back_settings(
            spec_level, "spec.writeBackConfig", spec.get("writeBackConfig"), scope.secret_namespace
        ),
        verification=parse_verification(
            spec_level, "spec.imagesVerification", spec.get("imagesVerification")
        ),
    )
    ctx.errors = tuple(p for p in spec_level.problems if p.severity == "error")
    out.problems.extend(spec_level.problems)
    return ctx


def _refs(out: Collector, value: object, ctx: Context) -> tuple[ApplicationRef, ...] | None:
    path = "spec.applicationRefs"
    if value is None:
        out.error(
            path,
            "is missing; list at least one applicationRef, e.g. {namePattern: '*', images: [...]}",
        )
        return None
    items = f.listing(out, path, value, max_items=f.MAX_APPLICATION_REFS)
    if items is None:
        return None
    if not items:
        out.error(path, "must list at least one applicationRef (the CRD's minItems: 1)")
        return None
    refs: list[ApplicationRef] = []
    patterns: dict[str, str] = {}
    complete = True
    for index, item in enumerate(items):
        ref = parse_ref(out, index, item, ctx)
        if ref is None:
            complete = False
            continue
        if ref.name_pattern in patterns:
            out.error(
                f.at(ref.path, "namePattern"),
                f"namePattern {quote(ref.name_pattern)} is also used by "
                f"{patterns[ref.name_pattern]}; namePatterns are unique (the API server keys "
                "applicationRefs by namePattern): merge the two entries",
            )
            complete = False
            continue
        patterns[ref.name_pattern] = ref.path
        refs.append(ref)
    return tuple(refs) if complete else None


def _platform_warnings(out: Collector, uses: PlatformUses) -> None:
    for path, strategies in uses.items():
        if any(strategy.needs_metadata for strategy in strategies):
            continue
        names = " or ".join(dict.fromkeys(f"'{s.value}'" for s in strategies))
        out.warn(
            path,
            f"has no effect with update strategy {names}, which never reads image manifests; "
            "platforms only matter for newest-build and digest",
        )
