"""Which Applications a window applies to: gobwas globs, OR by default, AND on request."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imageupdater.syncwindows import InvalidSyncWindow

from .builders import window

SURROGATES: tuple[Literal["Cs"]] = ("Cs",)

# (pattern, text, matches) as gobwas/glob compiled without separators answers them.
GLOBS = [
    ("*", "", True),
    ("*", "anything/with/slashes", True),
    ("web", "web", True),
    ("web", "web-1", False),
    ("web-*", "web-1", True),
    ("web-*", "web-", True),
    ("web-*", "api-1", False),
    ("*-prod", "a/b-prod", True),
    ("web-?", "web-1", True),
    ("web-?", "web-12", False),
    ("web-?", "web-☺", True),
    ("**", "a/b/c", True),
    ("[abc]pp", "bpp", True),
    ("[abc]pp", "dpp", False),
    ("[!abc]pp", "dpp", True),
    ("[!abc]pp", "app", False),
    ("[a-c]pp", "cpp", True),
    ("[a-c]pp", "dpp", False),
    ("[!a-c]pp", "dpp", True),
    ("[^a]", "^", True),  # gobwas negates with '!' only
    ("[^a]", "b", False),
    ("{web,api}-*", "api-2", True),
    ("{web,api}-*", "db-2", False),
    ("{web-{a,b},api}", "web-b", True),
    ("{web-{a,b},api}", "web-c", False),
    ("a,b", "a,b", True),  # a comma outside braces is literal
    ("a}", "a}", True),  # so is a closing brace
    ("web\\*", "web*", True),
    ("web\\*", "web1", False),
    ("[\\]]", "]", True),
    ("a.b", "a.b", True),
    ("a.b", "axb", False),  # regex metacharacters stay literal
    ("(x|y)+", "(x|y)+", True),
    ("https://*.example.com", "https://k8s.example.com", True),
    ("", "", True),
    ("", "web", False),
    ("WEB", "web", False),
]


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [pytest.param(p, t, e, id=f"{p or 'empty'} vs {t or 'empty'}") for p, t, e in GLOBS],
)
def test_application_globs_follow_gobwas(pattern: str, text: str, expected: bool) -> None:
    assert window(applications=[pattern]).matches(text, "ns", "", "") is expected


@given(st.text(max_size=20))
def test_the_star_glob_matches_every_name(name: str) -> None:
    assert window(applications=["*"]).matches(name, "", "", "")


@given(
    st.text(
        alphabet=st.characters(blacklist_categories=SURROGATES, blacklist_characters="*?[]{}\\,!"),
        max_size=20,
    )
)
def test_a_glob_without_special_characters_matches_only_itself(name: str) -> None:
    selector = window(applications=[name])
    assert selector.matches(name, "", "", "")
    assert not selector.matches(name + "x", "", "", "")


def test_a_name_with_a_lone_surrogate_is_compared_without_crashing() -> None:
    assert window(applications=["web-?"]).matches("web-\ud800", "", "", "")
    assert not window(applications=["web"]).matches("web\ud800", "", "", "")


# (id, window selectors, application name, namespace, server, cluster name, matches)
MATCHING: list[tuple[str, dict[str, Any], str, str, str, str, bool]] = [
    ("application name", {"applications": ["web-*"]}, "web-1", "ns", "", "", True),
    ("application name misses", {"applications": ["web-*"]}, "api", "ns", "", "", False),
    ("any of the applications", {"applications": ["api", "web-*"]}, "api", "", "", "", True),
    ("namespace", {"namespaces": ["prod-*"]}, "x", "prod-eu", "", "", True),
    ("namespace misses", {"namespaces": ["prod-*"]}, "x", "dev", "", "", False),
    ("cluster by server", {"clusters": ["https://*.eu"]}, "x", "", "https://k.eu", "", True),
    ("cluster by name", {"clusters": ["in-cluster"]}, "x", "", "https://k", "in-cluster", True),
    ("cluster misses both", {"clusters": ["eu-*"]}, "x", "", "https://k", "us-1", False),
    ("star cluster needs a destination", {"clusters": ["*"]}, "x", "ns", "", "", False),
    (
        "or: name alone",
        {"applications": ["web"], "namespaces": ["prod"]},
        "web",
        "dev",
        "",
        "",
        True,
    ),
    (
        "or: namespace alone",
        {"applications": ["web"], "namespaces": ["prod"]},
        "api",
        "prod",
        "",
        "",
        True,
    ),
    ("or: nothing", {"applications": ["web"], "namespaces": ["prod"]}, "api", "dev", "", "", False),
    (
        "and: both",
        {"applications": ["web"], "namespaces": ["prod"], "andOperator": True},
        "web",
        "prod",
        "",
        "",
        True,
    ),
    (
        "and: name only",
        {"applications": ["web"], "namespaces": ["prod"], "andOperator": True},
        "web",
        "dev",
        "",
        "",
        False,
    ),
    (
        "and: namespace only",
        {"applications": ["web"], "namespaces": ["prod"], "andOperator": True},
        "api",
        "prod",
        "",
        "",
        False,
    ),
    (
        "and: unset lists are ignored",
        {"applications": ["web"], "andOperator": True},
        "web",
        "any",
        "",
        "",
        True,
    ),
    (
        "and: all three",
        {"applications": ["web"], "namespaces": ["prod"], "clusters": ["eu"], "andOperator": True},
        "web",
        "prod",
        "",
        "eu",
        True,
    ),
    (
        "and: cluster misses",
        {"applications": ["web"], "namespaces": ["prod"], "clusters": ["eu"], "andOperator": True},
        "web",
        "prod",
        "",
        "us",
        False,
    ),
    (
        "and: cluster and namespace",
        {"namespaces": ["prod"], "clusters": ["https://k"], "andOperator": True},
        "x",
        "prod",
        "https://k",
        "",
        True,
    ),
]


@pytest.mark.parametrize(
    ("selectors", "name", "namespace", "server", "cluster", "expected"),
    [pytest.param(*row[1:], id=row[0]) for row in MATCHING],
)
def test_a_window_matches_by_name_namespace_or_cluster(
    selectors: dict[str, Any], name: str, namespace: str, server: str, cluster: str, expected: bool
) -> None:
    assert window(**selectors).matches(name, namespace, server, cluster) is expected


@given(st.text(max_size=30))
def test_any_pattern_either_compiles_or_is_our_error_naming_it(pattern: str) -> None:
    try:
        selector = window(applications=[pattern])
    except InvalidSyncWindow as err:
        assert "applications glob" in str(err)
    else:
        assert isinstance(selector.matches(pattern, "", "", ""), bool)
