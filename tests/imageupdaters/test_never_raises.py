"""Property: whatever JSON it is given, ``parse`` returns problems, never raises; whatever it
accepts can be matched against any Application without raising either."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imageupdater.imageupdaters import bind_all, parse
from tests.imageupdaters.builders import image, ref, resource

# Text with lone surrogates and the characters our grammars care about.
TEXT = st.text(
    st.one_of(
        st.characters(),
        st.sampled_from("*?[]\\:/=,.-_{}@ \n\ud800\udfff"),
    ),
    max_size=24,
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), TEXT)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(TEXT, inner, max_size=4),
    ),
    max_leaves=12,
)


def full() -> dict[str, Any]:
    """A resource using every field, for mutation."""
    return resource(
        ref(
            "web-*",
            image(
                "web",
                "ghcr.io/org/web:latest",
                commonUpdateSettings={"updateStrategy": "digest", "platforms": ["linux/amd64"]},
                manifestTargets={"helm": {"name": "image.repository", "tag": "image.tag"}},
                imagesVerification={"cosignKey": {"secretName": "k", "key": "cosign.pub"}},
            ),
            labelSelectors={
                "matchLabels": {"env": "prod"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe"]}],
            },
            writeBackConfig={"gitConfig": {"branch": "main", "pullRequest": {"github": {}}}},
        ),
        ref("legacy", useAnnotations=True),
        commonUpdateSettings={
            "updateStrategy": "semver",
            "forceUpdate": False,
            "ignoreTags": ["dev"],
        },
        writeBackConfig={"method": "git", "gitConfig": {"repository": "https://g/r.git"}},
        imagesVerification={"enabled": False},
        applied={"applicationRefs": [{"namePattern": "web-*"}]},
    )


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def replaced(obj: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    out = copy.deepcopy(obj)
    target = out
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return out


APPS = st.lists(
    st.one_of(
        JSON,
        st.fixed_dictionaries(
            {
                "metadata": st.fixed_dictionaries(
                    {"name": TEXT, "namespace": st.just("argocd"), "labels": JSON}
                )
            }
        ),
    ),
    max_size=4,
)


def check(obj: Any, apps: list[Any]) -> None:
    result = parse(obj)
    assert all(isinstance(p.key, str) and p.message for p in result.problems)
    if result.updater is not None:
        bind_all(result.updater, [a for a in apps if isinstance(a, dict)])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON, APPS)
def test_parse_never_raises_on_arbitrary_json(obj: Any, apps: list[Any]) -> None:
    check(obj, apps)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), APPS)
def test_parse_never_raises_when_any_part_of_a_full_resource_is_replaced(
    data: st.DataObject, apps: list[Any]
) -> None:
    obj = full()
    path = data.draw(st.sampled_from(paths(obj)))
    check(replaced(obj, path, data.draw(JSON)), apps)


def test_the_full_resource_used_for_mutation_is_itself_valid() -> None:
    result = parse(full())
    assert not result.errors, result.errors
    assert result.updater is not None
