"""The admission decision for Argo CD Applications: validate, warn, and plan overrides.

Independent of HTTP: ``Admission.validate`` and ``Admission.mutate`` take a decoded
``Request`` and return a ``Verdict``. Validation is the core review (``imageupdater.review``:
the parse and every check), so a denial or warning says exactly what ``image-updater lint``
and the reconciler's Events say; mutation makes the reconciler's choices
(``imageupdater.choice``), so what it sets is what the next cycle finds current.

Two rules keep the webhook from getting in anyone's way:

* An UPDATE whose image-updater annotations did not change is never denied: Argo CD itself
  writes Application status through the main resource (the CRD has no status subresource),
  and those writes must not fail because of a mistake made earlier. The problems still come
  back as warnings.
* Mutation never waits on a slow registry past ``resolve_timeout``: the Application is
  admitted unchanged with a warning naming the image, the lookups finish in the background
  (filling the shared caches), and the reconciler sets the override later.
"""

from __future__ import annotations

__all__ = ["Admission", "AdmissionSettings", "ResolveFn"]

import asyncio
import dataclasses
import datetime as dt
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar, cast

from imageupdater import annotations as annotation_parser
from imageupdater import review
from imageupdater.application import Application, SourceRef, live_images, select_source
from imageupdater.choice import (
    ChosenImage,
    RunningVersion,
    chosen_image,
    live_entry,
    outdated_choices,
    running_version,
)
from imageupdater.credentials import CredentialRules
from imageupdater.errors import ImageUpdaterError
from imageupdater.imageupdaters import parse as parse_image_updater
from imageupdater.plan import Plan, current_override, json_patch, plan_overrides
from imageupdater.policy import AppConfig, ImagePolicy
from imageupdater.problems import Problem
from imageupdater.resolver import Resolution
from imageupdater.updatepolicy import PolicyFilter, PolicySet
from imageupdater.updatepolicy.holds import parse_holds
from imageupdater.updatepolicy.rollback import (
    LAST_WRITTEN_ANNOTATION,
    gate_window,
    parse_last_written,
    record_changes,
    record_key,
)
from webhook.policies import PolicyWatch, application_findings, is_policy, policy_verdict
from webhook.review import Request, Verdict
from webhook.windows import SyncWindowGate

log = logging.getLogger("image_updater.webhook")


class ResolveFn(Protocol):
    """The resolver: the tag ``policy`` should run, judged by ``policies`` when given."""

    def __call__(
        self, policy: ImagePolicy, current: str | None, /, policies: PolicyFilter | None = ...
    ) -> Awaitable[Resolution]: ...


# Argo CD rewrites every Application's status through the main resource, so the same
# annotation sets come back over and over; parsing them is most of a review's CPU
# (bench/results_webhook.md). Parsing and the risk checks are pure, so results are kept,
# bounded, per (annotations, secret scope) and per live-image list.
PARSE_CACHE_SIZE = 4096
_K = TypeVar("_K")
_V = TypeVar("_V")
# (secret scope, env:/ext: allowed, our annotations)
_ParseKey = tuple[str | None, bool, tuple[tuple[str, str], ...]]
# (the parse entry's serial, the live images): the serial stands for its _ParseKey, which is
# not hashed a second time; a serial is never reused, so an evicted entry's risks only age out.
_RiskKey = tuple[int, tuple[str, ...]]
# Time kept back from the resolve deadline for building and sending the answer, and for
# reviews that waited behind others (TLS handshakes in a burst) before reaching us.
_ANSWER_MARGIN = 0.05
MutationOutcome = Literal["resolved", "unchanged", "deadline", "error", "skipped"]


@dataclass(frozen=True, slots=True)
class AdmissionSettings:
    resolve_timeout: float = 2.0
    credentials: CredentialRules = field(default_factory=CredentialRules)


@dataclass(slots=True)
class Decision:
    """A verdict plus what the metrics want to know about how it was reached."""

    verdict: Verdict
    outcome: str = "allowed"
    denial_reason: str | None = None
    mutations: dict[str, int] = field(default_factory=dict)
    # What a denial's log line names: every problem, one line each (the answer may shorten).
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Parsed:
    """A parse, with the text every verdict on it says formatted once."""

    serial: int
    result: annotation_parser.ParseResult
    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    denial: str  # the message a denial carries; "" without errors
    stored: tuple[str, ...]  # the errors as warnings, for a write that leaves them as they were

    @classmethod
    def of(cls, serial: int, result: annotation_parser.ParseResult) -> _Parsed:
        errors = result.errors
        denial = ""
        if errors:
            count = len(errors)
            denial = (
                f"{count} problem{'s' if count > 1 else ''} in image-updater annotations:\n"
                + _problem_lines(errors)
            )
        return cls(
            serial,
            result,
            tuple(str(p) for p in errors),
            tuple(str(p) for p in result.warnings),
            denial,
            tuple(f"image-updater annotations have errors: {p}" for p in errors),
        )


def _policy_decision(request: Request) -> Decision:
    verdict, errors = policy_verdict(request)
    if verdict.allowed:
        return Decision(verdict)
    return Decision(verdict, outcome="denied", denial_reason="invalid-policy", problems=errors)


def _policy_denial(refused: Sequence[str]) -> str:
    if not refused:
        return ""
    count = len(refused)
    lines = [f"  {line}" for line in refused[:MAX_DENIAL_LINES]]
    if count > MAX_DENIAL_LINES:
        lines.append(f"  … and {count - MAX_DENIAL_LINES} more")
    return f"{count} update-policy violation{'s' if count > 1 else ''}:\n" + "\n".join(lines)


def _same_spec(request: Request) -> bool:
    old = request.old_object.get("spec") if request.old_object is not None else None
    new = request.object.get("spec") if request.object is not None else None
    return old == new


def _is_image_updater(request: Request) -> bool:
    return request.group == "argocd-image-updater.argoproj.io" and request.kind == "ImageUpdater"


def _is_application(request: Request) -> bool:
    return request.group == "argoproj.io" and request.kind == "Application"


def _annotations(obj: Any) -> Any:
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    return metadata.get("annotations") if isinstance(metadata, dict) else None


def _same_annotations(request: Request, ours: dict[str, str]) -> bool:
    """Whether the old object has the image-updater annotations ``ours`` (the new one's)."""
    # Argo CD's status writes leave every annotation as it was: one dict comparison in C,
    # before filtering the old object's annotations as ``our_annotations`` does.
    new = _annotations(request.object)
    if new is not None and new == _annotations(request.old_object):
        return True
    return review.our_annotations(request.old_object) == ours


def _recall(cache: OrderedDict[_K, _V], key: _K) -> _V | None:
    value = cache.get(key)
    if value is not None:
        cache.move_to_end(key)
    return value


def _remember(cache: OrderedDict[_K, _V], key: _K, value: _V) -> None:
    cache[key] = value
    if len(cache) > PARSE_CACHE_SIZE:
        cache.popitem(last=False)


# A denial is read in a terminal; past this many lines the rest is summarised (lint lists all).
MAX_DENIAL_LINES = 20


def _problem_lines(problems: Sequence[Problem]) -> str:
    lines = [f"  {p}" for p in problems[:MAX_DENIAL_LINES]]
    if len(problems) > MAX_DENIAL_LINES:
        lines.append(
            f"  … and {len(problems) - MAX_DENIAL_LINES} more (image-updater lint lists them all)"
        )
    return "\n".join(lines)


class Admission:
    """Validation and mutation of Applications, sharing one resolver and its caches."""

    def __init__(
        self,
        settings: AdmissionSettings,
        resolve: ResolveFn | None = None,
        *,
        windows: SyncWindowGate | None = None,
        policies: PolicyWatch | None = None,
    ) -> None:
        self.settings = settings
        self._resolve = resolve
        # Without API access (tests, a webhook run without a kubeconfig) there are no
        # AppProjects to read; in a cluster the gate is always there.
        self._windows = windows
        # Without API access there are no stored policies; in a cluster the watch is there.
        self._policies = policies
        self._background: set[asyncio.Task[Resolution]] = set()
        self._parsed: OrderedDict[_ParseKey, _Parsed] = OrderedDict()
        self._risks: OrderedDict[_RiskKey, tuple[str, ...]] = OrderedDict()
        self._serials = 0

    def _parse(self, annotations: dict[str, str], request: Request) -> _Parsed:
        rules = self.settings.credentials
        scope = rules.secret_scope(request.namespace)
        operator_kinds = rules.allows_operator_kinds(request.namespace)
        key: _ParseKey = (scope, operator_kinds, tuple(sorted(annotations.items())))
        parsed = _recall(self._parsed, key)
        if parsed is None:
            self._serials += 1
            result = review.parse_configuration(annotations, request.namespace, rules)
            parsed = _Parsed.of(self._serials, result)
            _remember(self._parsed, key, parsed)
        return parsed

    def _checks(self, parsed: _Parsed, config: AppConfig, app: Application) -> list[str]:
        """The review's checks of a valid configuration, kept per live-image list."""
        status: Any = app.get("status")
        summary = status.get("summary") if isinstance(status, dict) else None
        live = (summary.get("images") if isinstance(summary, dict) else None) or []
        where = [str(p) for p in review.app_checks(config, app)]
        if not isinstance(live, list) or not all(isinstance(i, str) for i in live):
            return [str(p) for p in review.configuration_checks(config, live_images(app))] + where
        risk_key: _RiskKey = (parsed.serial, tuple(live))
        warnings = _recall(self._risks, risk_key)
        if warnings is None:
            checks = review.configuration_checks(config, live_images(app))
            warnings = tuple(str(p) for p in checks)
            _remember(self._risks, risk_key, warnings)
        return list(warnings) + where

    # -- validation ------------------------------------------------------------------------

    def validate(self, request: Request) -> Decision:
        if request.operation not in ("CREATE", "UPDATE"):
            return Decision(Verdict())
        if is_policy(request):
            return _policy_decision(request)
        if _is_image_updater(request):
            return self._image_updater_decision(request)
        if not _is_application(request):
            return Decision(Verdict())
        new = review.our_annotations(request.object)
        if not new:
            return Decision(Verdict())
        parsed = self._parse(new, request)
        config = parsed.result.config
        warnings = list(parsed.warnings)
        if config is not None:
            warnings += self._checks(parsed, config, cast(Application, request.object))
        refused, advised = self._policy_findings(request, config)
        warnings += advised
        if not parsed.errors and not refused:
            return Decision(Verdict(warnings=warnings))
        if (
            request.operation == "UPDATE"
            and _same_annotations(request, new)
            and (not refused or _same_spec(request))
        ):
            # Never block writes (Argo CD's own status updates included) over a mistake
            # that is already stored, or a policy written after the Application: report
            # it, let the write through.
            stored = [*parsed.stored, *(f"update policy not met: {line}" for line in refused)]
            return Decision(Verdict(warnings=[*stored, *warnings]), outcome="allowed-with-errors")
        message = "\n".join(part for part in (parsed.denial, _policy_denial(refused)) if part)
        return Decision(
            Verdict(allowed=False, message=message, code=422, warnings=warnings),
            outcome="denied",
            denial_reason="invalid-annotations" if parsed.errors else "update-policy",
            problems=(*parsed.errors, *refused),
        )

    def _image_updater_decision(self, request: Request) -> Decision:
        """An ImageUpdater resource, read by the reader ``lint`` and ``migrate`` use."""
        parsed = parse_image_updater(request.object, rules=self.settings.credentials)
        warnings = [str(p) for p in parsed.warnings]
        if not parsed.errors:
            return Decision(Verdict(warnings=warnings))
        count = len(parsed.errors)
        message = (
            f"{count} problem{'s' if count > 1 else ''} in the ImageUpdater resource:\n"
            + _problem_lines(parsed.errors)
        )
        return Decision(
            Verdict(allowed=False, message=message, code=422, warnings=warnings),
            outcome="denied",
            denial_reason="invalid-imageupdater",
            problems=tuple(str(p) for p in parsed.errors),
        )

    def _policy_findings(
        self, request: Request, config: AppConfig | None
    ) -> tuple[list[str], list[str]]:
        """What the matching update policies refuse (Enforce) and warn about (Warn)."""
        if self._policies is None or request.object is None:
            return [], []
        findings = application_findings(self._policies.snapshot, request.object, config)
        refused = [f.text for f in findings if f.severity == "error"]
        advised = [f.text for f in findings if f.severity == "warning"]
        return refused, advised

    # -- mutation --------------------------------------------------------------------------

    async def mutate(self, request: Request, *, received_at: float | None = None) -> Decision:
        """Plan overrides; ``received_at`` (loop time) starts the resolution deadline's clock
        when the review arrived rather than when planning began."""
        if (
            self._resolve is None
            or not _is_application(request)
            or request.operation not in ("CREATE", "UPDATE")
            or request.object is None
        ):
            return Decision(Verdict())
        new = review.our_annotations(request.object)
        if not new:
            return Decision(Verdict())
        if request.operation == "UPDATE" and _same_annotations(request, new):
            return Decision(Verdict(), outcome="skipped")
        config = self._parse(new, request).result.config
        if config is None or config.write_back.method != "argocd":
            # Invalid annotations are the validating webhook's to deny; git write-back keeps
            # git as the source of truth, so nothing is set in the Application.
            return Decision(Verdict(), outcome="skipped")
        app = cast(Application, request.object)
        source = select_source(app, config.write_back) or _kind_from_targets(app, config)
        if source is None:
            return Decision(
                Verdict(
                    warnings=[
                        "image-updater: the source type (Helm, Kustomize or plugin) is not known "
                        "yet, so image overrides will be set once Argo CD reports it"
                    ]
                ),
                outcome="skipped",
            )
        # A held Application or image keeps what it has, whatever the annotations say.
        holds = parse_holds(_annotations(app), [p.alias for p in config.images]).holds
        if holds.app is not None:
            note = f"image-updater: the Application is held ({holds.app}); no override is set"
            return Decision(Verdict(warnings=[note]), outcome="skipped")
        free = [p for p in config.images if holds.reason(p.alias) is None]
        notes = [
            f"image-updater: image {p.alias!r} is held ({holds.reason(p.alias)}); "
            "its override is not set"
            for p in config.images
            if holds.reason(p.alias) is not None
        ]
        if not free:
            return Decision(Verdict(warnings=notes), outcome="skipped")
        decision = await self._plan(app, source, free, received_at)
        if notes:
            verdict = decision.verdict
            decision.verdict = Verdict(
                allowed=verdict.allowed,
                message=verdict.message,
                reason=verdict.reason,
                code=verdict.code,
                warnings=[*notes, *verdict.warnings],
                patch=verdict.patch,
            )
        return decision

    async def _plan(
        self,
        app: Application,
        source: SourceRef,
        policies: Sequence[ImagePolicy],
        received_at: float | None,
    ) -> Decision:
        assert self._resolve is not None
        current_source = source.get(app)
        live = live_images(app)
        tasks: dict[asyncio.Task[Resolution], ImagePolicy] = {}
        running = {}
        # The update policies filter the candidates here as in the reconciler, so the first
        # override already keeps to maxBump, minimumAge and the update windows (a semver
        # choice is never taken back by a later cycle).
        guard = self._policies.snapshot.policy_set(app) if self._policies is not None else None
        staged = [p for p in guard.policies if p.rollout is not None] if guard else []
        if staged:
            # Who is in a first wave, and whether a version has soaked, is known only from
            # every Application the policy matches: the reconciler's to judge, not a review's.
            names = ", ".join(str(p.ref) for p in staged)
            return Decision(
                Verdict(
                    warnings=[
                        f"image updates of this Application go through the rollout waves of "
                        f"update policy {names}; admitted without overrides, the reconciler "
                        "sets them"
                    ]
                ),
                outcome="unchanged",
            )
        now = dt.datetime.now(dt.UTC)
        for policy in policies:
            override = current_override(current_source, source.kind, policy)
            # What runs now, read exactly as the reconciler reads it.
            running[id(policy)] = running_version(policy, override, live_entry(policy, live))
            current = running[id(policy)]
            tag = current.tag if current is not None else None
            lookup = (
                self._resolve(policy, tag)
                if guard is None
                else self._resolve(policy, tag, PolicyFilter(guard, current, now))
            )
            tasks[asyncio.ensure_future(lookup)] = policy
        loop = asyncio.get_running_loop()
        started = received_at if received_at is not None else loop.time()
        # Leave room to encode and send the answer inside the promised deadline.
        budget = self.settings.resolve_timeout - (loop.time() - started) - _ANSWER_MARGIN
        done, pending = await asyncio.wait(tasks, timeout=max(budget, 0.0))
        warnings: list[str] = []
        counts = {"resolved": 0, "deadline": 0, "error": 0}
        for task in pending:
            # Let slow lookups finish in the background: they warm the shared caches for the
            # reconciler and the next apply. Each is bounded by the registry client's timeouts.
            self._background.add(task)
            task.add_done_callback(self._forget)
            policy = tasks[task]
            counts["deadline"] += 1
            warnings.append(
                f"image {policy.image.full_name!r} was not resolved within "
                f"{self.settings.resolve_timeout:g}s; admitted without its override, "
                "the reconciler will set it"
            )
        chosen: list[tuple[ImagePolicy, ChosenImage]] = []
        for task in done:
            policy = tasks[task]
            exc = task.exception()
            if exc is not None:
                counts["error"] += 1
                # The Application's author reads this: no connection or credential detail.
                # The operator's log gets what the warning leaves out.
                if isinstance(exc, ImageUpdaterError):
                    reason = exc.public_message
                    if reason != str(exc):
                        log.info("resolving %s: %s", policy.image.full_name, exc)
                else:
                    reason = type(exc).__name__
                    log.warning(
                        "resolving %s failed unexpectedly", policy.image.full_name, exc_info=exc
                    )
                warnings.append(
                    f"image {policy.image.full_name!r} could not be resolved ({reason}); "
                    "admitted without its override, the reconciler will retry"
                )
                continue
            resolution = task.result()
            if resolution.deferral is not None:
                label = policy.image.alias or policy.image.full_name
                warnings.append(resolution.deferral.describe(label))
            choice = chosen_image(
                policy, resolution.tag, resolution.digest, pin_digest=resolution.pin_digest
            )
            if choice is None:
                continue
            counts["resolved"] += 1
            chosen.append((policy, choice))
        order = {id(p): i for i, p in enumerate(policies)}
        chosen.sort(key=lambda pair: order.get(id(pair[0]), 0))
        # The reconciler's decision: write only when some image does not run its choice.
        outdated = outdated_choices((running[id(policy)], c) for policy, c in chosen)
        plan = _recorded(app, plan_overrides(app, source, outdated), policies, running, guard, now)
        patch = json_patch(app, plan)
        if patch and self._windows is not None:
            held = await self._windows.holds(app)
            if held is not None:
                warnings.append(held)
                return Decision(Verdict(warnings=warnings), outcome="deferred", mutations=counts)
        for change in plan.changes:
            warnings.append(
                f"image-updater set {change.image} to {change.new}"
                + (f" (was {change.old})" if change.old else "")
            )
        outcome = "mutated" if patch else "unchanged"
        return Decision(Verdict(warnings=warnings, patch=patch), outcome=outcome, mutations=counts)

    def _forget(self, task: asyncio.Task[Resolution]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("background resolution failed: %s", task.exception())

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)


def _recorded(
    app: Application,
    plan: Plan,
    policies: Sequence[ImagePolicy],
    running: Mapping[int, RunningVersion | None],
    guard: PolicySet | None,
    now: dt.datetime,
) -> Plan:
    """``plan`` with the record of what it writes (``updatepolicy.rollback``), exactly as the
    reconciler records its own writes: an override set here and lowered later by a human is
    a revert the reconciler respects, not a version it puts back."""
    if not plan.changes:
        return plan
    annotations = _annotations(app)
    known = annotations if isinstance(annotations, Mapping) else {}
    records = record_changes(
        parse_last_written(known).record,
        plan.changes,
        {record_key(p): running.get(id(p)) for p in policies},
        now,
        gate_window(known, guard.policies if guard is not None else ()),
        seen=True,
    )
    return dataclasses.replace(plan, annotations=((LAST_WRITTEN_ANNOTATION, records.annotation()),))


def _kind_from_targets(app: Application, config: AppConfig) -> SourceRef | None:
    """On create Argo CD has not reported a type yet; the targets the user named tell it.

    Only for single-source Applications: with several sources the target does not say which.
    """
    if app.get("spec", {}).get("sources"):
        return None
    if all(p.kustomize is not None for p in config.images):
        return SourceRef("Kustomize", None)
    if all(p.helm is not None for p in config.images):
        return SourceRef("Helm", None)
    if all(p.plugin is not None for p in config.images):
        return SourceRef("Plugin", None)
    return None
