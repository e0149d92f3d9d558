"""Resolving a semver policy parses each tag and asks the constraint about it once, and
chooses exactly what a straightforward reading of the rules chooses."""

from __future__ import annotations

import asyncio
import collections
import itertools
from collections.abc import Iterator, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devcluster.faultregistry import FaultRegistry
from imageupdater.images import ImageRef
from imageupdater.platforms import Platform
from imageupdater.policy import ImagePolicy
from imageupdater.registries_conf import RegistriesConf
from imageupdater.registry import ClientSettings, RegistryClient
from imageupdater.resolver import Resolution, resolve
from imageupdater.strategies import Strategy, select, select_allowed, semver_allowed
from imageupdater.tags import AllowTags, TagFilter, TagInfo
from imageupdater.versions import Constraint, Version

SETTINGS = ClientSettings(tls_cert_dir=None, backoff=0.01)
AMD64 = (Platform("linux", "amd64"),)
CONSTRAINTS = [
    "",
    "*",
    "~1.2",
    "^1",
    ">=1.0.0-0",
    "1.x || 3.x",
    ">=1.2.0, <3",
    "2.0.0-rc.1 - 2.5",
    "!=1.2.3",
    "<0.5",
    "=2.0.0",
]


class CountingConstraint:
    """A constraint that notes every version it is asked about."""

    def __init__(self, text: str) -> None:
        self.inner = Constraint.parse(text)
        self.asked: collections.Counter[str] = collections.Counter()

    def allows(self, version: Version, /) -> bool:
        self.asked[version.original] += 1
        return self.inner.allows(version)


def many_tags(count: int) -> list[str]:
    """Versions in several spellings, prereleases, builds, and names that are no version."""
    names = []
    for i in range(count):
        a, b, c = i // 400, (i // 20) % 20, i % 20
        shapes = [f"v{a}.{b}.{c}", f"{a}.{b}.{c}-rc.{i % 7}", f"sha-{i:08x}", f"{a}.{i}"]
        names.append((*shapes, f"{a}.{b}.{c}+b{i}")[i % 5])
    assert len(set(names)) == count
    return names


def versions_among(names: Sequence[str]) -> set[str]:
    return {name for name in names if Version.parse(name) is not None}


def test_semver_allowed_asks_the_constraint_once_per_version_among_20000_tags() -> None:
    names = many_tags(20_000)
    constraint = CountingConstraint(">=1.2.0, <40.0.0 || ~50.1")
    allowed = semver_allowed([TagInfo(name) for name in names], constraint)
    chosen = select_allowed(allowed, current="v1.0.0")
    assert set(constraint.asked) == versions_among(names)
    assert set(constraint.asked.values()) == {1}
    assert sum(constraint.asked.values()) == len(versions_among(names)) == 16_000
    assert chosen is not None and chosen.name == reference(names, constraint.inner, "v1.0.0")[0]


async def test_a_resolve_over_20000_tags_asks_the_constraint_once_per_candidate(
    fault_registry: FaultRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = many_tags(20_000)
    fault_registry.add_tags("big", names)
    host = fault_registry.url.removeprefix("http://")
    conf = RegistriesConf.parse(
        f"registries:\n- name: f\n  prefix: {host}\n  api_url: {fault_registry.url}\n",
        source="test",
    )
    text = ">=1.2.0, <40.0.0 || ~50.1"
    policy = ImagePolicy(image=ImageRef.parse(f"{host}/big"), constraint=text, platforms=AMD64)
    asked: collections.Counter[str] = collections.Counter()
    allows = Constraint.allows

    def counting(self: Constraint, version: Version) -> bool:
        asked[version.original] += 1
        return allows(self, version)

    # Our own class, wrapped: resolve() parses the constraint itself, so the count is taken
    # where every evaluation must pass.
    monkeypatch.setattr(Constraint, "allows", counting)
    async with RegistryClient(settings=SETTINGS) as client:
        result = await resolve(policy, client=client, conf=conf, current_tag="v1.0.0")
        endpoint = conf.lookup(policy.image.registry, policy.image.repository)
        listed = await client.list_tags(endpoint, "big")  # cached: the order resolve saw
    assert set(asked) == versions_among(names)
    assert set(asked.values()) == {1}
    monkeypatch.undo()
    tag, candidates = reference(listed, Constraint.parse(text), "v1.0.0")
    assert (result.tag, result.candidates) == (tag, candidates)


# -- the same choices as a straightforward reading of the rules ----------------------------------


def reference(
    names: Sequence[str],
    constraint: Constraint,
    current: str | None,
    pool: Sequence[str] | None = None,
) -> tuple[str | None, tuple[str, ...]]:
    """(chosen, allowed): the highest allowed version (ties: the greatest spelling); never
    below ``current`` when that is a version, else ``current`` itself if in ``pool``."""
    versions = {name: Version.parse(name) for name in names}
    allowed = [
        (version, name)
        for name, version in versions.items()
        if version is not None and constraint.allows(version)
    ]
    if not allowed:
        return None, ()
    best_version, best = max(allowed, key=lambda pair: pair[0])  # the first of equals
    listed = tuple(name for _, name in allowed)
    running = Version.parse(current) if current else None
    if running is not None and best_version.precedence(running) < 0:
        searched = listed if pool is None else pool
        return (current if current in searched else None), listed
    return best, listed


version_names = st.builds(
    lambda v, parts, pre, build: v + ".".join(str(p) for p in parts) + pre + build,
    st.sampled_from(["", "v"]),
    st.lists(st.integers(0, 4), min_size=1, max_size=3),
    st.sampled_from(["", "", "-rc.1", "-rc.10", "-rc.9", "-alpha", "-0"]),
    st.sampled_from(["", "", "+build.5", "+b"]),
)
tag_names = st.one_of(version_names, st.sampled_from(["latest", "main", "sha-1abc", "v", "1.x"]))
tag_lists = st.lists(tag_names, unique=True, max_size=25)
currents = st.one_of(st.none(), version_names, st.sampled_from(["latest", ""]))
filters = st.sampled_from(
    [
        TagFilter(),
        TagFilter(AllowTags.parse("regexp:^v"), ()),
        TagFilter.parse(None, ["*-rc*"]),
        TagFilter.parse("regexp:^[0-9]", ["*+*"]),
    ]
)


@given(names=tag_lists, text=st.sampled_from(CONSTRAINTS), current=currents)
def test_select_chooses_as_the_reference_does(
    names: list[str], text: str, current: str | None
) -> None:
    constraint = Constraint.parse(text)
    expected, _ = reference(names, constraint, current, pool=names)
    chosen = select(Strategy.SEMVER, [TagInfo(n) for n in names], constraint=text, current=current)
    assert (chosen.name if chosen else None) == expected


@pytest.fixture(scope="module")
def shared_registry() -> Iterator[FaultRegistry]:
    registry = FaultRegistry()
    registry.start()
    yield registry
    registry.stop()


_repos = itertools.count()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names=tag_lists, text=st.sampled_from(CONSTRAINTS), current=currents, tag_filter=filters)
def test_resolve_chooses_and_lists_as_the_reference_does(
    shared_registry: FaultRegistry,
    names: list[str],
    text: str,
    current: str | None,
    tag_filter: TagFilter,
) -> None:
    repository = f"prop/r{next(_repos)}"
    if names:
        shared_registry.add_tags(repository, names)
    host = shared_registry.url.removeprefix("http://")
    conf = RegistriesConf.parse(
        f"registries:\n- name: f\n  prefix: {host}\n  api_url: {shared_registry.url}\n",
        source="test",
    )
    policy = ImagePolicy(
        image=ImageRef.parse(f"{host}/{repository}"),
        constraint=text or None,
        tag_filter=tag_filter,
        platforms=AMD64,
    )

    async def run() -> tuple[tuple[str, ...], Resolution]:
        async with RegistryClient(settings=SETTINGS) as client:
            endpoint = conf.lookup(policy.image.registry, policy.image.repository)
            listed = await client.list_tags(endpoint, repository)  # the registry's order
            return listed, await resolve(policy, client=client, conf=conf, current_tag=current)

    if not names:
        return  # an unknown repository is a 404, not a choice
    listed, result = asyncio.run(run())
    assert sorted(listed) == sorted(names)
    kept = [name for name in listed if tag_filter.keeps(name)]
    expected = reference(kept, Constraint.parse(text), current)
    assert (result.tag, result.candidates) == expected
    assert result.digest is None


@given(names=tag_lists, tag_filter=filters)
def test_a_filter_that_keeps_every_tag_says_so_and_only_then(
    names: list[str], tag_filter: TagFilter
) -> None:
    # resolve() skips matching for such a filter; the others must be asked tag by tag.
    assert tag_filter.keeps_every_tag == (tag_filter == TagFilter())
    if tag_filter.keeps_every_tag:
        assert all(tag_filter.keeps(name) for name in names)
