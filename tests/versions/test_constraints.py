"""The Masterminds/semver v3.4.0 constraint language, case by case.

Most rows are the upstream library's own test tables (constraints_test.go), so a change in
behaviour shows up as a named row here.
"""

from __future__ import annotations

import pytest

from imageupdater.errors import InvalidConstraint, InvalidInput
from imageupdater.versions import Constraint, Version


def v(text: str) -> Version:
    version = Version.parse(text)
    assert version is not None, text
    return version


def rows(table: str) -> list[object]:
    """``constraint | version | yes/no`` lines into parameters with readable ids."""
    params: dict[str, object] = {}
    for line in table.strip().splitlines():
        constraint, version, expected = (cell.strip() for cell in line.rsplit("|", 2))
        allowed = expected == "yes"
        test_id = f"{constraint!r} {'allows' if allowed else 'rejects'} {version}"
        params[test_id] = pytest.param(constraint, version, allowed, id=test_id)
    return list(params.values())


def check(constraint: str, version: str, allowed: bool) -> None:
    assert Constraint.parse(constraint).allows(v(version)) is allowed


EQUALITY = """
=2.0.0 | 1.2.3 | no
=2.0.0 | 2.0.0 | yes
=2.0 | 1.2.3 | no
=2.0 | 2.0.0 | yes
=2.0 | 2.0.1 | yes
= 2.0 | 2.0.0 | yes
4.1 | 4.1.0 | yes
4.1.x | 4.1.3 | yes
1.x | 1.4 | yes
1.2.3 | 1.2.3 | yes
1.2.3 | 1.2.4 | no
v1.2.3 | 1.2.3 | yes
1.2.3 | v1.2.3 | yes
1.2.3 | 1.2.3+build.7 | yes
1.20 | 1.20.5 | yes
1.20 | 1.21.0 | no
1 | 1.99.0 | yes
1 | 2.0.0 | no
=0 | 1 | no
0.x.x | 1.2.3 | no
0.0.x | 1.2.3 | no
0.0.0 | 1.2.3 | no
2 | 1 | no
2 | 3.4.5 | no
2 | 2.1.1 | yes
2.1 | 2.1.1 | yes
2.1 | 2.2.1 | no
1.x.3 | 1.9.0 | yes
"""

NOT_EQUAL = """
!=4.1.0 | 4.1.0 | no
!=4.1.0 | 4.1.1 | yes
!=4.1 | 4.1.0 | no
!=4.1 | 4.1.1 | no
!=4.1 | 5.1.0 | yes
!=4.1 | 5.1.0-alpha.1 | no
!=4.1-alpha | 4.1.0 | yes
!=4.1-alpha | 4.1.0-alpha | no
!=4.1-alpha | 4.1.1-alpha | no
!=4.x | 5.1.0 | yes
!=4.x | 4.1.0 | no
!=4.1.x | 4.2.0 | yes
!=4.2.x | 4.2.3 | no
!=1.2.3 | v1.2.3 | no
"""

GREATER = """
>1.1 | 4.1.0 | yes
>1.1 | 1.1.0 | no
>1.1 | 1.1.9 | no
>1.1 | 1.2.0 | yes
>0 | 0 | no
>0 | 1 | yes
>0 | 0.0.1-alpha | no
>0.0 | 0.0.1-alpha | no
>0-0 | 0.0.1-alpha | no
>0.0-0 | 0.0.1-alpha | no
>0 | 0.0.0-alpha | no
>0-0 | 0.0.0-alpha | no
>0.0.0-0 | 0.0.0-alpha | yes
>1.2.3-alpha.1 | 1.2.3-alpha.2 | yes
>1.2.3-alpha.1 | 1.3.3-alpha.2 | yes
>11 | 11.1.0 | no
>11 | 12.0.0 | yes
>11.1 | 11.1.0 | no
>11.1 | 11.1.1 | no
>11.1 | 11.2.1 | yes
>1.x | 1.9.9 | no
>1.x | 2.0.0 | yes
>* | 0.0.0 | no
>* | 0.0.1 | yes
>1.2.3 | 1.2.3-beta.1 | no
>=11 | 11.1.2 | yes
>=11.1 | 11.1.2 | yes
>=11.1 | 11.0.2 | no
>=1.1 | 4.1.0 | yes
>=1.1 | 1.1.0 | yes
>=1.1 | 0.0.9 | no
>=1.1 | 4.1.0-beta | no
>=0 | 0.0.1-alpha | no
>=0.0 | 0.0.1-alpha | no
>=0-0 | 0.0.1-alpha | yes
>=0.0-0 | 0.0.1-alpha | yes
>=0 | 0.0.0-alpha | no
>=0-0 | 0.0.0-alpha | yes
>=0.0.0-0 | 0.0.0-alpha | yes
>=0.0.0-0 | 1.2.3 | yes
>=0.0.0-0 | 3.4.5-beta.1 | yes
>=1.0.0-0 | 1.5.0-rc.1 | yes
>=0 | 0 | yes
=>1.2 | 1.2.0 | yes
=>1.2 | 1.1.9 | no
>= v1.2 | 1.3.0 | yes
>=1.x | 1.0.0 | yes
"""

LESS = """
<11 | 0.1.0 | yes
<11 | 11.1.0 | no
<1.1 | 0.1.0 | yes
<1.1 | 1.1.0 | no
<1.1 | 1.1.1 | no
<1.x | 1.1.1 | no
<1.x | 0.1.1 | yes
<1.x | 2.0.0 | no
<2.x | 1.1.1 | yes
<1.1.x | 1.2.1 | no
<1.1.x | 1.1.500 | no
<1.1.x | 1.0.500 | yes
<1.2.x | 1.1.1 | yes
<0 | 0.0.0-alpha | no
<0-z | 0.0.0-alpha | yes
<2.0.0 | 2.0.0-rc.1 | no
<2.0.0-0 | 2.0.0-rc.1 | no
<2.0.0-0 | 1.9.0-rc.1 | yes
<2.0.0-rc.2 | 2.0.0-rc.1 | yes
<=11 | 1.2.3 | yes
<=11 | 12.2.3 | no
<=11 | 11.2.3 | yes
<=1.1 | 1.2.3 | no
<=1.1 | 0.1.0 | yes
<=1.1 | 1.1.0 | yes
<=1.1 | 1.1.1 | yes
<=1.1 | 0.1.0-alpha | no
<=1.1-a | 0.1.0-alpha | yes
<=1.x | 1.1.0 | yes
<=2.x | 3.0.0 | no
<=2.x | 3.1.0 | no
<=1.1.x | 1.2.500 | no
<=4.5 | 3.4.0 | yes
<=4.5 | 3.7.0 | yes
<=4.5 | 4.6.3 | no
=<1.2 | 1.2.9 | yes
=<1.2 | 1.3.0 | no
<=1.2.3 | 1.2.3 | yes
<=1.2.3 | 1.2.4 | no
"""

TILDE = """
~1.2.3 | 1.2.4 | yes
~1.2.3 | 1.2.5 | yes
~1.2.3 | 1.2.2 | no
~1.2.3 | 1.3.2 | no
~1.2.3 | 1.3.4 | no
~1.2 | 1.2.0 | yes
~1.2 | 1.2.4 | yes
~1.2 | 1.3.0 | no
~1.2 | 1.3.4 | no
~1 | 1.2.4 | yes
~1 | 1.4 | yes
~1 | 2.0.0 | no
~1 | 2.3.4 | no
~1 | 0.9.0 | no
~1.x | 2.1.1 | no
~1.x | 1.3.5 | yes
~1.x | 1.3.5-beta | no
~0.2.3 | 0.2.5 | yes
~0.2.3 | 0.3.5 | no
~* | 2.1.1 | yes
~0.0.0 | 1.2.3 | yes
~1.1 | 1.1.1 | yes
~1.1 | 1.1.1-alpha | no
~1.1 | 1.2.3 | no
~1.3 | 2.4.5 | no
~1.1-alpha | 1.1.1-beta | yes
~1.1.1-beta | 1.1.1-alpha | no
~1.1.1-beta | 1.1.1 | yes
~1.2.3-beta.2 | 1.2.3-beta.4 | yes
~1.2.3-beta.2 | 1.2.4-beta.2 | yes
~1.2.3-beta.2 | 1.3.4-beta.2 | no
~1.3.6-alpha | 1.3.5-beta | no
~1.3.5-alpha | 1.3.5-beta | yes
~>1 | 1.9.0 | yes
~>1.2 | 1.3.0 | no
~>1.2.3 | 1.2.9 | yes
"""

CARET = """
^1.2.3 | 1.8.9 | yes
^1.2.3 | 2.8.9 | no
^1.2.3 | 1.2.1 | no
^1.1.0 | 2.1.0 | no
^1.2.0 | 2.2.1 | no
^1.2.0 | 1.2.1-alpha.1 | no
^1.2.0-alpha.0 | 1.2.1-alpha.1 | yes
^1.2.0-alpha.0 | 1.2.1-alpha.0 | yes
^1.2.0-alpha.2 | 1.2.0-alpha.1 | no
^1.2 | 1.8.9 | yes
^1.2 | 2.8.9 | no
^1.1 | 1.1.1 | yes
^1.1 | 4.3.2 | no
^1.1 | 1.1.1-alpha | no
^1 | 1.8.9 | yes
^1 | 2.8.9 | no
^1.x | 1.1.1 | yes
^2.x | 1.1.1 | no
^1.x | 2.1.1 | no
^1.x | 1.1.1-beta1 | no
^1.1.2-alpha | 1.2.1-beta1 | yes
^1.1.1-alpha | 1.1.1-beta | yes
^1.1.1-beta | 1.1.1-alpha | no
^1.2.x-alpha | 1.1.1-beta1 | no
^0.2.3 | 0.2.5 | yes
^0.2.3 | 0.2.3 | yes
^0.2.3 | 0.3.0 | no
^0.2.3 | 0.5.6 | no
^0.2 | 0.2.5 | yes
^0.2 | 0.5.6 | no
^0.2 | 0.3.0 | no
^0.2 | 0.1.1 | no
^0.0.3 | 0.0.3 | yes
^0.0.3 | 0.0.4 | no
^0.0.3 | 0.0.2 | no
^0.0.3 | 0.1.1 | no
^0.0.1 | 0.0.1 | yes
^0.0.1 | 0.3.1 | no
^0.0 | 0.0.3 | yes
^0.0 | 0.1.4 | no
^0.0 | 1.0.4 | no
^0 | 0.2.3 | yes
^0 | 1.1.4 | no
^0.0.0 | 1.2.3 | no
^0.2.3-beta.2 | 0.2.3-beta.4 | yes
^0.2.3-beta.2 | 0.2.4-beta.2 | yes
^0.2.3-beta.2 | 0.3.4-beta.2 | no
^0.2.3-beta.2 | 0.2.3-beta.2 | yes
^1.12.7 | 1.6.6 | no
"""

WILDCARDS = """
* | 1 | yes
* | 4.5.6 | yes
* | 1.2.3 | yes
* | 0.0.0 | yes
* | 1.2.3-alpha.1 | no
*-0 | 1.2.3-alpha.1 | yes
x | 7.0.0 | yes
X | 7.0.0 | yes
2.* | 1 | no
2.* | 3.4.5 | no
2.* | 2.1.1 | yes
2.x | 2.0.0 | yes
2.X | 2.9.9 | yes
2.x-0 | 2.1.0-beta | yes
2.x-0 | 3.0.0-beta | no
2.1.* | 2.1.1 | yes
2.1.* | 2.2.1 | no
1.2.x | 1.2.0-rc.1 | no
v1.x | 1.5.0 | yes
 | 1 | yes
 | 4.5.6 | yes
 | 1.2.3-alpha.1 | no
"""

COMBINED = """
>1.1, <2 | 1.1.1 | no
>1.1, <2 | 1.2.1 | yes
>1.1, <3 | 4.3.2 | no
>=1.1, <2, !=1.2.3 | 1.2.3 | no
>1.1 <2 | 1.1.1 | no
>1.1 <2 | 1.2.1 | yes
>1.1    <3 | 4.3.2 | no
>=1.1    <2    !=1.2.3 | 1.2.3 | no
>=1.1, <2, !=1.2.3 || > 3 | 4.1.2 | yes
>=1.1, <2, !=1.2.3 || > 3 | 3.1.2 | no
>=1.1, <2, !=1.2.3 || >= 3 | 3.0.0 | yes
>=1.1, <2, !=1.2.3 || > 3 | 3.0.0 | no
>=1.1, <2, !=1.2.3 || > 3 | 1.2.3 | no
>=1.1 <2 !=1.2.3 || > 3 | 4.1.2 | yes
> 1.1, <     2 | 1.1.1 | no
>   1.1, <2 | 1.2.1 | yes
>= 1.1 <2 != 1.2.3 || >= 3 | 3.0.0 | yes
>=1.1 < 2 !=1.2.3 || > 3 | 1.2.3 | no
>=1.0 ,<2.0 | 1.5.0 | yes
12.3.34 ~1.2.3 | 12.3.34 | no
1.1 - 2 | 1.1.1 | yes
1.1 - 2 | 2.9.9 | yes
1.1 - 2 | 3.0.0 | no
1.1 - 3 | 4.3.2 | no
1.5.0 - 4.5 | 3.7.0 | yes
1.2 - 1.4.5 | 1.2.0 | yes
1.2 - 1.4.5 | 1.4.5 | yes
1.2 - 1.4.5 | 1.4.6 | no
1.2 - 1.4.5 | 1.1.9 | no
v1.2 - v1.4 | 1.4.9 | yes
3 - 4 || => 3.0, < 4 | 4.5.0 | yes
1 - 2 3 - 4 | 2.5.0 | no
1 - 2, 2 - 3 | 2.5.0 | yes
1 - 2 >1.5 | 1.7.0 | yes
1.1-3 | 4.3.2 | no
1.0 || 3.0 | 3.0.7 | yes
1.0 || 3.0 | 2.0.0 | no
"""

PRERELEASE_GROUPS = """
>=1.0.0-0 <2.0.0 | 1.5.0-rc.1 | yes
>=1.0.0 <2.0.0-0 | 1.5.0-rc.1 | yes
>=1.0.0 <2.0.0 | 1.5.0-rc.1 | no
>=1.0.0-0 <2.0.0 || >=3 | 3.1.0-rc.1 | no
>=1.0.0 || >=3.0.0-0 | 3.1.0-rc.1 | yes
>=1.0.0 || >=3.0.0-0 | 1.5.0-rc.1 | no
"""


@pytest.mark.parametrize(("constraint", "version", "allowed"), rows(EQUALITY))
def test_plain_and_partial_versions_pin_or_act_as_wildcards(
    constraint: str, version: str, allowed: bool
) -> None:
    check(constraint, version, allowed)


@pytest.mark.parametrize(("constraint", "version", "allowed"), rows(NOT_EQUAL))
def test_not_equal_excludes_a_version_or_a_wildcard_range(
    constraint: str, version: str, allowed: bool
) -> None:
    check(constraint, version, allowed)


@pytest.mark.parametrize(("constraint", "version", "allowed"), rows(GREATER))
def test_greater_than_and_at_least_compare_against_the_filled_in_version(
    constraint: str, version: str, allowed: bool
) -> None:
    check(constraint, version, allowed)


@pytest.mark.parametrize(("constraint", "version", "allowed"), rows(LESS))
def test_less_than_and_at_most_compare_against_the_filled_in_version(
    constraint: str, version: str, allowed: bool
) -> None:
    check(constraint, version, allowed)


@pytest.mark.parametrize(("constraint", "version", "allowed"), rows(TILDE))
def test_tilde_allows_patch_level_changes(constraint: str, version: str, allowed: bool) -> None:
    check(constraint, version, allowed)


@pytest.mark.parametrize(("constraint", "version", "allowed"), rows(CARET))
def test_caret_allows_changes_that_keep_the_leftmost_nonzero_part(
    constraint: str, version: str, allowed: bool
) -> None:
    check(constraint, version, allowed)


@pytest.mark.parametrize(("constraint", "version", "allowed"), rows(WILDCARDS))
def test_wildcards_and_the_empty_constraint_match_releases_only(
    constraint: str, version: str, allowed: bool
) -> None:
    check(constraint, version, allowed)


@pytest.mark.parametrize(("constraint", "version", "allowed"), rows(COMBINED))
def test_and_or_and_hyphen_ranges_combine_comparisons(
    constraint: str, version: str, allowed: bool
) -> None:
    check(constraint, version, allowed)


@pytest.mark.parametrize(("constraint", "version", "allowed"), rows(PRERELEASE_GROUPS))
def test_one_prerelease_comparison_lets_prereleases_into_its_whole_and_group(
    constraint: str, version: str, allowed: bool
) -> None:
    check(constraint, version, allowed)


INVALID = [
    ("latest", "is not a version"),
    ("foo", "is not a version"),
    (">= bar", "is not a version"),
    ("BAR >= 1.2.3", "is not a version"),
    (">>1", "unknown operator '>>'"),
    ("=>=1", "unknown operator '=>='"),
    ("!1.2", "unknown operator '!'"),
    ("1.2.3.4", "more than three version parts"),
    ("12.3.4.1234", "more than three version parts"),
    ("12.3.34~ 1.2.3", "expected a space or ','"),
    (">=1.0<2.0", "expected a space or ','"),
    ("1.2 ||", "after a '||' is empty"),
    ("|| 1.2", "before the first '||' is empty"),
    ("1.2 || || 2", "after a '||' is empty"),
    ("1.2,", "ends with a comma"),
    ("1.2,, 1.3", "is not a version"),
    (", 1.2", "is not a version"),
    ("1.x1", "neither a number nor a wildcard"),
    ("x.1x", "neither a number nor a wildcard"),
    ("**", "neither a number nor a wildcard"),
    ("1|2", "neither a number nor a wildcard"),
    ("1.2.3-01", "leading zero"),
    ("> 1 - 2", "takes no operator"),
    (">=1.0 1 - 2", "must open the constraint or follow a comma"),
    ("1 - ", "missing at the end"),
    ("1 -2", "is not a version"),
    ("V1.2", "is not a version"),
    ("1.2.3-", "expected a space or ','"),
    ("99999999999999999999.0", "too large"),
]


@pytest.mark.parametrize(("text", "reason"), INVALID, ids=[text for text, _ in INVALID])
def test_a_malformed_constraint_is_an_error_that_says_why_and_shows_a_valid_one(
    text: str, reason: str
) -> None:
    with pytest.raises(InvalidConstraint) as caught:
        Constraint.parse(text)
    message = str(caught.value)
    assert repr(text) in message
    assert reason in message
    assert "'>=1.2.0, <2.0.0'" in message
    assert "\n" not in message
    assert isinstance(caught.value, InvalidInput)


def test_tilde_arrow_is_the_tilde_operator_as_in_masterminds() -> None:
    tilde, arrow = Constraint.parse("~1.2"), Constraint.parse("~>1.2")
    for tag in ["1.1.9", "1.2.0", "1.2.7", "1.3.0", "2.0.0"]:
        assert tilde.allows(v(tag)) == arrow.allows(v(tag)), tag


def test_a_constraint_keeps_its_text() -> None:
    assert Constraint.parse(">= 1.2, <2").text == ">= 1.2, <2"
    assert str(Constraint.parse("~1.4")) == "~1.4"
