"""CEL semantics the matchConditions subset must get right: null, map keys and indexes
with a macro's variable, errors versus false, numbers across int and double, deep
equality, and the order kube-apiserver gives a false condition over a failing one.

The expected values were checked against the CEL reference implementation (cel-cpp) with
`object`, `oldObject` and `request` declared `dyn`, as kube-apiserver declares them.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from devcluster.kubeapi import KubeAPI
from devcluster.kubeapi.cel import CelEvalError, compile_expression

from .conftest import APP_GROUP, APP_VERSION, Hooks, application, configuration
from .conftest import webhook as hook

ENV: dict[str, Any] = {
    "object": {
        "metadata": {"name": "child", "annotations": {"p/a": "1", "p/b": "2", "other": "x"}},
        "spec": {
            "n": 1,
            "f": 1.0,
            "t": True,
            "z": None,
            "l": [1, "x"],
            "m": {"k": 1},
            "mf": {"k": 1.0},
            "mb": {"k": True},
        },
    },
    "oldObject": None,
    "request": {"operation": "CREATE", "userInfo": {"username": "alice"}},
}
ERROR = "error"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # null, and oldObject on CREATE
        pytest.param("oldObject == null", True, id="old-object-is-null-on-create"),
        pytest.param("oldObject != null", False, id="old-object-not-unequal-to-null"),
        pytest.param("object != null", True, id="a-map-is-not-null"),
        pytest.param("null == null", True, id="null-equals-null"),
        pytest.param("object.spec.z == null", True, id="a-null-field-equals-null"),
        pytest.param("object.spec.n != null", True, id="an-int-is-not-null"),
        pytest.param("null in [null]", True, id="null-in-a-list"),
        pytest.param("has(object.spec.z)", True, id="has-a-field-holding-null"),
        pytest.param("oldObject.metadata == null", ERROR, id="selecting-on-null-is-an-error"),
        pytest.param("has(oldObject.metadata)", ERROR, id="has-on-null-is-an-error"),
        pytest.param("has(oldObject.metadata.annotations)", ERROR, id="has-below-null-is-an-error"),
        pytest.param("has(object.spec.z.x)", ERROR, id="has-on-a-null-field-is-an-error"),
        pytest.param("!(oldObject.metadata.x == 1)", ERROR, id="negating-an-error-is-an-error"),
        # errors versus false: && and || absorb an error only when the other side decides
        pytest.param(
            "request.operation == 'CREATE' || oldObject.metadata.x == 1", True, id="or-guard"
        ),
        pytest.param(
            "request.operation != 'CREATE' && oldObject.metadata.x == 1", False, id="and-guard"
        ),
        pytest.param(
            "request.operation != 'CREATE' || oldObject.metadata.x == 1",
            ERROR,
            id="or-with-an-undecided-side-keeps-the-error",
        ),
        pytest.param(
            "oldObject == null || oldObject.metadata.name == 'child'", True, id="null-guard"
        ),
        # `in` on maps and map indexing, also with a macro's variable as the key
        pytest.param("'p/a' in object.metadata.annotations", True, id="key-in-map"),
        pytest.param("'p/c' in object.metadata.annotations", False, id="key-not-in-map"),
        pytest.param("1 in object.metadata.annotations", False, id="int-key-not-in-string-map"),
        pytest.param("object.metadata.annotations['p/a'] == '1'", True, id="index-a-map"),
        pytest.param(
            "object.metadata.annotations['p/c'] == '1'", ERROR, id="indexing-a-missing-key"
        ),
        pytest.param(
            "object.spec.m[object.metadata.name] == 1", ERROR, id="index-by-an-expression-missing"
        ),
        pytest.param(
            "object.metadata.annotations.exists(k, k.startsWith('p/') && "
            "object.metadata.annotations[k] == '2')",
            True,
            id="index-by-the-macro-variable",
        ),
        pytest.param(
            "object.metadata.annotations.all(k, k in object.metadata.annotations)",
            True,
            id="in-with-the-macro-variable",
        ),
        pytest.param(
            "object.metadata.annotations.exists(k, !(k in object.spec.m && object.spec.m[k] == 1))",
            True,
            id="guarded-index-into-another-map",
        ),
        pytest.param(
            "object.metadata.annotations.all(k, object.spec.m[k] == 1)",
            ERROR,
            id="unguarded-index-into-another-map",
        ),
        pytest.param(
            "object.metadata.annotations.exists(k, object.spec.m[k] == 1 || k == 'other')",
            True,
            id="exists-absorbs-a-missing-key",
        ),
        pytest.param(
            "object.metadata.annotations.exists(k, "
            "object.metadata.annotations.exists(k, k == 'other') && k == 'p/a')",
            True,
            id="nested-macros-rebinding-the-variable",
        ),
        # numbers and deep equality
        pytest.param("object.spec.n == object.spec.f", True, id="int-equals-double"),
        pytest.param("object.spec.f in [1, 2]", True, id="double-in-int-list"),
        pytest.param("object.spec.n < object.spec.f", False, id="int-less-than-double"),
        pytest.param("object.spec.n <= object.spec.f", True, id="int-at-most-double"),
        pytest.param("false < true", True, id="bools-are-ordered"),
        pytest.param("true < false", False, id="bools-are-ordered-reverse"),
        pytest.param("object.spec.t == 1", False, id="bool-is-not-int"),
        pytest.param("[object.spec.t] == [1]", False, id="bool-is-not-int-in-a-list"),
        pytest.param("object.spec.m == object.spec.mf", True, id="maps-equal-by-number-value"),
        pytest.param("object.spec.m == object.spec.mb", False, id="maps-differ-bool-and-int"),
        pytest.param("object.spec.m != object.spec.mb", True, id="maps-unequal"),
        pytest.param("object.spec.l == [1, 'x']", True, id="lists-equal-element-wise"),
        pytest.param("object.spec.l == [1]", False, id="lists-of-other-length"),
        pytest.param("object.spec.l[1] == 'x'", True, id="index-a-list"),
        pytest.param("object.spec.l['a'] == 1", ERROR, id="index-a-list-by-a-string"),
    ],
)
def test_the_subset_evaluates_like_the_cel_reference_implementation(
    expression: str, expected: bool | str
) -> None:
    program = compile_expression(expression)
    if expected == ERROR:
        with pytest.raises(CelEvalError):
            program.evaluate(ENV)
    else:
        assert program.evaluate(ENV) is expected


def test_an_evaluation_error_names_cel_types_not_python_ones() -> None:
    with pytest.raises(CelEvalError) as exc:
        compile_expression("oldObject.metadata == null").evaluate(ENV)
    assert "null_type" in str(exc.value)
    assert "NoneType" not in str(exc.value)


URL = f"/apis/{APP_GROUP}/{APP_VERSION}/namespaces/argocd/applications"


@pytest.mark.parametrize("policy", ["Fail", "Ignore"])
async def test_a_false_match_condition_skips_the_webhook_even_after_a_failing_one(
    api: KubeAPI, base_url: str, hooks: tuple[Hooks, int], ca_bundle: str, policy: str
) -> None:
    """kube-apiserver evaluates every condition: any false skips, whatever the others raise."""
    h, port = hooks
    conditions = [
        {"name": "fails", "expression": "object.spec.missing == 'x'"},
        {"name": "false", "expression": "request.operation == 'UPDATE'"},
    ]
    api.store.put(
        configuration(
            "Validating",
            "v",
            hook(
                "order.example.com",
                f"https://127.0.0.1:{port}/deny",
                ca_bundle,
                matchConditions=conditions,
                failurePolicy=policy,
            ),
        )
    )
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{base_url}{URL}", json=application("app")) as resp,
    ):
        assert resp.status == 201, await resp.text()
    assert h.calls == []


async def test_a_failing_condition_with_the_rest_true_meets_the_failure_policy(
    api: KubeAPI, base_url: str, hooks: tuple[Hooks, int], ca_bundle: str
) -> None:
    h, port = hooks
    conditions = [
        {"name": "true", "expression": "request.operation == 'CREATE'"},
        {"name": "fails", "expression": "object.spec.missing == 'x'"},
    ]
    api.store.put(
        configuration(
            "Validating",
            "v",
            hook(
                "order.example.com",
                f"https://127.0.0.1:{port}/allow",
                ca_bundle,
                matchConditions=conditions,
            ),
        )
    )
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{base_url}{URL}", json=application("app")) as resp,
    ):
        message = json.loads(await resp.text())["message"]
        assert resp.status == 500
    assert 'failed to evaluate match condition "fails"' in message
    assert h.calls == []
