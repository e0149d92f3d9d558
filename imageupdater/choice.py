"""The step between "resolved" and "planned": what runs now, and what is written instead.

Pure and shared: the admission webhook and the reconciler both call these functions, so an
override one of them writes is exactly what the other reads as current (a disagreement here
is a needless write and Event per Application on every cycle).

* :class:`RunningVersion` is a version as an Application names it — ``tag``,
  ``tag@digest`` or ``@digest`` — compared the way upstream compares images (§5.4).
* :func:`running_version` says what an image runs now: the override already set in the
  source, else the image Argo CD reports live.
* :func:`chosen_image` says what is written for a resolved tag: the digest only for a
  strategy that follows digests (upstream keeps a tag's digest for ``digest`` alone).
* :func:`outdated_choices` is the whole decision: every image's choice when any image
  needs an update (upstream re-sets all managed images then), nothing when all run theirs.
"""

from __future__ import annotations

__all__ = [
    "ChosenImage",
    "RunningVersion",
    "chosen_image",
    "live_entry",
    "outdated_choices",
    "running_version",
]

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from imageupdater.application import find_live
from imageupdater.errors import ImageUpdaterError
from imageupdater.images import ImageRef
from imageupdater.policy import ImagePolicy


@dataclass(frozen=True, slots=True, eq=False)
class RunningVersion:
    """An image version as written in an Application: a tag, a digest, or both.

    Equality is upstream's "already up to date" test: when either side carries a digest
    only digests count (tags are ignored), otherwise the tags must match. The hash follows
    the same rule, so equal values hash alike.
    """

    tag: str | None
    digest: str | None = None

    def __post_init__(self) -> None:
        if not self.tag and not self.digest:
            raise ValueError("a running version needs a tag or a digest")

    @classmethod
    def parse(cls, text: object) -> RunningVersion | None:
        """``tag``, ``tag@digest`` or ``@digest``; None for a missing, empty or non-text value
        (a source edited by hand may hold anything)."""
        if not isinstance(text, str) or not text:
            return None
        tag, _, digest = text.partition("@")
        if not tag and not digest:
            return None
        return cls(tag or None, digest or None)

    def __str__(self) -> str:
        if self.digest is None:
            return self.tag or ""
        return f"{self.tag or ''}@{self.digest}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RunningVersion):
            return NotImplemented
        if self.digest or other.digest:
            return self.digest == other.digest
        return self.tag == other.tag

    def __hash__(self) -> int:
        return hash(("digest", self.digest) if self.digest else ("tag", self.tag))


@dataclass(frozen=True, slots=True)
class ChosenImage:
    """The version to write for one policy: ``tag``, plus ``digest`` when the strategy
    follows digests. Build it with :func:`chosen_image` from a resolution."""

    policy: ImagePolicy
    tag: str
    digest: str | None = None

    @property
    def version(self) -> RunningVersion:
        return RunningVersion(self.tag, self.digest)

    @property
    def reference(self) -> str:
        return f"{self.policy.image.full_name}:{self.version}"


def chosen_image(
    policy: ImagePolicy, tag: str | None, digest: str | None, *, pin_digest: bool = False
) -> ChosenImage | None:
    """What is written for a resolved ``tag`` (None when nothing qualified).

    The resolver fills the digest whenever it read a manifest (``newest-build`` does, for
    creation dates); it is written only when the strategy follows digests or an update
    policy requires the digest (``pin_digest``), or a tag-only image would look out of date
    to the next cycle and be rewritten.
    """
    if tag is None:
        return None
    keep = policy.strategy.follows_digest or pin_digest
    return ChosenImage(policy, tag, digest if keep else None)


def live_entry(policy: ImagePolicy, live: Sequence[ImageRef]) -> ImageRef | None:
    """The live image a policy manages: its Kustomize name's entry first, else its own."""
    if policy.kustomize is not None and policy.kustomize.name:
        try:
            renamed = find_live(ImageRef.parse(policy.kustomize.name), live)
        except ImageUpdaterError:
            renamed = None
        if renamed is not None:
            return renamed
    return find_live(policy.image, live)


def running_version(
    policy: ImagePolicy, override: RunningVersion | None, live: ImageRef | None
) -> RunningVersion | None:
    """What the image runs now: the override set in the source, else the live image.

    A version known only by digest gets the followed tag back for a strategy that follows
    one tag, as upstream does, so ``latest@sha256:…`` and a bare ``@sha256:…`` of the same
    image are one version rather than a flip-flop between two spellings.
    """
    version = override
    if version is None and live is not None and (live.tag or live.digest):
        version = RunningVersion(live.tag or None, live.digest or None)
    if (
        version is not None
        and version.tag is None
        and policy.strategy.follows_one_tag
        and policy.constraint
    ):
        version = RunningVersion(policy.constraint, version.digest)
    return version


def outdated_choices(
    choices: Iterable[tuple[RunningVersion | None, ChosenImage]],
) -> list[ChosenImage]:
    """Every choice when any image does not run its own yet; [] when all do.

    Like upstream, once one image needs an update all managed images are (re)set, so the
    overrides always name every image; when none does, nothing is written at all. An image
    whose running version is unknown always needs its override.
    """
    pairs = list(choices)
    if all(running is not None and running == choice.version for running, choice in pairs):
        return []
    return [choice for _, choice in pairs]
