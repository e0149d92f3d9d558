"""Which applicationRef selects an Application: upstream's glob, label selectors, specificity
and first-match-wins, with upstream's own test vectors (pkg/argocd/argocd_test.go)."""

from __future__ import annotations

from typing import Any

import pytest

from imageupdater.imageupdaters import bind, bind_all, parse, specificity
from imageupdater.imageupdaters.selectors import LabelRequirement, LabelSelector
from tests.imageupdaters.builders import app, image, parsed, ref, resource


def selector(labels: dict[str, str] | None = None, *expressions: LabelRequirement) -> LabelSelector:
    return LabelSelector(tuple(sorted((labels or {}).items())), expressions)


@pytest.mark.parametrize(
    ("pattern", "labels", "score"),
    [
        pytest.param("app-one", None, 1_000_007, id="exact-name"),
        pytest.param("app-*", None, 4, id="star"),
        pytest.param("app-prod-*", None, 9, id="longer-star"),
        pytest.param("app-v?", None, 5, id="question-mark"),
        pytest.param("app-[abc]", None, 4, id="character-set"),
        pytest.param("*", None, 0, id="star-only"),
        pytest.param("app-one", selector(), 1_010_007, id="exact-with-empty-selector"),
        pytest.param("app-one", selector({"env": "prod"}), 1_010_107, id="exact-with-one-label"),
        pytest.param("app-*", selector({"env": "prod"}), 10_104, id="star-with-one-label"),
        pytest.param(
            "app-*",
            selector(None, LabelRequirement("env", "In", ("prod",))),
            10_104,
            id="star-with-one-expression",
        ),
        pytest.param(
            "app-*",
            selector({"env": "prod", "tier": "backend"}, LabelRequirement("region", "Exists")),
            10_304,
            id="star-with-complex-selector",
        ),
        pytest.param("", None, 1_000_000, id="empty-pattern-is-exact"),
        pytest.param("app-[a-z]x[0-9]", None, 5, id="two-sets-removed"),
        pytest.param("app-]x", None, 6, id="lone-close-bracket-is-inexact-yet-literal"),
        pytest.param("ä*", None, 2, id="literals-counted-in-utf8-bytes-like-go-len"),
    ],
)
def test_specificity_is_upstreams_score(
    pattern: str, labels: LabelSelector | None, score: int
) -> None:
    assert specificity(pattern, labels) == score


def order(*patterns_and_selectors: tuple[str, dict[str, Any] | None]) -> list[str]:
    refs = [
        ref(p, **({"labelSelectors": s} if s is not None else {}))
        for p, s in patterns_and_selectors
    ]
    updater = parsed(resource(*refs))
    return [
        f"{r.name_pattern}{'+labels' if r.label_selector else ''}" for r in updater.ordered_refs
    ]


def test_refs_are_tried_from_most_to_least_specific() -> None:
    assert order(
        ("app-*", None),
        ("app-one", None),
        ("*", None),
        ("app-oner", {"matchLabels": {"env": "prod"}}),
        ("app-prod-*", None),
        ("app-?x", {"matchLabels": {"env": "prod"}}),
    ) == ["app-oner+labels", "app-one", "app-?x+labels", "app-prod-*", "app-*", "*"]


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        pytest.param(["app-*", "app-?"], ["app-*", "app-?"], id="star-first"),
        pytest.param(["app-?", "app-*"], ["app-?", "app-*"], id="question-first"),
    ],
)
def test_equally_specific_refs_keep_their_spec_order(
    patterns: list[str], expected: list[str]
) -> None:
    assert order(*((p, None) for p in patterns)) == expected


@pytest.mark.parametrize(
    ("name", "pattern", "selects"),
    [
        pytest.param("my-app", "my-app", True, id="exact"),
        pytest.param("other-app", "my-app", False, id="exact-mismatch"),
        pytest.param("my-app-production", "my-app-*", True, id="star"),
        pytest.param("other-app", "my-app-*", False, id="star-mismatch"),
        pytest.param("app-v1", "app-v?", True, id="question-mark"),
        pytest.param("app-v12", "app-v?", False, id="question-mark-is-one-char"),
        pytest.param("color-red", "color-[rbg]ed", True, id="set"),
        pytest.param("color-yellow", "color-[rbg]ed", False, id="set-mismatch"),
        pytest.param("pod-3", "pod-[0-9]", True, id="range"),
        pytest.param("pod-a", "pod-[0-9]", False, id="range-mismatch"),
        pytest.param("pod-a", "pod-[^0-9]", True, id="negated-range"),
        pytest.param("app*", "app\\*", True, id="escaped-star-is-literal"),
        pytest.param("app-x", "app\\*", False, id="escaped-star-matches-only-star"),
        pytest.param("", "", True, id="empty-pattern-matches-empty-name"),
        pytest.param("a", "", False, id="empty-pattern-matches-nothing-else"),
        pytest.param("team/app", "team*", False, id="star-does-not-cross-slash"),
        pytest.param("team/app", "team?app", False, id="question-does-not-match-slash"),
        pytest.param("team/app", "team/*", True, id="slash-matched-literally"),
        pytest.param("APP", "app", False, id="case-sensitive"),
    ],
)
def test_name_pattern_is_a_go_filepath_glob(name: str, pattern: str, selects: bool) -> None:
    updater = parsed(resource(ref(pattern)))
    assert (bind(updater, app(name)) is not None) is selects


@pytest.mark.parametrize(
    ("labels", "selector_spec", "selects"),
    [
        pytest.param({"env": "prod"}, {}, True, id="empty-selector-selects-all"),
        pytest.param(
            {"env": "prod", "tier": "fe"}, {"matchLabels": {"env": "prod"}}, True, id="label"
        ),
        pytest.param(
            {"env": "prod", "tier": "fe"},
            {"matchLabels": {"env": "prod", "tier": "fe"}},
            True,
            id="two-labels",
        ),
        pytest.param({"env": "staging"}, {"matchLabels": {"env": "prod"}}, False, id="wrong-value"),
        pytest.param({"tier": "fe"}, {"matchLabels": {"env": "prod"}}, False, id="missing-key"),
        pytest.param({"env": ""}, {"matchLabels": {"env": ""}}, True, id="empty-value-label"),
        pytest.param({}, {"matchLabels": {"env": ""}}, False, id="empty-value-needs-the-key"),
        *[
            pytest.param(labels, {"matchExpressions": [expression]}, selects, id=name)
            for name, labels, expression, selects in [
                (
                    "in",
                    {"env": "staging"},
                    {"key": "env", "operator": "In", "values": ["prod", "staging"]},
                    True,
                ),
                (
                    "in-mismatch",
                    {"env": "dev"},
                    {"key": "env", "operator": "In", "values": ["prod"]},
                    False,
                ),
                ("in-missing", {}, {"key": "env", "operator": "In", "values": ["prod"]}, False),
                (
                    "notin",
                    {"env": "dev"},
                    {"key": "env", "operator": "NotIn", "values": ["prod"]},
                    True,
                ),
                ("notin-absent", {}, {"key": "env", "operator": "NotIn", "values": ["prod"]}, True),
                (
                    "notin-mismatch",
                    {"env": "prod"},
                    {"key": "env", "operator": "NotIn", "values": ["prod"]},
                    False,
                ),
                ("exists", {"env": "prod"}, {"key": "env", "operator": "Exists"}, True),
                ("exists-mismatch", {"tier": "fe"}, {"key": "env", "operator": "Exists"}, False),
                ("doesnotexist", {"tier": "fe"}, {"key": "env", "operator": "DoesNotExist"}, True),
                (
                    "doesnotexist-mismatch",
                    {"env": "p"},
                    {"key": "env", "operator": "DoesNotExist"},
                    False,
                ),
            ]
        ],
        pytest.param(
            {"env": "prod", "tier": "frontend"},
            {
                "matchLabels": {"env": "prod"},
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["frontend", "backend"]}
                ],
            },
            True,
            id="labels-and-expressions",
        ),
        pytest.param(
            {"env": "prod", "tier": "database"},
            {
                "matchLabels": {"env": "prod"},
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["frontend", "backend"]}
                ],
            },
            False,
            id="labels-and-expressions-one-fails",
        ),
    ],
)
def test_label_selectors_select_as_kubernetes_does(
    labels: dict[str, str], selector_spec: dict[str, Any], selects: bool
) -> None:
    updater = parsed(resource(ref("*", labelSelectors=selector_spec)))
    assert (bind(updater, app("a", **labels)) is not None) is selects


def test_an_application_is_bound_to_the_first_matching_ref_by_specificity() -> None:
    updater = parsed(
        resource(
            ref("app-*", image("nginx", "nginx:1.0")),
            ref("app-prod", image("nginx", "nginx:1.0"), image("redis", "redis:6")),
        )
    )
    binding = bind(updater, app("app-prod"))
    assert binding is not None
    assert binding.ref.name_pattern == "app-prod"
    assert binding.ref.index == 1


def test_a_ref_whose_labels_do_not_match_falls_through_to_a_less_specific_one() -> None:
    updater = parsed(
        resource(
            ref("app-*"),
            ref("app-prod", labelSelectors={"matchLabels": {"env": "prod"}}),
        )
    )
    binding = bind(updater, app("app-prod", env="staging"))
    assert binding is not None
    assert binding.ref.name_pattern == "app-*"


def test_only_applications_of_the_resources_namespace_are_selected() -> None:
    updater = parsed(resource(ref("*")))
    found = bind_all(updater, [app("a"), app("b", namespace="other"), app("c")])
    assert [b.application for b in found] == ["a", "c"]


def test_wildcard_label_and_exact_selection_pick_upstreams_applications() -> None:
    apps = [
        app("app-prod", env="prod"),
        app("app-staging", env="staging"),
        app("other-prod", env="prod"),
    ]
    cases = {
        "app-prod": ["app-prod"],
        "app-*": ["app-prod", "app-staging"],
    }
    for pattern, expected in cases.items():
        updater = parsed(resource(ref(pattern)))
        assert [b.application for b in bind_all(updater, apps)] == expected
    labelled = parsed(resource(ref("*", labelSelectors={"matchLabels": {"env": "prod"}})))
    assert [b.application for b in bind_all(labelled, apps)] == ["app-prod", "other-prod"]


def test_nothing_is_selected_by_a_resource_with_an_invalid_name_pattern() -> None:
    result = parse(resource(ref("app-["), ref("app-one")))
    assert result.updater is None
    assert [p.key for p in result.errors] == ["spec.applicationRefs[0].namePattern"]
