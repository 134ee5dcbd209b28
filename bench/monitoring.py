"""Benchmark: metric points per second through govnet's writer against raw line protocol, in one run.

1. govnet: `Writer.write()` of `Point`s (each validated against the registry, encoded, queued) with
   the background thread sending batches through influxdb-client, until `flush()` says the store
   took everything.
2. Anchor: the same number of points, already encoded as line protocol, POSTed to the same
   VictoriaMetrics as one HTTP body (urllib, no validation, no batching, no client library).

Both write `iface` points with 4 fields (4 samples each) to a VictoriaMetrics started for the run
on a free port in a temporary directory and stopped at the end. The store's own point counts are
checked after each half. No root needed.

Usage: .venv/bin/python bench/monitoring.py [--points 200000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from govnet.metrics import Point
from govnet.tsdb import Store, free_port
from govnet.tsdb_writer import Writer, WriterStats

FIELDS = 4


def make_points(n: int, node: str, t0_ns: int) -> list[Point]:
    """n iface points over 100 interfaces, one per interface every 10 ms of (past) time."""
    out = []
    for i in range(n):
        k, step = i % 100, i // 100
        tags = {"node": node, "ifname": f"gn{k}e0", "link": f"{node}--r{k}", "kind": "ring"}
        fields: dict[str, int | float | bool] = {
            "rx_bytes": 1000 * step,
            "tx_bytes": 2000 * step,
            "tx_bps": 16000.0,
            "oper_up": True,
        }
        out.append(Point("iface", tags, fields, t0_ns + step * 10_000_000 + k))
    return out


def count(store: Store, node: str) -> int:
    store.force_flush()
    return sum(len(s["values"]) for s in store.export(f'{{__name__=~"iface_.*",node="{node}"}}'))


def bench_writer(store: Store, points: list[Point], spill: Path) -> tuple[float, WriterStats]:
    t = time.perf_counter()
    with Writer(store.url, spill_dir=spill) as w:
        for i in range(0, len(points), 1000):  # as monitors do: many small writes
            w.write(points[i : i + 1000])
        if not w.flush():
            raise SystemExit(f"writer could not flush: {w.stats()}")
        st = w.stats()
    elapsed = time.perf_counter() - t
    if st.sent != len(points) or st.dropped:
        raise SystemExit(f"writer lost points: {st}")
    return elapsed, st


def bench_raw(store: Store, points: list[Point]) -> float:
    body = "\n".join(p.line() for p in points).encode()  # encoding is not timed: the anchor's best case
    t = time.perf_counter()
    req = urllib.request.Request(store.url + "/api/v2/write?org=x&bucket=y&precision=ns", data=body)
    with urllib.request.urlopen(req, timeout=300) as r:
        if r.status != 204:
            raise SystemExit(f"raw write answered HTTP {r.status}")
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=200_000, help="points per half (default 200000)")
    args = ap.parse_args()
    n = args.points
    t0 = time.time_ns() - 3600 * 10**9
    with tempfile.TemporaryDirectory(prefix="govnet-bench-") as tmp:
        store = Store(None, Path(tmp) / "tsdb", port=free_port())
        store.up()
        try:
            ours = make_points(n, "writer", t0)
            raw = make_points(n, "raw", t0)
            t_raw = bench_raw(store, raw)
            t_ours, st = bench_writer(store, ours, Path(tmp) / "spill")
            got_ours, got_raw = count(store, "writer"), count(store, "raw")
        finally:
            store.down()
    if got_ours != n * FIELDS or got_raw != n * FIELDS:
        print(f"store holds {got_ours} / {got_raw} samples, expected {n * FIELDS} each", file=sys.stderr)
        return 1
    ours_ps, raw_ps = n / t_ours, n / t_raw
    print(f"VictoriaMetrics on 127.0.0.1, {n} iface points x {FIELDS} fields each, all found in the store")
    print(
        f"  govnet Writer (validated, queued, batched via influxdb-client): {ours_ps:>10,.0f} points/s"
        f"  ({ours_ps * FIELDS:,.0f} samples/s, {t_ours:.2f} s)"
    )
    print(
        f"  raw line protocol, one HTTP POST (urllib, pre-encoded):        {raw_ps:>10,.0f} points/s"
        f"  ({raw_ps * FIELDS:,.0f} samples/s, {t_raw:.2f} s)"
    )
    print(f"  ratio govnet / raw: {ours_ps / raw_ps:.2f}")
    print(f"  (writer: {st.sent} sent, {st.spilled} spilled to disk on the way, {st.dropped} dropped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
