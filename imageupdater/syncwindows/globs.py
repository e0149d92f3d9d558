"""Globs as Argo CD matches sync windows with them (gobwas/glob compiled without separators).

Owns turning such a glob into an anchored RE2 program and matching text with it: ``*`` and
``**`` match any run of characters (``/`` included), ``?`` one character, ``[abc]``/``[!abc]``
a listed character, ``[a-z]``/``[!a-z]`` one range, ``{a,b}`` alternatives (nestable), and ``\\``
escapes. gobwas rejects several ranges in one class (``[a-z0-9]``); so do we.
"""

from __future__ import annotations

__all__ = ["GLOB_FORMS", "MAX_PATTERN_LENGTH", "compile_glob", "glob_matches"]

from typing import Any

import re2

MAX_PATTERN_LENGTH = 1000
GLOB_FORMS = (
    "accepted: a glob of literal characters, '*', '?', '[abc]', '[!abc]', '[a-z]', '[!a-z]', "
    "'{a,b}' alternatives and '\\' escapes"
)


def _re2_options() -> Any:
    options = re2.Options()
    options.log_errors = False  # the reason goes into our error, not to stderr
    return options


_RE2_OPTIONS = _re2_options()


def compile_glob(pattern: str) -> Any:
    """The anchored RE2 program for ``pattern``; ValueError says what is wrong with it."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(
            f"it has {len(pattern)} characters, more than the {MAX_PATTERN_LENGTH} accepted"
        )
    try:
        return re2.compile("(?s)" + _glob_to_regex(pattern), _RE2_OPTIONS)
    except re2.error as err:
        reason = err.args[0] if err.args else "unknown reason"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(f"RE2 refuses it ({reason})") from None


def glob_matches(glob: Any, text: str) -> bool:
    """Whether the whole of ``text`` matches a program from ``compile_glob``."""
    try:
        return glob.fullmatch(text) is not None
    except UnicodeEncodeError:
        # RE2 takes UTF-8; a lone surrogate (possible after JSON decoding) cannot be one.
        cleaned = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
        return glob.fullmatch(cleaned) is not None


def _glob_to_regex(pattern: str) -> str:
    out: list[str] = []
    depth = 0
    i = 0
    while i < len(pattern):
        char = pattern[i]
        i += 1
        if char == "\\":
            if i == len(pattern):
                raise ValueError("it ends with a lone '\\'")
            out.append(_literal(pattern[i]))
            i += 1
        elif char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            regex, i = _glob_class(pattern, i)
            out.append(regex)
        elif char == "{":
            depth += 1
            out.append("(?:")
        elif char == "," and depth:
            out.append("|")
        elif char == "}" and depth:
            depth -= 1
            out.append(")")
        else:
            out.append(_literal(char))
    if depth:
        raise ValueError("a '{' is never closed")
    return "".join(out)


def _glob_class(pattern: str, i: int) -> tuple[str, int]:
    """``[...]`` after its '[': one range ``a-z`` or a list of characters, optionally negated."""
    negate = i < len(pattern) and pattern[i] == "!"
    i += negate
    if i + 2 < len(pattern) and pattern[i + 1] == "-":
        low, high = pattern[i], pattern[i + 2]
        if pattern[i + 3 : i + 4] != "]":
            raise ValueError("a range class holds one range and must close after it")
        if low > high:
            raise ValueError(f"the range {low}-{high} is reversed")
        body = f"{_literal(low)}-{_literal(high)}"
        i += 4
    else:
        chars: list[str] = []
        while i < len(pattern) and pattern[i] != "]":
            if pattern[i] == "\\" and i + 1 < len(pattern):
                i += 1
            chars.append(pattern[i])
            i += 1
        if i == len(pattern):
            raise ValueError("a '[' is never closed")
        if not chars:
            raise ValueError("a character class is empty")
        body = "".join(_literal(c) for c in chars)
        i += 1
    return f"[{'^' if negate else ''}{body}]", i


def _literal(char: str) -> str:
    return char if char.isascii() and char.isalnum() else f"\\x{{{ord(char):x}}}"
