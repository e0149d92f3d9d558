"""Small builders shared by the annotation tests."""

from __future__ import annotations

from imageupdater.annotations import PREFIX, ParseResult, parse
from imageupdater.problems import Problem


def key(suffix: str) -> str:
    return PREFIX + suffix


def parse_suffixes(pairs: dict[str, str], *, namespace: str | None = None) -> ParseResult:
    """Parse annotations given by their suffix after PREFIX."""
    return parse({key(suffix): value for suffix, value in pairs.items()}, namespace=namespace)


def only_problem(result: ParseResult) -> Problem:
    assert len(result.problems) == 1, result.problems
    return result.problems[0]


def only_error(result: ParseResult) -> Problem:
    assert len(result.errors) == 1, result.problems
    assert result.config is None
    return result.errors[0]
