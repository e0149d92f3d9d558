"""What each strategy needs and does, answered by the strategy itself."""

from __future__ import annotations

import pytest

from imageupdater.strategies import Strategy, missing_followed_tag

# strategy: follows_digest, follows_one_tag, uses_constraint, constraint_is_semver,
#           lists_tags, needs_metadata, choice_depends_on_tags_only, never_downgrades
TABLE = {
    Strategy.SEMVER: (False, False, True, True, True, False, True, True),
    Strategy.NEWEST_BUILD: (False, False, False, False, True, True, False, False),
    Strategy.ALPHABETICAL: (False, False, False, False, True, False, True, False),
    Strategy.DIGEST: (True, True, True, False, False, True, False, False),
}
NAMES = (
    "follows_digest",
    "follows_one_tag",
    "uses_constraint",
    "constraint_is_semver",
    "lists_tags",
    "needs_metadata",
    "choice_depends_on_tags_only",
    "never_downgrades",
)


@pytest.mark.parametrize("strategy", list(Strategy))
def test_each_strategy_states_its_capabilities(strategy: Strategy) -> None:
    assert tuple(getattr(strategy, name) for name in NAMES) == TABLE[strategy]


def test_a_choice_can_be_remembered_exactly_when_no_manifest_is_read() -> None:
    for strategy in Strategy:
        assert strategy.choice_depends_on_tags_only is not strategy.needs_metadata


def test_the_missing_followed_tag_reads_in_upstream_words_and_says_how_to_fix_it() -> None:
    error = missing_followed_tag("'web=ghcr.io/acme/web'", name="ghcr.io/acme/web")
    assert str(error) == (
        "cannot use update strategy 'digest' for image 'web=ghcr.io/acme/web' without a "
        "version constraint (the tag to follow); write the image as <image>:<tag>, "
        "e.g. 'ghcr.io/acme/web:latest'"
    )
