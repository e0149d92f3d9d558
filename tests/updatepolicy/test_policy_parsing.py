"""Reading policy resources strictly: every mistake at once, keyed by its field path, naming
the value and what is accepted."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imageupdater.strategies import Strategy
from imageupdater.updatepolicy import Action, Bump, PolicyRef, parse_policy

from .builders import FULL_RULES, full_resource, resource


def errors(obj: Any) -> dict[str, str]:
    parsed = parse_policy(obj)
    return {p.key: p.message for p in parsed.errors}


def test_the_fullest_cluster_policy_parses_into_every_field() -> None:
    parsed = parse_policy(full_resource())
    assert parsed.problems == ()
    assert parsed.policy is not None
    policy = parsed.policy
    assert policy.ref == PolicyRef("ClusterImageUpdatePolicy", "p")
    assert policy.action is Action.WARN
    rules = policy.rules
    assert [g.text for g in rules.allowed_registries or ()] == ["ghcr.io", "*.example.com"]
    assert [g.text for g in rules.denied_tags] == ["latest", "*-rc*"]
    assert rules.allowed_strategies == (Strategy.SEMVER, Strategy.DIGEST)
    assert rules.required_constraint is not None and rules.required_constraint.text == "<3"
    assert rules.max_bump is Bump.MINOR
    assert rules.minimum_age == timedelta(hours=24)
    assert rules.require_digest is True
    assert rules.rollback_window == timedelta(minutes=15)
    (window,) = rules.update_windows or ()
    assert (window.schedule.text, window.duration, window.time_zone.key) == (
        "0 9 * * 1-5",
        timedelta(hours=8),
        "Europe/Berlin",
    )
    match = policy.match
    assert [g.text for g in match.namespaces] == ["team-*"]
    assert match.namespace_selector is not None and match.application_selector is not None
    assert [g.text for g in match.projects] == ["default", "prod-*"]
    rollout = policy.rollout
    assert rollout is not None and rollout.soak == timedelta(hours=1)
    assert rollout.selector is not None and rollout.selector.matches({"wave": "canary"})
    assert (rollout.count, rollout.percent) == (None, None)


def test_a_namespaced_policy_is_named_by_its_namespace_and_defaults_to_default() -> None:
    parsed = parse_policy(full_resource("ImageUpdatePolicy"))
    assert parsed.policy is not None
    assert str(parsed.policy.ref) == "ImageUpdatePolicy/team-a/p"
    bare = parse_policy(resource({}, kind="ImageUpdatePolicy"))
    assert bare.ref == PolicyRef("ImageUpdatePolicy", "p", "default")


def test_the_action_defaults_to_enforce_and_empty_rules_are_a_warning() -> None:
    parsed = parse_policy(resource({}))
    assert parsed.policy is not None and parsed.policy.action is Action.ENFORCE
    assert [(p.key, p.severity) for p in parsed.problems] == [("spec.rules", "warning")]
    assert "restricts nothing" in parsed.problems[0].message


def test_docker_hub_spellings_are_normalised_like_image_references() -> None:
    parsed = parse_policy(
        resource(
            {
                "allowedRegistries": ["index.docker.io", "GHCR.io"],
                "allowedRepositories": ["nginx", "index.docker.io/acme/*", "docker.io/bitnami/x"],
            }
        )
    )
    assert parsed.policy is not None, parsed.problems
    rules = parsed.policy.rules
    assert [g.text for g in rules.allowed_registries or ()] == ["docker.io", "ghcr.io"]
    assert [g.text for g in rules.allowed_repositories or ()] == [
        "docker.io/library/nginx",
        "docker.io/acme/*",
        "docker.io/bitnami/x",
    ]


TOP_MISTAKES = [
    pytest.param({"kind": "ImagePolicy"}, "kind", "'ImagePolicy' is not accepted", id="kind"),
    pytest.param({"apiVersion": "v1"}, "apiVersion", "image-updater.io/v1alpha1", id="api"),
    pytest.param({"metadata": {}}, "metadata.name", "non-empty string", id="no-name"),
    pytest.param({"spec": None}, "spec", "is missing", id="no-spec"),
    pytest.param({"spec": []}, "spec", "must be an object, not a list", id="spec-list"),
    pytest.param({"extra": 1}, "extra", "unknown field 'extra'", id="top-unknown"),
]


@pytest.mark.parametrize(("change", "path", "words"), TOP_MISTAKES)
def test_each_mistake_in_the_resource_is_an_error_at_its_field(
    change: dict[str, Any], path: str, words: str
) -> None:
    obj = resource({})
    for key, value in change.items():
        if value is None:
            obj.pop(key)
        else:
            obj[key] = value
    found = errors(obj)
    assert words in found[path], found
    assert parse_policy(obj).policy is None


SPEC_MISTAKES = [
    pytest.param({"action": "enforce"}, "action", "did you mean 'Enforce'", id="action-case"),
    pytest.param({"action": "Deny"}, "action", "accepted: Enforce, Warn, Audit", id="action"),
    pytest.param({"actoin": "Warn"}, "actoin", "did you mean 'action'", id="spec-typo"),
    pytest.param({"rules": []}, "rules", "must be an object, not a list", id="rules-list"),
    pytest.param({"match": "all"}, "match", "must be an object", id="match-string"),
]


@pytest.mark.parametrize(("spec", "path", "words"), SPEC_MISTAKES)
def test_each_mistake_in_the_spec_is_an_error_at_its_field(
    spec: dict[str, Any], path: str, words: str
) -> None:
    obj = resource({})
    obj["spec"].update(spec)
    found = errors(obj)
    assert words in found[f"spec.{path}"], found


RULE_MISTAKES = [
    pytest.param({"maxbump": "minor"}, "maxbump", "did you mean 'maxBump'", id="rule-case"),
    pytest.param(
        {"allowedRegistry": ["x"]}, "allowedRegistry", "'allowedRegistries'", id="rule-typo"
    ),
    pytest.param({"bogus": 1}, "bogus", "accepted in spec.rules are allowedRegistries", id="rule"),
    pytest.param({"allowedRegistries": ["[a-"]}, "allowedRegistries[0]", "never closed", id="glob"),
    pytest.param({"allowedRegistries": []}, "allowedRegistries", "allows no registry", id="none"),
    pytest.param(
        {"allowedRegistries": "ghcr.io"},
        "allowedRegistries",
        "must be a list of registry host globs, not the string 'ghcr.io'",
        id="registries-string",
    ),
    pytest.param(
        {"allowedRegistries": ["ghcr.io/acme"]}, "allowedRegistries[0]", "never a path", id="path"
    ),
    pytest.param(
        {"allowedRepositories": ["acme/*"]}, "allowedRepositories[0]", "no registry host", id="host"
    ),
    pytest.param(
        {"allowedRepositories": ["ghcr.io/acme/web:1.0"]},
        "allowedRepositories[0]",
        "without alias, tag or digest",
        id="repository-tag",
    ),
    pytest.param(
        {"allowedRepositories": ["ghcr.io"]},
        "allowedRepositories[0]",
        "looks like a registry host",
        id="repository-host",
    ),
    pytest.param({"deniedTags": ["ok", ""]}, "deniedTags[1]", "not an empty string", id="tag"),
    pytest.param(
        {"allowedStrategies": ["latest"]},
        "allowedStrategies[0]",
        "deprecated name of 'newest-build'",
        id="strategy-alias",
    ),
    pytest.param(
        {"allowedStrategies": ["Semver"]}, "allowedStrategies[0]", "'semver'?", id="strategy-case"
    ),
    pytest.param(
        {"allowedStrategies": ["newest"]},
        "allowedStrategies[0]",
        "accepted: semver, newest-build, alphabetical, digest",
        id="strategy-unknown",
    ),
    pytest.param({"allowedStrategies": []}, "allowedStrategies", "no update strategy", id="no-s"),
    pytest.param(
        {"requiredConstraint": ">>1"},
        "requiredConstraint",
        "invalid version constraint '>>1'",
        id="constraint",
    ),
    pytest.param({"requiredConstraint": ""}, "requiredConstraint", "semver", id="constraint-empty"),
    pytest.param(
        {"maxBump": "huge"}, "maxBump", "'huge' is not accepted; accepted: patch, minor", id="bump"
    ),
    pytest.param(
        {"maxBump": "minor", "allowedStrategies": ["digest", "newest-build"]},
        "maxBump",
        "does not allow semver",
        id="bump-without-semver",
    ),
    pytest.param({"minimumAge": "-1h"}, "minimumAge", "must not be negative", id="age-negative"),
    pytest.param({"minimumAge": "1d"}, "minimumAge", "write '168h' for a week", id="age-days"),
    pytest.param({"minimumAge": 24}, "minimumAge", "not the number 24", id="age-number"),
    pytest.param(
        {"minimumAge": "9" * 400 + "h"}, "minimumAge", "longer than any duration", id="age-huge"
    ),
    pytest.param(
        {"requireDigest": "true"},
        "requireDigest",
        "true or false, not the string 'true'",
        id="digest-string",
    ),
    pytest.param({"updateWindows": []}, "updateWindows", "no window would ever open", id="no-w"),
    pytest.param(
        {"updateWindows": [{"schedule": "0 25 * * *", "duration": "1h"}]},
        "updateWindows[0].schedule",
        "25 is above the maximum 23",
        id="cron",
    ),
    pytest.param(
        {"updateWindows": [{"schedule": "@daily", "duration": "0s"}]},
        "updateWindows[0].duration",
        "'0s' is not positive",
        id="window-zero",
    ),
    pytest.param(
        {"updateWindows": [{"schedule": "@daily"}]},
        "updateWindows[0].duration",
        "a positive Go duration",
        id="window-no-duration",
    ),
    pytest.param(
        {"updateWindows": [{"schedule": "@daily", "duration": "1h", "timeZone": "Mars/Olympus"}]},
        "updateWindows[0].timeZone",
        "'Mars/Olympus' is not a known time zone",
        id="zone",
    ),
    pytest.param(
        {"updateWindows": [{"schedule": "@daily", "duration": "1h", "tz": "UTC"}]},
        "updateWindows[0].tz",
        "schedule, duration, timeZone",
        id="window-unknown",
    ),
]


@pytest.mark.parametrize(("rules", "path", "words"), RULE_MISTAKES)
def test_each_mistake_in_a_rule_is_an_error_at_its_field(
    rules: dict[str, Any], path: str, words: str
) -> None:
    obj = resource(rules)
    found = errors(obj)
    assert words in found[f"spec.rules.{path}"], found
    assert parse_policy(obj).policy is None


def expression(**fields: Any) -> dict[str, Any]:
    return {"matchExpressions": [fields]}


MATCH_MISTAKES = [
    pytest.param(
        {"namespaceSelector": expression(key="a", operator="in", values=["x"])},
        "namespaceSelector.matchExpressions[0].operator",
        "did you mean 'In'",
        id="operator-case",
    ),
    pytest.param(
        {"namespaceSelector": expression(key="a", operator="Equals")},
        "namespaceSelector.matchExpressions[0].operator",
        "accepted: In, NotIn, Exists, DoesNotExist",
        id="operator",
    ),
    pytest.param(
        {"applicationSelector": expression(key="a", operator="In")},
        "applicationSelector.matchExpressions[0].values",
        "needs at least one value",
        id="in-without-values",
    ),
    pytest.param(
        {"applicationSelector": expression(key="a", operator="Exists", values=["x"])},
        "applicationSelector.matchExpressions[0].values",
        "takes no values",
        id="exists-with-values",
    ),
    pytest.param(
        {"applicationSelector": expression(operator="Exists")},
        "applicationSelector.matchExpressions[0].key",
        "is missing",
        id="no-key",
    ),
    pytest.param(
        {"applicationSelector": {"matchLabels": {"bad key!": "x"}}},
        "applicationSelector.matchLabels.bad key!",
        "label key 'bad key!' is not valid",
        id="label-key",
    ),
    pytest.param(
        {"applicationSelector": {"matchLabels": {"tier": 1}}},
        "applicationSelector.matchLabels.tier",
        "must be a string, not the number 1",
        id="label-value-type",
    ),
    pytest.param(
        {"applicationSelector": {"matchLabels": {"tier": "-x"}}},
        "applicationSelector.matchLabels.tier",
        "label value '-x' is not valid",
        id="label-value",
    ),
    pytest.param(
        {"applicationSelector": {"matchLables": {}}},
        "applicationSelector.matchLables",
        "did you mean 'matchLabels'",
        id="selector-typo",
    ),
    pytest.param({"names": ["web-{a,b"]}, "names[0]", "'{' is never closed", id="name-glob"),
    pytest.param({"project": ["x"]}, "project", "did you mean 'projects'", id="match-typo"),
    pytest.param(
        {"projects": "x"}, "projects", "must be a list of AppProject globs", id="projects"
    ),
]


@pytest.mark.parametrize(("match", "path", "words"), MATCH_MISTAKES)
def test_each_mistake_in_the_match_is_an_error_at_its_field(
    match: dict[str, Any], path: str, words: str
) -> None:
    obj = resource({}, match=match)
    found = errors(obj)
    assert words in found[f"spec.match.{path}"], found
    assert parse_policy(obj).policy is None


def test_every_mistake_is_reported_at_once() -> None:
    obj = resource(
        {
            "maxBump": "huge",
            "minimumAge": "soon",
            "deniedTags": ["[x"],
            "updateWindows": [{"schedule": "nope", "duration": "-1h", "timeZone": "Nowhere/X"}],
        },
        action="Sometimes",
    )
    assert set(errors(obj)) == {
        "spec.action",
        "spec.rules.maxBump",
        "spec.rules.minimumAge",
        "spec.rules.deniedTags[0]",
        "spec.rules.updateWindows[0].schedule",
        "spec.rules.updateWindows[0].duration",
        "spec.rules.updateWindows[0].timeZone",
    }


@pytest.mark.parametrize("field", ["namespaces", "namespaceSelector"])
def test_a_namespaced_policy_cannot_select_namespaces(field: str) -> None:
    value: Any = ["x"] if field == "namespaces" else {"matchLabels": {"a": "b"}}
    obj = resource({}, kind="ImageUpdatePolicy", match={field: value})
    message = errors(obj)[f"spec.match.{field}"]
    assert "applies only to Applications in its own namespace" in message
    assert "ClusterImageUpdatePolicy" in message


def test_maxbump_with_semver_allowed_is_accepted() -> None:
    rules = {"maxBump": "patch", "allowedStrategies": ["semver", "digest"]}
    assert parse_policy(resource(rules)).errors == ()


def test_a_cluster_policy_with_a_namespace_is_warned_not_refused() -> None:
    parsed = parse_policy(resource({"deniedTags": ["latest"]}, namespace="argocd"))
    assert parsed.policy is not None
    assert [p.key for p in parsed.warnings] == ["metadata.namespace"]


def test_status_and_metadata_fields_are_not_judged() -> None:
    obj = full_resource()
    obj["metadata"].update({"labels": {"a": "b"}, "generation": 3, "uid": "u"})
    obj["status"] = {"matchedApplications": 2, "anything": True}
    parsed = parse_policy(obj)
    assert parsed.problems == ()
    assert parsed.policy is not None and parsed.policy.generation == 3


def test_the_full_rules_example_covers_every_rule() -> None:
    from imageupdater.updatepolicy.fields import RULE_FIELDS

    assert set(FULL_RULES) == set(RULE_FIELDS)


scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=25,
)
FIELD_NAMES = [
    *FULL_RULES,
    *("match", "rules", "action", "namespaces", "namespaceSelector", "names", "projects"),
    *("applicationSelector", "matchLabels", "matchExpressions", "key", "operator", "values"),
    *("schedule", "duration", "timeZone", "spec", "metadata", "name", "kind"),
]
WORDS = ["In", "Exists", "*", "0 9 * * *", "1h", "UTC", "[", "semver", "minor", "ghcr.io"]
shaped = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30) | st.sampled_from(WORDS),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(FIELD_NAMES), inner, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_parsing_never_raises_on_arbitrary_json(value: Any) -> None:
    parsed = parse_policy(value)
    assert parsed.policy is None or not parsed.errors


@settings(max_examples=400, deadline=None)
@given(shaped, shaped, st.sampled_from(["ClusterImageUpdatePolicy", "ImageUpdatePolicy"]))
def test_parsing_never_raises_on_policy_shaped_input(rules: Any, match: Any, kind: str) -> None:
    obj = resource({}, kind=kind)
    obj["spec"] = {"rules": rules, "match": match}
    parsed = parse_policy(obj)
    assert (parsed.policy is None) == bool(parsed.errors)
    assert all(p.message for p in parsed.problems)


@pytest.mark.parametrize(
    ("rollout", "expected"),
    [
        ({"firstWave": {"count": 2}}, (2, None, timedelta(minutes=30))),
        ({"firstWave": {"percent": 10}, "soak": "2h"}, (None, 10, timedelta(hours=2))),
        ({"firstWave": {"percent": 99}, "soak": "1s"}, (None, 99, timedelta(seconds=1))),
    ],
)
def test_a_rollout_names_its_first_wave_and_soak(
    rollout: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    parsed = parse_policy(resource({}, rollout=rollout))
    assert parsed.policy is not None and parsed.policy.rollout is not None, parsed.problems
    got = parsed.policy.rollout
    assert (got.count, got.percent, got.soak) == expected


@pytest.mark.parametrize(
    ("rollout", "key", "words"),
    [
        ({}, "spec.rollout.firstWave", "is missing"),
        ({"firstWave": {}}, "spec.rollout.firstWave", "found none"),
        (
            {"firstWave": {"count": 1, "percent": 5}},
            "spec.rollout.firstWave",
            "found count, percent",
        ),
        (
            {"firstWave": {"count": 0}},
            "spec.rollout.firstWave.count",
            "at least 1, not the number 0",
        ),
        ({"firstWave": {"count": True}}, "spec.rollout.firstWave.count", "whole number"),
        ({"firstWave": {"percent": 100}}, "spec.rollout.firstWave.percent", "from 1 to 99"),
        ({"firstWave": {"percent": "10%"}}, "spec.rollout.firstWave.percent", "from 1 to 99"),
        (
            {"firstWave": {"selector": {"matchLabels": {"wave": 1}}}},
            "spec.rollout.firstWave.selector.matchLabels.wave",
            "",
        ),
        ({"firstWave": {"count": 1}, "soak": "0s"}, "spec.rollout.soak", "not positive"),
        ({"firstWave": {"count": 1}, "soak": "1d"}, "spec.rollout.soak", "168h"),
        ({"firstWave": {"count": 1}, "soak": "500ms"}, "spec.rollout.soak", "at least 1s"),
        ({"firstWave": {"count": 1}, "sokа": "1h"}, "spec.rollout.sokа", "unknown field"),
        ({"firstWave": {"cuont": 1}}, "spec.rollout.firstWave.cuont", "did you mean"),
        ("canary", "spec.rollout", "must be an object"),
    ],
)
def test_a_wrong_rollout_is_refused_naming_the_field(rollout: Any, key: str, words: str) -> None:
    found = errors(resource({}, rollout=rollout))
    assert key in found, found
    assert words in found[key]
