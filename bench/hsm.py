"""Benchmark: one HSM policy pass over a 10-million-entry catalog, against a full sort, in one run.

1. Policy pass (20/80+30/70, no hysteresis so both sides must agree exactly) over a SQLite catalog of
   N entries: govnet's pass (the covering (heat_bucket, tier, size) index gives the byte histogram in one
   index-only scan; only the boundary buckets' rows are read and sorted; targets are one SQL CASE)
   against the straightforward baseline: `ORDER BY heat_key DESC, id` over the whole catalog, walked in
   Python. Each side runs in a fresh subprocess; we print wall time, peak RSS, their ratio, and check
   that both produce the same (tier -> target) move counts.
   The catalog's tiers are what the previous nightly pass left, with 1 % drifted, so a pass has moves to find.
2. Recall-latency distribution on the reference library (LTO-9 tape, BD-R XL optical), from a simulation.

Usage: .venv/bin/python bench/hsm.py [--entries 10000000] [--keep DIR]   (10M takes a few minutes)
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchfile import Figure, write_results

from backup_hsm.catalog import Catalog
from backup_hsm.devices import TIER_NAMES
from backup_hsm.placement import ArraySource, HotCold, Rows
from backup_hsm.sim import SimConfig, Simulation

HALF_LIFE = 14 * 86_400.0
NOW = 400 * 86_400.0
POLICY = HotCold(Fraction(1, 5), Fraction(3, 10), band=Fraction(0), name="20/80+30/70")


def build(path: Path, n: int) -> float:
    """A synthetic catalog: creation over a year, Zipf-like heat, lognormal sizes, and tiers as last
    night's pass left them (the policy's own placement, then 1 % of entries drifted to another tier)."""
    t0 = time.monotonic()
    rng = np.random.default_rng(1)
    created = rng.uniform(0, 365 * 86_400.0, n)
    heat = 50.0 / rng.zipf(1.3, n).astype(np.float64)
    sizes = np.maximum(1, rng.lognormal(15.5, 1.2, n)).astype(np.int64)
    keys = np.log2(heat) + created / HALF_LIFE
    ids = np.arange(1, n + 1, dtype=np.int64)
    rows = Rows(keys, ids, sizes, np.zeros(n, dtype=np.int64), created)
    tiers = POLICY.plan(ArraySource(rows), NOW).targets(rows, NOW)
    drift = rng.random(n) < 0.01
    tiers[drift] = rng.integers(0, 3, int(drift.sum()))
    cat = Catalog(path, HALF_LIFE, durable=False)
    chunk = 1_000_000
    for start in range(0, n, chunk):
        end = min(n, start + chunk)
        cat.bulk_insert(
            (
                i + 1,
                f"/oa/docs/{i:09d}.pdf",
                int(sizes[i]),
                f"{i:064x}",
                int(tiers[i]),
                float(created[i]),
                float(created[i]),
                float(heat[i]),
            )
            for i in range(start, end)
        )
        print(f"  built {end:,} entries ({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)
    cat.db.execute("ANALYZE")
    cat.close()
    return time.monotonic() - t0


def ours(path: Path) -> dict[str, int]:
    """govnet's pass: histogram index + boundary buckets for the cuts, then one scan for the moves."""
    cat = Catalog(path, HALF_LIFE, durable=False)
    rule = POLICY.plan(cat, NOW)
    expr, params = rule.sql(NOW)
    counts: dict[str, int] = {}
    for a, b in cat.db.execute(
        f"SELECT tier, t FROM (SELECT tier, {expr} AS t FROM files) WHERE tier != t", params
    ):
        key = f"{TIER_NAMES[a]}->{TIER_NAMES[b]}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def baseline(path: Path) -> dict[str, int]:
    """The straightforward pass: sort the whole catalog by heat in SQLite, walk it in Python."""
    cat = Catalog(path, HALF_LIFE, durable=False)
    total = cat.db.execute("SELECT SUM(size) FROM files").fetchone()[0]
    d_budget = total // 5
    counts: dict[str, int] = {}
    acc, phase, rest_budget = 0, 0, 0
    for tier, size in cat.db.execute("SELECT tier, size FROM files ORDER BY heat_key DESC, id"):
        if phase == 0:
            if acc + size <= d_budget:
                acc += size
                target = 0
            else:
                phase, rest_budget, acc = 1, (total - acc) * 3 // 10, 0
        if phase == 1:
            if acc + size <= rest_budget:
                acc += size
                target = 1
            else:
                phase = 2
        if phase == 2:
            target = 2
        if tier != target:
            key = f"{TIER_NAMES[tier]}->{TIER_NAMES[target]}"
            counts[key] = counts.get(key, 0) + 1
    return counts


def _hwm_mb() -> float:
    """Peak resident memory of this process image (VmHWM; ru_maxrss keeps the parent's pre-exec peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(which: str, path: Path) -> None:
    """Run one side and print JSON: seconds, peak RSS (and at start, after imports), move counts."""
    start = _hwm_mb()
    t0 = time.monotonic()
    counts = ours(path) if which == "ours" else baseline(path)
    dt = time.monotonic() - t0
    print(json.dumps({"seconds": dt, "peak_rss_mb": _hwm_mb(), "rss_at_start_mb": start, "counts": counts}))


def run_child(which: str, path: Path) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", which, str(path)], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out)  # type: ignore[no-any-return]


def latency_distribution(files: int, days: int) -> dict[str, float]:
    """Recall latencies on the reference library for a 20/80+30/70 simulation."""
    sim = Simulation(SimConfig(files=files, days=days, policy="20/80+30/70"))
    r = sim.run()
    lat = np.asarray(sim.latencies)
    print(
        f"\n2. recall latency, reference library (LTO-9 x{sim.cfg.library.tape.drives} drives, "
        f"BD-R XL x{sim.cfg.library.optical.drives}), {files:,} files, {days} days, 20/80+30/70:"
    )
    print(f"   recalls {len(lat):,}, tape mounts {r['tape_mounts']}, optical mounts {r['optical_mounts']}")
    if len(lat):
        qs = [50, 90, 95, 99]
        print(
            "   "
            + ", ".join(f"p{q} {np.percentile(lat, q):.1f} s" for q in qs)
            + f", mean {lat.mean():.1f} s, max {lat.max():.1f} s"
        )
        edges = [0, 1, 10, 30, 60, 120, 300, float("inf")]
        hist = np.histogram(lat, bins=edges)[0]
        print(
            "   " + "  ".join(f"[{a:g}-{b:g}s) {c}" for a, b, c in zip(edges, edges[1:], hist, strict=False))
        )
    out = {"recalls": float(len(lat)), "tape_mounts": r["tape_mounts"], "optical_mounts": r["optical_mounts"]}
    if len(lat):
        out.update({f"p{q}_s": float(np.percentile(lat, q)) for q in (50, 90, 95, 99)})
        out.update({"mean_s": float(lat.mean()), "max_s": float(lat.max())})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=10_000_000, help="catalog entries (default 10,000,000)")
    ap.add_argument("--keep", type=Path, help="build the catalog here and keep it (reused if present)")
    ap.add_argument("--sim-files", type=int, default=100_000, help="files in the latency simulation")
    ap.add_argument("--sim-days", type=int, default=90, help="days in the latency simulation")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    tmp = Path(tempfile.mkdtemp(prefix="hsm-bench-"))
    path = (args.keep or tmp) / "catalog.sqlite"
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            print(
                f"building a {args.entries:,}-entry catalog in {path} (bulk, no fsync) ...", file=sys.stderr
            )
            print(f"catalog built in {build(path, args.entries):.1f} s, {path.stat().st_size / 1e9:.2f} GB")
        a, b = run_child("ours", path), run_child("baseline", path)
        same = a["counts"] == b["counts"]
        print(f"\n1. policy pass 20/80+30/70 over {args.entries:,} entries")
        for label, r in (
            ("govnet (histogram index, boundary buckets)", a),
            ("baseline (SQLite ORDER BY heat)", b),
        ):
            print(f"   {label:43}: {r['seconds']:8.2f} s, peak RSS {r['peak_rss_mb']:7.1f} MB")
        print(
            f"   ratio baseline/govnet: time {b['seconds'] / a['seconds']:.1f}x, "  # type: ignore[operator]
            f"peak RSS {b['peak_rss_mb'] / a['peak_rss_mb']:.2f}x"
        )  # type: ignore[operator]
        print(f"   (peak RSS includes {a['rss_at_start_mb']:.0f} MB of interpreter + numpy at start)")
        print(f"   same moves: {same}  {json.dumps(a['counts'], sort_keys=True)}")
        lat = latency_distribution(args.sim_files, args.sim_days)
        ta, tb, ra, rb, rs = (
            float(str(x))
            for x in (a["seconds"], b["seconds"], a["peak_rss_mb"], b["peak_rss_mb"], a["rss_at_start_mb"])
        )
        write_results(
            "hsm",
            f"one policy pass (20/80+30/70) over a {args.entries:,}-entry catalog, and recall latency",
            "a full SQLite ORDER BY heat over the whole catalog, walked in Python",
            [
                Figure("policy pass", ta, tb, "s", tb / ta, "anchor/govnet", f"same moves: {same}"),
                Figure(
                    "policy pass, peak RSS",
                    ra,
                    rb,
                    "MB",
                    rb / ra,
                    "anchor/govnet",
                    f"includes {rs:.0f} MB of interpreter + numpy at start",
                ),
                *(Figure(f"recall latency {k}", v, unit="s") for k, v in lat.items() if k.endswith("_s")),
                Figure(
                    "recalls / tape mounts / optical mounts",
                    f"{lat['recalls']:.0f} / {lat['tape_mounts']:.0f} / {lat['optical_mounts']:.0f}",
                ),
            ],
            params={"entries": args.entries, "sim_files": args.sim_files, "sim_days": args.sim_days},
            extra={"moves": a["counts"]},
        )
        if not same:
            sys.exit(1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
