"""The image-list annotation: entries, aliases, constraints, and when it is required."""

from __future__ import annotations

import pytest

from imageupdater.annotations import PREFIX, parse
from imageupdater.images import ImageRef
from imageupdater.strategies import Strategy
from tests.annotations.builders import key, only_error, only_problem, parse_suffixes

IMAGE_LIST = key("image-list")


def test_an_application_without_our_annotations_is_not_managed() -> None:
    result = parse({"kubernetes.io/description": "x", "other.io/image-list": "nginx"})
    assert result.config is None
    assert result.problems == ()
    assert result.managed is False


def test_a_valid_image_list_gives_one_policy_per_entry_in_order() -> None:
    result = parse_suffixes({"image-list": "web=ghcr.io/org/web:1.x, redis, api=nginx:~1.26"})
    assert result.problems == ()
    assert result.managed is True
    assert result.config is not None
    images = result.config.images
    assert [str(p.image) for p in images] == [
        "web=ghcr.io/org/web:1.x",
        "redis",
        "api=nginx:~1.26",
    ]
    assert [p.alias for p in images] == ["web", None, "api"]
    assert [p.constraint for p in images] == ["1.x", None, "~1.26"]
    assert all(p.strategy is Strategy.SEMVER and p.force_update is False for p in images)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("nginx", [(None, "nginx", None)], id="bare-name"),
        pytest.param("  web = nginx:1.2 ", [("web", "nginx", "1.2")], id="spaces-trimmed"),
        pytest.param(
            "a=nginx,,  ,b=redis",
            [("a", "nginx", None), ("b", "redis", None)],
            id="empty-entries-skipped",
        ),
        pytest.param(
            "nginx:>=1.0 <2.0",
            [(None, "nginx", ">=1.0 <2.0")],
            id="equals-inside-constraint-is-no-alias",
        ),
        pytest.param(
            "web=nginx:>=1.0", [("web", "nginx", ">=1.0")], id="alias-and-operator-constraint"
        ),
        pytest.param(
            "argoproj/argocd=argoproj/argocd",
            [("argoproj/argocd", "argoproj/argocd", None)],
            id="v0-alias-with-slash",
        ),
        pytest.param(
            "my.app-1=localhost:5000/app:1",
            [("my.app-1", "app", "1")],
            id="alias-with-dots-and-registry-port",
        ),
    ],
)
def test_image_list_entries_are_split_into_alias_image_and_constraint(
    value: str, expected: list[tuple[str | None, str, str | None]]
) -> None:
    result = parse_suffixes({"image-list": value})
    assert result.problems == ()
    assert result.config is not None
    assert [(p.alias, p.image.name, p.constraint) for p in result.config.images] == expected


def test_a_digest_pinned_entry_keeps_its_digest() -> None:
    digest = "sha256:" + "a" * 64
    result = parse_suffixes({"image-list": f"web=nginx@{digest}"})
    assert result.config is not None
    assert result.config.images[0].image == ImageRef("", "nginx", None, digest, "web")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(
            " , , ",
            "' , , ' lists no image; expected a comma-separated list of "
            "[<alias>=]<image>[:<constraint>] or <image>@<digest>, e.g. "
            "'web=ghcr.io/org/web:1.x, redis'",
            id="only-empty-entries",
        ),
        pytest.param(
            "=nginx",
            "entry '=nginx' has an empty alias before '='; expected a comma-separated list of "
            "[<alias>=]<image>[:<constraint>] or <image>@<digest>, e.g. "
            "'web=ghcr.io/org/web:1.x, redis'",
            id="empty-alias",
        ),
        pytest.param(
            "web=",
            "entry 'web=' has no image after 'web='; expected a comma-separated list of "
            "[<alias>=]<image>[:<constraint>] or <image>@<digest>, e.g. "
            "'web=ghcr.io/org/web:1.x, redis'",
            id="empty-image",
        ),
        pytest.param(
            "a=b=nginx",
            "entry 'a=b=nginx' has more than one '='; expected a comma-separated list of "
            "[<alias>=]<image>[:<constraint>] or <image>@<digest>, e.g. "
            "'web=ghcr.io/org/web:1.x, redis'",
            id="two-equals",
        ),
        pytest.param(
            "my app=nginx",
            "entry 'my app=nginx': alias 'my app' must be letters, digits, '-', '_', '.' or '/', "
            "starting and ending with a letter or digit",
            id="alias-with-space",
        ),
        pytest.param(
            "web=nginx, web=redis",
            "alias 'web' is used by more than one entry ('web=nginx' and 'web=redis'); "
            "each alias must be unique",
            id="duplicate-alias",
        ),
        pytest.param(
            "a/b=nginx, a_b=redis",
            "alias 'a_b' is used by more than one entry ('a/b=nginx' and 'a_b=redis'); "
            "each alias must be unique (in keys '/' is written '_')",
            id="aliases-equal-after-v0-normalisation",
        ),
    ],
)
def test_malformed_image_lists_are_errors_naming_the_entry(value: str, message: str) -> None:
    problem = only_error(parse_suffixes({"image-list": value}))
    assert problem.key == IMAGE_LIST
    assert problem.message == message


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("Nginx", id="upper-case-repository"),
        pytest.param("web=ngi nx", id="whitespace-in-name"),
        pytest.param("nginx@sha256:abc", id="short-digest"),
        pytest.param("web=nginx:", id="empty-tag"),
    ],
)
def test_an_invalid_image_reference_is_an_error_quoting_the_reference(value: str) -> None:
    problem = only_error(parse_suffixes({"image-list": value}))
    assert problem.key == IMAGE_LIST
    ref_text = value.partition("=")[2] or value
    assert f"invalid image reference {ref_text!r}" in problem.message
    assert "[registry[:port]/]name" in problem.message  # what would be accepted


def test_a_repeated_unaliased_image_is_a_warning() -> None:
    result = parse_suffixes({"image-list": "nginx, nginx"})
    problem = only_problem(result)
    assert (problem.key, problem.severity) == (IMAGE_LIST, "warning")
    assert problem.message == "image 'nginx' is listed more than once"
    assert result.config is not None
    assert len(result.config.images) == 1


def test_any_of_our_keys_without_image_list_is_an_error() -> None:
    result = parse({PREFIX + "update-strategy": "semver"})
    problem = only_error(result)
    assert problem.key == IMAGE_LIST
    assert problem.message == (
        "is missing: an Application with image-updater annotations must list its images, "
        "e.g. 'web=ghcr.io/org/web:1.x'"
    )
    assert result.managed is True


def test_without_image_list_per_alias_values_are_still_checked() -> None:
    result = parse_suffixes({"web.force-update": "yes"})
    assert [p.key for p in result.errors] == [IMAGE_LIST, key("web.force-update")]


def test_long_values_are_shortened_in_messages() -> None:
    value = "=" + "x" * 300
    problem = only_error(parse_suffixes({"image-list": value}))
    assert "x" * 100 not in problem.message
    assert "...'" in problem.message
