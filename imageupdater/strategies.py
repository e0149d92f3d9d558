"""Update strategies and choosing the tag an image should move to.

This module owns the strategy vocabulary (``semver``, ``newest-build``, ``alphabetical``,
``digest`` and the deprecated aliases ``latest`` and ``name``), :func:`select`, which picks
one tag out of the candidates the registry listed and the filters kept, and
:func:`is_current`, upstream's "already up to date" test.

Upstream silently treats an unknown strategy as ``semver``; :func:`parse_strategy` raises.
"""

from __future__ import annotations

__all__ = ["Strategy", "is_current", "parse_strategy", "select"]

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
                raise InvalidConstraint(
                    "cannot use update strategy 'digest' without a version constraint; "
                    "give the tag to follow, for example 'nginx:latest'"
                )
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


def is_current(current_tag: str | None, current_digest: str | None, chosen: TagInfo) -> bool:
    """Whether the running image already is ``chosen`` (upstream ``ImageTag.Equals``).

    When either side carries a digest only digests count, tag names are ignored; otherwise
    the names must match. A running image without a tag is never current. Pass a
    ``chosen`` without digest for strategies that do not follow digests, or a running
    image known only by tag will look out of date.
    """
    if current_digest or chosen.digest:
        return current_digest == chosen.digest
    return bool(current_tag) and current_tag == chosen.name
