"""The monitoring kit (manifests/monitoring): its rules, promtool tests and dashboard, and the
metrics they query, checked against what the processes export.

Shared here: the kit's files, its ``render.py`` loaded as a module, and a small PromQL reader
that finds the metric names (and label names) an expression refers to.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KIT = ROOT / "manifests" / "monitoring"
PROMETHEUS_RULE = KIT / "prometheusrule.yaml"
RULES_FILE = KIT / "rules" / "image-updater.rules.yaml"
RULES_TEST = KIT / "rules-test.yaml"
DASHBOARD = KIT / "grafana-dashboard.json"
CONFIGMAP = KIT / "grafana-dashboard-configmap.yaml"
KUSTOMIZATION = KIT / "kustomization.yaml"


def installed(tool: str) -> str:
    """The path of ``tool``; a missing tool fails the test (./dev installs it), never skips."""
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed: run ./dev test, which installs it", pytrace=False)
    return path


def load_render() -> ModuleType:
    """manifests/monitoring/render.py, which is a script, not a package module."""
    spec = importlib.util.spec_from_file_location("monitoring_render", KIT / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def alert_rules() -> list[dict[str, Any]]:
    rule = load_yaml(PROMETHEUS_RULE)
    return [r for group in rule["spec"]["groups"] for r in group["rules"] if "alert" in r]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_panels() -> list[dict[str, Any]]:
    panels: list[dict[str, Any]] = []
    for panel in dashboard()["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # panels of a collapsed row
    return panels


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query variable."""
    queries: list[tuple[str, str]] = []
    for panel in dashboard_panels():
        for target in panel.get("targets", []):
            queries.append((f"panel {panel['title']!r} {target['refId']}", target["expr"]))
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]
        text = query["query"] if isinstance(query, dict) else query
        expr = variable_query_expr(text)
        if expr:
            queries.append((f"variable {variable['name']!r}", expr))
    return queries


def rule_queries() -> list[tuple[str, str]]:
    return [(f"alert {r['alert']}", r["expr"]) for r in alert_rules()]


# -- Grafana ---------------------------------------------------------------------------------

# $name, ${name...}, [[name]]; not $1, a regex group in label_replace's replacement.
_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$[A-Za-z_]\w*|\[\[[^\]]*\]\]")
# Values Grafana substitutes, for handing dashboard expressions to promtool.
GRAFANA_SAMPLE_VALUES = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "6h",
    "$namespace": ".*",
}


def variable_query_expr(query: str) -> str | None:
    """The PromQL inside a Prometheus data source's variable query (``label_values(expr,
    label)``, ``query_result(expr)``); None when the query holds none (``label_values(label)``,
    ``label_names()``, ``metrics(regex)``)."""
    query = query.strip()
    if match := re.fullmatch(r"label_values\((.*),\s*[A-Za-z_]\w*\s*\)", query, re.S):
        return match.group(1)
    if match := re.fullmatch(r"query_result\((.*)\)", query, re.S):
        return match.group(1)
    if re.fullmatch(r"(label_values|label_names|metrics)\(.*\)", query, re.S):
        return None
    return query


def grafana_to_promql(expr: str) -> str:
    """A dashboard expression with Grafana's variables replaced by sample values."""
    for name, value in GRAFANA_SAMPLE_VALUES.items():
        expr = expr.replace(name, value)
    leftover = _GRAFANA_VARIABLE.findall(expr)
    assert not leftover, f"no sample value for Grafana variables {leftover} in {expr!r}"
    return expr


# -- PromQL ----------------------------------------------------------------------------------

# Aggregation operators and keywords: identifiers that are never metric names. Functions are
# recognised by the parenthesis that follows them, so none needs listing.
PROMQL_WORDS = frozenset(
    {
        "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
        "bottomk", "topk", "quantile", "limitk", "limit_ratio",
        "by", "without", "on", "ignoring", "group_left", "group_right",
        "and", "or", "unless", "atan2", "bool", "offset", "start", "end",
        "inf", "nan",
    }
)  # fmt: skip
# Keywords whose parenthesised list holds label names, not expressions.
_LABEL_LISTS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
# Functions whose argument must be a counter (or a histogram's _bucket/_count/_sum).
COUNTER_FUNCTIONS = frozenset({"rate", "irate", "increase", "resets"})

_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<comment>\#[^\n]*)
    | (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
    | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[a-zA-Z]*(?:\d+[a-zA-Z]+)*)
    | (?P<name>[A-Za-z_:][A-Za-z0-9_:]*)
    | (?P<open>[({\[])
    | (?P<close>[)}\]])
    | (?P<other>.)
    """,
    re.X | re.S,
)


@dataclass(frozen=True, slots=True)
class Selector:
    metric: str
    matchers: tuple[str, ...]  # label names inside {...}
    function: str | None  # the function whose direct argument it is


@dataclass(slots=True)
class Parsed:
    selectors: list[Selector] = field(default_factory=list)
    grouping: set[str] = field(default_factory=set)  # labels of by/without/on/ignoring/group_*

    @property
    def metrics(self) -> set[str]:
        return {s.metric for s in self.selectors}


def _tokens(expr: str) -> list[tuple[str, str]]:
    # A variable stands for a value (a duration, a regex, a number), never for a metric.
    expr = _GRAFANA_VARIABLE.sub("1", expr)
    found: list[tuple[str, str]] = []
    for match in _TOKEN.finditer(expr):
        kind = match.lastgroup
        assert kind is not None
        if kind not in ("space", "comment"):
            found.append((kind, match.group()))
    return found


def _matchers(tokens: list[tuple[str, str]], start: int) -> tuple[list[tuple[str, str]], int]:
    """The (label, value) pairs of the ``{...}`` opening at ``start``; index after ``}``."""
    pairs: list[tuple[str, str]] = []
    i = start + 1
    while tokens[i] != ("close", "}"):
        kind, text = tokens[i]
        if kind == "name":
            value = ""
            j = i + 1
            while tokens[j][0] == "other":  # =, !=, =~, !~
                j += 1
            if tokens[j][0] == "string":
                value = tokens[j][1][1:-1]
            pairs.append((text, value))
            i = j
        i += 1
    return pairs, i + 1


def parse(expr: str) -> Parsed:
    """Metric selectors and grouping labels of a PromQL expression.

    Not a parser, a careful reader: strings, comments, numbers and durations are skipped, so
    are ``[...]`` ranges and subqueries' steps; an identifier followed by ``(`` is a function,
    a PromQL keyword or aggregation operator is not a metric, and the label lists after
    ``by``/``without``/``on``/``ignoring``/``group_left``/``group_right`` are labels. Every
    other identifier is a metric name, with the label names of the ``{...}`` after it; a bare
    ``{__name__="x"}`` selector names metric ``x``.
    """
    tokens = _tokens(expr)
    tokens.append(("end", ""))
    parsed = Parsed()
    calls: list[str | None] = []  # function (or None) per open parenthesis
    i = 0
    while i < len(tokens) - 1:
        kind, text = tokens[i]
        nxt = tokens[i + 1]
        if kind == "name" and text.lower() in _LABEL_LISTS and nxt == ("open", "("):
            close = tokens.index(("close", ")"), i + 2)
            parsed.grouping.update(t for k, t in tokens[i + 2 : close] if k == "name")
            i = close + 1
        elif kind == "name" and nxt == ("open", "("):
            calls.append(text)
            i += 2
        elif kind == "name" and text.lower() in PROMQL_WORDS:
            i += 1
        elif kind == "name" or (kind, text) == ("open", "{"):
            metric = text if kind == "name" else None
            j = i + 1 if kind == "name" else i
            pairs: list[tuple[str, str]] = []
            if tokens[j] == ("open", "{"):
                pairs, j = _matchers(tokens, j)
            if metric is None:
                names = [value for label, value in pairs if label == "__name__"]
                assert names, f"a selector without a metric name in {expr!r}"
                metric = names[0]
            parsed.selectors.append(
                Selector(
                    metric,
                    tuple(label for label, _ in pairs if label != "__name__"),
                    calls[-1] if calls else None,
                )
            )
            i = j
        elif (kind, text) == ("open", "["):
            i = tokens.index(("close", "]"), i) + 1
        elif (kind, text) == ("open", "("):
            calls.append(None)
            i += 1
        elif (kind, text) == ("close", ")"):
            assert calls, f"unbalanced parentheses in {expr!r}"
            calls.pop()
            i += 1
        else:
            i += 1
    assert not calls, f"unbalanced parentheses in {expr!r}"
    return parsed


def metric_names(expr: str) -> set[str]:
    return parse(expr).metrics
