"""``check_application``: an Application's configuration and spec overrides against the policies
that apply to it, for admission (and for ``lint`` and the reconciler's Events alike).

Owns what admission can judge without a registry:

* the annotations' configuration (``AppConfig``): each image's registry and repository, its
  update strategy, and for ``digest`` (which follows one named tag) that tag against
  ``deniedTags`` and ``requiredConstraint``;
* the overrides written into the spec, in every ``spec.source`` / ``spec.sources[]`` entry:
  Kustomize ``kustomize.images`` entries, and the Helm ``helm.parameters`` that name an
  image or a tag (the parameters the configured images write, ``plan.helm_parameter_names``,
  and the updater's defaults ``image.name`` / ``image.tag``): their registry, repository
  and tag.

What needs a registry or a clock (``maxBump``, ``minimumAge``, ``updateWindows``,
``requireDigest``) governs the updater's own writes and is judged by ``filter_candidates``;
a human's edit is not an update by the updater.
"""

from __future__ import annotations

__all__ = ["FindingsMemo", "check_application"]

from collections.abc import Hashable, Iterator, Mapping, Sequence
from typing import Any

from imageupdater.annotations import PREFIX
from imageupdater.annotations.keys import key_alias
from imageupdater.choice import RunningVersion
from imageupdater.errors import InvalidInput
from imageupdater.images import ImageRef
from imageupdater.plan import DEFAULT_HELM_NAME, DEFAULT_HELM_TAG, helm_parameter_names
from imageupdater.policy import AppConfig, ImagePolicy
from imageupdater.updatepolicy.checks import (
    Subject,
    constraint_finding,
    normalised_name,
    registry_finding,
    repository_finding,
    strategy_finding,
    tag_finding,
)
from imageupdater.updatepolicy.findings import Finding
from imageupdater.updatepolicy.model import Policy
from imageupdater.updatepolicy.reading import quoted

_IMAGE_LIST = PREFIX + "image-list"
_STRATEGY = "update-strategy"


class FindingsMemo:
    """What each policy says about an Application's configured images, remembered per
    (policies, images, strategy annotations): the many Applications configured alike are
    judged once. Bounded (the oldest entry goes first); each entry keeps its policies
    alive, so the identities in its key stay theirs."""

    def __init__(self, limit: int = 4096) -> None:
        self._found: dict[Hashable, tuple[Sequence[Policy], tuple[tuple[Finding, ...], ...]]] = {}
        self._limit = limit

    def recall(self, key: Hashable) -> tuple[tuple[Finding, ...], ...] | None:
        kept = self._found.get(key)
        return kept[1] if kept is not None else None

    def keep(
        self, key: Hashable, policies: Sequence[Policy], found: tuple[tuple[Finding, ...], ...]
    ) -> None:
        if len(self._found) >= self._limit:
            self._found.pop(next(iter(self._found)))
        self._found[key] = (policies, found)

    def __len__(self) -> int:
        return len(self._found)


def check_application(
    policies: Sequence[Policy],
    app: Mapping[str, Any],
    config: AppConfig | None,
    *,
    memo: FindingsMemo | None = None,
) -> tuple[Finding, ...]:
    """Every finding of every policy (already matched to ``app``) about ``app``.

    ``config`` is the parsed annotations (None when the Application has none, or they do not
    parse: the spec overrides are judged all the same). Findings come policy by policy, in
    the order given, each naming its policy. ``memo`` remembers the configured images'
    findings for the next Application configured alike.
    """
    annotations = _annotations(app)
    configured = _configured_by_policy(policies, config, annotations, memo)
    overrides = list(_overrides(app, config))
    findings: list[Finding] = []
    for policy, own in zip(policies, configured, strict=True):
        findings.extend(own)
        for subject, ref, tag in overrides:
            findings.extend(_image_findings(policy, ref, tag, subject))
    return tuple(findings)


def _configured_by_policy(
    policies: Sequence[Policy],
    config: AppConfig | None,
    annotations: Mapping[str, str],
    memo: FindingsMemo | None,
) -> tuple[tuple[Finding, ...], ...]:
    images = config.images if config is not None else ()
    if not images:
        return tuple(() for _ in policies)
    # The strategy's annotation is named in findings, so it is part of what is judged.
    keys = tuple(_strategy_key(image, annotations) for image in images)
    memo_key = (tuple(id(p) for p in policies), images, keys)
    found = memo.recall(memo_key) if memo is not None else None
    if found is None:
        found = tuple(
            tuple(
                finding
                for image, key in zip(images, keys, strict=True)
                for finding in _configured(policy, image, key)
            )
            for policy in policies
        )
        if memo is not None:
            memo.keep(memo_key, tuple(policies), found)
    return found


def _configured(policy: Policy, image: ImagePolicy, strategy_key: str) -> Iterator[Finding]:
    ref = image.image
    label = f"image {quoted(ref.alias or ref.full_name)}"
    subject = Subject(label, _IMAGE_LIST, ref.full_name)
    yield from _present(registry_finding(policy, ref, subject))
    yield from _present(repository_finding(policy, ref, subject))
    strategy_subject = Subject(label, strategy_key, ref.full_name)
    yield from _present(strategy_finding(policy, image.strategy, strategy_subject))
    if image.strategy.follows_one_tag and image.constraint:
        # `digest` follows exactly this tag: it is the only candidate there will ever be.
        yield from _present(tag_finding(policy, image.constraint, subject))
        yield from _present(constraint_finding(policy, image.constraint, subject))


def _strategy_key(image: ImagePolicy, annotations: Mapping[str, str]) -> str:
    """The annotation that set the image's strategy: its own, the application-wide one, or
    (the default, semver) the image list."""
    if image.alias is not None:
        own = f"{PREFIX}{key_alias(image.alias)}.{_STRATEGY}"
        if own in annotations:
            return own
    if PREFIX + _STRATEGY in annotations:
        return PREFIX + _STRATEGY
    return _IMAGE_LIST


def _image_findings(
    policy: Policy, ref: ImageRef | None, tag: str | None, subject: Subject
) -> Iterator[Finding]:
    if ref is not None:
        yield from _present(registry_finding(policy, ref, subject))
        yield from _present(repository_finding(policy, ref, subject))
    if tag is not None:
        yield from _present(tag_finding(policy, tag, subject))


def _present(finding: Finding | None) -> Iterator[Finding]:
    if finding is not None:
        yield finding


Override = tuple[Subject, ImageRef | None, str | None]


def _overrides(app: Mapping[str, Any], config: AppConfig | None) -> Iterator[Override]:
    """Each image or tag a human wrote into the spec: (subject, image, tag)."""
    helm_roles = _helm_roles(config)
    for path, source in _sources(app):
        kustomize = source.get("kustomize")
        images = kustomize.get("images") if isinstance(kustomize, Mapping) else None
        for position, entry in enumerate(images if isinstance(images, list) else ()):
            if isinstance(entry, str):
                yield from _kustomize(entry, f"{path}.kustomize.images[{position}]")
        helm = source.get("helm")
        params = helm.get("parameters") if isinstance(helm, Mapping) else None
        for position, param in enumerate(params if isinstance(params, list) else ()):
            if not isinstance(param, Mapping):
                continue
            name, value = param.get("name"), param.get("value")
            role = helm_roles.get(name) if isinstance(name, str) else None
            if role is not None and isinstance(value, str) and value:
                where = f"{path}.helm.parameters[{position}]"
                yield from _helm(str(name), value, role, where)


def _sources(app: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    spec = app.get("spec")
    if not isinstance(spec, Mapping):
        return
    single = spec.get("source")
    if isinstance(single, Mapping):
        yield "spec.source", single
    sources = spec.get("sources")
    for position, source in enumerate(sources if isinstance(sources, list) else ()):
        if isinstance(source, Mapping):
            yield f"spec.sources[{position}]", source


def _kustomize(entry: str, key: str) -> Iterator[Override]:
    # `[<name in the kustomization>=]<new name>[:tag][@digest]`: the image run is after '='.
    target = entry.split("=", 1)[1] if "=" in entry else entry
    ref = _parse(target)
    if ref is not None:
        label = f"Kustomize image {quoted(entry)}"
        yield Subject(label, key, normalised_name(ref)), ref, ref.tag


def _helm_roles(config: AppConfig | None) -> dict[str, str]:
    """Helm parameter name → what its value is: a full image ``spec``, a ``name``, a ``tag``."""
    roles = {DEFAULT_HELM_NAME: "name", DEFAULT_HELM_TAG: "tag"}
    for image in config.images if config is not None else ():
        spec, name, tag = helm_parameter_names(image)
        for parameter, role in ((spec, "spec"), (name, "name"), (tag, "tag")):
            if parameter is not None:
                roles[parameter] = role
    return roles


def _helm(name: str, value: str, role: str, key: str) -> Iterator[Override]:
    label = f"Helm parameter {quoted(name)} ({quoted(value)})"
    if role == "tag":
        version = RunningVersion.parse(value)
        if version is not None and version.tag is not None:
            yield Subject(label, key), None, version.tag
        return
    ref = _parse(value)
    if ref is not None:
        yield Subject(label, key, normalised_name(ref)), ref, ref.tag if role == "spec" else None


def _parse(text: str) -> ImageRef | None:
    # A value that is no image reference is the chart's business, not a policy breach.
    try:
        return ImageRef.parse(text)
    except InvalidInput:
        return None


def _annotations(app: Mapping[str, Any]) -> dict[str, str]:
    metadata = app.get("metadata")
    raw = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    if not isinstance(raw, Mapping):
        return {}
    return {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, str)}
