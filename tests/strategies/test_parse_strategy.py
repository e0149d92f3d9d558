"""Reading update-strategy names, including upstream's deprecated aliases."""

from __future__ import annotations

import pytest

from imageupdater.errors import InvalidInput, InvalidStrategy
from imageupdater.strategies import Strategy, parse_strategy

NAMES = [
    ("semver", Strategy.SEMVER),
    ("SemVer", Strategy.SEMVER),
    ("newest-build", Strategy.NEWEST_BUILD),
    ("Newest-Build", Strategy.NEWEST_BUILD),
    ("alphabetical", Strategy.ALPHABETICAL),
    ("ALPHABETICAL", Strategy.ALPHABETICAL),
    ("digest", Strategy.DIGEST),
    ("Digest", Strategy.DIGEST),
]


@pytest.mark.parametrize(("text", "strategy"), NAMES, ids=[text for text, _ in NAMES])
def test_a_current_name_in_any_case_is_its_strategy_without_warning(
    text: str, strategy: Strategy
) -> None:
    assert parse_strategy(text) == (strategy, None)


ALIASES = [
    ("latest", Strategy.NEWEST_BUILD, "newest-build"),
    ("Latest", Strategy.NEWEST_BUILD, "newest-build"),
    ("name", Strategy.ALPHABETICAL, "alphabetical"),
    ("NAME", Strategy.ALPHABETICAL, "alphabetical"),
]


@pytest.mark.parametrize(
    ("text", "strategy", "replacement"), ALIASES, ids=[text for text, _, _ in ALIASES]
)
def test_a_deprecated_alias_works_and_says_what_to_write_instead(
    text: str, strategy: Strategy, replacement: str
) -> None:
    parsed, warning = parse_strategy(text)
    assert parsed is strategy
    assert warning == f"update strategy {text!r} is deprecated, use {replacement!r}"


UNKNOWN = ["semvar", "newest", "newest_build", "", " semver", "lexical", "digests"]


@pytest.mark.parametrize("text", UNKNOWN, ids=[repr(t) for t in UNKNOWN])
def test_an_unknown_strategy_is_an_error_listing_the_accepted_names(text: str) -> None:
    with pytest.raises(InvalidStrategy) as caught:
        parse_strategy(text)
    message = str(caught.value)
    assert repr(text) in message
    for name in ["semver", "newest-build", "alphabetical", "digest", "latest", "name"]:
        assert name in message
    assert isinstance(caught.value, InvalidInput)


def test_only_newest_build_and_digest_need_manifest_metadata() -> None:
    assert {s for s in Strategy if s.needs_metadata} == {Strategy.NEWEST_BUILD, Strategy.DIGEST}


def test_a_strategy_is_its_annotation_spelling() -> None:
    assert [str(s) for s in Strategy] == ["semver", "newest-build", "alphabetical", "digest"]
