"""A permanent registry failure (401/403, 404…) pauses a repository for the longest pause at
once; transient ones keep ramping up exponentially."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imageupdater.errors import (
    RateLimited,
    RegistryAuthError,
    RegistryError,
    RegistryNotFound,
    RegistryProtocolError,
    RegistryRefused,
    RegistryUnavailable,
)
from reconciler.backoff import RepositoryBackoff


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_permanent_failure_pauses_for_the_ceiling_at_once() -> None:
    clock = Clock()
    backoff = RepositoryBackoff(base=10, ceiling=600, jitter=0, clock=clock)
    assert backoff.failed("gone", permanent=True) == 600
    assert backoff.remaining("gone") == 600
    assert backoff.failures("gone") == 1
    assert backoff.failed("flaky") == 10  # the default stays transient


def test_repeated_permanent_failures_stay_at_the_ceiling() -> None:
    backoff = RepositoryBackoff(base=10, ceiling=600, jitter=0, clock=Clock())
    assert [backoff.failed("r", permanent=True) for _ in range(3)] == [600, 600, 600]


def test_transient_failures_keep_the_exponential_schedule_around_a_permanent_one() -> None:
    backoff = RepositoryBackoff(base=10, ceiling=600, jitter=0, clock=Clock())
    assert backoff.failed("r") == 10
    assert backoff.failed("r", permanent=True) == 600
    # Still counted: the third consecutive failure, transient again, ramps from the count.
    assert backoff.failed("r") == 40


def test_a_success_clears_a_permanent_pause() -> None:
    backoff = RepositoryBackoff(base=10, ceiling=600, jitter=0, clock=Clock())
    backoff.failed("r", permanent=True)
    backoff.succeeded("r")
    assert backoff.remaining("r") == 0
    assert backoff.failed("r") == 10


def test_the_permanent_pause_runs_out_with_time() -> None:
    clock = Clock()
    backoff = RepositoryBackoff(base=10, ceiling=600, jitter=0, clock=clock)
    backoff.failed("r", permanent=True)
    clock.now += 599
    assert backoff.remaining("r") == pytest.approx(1)
    clock.now += 1
    assert backoff.remaining("r") == 0


def test_retry_after_never_lengthens_a_pause_past_the_ceiling() -> None:
    backoff = RepositoryBackoff(base=10, ceiling=600, jitter=0, clock=Clock())
    assert backoff.failed("r", permanent=True, retry_after=86_400) == 600


@given(st.floats(0, 1))
def test_jitter_spreads_permanent_pauses_below_the_ceiling_only(roll: float) -> None:
    backoff = RepositoryBackoff(base=10, ceiling=600, jitter=0.5, clock=Clock(), rng=lambda: roll)
    pause = backoff.failed("r", permanent=True)
    assert 0.75 * 600 <= pause <= 600


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (RegistryAuthError("registry r: refused (401)", registry="r"), True),
        (RegistryAuthError("registry r: refused (403)", registry="r"), True),
        (RegistryNotFound("registry r: not found (404)", registry="r"), True),
        (RegistryRefused("registry r: refused by the reachability policy", registry="r"), True),
        (RegistryProtocolError("registry r: malformed answer", registry="r"), True),
        (RegistryUnavailable("registry r: timed out", registry="r"), False),
        (RateLimited("registry r: 429", registry="r", retry_after=5), False),
    ],
)
def test_the_errors_transient_flag_chooses_the_schedule(
    error: RegistryError, permanent: bool
) -> None:
    # How the cycle calls it: permanent=not exc.transient.
    backoff = RepositoryBackoff(base=10, ceiling=600, jitter=0, clock=Clock())
    pause = backoff.failed("r", permanent=not error.transient)
    assert pause == (600 if permanent else 10)
