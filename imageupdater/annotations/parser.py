"""``parse``: an Application's annotations → its ``AppConfig`` and every problem at once.

The admission webhook calls this on every apply, so it does no I/O and compiles each
user expression once. Nothing is silently dropped: an unknown key, an alias missing from
``image-list`` or an unusable value is a problem naming the key, the value and what would
be accepted; a setting that parses but cannot take effect is a warning.
"""

from __future__ import annotations

__all__ = ["ParseResult", "parse"]

from collections.abc import Mapping
from dataclasses import dataclass

from imageupdater.annotations import values as v
from imageupdater.annotations.constraint import check_constraint
from imageupdater.annotations.imagelist import Entry, parse_image_list
from imageupdater.annotations.keys import (
    APP_DEFAULT_OPTIONS,
    APP_KEYS,
    IMAGE_OPTIONS,
    key_alias,
    split_key,
    suggest,
    suggest_key,
)
from imageupdater.annotations.limits import (
    MAX_IMAGE_LIST_LENGTH,
    MAX_KEYS,
    MAX_TOTAL_LENGTH,
    MAX_VALUE_LENGTH,
)
from imageupdater.annotations.report import PREFIX, Collector, full_key
from imageupdater.annotations.writeback import parse_write_back
from imageupdater.credentials import CredentialRef
from imageupdater.errors import InvalidAnnotations
from imageupdater.platforms import Platform
from imageupdater.policy import (
    AppConfig,
    HelmTarget,
    ImagePolicy,
    KustomizeTarget,
    PluginTarget,
)
from imageupdater.problems import Problem
from imageupdater.strategies import Strategy
from imageupdater.tags import AllowTags, TagFilter

IMAGE_LIST_KEY = full_key("image-list")
# Where a problem with the annotations as a whole (too many, too long) is reported.
ANY_KEY = full_key("*")
_TARGET_KINDS: tuple[v.ParameterKind, ...] = ("helm", "kustomize", "plugin")

# (annotation key, value stripped of surrounding whitespace)
_Setting = tuple[str, str]


@dataclass(frozen=True, slots=True)
class ParseResult:
    """The outcome of :func:`parse`.

    ``config`` is None when the Application is not managed (no key under ``PREFIX``) or
    when any problem is an error; ``problems`` holds every error and warning found.
    """

    config: AppConfig | None
    problems: tuple[Problem, ...] = ()
    managed: bool = False

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")

    def raise_for_errors(self) -> None:
        """Raise :class:`InvalidAnnotations` carrying every error, if there is one."""
        if self.errors:
            raise InvalidAnnotations(self.errors)


@dataclass(frozen=True, slots=True)
class _Options:
    """Per-image or application-wide settings; None = not set (or invalid)."""

    strategy: Strategy | None = None
    strategy_key: str | None = None
    strategy_invalid: bool = False
    force_update: bool | None = None
    allow: AllowTags | None = None
    ignore: tuple[str, ...] | None = None
    pull_secret: CredentialRef | None = None
    platforms: tuple[Platform, ...] | None = None
    platforms_key: str | None = None
    helm: HelmTarget | None = None
    kustomize: KustomizeTarget | None = None
    plugin: PluginTarget | None = None


@dataclass(frozen=True, slots=True)
class _Scope:
    """What the Application's credential references may reach (see ``parse``)."""

    namespace: str | None
    operator_credentials: bool


@dataclass(frozen=True, slots=True)
class _Targets:
    helm: HelmTarget | None = None
    kustomize: KustomizeTarget | None = None
    plugin: PluginTarget | None = None


def parse(
    annotations: Mapping[str, str],
    *,
    namespace: str | None = None,
    operator_credentials: bool = False,
) -> ParseResult:
    """Parse the ``argocd-image-updater.argoproj.io/*`` annotations of one Application.

    ``namespace`` is the Application's namespace when known; secrets referenced from
    another namespace are then an error (an Application may only use its own).
    ``operator_credentials`` lets the Application use ``env:`` and ``ext:`` credential
    references, which are otherwise the operator's alone (``CredentialRules``).
    """
    ours: dict[str, tuple[str, str]] = {
        key[len(PREFIX) :]: (key, value)
        for key, value in annotations.items()
        if key.startswith(PREFIX)
    }
    if not ours:
        return ParseResult(None, (), managed=False)
    out = Collector()
    too_much = _over_limits(ours)
    if too_much is not None:
        out.error(ANY_KEY, too_much)
        return ParseResult(None, tuple(out.problems), managed=True)
    for suffix, (key, value) in list(ours.items()):
        cap = MAX_IMAGE_LIST_LENGTH if suffix == "image-list" else MAX_VALUE_LENGTH
        if len(value) > cap:
            out.error(key, f"the value is {len(value)} characters long; at most {cap} are accepted")
            del ours[suffix]
    entries: list[Entry] | None = None
    if "image-list" in ours:
        entries = parse_image_list(out, IMAGE_LIST_KEY, ours["image-list"][1])
    else:
        out.error(
            IMAGE_LIST_KEY,
            "is missing: an Application with image-updater annotations must list its images, "
            "e.g. 'web=ghcr.io/org/web:1.x'",
        )
    # Keys may spell an alias verbatim (v1) or with '/' written '_' (v0).
    aliases = {
        spelling: e.alias
        for e in entries or ()
        if e.alias is not None
        for spelling in (e.alias, key_alias(e.alias))
    }
    app, per_alias = _sort_keys(out, ours, entries, aliases)
    scope = _Scope(namespace, operator_credentials)
    defaults = _parse_options(out, app, scope)
    write_back = parse_write_back(out, app, namespace)
    policies = [
        _policy(
            out,
            entry,
            defaults,
            _parse_options(out, per_alias.get(entry.alias or "", {}), scope, alias=entry.alias),
        )
        for entry in entries or ()
    ]
    for alias, settings in per_alias.items():
        if alias not in aliases.values():
            _parse_options(out, settings, scope, alias=alias)  # reported, then dropped
    problems = tuple(sorted(out.problems, key=lambda p: (p.key != IMAGE_LIST_KEY, p.key)))
    if out.error_count or write_back is None or any(p is None for p in policies):
        return ParseResult(None, problems, managed=True)
    images = tuple(p for p in policies if p is not None)
    return ParseResult(AppConfig(images=images, write_back=write_back), problems, managed=True)


def _over_limits(ours: Mapping[str, tuple[str, str]]) -> str | None:
    """Why these annotations are too much to review, before any of them is parsed."""
    if len(ours) > MAX_KEYS:
        return (
            f"the Application has {len(ours)} image-updater annotations; "
            f"at most {MAX_KEYS} are accepted"
        )
    total = sum(len(key) + len(value) for key, value in ours.values())
    if total > MAX_TOTAL_LENGTH:
        return (
            f"the image-updater annotations are {total} characters long together; "
            f"at most {MAX_TOTAL_LENGTH} are accepted"
        )
    return None


def _sort_keys(
    out: Collector,
    ours: Mapping[str, tuple[str, str]],
    entries: list[Entry] | None,
    aliases: Mapping[str, str],
) -> tuple[dict[str, _Setting], dict[str, dict[str, _Setting]]]:
    """Split keys into application settings and per-alias settings, reporting strays."""
    app: dict[str, _Setting] = {}
    per_alias: dict[str, dict[str, _Setting]] = {}
    for suffix in sorted(ours):
        if suffix == "image-list":
            continue
        key, raw = ours[suffix]
        name = split_key(suffix)
        if name is None:
            _unknown_key(out, key, suffix, aliases)
            continue
        value = raw.strip()
        if not value and name.option != "force-update":
            out.warn(key, "has an empty value, which is ignored (the default applies)")
            continue
        if name.alias is None:
            app[name.option] = (key, value)
            continue
        alias = aliases.get(name.alias)
        if alias is None and entries is not None:
            _unknown_alias(out, key, name.alias, aliases)
            continue
        settings = per_alias.setdefault(alias or name.alias, {})
        if name.option in settings:
            out.error(key, f"sets the same option as '{settings[name.option][0]}'; keep one")
            continue
        settings[name.option] = (key, value)
    return app, per_alias


def _unknown_key(out: Collector, key: str, suffix: str, aliases: Mapping[str, str]) -> None:
    if suffix in IMAGE_OPTIONS:
        out.error(
            key,
            f"'{suffix}' can only be set per image: write '{PREFIX}<alias>.{suffix}' "
            "for an aliased image-list entry",
        )
        return
    match = suggest_key(suffix, aliases) if out.budget.take_suggestion() else None
    if match is not None:
        out.error(key, f"unknown annotation; did you mean '{PREFIX}{match}'?")
        return
    out.error(
        key,
        f"unknown annotation; expected one of {', '.join(APP_KEYS)}, or <alias>.<option> "
        f"with <option> one of {', '.join(IMAGE_OPTIONS)}",
    )


def _unknown_alias(out: Collector, key: str, alias: str, aliases: Mapping[str, str]) -> None:
    if not aliases:
        out.error(
            key,
            f"alias '{alias}' is not in image-list, which has no aliases; "
            f"write the entry as '{alias}=<image>'",
        )
        return
    names = ", ".join(dict.fromkeys(aliases.values()))
    message = f"alias '{alias}' is not in image-list (aliases: {names})"
    close = suggest(alias, aliases, cutoff=0.6) if out.budget.take_suggestion() else None
    if close is not None:
        message += f"; did you mean '{close}'?"
    out.error(key, message)


def _parse_options(
    out: Collector,
    settings: Mapping[str, _Setting],
    scope: _Scope,
    *,
    alias: str | None = None,
) -> _Options:
    def get(option: str) -> _Setting | None:
        if alias is None and option not in APP_DEFAULT_OPTIONS:
            return None
        return settings.get(option)

    strategy_setting = get("update-strategy")
    strategy = None if strategy_setting is None else v.parse_strategy(out, *strategy_setting)
    force_setting = get("force-update")
    allow = get("allow-tags")
    tag_match = get("tag-match")
    if tag_match is not None:
        if allow is not None:
            out.warn(tag_match[0], f"is ignored because '{allow[0]}' is set")
        else:
            renamed = tag_match[0].removesuffix("tag-match") + "allow-tags"
            out.warn(tag_match[0], f"is deprecated; rename it to '{renamed}'")
            allow = tag_match
    ignore = get("ignore-tags")
    pull_secret = get("pull-secret")
    platforms = get("platforms")
    targets = _parse_targets(out, settings, alias) if alias is not None else _Targets()
    return _Options(
        strategy=strategy,
        strategy_key=None if strategy_setting is None else strategy_setting[0],
        strategy_invalid=strategy_setting is not None and strategy is None,
        force_update=None if force_setting is None else v.parse_bool(out, *force_setting),
        allow=None if allow is None else v.parse_allow_tags(out, *allow),
        ignore=None if ignore is None else v.parse_ignore_tags(out, *ignore),
        pull_secret=None
        if pull_secret is None
        else v.parse_pull_secret(
            out, *pull_secret, scope.namespace, operator_kinds=scope.operator_credentials
        ),
        platforms=None if platforms is None else v.parse_platforms(out, *platforms),
        platforms_key=None if platforms is None else platforms[0],
        helm=targets.helm,
        kustomize=targets.kustomize,
        plugin=targets.plugin,
    )


def _parse_targets(out: Collector, settings: Mapping[str, _Setting], alias: str) -> _Targets:
    present = [
        kind for kind in _TARGET_KINDS if any(option.startswith(kind + ".") for option in settings)
    ]
    if len(present) > 1:
        second = next(
            setting[0]
            for option, setting in sorted(settings.items())
            if option.startswith(present[1] + ".")
        )
        out.error(
            second,
            f"alias '{alias}' has both {present[0]}.* and {present[1]}.* targets; an image "
            "is written to exactly one of helm, kustomize or plugin",
        )
        return _Targets()
    if not present:
        return _Targets()
    kind = present[0]
    names: dict[str, str | None] = {}
    for part in ("name", "tag", "spec"):
        setting = settings.get(f"{kind}.image-{part}")
        if setting is not None:
            names[part] = v.parse_parameter_name(out, *setting, kind)
    if kind == "kustomize":
        return _Targets(kustomize=KustomizeTarget(name=names.get("name")))
    spec_setting = settings.get(f"{kind}.image-spec")
    if spec_setting is not None:
        for part in ("name", "tag"):
            if (setting := settings.get(f"{kind}.image-{part}")) is not None:
                out.warn(setting[0], f"is ignored because '{spec_setting[0]}' is set")
    name, tag, spec = names.get("name"), names.get("tag"), names.get("spec")
    if kind == "helm":
        return _Targets(helm=HelmTarget(name=name, tag=tag, spec=spec))
    if "name" not in names and "spec" not in names:
        out.error(
            settings["plugin.image-tag"][0],
            f"a plugin target needs '{PREFIX}{key_alias(alias)}.plugin.image-name' or "
            "'.plugin.image-spec' as well; the tag alone cannot be written",
        )
    return _Targets(plugin=PluginTarget(name=name, tag=tag, spec=spec))


def _policy(out: Collector, entry: Entry, defaults: _Options, own: _Options) -> ImagePolicy | None:
    """Combine an entry's own settings with the application-wide ones (its own win)."""
    if entry.ref is None:
        return None
    chosen = own if own.strategy_key is not None else defaults
    strategy = chosen.strategy or Strategy.SEMVER
    if not chosen.strategy_invalid:
        source = f" (set by '{chosen.strategy_key}')" if chosen.strategy_key else ""
        check_constraint(
            out, IMAGE_LIST_KEY, ref=entry.ref, text=entry.text, strategy=strategy, source=source
        )
    if own.platforms and not strategy.needs_metadata and not chosen.strategy_invalid:
        out.warn(
            own.platforms_key or "",
            f"has no effect with update strategy '{strategy.value}', which never reads image "
            "manifests; platforms only matter for newest-build and digest",
        )
    allow = own.allow if own.allow is not None else defaults.allow
    ignore = own.ignore if own.ignore is not None else defaults.ignore
    force = own.force_update if own.force_update is not None else defaults.force_update
    tag_filter = TagFilter(allow=allow or TagFilter().allow, ignore=ignore or ())
    return ImagePolicy(
        image=entry.ref,
        strategy=strategy,
        constraint=entry.ref.tag,
        tag_filter=tag_filter,
        platforms=own.platforms or (),
        pull_secret=own.pull_secret or defaults.pull_secret,
        force_update=bool(force),
        helm=own.helm,
        kustomize=own.kustomize,
        plugin=own.plugin,
    )
