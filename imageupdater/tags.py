"""Tag filters (allow-tags, ignore-tags) and what is known about one tag.

This module owns :class:`AllowTags` (``any`` or an RE2 ``regexp:``), the Go
``filepath.Match`` glob language of ignore-tags, :class:`TagFilter` combining both, and
:class:`TagInfo`, the tag as a strategy sees it.

Upstream makes an invalid allow-tags match nothing and a malformed glob never match, so a
typo silently stops updates; here both are an :class:`~imageupdater.errors.InvalidTagFilter`
when the filter is built. User expressions run on RE2 (linear time), never on ``re``, so a
filter cannot hang the webhook.
"""

from __future__ import annotations

import functools

__all__ = ["MAX_PATTERN_LENGTH", "AllowTags", "Glob", "TagFilter", "TagInfo"]

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from imageupdater.errors import InvalidTagFilter
from imageupdater.patterns import (
    MAX_PATTERN_LENGTH,
    Program,
    compile_re2,
    searches,
    shown,
    too_long,
)

_REGEXP_PREFIX = "regexp:"
_ALLOW_FORMS = "accepted: '' or 'any' (every tag), or 'regexp:<RE2 expression>'"
_GLOB_FORMS = (
    "accepted: a glob of literal characters, '*', '?', '[abc]', '[a-z]', '[^a-z]' and '\\' escapes"
)


@dataclass(frozen=True, slots=True)
class AllowTags:
    """Which tags may be considered at all; every tag when ``pattern`` is None."""

    pattern: str | None
    _compiled: Program | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_compiled", None if self.pattern is None else _compile(self.pattern)
        )

    @classmethod
    def parse(cls, text: str) -> AllowTags:
        """Parse ``""``/``any`` or ``regexp:<expr>`` (keyword and prefix case-insensitive)."""
        value = text.strip()
        if not value or value.lower() == "any":
            return cls(None)
        if value[: len(_REGEXP_PREFIX)].lower() == _REGEXP_PREFIX:
            return cls(value[len(_REGEXP_PREFIX) :])
        hint = ""
        if ":" in value:
            hint = f" (the prefix {value.partition(':')[0] + ':'!r} is not 'regexp:')"
        raise InvalidTagFilter(f"invalid allow-tags {text!r}{hint}; {_ALLOW_FORMS}")

    def matches(self, tag: str) -> bool:
        """Whether ``tag`` is allowed: an unanchored search, so use ``^...$`` to pin it."""
        return self._compiled is None or searches(self._compiled, tag)

    def __str__(self) -> str:
        return "any" if self.pattern is None else f"{_REGEXP_PREFIX}{self.pattern}"


def _compile(pattern: str) -> Program:
    if not pattern:
        raise InvalidTagFilter(
            "invalid allow-tags 'regexp:': the expression is empty; "
            "use 'any' to allow every tag, or give an RE2 expression after 'regexp:'"
        )
    length = too_long(pattern)
    if length:
        raise InvalidTagFilter(
            f"invalid allow-tags 'regexp:{shown(pattern)}': the expression has {length}"
        )
    try:
        return compile_re2(pattern)
    except ValueError as err:
        raise InvalidTagFilter(
            f"invalid allow-tags 'regexp:{pattern}': not an RE2 expression ({err}); "
            "RE2 has no backreferences (\\1) or lookaround ((?=, (?!, (?<=, (?<!)"
        ) from err


# A glob compiles to chunks: (starts with `*`, the fixed-width atoms after it). An atom is
# a literal character, `?` (None), or a class (negated, ((lo, hi), ...)).
_Class = tuple[bool, tuple[tuple[str, str], ...]]
_Atom = str | None | _Class
_Chunk = tuple[bool, tuple[_Atom, ...]]


def _glob_error(pattern: str, reason: str) -> InvalidTagFilter:
    return InvalidTagFilter(f"invalid ignore-tags glob {pattern!r}: {reason}; {_GLOB_FORMS}")


# Parsing a glob costs more than matching with it, and the same globs come back in every
# review and cycle (and twice within one parse); results are immutable, so remember them.
@functools.lru_cache(maxsize=4096)
def _compile_glob(pattern: str) -> tuple[_Chunk, ...]:
    if too_long(pattern):
        raise _glob_error(shown(pattern), f"longer than {MAX_PATTERN_LENGTH} characters")
    chunks: list[_Chunk] = []
    atoms: list[_Atom] = []
    star = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            if atoms or star:
                chunks.append((star, tuple(atoms)))
                atoms = []
            # Consecutive stars are one star.
            while i < len(pattern) and pattern[i] == "*":
                i += 1
            star = True
            continue
        if char == "?":
            atoms.append(None)
            i += 1
        elif char == "[":
            cls, i = _parse_class(pattern, i + 1)
            atoms.append(cls)
        elif char == "\\":
            if i + 1 == len(pattern):
                raise _glob_error(pattern, "it ends with a lone '\\'")
            atoms.append(pattern[i + 1])
            i += 2
        else:
            atoms.append(char)
            i += 1
    if atoms or star:
        chunks.append((star, tuple(atoms)))
    return tuple(chunks)


def _parse_class(pattern: str, i: int) -> tuple[_Class, int]:
    """Parse a class body starting after its ``[``; return it and the index after ``]``."""
    negated = i < len(pattern) and pattern[i] == "^"
    if negated:
        i += 1
    ranges: list[tuple[str, str]] = []
    while True:
        if i < len(pattern) and pattern[i] == "]" and ranges:
            return (negated, tuple(ranges)), i + 1
        low, i = _class_char(pattern, i)
        high = low
        if i < len(pattern) and pattern[i] == "-":
            high, i = _class_char(pattern, i + 1)
        ranges.append((low, high))


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    # Go's getEsc: a range end may not be missing, '-' or ']', and the class must close.
    if i >= len(pattern):
        raise _glob_error(pattern, "a '[' class is not closed with ']'")
    char = pattern[i]
    if char in "-]":
        raise _glob_error(
            pattern, f"a '[' class has {char!r} where a character belongs (write '\\{char}')"
        )
    if char == "\\":
        i += 1
        if i >= len(pattern):
            raise _glob_error(pattern, "it ends with a lone '\\'")
        char = pattern[i]
    if i + 1 >= len(pattern):
        raise _glob_error(pattern, "a '[' class is not closed with ']'")
    return char, i + 1


def _match_atoms(atoms: tuple[_Atom, ...], name: str, pos: int) -> int | None:
    """Match fixed-width atoms at ``name[pos:]``; the position after them, or None."""
    if len(name) - pos < len(atoms):
        return None
    for atom in atoms:
        char = name[pos]
        if atom is None:
            if char == "/":
                return None
        elif isinstance(atom, str):
            if atom != char:
                return None
        else:
            negated, ranges = atom
            if any(low <= char <= high for low, high in ranges) == negated:
                return None
        pos += 1
    return pos


def _glob_matches(chunks: tuple[_Chunk, ...], name: str) -> bool:
    # Go's filepath.Match: each star chunk takes its leftmost match, except that the last
    # chunk must end the name; a star never crosses '/'. Linear in chunks x name length.
    pos = 0
    for index, (star, atoms) in enumerate(chunks):
        last = index == len(chunks) - 1
        if star and not atoms:
            return "/" not in name[pos:]
        end = _match_atoms(atoms, name, pos)
        if end is not None and (end == len(name) or not last):
            pos = end
            continue
        if not star:
            return False
        for skip in range(pos, len(name)):
            if name[skip] == "/":
                return False
            end = _match_atoms(atoms, name, skip + 1)
            if end is not None and (end == len(name) or not last):
                break
        else:
            return False
        assert end is not None
        pos = end
    return pos == len(name)


@dataclass(frozen=True, slots=True)
class TagFilter:
    """Allow-tags plus ignore-tags: a tag is kept when allowed and matched by no ignore glob."""

    allow: AllowTags = AllowTags(None)
    ignore: tuple[str, ...] = ()
    _globs: tuple[tuple[_Chunk, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_globs", tuple(_compile_glob(p) for p in self.ignore))

    @classmethod
    def parse(cls, allow: str | None, ignore: Iterable[str]) -> TagFilter:
        """Build from raw values; blank ignore entries are skipped, others must be valid globs."""
        patterns = tuple(p.strip() for p in ignore if p.strip())
        return cls(AllowTags.parse(allow or ""), patterns)

    @property
    def keeps_every_tag(self) -> bool:
        """Whether nothing is filtered (allow any, ignore none): callers may skip :meth:`keeps`."""
        return self.allow.pattern is None and not self.ignore

    def keeps(self, tag: str) -> bool:
        """Whether ``tag`` passes the filter (``*`` in ignore drops every tag: a pause)."""
        # The same filters meet the same tags every cycle; the answer is a pure function of
        # both, so it is remembered (bounded) rather than matched again.
        return _keeps(self, tag)


@functools.lru_cache(maxsize=262_144)
def _keeps(tag_filter: TagFilter, tag: str) -> bool:
    return tag_filter.allow.matches(tag) and not any(
        _glob_matches(g, tag) for g in tag_filter._globs
    )


@dataclass(frozen=True, slots=True)
class Glob:
    """One Go ``filepath.Match`` pattern, checked when built (``what`` names it in errors)."""

    pattern: str
    what: str = field(default="glob", compare=False)
    _chunks: tuple[_Chunk, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            chunks = _compile_glob(self.pattern)
        except InvalidTagFilter as exc:
            # The glob grammar's messages speak of ignore-tags; say what this glob is for.
            message = str(exc).replace("invalid ignore-tags glob", f"invalid {self.what}", 1)
            raise InvalidTagFilter(message) from None
        object.__setattr__(self, "_chunks", chunks)

    def matches(self, name: str) -> bool:
        return _glob_matches(self._chunks, name)


@dataclass(frozen=True, slots=True)
class TagInfo:
    """One tag as a strategy sees it; ``created`` must be timezone-aware."""

    name: str
    digest: str | None = None
    created: datetime | None = None
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.created is not None and self.created.utcoffset() is None:
            raise ValueError(f"TagInfo {self.name!r}: created must be timezone-aware")
        if self.created is not None and self.created.utcoffset() != timedelta(0):
            object.__setattr__(self, "created", self.created.astimezone(UTC))
