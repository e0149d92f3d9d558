"""The PromQL reader the other monitoring tests rely on finds metrics and nothing else."""

from __future__ import annotations

import pytest

from tests.monitoring import Selector, parse, variable_query_expr


@pytest.mark.parametrize(
    ("expr", "metrics"),
    [
        pytest.param("up", {"up"}, id="bare"),
        pytest.param('up{job="x"} == 0', {"up"}, id="matchers"),
        pytest.param(
            "histogram_quantile(0.99, sum by (namespace, le) (rate(a_bucket[5m])))",
            {"a_bucket"},
            id="by-labels-are-not-metrics",
        ),
        pytest.param(
            "sum without (pod) (rate(a_total[$__rate_interval])) * 60",
            {"a_total"},
            id="without-and-grafana-range",
        ),
        pytest.param(
            "a > 1 unless on (namespace) group_left (pod) b > 0 and ignoring(x) c or d",
            {"a", "b", "c", "d"},
            id="set-operators-and-vector-matching",
        ),
        pytest.param(
            'sum(rate(a_total{status=~"5xx|error", name="by (x)"}[10m] offset 1h30m)) '
            "/ sum(rate(b_total[1d:5m]))",
            {"a_total", "b_total"},
            id="strings-offsets-subqueries",
        ),
        pytest.param("absent(x_y) > bool 0.5e3", {"x_y"}, id="bool-and-exponent"),
        pytest.param('{__name__="named"} + count(topk(5, z))', {"named", "z"}, id="name-matcher"),
        pytest.param("sum(a) # a comment naming not_a_metric\n+ sum(b)", {"a", "b"}, id="comment"),
        pytest.param("time() - vector(1) + inf", set(), id="functions-only"),
        pytest.param(
            "ns:recorded:rate5m{namespace=~'$namespace'}", {"ns:recorded:rate5m"}, id="colons"
        ),
    ],
)
def test_the_reader_finds_exactly_the_metrics(expr: str, metrics: set[str]) -> None:
    assert parse(expr).metrics == metrics


def test_it_reports_matchers_grouping_and_the_enclosing_function() -> None:
    parsed = parse(
        'sum by (namespace, registry) (rate(r_total{status=~"5xx", kind="tags"}[10m])) > 0'
        " and on (namespace) g"
    )
    assert parsed.selectors == [
        Selector("r_total", ("status", "kind"), "rate"),
        Selector("g", (), None),
    ]
    assert parsed.grouping == {"namespace", "registry"}


@pytest.mark.parametrize(
    ("query", "expr"),
    [
        ("label_values(image_updater_leader, namespace)", "image_updater_leader"),
        ('label_values(up{job="a"}, instance)', 'up{job="a"}'),
        ("query_result(topk(3, x))", "topk(3, x)"),
        ("label_values(namespace)", None),
        ("label_names()", None),
    ],
)
def test_grafana_variable_queries_yield_their_promql(query: str, expr: str | None) -> None:
    assert variable_query_expr(query) == expr
