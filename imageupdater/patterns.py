"""User-supplied patterns on RE2: the one place they are compiled and run.

Owns what every user pattern shares, whichever grammar it is written in (allow-tags
``regexp:``, sync-window globs): the length cap, the RE2 options (RE2's own complaints go
into our error, not to stderr), the wording of a length or RE2 refusal, how a character is
written as an RE2 literal by a glob translator, and matching that does not crash on text
RE2 cannot encode (a lone surrogate, which JSON can carry). Pure: no I/O, no state beyond
the immutable options.

Refusals are ``ValueError`` carrying only the reason; each caller catches it at once and
raises its own error from ``imageupdater.errors`` naming the annotation or field and what
is accepted, so no ``ValueError`` from here reaches a user.
"""

from __future__ import annotations

__all__ = [
    "MAX_PATTERN_LENGTH",
    "Program",
    "compile_re2",
    "fullmatches",
    "literal",
    "searches",
    "shown",
    "too_long",
]

from typing import Any, Protocol

import re2

MAX_PATTERN_LENGTH = 1000
# How much of an over-long pattern an error message quotes.
_SHOWN = 30


class Program(Protocol):
    """A compiled RE2 program, as far as we use one."""

    def search(self, text: str) -> object | None: ...

    def fullmatch(self, text: str) -> object | None: ...


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # the reason goes to the user in our error, not to stderr
    return options


_OPTIONS = _options()


def too_long(pattern: str) -> str | None:
    """Why ``pattern`` is refused for its length (``"1001 characters, more than the 1000
    accepted"``), or None when it is short enough."""
    if len(pattern) <= MAX_PATTERN_LENGTH:
        return None
    return f"{len(pattern)} characters, more than the {MAX_PATTERN_LENGTH} accepted"


def shown(pattern: str, limit: int = MAX_PATTERN_LENGTH) -> str:
    """``pattern`` as an error message quotes it: whole up to ``limit`` characters, else its
    start and ``...``."""
    return pattern if len(pattern) <= limit else pattern[:_SHOWN] + "..."


def compile_re2(expression: str) -> Program:
    """The RE2 program for ``expression``; ``ValueError`` with RE2's reason when RE2 refuses
    it. The length cap is the caller's to check, on the text the user wrote."""
    try:
        program: Program = re2.compile(expression, _OPTIONS)
    except re2.error as err:
        reason = err.args[0] if err.args else "unknown reason"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(str(reason)) from None
    except UnicodeEncodeError as err:
        # RE2 reads UTF-8, and a lone surrogate has no UTF-8 form.
        raise ValueError(
            f"a lone surrogate \\u{ord(expression[err.start]):04x} at character {err.start} "
            "is not text"
        ) from None
    return program


def searches(program: Program, text: str) -> bool:
    """Whether ``program`` matches somewhere in ``text`` (unanchored)."""
    try:
        return program.search(text) is not None
    except UnicodeEncodeError:
        return program.search(_encodable(text)) is not None


def fullmatches(program: Program, text: str) -> bool:
    """Whether ``program`` matches the whole of ``text``."""
    try:
        return program.fullmatch(text) is not None
    except UnicodeEncodeError:
        return program.fullmatch(_encodable(text)) is not None


def _encodable(text: str) -> str:
    # RE2 takes UTF-8 and a lone surrogate has no UTF-8 form: it is matched as U+FFFD, the
    # character that stands for text that could not be read.
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)


def literal(char: str) -> str:
    """``char`` as an RE2 expression matching exactly it (for translators from globs)."""
    return char if char.isascii() and char.isalnum() else f"\\x{{{ord(char):x}}}"
