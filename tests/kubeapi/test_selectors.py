"""Label and field selectors parse and match like kube-apiserver's."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devcluster.kubeapi.selectors import (
    LabelSelector,
    Requirement,
    SelectorError,
    label_selector_from_object,
    parse_field_selector,
    parse_label_selector,
)

LABELS = {"team": "x", "tier": "web", "app.kubernetes.io/name": "demo"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        pytest.param("", True, id="empty-selects-all"),
        pytest.param("team=x", True, id="equals"),
        pytest.param("team==x", True, id="double-equals"),
        pytest.param("team!=x", False, id="not-equals-present"),
        pytest.param("owner!=x", True, id="not-equals-absent-key"),
        pytest.param("team in (x, y)", True, id="in"),
        pytest.param("team notin (x,y)", False, id="notin"),
        pytest.param("owner notin (x)", True, id="notin-absent-key"),
        pytest.param("team", True, id="exists"),
        pytest.param("!team", False, id="not-exists"),
        pytest.param("!owner", True, id="not-exists-absent"),
        pytest.param("app.kubernetes.io/name=demo,tier=web", True, id="prefixed-and-conjunction"),
        pytest.param("team=x,tier=db", False, id="conjunction-one-fails"),
    ],
)
def test_a_label_selector_matches_like_the_api_server(selector: str, matches: bool) -> None:
    assert parse_label_selector(selector).matches(LABELS) is matches


@pytest.mark.parametrize(
    "selector",
    [
        pytest.param("team=x y", id="space-in-value"),
        pytest.param("-team=x", id="key-starts-with-dash"),
        pytest.param("team in ()", id="empty-set"),
        pytest.param("a,,b", id="empty-requirement"),
        pytest.param("Bad_Prefix/x=y", id="uppercase-prefix"),
    ],
)
def test_a_malformed_label_selector_is_an_error_naming_it(selector: str) -> None:
    with pytest.raises(SelectorError, match=r"selector|label"):
        parse_label_selector(selector)


def test_a_match_expressions_selector_supports_the_four_operators() -> None:
    sel = label_selector_from_object(
        {
            "matchLabels": {"team": "x"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["web", "api"]},
                {"key": "owner", "operator": "DoesNotExist"},
                {"key": "team", "operator": "Exists"},
                {"key": "tier", "operator": "NotIn", "values": ["db"]},
            ],
        },
        "namespaceSelector",
    )
    assert sel.matches(LABELS)
    assert not sel.matches({**LABELS, "owner": "me"})


def test_an_unknown_match_expression_operator_names_the_accepted_ones() -> None:
    with pytest.raises(SelectorError, match="In, NotIn, Exists, DoesNotExist"):
        label_selector_from_object(
            {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]},
            "objectSelector",
        )


@pytest.mark.parametrize(
    ("selector", "obj_name", "ns", "matches"),
    [
        pytest.param("metadata.name=a", "a", "argocd", True, id="name-equals"),
        pytest.param("metadata.name!=a", "a", "argocd", False, id="name-not-equals"),
        pytest.param("metadata.namespace==argocd,metadata.name=b", "b", "argocd", True, id="both"),
    ],
)
def test_a_field_selector_filters_on_name_and_namespace(
    selector: str, obj_name: str, ns: str, matches: bool
) -> None:
    obj = {"metadata": {"name": obj_name, "namespace": ns}}
    assert parse_field_selector(selector).matches(obj) is matches


def test_an_unsupported_field_selector_names_the_supported_fields() -> None:
    with pytest.raises(SelectorError, match=r"metadata\.name, metadata\.namespace"):
        parse_field_selector("spec.project=default")


_names = st.from_regex(r"[a-z0-9]([a-z0-9.-]{0,10}[a-z0-9])?", fullmatch=True)
_dns_labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
_keys = st.one_of(_names, st.builds(lambda p, n: f"{p}.io/{n}", _dns_labels, _names))
_requirements = st.one_of(
    st.builds(lambda k, v: Requirement(k, "=", (v,)), _keys, _names),
    st.builds(lambda k, v: Requirement(k, "!=", (v,)), _keys, _names),
    st.builds(lambda k: Requirement(k, "exists"), _keys),
    st.builds(lambda k: Requirement(k, "!"), _keys),
    st.builds(
        lambda k, op, vs: Requirement(k, op, tuple(sorted(set(vs)))),
        _keys,
        st.sampled_from(["in", "notin"]),
        st.lists(_names, min_size=1, max_size=3),
    ),
)


@given(st.lists(_requirements, max_size=4))
def test_printing_a_label_selector_and_parsing_it_back_is_identity(
    reqs: list[Requirement],
) -> None:
    sel = LabelSelector(tuple(reqs))
    assert parse_label_selector(str(sel)) == sel


@given(_requirements, st.dictionaries(_keys, _names, max_size=4))
def test_a_negated_requirement_matches_exactly_when_the_positive_one_does_not(
    req: Requirement, labels: dict[str, str]
) -> None:
    opposite = {"=": "!=", "!=": "=", "in": "notin", "notin": "in", "exists": "!", "!": "exists"}
    negated = Requirement(req.key, opposite[req.op], req.values)  # type: ignore[arg-type]
    assert req.matches(labels) is not negated.matches(labels)
