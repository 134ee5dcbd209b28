"""How `topo up --check` judges a measured rate (no emulation needed): the shaper must be the
bottleneck, or the host must be shown to be by a measurement without the shaper."""

from __future__ import annotations

import pytest

from topology.emulator.check import judge_rate, ping_gap


@pytest.mark.parametrize("got", [9.1, 10.0, 10.9])
def test_within_tolerance_passes_without_an_unshaped_figure(got: float) -> None:
    ok, text = judge_rate(10, got, None)
    assert ok and text.startswith(f"{got:.1f} Mbit/s")


def test_above_the_shaper_fails_even_if_the_host_is_fast() -> None:
    ok, text = judge_rate(100, 130, None)
    assert not ok and "above its shaper" in text


def test_low_with_a_fast_path_is_a_wrong_shaper() -> None:
    """Path carries 1900 unshaped, the shaped link only 500: the shaper is set too low."""
    ok, text = judge_rate(1000, 500, 1900)
    assert not ok and "unshaped 1900" in text and "host-limited" not in text


def test_low_because_the_host_is_slow_is_reported_host_limited() -> None:
    ok, text = judge_rate(1000, 810.7, 840)
    assert ok and "host-limited, unshaped 840" in text


def test_host_limited_but_far_below_the_host_still_fails() -> None:
    ok, text = judge_rate(1000, 400, 850)
    assert not ok and "host-limited" in text


def test_low_without_a_second_measurement_fails() -> None:
    assert judge_rate(1000, 700, None) == (False, "700.0 Mbit/s (-30.0 %)")


def test_ping_gap_counts_the_longest_silence() -> None:
    lines = [
        f"64 bytes from 10.0.0.1: icmp_seq={i} ttl=64 time=0.1 ms" for i in [*range(1, 50), *range(80, 400)]
    ]
    assert ping_gap("\n".join(lines), 400) == pytest.approx(0.30)
    assert ping_gap("\n".join(lines[:10]), 400) == float("inf")
