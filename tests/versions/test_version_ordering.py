"""How versions sort: semver precedence, then the tag as written."""

from __future__ import annotations

import pytest
import semver
from hypothesis import given
from hypothesis import strategies as st

from imageupdater.versions import Version


def v(text: str) -> Version:
    version = Version.parse(text)
    assert version is not None, text
    return version


LOWER_FIRST = [
    ("1.2.3", "1.5.1"),
    ("1.5.1", "2.2.3"),
    ("2.2.2", "2.2.3"),
    ("1.1.4", "1.3"),
    ("4.2-beta", "4.2"),
    ("4.2-alpha", "4.2-beta"),
    ("4.2-beta.1", "4.2-beta.2"),
    ("4.2-beta1", "4.2-beta2"),
    ("4.2-beta", "4.2-beta.2"),
    ("4.2-beta", "4.2-beta.foo"),
    ("1.0.0-rc.9", "1.0.0-rc.10"),
    ("1.0.0-rc10", "1.0.0-rc9"),
    ("1.0.0-beta.4", "1.0.0-beta.-2"),
    ("1.0.0-beta.-2", "1.0.0-beta.-3"),
    ("7.43.0-SNAPSHOT.99", "7.43.0-SNAPSHOT.103"),
    ("7.43.0-SNAPSHOT.103", "7.43.0-SNAPSHOT.FOO"),
    ("1.0.0-alpha", "1.0.0-alpha.1"),
    ("1.0.0-alpha.1", "1.0.0-alpha.beta"),
    ("1.0.0-beta.11", "1.0.0-rc.1"),
    ("1.0.0-rc.1", "1.0.0"),
    ("9.9.9", "10.0.0"),
]


@pytest.mark.parametrize(
    ("lower", "higher"), [pytest.param(lo, hi, id=f"{lo} < {hi}") for lo, hi in LOWER_FIRST]
)
def test_precedence_follows_semver(lower: str, higher: str) -> None:
    assert v(lower) < v(higher)
    assert v(higher) > v(lower)
    assert v(lower).precedence(v(higher)) == -1
    assert v(higher).precedence(v(lower)) == 1


def test_build_metadata_and_spelling_do_not_change_precedence() -> None:
    assert v("1.2+bar").precedence(v("1.2+baz")) == 0
    assert v("v2.0").precedence(v("2.0.0")) == 0


def test_equal_versions_sort_by_the_tag_as_written() -> None:
    tags = ["v2.0.0", "2.0.0", "v2.0", "1.9.9", "v2.0.1"]
    ordered = sorted(v(t) for t in tags)
    assert [str(x) for x in ordered] == ["1.9.9", "2.0.0", "v2.0", "v2.0.0", "v2.0.1"]
    assert str(max(v(t) for t in ["v2.0", "v2.0.0", "2.0.0"])) == "v2.0.0"


def test_a_version_is_neither_less_nor_greater_than_itself() -> None:
    a, b = v("1.2.3-rc.1"), v("1.2.3-rc.1")
    assert a <= b and a >= b
    assert not a < b and not a > b


# Version strings drawn from pieces that stress ties (v prefix, missing parts, build),
# each with its strict semver spelling for the reference implementation.
_PRE_IDENT = st.sampled_from(
    ["alpha", "beta", "rc", "0", "1", "2", "10", "9", "rc9", "rc10", "x-y"]
)
_CORES = {"1": "1.0.0", "1.0": "1.0.0", "1.0.0": "1.0.0", "1.2": "1.2.0", "1.2.3": "1.2.3"}
_CORES |= {"2": "2.0.0", "2.0.0": "2.0.0", "0.0.1": "0.0.1", "10.1.1": "10.1.1"}


@st.composite
def _tags(draw: st.DrawFn) -> tuple[str, str]:
    core = draw(st.sampled_from(sorted(_CORES)))
    pre = ".".join(draw(st.lists(_PRE_IDENT, max_size=3)))
    build = draw(st.sampled_from(["", "b1", "b2"]))
    suffix = (f"-{pre}" if pre else "") + (f"+{build}" if build else "")
    return draw(st.sampled_from(["", "v"])) + core + suffix, _CORES[core] + suffix


@given(_tags(), _tags())
def test_ordering_agrees_with_the_semver_package_before_tie_breaking(
    a: tuple[str, str], b: tuple[str, str]
) -> None:
    ours = v(a[0]).precedence(v(b[0]))
    theirs = semver.Version.parse(a[1]).compare(semver.Version.parse(b[1]))
    assert ours == theirs
    if ours == 0:
        assert (v(a[0]) < v(b[0])) == (a[0] < b[0])
    else:
        assert (v(a[0]) < v(b[0])) == (ours < 0)


@given(_tags(), _tags(), _tags())
def test_ordering_is_a_total_order(
    a: tuple[str, str], b: tuple[str, str], c: tuple[str, str]
) -> None:
    x, y, z = v(a[0]), v(b[0]), v(c[0])
    assert (x <= y) or (y <= x)
    assert (x < y) + (x == y) + (x > y) == 1
    assert (x == y) == (a[0] == b[0])
    if x <= y and y <= z:
        assert x <= z
    if x < y:
        assert not y < x


@given(st.lists(_tags(), max_size=12))
def test_sorting_is_deterministic_whatever_the_input_order(tags: list[tuple[str, str]]) -> None:
    forward = [str(x) for x in sorted(v(t) for t, _ in tags)]
    backward = [str(x) for x in sorted(v(t) for t, _ in reversed(tags))]
    assert forward == backward
