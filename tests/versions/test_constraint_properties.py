"""Properties of constraints that must hold for every version, not just the listed ones."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from imageupdater.errors import InvalidConstraint
from imageupdater.versions import Constraint, Version

_N = st.integers(0, 12)
_PRERELEASES = st.sampled_from(["alpha", "beta.1", "rc.2", "0", "rc10"])


@st.composite
def versions(draw: st.DrawFn, *, prerelease: bool | None = None) -> Version:
    """Versions with a prerelease sometimes (None), never (False) or always (True)."""
    text = f"{draw(st.sampled_from(['', 'v']))}{draw(_N)}.{draw(_N)}.{draw(_N)}"
    pre = "" if prerelease is False else draw(_PRERELEASES)
    if prerelease is None and draw(st.booleans()):
        pre = ""
    version = Version.parse(text + (f"-{pre}" if pre else ""))
    assert version is not None
    return version


@given(_N, _N, versions())
def test_tilde_major_minor_allows_exactly_that_minor_from_its_zero_patch_on(
    major: int, minor: int, version: Version
) -> None:
    allowed = Constraint.parse(f"~{major}.{minor}").allows(version)
    expected = not version.prerelease and (version.major, version.minor) == (major, minor)
    assert allowed == expected


@given(versions(prerelease=False), versions(prerelease=False))
def test_at_least_a_release_allows_exactly_the_releases_not_below_it(
    bound: Version, version: Version
) -> None:
    allowed = Constraint.parse(f">={bound.original}").allows(version)
    assert allowed == (version.precedence(bound) >= 0)
    assert Constraint.parse(f"<{bound.original}").allows(version) == (not allowed)


@given(versions(), versions(prerelease=True))
def test_a_release_bound_never_lets_a_prerelease_through(bound: Version, version: Version) -> None:
    release_bound = f"{bound.major}.{bound.minor}.{bound.patch}"
    for op in ["", "=", "!=", ">", "<", ">=", "<=", "~", "^"]:
        assert not Constraint.parse(op + release_bound).allows(version), op


@given(st.integers(1, 12), _N, _N, versions(prerelease=False))
def test_caret_above_zero_allows_the_same_major_from_the_bound_on(
    major: int, minor: int, patch: int, version: Version
) -> None:
    allowed = Constraint.parse(f"^{major}.{minor}.{patch}").allows(version)
    at_least = (version.major, version.minor, version.patch) >= (major, minor, patch)
    assert allowed == (version.major == major and at_least)


@given(versions(prerelease=False), versions(prerelease=False), versions())
def test_a_hyphen_range_is_the_same_as_at_least_and_at_most(
    low: Version, high: Version, version: Version
) -> None:
    hyphen = Constraint.parse(f"{low.original} - {high.original}")
    spelled = Constraint.parse(f">={low.original}, <={high.original}")
    assert hyphen.allows(version) == spelled.allows(version)


_SIMPLE = st.builds(
    lambda op, a, b, c: f"{op}{a}.{b}.{c}",
    st.sampled_from(["", ">", "<", ">=", "<=", "!=", "~", "^"]),
    _N,
    _N,
    _N,
)


@given(_SIMPLE, _SIMPLE, versions(prerelease=False))
def test_or_is_union_and_and_is_intersection_for_releases(
    left: str, right: str, version: Version
) -> None:
    a = Constraint.parse(left).allows(version)
    b = Constraint.parse(right).allows(version)
    assert Constraint.parse(f"{left} || {right}").allows(version) == (a or b)
    assert Constraint.parse(f"{left}, {right}").allows(version) == (a and b)
    assert Constraint.parse(f"{left} {right}").allows(version) == (a and b)


@given(st.text(alphabet=" .,|-~^<>=!*xXv0123456789abc+", max_size=25))
def test_parsing_arbitrary_text_either_succeeds_or_raises_invalid_constraint(text: str) -> None:
    try:
        constraint = Constraint.parse(text)
    except InvalidConstraint as err:
        assert "\n" not in str(err)
    else:
        assert constraint.text == text
        version = Version.parse("1.2.3")
        assert version is not None
        constraint.allows(version)
