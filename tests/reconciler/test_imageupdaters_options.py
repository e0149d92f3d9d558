"""``--watch-namespaces``: upstream's flag, variable and ConfigMap key, read as upstream reads
them, and where Applications are indexed as a result."""

from __future__ import annotations

import pytest

from imageupdater.errors import InvalidInput
from reconciler.imageupdaters import application_namespaces
from reconciler.options import watch_namespaces


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [
        pytest.param(None, {}, ("argocd",), id="default-is-argocd-outside-a-pod"),
        pytest.param(None, {"POD_NAMESPACE": "tools"}, ("tools",), id="default-is-own-namespace"),
        pytest.param("", {"POD_NAMESPACE": "tools"}, ("tools",), id="empty-is-own-namespace"),
        pytest.param("a, b,a", {}, ("a", "b"), id="a-comma-list"),
        pytest.param("*", {}, None, id="star-is-every-namespace"),
        pytest.param(None, {"IMAGE_UPDATER_WATCH_NAMESPACES": "x,y"}, ("x", "y"), id="env"),
        pytest.param("z", {"IMAGE_UPDATER_WATCH_NAMESPACES": "x"}, ("z",), id="flag-wins"),
    ],
)
def test_watch_namespaces_reads_as_upstream(
    flag: str | None, env: dict[str, str], expected: tuple[str, ...] | None
) -> None:
    assert watch_namespaces(flag, env) == expected


@pytest.mark.parametrize(
    ("flag", "words"),
    [
        pytest.param("a,,b", "'' is not a namespace name", id="empty-item"),
        pytest.param("Team_A", "'Team_A' is not a namespace name", id="not-dns"),
        pytest.param("a,*", "'*' means every namespace and stands alone", id="star-in-a-list"),
    ],
)
def test_a_bad_watch_namespaces_is_refused_naming_the_flag(flag: str, words: str) -> None:
    with pytest.raises(InvalidInput, match="--watch-namespaces") as caught:
        watch_namespaces(flag, {})
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("annotations", "watched", "indexed"),
    [
        pytest.param((), ("argocd",), (), id="annotations-everywhere"),
        pytest.param(("argocd",), ("team-a",), ("argocd", "team-a"), id="both-lists"),
        pytest.param(("argocd",), None, (), id="resources-everywhere"),
    ],
)
def test_applications_are_indexed_where_either_reader_needs_them(
    annotations: tuple[str, ...], watched: tuple[str, ...] | None, indexed: tuple[str, ...]
) -> None:
    assert application_namespaces(annotations, watched) == indexed
