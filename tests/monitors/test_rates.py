"""Counter arithmetic: wraps at 2^32 and 2^64 and agent restarts never turn into spikes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitors.rates import (
    COUNTER32,
    COUNTER64,
    RateTracker,
    Sample,
    counter_delta,
    rate,
    restarted,
    utilisation,
)


def test_plain_increase() -> None:
    assert rate(Sample(100, 10.0), Sample(1100, 20.0)) == 100.0


@pytest.mark.parametrize("bits", [COUNTER32, COUNTER64])
def test_wrap(bits: int) -> None:
    top = 2**bits
    assert counter_delta(top - 10, 5, bits) == 15
    r = rate(Sample(top - 1000, 0.0, uptime_s=100.0), Sample(1000, 2.0, uptime_s=102.0), bits)
    assert r == 1000.0


def test_wrap_at_2_32_is_not_a_wrap_at_2_64() -> None:
    assert counter_delta(2**32 - 1, 0, COUNTER32) == 1
    assert counter_delta(2**32 - 1, 2**32, COUNTER64) == 1  # a 64-bit counter just passes 2^32
    with pytest.raises(ValueError):
        counter_delta(2**32, 0, COUNTER32)


def test_reset_with_uptime_going_back_yields_no_rate() -> None:
    prev = Sample(5_000_000_000, 100.0, uptime_s=86_400.0)
    cur = Sample(1_000, 110.0, uptime_s=3.0)
    assert restarted(prev, cur)
    assert rate(prev, cur, COUNTER64) is None
    assert rate(prev, cur, COUNTER32 if prev.value < 2**32 else COUNTER64) is None


def test_restart_hidden_by_a_long_gap_is_still_seen() -> None:
    # Uptime grew (5 -> 20 s) but 60 s passed: the agent restarted ~20 s ago; the counter grew too.
    prev = Sample(10_000, 0.0, uptime_s=5.0)
    cur = Sample(50_000, 60.0, uptime_s=20.0)
    assert restarted(prev, cur)
    assert rate(prev, cur) is None


def test_jitter_is_not_a_restart() -> None:
    assert not restarted(Sample(0, 0.0, uptime_s=100.0), Sample(0, 10.0, uptime_s=109.2))


def test_backwards_without_uptime_is_a_reset_when_a_wrap_is_implausible() -> None:
    prev, cur = Sample(2**32 - 2_000_000, 0.0), Sample(50, 1.0)
    assert rate(prev, cur, COUNTER32, max_rate=125e6) == 2_000_050.0  # plausible wrap at 1 Gbit/s
    assert rate(Sample(10**6, 0.0), Sample(5, 1.0), COUNTER64, max_rate=125e6) is None  # 2^64 spike


def test_tracker_rebases_after_reset() -> None:
    t = RateTracker(COUNTER64)
    assert t.update("k", Sample(1000, 0.0, 1000.0)) is None
    assert t.update("k", Sample(3000, 1.0, 1001.0)) == 2000.0
    assert t.update("k", Sample(10, 2.0, 0.5)) is None  # restart
    assert t.resets == 1
    assert t.update("k", Sample(510, 3.0, 1.5)) == 500.0  # rebased on the post-restart sample
    assert t.update("k", Sample(600, 3.0, 1.5)) is None  # not newer: ignored
    assert t.update("k", Sample(1510, 4.0, 2.5)) == 1000.0


def test_utilisation() -> None:
    assert utilisation(50e6, 100e6) == 0.5
    assert utilisation(1.0, 0.0) == 0.0


@given(
    bits=st.sampled_from([COUNTER32, COUNTER64]),
    start=st.integers(min_value=0),
    steps=st.lists(st.tuples(st.integers(min_value=0, max_value=2**31), st.floats(0.1, 60.0)), max_size=40),
)
def test_property_wrapping_counter_gives_exact_rates(
    bits: int, start: int, steps: list[tuple[int, float]]
) -> None:
    """A counter incremented by d each step (wrapping at 2^bits) gives back exactly d/dt, never negative."""
    mod = 2**bits
    value, t, up = start % mod, 0.0, 1000.0
    tracker = RateTracker(bits)
    assert tracker.update("x", Sample(value, t, up)) is None
    for inc, dt in steps:
        value, t, up = (value + inc) % mod, t + dt, up + dt
        r = tracker.update("x", Sample(value, t, up))
        assert r is not None
        assert r == pytest.approx(inc / dt, rel=1e-9)
        assert r >= 0
    assert tracker.resets == 0


@given(
    bits=st.sampled_from([COUNTER32, COUNTER64]),
    before=st.integers(min_value=0, max_value=2**32 - 1),
    after=st.integers(min_value=0, max_value=2**20),
    inc=st.integers(min_value=0, max_value=10**7),
    dt=st.floats(1.0, 30.0),
    new_uptime=st.floats(0.0, 0.5),
)
def test_property_restart_never_spikes(
    bits: int, before: int, after: int, inc: int, dt: float, new_uptime: float
) -> None:
    """Whatever the counter does across a restart, no rate above the true rate comes out."""
    tracker = RateTracker(bits)
    tracker.update("x", Sample(before, 0.0, 500.0))
    tracker.update("x", Sample((before + inc) % 2**bits, dt, 500.0 + dt))
    assert tracker.update("x", Sample(after, 2 * dt, new_uptime)) is None
    r = tracker.update("x", Sample(after + inc, 3 * dt, new_uptime + dt))
    assert r == pytest.approx(inc / dt)
