"""The JSON-lines protocol between pollers running inside the emulation and the collector outside it.

A poller prints one JSON object per target per cycle, then one summary line `{"poller": NAME, ...}`;
the collector turns summaries into `poller` points (the poller's own health series).
"""

from __future__ import annotations

import json
import time
from typing import Any

from govnet.metrics import Point


def print_cycle(poller: str, cycle: int, t0: float, results: list[dict[str, Any]]) -> None:
    """Print every target's record, then the cycle summary (t0: time.monotonic() at cycle start)."""
    for r in results:
        print(json.dumps(r), flush=True)
    answered = sum(bool(r.get("ok")) for r in results)
    summary = {
        "poller": poller,
        "cycle": cycle,
        "t": time.time(),
        "cycle_s": time.monotonic() - t0,
        "targets": len(results),
        "answered": answered,
        "timeouts": len(results) - answered,
    }
    print(json.dumps(summary), flush=True)


def poller_point(rec: dict[str, Any], data_age_s: float) -> Point:
    """A cycle summary line as a `poller` point."""
    n = int(rec["targets"])
    return Point(
        "poller",
        {"poller": str(rec["poller"])},
        {
            "cycle_s": float(rec["cycle_s"]),
            "targets": n,
            "answered": int(rec["answered"]),
            "timeouts": int(rec["timeouts"]),
            "completeness": int(rec["answered"]) / n if n else 1.0,
            "data_age_s": max(0.0, data_age_s),
        },
        int(float(rec["t"]) * 1e9),
    )
