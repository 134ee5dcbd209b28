"""Counter arithmetic: rates from polled counters that wrap (32/64-bit) and reset (agent restarts).

A counter read twice gives a rate only if nothing happened in between that makes the difference
meaningless. Two things do:

- **wrap**: a 32-bit ifInOctets passes 2^32 - 1 and starts again at 0 (at 1 Gbit/s every 34 s);
  the increase is `cur + 2^bits - prev`. 64-bit counters wrap too, in theory.
- **reset**: the agent restarted (or the interface was re-created) and the counter starts from 0.
  Read as a wrap, that becomes a spike of almost 2^bits. A restart shows as an uptime that went
  back, or that advanced by less than the wall clock did; then the sample is not turned into a rate:
  it becomes the new base.

When no uptime is known, a counter that went backwards is a wrap only if the implied rate is
plausible (at most `max_rate`, e.g. the link speed in bytes/s); otherwise it is a reset.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

COUNTER32 = 32
COUNTER64 = 64

# Uptime and poll timestamps jitter (sysUpTime is in 1/100 s; polls take time): a restart is assumed
# only if uptime advanced by less than the wall clock minus this slack.
UPTIME_SLACK_S = 2.0
UPTIME_SLACK_RATIO = 0.1


@dataclass(frozen=True)
class Sample:
    """One reading of a counter: its value, when it was read (s, monotonic or epoch) and agent uptime."""

    value: int
    time_s: float
    uptime_s: float | None = None


def counter_delta(prev: int, cur: int, bits: int = COUNTER64) -> int:
    """Increase from prev to cur of a `bits`-wide counter, assuming at most one wrap in between."""
    modulus = 1 << bits
    if not (0 <= prev < modulus and 0 <= cur < modulus):
        raise ValueError(f"counter value out of range for {bits} bits (prev={prev}, cur={cur})")
    return (cur - prev) % modulus


def restarted(prev: Sample, cur: Sample) -> bool:
    """True if the agent restarted between the two samples (uptime went back or lagged the clock)."""
    if prev.uptime_s is None or cur.uptime_s is None:
        return False
    elapsed = cur.time_s - prev.time_s
    advanced = cur.uptime_s - prev.uptime_s
    if advanced < 0:
        return True
    return advanced < elapsed - max(UPTIME_SLACK_S, UPTIME_SLACK_RATIO * elapsed)


def rate(prev: Sample, cur: Sample, bits: int = COUNTER64, max_rate: float | None = None) -> float | None:
    """Increase per second between two samples, or None when no honest rate exists.

    None when: time did not advance, the agent restarted, or the counter went backwards and a wrap
    would imply more than `max_rate` per second (a reset with no uptime to show it).
    """
    dt = cur.time_s - prev.time_s
    if dt <= 0 or restarted(prev, cur):
        return None
    delta = counter_delta(prev.value, cur.value, bits)
    value = delta / dt
    if cur.value < prev.value and max_rate is not None and value > max_rate:
        return None
    return value


class RateTracker:
    """Keeps the last sample per key (e.g. (node, ifname, 'rx')) and turns each new one into a rate.

    `update` returns the rate since the previous sample of that key, or None for the first sample,
    after a reset (the sample becomes the new base) or for a sample that is not newer than the last
    (it is ignored). `resets` counts the resets seen.
    """

    def __init__(self, bits: int = COUNTER64, max_rate: float | None = None) -> None:
        self.bits = bits
        self.max_rate = max_rate
        self.resets = 0
        self._last: dict[Hashable, Sample] = {}

    def update(self, key: Hashable, sample: Sample, max_rate: float | None = None) -> float | None:
        prev = self._last.get(key)
        if prev is not None and sample.time_s <= prev.time_s:
            return None
        self._last[key] = sample
        if prev is None:
            return None
        value = rate(prev, sample, self.bits, max_rate if max_rate is not None else self.max_rate)
        if value is None:
            self.resets += 1
        return value

    def forget(self, key: Hashable) -> None:
        """Drop the base of one key (e.g. the interface disappeared)."""
        self._last.pop(key, None)


def utilisation(bps: float, capacity_bps: float) -> float:
    """A rate as a fraction of the link's capacity (0 for an unknown or zero capacity)."""
    return bps / capacity_bps if capacity_bps > 0 else 0.0
