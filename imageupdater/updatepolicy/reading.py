"""Reading raw policy JSON field by field, collecting every problem with its field path.

Owns the wording shared by every field of a policy: how a value is quoted, the unknown-field
problem with its "did you mean", and the readers for the shapes fields come in (objects,
lists of strings, lists of globs, booleans, strings). Every reader returns None for a value
it refused after recording why, so a parser goes on and reports every mistake at once.
Never raises on any input: raw objects may come from YAML or JSON of any shape.
"""

from __future__ import annotations

__all__ = [
    "Collector",
    "child",
    "describe",
    "glob_list",
    "index",
    "mapping",
    "quoted",
    "string",
    "string_list",
    "unknown_fields",
    "value_shown",
]

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from imageupdater.annotations.keys import suggest
from imageupdater.patterns import shown
from imageupdater.problems import Problem, Severity
from imageupdater.updatepolicy.globs import GLOB_FORMS, Glob

# Longest value an error message quotes whole.
_QUOTE_LIMIT = 80


class Collector:
    """The problems found so far, in the order found."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def error(self, path: str, message: str) -> None:
        self._add(path, message, "error")

    def warning(self, path: str, message: str) -> None:
        self._add(path, message, "warning")

    def _add(self, path: str, message: str, severity: Severity) -> None:
        self.problems.append(Problem(path, message, severity))

    @property
    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.problems)


def child(path: str, name: object) -> str:
    """``spec`` + ``rules`` → ``spec.rules``."""
    return f"{path}.{name}" if path else str(name)


def index(path: str, position: int) -> str:
    return f"{path}[{position}]"


def quoted(text: str) -> str:
    """A string as messages quote it: ``'ghcr.io'``, long ones cut."""
    return repr(shown(text, _QUOTE_LIMIT))


def describe(value: object) -> str:
    """A value of any type, for a message saying what was found instead."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, str):
        return f"the string {quoted(value)}"
    if isinstance(value, int | float):
        return f"the number {shown(str(value), _QUOTE_LIMIT)}"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def value_shown(value: object) -> str:
    """A value as "X is not accepted" quotes it: a string in quotes, anything else described."""
    return quoted(value) if isinstance(value, str) else describe(value)


def mapping(value: object, path: str, out: Collector) -> Mapping[Any, Any] | None:
    """``value`` when it is an object; None (and a problem) otherwise."""
    if isinstance(value, Mapping):
        return value
    out.error(path, f"must be an object, not {describe(value)}")
    return None


def unknown_fields(
    obj: Mapping[Any, Any],
    path: str,
    known: Sequence[str],
    out: Collector,
    *,
    explain: Callable[[str], str | None] | None = None,
) -> None:
    """One problem per field of ``obj`` not in ``known``, with the likely intended one.

    ``explain`` may give a field-specific reason instead (a field that exists elsewhere).
    """
    for name in obj:
        if isinstance(name, str) and name in known:
            continue
        text = str(name)
        reason = explain(text) if explain is not None else None
        if reason is not None:
            out.error(child(path, text), reason)
            continue
        hint = _did_you_mean(text, known)
        where = f"in {path}" if path else "at the top level"
        out.error(
            child(path, shown(text, _QUOTE_LIMIT)),
            f"unknown field {quoted(text)}{hint}; the fields accepted {where} are "
            + ", ".join(known),
        )


def _did_you_mean(text: str, known: Sequence[str]) -> str:
    folded = [k for k in known if k.lower() == text.lower()]
    guess = folded[0] if folded else suggest(text, known)
    return f" (did you mean {guess!r}?)" if guess is not None else ""


def string(value: object, path: str, out: Collector, *, what: str) -> str | None:
    """A non-blank string; ``what`` says what is accepted (``"an IANA time zone name"``)."""
    if isinstance(value, str) and value.strip():
        return value
    found = "an empty string" if isinstance(value, str) else describe(value)
    out.error(path, f"must be {what}, not {found}")
    return None


def string_list(
    value: object, path: str, out: Collector, *, what: str, empty: str | None = None
) -> tuple[str, ...] | None:
    """A list of non-blank strings (each ``what``); ``empty`` is why an empty list is
    refused, None when it is accepted."""
    if not isinstance(value, list | tuple):
        out.error(path, f"must be a list of {what}, not {describe(value)}")
        return None
    if not value and empty is not None:
        out.error(path, f"is an empty list; {empty}")
        return None
    items: list[str] = []
    good = True
    for position, item in enumerate(value):
        if isinstance(item, str) and item.strip():
            items.append(item)
            continue
        found = "an empty string" if isinstance(item, str) else describe(item)
        out.error(index(path, position), f"must be {what}, not {found}")
        good = False
    return tuple(items) if good else None


def glob_list(
    value: object,
    path: str,
    out: Collector,
    *,
    what: str,
    empty: str | None = None,
    normalise: Callable[[str], str] | None = None,
) -> tuple[Glob, ...] | None:
    """A list of globs (each a ``what``), compiled on RE2; ``normalise`` rewrites each pattern
    first (and may raise ``ValueError`` to refuse one)."""
    texts = string_list(value, path, out, what=f"{what} globs", empty=empty)
    if texts is None:
        return None
    globs: list[Glob] = []
    good = True
    for position, text in enumerate(texts):
        where = index(path, position)
        try:
            pattern = normalise(text) if normalise is not None else text
        except ValueError as err:
            out.error(where, f"{what} glob {quoted(text)}: {err}")
            good = False
            continue
        try:
            globs.append(Glob(pattern))
        except ValueError as err:
            out.error(where, f"{what} glob {quoted(text)}: {err}; {GLOB_FORMS}")
            good = False
    return tuple(globs) if good else None
