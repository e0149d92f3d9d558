"""Rollout waves, the pure part: who is in the first wave, and whether the rest may move."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from imageupdater.choice import RunningVersion
from imageupdater.updatepolicy.matching import AppFacts
from imageupdater.updatepolicy.model import Rollout
from imageupdater.updatepolicy.rollback import RecordState, WrittenImage
from imageupdater.updatepolicy.selectors import LabelSelector
from imageupdater.updatepolicy.waves import (
    MemberImage,
    first_wave,
    rollout_status,
    same_version,
    wave_verdict,
)

AT = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
IMAGE = "ghcr.io/acme/web"
V2 = RunningVersion("2.0.0")


def facts(name: str, **labels: str) -> AppFacts:
    return AppFacts("argocd", name, "default", labels)


def member(
    app: str, version: str | None, state: RecordState, previous: str | None = None
) -> MemberImage:
    if version is None:
        return MemberImage(app, None)
    return MemberImage(app, WrittenImage(version, AT, state, previous=previous, seen=AT))


def test_a_selector_picks_the_first_wave_by_label() -> None:
    rollout = Rollout(selector=LabelSelector(match_labels=(("wave", "canary"),)))
    members = [facts("a", wave="canary"), facts("b"), facts("c", wave="canary")]
    assert first_wave(rollout, members) == {"argocd/a", "argocd/c"}


def test_a_count_picks_that_many_whatever_the_listing_order() -> None:
    members = [facts(f"app-{n}") for n in range(10)]
    picked = first_wave(Rollout(count=3), members)
    assert len(picked) == 3
    assert first_wave(Rollout(count=3), list(reversed(members))) == picked
    assert first_wave(Rollout(count=30), members) == {f"argocd/app-{n}" for n in range(10)}


def test_a_percentage_rounds_up_and_never_picks_nobody() -> None:
    members = [facts(f"app-{n}") for n in range(10)]
    assert len(first_wave(Rollout(percent=25), members)) == 3
    assert len(first_wave(Rollout(percent=1), members[:2])) == 1
    assert first_wave(Rollout(percent=50), []) == frozenset()


@given(st.sets(st.integers(0, 500), min_size=2, max_size=60), st.integers(1, 10))
def test_adding_an_application_moves_at_most_one_out_of_the_first_wave(
    numbers: set[int], count: int
) -> None:
    names = sorted(numbers)
    before = first_wave(Rollout(count=count), [facts(f"a{n}") for n in names[1:]])
    after = first_wave(Rollout(count=count), [facts(f"a{n}") for n in names])
    assert len(before - after) <= 1


def test_the_rest_are_released_once_every_first_wave_user_verified_the_version() -> None:
    members = [member("argocd/a", "2.0.0", "verified"), member("argocd/b", "2.0.0", "verified")]
    verdict = wave_verdict(IMAGE, V2, members)
    assert verdict.state == "released"
    assert "ran Healthy through the soak" in verdict.message


def test_the_rest_wait_while_a_first_wave_update_soaks_or_has_not_happened() -> None:
    members = [
        member("argocd/a", "2.0.0", "verified"),
        member("argocd/b", "2.0.0", "watching"),
        member("argocd/c", "1.0.0", "verified"),
        member("argocd/d", None, "written"),
    ]
    verdict = wave_verdict(IMAGE, V2, members)
    assert verdict.state == "waiting"
    assert verdict.soaking == ("argocd/b",)
    assert verdict.pending == ("argocd/c", "argocd/d")
    assert verdict.message == (
        f"waiting for the first wave: {IMAGE}:2.0.0 is soaking in argocd/b; argocd/c, argocd/d "
        "have not run it Healthy through the soak yet"
    )
    alone = wave_verdict(IMAGE, V2, [member("argocd/c", "1.0.0", "verified")])
    assert alone.message == (
        f"waiting for the first wave: argocd/c has not run {IMAGE}:2.0.0 Healthy through the "
        "soak yet"
    )


def test_a_version_verified_only_without_health_passing_is_not_a_release() -> None:
    members = [member("argocd/a", "2.0.0", "unverified")]
    assert wave_verdict(IMAGE, V2, members).state == "waiting"


def test_a_rollback_in_the_first_wave_stops_the_rest() -> None:
    members = [
        member("argocd/a", "1.0.0", "rolled-back", previous="2.0.0"),
        member("argocd/b", "2.0.0", "verified"),
    ]
    verdict = wave_verdict(IMAGE, V2, members)
    assert verdict.state == "stopped"
    assert "rolled ghcr.io/acme/web:2.0.0 back (argocd/a)" in verdict.message
    # Another version is judged on its own record.
    assert wave_verdict(IMAGE, RunningVersion("2.0.1"), members).state == "waiting"


def test_without_a_first_wave_user_of_the_image_nothing_can_soak_it() -> None:
    verdict = wave_verdict(IMAGE, V2, [])
    assert verdict.state == "waiting"
    assert "no Application of the first wave uses ghcr.io/acme/web" in verdict.message


def test_versions_compare_by_tag_and_by_digest_when_both_have_one() -> None:
    assert same_version("2.0.0", V2)
    assert same_version("2.0.0@sha256:aa", V2)
    assert same_version("2.0.0@sha256:aa", RunningVersion("2.0.0", "sha256:aa"))
    assert not same_version("2.0.0@sha256:aa", RunningVersion("2.0.0", "sha256:bb"))
    assert not same_version("2.0.1", V2)
    assert not same_version(None, V2)


def test_the_status_entry_names_the_phase_and_the_first_wave() -> None:
    verdict = wave_verdict(IMAGE, V2, [member("argocd/a", "2.0.0", "watching")])
    entry = rollout_status(IMAGE, V2, verdict, ["argocd/b", "argocd/a"], waiting=4)
    assert entry == {
        "image": IMAGE,
        "version": "2.0.0",
        "phase": "FirstWave",
        "firstWave": ["argocd/a", "argocd/b"],
        "waiting": 4,
        "message": verdict.message,
    }
