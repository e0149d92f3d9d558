"""``parse_policy``: one ``ClusterImageUpdatePolicy`` or ``ImageUpdatePolicy`` object, read
strictly, with every problem at once.

Owns the resource's outer shape (``apiVersion``, ``kind``, ``metadata``, ``spec``), the
``action`` and the ``match`` criteria; the rules are ``parse_rules``'. Each problem is keyed by
the field path (``spec.rules.maxBump``, ``spec.match.names[2]``) and names the value found and
what is accepted: the admission webhook denies with these words and ``image-updater lint``
prints them. Never raises, whatever the input.
"""

from __future__ import annotations

__all__ = ["parse_policy"]

from collections.abc import Mapping
from typing import Any

from imageupdater.updatepolicy.fields import SPEC_FIELDS, TOP_FIELDS, match_fields
from imageupdater.updatepolicy.globs import Glob
from imageupdater.updatepolicy.model import (
    API_VERSION,
    CLUSTER_KIND,
    KINDS,
    NAMESPACED_KIND,
    Action,
    Match,
    ParsedPolicy,
    Policy,
    PolicyKind,
    PolicyRef,
)
from imageupdater.updatepolicy.parse_rollout import parse_rollout
from imageupdater.updatepolicy.parse_rules import parse_rules
from imageupdater.updatepolicy.reading import (
    Collector,
    child,
    describe,
    glob_list,
    mapping,
    unknown_fields,
    value_shown,
)
from imageupdater.updatepolicy.selectors import LabelSelector, parse_selector

_ACTIONS = tuple(a.value for a in Action)
# The namespace a namespaced object without one is created in (kubectl without -n).
_DEFAULT_NAMESPACE = "default"
_NAMESPACED_ONLY_HERE = (
    "an ImageUpdatePolicy applies only to Applications in its own namespace, so it takes no "
    "{field}; use a ClusterImageUpdatePolicy to select namespaces"
)


def parse_policy(obj: Mapping[str, Any] | object) -> ParsedPolicy:
    """Read one policy object (as decoded from JSON or YAML)."""
    out = Collector()
    if not isinstance(obj, Mapping):
        out.error("", f"a policy must be an object, not {describe(obj)}")
        return ParsedPolicy(None, tuple(out.problems))
    kind = _kind(obj, out)
    api_version = obj.get("apiVersion")
    if api_version != API_VERSION:
        out.error(
            "apiVersion", f"{value_shown(api_version)} is not accepted; accepted: {API_VERSION}"
        )
    unknown_fields(obj, "", TOP_FIELDS, out)
    # With an unknown kind the rest is still read, as the more permissive cluster kind.
    ref = _ref(obj.get("metadata"), kind or CLUSTER_KIND, out)
    spec = obj.get("spec")
    action, match, rules, rollout = Action.ENFORCE, None, None, None
    if spec is None:
        out.error("spec", "is missing; a policy needs a spec with its rules")
    elif (raw_spec := mapping(spec, "spec", out)) is not None:
        unknown_fields(raw_spec, "spec", SPEC_FIELDS, out)
        action = _action(raw_spec.get("action"), out)
        match = _match(raw_spec.get("match"), kind or CLUSTER_KIND, out)
        rules = parse_rules(raw_spec.get("rules"), "spec.rules", out)
        if raw_spec.get("rollout") is not None:
            rollout = parse_rollout(raw_spec["rollout"], "spec.rollout", out)
    problems = tuple(out.problems)
    if out.has_errors or kind is None or ref is None or match is None or rules is None:
        return ParsedPolicy(None, problems, ref if kind is not None else None)
    generation = _generation(obj.get("metadata"))
    policy = Policy(ref, action, match, rules, generation, rollout)
    return ParsedPolicy(policy, problems, ref)


def _kind(obj: Mapping[str, Any], out: Collector) -> PolicyKind | None:
    kind = obj.get("kind")
    for known in KINDS:
        if kind == known:
            return known
    out.error("kind", f"{value_shown(kind)} is not accepted; accepted: {', '.join(KINDS)}")
    return None


def _ref(metadata: object, kind: PolicyKind, out: Collector) -> PolicyRef | None:
    if metadata is None:
        out.error("metadata", "is missing; a policy needs metadata.name")
        return None
    raw = mapping(metadata, "metadata", out)
    if raw is None:
        return None
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        out.error("metadata.name", f"must be a non-empty string, not {describe(name)}")
        return None
    if kind == CLUSTER_KIND:
        if raw.get("namespace") not in (None, ""):
            out.warning(
                "metadata.namespace",
                "a ClusterImageUpdatePolicy is cluster-scoped; its namespace is ignored",
            )
        return PolicyRef(kind, name)
    namespace = raw.get("namespace")
    if namespace in (None, ""):
        return PolicyRef(kind, name, _DEFAULT_NAMESPACE)
    if not isinstance(namespace, str):
        out.error("metadata.namespace", f"must be a string, not {describe(namespace)}")
        return None
    return PolicyRef(kind, name, namespace)


def _generation(metadata: object) -> int | None:
    generation = metadata.get("generation") if isinstance(metadata, Mapping) else None
    if isinstance(generation, int) and not isinstance(generation, bool):
        return generation
    return None


def _action(value: object, out: Collector) -> Action:
    if value is None:
        return Action.ENFORCE
    if isinstance(value, str) and value in _ACTIONS:
        return Action(value)
    hint = ""
    if isinstance(value, str):
        folded = [a for a in _ACTIONS if a.lower() == value.lower()]
        hint = f" (did you mean {folded[0]!r}?)" if folded else ""
    out.error(
        "spec.action",
        f"{value_shown(value)} is not accepted{hint}; accepted: {', '.join(_ACTIONS)} "
        "(Enforce when left out)",
    )
    return Action.ENFORCE


def _match(value: object, kind: PolicyKind, out: Collector) -> Match | None:
    path = "spec.match"
    if value is None:
        return Match()
    raw = mapping(value, path, out)
    if raw is None:
        return None
    known = match_fields(kind)

    def explain(field: str) -> str | None:
        if kind == NAMESPACED_KIND and field in ("namespaces", "namespaceSelector"):
            return _NAMESPACED_ONLY_HERE.format(field=field)
        return None

    unknown_fields(raw, path, known, out, explain=explain)
    errors = len(out.problems)

    def globs(field: str, what: str) -> tuple[Glob, ...]:
        if field not in known or field not in raw:
            return ()
        return glob_list(raw[field], child(path, field), out, what=what) or ()

    def selector(field: str) -> LabelSelector | None:
        if field not in known or raw.get(field) is None:
            return None
        return parse_selector(raw[field], child(path, field), out)

    match = Match(
        namespaces=globs("namespaces", "namespace"),
        namespace_selector=selector("namespaceSelector"),
        application_selector=selector("applicationSelector"),
        projects=globs("projects", "AppProject"),
        names=globs("names", "Application name"),
    )
    return None if any(p.severity == "error" for p in out.problems[errors:]) else match
