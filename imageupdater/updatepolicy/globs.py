"""``Glob``: one user glob of a policy, compiled once on RE2.

The language is the one Argo CD matches sync windows with (``imageupdater.syncwindows.globs``):
``*`` matches any run of characters, ``/`` included, ``?`` one character, ``[abc]``, ``[a-z]``,
``{a,b}`` alternatives and ``\\`` escapes; the whole value must match.
"""

from __future__ import annotations

__all__ = ["GLOB_FORMS", "Glob"]

from dataclasses import dataclass, field

from imageupdater.patterns import Program
from imageupdater.syncwindows.globs import GLOB_FORMS, compile_glob, glob_matches


@dataclass(frozen=True, slots=True)
class Glob:
    """One compiled glob; constructing it with a malformed pattern raises ``ValueError``
    saying what is wrong (the caller adds the field and ``GLOB_FORMS``)."""

    text: str
    _program: Program = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_program", compile_glob(self.text))

    def matches(self, value: str) -> bool:
        """Whether the whole of ``value`` matches."""
        return glob_matches(self._program, value)

    def __str__(self) -> str:
        return self.text
