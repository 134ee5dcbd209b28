"""The offered-traffic export: what the generator offered, per (src, dst, class), over time.

Written as JSON that `capacity.demands.load_demands` reads: its top-level `demands` list is the
busiest interval (the busy period, like capacity's built-in model), and `timeline` holds every
interval. Client operations count as bits over their interval; a background flow counts its rate x
the share of the interval it was active, so voice and video give the mean offered load per
direction, which is what capacity expects of inelastic classes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from apps.background import Flow
from apps.traffic import Event

Key = tuple[str, str, str]


def offered_timeline(
    events: Iterable[Event], flows: Iterable[Flow], start_s: float, duration_s: float, interval_s: float
) -> list[dict[Key, float]]:
    """Offered bits/s per (src, dst, class) in each interval of [start, start + duration)."""
    if interval_s <= 0 or duration_s <= 0:
        raise ValueError(f"interval and duration must be > 0 (got {interval_s}, {duration_s})")
    n = int(-(-duration_s // interval_s))
    bins: list[dict[Key, float]] = [defaultdict(float) for _ in range(n)]
    for e in events:
        i = int((e.t_s - start_s) // interval_s)
        if 0 <= i < n:
            legs = ((e.src, e.via), (e.via, e.dst)) if e.via else ((e.src, e.dst),)
            for a, b in legs:  # through a relay, both legs carry the operation
                bins[i][(a, b, e.app)] += e.bytes_up * 8 / interval_s
                bins[i][(b, a, e.app)] += e.bytes_down * 8 / interval_s
    for f in flows:
        first = max(0, int((f.start_s - start_s) // interval_s))
        for i in range(first, n):
            lo, hi = start_s + i * interval_s, start_s + (i + 1) * interval_s
            if lo >= f.end_s:
                break
            overlap = min(hi, f.end_s) - max(lo, f.start_s)
            if overlap > 0:
                bins[i][(f.src, f.dst, f.cls)] += f.bps * overlap / interval_s
    return [dict(b) for b in bins]


def _demands(b: dict[Key, float]) -> list[dict[str, Any]]:
    return [
        {"src": s, "dst": d, "class": c, "mbps": round(bps / 1e6, 6)} for (s, d, c), bps in sorted(b.items())
    ]


def export_offered(
    path: str | Path,
    model: str,
    events: Iterable[Event],
    flows: Iterable[Flow],
    start_s: float,
    duration_s: float,
    interval_s: float = 3600.0,
) -> dict[str, Any]:
    """Write the offered traffic as JSON (see the module docstring) and return it."""
    bins = offered_timeline(events, flows, start_s, duration_s, interval_s)
    busiest = max(range(len(bins)), key=lambda i: sum(bins[i].values()))
    doc = {
        "model": model,
        "units": "mbps is Mbit/s offered, averaged over the interval",
        "interval_s": interval_s,
        "busiest_t_s": start_s + busiest * interval_s,
        "demands": _demands(bins[busiest]),
        "timeline": [{"t_s": start_s + i * interval_s, "demands": _demands(b)} for i, b in enumerate(bins)],
    }
    Path(path).write_text(json.dumps(doc, indent=1) + "\n")
    return doc
