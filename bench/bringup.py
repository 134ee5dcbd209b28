"""Benchmark: govnet bring-up/teardown and ring healing, each against its anchor, in one run (root).

1. Bring-up + teardown of the reference network (govnet: nodes, shaped veths, addresses, nftables,
   FRR, OSPF convergence) against plain Mininet building a graph of the same size (LinuxBridge
   switches, default Link, Mininet's own addressing, nothing else).
2. Ring heal time: govnet's routed OSPF ring (cut core1--core2 under 10 ms pings) against classic
   Linux-bridge STP on a ring of the same size (802.1D, timers tuned to their minimum: forward delay 2,
   hello 1, max age 6 — the best case of the classic design).

Usage: sudo .venv/bin/python bench/bringup.py [--model weihai] [--skip-stp]
Prints both figures and their ratio for each pair.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchfile import Figure, write_results

from topology import load_model
from topology.emulator import Emulation
from topology.emulator.check import PING_INTERVAL_S, heal_probe, measure_outage, ping_gap
from topology.model import Network


def plain_mininet(net: Network) -> tuple[float, float]:
    """Anchor: the same graph in plain Mininet (LinuxBridge, no govnet). Returns (up_s, down_s)."""
    from mininet.log import setLogLevel
    from mininet.net import Mininet
    from mininet.node import Host
    from mininet.nodelib import LinuxBridge

    setLogLevel("error")
    t0 = time.monotonic()
    mn = Mininet(topo=None, controller=None, build=False, waitConnected=False)
    names: dict[str, object] = {}
    h = s = 0
    try:
        for n in net.nodes:
            if n.is_switch:
                s += 1
                names[n.name] = mn.addSwitch(f"bs{s}", cls=LinuxBridge)
            else:
                h += 1
                names[n.name] = mn.addHost(f"bh{h}", cls=Host)
        for k, lk in enumerate(net.links):
            mn.addLink(names[lk.a], names[lk.b], intfName1=f"bl{k}a", intfName2=f"bl{k}b")
        mn.build()
        mn.start()
        up = time.monotonic() - t0
    finally:
        t1 = time.monotonic()
        mn.stop()
    return up, time.monotonic() - t1


def stp_ring_heal(size: int) -> tuple[float, float]:
    """Anchor: Linux-bridge STP ring of `size` bridges; returns (initial convergence s, outage on cut s)."""
    from mininet.log import setLogLevel
    from mininet.net import Mininet
    from mininet.nodelib import LinuxBridge

    setLogLevel("error")
    mn = Mininet(topo=None, controller=None, build=False, waitConnected=False)
    try:
        brs = [mn.addSwitch(f"bst{i + 1}", cls=LinuxBridge, stp=True, prio=100 + i) for i in range(size)]
        h1 = mn.addHost("bsth1", ip="10.99.0.1/24")
        h2 = mn.addHost("bsth2", ip="10.99.0.2/24")
        mn.addLink(h1, brs[0], intfName1="bsth1-e0", intfName2="bst1-eh")
        mn.addLink(h2, brs[1], intfName1="bsth2-e0", intfName2="bst2-eh")
        for i in range(size):
            j = (i + 1) % size
            mn.addLink(brs[i], brs[j], intfName1=f"bst{i + 1}-r{j + 1}", intfName2=f"bst{j + 1}-r{i + 1}")
        mn.build()
        mn.start()
        for i, br in enumerate(brs):  # Mininet's setbridgeprio omits the bridge name: set it here
            br.cmd(
                f"brctl setbridgeprio bst{i + 1} {100 + i}; brctl setfd bst{i + 1} 2; "
                f"brctl sethello bst{i + 1} 1; brctl setmaxage bst{i + 1} 6"
            )
        t0 = time.monotonic()
        while "1 received" not in h1.cmd("ping -c1 -W1 10.99.0.2"):
            if time.monotonic() - t0 > 120:
                return float("inf"), float("inf")
        converge = time.monotonic() - t0
        time.sleep(5)  # let every port settle
        count = int(40 / PING_INTERVAL_S)
        p = h1.popen(["ping", "-n", "-i", str(PING_INTERVAL_S), "-W", "1", "-c", str(count), "10.99.0.2"])
        time.sleep(1.0)
        mn.configLinkStatus("bst1", "bst2", "down")  # the direct, active link between the two hosts
        return converge, ping_gap(p.communicate()[0].decode(errors="replace"), count)
    finally:
        mn.stop()


def _row(what: str, ours: float, anchor: float, unit: str = "s") -> str:
    ratio = anchor / ours if ours > 0 and anchor != float("inf") else float("inf")
    a = f"{anchor:.2f} {unit}" if anchor != float("inf") else "no recovery"
    return f"{what:34} govnet {ours:8.2f} {unit}   anchor {a:>12}   anchor/govnet {ratio:6.1f}x"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="weihai", help="model file or bundled name (default: weihai)")
    ap.add_argument("--skip-stp", action="store_true", help="skip the (slow) Linux STP anchor")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/bringup.py needs root (Mininet)", file=sys.stderr)
        return 3
    net = load_model(args.model)
    print(f"model {net.name}: {len(net.nodes)} nodes, {len(net.links)} links; {os.cpu_count()} cores")

    base_up, base_down = plain_mininet(net)
    with tempfile.TemporaryDirectory(prefix="govnet-bench-") as tmp:
        emu = Emulation(net, Path(tmp))
        try:
            emu.start()
            probe = heal_probe(net)
            heal = float("nan")
            if probe is not None:
                lk, src, dst = probe
                heal, _ = measure_outage(emu, lk, src, dst)
                emu.set_link(lk, up=True)
                emu.wait_converged()
        finally:
            emu.stop()
    t = emu.timings
    print(
        f"govnet bring-up: build {t['build_s']:.2f} s + configure {t['configure_s']:.2f} s + "
        f"OSPF converge {t['converge_s']:.2f} s"
    )
    print(_row("bring-up (nodes+links up)", t["build_s"], base_up))
    print(_row("bring-up, all services converged", t["up_s"], base_up))
    print(_row("teardown", t["down_s"], base_down))
    figures = [
        Figure(
            "bring-up (nodes + links up)", t["build_s"], base_up, "s", base_up / t["build_s"], "anchor/govnet"
        ),
        Figure(
            "bring-up, all services converged",
            t["up_s"],
            base_up,
            "s",
            base_up / t["up_s"],
            "anchor/govnet",
            f"build {t['build_s']:.2f} + configure {t['configure_s']:.2f} + OSPF {t['converge_s']:.2f} s",
        ),
        Figure("teardown", t["down_s"], base_down, "s", base_down / t["down_s"], "anchor/govnet"),
    ]
    if not args.skip_stp:
        size = len(net.by_kind("core"))
        stp_conv, stp_heal = stp_ring_heal(size)
        print(f"Linux STP ring of {size} (fd 2, hello 1, maxage 6): initial convergence {stp_conv:.2f} s")
        print(_row(f"ring heal after a cut ({size} nodes)", heal, stp_heal))
        figures.append(
            Figure(
                f"ring heal after a cut ({size} nodes)",
                heal,
                stp_heal,
                "s",
                stp_heal / heal if heal > 0 else None,
                "anchor/govnet",
                f"Linux STP initial convergence {stp_conv:.2f} s",
            )
        )
    else:
        print(f"ring heal after a cut: govnet {heal:.2f} s (STP anchor skipped)")
        figures.append(Figure("ring heal after a cut", heal, None, "s", note="STP anchor skipped"))
    write_results(
        "bringup",
        f"bring-up, teardown and ring heal of {net.name} ({len(net.nodes)} nodes, {len(net.links)} links)",
        "plain Mininet building the same graph (LinuxBridge, no govnet); "
        "a Linux-bridge STP ring with minimum timers",
        figures,
        params={"model": args.model, "skip_stp": args.skip_stp},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
