"""Scale-out's pure parts: how Applications spread over shards, what a replica does with the
shard leases it sees, and the ``--shards`` flags."""

from __future__ import annotations

import argparse
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imageupdater.errors import InvalidInput
from reconciler.shard_options import LeaseTiming, Sharding, add_shard_flags, sharding
from reconciler.shards import LeaseView, Step, plan_step, shard_of

KEYS = [f"team-{i % 37}/app-{i}" for i in range(6000)]


@pytest.mark.parametrize("shards", [2, 3, 4, 5, 8, 16], ids=lambda n: f"{n}-shards")
def test_applications_spread_evenly_over_the_shards(shards: int) -> None:
    counts = Counter(shard_of(key, shards) for key in KEYS)
    expected = len(KEYS) / shards
    assert set(counts) == set(range(shards))
    assert all(abs(n - expected) < 0.12 * expected for n in counts.values()), counts


def test_a_single_shard_holds_every_application() -> None:
    assert {shard_of(key, 1) for key in KEYS[:100]} == {0}


@pytest.mark.parametrize(
    ("before", "after"), [(1, 2), (2, 3), (3, 4), (4, 5), (7, 8)], ids=lambda n: str(n)
)
def test_adding_a_shard_moves_about_one_share_of_the_applications_and_only_to_it(
    before: int, after: int
) -> None:
    moved = [key for key in KEYS if shard_of(key, before) != shard_of(key, after)]
    assert abs(len(moved) / len(KEYS) - 1 / after) < 0.03
    assert {shard_of(key, after) for key in moved} == {after - 1}


def test_going_from_three_to_four_shards_moves_about_a_quarter() -> None:
    moved = sum(shard_of(key, 3) != shard_of(key, 4) for key in KEYS)
    assert 0.22 < moved / len(KEYS) < 0.28


@settings(max_examples=200, deadline=None)
@given(key=st.text(min_size=1, max_size=60), shards=st.integers(1, 40))
def test_an_application_changes_shard_only_to_a_new_one_when_shards_are_added(
    key: str, shards: int
) -> None:
    first, later = shard_of(key, shards), shard_of(key, shards + 1)
    assert 0 <= first < shards
    assert later in (first, shards)


# plan_step: replica "me" and others "a", "b"; views are what the leases say.


def live(shard: int, holder: str, **kw: object) -> LeaseView:
    return LeaseView(shard, holder, True, 3, **kw)  # type: ignore[arg-type]


FREE = LeaseView


@pytest.mark.parametrize(
    ("views", "held", "free_for", "step"),
    [
        pytest.param(
            [FREE(0), FREE(1), FREE(2)], set(), {}, "acquire", id="alone-takes-a-free-shard"
        ),
        pytest.param(
            [live(0, "me"), FREE(1), FREE(2)],
            {0},
            {},
            "acquire",
            id="alone-keeps-taking-one-per-tick",
        ),
        pytest.param(
            [live(0, "a"), FREE(1), FREE(2)], set(), {}, "acquire", id="fewer-than-all-takes"
        ),
        pytest.param(
            [live(0, "a"), live(1, "me"), FREE(2)],
            {1},
            {2: 1.0},
            "nothing",
            id="tied-leaves-a-fresh-free-shard-to-a-newcomer",
        ),
        pytest.param(
            [live(0, "a"), live(1, "me"), FREE(2)],
            {1},
            {2: 3.0},
            "acquire",
            id="tied-takes-a-shard-free-for-a-lease-period",
        ),
        pytest.param(
            [live(0, "a"), live(1, "me"), LeaseView(2, "dead", False, 3)],
            {1},
            {2: 0.0},
            "acquire",
            id="tied-takes-a-dead-replicas-shard-at-once",
        ),
        pytest.param(
            [live(0, "a"), live(1, "a"), live(2, "me"), LeaseView(3, "dead", False, 4)],
            {2},
            {},
            "acquire",
            id="fewer-takes-a-dead-replicas-shard",
        ),
        pytest.param(
            [live(0, "a"), live(1, "a"), live(2, "a")], set(), {}, "request", id="newcomer-asks"
        ),
        pytest.param(
            [live(0, "a", handoff_to="me"), live(1, "a"), live(2, "a")],
            set(),
            {},
            "nothing",
            id="asks-once",
        ),
        pytest.param(
            [live(0, "a"), live(1, "a"), live(2, "me")],
            {2},
            {},
            "nothing",
            id="within-one-of-the-busiest-asks-nothing",
        ),
        pytest.param(
            [live(0, "me", handoff_to="b"), live(1, "me"), live(2, "me")],
            {0, 1, 2},
            {},
            "release",
            id="busiest-hands-over-what-is-asked",
        ),
        pytest.param(
            [live(0, "me", handoff_to="b"), live(1, "b"), FREE(2)],
            {0},
            {},
            "nothing",
            id="no-handover-to-one-holding-as-many",
        ),
        pytest.param(
            [live(0, "me"), live(1, "a"), live(2, "b")],
            set(),
            {},
            "acquire",
            id="a-lease-still-ours-after-a-lost-renewal-is-renewed",
        ),
        pytest.param(
            [LeaseView(0, "a", True, 2), FREE(1), FREE(2)],
            set(),
            {1: 9.0, 2: 9.0},
            "nothing",
            id="another-shard-count-is-live",
        ),
    ],
)
def test_a_replica_takes_releases_or_asks_for_shards_by_what_the_leases_say(
    views: list[LeaseView], held: set[int], free_for: dict[int, float], step: str
) -> None:
    got = plan_step(views, "me", frozenset(held), free_for, 3.0, 3)
    kinds = {
        "acquire": got.acquire is not None,
        "release": got.release is not None,
        "request": got.request is not None,
    }
    assert [kind for kind, on in kinds.items() if on] == ([] if step == "nothing" else [step])
    if got.acquire is not None:
        assert got.acquire not in held
    if got.release is not None:
        assert got.release in held


def test_a_tick_takes_at_most_one_shard() -> None:
    assert plan_step([FREE(i) for i in range(8)], "me", frozenset(), {}, 3.0, 8) in {
        Step(acquire=i) for i in range(8)
    }


def test_replicas_that_start_together_try_different_shards_first() -> None:
    firsts = {
        plan_step([FREE(i) for i in range(3)], f"pod-{n}", frozenset(), {}, 3.0, 3).acquire
        for n in range(12)
    }
    assert len(firsts) == 3


@settings(max_examples=150, deadline=None)
@given(
    shards=st.integers(1, 9),
    replicas=st.integers(1, 5),
    order=st.lists(st.integers(0, 4), min_size=40, max_size=120),
)
def test_replicas_taking_turns_settle_on_counts_within_one_of_each_other(
    shards: int, replicas: int, order: list[int]
) -> None:
    """Ticks in any order (then a few rounds of everyone) leave every shard held and no
    replica holding more than its fair share."""
    holder: dict[int, str] = {}
    asked: dict[int, str] = {}
    names = [f"r{i}" for i in range(replicas)]
    schedule = [names[i % replicas] for i in order] + names * (shards * 4 + 4)
    for me in schedule:
        views = [
            LeaseView(s, holder.get(s, ""), s in holder, shards, asked.get(s, ""))
            for s in range(shards)
        ]
        held = frozenset(s for s, h in holder.items() if h == me)
        # A free shard has always been free long enough: the waiting rule only orders turns.
        step = plan_step(views, me, held, dict.fromkeys(range(shards), 99.0), 3.0, shards)
        for shard in held:
            asked.pop(shard, None)  # the renewal rewrites the lease without the request
        if step.release is not None:
            del holder[step.release]
        if step.acquire is not None:
            holder[step.acquire] = me
        if step.request is not None:
            asked[step.request] = me
    counts = Counter(holder.values())
    assert len(holder) == shards
    fair = -(-shards // replicas)
    assert max(counts.values()) <= fair
    assert max(counts.values()) - min([counts.get(n, 0) for n in names]) <= 1


# Flags.


def parse(*argv: str, env: dict[str, str] | None = None) -> Sharding:
    parser = argparse.ArgumentParser()
    add_shard_flags(parser.add_argument)
    return sharding(parser.parse_args(list(argv)), env or {})


def test_without_shards_the_reconciler_is_not_sharded() -> None:
    assert parse() == Sharding(1, "image-updater-reconciler", LeaseTiming(15.0, 10.0, 2.0))
    assert not parse().sharded


@pytest.mark.parametrize(
    ("argv", "env", "count"),
    [
        (["--shards", "3"], {}, 3),
        (["--shards", "auto"], {}, None),
        ([], {"IMAGE_UPDATER_SHARDS": "4"}, 4),
        ([], {"IMAGE_UPDATER_SHARDS": "AUTO"}, None),
        (["--shards", "2"], {"IMAGE_UPDATER_SHARDS": "5"}, 2),
    ],
    ids=["count", "auto", "env", "env-auto", "flag-over-env"],
)
def test_the_shard_count_comes_from_the_flag_or_the_environment(
    argv: list[str], env: dict[str, str], count: int | None
) -> None:
    assert parse(*argv, env=env).count == count


@pytest.mark.parametrize(
    ("argv", "env", "named"),
    [
        (["--shards", "0"], {}, "--shards '0'"),
        (["--shards", "x"], {}, "--shards 'x'"),
        (["--shards", "-2"], {}, "--shards '-2'"),
        (["--shards", "1.5"], {}, "--shards '1.5'"),
        ([], {"IMAGE_UPDATER_SHARDS": "many"}, "IMAGE_UPDATER_SHARDS 'many'"),
        (["--lease-duration", "soon"], {}, "--lease-duration 'soon'"),
        (["--lease-renew-deadline", "0s"], {}, "--lease-renew-deadline '0s'"),
        (["--lease-duration", "5s", "--lease-renew-deadline", "5s"], {}, "shorter than"),
    ],
    ids=["zero", "word", "negative", "fraction", "env", "duration", "zero-deadline", "order"],
)
def test_bad_shard_settings_are_refused_naming_the_flag(
    argv: list[str], env: dict[str, str], named: str
) -> None:
    with pytest.raises(InvalidInput, match=named.replace(".", r"\.")):
        parse(*argv, env=env)


def test_short_lease_timings_are_accepted_for_both_flags_and_environment() -> None:
    timing = parse(
        "--lease-duration",
        "3s",
        "--lease-renew-deadline",
        "2s",
        env={"IMAGE_UPDATER_LEASE_RETRY_PERIOD": "500ms"},
    ).timing
    assert timing == LeaseTiming(3.0, 2.0, 0.5)


def test_sharding_a_single_cycle_is_refused() -> None:
    parser = argparse.ArgumentParser()
    add_shard_flags(parser.add_argument)
    parser.add_argument("--once", action="store_true")
    with pytest.raises(InvalidInput, match="--shards and --once do not go together"):
        sharding(parser.parse_args(["--shards", "3", "--once"]), {})
    assert sharding(parser.parse_args(["--once"]), {}) == Sharding()


def test_a_command_without_the_shard_flags_is_never_sharded() -> None:
    assert sharding(argparse.Namespace(), {"IMAGE_UPDATER_SHARDS": "3"}) == Sharding()
