"""Update strategies and choosing the tag an image should move to.

This module owns the strategy vocabulary (``semver``, ``newest-build``, ``alphabetical``,
``digest`` and the deprecated aliases ``latest`` and ``name``), what each strategy needs and
does (the capability properties of :class:`Strategy`: callers ask these, never
``strategy is Strategy.X``), and :func:`select`, which picks one tag out of the candidates
the registry listed and the filters kept.

For ``semver`` the work per tag (parse it, ask the constraint) is done once, by
:func:`semver_allowed`; :func:`select_allowed` chooses among what it kept. A caller that also
needs the allowed list (the resolver lists it as the candidates) calls the two itself
rather than :func:`select`, so no tag is evaluated twice; a :class:`SemverRanking` keeps
just enough of that list to choose again for another current tag.

Upstream silently treats an unknown strategy as ``semver``; :func:`parse_strategy` raises.
"""

from __future__ import annotations

__all__ = [
    "Allowed",
    "SemverRanking",
    "Strategy",
    "VersionTest",
    "missing_followed_tag",
    "parse_strategy",
    "prefers",
    "select",
    "select_allowed",
    "semver_allowed",
]

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

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
            allowed = semver_allowed(candidates, Constraint.parse(constraint or ""))
            return select_allowed(allowed, current=current, candidates=candidates)
        case Strategy.NEWEST_BUILD:
            dated = [tag for tag in candidates if tag.created is not None]
            return max(dated, key=lambda tag: (tag.created, tag.name), default=None)
        case Strategy.ALPHABETICAL:
            return max(candidates, key=lambda tag: tag.name, default=None)
        case Strategy.DIGEST:
            if not constraint:
                raise missing_followed_tag(None)
            return next((tag for tag in candidates if tag.name == constraint), None)


def prefers(
    strategy: Strategy, candidate: TagInfo, chosen: TagInfo | None, *, current: str | None = None
) -> bool:
    """Whether ``strategy`` would choose ``candidate`` rather than ``chosen`` (None: rather than
    nothing), as :func:`select` ranks them; for ``semver`` never a version below ``current``.

    The resolver asks this of candidates an update policy holds back for a while, so that it
    reports a deferral only when the held candidate is one the strategy would move to.
    """
    match strategy:
        case Strategy.SEMVER:
            version = Version.parse(candidate.name)
            if version is None or candidate.name == current:
                return False
            running = Version.parse(current) if current else None
            if running is not None and version.precedence(running) < 0:
                return False
            best = Version.parse(chosen.name) if chosen is not None else None
            return best is None or version > best
        case Strategy.NEWEST_BUILD:
            if candidate.created is None:
                return False
            if chosen is None or chosen.created is None:
                return True
            return (candidate.created, candidate.name) > (chosen.created, chosen.name)
        case Strategy.ALPHABETICAL:
            return chosen is None or candidate.name > chosen.name
        case Strategy.DIGEST:
            return chosen is None or candidate.digest != chosen.digest


class VersionTest(Protocol):
    """What :func:`semver_allowed` asks of a constraint (a :class:`Constraint` is one)."""

    def allows(self, version: Version, /) -> bool: ...


@dataclass(frozen=True, slots=True)
class Allowed:
    """A candidate the semver constraint allows, with the version its name reads as."""

    version: Version
    tag: TagInfo


def semver_allowed(candidates: Iterable[TagInfo | str], constraint: VersionTest) -> list[Allowed]:
    """The candidates that parse as versions and that ``constraint`` allows, in order.

    Each candidate is parsed once and put to the constraint at most once (not at all when
    its name is no version). A bare name stands for ``TagInfo(name)``, built only for the
    candidates allowed (the resolver's tag lists run to tens of thousands of names).
    """
    allowed: list[Allowed] = []
    for candidate in candidates:
        name = candidate if isinstance(candidate, str) else candidate.name
        version = Version.parse(name)
        if version is not None and constraint.allows(version):
            tag = TagInfo(candidate) if isinstance(candidate, str) else candidate
            allowed.append(Allowed(version, tag))
    return allowed


def select_allowed(
    allowed: Sequence[Allowed],
    *,
    current: str | None = None,
    candidates: Sequence[TagInfo] | None = None,
) -> TagInfo | None:
    """The ``semver`` choice among ``allowed`` (from :func:`semver_allowed`), as :func:`select`.

    When the best allowed version is below ``current``, the candidate named ``current`` is
    returned: it is looked for in ``candidates`` when given, else among ``allowed``.
    """
    best = _best(allowed)
    if best is None or not _stays(best, current):
        return best.tag if best is not None else None
    pool = candidates if candidates is not None else [entry.tag for entry in allowed]
    return next((tag for tag in pool if tag.name == current), None)


def _best(allowed: Iterable[Allowed]) -> Allowed | None:
    best: Allowed | None = None
    for entry in allowed:
        if best is None or entry.version > best.version:
            best = entry
    return best


def _stays(best: Allowed, current: str | None) -> bool:
    """Whether the best allowed version is below ``current`` (never a downgrade)."""
    running = Version.parse(current) if current else None
    return running is not None and best.version.precedence(running) < 0


@dataclass(frozen=True, slots=True)
class SemverRanking:
    """What the ``semver`` choice for *any* current tag needs from one set of bare tag
    names: the best allowed version and the allowed names, in order (the candidates).

    :meth:`choose` answers as :func:`select_allowed` on the same names, without looking at
    the versions again, so a ranking can serve every current tag of a policy.
    """

    best: Allowed | None
    names: tuple[str, ...]

    @classmethod
    def of(cls, allowed: Sequence[Allowed]) -> SemverRanking:
        """From :func:`semver_allowed` of bare names."""
        return cls(_best(allowed), tuple(entry.tag.name for entry in allowed))

    def choose(self, current: str | None = None) -> TagInfo | None:
        best = self.best
        if best is None or not _stays(best, current):
            return best.tag if best is not None else None
        return TagInfo(current) if current is not None and current in self.names else None


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
