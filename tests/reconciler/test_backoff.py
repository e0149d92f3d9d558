"""Repositories that keep failing back off exponentially, with jitter, and recover at once."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.backoff import RepositoryBackoff


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_each_consecutive_failure_doubles_the_pause_up_to_the_ceiling() -> None:
    clock = Clock()
    backoff = RepositoryBackoff(base=10, ceiling=60, jitter=0, clock=clock)
    assert [backoff.failed("repo") for _ in range(5)] == [10, 20, 40, 60, 60]
    assert backoff.failures("repo") == 5
    assert backoff.remaining("repo") == 60


def test_a_success_clears_the_pause() -> None:
    backoff = RepositoryBackoff(base=10, jitter=0, clock=Clock())
    backoff.failed("repo")
    backoff.succeeded("repo")
    assert backoff.remaining("repo") == 0
    assert backoff.failures("repo") == 0


def test_the_pause_runs_out_with_time_and_other_repositories_are_unaffected() -> None:
    clock = Clock()
    backoff = RepositoryBackoff(base=10, jitter=0, clock=clock)
    backoff.failed("slow")
    clock.now += 4
    assert backoff.remaining("slow") == pytest.approx(6)
    assert backoff.remaining("fine") == 0
    clock.now += 6
    assert backoff.remaining("slow") == 0


def test_retry_after_is_never_shortened() -> None:
    backoff = RepositoryBackoff(base=1, jitter=0, clock=Clock())
    assert backoff.failed("limited", retry_after=120) == 120


@given(st.floats(0, 1), st.integers(1, 20))
def test_jitter_keeps_the_pause_within_a_quarter_either_side(roll: float, failures: int) -> None:
    backoff = RepositoryBackoff(base=8, ceiling=10_000, jitter=0.5, clock=Clock(), rng=lambda: roll)
    for _ in range(failures - 1):
        backoff.failed("r")
    pause = backoff.failed("r")
    nominal = min(10_000, 8 * 2.0 ** (failures - 1))
    assert 0.75 * nominal <= pause <= 1.25 * nominal
