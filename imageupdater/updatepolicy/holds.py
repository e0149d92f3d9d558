"""Hold annotations: an Application-wide hold, or one image alias held, each with a reason.

Owns the annotation names and their reading: ``image-updater.io/hold: <reason>`` stops every
update of the Application, ``image-updater.io/hold.<alias>: <reason>`` every update of one
image (the alias as written in annotation keys: ``/`` becomes ``_``, as in upstream's
per-image keys). A hold holds even when it is written wrong (no reason, an alias the
image list lacks): a mistaken hold is reported, never silently ignored in the direction of
updating. Also owns the JSON merge patches ``image-updater hold`` / ``release`` send. Pure.
"""

from __future__ import annotations

__all__ = [
    "HOLD_ANNOTATION",
    "HOLD_PREFIX",
    "Holds",
    "ParsedHolds",
    "hold_key",
    "hold_patch",
    "parse_holds",
    "release_patch",
]

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from imageupdater.annotations.keys import key_alias, suggest
from imageupdater.errors import InvalidInput
from imageupdater.patterns import compile_re2, fullmatches
from imageupdater.problems import Problem
from imageupdater.updatepolicy.model import API_GROUP

HOLD_ANNOTATION = f"{API_GROUP}/hold"
HOLD_PREFIX = f"{HOLD_ANNOTATION}."
# The name part of an annotation key (after the prefix's '/'), as the API server checks it.
_KEY_NAME = compile_re2(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_NO_REASON = "(no reason given)"


@dataclass(frozen=True, slots=True)
class Holds:
    """The holds on one Application: ``app`` the Application-wide reason (None: not held),
    ``aliases`` (alias as written in keys, reason) pairs, sorted."""

    app: str | None = None
    aliases: tuple[tuple[str, str], ...] = ()

    def reason(self, alias: str | None) -> str | None:
        """Why the image ``alias`` (None: an image without alias) is held, or None: the
        Application-wide hold first, else the image's own."""
        if self.app is not None:
            return self.app
        if alias is None:
            return None
        wanted = key_alias(alias)
        return next((reason for held, reason in self.aliases if held == wanted), None)

    @property
    def any(self) -> bool:
        return self.app is not None or bool(self.aliases)


@dataclass(frozen=True, slots=True)
class ParsedHolds:
    holds: Holds
    problems: tuple[Problem, ...] = ()


def parse_holds(
    annotations: Mapping[str, object] | None, aliases: Iterable[str | None] | None = None
) -> ParsedHolds:
    """Read the hold annotations; ``aliases`` are the image list's (None: not known, so
    aliases are not checked)."""
    app: str | None = None
    held: dict[str, str] = {}
    problems: list[Problem] = []
    known = None if aliases is None else {key_alias(a) for a in aliases if a is not None}
    for key, value in (annotations or {}).items():
        if not isinstance(key, str) or not key.startswith(HOLD_ANNOTATION):
            continue
        if key != HOLD_ANNOTATION and not key.startswith(HOLD_PREFIX):
            problems.append(_stray(key))
            continue
        reason = _reason(key, value, problems)
        if key == HOLD_ANNOTATION:
            app = reason
            continue
        alias = key[len(HOLD_PREFIX) :]
        if not alias:
            message = (
                f"names no image alias; write {HOLD_PREFIX}<alias>, or {HOLD_ANNOTATION} to "
                "hold the whole Application; nothing is held by this one"
            )
            problems.append(Problem(key, message, "warning"))
            continue
        held[alias] = reason
        if known is not None and alias not in known:
            problems.append(_unknown_alias(key, alias, known))
    return ParsedHolds(Holds(app, tuple(sorted(held.items()))), tuple(problems))


def _reason(key: str, value: object, problems: list[Problem]) -> str:
    if isinstance(value, str) and value.strip():
        return value.strip()
    problems.append(
        Problem(
            key,
            "the hold has no reason; write why it is held (e.g. 'incident 4711: 2.0 breaks "
            "login'); it holds all the same",
        )
    )
    return _NO_REASON


def _stray(key: str) -> Problem:
    guess = suggest(key, (HOLD_ANNOTATION,))
    hint = f" (did you mean {guess!r}?)" if guess is not None else ""
    return Problem(
        key,
        f"is not a hold annotation{hint}; accepted: {HOLD_ANNOTATION} (the whole Application) "
        f"or {HOLD_PREFIX}<alias> (one image); nothing is held by this one",
        "warning",
    )


def _unknown_alias(key: str, alias: str, known: set[str]) -> Problem:
    guess = suggest(alias, sorted(known))
    hint = f" (did you mean {guess!r}?)" if guess is not None else ""
    listed = ", ".join(sorted(known)) or "none"
    return Problem(
        key,
        f"holds the image alias {alias!r}, which the image list does not name{hint}; "
        f"aliases in the image list: {listed}",
        "warning",
    )


def hold_key(alias: str | None) -> str:
    """The annotation holding ``alias`` (None: the whole Application); InvalidInput when the
    alias cannot be part of an annotation key."""
    if alias is None:
        return HOLD_ANNOTATION
    name = f"hold.{key_alias(alias)}"
    if not fullmatches(_KEY_NAME, name):
        raise InvalidInput(
            f"cannot hold image alias {alias!r}: the annotation {HOLD_PREFIX}{key_alias(alias)} "
            "is not a valid key (after the prefix at most 63 letters, digits, '-', '_' and "
            "'.', starting and ending with a letter or digit)"
        )
    return f"{API_GROUP}/{name}"


def hold_patch(alias: str | None, reason: str) -> dict[str, Any]:
    """The JSON merge patch that holds ``alias`` (None: the whole Application) with ``reason``."""
    if not reason.strip():
        raise InvalidInput("a hold needs a reason: say why updates stop (--reason TEXT)")
    return {"metadata": {"annotations": {hold_key(alias): reason.strip()}}}


def release_patch(alias: str | None) -> dict[str, Any]:
    """The JSON merge patch that releases the hold on ``alias`` (None: the Application-wide
    one); releasing what is not held changes nothing."""
    return {"metadata": {"annotations": {hold_key(alias): None}}}
