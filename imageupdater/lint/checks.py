"""The review of one set of annotations as lint findings, template expressions allowed.

An Application's annotations get exactly the webhook's review. An ApplicationSet's
Application template may hold values its generators fill in (``{{ .values.image }}``,
``{{path}}``), which lint does not evaluate: such a value is skipped with a note, and so
that its absence cannot cause a false error elsewhere (an ``update-strategy`` decides which
``image-list`` constraints are valid), the review runs once per plausible stand-in for it
and reports only what every run finds.
"""

from __future__ import annotations

__all__ = ["check_annotations", "has_template"]

import itertools
from collections.abc import Iterator, Mapping

import yaml

from imageupdater.annotations import PREFIX, parse
from imageupdater.annotations.keys import split_key
from imageupdater.application import Application, live_images
from imageupdater.credentials import CredentialRules
from imageupdater.lint.findings import LintFinding
from imageupdater.lint.yamltext import template_expression
from imageupdater.problems import Problem
from imageupdater.review import configuration_checks, parse_configuration
from imageupdater.strategies import Strategy
from imageupdater.updatepolicy.holds import HOLD_ANNOTATION, HOLD_PREFIX, parse_holds
from imageupdater.updatepolicy.rollback import (
    LAST_WRITTEN_ANNOTATION,
    parse_last_written,
)

# Stand-ins for a templated value, per option: valid values between them covering what
# other checks depend on. None drops the annotation (nothing else depends on its value).
_STAND_INS: Mapping[str, tuple[str | None, ...]] = {
    "image-list": (None,),
    "update-strategy": tuple(strategy.value for strategy in Strategy),
    "force-update": ("false",),
    "allow-tags": ("any",),
    "tag-match": ("any",),
    "ignore-tags": ("x",),
    "pull-secret": (None,),
    "platforms": ("linux/amd64",),
    "helm.image-name": ("x",),
    "helm.image-tag": ("x",),
    "helm.image-spec": ("x",),
    "kustomize.image-name": ("x",),
    "plugin.image-name": ("X",),
    "plugin.image-tag": ("X",),
    "plugin.image-spec": ("X",),
    "write-back-method": ("argocd", "git"),
    "git-branch": ("main",),
    "git-repository": ("h:r",),
    "write-back-target": ("kustomization", "helmvalues", "x.yaml"),
    "git-pull-request": ("github",),
    "git-pull-request-labels": ("x",),
}
_IMAGE_LIST = PREFIX + "image-list"
# Past this many combinations the stand-ins are varied together rather than crossed: the
# checks relate a templated value to fixed ones, not two templated values to each other.
_MAX_COMBINATIONS = 64


def check_annotations(
    annotations: object,
    *,
    source: str,
    label: str,
    namespace: str | None,
    app: Application | None,
    rules: CredentialRules,
    templated: bool = False,
) -> list[LintFinding]:
    """Findings for ``metadata.annotations`` of ``app`` (``label`` names it in each line).

    ``templated``: the annotations come from an ApplicationSet template, so keys and values
    with template expressions are skipped with a note instead of checked. ``app`` None
    leaves out the checks that read the Application's spec.
    """
    if annotations is None:
        return []
    if not isinstance(annotations, Mapping):
        return [
            LintFinding(
                source,
                "metadata.annotations must be a mapping of strings to strings",
                app=label,
            )
        ]
    findings: list[LintFinding] = []
    texts: dict[str, str] = {}
    for key, value in annotations.items():
        key_text = str(key)
        if isinstance(value, str):
            texts[key_text] = value
            continue
        # Kubernetes rejects non-string annotation values; unquoted `true` or `1.2` is the
        # usual slip, so say how to write it and still check what it would have meant.
        shown = _yaml_scalar(value)
        if key_text.startswith(PREFIX):
            findings.append(
                LintFinding(
                    source,
                    "annotation values must be strings, but YAML read this one as "
                    f"{_describe(value, shown)}; put the value in quotes",
                    app=label,
                    key=key_text,
                )
            )
        texts[key_text] = shown
    unknown: dict[str, tuple[str | None, ...]] = {}
    if templated:
        texts, unknown, notes = _set_aside_templates(texts, source, label)
        findings.extend(notes)
    problems = _certain_problems(texts, unknown, namespace, app, rules)
    findings.extend(
        LintFinding(source, p.message, p.severity, app=label, key=p.key) for p in problems
    )
    findings.extend(_holds(texts, source, label))
    findings.extend(_rollbacks(texts, source, label))
    return findings


_STATE_TEXT = {
    "written": "written",
    "watching": "under its health watch",
    "verified": "verified Healthy through its rollback window",
    "unverified": "not verified (not Healthy when its rollback window ended)",
    "reverted": "reverted by someone else (held)",
    "rolled-back": "written back after its update failed (held)",
}


def _rollbacks(texts: Mapping[str, str], source: str, label: str) -> list[LintFinding]:
    """The rollback record: its mistakes, and a note per image on what the updater last
    wrote, so a reviewer sees why a lower version will not be put back. (The opt-ins'
    mistakes come with the configuration checks, as at ``kubectl apply``.)"""
    found: list[LintFinding] = []
    if LAST_WRITTEN_ANNOTATION not in texts:
        return found
    parsed = parse_last_written(texts)
    found.extend(
        LintFinding(source, p.message, p.severity, app=label, key=p.key) for p in parsed.problems
    )
    for name, record in parsed.record.images:
        since = f" from {record.previous}" if record.previous else ""
        found.append(
            LintFinding(
                source,
                f"last written: image {name!r} set to {record.version}{since}, "
                f"{_STATE_TEXT[record.state]}",
                "note",
                app=label,
                key=LAST_WRITTEN_ANNOTATION,
            )
        )
    return found


def _holds(texts: Mapping[str, str], source: str, label: str) -> list[LintFinding]:
    """Holds on the Application: their mistakes, and a note for each hold in force, so a
    reviewer sees why an image will not move."""
    if not any(key.startswith(HOLD_ANNOTATION) for key in texts):
        return []
    ours = {k: v for k, v in texts.items() if k.startswith(PREFIX)}
    config = parse(ours, operator_credentials=True).config if ours else None
    aliases = [p.alias for p in config.images] if config is not None else None
    parsed = parse_holds(texts, aliases)
    found = [
        LintFinding(source, p.message, p.severity, app=label, key=p.key) for p in parsed.problems
    ]
    holds = parsed.holds
    if holds.app is not None:
        found.append(
            LintFinding(
                source,
                f"held, no image is updated: {holds.app}",
                "note",
                app=label,
                key=HOLD_ANNOTATION,
            )
        )
    for alias, reason in holds.aliases:
        found.append(
            LintFinding(
                source,
                f"held, image {alias!r} is not updated: {reason}",
                "note",
                app=label,
                key=HOLD_PREFIX + alias,
            )
        )
    return found


def _set_aside_templates(
    texts: Mapping[str, str], source: str, label: str
) -> tuple[dict[str, str], dict[str, tuple[str | None, ...]], list[LintFinding]]:
    """Split off our annotations whose key or value holds a template expression."""
    kept: dict[str, str] = {}
    unknown: dict[str, tuple[str | None, ...]] = {}
    notes: list[LintFinding] = []
    for key, value in texts.items():
        if not key.startswith(PREFIX):
            kept[key] = value
            continue
        in_key = template_expression(key)
        if in_key is not None:
            notes.append(
                _skipped(source, label, key, f"the key has the template expression {in_key!r}")
            )
            # Any key may render to image-list: its absence proves nothing.
            unknown.setdefault(_IMAGE_LIST, (None,))
            continue
        in_value = template_expression(value)
        name = split_key(key[len(PREFIX) :])
        if in_value is None or name is None:
            # An unknown key is wrong whatever its value is.
            kept[key] = value
            continue
        notes.append(
            _skipped(source, label, key, f"the value has the template expression {in_value!r}")
        )
        unknown[key] = _STAND_INS.get(name.option, (None,))
    if _IMAGE_LIST in kept:
        unknown.pop(_IMAGE_LIST, None)
    return kept, unknown, notes


def _skipped(source: str, label: str, key: str, what: str) -> LintFinding:
    return LintFinding(
        source, f"skipped: {what}, which lint does not evaluate", "note", app=label, key=key
    )


def _certain_problems(
    texts: Mapping[str, str],
    unknown: Mapping[str, tuple[str | None, ...]],
    namespace: str | None,
    app: Application | None,
    rules: CredentialRules,
) -> tuple[Problem, ...]:
    """The problems found whatever the ``unknown`` annotations turn out to hold."""
    certain: list[Problem] | None = None
    for combination in _combinations(unknown):
        given = dict(texts)
        given.update({key: value for key, value in combination.items() if value is not None})
        dropped = {key for key, value in combination.items() if value is None}
        found = [p for p in _problems(given, namespace, app, rules) if p.key not in dropped]
        if certain is None:
            certain = found
        else:
            seen = set(found)
            certain = [p for p in certain if p in seen]
        if not certain:
            break
    return tuple(certain or ())


def _combinations(
    unknown: Mapping[str, tuple[str | None, ...]],
) -> Iterator[dict[str, str | None]]:
    keys = sorted(unknown)
    choices = [unknown[key] for key in keys]
    count = 1
    for options in choices:
        count *= len(options)
    if count <= _MAX_COMBINATIONS:
        for values in itertools.product(*choices):
            yield dict(zip(keys, values, strict=True))
        return
    for index in range(max(len(options) for options in choices)):
        yield {
            key: options[index % len(options)] for key, options in zip(keys, choices, strict=True)
        }


def _problems(
    texts: Mapping[str, str],
    namespace: str | None,
    app: Application | None,
    rules: CredentialRules,
) -> tuple[Problem, ...]:
    result = parse_configuration(texts, namespace, rules)
    problems = result.problems
    if result.config is not None:
        live = live_images(app) if app is not None else ()
        problems += configuration_checks(result.config, live, app)
    return problems


def _describe(value: object, shown: str) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {shown}"
    if isinstance(value, int | float):
        return f"the number {shown}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return f"the {type(value).__name__} {shown}"


def _yaml_scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    return yaml.safe_dump(value, default_flow_style=True).strip()


def has_template(tree: object) -> bool:
    """Whether any string in ``tree`` (read from YAML) holds a template expression."""
    pending = [tree]
    while pending:  # not recursive: YAML may nest as deep as the reader allowed
        value = pending.pop()
        if isinstance(value, str):
            if template_expression(value) is not None:
                return True
        elif isinstance(value, Mapping):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False
