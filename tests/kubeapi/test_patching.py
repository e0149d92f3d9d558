"""Patch bodies: JSON merge patch per RFC 7386, JSON patch per RFC 6902, media types."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devcluster.kubeapi.patching import PatchType, apply_patch, merge_patch, patch_type
from devcluster.kubeapi.status import ApiError


@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [
        pytest.param({"a": "b"}, {"a": "c"}, {"a": "c"}, id="replace"),
        pytest.param({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}, id="add"),
        pytest.param({"a": "b"}, {"a": None}, {}, id="null-deletes"),
        pytest.param({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}, id="null-deletes-one"),
        pytest.param({"a": ["b"]}, {"a": "c"}, {"a": "c"}, id="array-replaced-by-scalar"),
        pytest.param({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}, id="scalar-replaced-by-array"),
        pytest.param({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}, id="deep"),
        pytest.param({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}, id="arrays-are-atomic"),
        pytest.param({"e": None}, {"a": 1}, {"e": None, "a": 1}, id="existing-null-kept"),
        pytest.param({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}, id="nested-null-new"),
    ],
)
def test_merge_patch_follows_the_rfc_7386_examples(target: Any, patch: Any, result: Any) -> None:
    assert merge_patch(target, patch) == result


_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=3)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)
_objects = st.dictionaries(st.text(max_size=3), _json, max_size=4)


@given(_objects, _objects)
def test_a_merge_patch_applied_twice_changes_nothing_the_second_time(
    target: dict[str, Any], patch: dict[str, Any]
) -> None:
    once = merge_patch(target, patch)
    assert merge_patch(once, patch) == once


@given(_objects)
def test_an_empty_merge_patch_is_a_no_op(target: dict[str, Any]) -> None:
    assert merge_patch(target, {}) == target


def test_a_failed_json_patch_test_is_422() -> None:
    with pytest.raises(ApiError) as exc:
        apply_patch(
            {"spec": {"a": 1}}, [{"op": "test", "path": "/spec/a", "value": 2}], PatchType.JSON
        )
    assert exc.value.code == 422


def test_an_object_sent_as_json_patch_is_400_like_the_api_server() -> None:
    with pytest.raises(ApiError) as exc:
        apply_patch({"spec": {}}, {"spec": {"a": 1}}, PatchType.JSON)
    assert exc.value.code == 400
    assert "cannot unmarshal object" in exc.value.message


@pytest.mark.parametrize(
    ("content_type", "custom", "expected"),
    [
        pytest.param("application/merge-patch+json", True, PatchType.MERGE, id="merge"),
        pytest.param("application/json-patch+json; charset=utf-8", True, PatchType.JSON, id="json"),
        pytest.param("application/apply-patch+yaml", True, PatchType.APPLY, id="apply"),
        pytest.param(
            "application/strategic-merge-patch+json", False, PatchType.STRATEGIC, id="smp-builtin"
        ),
    ],
)
def test_the_patch_type_comes_from_the_content_type(
    content_type: str, custom: bool, expected: PatchType
) -> None:
    assert patch_type(content_type, custom=custom) is expected


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param("application/strategic-merge-patch+json", id="smp-on-custom-resource"),
        pytest.param("application/json", id="plain-json"),
    ],
)
def test_any_other_patch_media_type_is_415(content_type: str) -> None:
    with pytest.raises(ApiError) as exc:
        patch_type(content_type, custom=True)
    assert exc.value.code == 415
