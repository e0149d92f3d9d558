"""Which policies apply to an Application: each criterion, all of them together, the scope of
a namespaced policy, and a deterministic order."""

from __future__ import annotations

from typing import Any

import pytest

from imageupdater.updatepolicy import applicable

from .builders import application, policy

PROD = {"tier": "prod", "team": "a"}


def names(found: Any) -> list[str]:
    return [str(p.ref) for p in found]


@pytest.mark.parametrize(
    ("match", "app", "namespace_labels", "applies"),
    [
        pytest.param({}, {}, {}, True, id="empty-match-selects-all"),
        pytest.param({"namespaces": ["team-*"]}, {"namespace": "team-a"}, {}, True, id="ns-glob"),
        pytest.param({"namespaces": ["team-*"]}, {"namespace": "argocd"}, {}, False, id="ns-other"),
        pytest.param({"namespaces": ["x", "argocd"]}, {}, {}, True, id="ns-any-of"),
        pytest.param(
            {"namespaceSelector": {"matchLabels": {"tier": "prod"}}}, {}, PROD, True, id="ns-labels"
        ),
        pytest.param(
            {"namespaceSelector": {"matchLabels": {"tier": "prod"}}},
            {},
            {},
            False,
            id="ns-no-label",
        ),
        pytest.param(
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "argocd"}}},
            {},
            None,
            True,
            id="ns-name-label-always-there",
        ),
        pytest.param(
            {"applicationSelector": {"matchLabels": {"tier": "prod"}}},
            {"labels": PROD},
            {},
            True,
            id="app-labels",
        ),
        pytest.param(
            {"applicationSelector": {"matchLabels": {"tier": "prod"}}},
            {"labels": {"tier": "dev"}},
            {},
            False,
            id="app-other-labels",
        ),
        pytest.param({"projects": ["prod-*"]}, {"project": "prod-web"}, {}, True, id="project"),
        pytest.param({"projects": ["prod-*"]}, {"project": "dev"}, {}, False, id="other-project"),
        pytest.param({"projects": ["default"]}, {"project": None}, {}, True, id="unset-is-default"),
        pytest.param({"names": ["web-*"]}, {"name": "web-eu"}, {}, True, id="name"),
        pytest.param({"names": ["web-*"]}, {"name": "api"}, {}, False, id="other-name"),
    ],
)
def test_each_criterion_selects_what_it_names(
    match: dict[str, Any],
    app: dict[str, Any],
    namespace_labels: dict[str, str] | None,
    applies: bool,
) -> None:
    found = applicable([policy({}, match=match)], application(**app), namespace_labels)
    assert bool(found) is applies


@pytest.mark.parametrize(
    ("operator", "values", "labels", "applies"),
    [
        pytest.param("In", ["a", "b"], {"team": "a"}, True, id="in"),
        pytest.param("In", ["a", "b"], {"team": "c"}, False, id="in-other"),
        pytest.param("In", ["a"], {}, False, id="in-missing"),
        pytest.param("NotIn", ["a"], {"team": "c"}, True, id="notin"),
        pytest.param("NotIn", ["a"], {}, True, id="notin-missing"),
        pytest.param("NotIn", ["a"], {"team": "a"}, False, id="notin-listed"),
        pytest.param("Exists", None, {"team": ""}, True, id="exists"),
        pytest.param("Exists", None, {}, False, id="exists-missing"),
        pytest.param("DoesNotExist", None, {}, True, id="does-not-exist"),
        pytest.param("DoesNotExist", None, {"team": "a"}, False, id="does-not-exist-present"),
    ],
)
def test_label_selector_operators_mean_what_kubernetes_means(
    operator: str, values: list[str] | None, labels: dict[str, str], applies: bool
) -> None:
    requirement: dict[str, Any] = {"key": "team", "operator": operator}
    if values is not None:
        requirement["values"] = values
    match = {"applicationSelector": {"matchExpressions": [requirement]}}
    found = applicable([policy({}, match=match)], application(labels=labels))
    assert bool(found) is applies


ALL = {
    "namespaces": ["team-*"],
    "namespaceSelector": {"matchLabels": {"tier": "prod"}},
    "applicationSelector": {"matchExpressions": [{"key": "team", "operator": "Exists"}]},
    "projects": ["prod"],
    "names": ["web*"],
}
MATCHING_APP: dict[str, Any] = {
    "name": "web",
    "namespace": "team-a",
    "labels": {"team": "a"},
    "project": "prod",
}


def test_every_criterion_given_must_hold() -> None:
    everything = policy({}, match=ALL)
    assert applicable([everything], application(**MATCHING_APP), {"tier": "prod"})
    misses: list[tuple[dict[str, Any], dict[str, str]]] = [
        ({"name": "api"}, {"tier": "prod"}),
        ({"namespace": "other"}, {"tier": "prod"}),
        ({"labels": {}}, {"tier": "prod"}),
        ({"project": "dev"}, {"tier": "prod"}),
        ({}, {"tier": "dev"}),
    ]
    for change, labels in misses:
        app = application(**{**MATCHING_APP, **change})
        assert applicable([everything], app, labels) == (), change


def test_a_namespaced_policy_applies_only_in_its_own_namespace() -> None:
    local = policy({}, kind="ImageUpdatePolicy", namespace="team-a")
    assert applicable([local], application(namespace="team-a"))
    assert applicable([local], application(namespace="team-b")) == ()


def test_policies_come_cluster_first_then_by_namespace_and_name() -> None:
    given = [
        policy({}, kind="ImageUpdatePolicy", name="b", namespace="team-a"),
        policy({}, name="zeta"),
        policy({}, kind="ImageUpdatePolicy", name="a", namespace="team-a"),
        policy({}, name="alpha"),
        policy({}, kind="ImageUpdatePolicy", name="a", namespace="team-b"),
    ]
    assert names(applicable(given, application(namespace="team-a"))) == [
        "ClusterImageUpdatePolicy/alpha",
        "ClusterImageUpdatePolicy/zeta",
        "ImageUpdatePolicy/team-a/a",
        "ImageUpdatePolicy/team-a/b",
    ]


def test_an_application_of_any_shape_is_matched_without_raising() -> None:
    odd: dict[str, Any] = {"metadata": {"labels": ["x"], "name": 3}, "spec": "nope"}
    assert applicable([policy({})], odd) != ()
    assert applicable([policy({}, match={"names": ["web"]})], odd) == ()
