"""Benchmark: metric points per second through govnet's writer against raw line protocol, in one run.

1. govnet: `Writer.write()` of `Point`s (each validated against the registry, encoded, queued) with
   the background thread sending batches through influxdb-client, until `flush()` says the store
   took everything.
2. Anchor: the same number of points, already encoded as line protocol, POSTed to the same
   VictoriaMetrics as one HTTP body (urllib, no validation, no batching, no client library).

Both write `iface` points with 4 fields (4 samples each) to a VictoriaMetrics started for the run
on a free port in a temporary directory and stopped at the end. The store's own point counts are
checked after each half. No root needed.

With --emu (root): the reference network comes up with the whole monitoring stack for --seconds
(SNMP agents and the poller, psutil host agents, kernel link counters, the store). It prints:
3. the cycle time to poll every SNMP agent (govnet's asyncio poller, 16 requests in flight) against
   net-snmp's C `snmpbulkget` run for every agent one after the other from the same NOC host;
4. the CPU cost of the whole monitoring stack at a 1 s interval, in cores (no anchor: a figure).

Usage: .venv/bin/python bench/monitoring.py [--points 200000] [--emu [--seconds 30]]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchfile import Figure, write_results

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
    ap.add_argument(
        "--emu", action="store_true", help="also measure polling and CPU cost on the reference network (root)"
    )
    ap.add_argument("--seconds", type=float, default=30.0, help="monitoring window with --emu (default 30)")
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
    write_results(
        "monitoring",
        "metric points per second through govnet's writer",
        "the same points pre-encoded as line protocol, POSTed as one HTTP body (urllib) to the same store",
        [
            Figure(
                "points/s into VictoriaMetrics",
                ours_ps,
                raw_ps,
                "points/s",
                ours_ps / raw_ps,
                "govnet/anchor",
                f"{FIELDS} fields a point; writer: {st.sent} sent, {st.spilled} spilled, "
                f"{st.dropped} dropped",
            ),
        ],
        params={"points": n},
    )
    if args.emu:
        return bench_emulated(args.seconds)
    return 0


def _cpu_s(pid: int) -> float:
    """utime + stime of one process, in seconds (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_emulated(seconds: float) -> int:
    """Poll cycle vs net-snmp, and the monitoring stack's CPU cost, on the reference network."""
    import json
    import os as _os

    from govnet.tsdb import free_port as _free_port
    from monitors.collector import LabMonitor
    from topology import load_model
    from topology.emulator import Emulation

    if _os.geteuid() != 0:
        print("--emu needs root (Mininet)", file=sys.stderr)
        return 3
    net = load_model("weihai")
    with tempfile.TemporaryDirectory(prefix="govnet-bench-mon-") as tmp:
        work = Path(tmp)
        with Store(data_dir=work / "tsdb", port=_free_port()) as store, Emulation(net, work) as emu:
            writer = Writer(store.url, spill_dir=work / "spill")
            mon = LabMonitor(emu, work, writer)
            mon.start()
            time.sleep(3)  # first cycles: engine discovery, key localisation
            procs = [p.pid for p in (mon._poller, *mon._agents.values(), *mon._host_agents.values()) if p]
            store_pid = store.pid()
            procs += [store_pid] if store_pid else []
            c0, self0, t0 = sum(_cpu_s(p) for p in procs), sum(os.times()[:2]), time.monotonic()
            time.sleep(seconds)
            c1, self1, t1 = sum(_cpu_s(p) for p in procs), sum(os.times()[:2]), time.monotonic()
            cores = ((c1 - c0) + (self1 - self0)) / (t1 - t0)
            mon.stop()
            writer.close()
            store.force_flush()
            time.sleep(1.5)
            cyc = store.query(f'avg_over_time(poller_cycle_s{{poller="snmp"}}[{int(seconds)}s])')
            comp = store.query(f'avg_over_time(poller_completeness{{poller="snmp"}}[{int(seconds)}s])')
            ours = float(cyc[0]["value"][1]) if cyc else float("nan")
            completeness = float(comp[0]["value"][1]) if comp else float("nan")
            # anchor: net-snmp's C client, the same GETBULK, every agent in turn from the NOC
            creds = json.loads((work / "snmp" / "poller-creds.json").read_text())
            targets = json.loads((work / "snmp" / "targets.json").read_text())
            script = " ; ".join(
                f"snmpbulkget -v3 -l authPriv -u {creds['user']} -a SHA -A {creds['auth_key']} -x AES "
                f"-X {creds['priv_key']} -m '' -t 1 -r 0 -Cn4 -Cr{int(n_if) + 1} {ip} 1.3.6.1.2.1.1.3 "
                "1.3.6.1.4.1.2021.11.11 1.3.6.1.4.1.2021.4.5 1.3.6.1.4.1.2021.4.6 1.3.6.1.2.1.31.1.1.1.1 "
                "1.3.6.1.2.1.31.1.1.1.6 1.3.6.1.2.1.31.1.1.1.10 1.3.6.1.2.1.2.2.1.13 1.3.6.1.2.1.2.2.1.14 "
                "1.3.6.1.2.1.2.2.1.19 1.3.6.1.2.1.2.2.1.20 1.3.6.1.2.1.2.2.1.8 >/dev/null"
                for _n, ip, n_if in targets
            )
            noc = emu.node(mon.noc)
            ta = time.monotonic()
            noc.cmd(f"export SNMP_PERSISTENT_DIR={work}/snmp-client; {script}")
            anchor = time.monotonic() - ta
    print(f"reference network: {len(targets)} SNMPv3 authPriv agents, polled from the NOC host")
    print(
        f"  poll cycle, govnet asyncio poller (16 in flight): {ours:6.2f} s "
        f"(completeness {completeness:.2f})\n"
        f"  poll cycle, net-snmp snmpbulkget one by one:      {anchor:6.2f} s\n"
        f"  ratio anchor / govnet: {anchor / ours:.1f}x"
    )
    print(
        f"  CPU cost of the monitoring stack at 1 s (agents, poller, host agents, store, collector): "
        f"{cores:.2f} cores over {seconds:g} s"
    )
    write_results(
        "monitoring-emu",
        f"SNMP poll cycle and monitoring CPU cost on the reference network ({len(targets)} SNMPv3 agents)",
        "net-snmp's snmpbulkget run for every agent one after the other from the same NOC host",
        [
            Figure(
                "poll cycle, every SNMP agent",
                ours,
                anchor,
                "s",
                anchor / ours,
                "anchor/govnet",
                f"completeness {completeness:.2f}",
            ),
            Figure(
                "CPU cost of the monitoring stack at 1 s",
                cores,
                None,
                "cores",
                note="agents, poller, host agents, store, collector; no anchor",
            ),
        ],
        params={"seconds": seconds, "model": "weihai"},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
