"""The matchConditions CEL subset: what it evaluates, and what it refuses up front."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devcluster.kubeapi.cel import CelEvalError, CelUnsupported, compile_expression

ENV: dict[str, Any] = {
    "object": {
        "metadata": {
            "name": "guestbook",
            "annotations": {"argocd-image-updater.argoproj.io/image-list": "nginx"},
            "labels": {"team": "x"},
        },
        "spec": {"replicas": 2, "images": ["a", "b"]},
    },
    "oldObject": None,
    "request": {
        "operation": "CREATE",
        "userInfo": {"username": "system:serviceaccount:argocd:argocd-image-updater"},
    },
}
PREFIX = "argocd-image-updater.argoproj.io/"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param("has(object.metadata.annotations)", True, id="has-present"),
        pytest.param("has(object.metadata.finalizers)", False, id="has-absent"),
        pytest.param(f"'{PREFIX}image-list' in object.metadata.annotations", True, id="in-map"),
        pytest.param(
            f"object.metadata.annotations['{PREFIX}image-list'] == 'nginx'", True, id="index"
        ),
        pytest.param("request.operation in ['CREATE', 'UPDATE']", True, id="in-list"),
        pytest.param(
            "request.userInfo.username != 'system:serviceaccount:argocd:argocd-image-updater'",
            False,
            id="not-equals",
        ),
        pytest.param("oldObject == null", True, id="null-old-object-on-create"),
        pytest.param("object.spec.replicas >= 2 && object.spec.replicas < 3", True, id="compare"),
        pytest.param("size(object.spec.images) == 2", True, id="size-function"),
        pytest.param("object.metadata.name.size() > 3", True, id="size-method"),
        pytest.param("object.metadata.name.startsWith('guest')", True, id="starts-with"),
        pytest.param("object.metadata.name.matches('^g.*k$')", True, id="matches-re2"),
        pytest.param("!(object.metadata.labels.team == 'y')", True, id="negation"),
        pytest.param("object.spec.replicas == '2'", False, id="heterogeneous-equality-false"),
        pytest.param("object.spec.missing == 1 || true", True, id="or-absorbs-error"),
        pytest.param("false && object.spec.missing == 1", False, id="and-absorbs-error"),
        pytest.param(
            f"object.metadata.annotations.exists(k, k.startsWith('{PREFIX}'))",
            True,
            id="exists-over-map-keys",
        ),
        pytest.param("object.spec.images.exists(i, i == 'c')", False, id="exists-none"),
        pytest.param("object.spec.images.all(i, i.size() == 1)", True, id="all-items"),
        pytest.param("object.metadata.labels.all(k, k == 'other')", False, id="all-fails"),
        pytest.param(
            "object.spec.images.exists(i, i.missing == 1 || i == 'b')",
            True,
            id="exists-absorbs-an-items-error",
        ),
    ],
)
def test_a_supported_expression_evaluates_like_cel(expression: str, expected: bool) -> None:
    assert compile_expression(expression).evaluate(ENV) is expected


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("authorizer.requestResource.check('get').allowed()", id="authorizer"),
        pytest.param("object.spec.images.exists_one(i, i == 'a')", id="exists-one-macro"),
        pytest.param("object.spec.images.exists(object, true)", id="macro-shadowing-a-variable"),
        pytest.param("j == 1", id="unbound-variable"),
        pytest.param("object.spec.replicas + 1 == 3", id="arithmetic"),
        pytest.param("true ? true : false", id="ternary"),
        pytest.param("params.x == 1", id="params"),
        pytest.param("has(object)", id="has-without-selection"),
        pytest.param("", id="empty"),
    ],
)
def test_an_expression_outside_the_subset_is_refused_at_compile_time(expression: str) -> None:
    with pytest.raises(CelUnsupported):
        compile_expression(expression)


def test_a_refusal_names_the_expression_and_the_supported_subset() -> None:
    with pytest.raises(CelUnsupported) as exc:
        compile_expression("object.spec.images.map(i, i != '')")
    assert "object.spec.images.map" in str(exc.value)
    assert "has(), size()" in str(exc.value)


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("object.spec.missing == 1", id="missing-key"),
        pytest.param("object.metadata.name", id="non-bool-result"),
        pytest.param("object.metadata.name < 1", id="mismatched-comparison"),
    ],
)
def test_a_run_time_failure_is_an_evaluation_error(expression: str) -> None:
    with pytest.raises(CelEvalError):
        compile_expression(expression).evaluate(ENV)


_values = st.one_of(st.booleans(), st.integers(-5, 5), st.sampled_from(["a", "b"]))


@given(_values, _values)
def test_equality_and_inequality_are_exact_opposites(a: Any, b: Any) -> None:
    env = {"object": {"a": a, "b": b}, "oldObject": None, "request": {}}
    eq = compile_expression("object.a == object.b").evaluate(env)
    ne = compile_expression("object.a != object.b").evaluate(env)
    assert eq is not ne
    assert eq is (type(a) is type(b) and a == b)
