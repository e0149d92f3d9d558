"""Text JSON can carry but no image name can: refused with the usual error, never a crash."""

from __future__ import annotations

import pytest

from imageupdater.annotations import parse
from imageupdater.errors import InvalidImageReference
from imageupdater.images import ImageRef


@pytest.mark.parametrize("text", ["a\ud800", "web=nginx:\udfff", "\ud83d/app:1.0"])
def test_a_lone_surrogate_is_an_invalid_reference(text: str) -> None:
    with pytest.raises(InvalidImageReference, match="lone UTF-16 surrogate"):
        ImageRef.parse(text)


def test_an_image_list_with_a_lone_surrogate_is_a_problem_not_an_exception() -> None:
    result = parse({"argocd-image-updater.argoproj.io/image-list": "web=nginx\ud800:1.x"})
    assert result.config is None
    assert "lone UTF-16 surrogate" in result.errors[0].message


def test_other_non_ascii_text_gets_the_ordinary_error() -> None:
    with pytest.raises(InvalidImageReference) as caught:
        ImageRef.parse("nginx:é")
    assert "surrogate" not in str(caught.value)
