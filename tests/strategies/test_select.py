"""Choosing a tag per strategy, and never moving below what is running."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imageupdater.errors import InvalidConstraint, InvalidInput
from imageupdater.strategies import Strategy, select
from imageupdater.tags import TagInfo
from imageupdater.versions import Constraint, Version


def tags(*names: str) -> list[TagInfo]:
    return [TagInfo(name) for name in names]


def chosen(result: TagInfo | None) -> str | None:
    return None if result is None else result.name


SEMVER_CASES = [
    # (id, tags, constraint, expected)
    ("highest wins", ["1.0.0", "1.2.0", "1.1.9"], None, "1.2.0"),
    ("non-semver tags are dropped", ["latest", "main", "1.0.0", "abc"], None, "1.0.0"),
    ("nothing semver means no choice", ["latest", "main"], None, None),
    ("no candidates means no choice", [], None, None),
    (
        "empty constraint excludes prereleases",
        ["v2.2.0", "v2.3.0-rc.0.18.g1abb7b5dd-ppc64le"],
        "",
        "v2.2.0",
    ),
    ("no constraint excludes prereleases", ["1.0.0", "2.0.0-rc.1"], None, "1.0.0"),
    ("a prerelease constraint admits them", ["1.0.0", "2.0.0-rc.1"], ">=1.0.0-0", "2.0.0-rc.1"),
    ("rc.10 beats rc.9", ["2.0.0-rc.9", "2.0.0-rc.10"], "2.x-0", "2.0.0-rc.10"),
    ("rc9 beats rc10", ["2.0.0-rc9", "2.0.0-rc10"], "2.x-0", "2.0.0-rc9"),
    ("a partial constraint is a wildcard", ["1.20.0", "1.20.7", "1.21.0"], "1.20", "1.20.7"),
    ("a full version is a pin", ["1.2.3", "1.2.4"], "1.2.3", "1.2.3"),
    ("tilde keeps the minor", ["1.2.0", "1.2.9", "1.3.0"], "~1.2", "1.2.9"),
    ("caret keeps the major", ["1.2.0", "1.9.0", "2.0.0"], "^1.2", "1.9.0"),
    ("or picks from either side", ["1.5.0", "3.1.0", "2.5.0"], "1.x || 3.x", "3.1.0"),
    ("the v prefix does not matter", ["v1.0.0", "v1.10.0", "v1.9.0"], "1.x", "v1.10.0"),
    ("equal versions go to the greatest spelling", ["2.0.0", "v2.0", "v2.0.0"], None, "v2.0.0"),
    ("spelling ties ignore build metadata order", ["1.0.0+b", "1.0.0+a"], None, "1.0.0+b"),
    ("a calendar tag is a huge major", ["20240101", "1.2.3"], None, "20240101"),
    ("nothing allowed means no choice", ["1.0.0", "2.0.0"], "3.x", None),
]


@pytest.mark.parametrize(
    ("names", "constraint", "expected"),
    [pytest.param(t, c, e, id=i) for i, t, c, e in SEMVER_CASES],
)
def test_semver_picks_the_highest_allowed_version(
    names: list[str], constraint: str | None, expected: str | None
) -> None:
    result = select(Strategy.SEMVER, tags(*names), constraint=constraint)
    assert chosen(result) == expected


def test_semver_returns_the_candidate_itself_with_what_is_known_about_it() -> None:
    candidate = TagInfo("1.2.3", digest="sha256:" + "a" * 64)
    assert select(Strategy.SEMVER, [TagInfo("1.0.0"), candidate], constraint=None) is candidate


def test_semver_with_an_invalid_constraint_is_an_error() -> None:
    with pytest.raises(InvalidConstraint):
        select(Strategy.SEMVER, tags("1.0.0"), constraint="latest")


DOWNGRADES = [
    # (id, tags, constraint, current, expected)
    ("upgrade from below", ["1.0.0", "1.1.0"], None, "1.0.0", "1.1.0"),
    ("stay when current is the best", ["1.0.0", "1.1.0"], None, "1.1.0", "1.1.0"),
    (
        "keep current when the constraint only allows older",
        ["1.0.0", "2.0.0"],
        "1.x",
        "2.0.0",
        "2.0.0",
    ),
    ("none when current is gone and only older remain", ["1.0.0", "1.1.0"], None, "2.0.0", None),
    (
        "keep a running prerelease over older releases",
        ["1.9.0", "2.0.0-rc.1"],
        None,
        "2.0.0-rc.1",
        "2.0.0-rc.1",
    ),
    ("move from a prerelease to its release", ["2.0.0-rc.1", "2.0.0"], None, "2.0.0-rc.1", "2.0.0"),
    ("equal precedence is not a downgrade", ["v2.0", "v2.0.0", "2.0.0"], None, "v2.0", "v2.0.0"),
    ("a non-semver current can move anywhere", ["1.0.0", "0.9.0"], None, "latest", "1.0.0"),
    ("no current can move anywhere", ["1.0.0", "0.9.0"], None, None, "1.0.0"),
    ("v-prefixed current compares by version", ["1.5.0", "v1.4.0"], "1.4.x", "v1.5.0", None),
]


@pytest.mark.parametrize(
    ("names", "constraint", "current", "expected"),
    [pytest.param(t, c, cur, e, id=i) for i, t, c, cur, e in DOWNGRADES],
)
def test_semver_never_moves_below_the_running_version(
    names: list[str], constraint: str | None, current: str | None, expected: str | None
) -> None:
    result = select(Strategy.SEMVER, tags(*names), constraint=constraint, current=current)
    assert chosen(result) == expected


T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_newest_build_picks_the_latest_created_and_ignores_the_constraint() -> None:
    candidates = [
        TagInfo("2.0.0", created=T0),
        TagInfo("main-abc", created=T0 + timedelta(hours=2)),
        TagInfo("1.0.1", created=T0 + timedelta(hours=1)),
    ]
    result = select(Strategy.NEWEST_BUILD, candidates, constraint="2.x", current="2.0.0")
    assert chosen(result) == "main-abc"


def test_newest_build_breaks_equal_dates_by_the_greatest_name() -> None:
    candidates = [TagInfo("b", created=T0), TagInfo("c", created=T0), TagInfo("a", created=T0)]
    assert chosen(select(Strategy.NEWEST_BUILD, candidates, constraint=None)) == "c"


def test_newest_build_drops_candidates_without_a_creation_date() -> None:
    candidates = [TagInfo("zzz"), TagInfo("old", created=T0)]
    assert chosen(select(Strategy.NEWEST_BUILD, candidates, constraint=None)) == "old"
    assert select(Strategy.NEWEST_BUILD, [TagInfo("zzz")], constraint=None) is None


def test_newest_build_can_move_to_an_older_version_built_later() -> None:
    candidates = [TagInfo("2.0.0", created=T0), TagInfo("1.0.1", created=T0 + timedelta(days=1))]
    result = select(Strategy.NEWEST_BUILD, candidates, constraint=None, current="2.0.0")
    assert chosen(result) == "1.0.1"


def test_alphabetical_picks_the_lexically_greatest_name_ignoring_the_constraint() -> None:
    candidates = tags("2024-01-02", "2024-01-10", "2023-12-31", "1.9")
    assert chosen(select(Strategy.ALPHABETICAL, candidates, constraint="1.x")) == "2024-01-10"
    assert chosen(select(Strategy.ALPHABETICAL, tags("B", "a", "Z"), constraint=None)) == "a"
    assert select(Strategy.ALPHABETICAL, [], constraint=None) is None


def test_digest_follows_the_tag_named_by_the_constraint() -> None:
    followed = TagInfo("latest", digest="sha256:" + "b" * 64)
    result = select(Strategy.DIGEST, [TagInfo("main"), followed], constraint="latest")
    assert result is followed


def test_digest_without_the_followed_tag_chooses_nothing() -> None:
    assert select(Strategy.DIGEST, tags("main"), constraint="latest") is None


@pytest.mark.parametrize("constraint", [None, ""], ids=["none", "empty"])
def test_digest_without_a_constraint_is_an_error_in_upstream_words(
    constraint: str | None,
) -> None:
    with pytest.raises(InvalidInput) as caught:
        select(Strategy.DIGEST, tags("latest"), constraint=constraint)
    assert "cannot use update strategy 'digest'" in str(caught.value)
    assert "without a version constraint" in str(caught.value)


_TAG_NAMES = st.lists(
    st.one_of(
        st.builds(
            lambda v, a, b, c, pre: f"{v}{a}.{b}.{c}{pre}",
            st.sampled_from(["", "v"]),
            st.integers(0, 4),
            st.integers(0, 4),
            st.integers(0, 4),
            st.sampled_from(["", "", "-rc.1", "-beta"]),
        ),
        st.sampled_from(["latest", "main", "1", "1.2", "v2"]),
    ),
    max_size=15,
)
_CONSTRAINTS = st.sampled_from(
    [
        None,
        "",
        "*",
        "1.x",
        "~1.2",
        "^2",
        ">=1.0.0-0",
        ">1.1 <3",
        "1.0 - 2.0",
        "2.x || 4.x",
        "!=3.0.0",
    ]
)


@given(_TAG_NAMES, _CONSTRAINTS)
def test_the_semver_choice_is_allowed_and_no_allowed_version_is_higher(
    names: list[str], constraint: str | None
) -> None:
    result = select(Strategy.SEMVER, tags(*names), constraint=constraint)
    parsed = Constraint.parse(constraint or "")
    allowed = [v for v in map(Version.parse, names) if v is not None and parsed.allows(v)]
    if result is None:
        assert not allowed
        return
    best = Version.parse(result.name)
    assert best is not None
    assert parsed.allows(best)
    assert all(other <= best for other in allowed)


@given(_TAG_NAMES, _CONSTRAINTS, st.sampled_from(["1.2.3", "v2.0.0", "3.0.0-rc.1", "latest"]))
def test_the_semver_choice_never_has_lower_precedence_than_the_running_version(
    names: list[str], constraint: str | None, current: str
) -> None:
    result = select(Strategy.SEMVER, tags(*names), constraint=constraint, current=current)
    running = Version.parse(current)
    if result is None or running is None:
        return
    picked = Version.parse(result.name)
    assert picked is not None
    assert picked.precedence(running) >= 0
