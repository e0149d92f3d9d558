"""The lenient semantic version of Masterminds/semver v3.4.0 ``NewVersion``, totally ordered.

Precedence is semver's, as the ``semver`` package defines it; equal versions are ordered by
the tag as written, so ``2.0.0`` < ``v2.0`` < ``v2.0.0`` the way upstream sorts them.
"""

from __future__ import annotations

__all__ = ["DIGITS", "IDENT", "UINT64_MAX", "Version", "identifiers", "number"]

import functools
from dataclasses import dataclass, field
from typing import Final

import semver as pysemver

DIGITS: Final = frozenset("0123456789")
IDENT: Final = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-")
UINT64_MAX: Final = 2**64 - 1


def identifiers(text: str, *, numeric_rule: bool) -> bool:
    """Dot-separated, non-empty ``[0-9A-Za-z-]`` identifiers (no leading zero if numeric)."""
    for ident in text.split("."):
        if not ident or not IDENT.issuperset(ident):
            return False
        if numeric_rule and len(ident) > 1 and ident[0] == "0" and DIGITS.issuperset(ident):
            return False
    return True


def number(text: str) -> int | None:
    """A Go ``ParseUint`` of ASCII digits (leading zeros allowed), None past uint64."""
    if not text or not DIGITS.issuperset(text):
        return None
    significant = text.lstrip("0") or "0"
    # Checking the length first keeps int() away from pathological digit strings.
    if len(significant) > len(str(UINT64_MAX)):
        return None
    value = int(significant)
    return value if value <= UINT64_MAX else None


@dataclass(frozen=True, slots=True, eq=False)
class Version:
    """One tag read as a semantic version; ordered, hashable, equal iff written alike."""

    original: str
    major: int = 0
    minor: int = 0
    patch: int = 0
    prerelease: str = ""
    build: str = ""
    semver: pysemver.Version = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "semver",
            pysemver.Version(
                self.major, self.minor, self.patch, self.prerelease or None, self.build or None
            ),
        )

    @classmethod
    def parse(cls, text: str) -> Version | None:
        """Masterminds ``NewVersion``: ``[v]MAJOR[.MINOR[.PATCH]][-PRE][+BUILD]``, else None."""
        # Every cycle and admission review parses the same tags again; versions are
        # immutable, so one parse per distinct tag string serves them all.
        return _parse_cached(text)

    @classmethod
    def _parse_uncached(cls, text: str) -> Version | None:
        rest, _, build = text.partition("+")
        if "+" in text and not identifiers(build, numeric_rule=False):
            return None
        core, _, pre = rest.partition("-")
        if "-" in rest and not identifiers(pre, numeric_rule=True):
            return None
        if core.startswith("v"):
            core = core[1:]
        parts = core.split(".")
        if len(parts) > 3:
            return None
        numbers = [number(part) for part in parts]
        if any(number is None for number in numbers):
            return None
        major, minor, patch = [*numbers, 0, 0][:3]
        assert major is not None and minor is not None and patch is not None
        return cls(text, major, minor, patch, pre, build)

    def precedence(self, other: Version) -> int:
        """Semver precedence only (-1, 0, 1): build metadata and spelling do not count."""
        mine = (self.major, self.minor, self.patch)
        theirs = (other.major, other.minor, other.patch)
        if mine != theirs:
            return -1 if mine < theirs else 1
        if self.prerelease == other.prerelease:
            return 0
        # Prerelease identifiers have subtle rules (rc.10 > rc.9, rc10 < rc9); the semver
        # package owns them.
        return self.semver.compare(other.semver)

    def _order(self, other: Version) -> int:
        by_precedence = self.precedence(other)
        if by_precedence:
            return by_precedence
        if self.original == other.original:
            return 0
        return -1 if self.original < other.original else 1

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self.original == other.original

    def __hash__(self) -> int:
        return hash(self.original)

    def __lt__(self, other: Version) -> bool:
        return self._order(other) < 0

    def __le__(self, other: Version) -> bool:
        return self._order(other) <= 0

    def __gt__(self, other: Version) -> bool:
        return self._order(other) > 0

    def __ge__(self, other: Version) -> bool:
        return self._order(other) >= 0

    def __str__(self) -> str:
        return self.original


@functools.lru_cache(maxsize=65_536)
def _parse_cached(text: str) -> Version | None:
    return Version._parse_uncached(text)
