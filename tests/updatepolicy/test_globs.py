"""A policy glob answers exactly as its RE2 program does, whether a string shortcut or the
remembered answers reply."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imageupdater.syncwindows.globs import compile_glob, glob_matches
from imageupdater.updatepolicy.globs import Glob

# Characters that make every shape: literals (with '.', '/', '-'), stars and the specials.
_PATTERN = st.text(alphabet="ab./-*?[]{},\\\ufffd", max_size=8)
_VALUE = st.text(alphabet="ab./-*?,\n\ufffd\ud800", max_size=10)


def _compiles(pattern: str) -> bool:
    try:
        compile_glob(pattern)
    except ValueError:
        return False
    return True


@settings(max_examples=400, deadline=None)
@given(_PATTERN.filter(_compiles), st.lists(_VALUE, max_size=6))
def test_a_glob_answers_as_its_re2_program_for_every_value(pattern: str, values: list[str]) -> None:
    glob, program = Glob(pattern), compile_glob(pattern)
    for value in values + values:  # the second pass is answered from what was remembered
        assert glob.matches(value) == glob_matches(program, value), (pattern, value)


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("ghcr.io", "ghcr.io", True),
        ("ghcr.io", "ghcr.io.evil", False),
        ("*", "", True),
        ("*", "any/thing\nat all", True),
        ("", "", True),
        ("", "x", False),
        ("team-*", "team-a", True),
        ("team-*", "xteam-a", False),
        ("*.example.com", "registry.example.com", True),
        ("*.example.com", "example.com", False),
        ("*-rc*", "1.0-rc.1", True),
        ("*-rc*", "1.0", False),
        ("**/library/*", "docker.io/library/nginx", True),
        ("{ghcr,quay}.io", "quay.io", True),
        ("v?.*", "v1.2", True),
    ],
)
def test_common_policy_globs_match_as_documented(pattern: str, value: str, expected: bool) -> None:
    assert Glob(pattern).matches(value) is expected


def test_a_malformed_glob_is_refused_even_when_a_shortcut_could_answer_it() -> None:
    with pytest.raises(ValueError, match="never closed"):
        Glob("*{a")


def test_remembered_answers_stay_bounded() -> None:
    glob = Glob("a?c*")
    for i in range(5000):
        glob.matches(f"abc{i}")
    assert glob.matches("abc-x") and not glob.matches("ab")
    assert len(glob._answers) <= 1024
