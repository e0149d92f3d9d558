"""Reading raw ImageUpdater JSON field by field, with every problem keyed by its field path.

Owns the shapes the CRD's fields come in (objects with a fixed set of fields, strings,
booleans, lists), the unknown-field problem with its "did you mean", field-path spelling
(``spec.applicationRefs[0].images[1].alias``; map keys as ``matchLabels[app]``), the size
caps that keep one review cheap, and the ``Setting`` value (what a field said, and where).
Readers return None for a value they refused after recording why, so a parser goes on and
reports every mistake at once. Nothing here raises on any input: a raw object may come from
YAML or JSON of any shape. Problems are gathered in the annotation parser's ``Collector`` so
the value validators of ``imageupdater.annotations.values`` report into the same list.
"""

from __future__ import annotations

__all__ = [
    "MAX_APPLICATION_REFS",
    "MAX_CONSTRAINTS_LENGTH",
    "MAX_GLOBS",
    "MAX_IMAGES",
    "MAX_IMAGES_PER_REF",
    "MAX_LIST_ITEMS",
    "MAX_VALUE_LENGTH",
    "Setting",
    "at",
    "boolean",
    "clean",
    "describe",
    "entry",
    "item",
    "listing",
    "new_collector",
    "obj",
    "string",
    "string_list",
]

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from imageupdater.annotations.keys import suggest
from imageupdater.annotations.limits import MAX_VALUE_LENGTH, Budget
from imageupdater.annotations.report import Collector, quote

T = TypeVar("T")

# Far above any real resource, low enough that a hostile one costs the webhook milliseconds.
MAX_APPLICATION_REFS = 128
MAX_IMAGES_PER_REF = 64  # as many as one Application's image-list may name
MAX_IMAGES = 512  # over every applicationRef of one resource
MAX_LIST_ITEMS = 128  # ignoreTags, platforms, labels, selector values: per list
MAX_GLOBS = 1024  # ignoreTags globs over the whole resource
MAX_CONSTRAINTS_LENGTH = 16 * 1024  # characters of every imageName's constraint together
_MAX_SUGGESTIONS = 32
_MAX_UNKNOWN_SHOWN = 10  # unknown fields reported one by one in one object


@dataclass(frozen=True, slots=True)
class Setting(Generic[T]):
    """One field's value as read, and the field path that set it (for messages)."""

    value: T
    path: str


def new_collector() -> Collector:
    """A collector whose budget is sized for a whole resource rather than one Application."""
    out = Collector()
    out.budget = Budget(
        suggestions=_MAX_SUGGESTIONS, globs=MAX_GLOBS, constraint_length=MAX_CONSTRAINTS_LENGTH
    )
    return out


def at(path: str, name: str) -> str:
    """``spec`` + ``applicationRefs`` → ``spec.applicationRefs``."""
    return f"{path}.{name}" if path else name


def item(path: str, index: int) -> str:
    return f"{path}[{index}]"


def entry(path: str, key: str) -> str:
    """A map entry, as Kubernetes field paths write it: ``matchLabels[app]``."""
    return f"{path}[{key}]"


def clean(text: str) -> str:
    """``text`` with lone surrogates as U+FFFD, as Go's JSON decoder (the API server) reads
    them; RE2 and every message then see text that has a UTF-8 form."""
    if text.isascii():
        return text
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)


def describe(value: object) -> str:
    """What a value of the wrong type is, for "must be X, not Y"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, str):
        return f"the string {quote(clean(value))}"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, Sequence):
        return "a list"
    return f"a {type(value).__name__}"


def obj(out: Collector, path: str, value: object, fields: Sequence[str]) -> dict[str, Any] | None:
    """An object with only ``fields``: unknown ones are errors (with "did you mean")."""
    if not isinstance(value, Mapping):
        out.error(path, f"must be an object, not {describe(value)}")
        return None
    known: dict[str, Any] = {}
    unknown: list[str] = []
    for key, field_value in value.items():
        name = clean(key) if isinstance(key, str) else str(key)
        if name in fields:
            known[name] = field_value
        else:
            unknown.append(name)
    for name in unknown[:_MAX_UNKNOWN_SHOWN]:
        close = suggest(name, fields) if out.budget.take_suggestion() else None
        if close:
            hint = f"did you mean '{close}'?"
        else:
            hint = f"accepted: {', '.join(fields)}" if fields else "this object takes no fields"
        out.error(at(path, name), f"unknown field; {hint}")
    if len(unknown) > _MAX_UNKNOWN_SHOWN:
        out.error(path, f"has {len(unknown) - _MAX_UNKNOWN_SHOWN} more unknown fields")
    return known


def string(
    out: Collector, path: str, value: object, *, max_length: int = MAX_VALUE_LENGTH
) -> str | None:
    if not isinstance(value, str):
        out.error(path, f"must be a string, not {describe(value)}")
        return None
    if len(value) > max_length:
        out.error(path, f"is {len(value)} characters long; at most {max_length} are accepted")
        return None
    return clean(value)


def boolean(out: Collector, path: str, value: object) -> bool | None:
    if not isinstance(value, bool):
        out.error(path, f"must be true or false, not {describe(value)}")
        return None
    return value


def listing(
    out: Collector, path: str, value: object, *, max_items: int = MAX_LIST_ITEMS
) -> list[Any] | None:
    """A JSON list (not a string), at most ``max_items`` long."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        out.error(path, f"must be a list, not {describe(value)}")
        return None
    if len(value) > max_items:
        out.error(path, f"has {len(value)} items; at most {max_items} are accepted")
        return None
    return list(value)


def string_list(
    out: Collector, path: str, value: object, *, max_items: int = MAX_LIST_ITEMS
) -> tuple[Setting[str], ...] | None:
    """Every item a string; each with its own path. None when any item is refused."""
    items = listing(out, path, value, max_items=max_items)
    if items is None:
        return None
    read = [string(out, item(path, i), text) for i, text in enumerate(items)]
    if any(text is None for text in read):
        return None
    return tuple(Setting(text, item(path, i)) for i, text in enumerate(read) if text is not None)
