"""The vocabulary of annotation keys: which suffixes exist, and what a typo was meant to be.

Keys come in two shapes under ``PREFIX``: application keys (``image-list``,
``write-back-method``, the application-wide defaults) and per-image keys
``<alias>.<option>``. Aliases may contain dots, so an image key is recognised by its
option suffix, never by splitting at the first dot.
"""

from __future__ import annotations

__all__ = [
    "APP_DEFAULT_OPTIONS",
    "APP_KEYS",
    "IMAGE_OPTIONS",
    "KeyName",
    "key_alias",
    "split_key",
    "suggest",
    "suggest_key",
]

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Options that may be set application-wide and are inherited by every image.
APP_DEFAULT_OPTIONS = (
    "update-strategy",
    "force-update",
    "allow-tags",
    "ignore-tags",
    "pull-secret",
)

APP_KEYS = (
    "image-list",
    *APP_DEFAULT_OPTIONS,
    "write-back-method",
    "git-branch",
    "git-repository",
    "git-pull-request",
    "git-pull-request-labels",
    "write-back-target",
)

IMAGE_OPTIONS = (
    "update-strategy",
    "force-update",
    "allow-tags",
    "tag-match",
    "ignore-tags",
    "pull-secret",
    "platforms",
    "helm.image-name",
    "helm.image-tag",
    "helm.image-spec",
    "kustomize.image-name",
    "plugin.image-name",
    "plugin.image-tag",
    "plugin.image-spec",
)

# difflib is quadratic in the worst case; a key this long is not a typo of ours.
_MAX_SUGGEST_LENGTH = 200
_SUGGEST_CUTOFF = 0.75


@dataclass(frozen=True, slots=True)
class KeyName:
    """A recognised key suffix: ``alias`` as written in the key (``None`` = application)."""

    alias: str | None
    option: str


def split_key(suffix: str) -> KeyName | None:
    """Classify the part of a key after ``PREFIX``; ``None`` when it is not one of ours."""
    if suffix in APP_KEYS:
        return KeyName(None, suffix)
    for option in IMAGE_OPTIONS:
        head = suffix.removesuffix("." + option)
        if head != suffix and head:
            return KeyName(head, option)
    return None


def key_alias(alias: str) -> str:
    """The alias as upstream v0 wrote it in keys (``/`` is not allowed in a key name)."""
    return alias.replace("/", "_")


def suggest_key(suffix: str, aliases: Mapping[str, str]) -> str | None:
    """The known key an unknown ``suffix`` was probably meant to be.

    Compared piecewise, so the work does not grow with the number of aliases: the whole
    suffix against the application keys, and, where the part before a dot is an alias
    spelling in ``aliases``, the part after it against the per-image options.
    """
    if len(suffix) > _MAX_SUGGEST_LENGTH:
        return None
    candidates = list(APP_KEYS)
    for index, char in enumerate(suffix):
        if char == "." and suffix[:index] in aliases:
            candidates.extend(f"{suffix[:index]}.{option}" for option in IMAGE_OPTIONS)
    return suggest(suffix, candidates)


def suggest(
    suffix: str, candidates: Iterable[str], *, cutoff: float = _SUGGEST_CUTOFF
) -> str | None:
    """The closest known key suffix (or alias), when the unknown one looks like a typo of it."""
    if len(suffix) > _MAX_SUGGEST_LENGTH:
        return None
    # difflib's ratio is 2·matches / (len(a) + len(b)), at most 2·shorter / (sum): a
    # candidate whose length is too far off can never reach the cutoff, so it is not scored.
    floor = cutoff / (2 - cutoff)
    near = [c for c in candidates if min(len(c), len(suffix)) >= floor * max(len(c), len(suffix))]
    matches = difflib.get_close_matches(suffix, near, n=1, cutoff=cutoff)
    return matches[0] if matches else None
