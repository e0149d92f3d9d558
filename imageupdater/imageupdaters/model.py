"""The parsed ``ImageUpdater``: its applicationRefs, what each selects, and what each asks for.

Owns the values the parser produces and selection reads: :class:`ImageUpdater`,
:class:`ApplicationRef` (the selection criteria, the specificity order) and the three
things an applicationRef can mean for an Application it selects (:data:`RefSource`):

* :class:`FromResource`: the resource's own settings, inherited spec → applicationRef →
  image, as the same ``AppConfig`` the annotation parser produces, plus each image's
  signature-verification policy;
* :class:`UseAnnotations`: ``useAnnotations: true``; the caller reads the Application's
  annotations with the annotation parser (``imageupdater.review.parse_configuration``), as
  annotation mode does, and verifies with the applicationRef's own ``imagesVerification``;
* :class:`Unusable`: its settings (or the spec-level ones) have errors; the Application is
  selected, so no less specific applicationRef takes it over, but nothing is done to it.
"""

from __future__ import annotations

__all__ = [
    "ApplicationRef",
    "FromResource",
    "ImageUpdater",
    "RefSource",
    "Unusable",
    "UseAnnotations",
]

from collections.abc import Mapping
from dataclasses import dataclass, field

from imageupdater.imageupdaters.selectors import LabelSelector
from imageupdater.imageupdaters.specificity import specificity
from imageupdater.imageupdaters.verification import Verification
from imageupdater.policy import AppConfig
from imageupdater.problems import Problem
from imageupdater.tags import Glob


@dataclass(frozen=True, slots=True)
class FromResource:
    """The resource configures the images; ``verifications`` parallels ``config.images``."""

    config: AppConfig
    verifications: tuple[Verification | None, ...] = ()

    def verification(self, alias: str) -> Verification | None:
        for policy, verification in zip(self.config.images, self.verifications, strict=False):
            if policy.alias == alias:
                return verification
        return None


@dataclass(frozen=True, slots=True)
class UseAnnotations:
    """The Application's annotations configure it; ``verification`` applies to every image."""

    verification: Verification | None = None


@dataclass(frozen=True, slots=True)
class Unusable:
    """The applicationRef cannot be acted on: ``errors`` say why."""

    errors: tuple[Problem, ...]


RefSource = FromResource | UseAnnotations | Unusable


@dataclass(frozen=True, slots=True)
class ApplicationRef:
    """One ``spec.applicationRefs[index]`` entry, parsed."""

    index: int
    name_pattern: str
    label_selector: LabelSelector | None
    source: RefSource
    glob: Glob = field(repr=False, compare=False)

    @property
    def path(self) -> str:
        return f"spec.applicationRefs[{self.index}]"

    @property
    def use_annotations(self) -> bool:
        return isinstance(self.source, UseAnnotations)

    @property
    def specificity(self) -> int:
        return specificity(self.name_pattern, self.label_selector)

    def selects(self, name: str, labels: Mapping[str, str]) -> bool:
        """Upstream's match: the name glob (Go ``filepath.Match``) and the label selector."""
        if not self.glob.matches(name):
            return False
        return self.label_selector is None or self.label_selector.matches(labels)


@dataclass(frozen=True, slots=True)
class ImageUpdater:
    """An ``ImageUpdater`` whose applicationRefs can all be matched (settings may not be)."""

    name: str
    namespace: str | None
    generation: int
    refs: tuple[ApplicationRef, ...]
    # Most specific first; equal scores keep spec order (upstream's stable sort).
    ordered_refs: tuple[ApplicationRef, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.refs, key=lambda ref: -ref.specificity))
        object.__setattr__(self, "ordered_refs", ordered)
