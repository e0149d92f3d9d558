"""``Glob``: one user glob of a policy, compiled once on RE2.

The language is the one Argo CD matches sync windows with (``imageupdater.syncwindows.globs``):
``*`` matches any run of characters, ``/`` included, ``?`` one character, ``[abc]``, ``[a-z]``,
``{a,b}`` alternatives and ``\\`` escapes; the whole value must match.

Policies are judged on every admission review and every reconciler cycle, each glob against
the same few values (registry hosts, repositories, project and Application names) over and
over, and one RE2 call from Python costs about 10 µs. So the common shapes are answered
without RE2 — a literal (``ghcr.io``), ``*``, ``prefix*``, ``*suffix`` and ``*infix*`` are
string comparisons — and the answers of the rest are remembered per glob (bounded).
"""

from __future__ import annotations

__all__ = ["GLOB_FORMS", "Glob"]

from collections.abc import Callable
from dataclasses import dataclass, field

from imageupdater.patterns import Program
from imageupdater.syncwindows.globs import GLOB_FORMS, compile_glob, glob_matches

# Characters with a meaning in a glob; a pattern without them is a literal.
_SPECIAL = frozenset("*?[{\\")
# How many answers one glob remembers before it starts again (values are few in practice).
_REMEMBERED = 1024


def _shortcut(text: str) -> Callable[[str], bool] | None:
    """A plain-string test equivalent to ``text`` as a glob, for the shapes that have one."""
    # U+FFFD is what RE2 matches a lone surrogate as: leave such patterns to RE2.
    if "\ufffd" in text:
        return None
    inner = text.strip("*")
    if _SPECIAL.intersection(inner):
        return None
    if not inner:  # "", "*", "**"
        return (lambda value: value == "") if not text else (lambda value: True)
    starts, ends = text.startswith("*"), text.endswith("*")
    if starts and ends:
        return lambda value: inner in value
    if starts:
        return lambda value: value.endswith(inner)
    if ends:
        return lambda value: value.startswith(inner)
    return lambda value: value == inner


@dataclass(frozen=True, slots=True)
class Glob:
    """One compiled glob; constructing it with a malformed pattern raises ``ValueError``
    saying what is wrong (the caller adds the field and ``GLOB_FORMS``)."""

    text: str
    _program: Program = field(init=False, repr=False, compare=False)
    _shortcut: Callable[[str], bool] | None = field(init=False, repr=False, compare=False)
    _answers: dict[str, bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Compiled even when a shortcut answers, so a malformed glob is refused alike.
        object.__setattr__(self, "_program", compile_glob(self.text))
        object.__setattr__(self, "_shortcut", _shortcut(self.text))
        object.__setattr__(self, "_answers", {})

    def matches(self, value: str) -> bool:
        """Whether the whole of ``value`` matches."""
        if self._shortcut is not None:
            return self._shortcut(value)
        answers = self._answers
        known = answers.get(value)
        if known is None:
            if len(answers) >= _REMEMBERED:
                answers.clear()
            known = answers[value] = glob_matches(self._program, value)
        return known

    def __str__(self) -> str:
        return self.text
