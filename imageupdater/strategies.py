"""Update strategies and choosing the tag an image should move to.

This module owns the strategy vocabulary (``semver``, ``newest-build``, ``alphabetical``,
``digest`` and the deprecated aliases ``latest`` and ``name``), what each strategy needs and
does (the capability properties of :class:`Strategy`: callers ask these, never
``strategy is Strategy.X``), and :func:`select`, which picks one tag out of the candidates
the registry listed and the filters kept.

Upstream silently treats an unknown strategy as ``semver``; :func:`parse_strategy` raises.
"""

from __future__ import annotations

__all__ = ["Strategy", "missing_followed_tag", "parse_strategy", "select"]

from collections.abc import Sequence
from enum import StrEnum

from imageupdater.errors import InvalidConstraint, InvalidStrategy
from imageupdater.tags import TagInfo
from imageupdater.versions import Constraint, Version


class Strategy(StrEnum):
    SEMVER = "semver"
    NEWEST_BUILD = "newest-build"
    ALPHABETICAL = "alphabetical"
    DIGEST = "digest"

    @property
    def needs_metadata(self) -> bool:
        """Whether choosing needs manifests (creation dates, digests), not just tag names."""
        return self in (Strategy.NEWEST_BUILD, Strategy.DIGEST)

    @property
    def follows_digest(self) -> bool:
        """Whether the chosen digest is written and compared (``tag@digest``).

        Only ``digest``: upstream keeps a tag's digest for it alone, so any other strategy
        writes the bare tag even when the resolver fetched a digest on the way.
        """
        return self is Strategy.DIGEST

    @property
    def follows_one_tag(self) -> bool:
        """Whether the constraint names the one tag to follow (required), not a range."""
        return self is Strategy.DIGEST

    @property
    def uses_constraint(self) -> bool:
        """Whether the image's ``:constraint`` part means anything to this strategy."""
        return self in (Strategy.SEMVER, Strategy.DIGEST)

    @property
    def constraint_is_semver(self) -> bool:
        """Whether the constraint is a semver range (checked when the annotation is read)."""
        return self is Strategy.SEMVER

    @property
    def lists_tags(self) -> bool:
        """Whether choosing reads the repository's tag list (``digest`` asks one tag only)."""
        return self is not Strategy.DIGEST

    @property
    def choice_depends_on_tags_only(self) -> bool:
        """Whether the choice is a function of the tag list, the policy and the current tag.

        Such choices can be remembered while the repository's tag list stays the same;
        the others depend on manifests that may change under an unchanged tag list.
        """
        return self in (Strategy.SEMVER, Strategy.ALPHABETICAL)

    @property
    def never_downgrades(self) -> bool:
        """Whether the running version is a floor the choice never goes below."""
        return self is Strategy.SEMVER


_ALIASES = {"latest": Strategy.NEWEST_BUILD, "name": Strategy.ALPHABETICAL}
_ACCEPTED = ", ".join(s.value for s in Strategy)


def parse_strategy(text: str) -> tuple[Strategy, str | None]:
    """Read a strategy name (any case): the strategy and a deprecation warning, if any.

    Raises :class:`InvalidStrategy` for anything else, naming the accepted values.
    """
    key = text.lower()
    if key in _ALIASES:
        strategy = _ALIASES[key]
        return strategy, f"update strategy {text!r} is deprecated, use {strategy.value!r}"
    try:
        return Strategy(key), None
    except ValueError:
        raise InvalidStrategy(
            f"unknown update strategy {text!r}; accepted: {_ACCEPTED} "
            f"(deprecated aliases: {', '.join(_ALIASES)})"
        ) from None


def select(
    strategy: Strategy,
    candidates: Sequence[TagInfo],
    *,
    constraint: str | None,
    current: str | None = None,
) -> TagInfo | None:
    """Choose the tag to run, or None when no candidate qualifies.

    * ``semver``: candidates that parse as versions and satisfy ``constraint`` (None or
      blank means ``*``, which excludes prereleases); the highest wins, equal versions
      going to the lexically greatest spelling. It never goes below ``current`` when that
      is a version: if the best allowed version has lower precedence than ``current``,
      the candidate named ``current`` is returned (so nothing changes), or None if the
      current tag is not among the candidates. Raises :class:`InvalidConstraint`.
    * ``newest-build``: the candidate with the latest ``created``, ties to the greatest
      name; candidates without ``created`` are dropped; ``constraint`` is ignored, and so
      is ``current`` (an older version built later is what this strategy asks for).
    * ``alphabetical``: the lexically greatest name; ``constraint`` and ``current`` ignored.
    * ``digest``: the candidate named exactly ``constraint`` (the tag to follow), carrying
      the digest the caller fetched. A missing constraint raises :class:`InvalidConstraint`
      (an ``InvalidInput``); the caller adds the image name if it wants it in the message.
    """
    match strategy:
        case Strategy.SEMVER:
            return _select_semver(candidates, Constraint.parse(constraint or ""), current)
        case Strategy.NEWEST_BUILD:
            dated = [tag for tag in candidates if tag.created is not None]
            return max(dated, key=lambda tag: (tag.created, tag.name), default=None)
        case Strategy.ALPHABETICAL:
            return max(candidates, key=lambda tag: tag.name, default=None)
        case Strategy.DIGEST:
            if not constraint:
                raise missing_followed_tag(None)
            return next((tag for tag in candidates if tag.name == constraint), None)


def _select_semver(
    candidates: Sequence[TagInfo], constraint: Constraint, current: str | None
) -> TagInfo | None:
    best: tuple[Version, TagInfo] | None = None
    for tag in candidates:
        version = Version.parse(tag.name)
        if version is None or not constraint.allows(version):
            continue
        if best is None or version > best[0]:
            best = (version, tag)
    running = Version.parse(current) if current else None
    if best is None or running is None or best[0].precedence(running) >= 0:
        return None if best is None else best[1]
    return next((tag for tag in candidates if tag.name == current), None)


def missing_followed_tag(
    image: str | None = None, *, name: str | None = None, source: str = "", alternative: str = ""
) -> InvalidConstraint:
    """The error for a ``digest`` policy without the tag it follows (one wording everywhere).

    ``image`` is the image as the user wrote it, already quoted for display; ``name`` its
    name without tag (for the example); ``source`` where the strategy was set
    (`` (set by 'x.update-strategy')``); ``alternative`` another way to give the tag, in the
    caller's own terms.
    """
    subject = f" for image {image}" if image else ""
    example = f"{name or 'nginx'}:latest"
    return InvalidConstraint(
        # Upstream's words first, for those who search for them; then how to fix it.
        f"cannot use update strategy 'digest'{source}{subject} without a version constraint "
        "(the tag to follow); "
        f"write the image as <image>:<tag>, e.g. {example!r}{alternative}"
    )
