"""The Masterminds/semver v3.4.0 constraint language: ``NewConstraint`` and ``Check``.

Parsed once into AND groups of comparisons with precomputed bounds, then checked against
many versions.
"""

from __future__ import annotations

__all__ = ["Constraint"]

from dataclasses import dataclass, field
from enum import Enum
from typing import Final

from imageupdater.errors import InvalidConstraint
from imageupdater.versions._version import DIGITS, IDENT, UINT64_MAX, Version, identifiers, number

# Go's regexp `\s`; str.isspace() would also accept Unicode spaces that Masterminds rejects.
_SPACE: Final = frozenset(" \t\n\f\r")
_WILDCARDS: Final = frozenset("xX*")
_PART: Final = DIGITS | _WILDCARDS | {"|"}
_EXAMPLES: Final = "for example '>=1.2.0, <2.0.0', '~1.4', '^2.1', '1.2.x' or '1.0 - 2.0'"


class _Op(Enum):
    EQ = "="
    NE = "!="
    GT = ">"
    LT = "<"
    GE = ">="
    LE = "<="
    TILDE = "~"
    CARET = "^"


_OPS: Final = {
    "": _Op.EQ,
    "=": _Op.EQ,
    "!=": _Op.NE,
    ">": _Op.GT,
    "<": _Op.LT,
    ">=": _Op.GE,
    "=>": _Op.GE,
    "<=": _Op.LE,
    "=<": _Op.LE,
    "~": _Op.TILDE,
    "~>": _Op.TILDE,
    "^": _Op.CARET,
}
_OP_CHARS: Final = frozenset("=!<>~^")


@dataclass(frozen=True, slots=True)
class _Term:
    """One comparison. ``bound`` fills wildcards with 0; the flags say where the first was."""

    op: _Op
    bound: Version
    wildcard: bool  # some part was a wildcard or missing (Masterminds: dirty)
    minor_wildcard: bool
    patch_wildcard: bool

    def allows(self, v: Version) -> bool:
        b = self.bound
        match self.op:
            case _Op.EQ:
                return self._tilde(v) if self.wildcard else v.precedence(b) == 0
            case _Op.NE:
                return self._not_equal(v)
            case _Op.GT:
                if not self.wildcard:
                    return v.precedence(b) > 0
                if v.major != b.major:
                    return v.major > b.major
                if self.minor_wildcard:
                    return False  # >1 wants 2.0.0 or later, never 1.x
                if self.patch_wildcard:
                    return v.minor > b.minor
                return v.precedence(b) > 0
            case _Op.LT:
                return v.precedence(b) < 0
            case _Op.GE:
                return v.precedence(b) >= 0
            case _Op.LE:
                if not self.wildcard:
                    return v.precedence(b) <= 0
                if v.major != b.major:
                    return v.major < b.major
                return self.minor_wildcard or v.minor <= b.minor
            case _Op.TILDE:
                return self._tilde(v)
            case _Op.CARET:
                return self._caret(v)

    def _tilde(self, v: Version) -> bool:
        b = self.bound
        if v.precedence(b) < 0:
            return False
        if (b.major, b.minor, b.patch) == (0, 0, 0) and not (
            self.minor_wildcard or self.patch_wildcard
        ):
            return True  # ~0.0.0 and ~* allow everything from 0.0.0 on
        return v.major == b.major and (self.minor_wildcard or v.minor == b.minor)

    def _caret(self, v: Version) -> bool:
        b = self.bound
        if v.precedence(b) < 0:
            return False
        if b.major > 0 or self.minor_wildcard:
            return v.major == b.major
        if v.major > 0:
            return False
        if b.minor > 0 or self.patch_wildcard:
            return v.minor == b.minor
        return v.minor == 0 and v.patch == b.patch

    def _not_equal(self, v: Version) -> bool:
        b = self.bound
        if self.wildcard:
            if v.major != b.major:
                return True
            if self.minor_wildcard:
                return False
            if v.minor != b.minor:
                return True
            if self.patch_wildcard:
                return v.prerelease != b.prerelease
        return v.precedence(b) != 0


@dataclass(frozen=True, slots=True)
class _Group:
    """Comparisons joined by AND; prereleases pass only if one of them names a prerelease."""

    terms: tuple[_Term, ...]
    prereleases: bool

    def allows(self, v: Version) -> bool:
        if v.prerelease and not self.prereleases:
            return False
        return all(term.allows(v) for term in self.terms)


@dataclass(frozen=True, slots=True)
class Constraint:
    """A parsed version constraint; ``""`` (or blank) means ``*``. Parse once, test many."""

    text: str
    _groups: tuple[_Group, ...] = field(repr=False, compare=False)

    @classmethod
    def parse(cls, text: str) -> Constraint:
        """Parse the Masterminds v3 language; raise :class:`InvalidConstraint` if malformed."""
        if not text.strip("".join(_SPACE)):
            return cls(text, (_Scanner(text, "*").group(),))
        branches = text.split("||")
        groups = []
        for index, branch in enumerate(branches):
            if not branch.strip("".join(_SPACE)):
                where = "before the first" if index == 0 else "after a"
                raise _invalid(text, f"the alternative {where} '||' is empty")
            groups.append(_Scanner(text, branch).group())
        return cls(text, tuple(groups))

    def allows(self, version: Version) -> bool:
        return any(group.allows(version) for group in self._groups)

    def __str__(self) -> str:
        return self.text


def _invalid(text: str, reason: str) -> InvalidConstraint:
    return InvalidConstraint(
        f"invalid version constraint {text!r}: {reason}; a valid constraint looks like {_EXAMPLES}"
    )


class _Scanner:
    """Reads one ``||`` branch the way Masterminds' validation regex accepts it."""

    def __init__(self, text: str, branch: str) -> None:
        self.text = text
        self.s = branch
        self.i = 0

    def fail(self, reason: str) -> InvalidConstraint:
        return _invalid(self.text, reason)

    def skip_space(self) -> int:
        start = self.i
        while self.i < len(self.s) and self.s[self.i] in _SPACE:
            self.i += 1
        return self.i - start

    def peek(self, offset: int = 0) -> str:
        at = self.i + offset
        return self.s[at] if at < len(self.s) else ""

    def at_hyphen(self) -> bool:
        return self.peek() == "-" and self.peek(1) in _SPACE and self.peek(1) != ""

    def group(self) -> _Group:
        terms: list[_Term] = []
        # Masterminds rewrites `A - B` with a regex that swallows the whitespace before A,
        # gluing the range to a preceding comparison; only a branch start, a comma or an
        # earlier range (whose rewrite ends in a space) keep them apart.
        range_may_follow = True
        self.skip_space()
        while True:
            op = self.operator()
            self.skip_space()
            low = self.version()
            spaced = self.skip_space()
            is_range = bool(spaced) and self.at_hyphen()
            if is_range and op:
                raise self.fail(f"a hyphen range takes no operator: write '{low[0]} - ...'")
            if is_range:
                if not range_may_follow:
                    raise self.fail(
                        f"the range starting at {low[0]!r} must open the constraint or "
                        "follow a comma"
                    )
                self.i += 1
                self.skip_space()
                high = self.version()
                terms += [_term(_Op.GE, low), _term(_Op.LE, high)]
                spaced = self.skip_space()
            else:
                terms.append(_term(_OPS[op], low))
            if self.i == len(self.s):
                break
            if self.peek() == ",":
                self.i += 1
                self.skip_space()
                range_may_follow = True
                if self.i == len(self.s):
                    raise self.fail("it ends with a comma")
            elif spaced:
                range_may_follow = is_range
            else:
                raise self.fail(f"expected a space or ',' before {self.s[self.i :]!r}")
        return _Group(tuple(terms), any(term.bound.prerelease for term in terms))

    def operator(self) -> str:
        # A version never starts with an operator character, so the whole run is the operator.
        start = self.i
        while self.peek() and self.peek() in _OP_CHARS:
            self.i += 1
        op = self.s[start : self.i]
        if op not in _OPS:
            raise self.fail(
                f"unknown operator {op!r}; the operators are = != > < >= <= => =< ~ ~> ^"
            )
        return op

    def version(self) -> tuple[str, Version, bool, bool, bool]:
        """Read ``[v]P[.P[.P]][-PRE][+BUILD]``; the written text, the bound and its flags."""
        start = self.i
        if self.peek() == "v":
            self.i += 1
        parts: list[str] = []
        while True:
            part_start = self.i
            while self.peek() and self.peek() in _PART:
                self.i += 1
            part = self.s[part_start : self.i]
            if not part:
                if start == len(self.s):
                    raise self.fail("a version is missing at the end")
                raise self.fail(f"{self.word(start)!r} is not a version or a comparison")
            if DIGITS.issuperset(part) and number(part) is None:
                raise self.fail(f"{part!r} is too large for a version part (max {UINT64_MAX})")
            if not (number(part) is not None or part in _WILDCARDS):
                raise self.fail(
                    f"{part!r} in {self.word(start)!r} is neither a number nor a wildcard (x, X, *)"
                )
            parts.append(part)
            if self.peek() != "." or not self.peek(1) or self.peek(1) not in _PART:
                break
            if len(parts) == 3:
                raise self.fail(f"{self.word(start)!r} has more than three version parts")
            self.i += 1
        pre = self.identifiers("-")
        self.identifiers("+")
        written = self.s[start : self.i]
        if pre and not identifiers(pre, numeric_rule=True):
            raise self.fail(f"{written!r} has a numeric prerelease part with a leading zero")
        return _bound(written, parts, pre)

    def identifiers(self, marker: str) -> str:
        if self.peek() != marker or not self.peek(1) or self.peek(1) not in IDENT:
            return ""
        self.i += 1
        start = self.i
        while True:
            while self.peek() and self.peek() in IDENT:
                self.i += 1
            if self.peek() != "." or not self.peek(1) or self.peek(1) not in IDENT:
                return self.s[start : self.i]
            self.i += 1

    def word(self, start: int) -> str:
        end = start
        while end < len(self.s) and self.s[end] not in _SPACE and self.s[end] != ",":
            end += 1
        return self.s[start:end] or self.s[start : start + 1]


def _bound(written: str, parts: list[str], pre: str) -> tuple[str, Version, bool, bool, bool]:
    padded = [*parts, "", ""][:3]
    wild = [not p or p in _WILDCARDS for p in padded]
    # Masterminds keeps the numbers before the first wildcard and zeroes the rest.
    first = wild.index(True) if any(wild) else 3
    numbers = [(number(p) or 0) if i < first else 0 for i, p in enumerate(padded)]
    bound = Version(written, numbers[0], numbers[1], numbers[2], pre)
    return written, bound, first < 3, first == 1, first == 2


def _term(op: _Op, read: tuple[str, Version, bool, bool, bool]) -> _Term:
    _, bound, wildcard, minor_wildcard, patch_wildcard = read
    return _Term(op, bound, wildcard, minor_wildcard, patch_wildcard)
