"""Parsing the ``image-list`` annotation into entries: alias and image reference.

The alias is split the way :meth:`ImageRef.parse` splits it (an ``=`` after the first
``:`` belongs to a constraint such as ``nginx:>=1.0``, unlike upstream), but parsed here
because upstream v0 allowed ``/`` in aliases, which ``ImageRef`` does not.
"""

from __future__ import annotations

__all__ = ["ALIAS_FORM", "Entry", "parse_image_list"]

from dataclasses import dataclass, replace

import re2

from imageupdater.annotations.keys import key_alias
from imageupdater.annotations.limits import (
    MAX_CONSTRAINT_LENGTH,
    MAX_CONSTRAINTS_LENGTH,
    MAX_IMAGES,
)
from imageupdater.annotations.report import Collector, quote
from imageupdater.errors import InvalidImageReference
from imageupdater.images import ImageRef

ALIAS_FORM = "letters, digits, '-', '_', '.' or '/', starting and ending with a letter or digit"
_ENTRY_FORMS = (
    "expected a comma-separated list of [<alias>=]<image>[:<constraint>] or <image>@<digest>, "
    "e.g. 'web=ghcr.io/org/web:1.x, redis'"
)
_ALIAS = re2.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_./-]*[A-Za-z0-9])?")


@dataclass(frozen=True, slots=True)
class Entry:
    """One image-list entry; ``ref`` is None when the image part is invalid."""

    text: str
    alias: str | None
    ref: ImageRef | None


def parse_image_list(out: Collector, key: str, value: str) -> list[Entry]:
    """Every well-formed entry (and the aliases of malformed ones), reporting the rest."""
    entries: list[Entry] = []
    by_alias: dict[str, Entry] = {}
    unaliased: set[str] = set()
    seen_any = False
    items = value.split(",")
    if sum(1 for item in items if item.strip()) > MAX_IMAGES:
        out.error(key, f"lists more than {MAX_IMAGES} images; at most {MAX_IMAGES} are accepted")
        return entries
    for item in items:
        text = item.strip()
        if not text:
            continue
        seen_any = True
        entry = _parse_entry(out, key, text)
        if entry is None:
            continue
        if entry.alias is None:
            if text in unaliased:
                out.warn(key, f"image {quote(text)} is listed more than once")
                continue
            unaliased.add(text)
        else:
            other = by_alias.get(key_alias(entry.alias))
            if other is not None:
                out.error(
                    key,
                    f"alias '{entry.alias}' is used by more than one entry "
                    f"({quote(other.text)} and {quote(text)}); each alias must be unique"
                    + (" (in keys '/' is written '_')" if other.alias != entry.alias else ""),
                )
                continue
            by_alias[key_alias(entry.alias)] = entry
        entries.append(entry)
    if not seen_any:
        out.error(key, f"{quote(value)} lists no image; {_ENTRY_FORMS}")
    return entries


def _parse_entry(out: Collector, key: str, text: str) -> Entry | None:
    equals, colon = text.find("="), text.find(":")
    if equals < 0 or 0 <= colon < equals:
        return Entry(text, None, _parse_ref(out, key, text, text))
    alias, ref_text = text[:equals].strip(), text[equals + 1 :].strip()
    if not alias:
        out.error(key, f"entry {quote(text)} has an empty alias before '='; {_ENTRY_FORMS}")
        return None
    if not _ALIAS.fullmatch(alias):
        out.error(key, f"entry {quote(text)}: alias {quote(alias)} must be {ALIAS_FORM}")
        return Entry(text, alias, None)
    if not ref_text:
        out.error(key, f"entry {quote(text)} has no image after '{alias}='; {_ENTRY_FORMS}")
        return Entry(text, alias, None)
    ref = _parse_ref(out, key, text, ref_text)
    return Entry(text, alias, None if ref is None else replace(ref, alias=alias))


def _parse_ref(out: Collector, key: str, text: str, ref_text: str) -> ImageRef | None:
    try:
        ref = ImageRef.parse(ref_text)
    except InvalidImageReference as err:
        out.error(key, f"entry {quote(text)}: {err}" if text != ref_text else str(err))
        return None
    if ref.tag is not None and len(ref.tag) > MAX_CONSTRAINT_LENGTH:
        out.error(
            key,
            f"entry {quote(text)}: its constraint is {len(ref.tag)} characters long; "
            f"at most {MAX_CONSTRAINT_LENGTH} are accepted",
        )
        return None
    if ref.tag is not None and not out.budget.take_constraint(len(ref.tag)):
        out.error(
            key,
            f"entry {quote(text)}: the constraints of all entries are more than "
            f"{MAX_CONSTRAINTS_LENGTH} characters long together; at most "
            f"{MAX_CONSTRAINTS_LENGTH} are accepted",
        )
        return None
    if ref.alias is not None:
        out.error(key, f"entry {quote(text)} has more than one '='; {_ENTRY_FORMS}")
        return None
    return ref
