"""``commonUpdateSettings``: reading one block and inheriting spec → applicationRef → image.

Owns the six fields (``updateStrategy``, ``forceUpdate``, ``allowTags``, ``ignoreTags``,
``pullSecret``, ``platforms``), each validated with the same validators and words as the
annotations (``imageupdater.annotations.values``, ``tags``, ``platforms``), and upstream's
merge: field by field, the most specific level that sets a field wins, and lists are
replaced, never merged. An empty ``pullSecret`` or ``allowTags`` is a setting (no
credentials; every tag), as upstream reads it. A field left out inherits; so does a field
``quirk`` finds possibly persisted by the v1.0–v1.3 CRD (see that module).
"""

from __future__ import annotations

__all__ = ["Assumed", "Scope", "UpdateSettings", "inherit", "parse_update_settings"]

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from functools import partial
from typing import TypeVar

from imageupdater.annotations import values as v
from imageupdater.annotations.keys import suggest
from imageupdater.annotations.report import Collector, quote
from imageupdater.credentials import CredentialRef
from imageupdater.errors import InvalidPlatform, InvalidTagFilter
from imageupdater.imageupdaters import fields as f
from imageupdater.imageupdaters.fields import Setting
from imageupdater.imageupdaters.quirk import CRD_DEFAULTS, Written, possibly_persisted
from imageupdater.platforms import Platform
from imageupdater.problems import Problem
from imageupdater.strategies import Strategy
from imageupdater.tags import AllowTags, TagFilter

T = TypeVar("T")

FIELDS = ("updateStrategy", "forceUpdate", "allowTags", "ignoreTags", "pullSecret", "platforms")
_STRATEGY_NAMES = (*(s.value for s in Strategy), "latest", "name")
_ATTRIBUTE = {"updateStrategy": "strategy", "forceUpdate": "force_update"}


@dataclass(frozen=True, slots=True)
class Scope:
    """What credential references may reach (``CredentialRules``, for the namespace)."""

    secret_namespace: str | None = None
    operator_credentials: bool = False


@dataclass(frozen=True, slots=True)
class Assumed:
    """A possibly persisted default read as not set; ``recorded``: the applied record shows
    it was not written (so inheriting needs no warning)."""

    name: str
    path: str
    recorded: bool


@dataclass(frozen=True, slots=True)
class UpdateSettings:
    """One block, or the result of inheriting; a field is None when not set."""

    strategy: Setting[Strategy] | None = None
    force_update: Setting[bool] | None = None
    allow_tags: Setting[AllowTags] | None = None
    ignore_tags: Setting[tuple[str, ...]] | None = None
    pull_secret: Setting[CredentialRef | None] | None = None
    platforms: Setting[tuple[Platform, ...]] | None = None
    assumed: tuple[Assumed, ...] = ()


def parse_update_settings(
    out: Collector, path: str, value: object, scope: Scope, written: Written | None = None
) -> UpdateSettings:
    """Read a block (absent → nothing set). ``written`` is given for the applicationRef and
    image levels, where the persisted-default quirk applies."""
    if value is None:
        return UpdateSettings()
    raw = f.obj(out, path, value, FIELDS)
    if raw is None:
        return UpdateSettings()
    assumed: list[Assumed] = []
    persisted = [n for n in CRD_DEFAULTS if written is not None and possibly_persisted(raw, n)]
    for name in persisted:
        told = None if written is None else written(name)
        if told is not True:
            assumed.append(Assumed(name, f.at(path, name), told is False))
            del raw[name]

    return UpdateSettings(
        strategy=_field(out, path, raw, "updateStrategy", _strategy),
        force_update=_field(out, path, raw, "forceUpdate", _flag),
        allow_tags=_field(out, path, raw, "allowTags", _allow_tags),
        ignore_tags=_field(out, path, raw, "ignoreTags", _ignore_tags),
        pull_secret=_field(out, path, raw, "pullSecret", partial(_pull_secret, scope=scope)),
        platforms=_field(out, path, raw, "platforms", _platforms),
        assumed=tuple(assumed),
    )


def _field(
    out: Collector,
    path: str,
    raw: Mapping[str, object],
    name: str,
    reader: Callable[[Collector, str, object], Setting[T] | None],
) -> Setting[T] | None:
    """``raw[name]`` read by ``reader``; None when left out (or null, as Go reads it)."""
    value = raw.get(name)
    return None if value is None else reader(out, f.at(path, name), value)


def inherit(out: Collector, base: UpdateSettings, own: UpdateSettings) -> UpdateSettings:
    """``own`` over ``base`` field by field; warns where a possibly persisted default that
    was read as not set lets a different inherited value apply."""
    for assumed in own.assumed:
        inherited = getattr(base, _ATTRIBUTE[assumed.name])
        if assumed.recorded or inherited is None or inherited.value == CRD_DEFAULTS[assumed.name]:
            continue
        other = "forceUpdate" if assumed.name == "updateStrategy" else "updateStrategy"
        out.warn(
            assumed.path,
            f"is read as not set, so {_shown(inherited.value)} from {inherited.path} applies: "
            "upstream's v1.0-v1.3 CRD stores updateStrategy 'semver' and forceUpdate false in "
            "every commonUpdateSettings block, so this value may not be one you wrote. To make "
            "it count, apply the resource with 'kubectl apply' (its last-applied record shows "
            f"what you wrote) or, with a CRD that does not default these fields, leave {other} "
            "out of this block",
        )
    merged = {
        item.name: getattr(own, item.name)
        if getattr(own, item.name) is not None
        else getattr(base, item.name)
        for item in fields(UpdateSettings)
        if item.name != "assumed"
    }
    return replace(UpdateSettings(), **merged)


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "forceUpdate true" if value else "forceUpdate false"
    if isinstance(value, Strategy):
        return f"updateStrategy '{value.value}'"
    return quote(str(value))


def _strategy(out: Collector, path: str, value: object) -> Setting[Strategy] | None:
    text = f.string(out, path, value)
    if text is None:
        return None
    found = Collector()
    found.budget = out.budget
    strategy = v.parse_strategy(found, path, text)
    close = None
    if strategy is None and text and out.budget.take_suggestion():
        close = suggest(text.lower(), _STRATEGY_NAMES, cutoff=0.6)
    for problem in found.problems:
        hint = f"; did you mean '{close}'?" if close and problem.severity == "error" else ""
        out.problems.append(Problem(problem.key, problem.message + hint, problem.severity))
    return None if strategy is None else Setting(strategy, path)


def _flag(out: Collector, path: str, value: object) -> Setting[bool] | None:
    flag = f.boolean(out, path, value)
    return None if flag is None else Setting(flag, path)


def _allow_tags(out: Collector, path: str, value: object) -> Setting[AllowTags] | None:
    text = f.string(out, path, value)
    allow = None if text is None else v.parse_allow_tags(out, path, text)
    return None if allow is None else Setting(allow, path)


def _ignore_tags(out: Collector, path: str, value: object) -> Setting[tuple[str, ...]] | None:
    items = f.string_list(out, path, value)
    if items is None:
        return None
    if not out.budget.take_globs(len(items)):
        out.error(
            path,
            f"too many ignoreTags globs: an ImageUpdater may have at most {f.MAX_GLOBS} in all "
            "its ignoreTags together",
        )
        return None
    globs: list[str] = []
    valid = True
    for item in items:
        if not item.value:
            out.warn(item.path, "is empty, so it is ignored: an empty glob matches no tag")
            continue
        try:
            TagFilter(ignore=(item.value,))
        except InvalidTagFilter as err:
            out.error(item.path, str(err))
            valid = False
            continue
        if any(char.isspace() for char in item.value):
            out.warn(
                item.path,
                f"glob {quote(item.value)} contains whitespace, which no tag has: it never matches",
            )
        globs.append(item.value)
    return Setting(tuple(globs), path) if valid else None


def _pull_secret(
    out: Collector, path: str, value: object, *, scope: Scope
) -> Setting[CredentialRef | None] | None:
    text = f.string(out, path, value)
    if text is None:
        return None
    if not text:
        # Upstream reads "" as "no pull secret": it overrides one set at a level above.
        return Setting(None, path)
    ref = v.parse_pull_secret(
        out, path, text, scope.secret_namespace, operator_kinds=scope.operator_credentials
    )
    return None if ref is None else Setting(ref, path)


def _platforms(out: Collector, path: str, value: object) -> Setting[tuple[Platform, ...]] | None:
    items = f.string_list(out, path, value)
    if items is None:
        return None
    found: dict[Platform, None] = {}
    valid = True
    for item in items:
        try:
            platform = Platform.parse(item.value)
        except InvalidPlatform as err:
            out.error(item.path, str(err))
            valid = False
            continue
        if platform in found:
            out.warn(item.path, f"platform {quote(item.value)} is listed more than once")
        found.setdefault(platform, None)
    return Setting(tuple(found), path) if valid else None
