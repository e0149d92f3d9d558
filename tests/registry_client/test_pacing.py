"""Token bucket, per-registry pauses and Retry-After values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imageupdater.registry.ratelimit import RegistryGate, TokenBucket, parse_retry_after

from .conftest import ManualClock


async def test_a_bucket_lets_a_burst_through_then_paces_at_its_rate(clock: ManualClock) -> None:
    bucket = TokenBucket(4.0, clock=clock)
    for _ in range(4):
        await bucket.acquire()
    assert clock.slept == []
    await bucket.acquire()
    await bucket.acquire()
    assert clock.slept == pytest.approx([0.25, 0.25])


async def test_an_unlimited_bucket_never_waits(clock: ManualClock) -> None:
    bucket = TokenBucket(0, clock=clock)
    for _ in range(1000):
        await bucket.acquire()
    assert clock.slept == []


@given(rate=st.floats(min_value=0.5, max_value=100), n=st.integers(min_value=1, max_value=200))
def test_reservations_never_exceed_the_rate(rate: float, n: int) -> None:
    clock = ManualClock()
    bucket = TokenBucket(rate, clock=clock)
    waits = [bucket.reserve() for _ in range(n)]
    burst = max(1.0, rate)
    # The k-th request (0-based) beyond the burst waits (k + 1 - burst) / rate.
    for k, wait in enumerate(waits):
        assert wait == pytest.approx(max(0.0, (k + 1 - burst) / rate), abs=1e-9)


async def test_a_pause_holds_rate_limited_requests_but_not_pings(clock: ManualClock) -> None:
    gate = RegistryGate(rate=0, max_concurrency=2, clock=clock)
    gate.pause(3.0)
    async with gate.slot(rate_limited=False):
        assert clock.slept == []
    async with gate.slot():
        assert clock.slept == [3.0]


def test_a_pause_is_never_shortened(clock: ManualClock) -> None:
    gate = RegistryGate(rate=0, max_concurrency=1, clock=clock)
    gate.pause(10)
    gate.pause(2)
    assert gate.paused_for == 10


NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("7", 7.0, id="seconds"),
        pytest.param(" 0 ", 0.0, id="zero-with-spaces"),
        pytest.param(
            format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0, id="http-date"
        ),
        pytest.param(
            format_datetime(NOW - timedelta(seconds=30), usegmt=True),
            0.0,
            id="http-date-in-the-past",
        ),
        pytest.param("soon", None, id="garbage"),
        pytest.param("-5", None, id="negative"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(
    value: str | None, expected: float | None
) -> None:
    assert parse_retry_after(value, now=NOW) == expected


@given(st.text(max_size=60))
def test_retry_after_parsing_never_raises(value: str) -> None:
    result = parse_retry_after(value, now=NOW)
    assert result is None or result >= 0
