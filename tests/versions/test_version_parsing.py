"""Reading tags as versions the way Masterminds/semver v3.4.0 ``NewVersion`` does."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imageupdater.versions import Version

PARSES = [
    # (tag, major, minor, patch, prerelease, build)
    ("1", 1, 0, 0, "", ""),
    ("v1", 1, 0, 0, "", ""),
    ("1.2", 1, 2, 0, "", ""),
    ("v1.0", 1, 0, 0, "", ""),
    ("1.2.3", 1, 2, 3, "", ""),
    ("v1.2.3", 1, 2, 3, "", ""),
    ("1.2.3-rc.1+build", 1, 2, 3, "rc.1", "build"),
    ("1.2-5", 1, 2, 0, "5", ""),
    ("v1.2-beta.5", 1, 2, 0, "beta.5", ""),
    ("1.2.0-x.Y.0+metadata-width-hypen", 1, 2, 0, "x.Y.0", "metadata-width-hypen"),
    ("1.2.3-rc1-with-hypen", 1, 2, 3, "rc1-with-hypen", ""),
    ("1.2.3-alpha.-1", 1, 2, 3, "alpha.-1", ""),
    ("1.2.3+test.01", 1, 2, 3, "", "test.01"),
    ("01.1.1", 1, 1, 1, "", ""),
    ("1.01.1", 1, 1, 1, "", ""),
    ("1.1.01", 1, 1, 1, "", ""),
    ("2147483648.3.0", 2147483648, 3, 0, "", ""),
    ("18446744073709551615", 18446744073709551615, 0, 0, "", ""),
    ("20240101", 20240101, 0, 0, "", ""),
    ("20221209-update-renovatejson-v4", 20221209, 0, 0, "update-renovatejson-v4", ""),
]


@pytest.mark.parametrize(
    ("tag", "major", "minor", "patch", "prerelease", "build"),
    [pytest.param(*row, id=row[0]) for row in PARSES],
)
def test_a_semver_ish_tag_parses_into_its_parts(
    tag: str, major: int, minor: int, patch: int, prerelease: str, build: str
) -> None:
    version = Version.parse(tag)
    assert version is not None
    assert (version.major, version.minor, version.patch) == (major, minor, patch)
    assert (version.prerelease, version.build) == (prerelease, build)
    assert version.original == tag
    assert str(version) == tag


NOT_VERSIONS = [
    ("", "empty"),
    ("latest", "a word"),
    ("abc", "letters"),
    ("foo", "another word"),
    ("1.2.3.4", "four parts"),
    ("v1.2.3.4", "four parts with v"),
    ("12.3.4.1234", "four parts long"),
    ("1.2.beta", "a word as patch"),
    ("V1.2.3", "an upper-case V"),
    ("\n1.2", "a leading newline"),
    ("1.2.3\n", "a trailing newline"),
    (" 1.2.3", "a leading space"),
    ("1.2.3-alpha.01", "a prerelease number with a leading zero"),
    ("1.2.3-0123", "a numeric prerelease with a leading zero"),
    ("1.2.31----RC-SNAPSHOT.12.09.1--.12+788", "a leading zero deep in the prerelease"),
    ("1.1.2+.123", "an empty build identifier"),
    ("1.0.0-alpha_beta", "an underscore in the prerelease"),
    ("1.0.0-alpha..1", "an empty prerelease identifier"),
    ("1.0.0-alpha..", "empty trailing prerelease identifiers"),
    ("9.8.7+meta+meta", "two build parts"),
    ("1.2.3-", "an empty prerelease"),
    ("1.2.3+", "an empty build"),
    ("+invalid", "only a build"),
    ("-invalid", "only a prerelease"),
    ("v", "only a v"),
    ("1..2", "an empty minor"),
    ("1.", "a trailing dot"),
    ("18446744073709551616", "a major past uint64"),
    ("1.２.3", "a non-ASCII digit"),
]


@pytest.mark.parametrize(("tag", "why"), NOT_VERSIONS, ids=[why for _, why in NOT_VERSIONS])
def test_a_tag_that_is_not_semver_ish_does_not_parse(tag: str, why: str) -> None:
    assert Version.parse(tag) is None, why


def test_versions_are_equal_and_hash_alike_only_when_written_alike() -> None:
    assert Version.parse("v1.2.3") == Version.parse("v1.2.3")
    assert hash(Version.parse("v1.2.3")) == hash(Version.parse("v1.2.3"))
    assert Version.parse("v1.2.3") != Version.parse("1.2.3")
    assert len({Version.parse("1.2"), Version.parse("1.2.0"), Version.parse("1.2")}) == 2


_IDENT = st.text("abcXYZ-0123456789", min_size=1, max_size=5)
_NUMBER = st.integers(0, 10**6)


@given(
    st.booleans(),
    _NUMBER,
    st.one_of(st.none(), _NUMBER),
    st.one_of(st.none(), _NUMBER),
    st.lists(_IDENT, max_size=3),
    st.lists(_IDENT, max_size=3),
)
def test_any_well_formed_tag_round_trips_its_numbers(
    v: bool,
    major: int,
    minor: int | None,
    patch: int | None,
    pre: list[str],
    build: list[str],
) -> None:
    if minor is None:
        patch = None
    pre = [p for p in pre if not (len(p) > 1 and p.startswith("0") and p.isdigit())]
    text = ("v" if v else "") + str(major)
    text += "" if minor is None else f".{minor}"
    text += "" if patch is None else f".{patch}"
    text += f"-{'.'.join(pre)}" if pre else ""
    text += f"+{'.'.join(build)}" if build else ""
    version = Version.parse(text)
    assert version is not None
    assert (version.major, version.minor, version.patch) == (major, minor or 0, patch or 0)
    assert version.prerelease == ".".join(pre)
    assert version.build == ".".join(build)


@given(st.text(max_size=30))
def test_parsing_never_raises_and_keeps_the_original(text: str) -> None:
    version = Version.parse(text)
    assert version is None or version.original == text
