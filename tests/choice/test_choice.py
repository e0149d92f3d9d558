"""What runs, what is written, and when an image needs an update: one decision for all."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imageupdater.choice import (
    ChosenImage,
    RunningVersion,
    chosen_image,
    live_entry,
    outdated_choices,
    running_version,
)
from imageupdater.images import ImageRef
from imageupdater.policy import ImagePolicy, KustomizeTarget
from imageupdater.strategies import Strategy

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64


def policy(ref: str = "ghcr.io/acme/web", strategy: Strategy = Strategy.SEMVER) -> ImagePolicy:
    image = ImageRef.parse(ref)
    return ImagePolicy(image=image, strategy=strategy, constraint=image.tag)


@pytest.mark.parametrize(
    ("text", "tag", "digest"),
    [
        ("1.2.3", "1.2.3", None),
        (f"1.2.3@{A}", "1.2.3", A),
        (f"@{A}", None, A),
    ],
)
def test_a_version_reads_as_tag_digest_or_both_and_prints_as_written(
    text: str, tag: str | None, digest: str | None
) -> None:
    version = RunningVersion.parse(text)
    assert version is not None
    assert (version.tag, version.digest) == (tag, digest)
    assert str(version) == text


@pytest.mark.parametrize("text", [None, "", "@", 7])
def test_nothing_to_read_is_no_version(text: object) -> None:
    assert RunningVersion.parse(text) is None


@given(st.text(alphabet="abc1.-_", min_size=1, max_size=8), st.sampled_from([None, A, B]))
def test_printing_and_reading_a_version_round_trips(tag: str, digest: str | None) -> None:
    version = RunningVersion(tag, digest)
    again = RunningVersion.parse(str(version))
    assert again is not None and (again.tag, again.digest) == (tag, digest)


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        ("1.0", "1.0", True),
        ("1.0", "1.1", False),
        # Either side with a digest: digests alone decide, tags are ignored (upstream §5.4).
        (f"1.0@{A}", f"2.0@{A}", True),
        (f"1.0@{A}", f"1.0@{B}", False),
        (f"1.0@{A}", "1.0", False),
        ("1.0", f"1.0@{A}", False),
        (f"@{A}", f"latest@{A}", True),
    ],
)
def test_versions_compare_as_upstream_compares_images(left: str, right: str, same: bool) -> None:
    a, b = RunningVersion.parse(left), RunningVersion.parse(right)
    assert (a == b) is same
    if same:
        assert hash(a) == hash(b)


@pytest.mark.parametrize(
    ("strategy", "written"),
    [
        (Strategy.SEMVER, "1.1.0"),
        (Strategy.ALPHABETICAL, "1.1.0"),
        # newest-build reads a digest on the way; writing it made every next cycle rewrite.
        (Strategy.NEWEST_BUILD, "1.1.0"),
        (Strategy.DIGEST, f"1.1.0@{A}"),
    ],
)
def test_only_a_strategy_that_follows_digests_writes_one(strategy: Strategy, written: str) -> None:
    choice = chosen_image(policy(strategy=strategy), "1.1.0", A)
    assert choice is not None and str(choice.version) == written


def test_nothing_resolved_is_nothing_to_write() -> None:
    assert chosen_image(policy(), None, A) is None


def test_the_override_is_what_runs_before_the_live_image() -> None:
    live = ImageRef.parse("ghcr.io/acme/web:1.0.0")
    override = RunningVersion("1.1.0")
    assert running_version(policy(), override, live) == override
    assert running_version(policy(), None, live) == RunningVersion("1.0.0")
    assert running_version(policy(), None, None) is None


def test_a_live_image_known_by_digest_alone_gets_the_followed_tag_back() -> None:
    digest_policy = policy("ghcr.io/acme/web:latest", Strategy.DIGEST)
    live = ImageRef.parse(f"ghcr.io/acme/web@{A}")
    running = running_version(digest_policy, None, live)
    assert running is not None and str(running) == f"latest@{A}"


def test_a_kustomize_rename_finds_the_live_image_by_its_kustomize_name() -> None:
    renamed = ImagePolicy(
        image=ImageRef.parse("ghcr.io/acme/web"), kustomize=KustomizeTarget(name="web")
    )
    live = (ImageRef.parse("web:1.0"), ImageRef.parse("ghcr.io/acme/web:0.9"))
    assert live_entry(renamed, live) == live[0]


def test_nothing_is_written_while_every_image_runs_its_choice() -> None:
    web, api = policy("ghcr.io/acme/web"), policy("ghcr.io/acme/api")
    pairs = [
        (RunningVersion("1.0"), ChosenImage(web, "1.0")),
        (RunningVersion("2.0"), ChosenImage(api, "2.0")),
    ]
    assert outdated_choices(pairs) == []


def test_once_one_image_is_outdated_every_image_is_set() -> None:
    web, api = policy("ghcr.io/acme/web"), policy("ghcr.io/acme/api")
    pairs = [
        (RunningVersion("1.0"), ChosenImage(web, "1.0")),
        (None, ChosenImage(api, "2.0")),
    ]
    assert [c.policy for c in outdated_choices(pairs)] == [web, api]
