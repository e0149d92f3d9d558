"""Whole-Application behaviour: every problem at once, the result contract, and properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imageupdater.annotations import PREFIX, ParseResult, parse
from imageupdater.annotations.keys import APP_KEYS, IMAGE_OPTIONS
from imageupdater.errors import InvalidAnnotations
from imageupdater.policy import WriteBackTarget, split_branch
from imageupdater.strategies import Strategy
from tests.annotations.builders import key, parse_suffixes


def test_an_application_with_three_mistakes_gets_three_problems() -> None:
    result = parse_suffixes(
        {
            "image-list": "web=nginx:1.x, api=redis",
            "web.update-stratgy": "semver",
            "api.force-update": "yes",
            "write-back-method": "svn",
        }
    )
    assert result.config is None
    assert [(p.key, p.severity) for p in result.problems] == [
        (key("api.force-update"), "error"),
        (key("web.update-stratgy"), "error"),
        (key("write-back-method"), "error"),
    ]


def test_errors_and_warnings_are_reported_together() -> None:
    result = parse_suffixes(
        {
            "image-list": "web=nginx",
            "web.update-strategy": "latest",
            "web.platforms": "linux",
            "git-branch": "main",
        }
    )
    assert [(p.key, p.severity) for p in result.problems] == [
        (key("git-branch"), "warning"),
        (key("web.platforms"), "error"),
        (key("web.update-strategy"), "warning"),
    ]
    assert len(result.errors) == 1 and len(result.warnings) == 2


def test_image_list_problems_come_first() -> None:
    result = parse_suffixes({"image-list": "=x", "allow-tags": "nope"})
    assert [p.key for p in result.problems] == [key("image-list"), key("allow-tags")]


def test_raise_for_errors_carries_every_error_and_no_warning() -> None:
    result = parse_suffixes(
        {
            "image-list": "web=nginx",
            "web.force-update": "maybe",
            "web.allow-tag": "any",
            "web.update-strategy": "name",
        }
    )
    with pytest.raises(InvalidAnnotations) as caught:
        result.raise_for_errors()
    assert caught.value.problems == result.errors
    assert len(caught.value.problems) == 2
    assert str(caught.value).startswith(key("web.allow-tag") + ": unknown annotation")


def test_raise_for_errors_is_silent_for_warnings_only() -> None:
    result = parse_suffixes({"image-list": "web=nginx", "web.update-strategy": "name"})
    result.raise_for_errors()
    assert result.config is not None
    assert result.config.images[0].strategy is Strategy.ALPHABETICAL


def test_messages_fit_on_one_line() -> None:
    result = parse_suffixes({"image-list": "web=nginx\nredis", "web.allow-tags": "regexp:(\n"})
    assert result.problems
    assert all("\n" not in str(p) for p in result.problems)


# --- properties -------------------------------------------------------------------------

_suffixes = st.one_of(
    st.sampled_from(APP_KEYS),
    st.builds(
        lambda alias, option: f"{alias}.{option}",
        st.sampled_from(["web", "api", "a/b", "a_b", "x.y", ""]),
        st.sampled_from(IMAGE_OPTIONS),
    ),
    st.text(max_size=30),
)
_values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "web=nginx:1.x, api=redis",
            "digest",
            "latest",
            "true",
            "regexp:^v",
            "regexp:(",
            "git:secret:ns/x",
            "kustomization:../base",
            "linux/amd64,linux",
            "main:{{.SHA256}}",
            "pullsecret:ns/name",
        ]
    ),
)
_annotations = st.dictionaries(
    st.one_of(st.builds(lambda s: PREFIX + s, _suffixes), st.text(max_size=20)),
    _values,
    max_size=8,
)


@settings(max_examples=400, deadline=None)
@given(_annotations, st.one_of(st.none(), st.sampled_from(["argocd", "ns"])))
def test_the_parser_never_raises_it_only_reports_problems(
    annotations: dict[str, str], namespace: str | None
) -> None:
    result = parse(annotations, namespace=namespace)
    assert isinstance(result, ParseResult)
    managed = any(k.startswith(PREFIX) for k in annotations)
    assert result.managed is managed
    if result.errors:
        assert result.config is None
    if managed and not result.errors:
        assert result.config is not None
    if not managed:
        assert result.problems == () and result.config is None
    for problem in result.problems:
        assert problem.key.startswith(PREFIX)
        assert problem.message


_alias = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)
_bools = st.sampled_from(
    ["1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_alias, _bools), min_size=1, max_size=5, unique_by=lambda t: t[0]))
def test_each_alias_gets_its_own_force_update_value(pairs: list[tuple[str, str]]) -> None:
    annotations = {"image-list": ", ".join(f"{alias}=org/{alias}" for alias, _ in pairs)}
    annotations.update({f"{alias}.force-update": value for alias, value in pairs})
    result = parse_suffixes(annotations)
    assert result.problems == ()
    assert result.config is not None
    assert [(p.alias, p.force_update) for p in result.config.images] == [
        (alias, value in {"1", "t", "T", "TRUE", "true", "True"}) for alias, value in pairs
    ]


_branch_part = st.from_regex(r"[a-z0-9][a-z0-9/_-]{0,15}", fullmatch=True)


@given(_branch_part, st.one_of(st.none(), _branch_part))
def test_split_branch_recovers_base_and_target(base: str, target: str | None) -> None:
    text = base if target is None else f"{base}:{target}"
    assert split_branch(text) == (base, target)


@given(st.text(max_size=30))
def test_split_branch_and_write_back_target_accept_any_text(text: str) -> None:
    base, target = split_branch(text)
    assert text.startswith(base)
    if target is not None:
        assert text == f"{base}:{target}"
    target = WriteBackTarget.parse(text)
    kind, path = target.kind, target.path
    assert kind in ("override", "kustomization", "helmvalues")
    if kind == "override" and text:
        assert path == text
