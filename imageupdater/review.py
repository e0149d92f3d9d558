"""One review of an Application's image-updater configuration: the parse and every check.

Pure and shared by every surface that judges a configuration, so each says the same thing:
the admission webhook turns errors into a denial and warnings into ``kubectl`` warnings,
the reconciler turns them into Events, and ``image-updater lint`` prints them as lines.
The steps are separate functions as well as one :func:`review` because the webhook keeps
each step's result in a cache of its own (the same annotations come back on every status
write Argo CD makes); :class:`ReviewMemo` is that cache for a caller that reviews the same
Applications every cycle (the reconciler). Checks on a parsed configuration — today the
risk warnings, later policies — plug in at :func:`configuration_checks`.
"""

from __future__ import annotations

__all__ = [
    "Review",
    "ReviewMemo",
    "Reviewed",
    "app_checks",
    "configuration_checks",
    "git_checks",
    "our_annotations",
    "parse_configuration",
    "review",
]

from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from imageupdater.annotations import PREFIX, ParseResult, parse
from imageupdater.application import (
    Application,
    ApplicationSource,
    live_image_texts,
    live_images,
    parse_live_images,
    select_source,
)
from imageupdater.choice import live_entry
from imageupdater.credentials import CredentialRules
from imageupdater.gitops.location import revision_warning
from imageupdater.images import ImageRef
from imageupdater.policy import AppConfig
from imageupdater.problems import Problem
from imageupdater.updatepolicy.rollback import opt_in_problems

# Docker Hub counts every manifest read against its pull rate limit.
_RATE_LIMITED_HOSTS = frozenset({"docker.io"})


@dataclass(frozen=True, slots=True)
class Review:
    """What one review found: the configuration (None when any error) and every problem."""

    parsed: ParseResult
    checks: tuple[Problem, ...] = ()

    @property
    def config(self) -> AppConfig | None:
        return self.parsed.config

    @property
    def errors(self) -> tuple[Problem, ...]:
        return self.parsed.errors

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return self.parsed.warnings + self.checks

    @property
    def problems(self) -> tuple[Problem, ...]:
        return self.parsed.problems + self.checks


def our_annotations(obj: Mapping[str, Any] | None) -> dict[str, str]:
    """The ``argocd-image-updater.argoproj.io/*`` annotations of an object, text values only
    (the API server admits nothing else; ``lint`` reports other values itself)."""
    metadata = (obj or {}).get("metadata")
    raw = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    if not isinstance(raw, Mapping):
        return {}
    return {
        k: v
        for k, v in raw.items()
        if isinstance(k, str) and isinstance(v, str) and k.startswith(PREFIX)
    }


def parse_configuration(
    annotations: Mapping[str, str], namespace: str | None, rules: CredentialRules
) -> ParseResult:
    """Parse with what the Application's namespace may reference (``CredentialRules``)."""
    return parse(
        annotations,
        namespace=rules.secret_scope(namespace),
        operator_credentials=rules.allows_operator_kinds(namespace),
    )


def configuration_checks(
    config: AppConfig, live: Sequence[ImageRef], app: Application | None = None
) -> tuple[Problem, ...]:
    """Warnings about a valid configuration that will not do what its author expects."""
    found: list[Problem] = list(app_checks(config, app)) if app is not None else []
    for policy in config.images:
        image = policy.image
        label = f"image {image.alias or image.full_name!r}"
        if (
            policy.strategy.needs_metadata
            and policy.strategy.lists_tags
            and (image.registry_host in _RATE_LIMITED_HOSTS)
        ):
            found.append(
                _warning(
                    f"{label}: {policy.strategy.value} reads a manifest per tag, which counts "
                    "against Docker Hub's pull rate limit; prefer semver or alphabetical there"
                )
            )
        if live and not policy.force_update and live_entry(policy, live) is None:
            found.append(
                _warning(
                    f"{label} is not among the images Argo CD reports for this Application, so "
                    "it will not be updated; check the name or set force-update"
                )
            )
        if "*" in policy.tag_filter.ignore:
            found.append(
                _warning(f"{label}: ignore-tags '*' ignores every tag, updates are paused")
            )
    return tuple(found)


def app_checks(config: AppConfig, app: Application) -> tuple[Problem, ...]:
    """The checks that read more of the Application than our annotations (its sources, its
    ``image-updater.io/*`` opt-ins), made on every review, never remembered."""
    annotations = app.get("metadata", {}).get("annotations")
    opt_ins = opt_in_problems(annotations if isinstance(annotations, Mapping) else None)
    return git_checks(config, app) + opt_ins


def git_checks(config: AppConfig, app: Application) -> tuple[Problem, ...]:
    """Warnings about where a git write-back would go (depend on the source, not the
    annotations alone, so the webhook keeps them out of its per-annotation cache)."""
    if config.write_back.method != "git":
        return ()
    spec: Any = app.get("spec")
    if not isinstance(spec, Mapping):
        return ()
    # Before Argo CD reports the source's type there is no selected source yet; the
    # revision is the first source's all the same.
    sources = spec.get("sources")
    block = sources[0] if isinstance(sources, list) and sources else spec.get("source")
    source = select_source(app, config.write_back)
    if source is not None:
        block = source.get(app)
    if not isinstance(block, Mapping):
        return ()
    warning = revision_warning(cast(ApplicationSource, block), config.write_back)
    return (_warning(f"git write-back: {warning}"),) if warning else ()


def review(app: Application | Mapping[str, Any], rules: CredentialRules) -> Review | None:
    """Review an Application; None when it has no image-updater annotations at all."""
    annotations = our_annotations(app)
    if not annotations:
        return None
    metadata = app.get("metadata")
    namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else None
    parsed = parse_configuration(
        annotations, namespace if isinstance(namespace, str) and namespace else None, rules
    )
    if parsed.config is None:
        return Review(parsed)
    typed = cast(Application, app)
    return Review(parsed, configuration_checks(parsed.config, live_images(typed), typed))


def _warning(message: str) -> Problem:
    return Problem("", message, "warning")


_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


class _Recent(Generic[_K, _V]):
    """A bounded mapping that drops the least recently used entry first."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[_K, _V] = OrderedDict()

    def get(self, key: _K) -> _V | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: _K, value: _V) -> _V:
        self._entries[key] = value
        self._entries.move_to_end(key)
        if len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)


# (secret scope, env:/ext: allowed, our annotations sorted): every input of the parse.
_ParseKey = tuple[str | None, bool, tuple[tuple[str, str], ...]]


@dataclass(frozen=True, slots=True)
class Reviewed:
    """A review with what a cycle reads next from the same inputs: the live images and,
    aligned with the configuration's images (empty without one), the live entry each
    manages (:func:`~imageupdater.choice.live_entry`)."""

    review: Review
    live: tuple[ImageRef, ...]
    entries: tuple[ImageRef | None, ...]


class ReviewMemo:
    """:func:`review` and what follows from the same inputs (:class:`Reviewed`), remembered
    by those exact inputs, for a caller that reviews the same Applications again and again
    (the reconciler does every Application every cycle; its annotations rarely change).

    A review is a pure function of our annotations, of what the Application's namespace may
    reference (``CredentialRules``' two answers for it), of the live image texts
    (``status.summary.images``) and — for a git write-back only — of its sources
    (:func:`git_checks`). So the parse is kept per (secret scope, operator kinds,
    annotations), the checks and live entries per (that, live image texts), the live images
    per their texts; the git checks, which read the spec, are made on every call. Any input
    that differs is a different key: nothing remembered can be stale. What it hands out is
    immutable and shared between Applications. Bounded, least recently used first out.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self._parsed: _Recent[_ParseKey, ParseResult] = _Recent(max_entries)
        self._checked: _Recent[tuple[_ParseKey, tuple[str, ...]], Reviewed] = _Recent(max_entries)
        self._live: _Recent[tuple[str, ...], tuple[ImageRef, ...]] = _Recent(max_entries)
        self.hits = 0  # reviews answered without parsing or checking
        self.misses = 0

    def live_images(self, app: Application | Mapping[str, Any]) -> tuple[ImageRef, ...]:
        """The same as :func:`~imageupdater.application.live_images`."""
        texts = live_image_texts(app)
        if not texts:
            return ()
        found = self._live.get(texts)
        if found is None:
            found = self._live.put(texts, parse_live_images(texts))
        return found

    def review(self, app: Application | Mapping[str, Any], rules: CredentialRules) -> Review | None:
        """The same as :func:`review` (an equal value; its parts may be shared)."""
        reviewed = self.reviewed(app, rules)
        return reviewed.review if reviewed is not None else None

    def reviewed(
        self, app: Application | Mapping[str, Any], rules: CredentialRules
    ) -> Reviewed | None:
        """:meth:`review` with the live images and entries; None without our annotations."""
        annotations = our_annotations(app)
        if not annotations:
            return None
        metadata = app.get("metadata")
        namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else None
        namespace = namespace if isinstance(namespace, str) and namespace else None
        key: _ParseKey = (
            rules.secret_scope(namespace),
            rules.allows_operator_kinds(namespace),
            tuple(sorted(annotations.items())),
        )
        texts = live_image_texts(app)
        reviewed = self._checked.get((key, texts))
        if reviewed is None:
            self.misses += 1
            parsed = self._parsed.get(key)
            if parsed is None:
                parsed = self._parsed.put(key, parse_configuration(annotations, namespace, rules))
            live = self.live_images(app)
            config = parsed.config
            if config is None:
                reviewed = Reviewed(Review(parsed), live, ())
            else:
                reviewed = Reviewed(
                    Review(parsed, configuration_checks(config, live)),
                    live,
                    tuple(live_entry(policy, live) for policy in config.images),
                )
            self._checked.put((key, texts), reviewed)
        else:
            self.hits += 1
        config = reviewed.review.config
        if config is None:
            return reviewed
        # configuration_checks puts these first.
        where = app_checks(config, cast(Application, app))
        if not where:
            return reviewed
        found = reviewed.review
        return Reviewed(Review(found.parsed, where + found.checks), reviewed.live, reviewed.entries)
