"""Parsing one annotation value into a policy value, reporting what is wrong with it.

Each function takes the full annotation key (for the problem it may report) and the
value already stripped of surrounding whitespace and known to be non-empty. It returns the
parsed value, or ``None`` after recording an error. The value parsers of the value modules
(``tags``, ``platforms``, ``strategies``, ``credentials``) do the real work; this module
turns their exceptions into problems worded for an annotation.
"""

from __future__ import annotations

__all__ = [
    "parse_allow_tags",
    "parse_bool",
    "parse_ignore_tags",
    "parse_parameter_name",
    "parse_platforms",
    "parse_pull_secret",
    "parse_strategy",
]

from typing import Literal

import re2

from imageupdater import strategies
from imageupdater.annotations.limits import MAX_GLOBS
from imageupdater.annotations.report import Collector, quote
from imageupdater.credentials import OPERATOR_KINDS, CredentialRef
from imageupdater.errors import (
    InvalidCredentialRef,
    InvalidPlatform,
    InvalidStrategy,
    InvalidTagFilter,
)
from imageupdater.platforms import Platform
from imageupdater.strategies import Strategy
from imageupdater.tags import AllowTags, TagFilter

# Go's strconv.ParseBool, which upstream v1 uses for force-update.
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})

_STRATEGY_NAMES = ", ".join(strategy.value for strategy in Strategy)

# A Helm parameter path (`image.tag`, `images[0].tag`, `a\.b`) or a plugin env var name:
# anything printable without whitespace, '=' or ','; the tools using them decide the rest.
_PARAMETER = re2.compile(r"[^\s=,]+")
_ENV_NAME = re2.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
# Argo CD's CRD limit for plugin env names (manifestTargets.plugin).
_MAX_ENV_NAME = 253

ParameterKind = Literal["helm", "kustomize", "plugin"]


def parse_bool(out: Collector, key: str, value: str) -> bool | None:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    out.error(
        key,
        f"invalid boolean {quote(value)}; expected true or false "
        "(also accepted: 1, t, T, TRUE, True, 0, f, F, FALSE, False)",
    )
    return None


def parse_strategy(out: Collector, key: str, value: str) -> Strategy | None:
    try:
        strategy, deprecation = strategies.parse_strategy(value)
    except InvalidStrategy:
        out.error(
            key,
            f"unknown update strategy {quote(value)}; expected one of {_STRATEGY_NAMES}",
        )
        return None
    if deprecation is not None:
        out.warn(
            key,
            f"update strategy {quote(value)} is a deprecated name for "
            f"'{strategy.value}'; write '{strategy.value}' instead",
        )
    return strategy


def parse_allow_tags(out: Collector, key: str, value: str) -> AllowTags | None:
    try:
        return AllowTags.parse(value)
    except InvalidTagFilter as err:
        out.error(key, str(err))
        return None


def parse_ignore_tags(out: Collector, key: str, value: str) -> tuple[str, ...] | None:
    items = value.split(",")
    if not out.budget.take_globs(len(items)):
        out.error(
            key,
            f"too many ignore-tags globs: an Application may have at most {MAX_GLOBS} "
            "in all its ignore-tags annotations together",
        )
        return None
    patterns: list[str] = []
    valid = True
    empty_items = 0
    for item in items:
        pattern = item.strip()
        if not pattern:
            empty_items += 1
            continue
        try:
            TagFilter(ignore=(pattern,))
        except InvalidTagFilter as err:
            out.error(key, str(err))
            valid = False
            continue
        patterns.append(pattern)
    if empty_items:
        out.warn(
            key,
            f"{quote(value)} has an empty pattern between commas, which is ignored; "
            "expected comma-separated globs such as 'latest,dev-*'",
        )
    return tuple(patterns) if valid else None


def parse_platforms(out: Collector, key: str, value: str) -> tuple[Platform, ...] | None:
    found: dict[Platform, None] = {}
    valid = True
    for item in value.split(","):
        entry = item.strip()
        if not entry:
            out.warn(
                key,
                f"{quote(value)} has an empty entry between commas, which is ignored; "
                "expected comma-separated os/arch[/variant] such as 'linux/amd64,linux/arm64'",
            )
            continue
        try:
            platform = Platform.parse(entry)
        except InvalidPlatform as err:
            out.error(key, str(err))
            valid = False
            continue
        if platform in found:
            out.warn(key, f"platform {quote(entry)} is listed more than once")
        found.setdefault(platform, None)
    return tuple(found) if valid else None


def parse_pull_secret(
    out: Collector, key: str, value: str, namespace: str | None, *, operator_kinds: bool = False
) -> CredentialRef | None:
    """``operator_kinds``: whether this Application may use ``env:``/``ext:`` (operator opt-in)."""
    try:
        ref = CredentialRef.parse(value)
    except InvalidCredentialRef as err:
        out.error(key, str(err))
        return None
    if ref.kind in OPERATOR_KINDS and not operator_kinds:
        reach = (
            "reads the image updater's own environment"
            if ref.kind == "env"
            else "runs a program on the image updater"
        )
        out.error(
            key,
            f"credential reference {quote(value)} is not allowed in an Application: "
            f"'{ref.kind}:' {reach}, so only the operator may configure it (registries.conf); "
            "an Application may name pullsecret:<namespace>/<name> or "
            "secret:<namespace>/<name>#<field> of its own namespace "
            "(an operator can allow env: and ext: for a namespace with "
            "--allow-env-ext-credentials)",
        )
        return None
    if (
        namespace is not None
        and ref.kind in ("pullsecret", "secret")
        and ref.namespace is not None
        and ref.namespace != namespace
    ):
        out.error(
            key,
            f"credential reference {quote(value)} reads a secret in namespace "
            f"'{ref.namespace}', but an Application may only use secrets of its own "
            f"namespace '{namespace}'",
        )
        return None
    return ref


def parse_parameter_name(out: Collector, key: str, value: str, kind: ParameterKind) -> str | None:
    if kind == "plugin":
        if len(value) <= _MAX_ENV_NAME and _ENV_NAME.fullmatch(value):
            return value
        out.error(
            key,
            f"invalid plugin env var name {quote(value)}; expected up to {_MAX_ENV_NAME} "
            "letters, digits, '_', '.' or '-', not starting with a digit, e.g. 'IMAGE_TAG'",
        )
        return None
    if _PARAMETER.fullmatch(value):
        return value
    what = "Helm parameter name" if kind == "helm" else "Kustomize image name"
    example = "'image.tag'" if kind == "helm" else "'docker.io/org/app'"
    out.error(
        key,
        f"invalid {what} {quote(value)}: it contains whitespace, '=' or ','; "
        f"expected a single name such as {example}",
    )
    return None
