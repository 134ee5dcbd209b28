"""Benchmark (root): the live NIDS sensor at the internet exit's line rate, against tcpdump, in one run.

    sudo .venv/bin/python bench/nids_live.py [--seconds 20] [--streams 8]

Brings up the small model with its firewall pair (two 100 Mbit/s exit links, one per member) and
fills both exits: `iperf3 -P STREAMS` from the internet host to an iperf3 server on the DMZ portal,
on tcp/443, which the zone policy allows. The pair spreads the streams over its members. On each
member's outside interface, at the same time:
- govnet's sensor (`python -m ids.nids.sensor`: AF_PACKET + BPF, struct decode, rules, detectors);
- the anchor, `tcpdump -n -s 96 -w /dev/null` (libpcap, in C).
Each reports the frames it received and what the kernel dropped because it fell behind. The table
gives per link: Mbit/s carried (kernel counters), frames for each, drops for each, and the ratio of
frames seen. The goal (issue 6) is no drops at line rate.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchfile import Figure, write_results

from firewall.pair import Pair
from firewall.plan import pair_plan
from govnet import events
from govnet.supervise import stop_all, stop_process
from ids.nids.lab import sensor_command, sensor_points
from monitors.linkstats import read_net_dev
from topology import load_model
from topology.emulator import Emulation

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--streams", type=int, default=8)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/nids_live.py needs root (it builds an emulated network)", file=sys.stderr)
        return 2
    net = load_model("small")
    plan = pair_plan(net)
    assert plan is not None
    outside = [(name, node, iface) for name, node, iface in sensor_points(net) if name.endswith("-outside")]
    portal = str(net.node("dmz-portal").addr).split("/")[0]
    with tempfile.TemporaryDirectory(prefix="govnet-nidslive-") as tmp:
        work = Path(tmp)
        with Emulation(net, work) as emu, Pair(emu, plan, work, log=lambda m: None):
            srv = emu.node("dmz-portal").popen(["iperf3", "-s", "-p", "443"])
            procs = []
            try:
                for name, node, iface in outside:
                    assert node is not None
                    cmd = sensor_command(name, iface, work / f"{name}.json", 1000.0, duration=a.seconds + 4)
                    sensor = emu.node(node).popen(
                        cmd, cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                    )
                    dump = emu.node(node).popen(
                        ["tcpdump", "-n", "-i", iface, "-s", "96", "-w", "/dev/null"],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                    procs.append((name, node, iface, sensor, dump))
                time.sleep(2.0)
                before = {n: read_net_dev(emu.pid(node)).get(i) for n, node, i, _, _ in procs}
                t0 = time.monotonic()
                out = emu.node("citizen1").cmd(
                    f"iperf3 -c {portal} -p 443 -P {a.streams} -t {a.seconds:g} -J 2>&1"
                )
                elapsed = time.monotonic() - t0
                after = {n: read_net_dev(emu.pid(node)).get(i) for n, node, i, _, _ in procs}
                try:
                    total = json.loads(out[out.index("{") :])["end"]["sum_received"]["bits_per_second"] / 1e6
                except (ValueError, KeyError):
                    total = float("nan")
                rows = []
                for name, _node, iface, sensor, dump in procs:
                    sensor.wait(timeout=a.seconds + 30)
                    dump.send_signal(signal.SIGINT)
                    err = dump.communicate(timeout=10)[1]
                    got = re.search(r"(\d+) packets received by filter", err)
                    lost = re.search(r"(\d+) packets dropped by kernel", err)
                    stats = [r for r in events.read(work / f"{name}.json") if r.get("event_type") == "stats"][
                        -1
                    ]
                    d = stats["detail"]
                    b, c = before[name], after[name]
                    mbps = (
                        ((c.rx_bytes - b.rx_bytes) + (c.tx_bytes - b.tx_bytes)) * 8 / elapsed / 1e6
                        if b and c
                        else 0.0
                    )
                    rows.append(
                        (
                            name,
                            iface,
                            mbps,
                            int(d.get("frames", 0)),
                            int(d.get("kernel_drops", 0) or 0),
                            int(got.group(1)) if got else -1,
                            int(lost.group(1)) if lost else -1,
                        )
                    )
            finally:
                stop_all([p for *_x, sensor, dump in procs for p in (sensor, dump)])
                stop_process(srv)
    print(
        f"iperf3 internet -> DMZ, {a.streams} streams for {a.seconds:g} s: {total:.1f} Mbit/s received in all"
    )
    head = ("link", "Mbit/s", "govnet frames", "drops", "tcpdump frames", "drops", "ratio")
    print("{:22} {:>8} {:>14} {:>6} {:>15} {:>6} {:>6}".format(*head))
    for name, iface, mbps, frames, drops, tframes, tdrops in rows:
        ratio = frames / tframes if tframes > 0 else float("nan")
        link = f"{name} {iface}"
        print(f"{link:22} {mbps:8.1f} {frames:14,} {drops:6} {tframes:15,} {tdrops:6} {ratio:6.3f}")
    figures = [Figure("Mbit/s received in all (iperf3)", total, unit="Mbit/s")]
    for name, iface, mbps, frames, drops, tframes, tdrops in rows:
        figures += [
            Figure(
                f"{name} {iface}: frames captured",
                frames,
                tframes,
                "",
                frames / tframes if tframes > 0 else None,
                "govnet/anchor",
                f"{mbps:.1f} Mbit/s carried",
            ),
            Figure(f"{name} {iface}: kernel drops", drops, tdrops),
        ]
    write_results(
        "nids_live",
        "the live sensor at the exits' line rate (small model, both 100 Mbit/s exits full)",
        "tcpdump -n -s 96 -w /dev/null (libpcap) on the same interfaces at the same time",
        figures,
        params={"seconds": a.seconds, "streams": a.streams, "model": "small"},
        notes=["frame counts are GRO-sized veth frames, not 1,500-byte packets"],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
