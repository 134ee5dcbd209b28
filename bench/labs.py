"""Benchmark: the lab engine against plain Mininet and a plain scheduler, in one run (root).

1. Time from `lab run` start to the first timeline action, and from the last action done to torn
   down, for the reference network with its firewall pair and monitoring (the lab engine: compose,
   bring-up, parts started, timeline clock) — against plain Mininet building and tearing down the
   same graph (LinuxBridge switches, nothing else; bench/bringup.py's anchor).
2. Timing error of scheduled actions (executed minus planned offset, p50 and p99) of a timeline of
   ring cuts and restores while the lab runs — against Python's `sched.scheduler` on the monotonic
   clock running no-ops at the same offsets in the same process at the same time.

Usage: sudo .venv/bin/python bench/labs.py [--model weihai] [--actions 20] [--spacing 1.0]
Prints both figures and their ratio for each pair; writes bench/results/labs.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import sched
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchfile import Figure, write_results
from bringup import plain_mininet

from labs import Lab, compose
from topology import load_model
from topology.emulator.check import heal_probe


def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


def _plain_scheduler(offsets: list[float], out: list[float]) -> threading.Thread:
    """The anchor: sched.scheduler on time.monotonic, a no-op at each offset; errors into `out`."""
    s = sched.scheduler(time.monotonic, time.sleep)
    t0 = time.monotonic()
    for at in offsets:
        s.enterabs(t0 + at, 0, lambda at=at: out.append(time.monotonic() - t0 - at))
    th = threading.Thread(target=s.run, name="bench-sched", daemon=True)
    th.start()
    return th


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="weihai", help="model file or bundled name (default: weihai)")
    ap.add_argument("--actions", type=int, default=20, help="timeline actions (cut/restore pairs x2)")
    ap.add_argument("--spacing", type=float, default=1.0, help="seconds between actions (default 1)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/labs.py needs root (Mininet)", file=sys.stderr)
        return 3
    if args.actions < 2 or args.spacing <= 0:
        print("bench/labs.py: --actions must be >= 2 and --spacing > 0", file=sys.stderr)
        return 2
    net = load_model(args.model)
    probe = heal_probe(net)
    if probe is None:
        print(f"bench/labs.py: model {net.name} has no ring link to cut", file=sys.stderr)
        return 2
    link = probe[0].name
    print(f"model {net.name}: {len(net.nodes)} nodes, {len(net.links)} links; {os.cpu_count()} cores")
    offsets = [1.0 + i * args.spacing for i in range(args.actions)]
    scenario = {
        "name": "bench-labs",
        "model": net.name,
        "checks": [],
        "monitor": True,  # the metrics store, SNMP, host agents, device CLI
        "firewall": True,  # the perimeter pair's controller
        "timeline": [
            {"at": at, "do": "links.cut" if i % 2 == 0 else "links.restore", "with": {"link": link}}
            for i, at in enumerate(offsets)
        ],
    }
    parts = compose(scenario, net, "bench/labs.py")
    print(f"lab parts: {', '.join(p.key for p in parts)}; {args.actions} actions on {link}")

    base_up, base_down = plain_mininet(net)
    anchor_err: list[float] = []
    with tempfile.TemporaryDirectory(prefix="govnet-bench-labs-") as tmp:
        t_start = time.monotonic()
        lab = Lab(net, Path(tmp), scenario, parts, log=lambda m: None)
        first_at = last_done = 0.0
        with lab:
            tl = lab.timeline
            original = tl.run_action

            def timed(act: object) -> object:
                nonlocal first_at, last_done
                if not first_at:
                    first_at = time.monotonic()
                try:
                    return original(act)  # type: ignore[arg-type]
                finally:
                    last_done = time.monotonic()

            tl.run_action = timed
            real_start = tl.start

            def start_both() -> None:
                real_start()
                _plain_scheduler(offsets, anchor_err)

            tl.start = start_both  # type: ignore[method-assign]
            ok = lab.run_programme()
        t_down = time.monotonic()
    if not ok:
        print(f"bench/labs.py: the lab failed: {lab.error}", file=sys.stderr)
        return 1
    ours_err = [
        float(a.executed) - a.at for a in lab.timeline.actions if a.executed is not None and a.state == "done"
    ]
    to_first = first_at - t_start
    teardown = t_down - last_done
    p50, p99 = _pct(ours_err, 0.5) * 1000, _pct(ours_err, 0.99) * 1000
    a50, a99 = _pct(anchor_err, 0.5) * 1000, _pct(anchor_err, 0.99) * 1000
    rows = [
        ("start to first timeline action", to_first, base_up, "s", "plain Mininet bring-up"),
        ("last action to torn down", teardown, base_down, "s", "plain Mininet teardown"),
        ("scheduling error p50", p50, a50, "ms", "sched.scheduler no-ops"),
        ("scheduling error p99", p99, a99, "ms", "sched.scheduler no-ops"),
    ]
    figures = []
    for what, ours, anchor, unit, against in rows:
        ratio = ours / anchor if anchor > 0 else None
        rtext = f"{ratio:6.1f}x" if ratio is not None else "     -"
        print(
            f"{what:32} govnet {ours:9.2f} {unit:2}  anchor {anchor:9.2f} {unit:2}  "
            f"govnet/anchor {rtext}  ({against})"
        )
        figures.append(Figure(what, round(ours, 3), round(anchor, 3), unit, ratio, "govnet/anchor", against))
    print(
        f"{len(ours_err)} actions done of {args.actions}; mean action error "
        f"{statistics.fmean(ours_err) * 1000:.1f} ms; anchor {len(anchor_err)} no-ops"
    )
    write_results(
        "labs",
        f"lab engine on {net.name} ({len(net.nodes)} nodes, {len(net.links)} links): start to first action, "
        f"last action to torn down, scheduling error of {args.actions} actions {args.spacing:g} s apart",
        "plain Mininet building and tearing down the same graph; sched.scheduler running no-ops at the "
        "same offsets in the same process",
        figures,
        params={"model": args.model, "actions": args.actions, "spacing_s": args.spacing},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
