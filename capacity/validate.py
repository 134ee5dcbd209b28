"""Simulator against emulator: per-link error between predicted and measured loads (issue 9 item 3).

The emulator side (a lab run's link counters, as Mbit/s per link) is measured elsewhere, with root;
this module only compares. `compare_links(result, measured)` takes the simulator's Result for the
same model, demands and failures, and `measured` as {link name: Mbit/s} (the busier direction) or
{link name: (a->b Mbit/s, b->a Mbit/s)}.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from capacity.demands import suggest
from capacity.simulate import Result
from govnet.errors import WhatIfError

ACTIVE = 0.01  # links measured under 1 % utilisation are left out of the relative error


@dataclass(frozen=True)
class LinkError:
    name: str
    capacity_mbps: float
    predicted_mbps: float
    measured_mbps: float

    @property
    def utilisation_error(self) -> float:
        """|predicted - measured| / capacity: the error in utilisation points."""
        return (
            abs(self.predicted_mbps - self.measured_mbps) / self.capacity_mbps if self.capacity_mbps else 0.0
        )

    @property
    def relative_error(self) -> float | None:
        """|predicted - measured| / measured, for links measured at >= ACTIVE utilisation."""
        if not self.capacity_mbps or self.measured_mbps / self.capacity_mbps < ACTIVE:
            return None
        return abs(self.predicted_mbps - self.measured_mbps) / self.measured_mbps


@dataclass(frozen=True)
class Comparison:
    links: list[LinkError]

    @property
    def mean_utilisation_error(self) -> float:
        return sum(e.utilisation_error for e in self.links) / len(self.links) if self.links else 0.0

    @property
    def mean_relative_error(self) -> float | None:
        rel = [r for e in self.links if (r := e.relative_error) is not None]
        return sum(rel) / len(rel) if rel else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "links": [
                {
                    "name": e.name,
                    "capacity_mbps": e.capacity_mbps,
                    "predicted_mbps": round(e.predicted_mbps, 4),
                    "measured_mbps": round(e.measured_mbps, 4),
                    "utilisation_error": round(e.utilisation_error, 4),
                    "relative_error": None if e.relative_error is None else round(e.relative_error, 4),
                }
                for e in self.links
            ],
            "mean_utilisation_error": round(self.mean_utilisation_error, 4),
            "mean_relative_error": None
            if self.mean_relative_error is None
            else round(self.mean_relative_error, 4),
        }


def compare_links(result: Result, measured: Mapping[str, float | tuple[float, float]]) -> Comparison:
    """Per-link error of the simulator's loads against measured ones (links not measured are skipped)."""
    by_name = {lk.name: lk for lk in result.links}
    out = []
    for name, value in measured.items():
        lk = by_name.get(name)
        if lk is None:
            raise WhatIfError(f"measured link {name!r}: not in the model{suggest(name, by_name)}")
        if isinstance(value, tuple):
            ab, ba = value
            # direction by direction; the link's error is its worse direction's
            pairs = [(lk.load_ab_mbps, float(ab)), (lk.load_ba_mbps, float(ba))]
            pred, meas = max(pairs, key=lambda p: (abs(p[0] - p[1]), p[1]))
        else:
            pred, meas = lk.load_mbps, float(value)
        out.append(LinkError(name, lk.capacity_mbps, pred, meas))
    return Comparison(out)
