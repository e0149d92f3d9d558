"""Globs as Argo CD matches sync windows with them (gobwas/glob compiled without separators).

Owns turning such a glob into an anchored RE2 program and matching text with it: ``*`` and
``**`` match any run of characters (``/`` included), ``?`` one character, ``[abc]``/``[!abc]``
a listed character, ``[a-z]``/``[!a-z]`` one range, ``{a,b}`` alternatives (nestable), and ``\\``
escapes. gobwas rejects several ranges in one class (``[a-z0-9]``); so do we.
"""

from __future__ import annotations

__all__ = ["GLOB_FORMS", "MAX_PATTERN_LENGTH", "compile_glob", "glob_matches"]

from imageupdater.patterns import (
    MAX_PATTERN_LENGTH,
    Program,
    compile_re2,
    fullmatches,
    literal,
    too_long,
)

GLOB_FORMS = (
    "accepted: a glob of literal characters, '*', '?', '[abc]', '[!abc]', '[a-z]', '[!a-z]', "
    "'{a,b}' alternatives and '\\' escapes"
)


def compile_glob(pattern: str) -> Program:
    """The anchored RE2 program for ``pattern``; ValueError says what is wrong with it."""
    length = too_long(pattern)
    if length:
        raise ValueError(f"it has {length}")
    regex = "(?s)" + _glob_to_regex(pattern)
    try:
        return compile_re2(regex)
    except ValueError as err:
        raise ValueError(f"RE2 refuses it ({err})") from None


def glob_matches(glob: Program, text: str) -> bool:
    """Whether the whole of ``text`` matches a program from ``compile_glob``."""
    return fullmatches(glob, text)


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
            out.append(literal(pattern[i]))
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
            out.append(literal(char))
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
        body = f"{literal(low)}-{literal(high)}"
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
        body = "".join(literal(c) for c in chars)
        i += 1
    return f"[{'^' if negate else ''}{body}]", i
