"""Hold annotations: read with their reasons, mistakes reported (a mistaken hold still holds),
and the merge patches that set and clear them."""

from __future__ import annotations

import json

import pytest

from imageupdater.errors import InvalidInput
from imageupdater.updatepolicy import (
    HOLD_ANNOTATION,
    Holds,
    hold_key,
    hold_patch,
    parse_holds,
    release_patch,
)


def test_no_hold_annotations_hold_nothing() -> None:
    parsed = parse_holds({"argocd-image-updater.argoproj.io/image-list": "web=nginx"}, ["web"])
    assert parsed.holds == Holds() and not parsed.holds.any
    assert parsed.problems == ()


def test_an_application_hold_holds_every_image_with_its_reason() -> None:
    parsed = parse_holds({HOLD_ANNOTATION: "incident 4711"}, ["web", "api"])
    assert parsed.problems == ()
    assert parsed.holds.reason("web") == "incident 4711"
    assert parsed.holds.reason(None) == "incident 4711"


def test_an_alias_hold_holds_that_image_only() -> None:
    parsed = parse_holds({"image-updater.io/hold.web": " 2.0 breaks login "}, ["web", "api"])
    assert parsed.problems == ()
    assert parsed.holds.aliases == (("web", "2.0 breaks login"),)
    assert parsed.holds.reason("web") == "2.0 breaks login"
    assert parsed.holds.reason("api") is None
    assert parsed.holds.reason(None) is None


def test_an_alias_with_a_slash_is_held_under_its_key_spelling() -> None:
    parsed = parse_holds({"image-updater.io/hold.team_web": "frozen"}, ["team/web"])
    assert parsed.problems == ()
    assert parsed.holds.reason("team/web") == "frozen"
    assert hold_key("team/web") == "image-updater.io/hold.team_web"


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_hold_without_a_reason_is_an_error_and_holds_all_the_same(reason: str) -> None:
    parsed = parse_holds({HOLD_ANNOTATION: reason, "image-updater.io/hold.web": reason}, ["web"])
    assert [(p.key, p.severity) for p in parsed.problems] == [
        (HOLD_ANNOTATION, "error"),
        ("image-updater.io/hold.web", "error"),
    ]
    assert "has no reason" in parsed.problems[0].message
    assert parsed.holds.reason("web") == "(no reason given)"


def test_a_hold_on_an_alias_the_image_list_lacks_is_a_warning_with_a_suggestion() -> None:
    parsed = parse_holds({"image-updater.io/hold.frontnd": "x"}, ["frontend", "api"])
    (problem,) = parsed.problems
    assert problem.severity == "warning"
    assert "'frontnd', which the image list does not name (did you mean 'frontend'?)" in (
        problem.message
    )
    assert "aliases in the image list: api, frontend" in problem.message
    assert parsed.holds.reason("frontnd") == "x"


def test_aliases_are_not_checked_when_the_image_list_is_unknown() -> None:
    assert parse_holds({"image-updater.io/hold.anything": "x"}, None).problems == ()


@pytest.mark.parametrize(
    ("key", "words"),
    [
        pytest.param("image-updater.io/holds", "did you mean 'image-updater.io/hold'", id="typo"),
        pytest.param("image-updater.io/hold.", "names no image alias", id="empty-alias"),
    ],
)
def test_a_malformed_hold_key_is_a_warning_and_holds_nothing(key: str, words: str) -> None:
    parsed = parse_holds({key: "x"}, ["web"])
    (problem,) = parsed.problems
    assert problem.severity == "warning" and words in problem.message
    assert not parsed.holds.any


def test_hold_and_release_patches_set_and_clear_the_annotation() -> None:
    app = {"metadata": {"name": "web", "annotations": {"keep": "me"}}}
    held = merge(app, hold_patch("web", " broken on ARM "))
    assert held["metadata"]["annotations"] == {
        "keep": "me",
        "image-updater.io/hold.web": "broken on ARM",
    }
    assert merge(held, release_patch("web")) == app
    whole = merge(app, hold_patch(None, "freeze"))
    assert whole["metadata"]["annotations"][HOLD_ANNOTATION] == "freeze"
    assert json.dumps(release_patch(None)) == (
        '{"metadata": {"annotations": {"image-updater.io/hold": null}}}'
    )


def merge(target: object, patch: object) -> dict[str, object]:
    """RFC 7386, as the API server applies a merge patch."""
    if not isinstance(patch, dict):
        return patch  # type: ignore[return-value]
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key), value)
    return result


def test_a_hold_needs_a_reason_and_a_keyable_alias() -> None:
    with pytest.raises(InvalidInput, match="needs a reason"):
        hold_patch("web", "  ")
    with pytest.raises(InvalidInput, match="is not a valid key"):
        hold_key("x" * 70)
