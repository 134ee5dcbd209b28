"""Benchmark: the firewall pair against its anchors, on the same emulated pair, in one run (root).

1. Member failure under load (8 iperf3 streams and 60 short HTTP sessions, internet -> DMZ portal;
   fw-a loses power mid-run):
   - govnet: active/active pair, conntrackd FTFW sync, slot steering with 100 ms probes;
   - anchor: keepalived active/standby (VRRP on the DMZ, default 1 s adverts) with no state sync, the
     classic design; the internet side fails over on carrier loss.
   Printed: the longest stall of any stream, streams lost (no byte after the failure), short sessions
   failed.
2. Load evenness under skewed traffic (3 elephant flows of 10 Mbit/s plus a steady stream of short
   HTTP downloads), member share max/min over the last half of the run:
   - govnet: the controller moves new-flow slots from the busier member on measured packets/s;
   - anchor: plain five-tuple ECMP hashing (the same table with the controller's balancing off).

Both members run nf_conntrack_tcp_loose=0, so a session without state is dropped, as on a real
stateful firewall. Usage: sudo .venv/bin/python bench/firewall.py [--seconds 24]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchfile import Figure, write_results

from firewall import Pair, pair_plan
from firewall.pair import member_devices, ns_run
from firewall.plan import PairPlan
from govnet.supervise import stop_all, stop_process
from topology import load_model
from topology.emulator import Emulation
from topology.emulator.handle import EmulatorHandle, NodeHandle

Popen = subprocess.Popen[Any]

PORTAL = "10.50.0.11"
VIP = "10.50.0.254"


def http_server(emu: EmulatorHandle) -> Popen:
    d = tempfile.mkdtemp(prefix="govnet-bench-www-")
    Path(d, "big").write_bytes(os.urandom(256 * 1024))
    Path(d, "index.html").write_text("ok\n")
    return emu.node("dmz-portal").popen(
        ["python3", "-m", "http.server", "80", "--directory", d],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def curl_loop(node: NodeHandle, n: int, path: str = "", sleep: float = 0.05) -> Popen:
    cmd = (
        f"for i in $(seq 1 {n}); do curl -s -o /dev/null -w '%{{http_code}}\\n' --max-time 8 "
        f"http://{PORTAL}/{path}; sleep {sleep}; done"
    )
    return node.popen(["bash", "-c", cmd], stdout=subprocess.PIPE, text=True)


def iperf(emu: EmulatorHandle, seconds: int, streams: int, rate: str) -> tuple[Popen, Popen]:
    srv = emu.node("dmz-portal").popen(["iperf3", "-s", "-1", "-p", "443"])
    time.sleep(0.5)
    argv = ["timeout", str(seconds + 25), "iperf3", "-c", PORTAL, "-p", "443", "-t", str(seconds)]
    argv += ["-P", str(streams), "-b", rate, "-i", "0.1", "-J"]
    cli = emu.node("citizen1").popen(argv, stdout=subprocess.PIPE, text=True)
    return srv, cli


def stream_figures(out: str, fail_at: float) -> tuple[float, int, int]:
    """(longest stall s, streams lost, streams) from iperf3 JSON; a stream that carries no byte from
    1.5 s after the failure to the end of the run is lost."""
    try:
        data = json.loads(out)
    except json.JSONDecodeError:  # iperf3 never finished (killed by its timeout): every stream died
        return float("inf"), 8, 8
    gaps: dict[int, float] = {}
    run: dict[int, float] = {}
    after: dict[int, int] = {}
    for iv in data.get("intervals", []):
        for st in iv["streams"]:
            sid = st["socket"]
            run[sid] = run.get(sid, 0.0) + st["seconds"] if st["bytes"] == 0 else 0.0
            gaps[sid] = max(gaps.get(sid, 0.0), run[sid])
            if st["start"] >= fail_at + 1.5:  # in-flight data may still trickle in just after the failure
                after[sid] = after.get(sid, 0) + st["bytes"]
    lost = sum(1 for sid in gaps if after.get(sid, 0) == 0)
    return max(gaps.values(), default=float("inf")), lost, len(gaps)


def failover_run(emu: EmulatorHandle, crash: Callable[[], None], seconds: int = 8) -> dict[str, Any]:
    www = http_server(emu)
    try:
        time.sleep(0.5)
        srv, cli = iperf(emu, seconds, 8, "4M")
        curl = curl_loop(emu.node("citizen1"), 60)
        time.sleep(2.5)
        crash()
        out, _ = cli.communicate(timeout=seconds + 40)
        codes, _ = curl.communicate(timeout=120)
        stop_process(srv)
        stall, lost, n = stream_figures(out, 2.5)
        c = codes.split()
        return {"stall_s": stall, "streams_lost": lost, "streams": n, "http_failed": len(c) - c.count("200")}
    finally:
        stop_process(www)


def power_off(emu: EmulatorHandle, member: str) -> None:
    pid = emu.pid(member)
    ns_run(pid, ["pkill", "-KILL", "-f", f"keepalived.*{member}"])
    ns_run(
        pid,
        ["ip", "-force", "-batch", "-"],
        stdin="".join(f"link set {d} down\n" for d in member_devices(emu, member)),
    )
    ns_run(pid, ["conntrack", "-F"])


@contextlib.contextmanager
def keepalived_pair(emu: EmulatorHandle, work: Path) -> Iterator[None]:
    """Anchor: VRRP (keepalived, advert_int 1) for the DMZ gateway; fw-a master, no state sync."""
    plan = pair_plan(emu.model)
    assert plan is not None
    portal = next(p for p in plan.points if p.node == "dmz-portal")
    procs = []
    for m, prio in (("fw-a", 150), ("fw-b", 100)):
        dev = portal.via_for(m)
        # the member's own DMZ device: the one holding its DMZ address
        r = ns_run(emu.pid(m), ["ip", "-j", "-4", "addr"])
        ifname = next(
            x["ifname"] for x in json.loads(r.stdout) for a in x["addr_info"] if a["local"] == dev.gateway
        )
        d = work / f"ka-{m}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "keepalived.conf").write_text(
            f"global_defs {{\n  router_id {m}\n  max_auto_priority -1\n}}\n"
            f"vrrp_instance dmz {{\n  state BACKUP\n  interface {ifname}\n  virtual_router_id 50\n"
            f"  priority {prio}\n  advert_int 1\n  virtual_ipaddress {{\n    {VIP}/24\n  }}\n}}\n"
        )
        argv = [
            "keepalived",
            "-P",
            "-n",
            "-l",
            "-D",
            "-f",
            str(d / "keepalived.conf"),
            "-p",
            str(d / "k.pid"),
        ]
        argv += ["-r", str(d / "v.pid"), "-c", str(d / "c.pid")]
        procs.append(emu.node(m).popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        t0 = time.monotonic()
        while "10.50.0.254" not in emu.node("fw-a").cmd("ip -4 addr") and time.monotonic() - t0 < 15:
            time.sleep(0.2)
        emu.node("dmz-portal").cmd(f"ip route replace default via {VIP}")
        yield
    finally:
        stop_all(procs)


def member_bytes(emu: EmulatorHandle, plan: PairPlan) -> dict[str, int]:
    out = {}
    sync = {m.sync_dev for m in plan.members}
    for m in plan.names:
        total = 0
        for line in Path(f"/proc/{emu.pid(m)}/net/dev").read_text().splitlines()[2:]:
            dev, _, rest = line.partition(":")
            if dev.strip() not in sync and dev.strip() != "lo":
                total += int(rest.split()[0])
        out[m] = total
    return out


def evenness_run(emu: EmulatorHandle, pair: Pair, seconds: int) -> dict[str, Any]:
    www = http_server(emu)
    loops: list[Popen] = []
    try:
        time.sleep(0.5)
        srv, cli = iperf(emu, seconds, 3, "10M")
        loops = [curl_loop(emu.node("citizen1"), 10_000, "big", 0.02) for _ in range(3)]
        time.sleep(seconds / 2)
        b0, t0 = member_bytes(emu, pair.plan), time.monotonic()
        time.sleep(seconds / 2 - 1)
        b1, t1 = member_bytes(emu, pair.plan), time.monotonic()
        rates = {m: (b1[m] - b0[m]) * 8 / (t1 - t0) / 1e6 for m in b0}
        cli.communicate(timeout=seconds + 40)
        stop_process(srv)
        lo = min(rates.values())
        return {
            "mbps": {m: round(v, 1) for m, v in rates.items()},
            "max_min": max(rates.values()) / lo if lo > 0 else float("inf"),
        }
    finally:
        stop_all([*loops, www])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=24, help="length of each evenness run")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/firewall.py needs root (Mininet)", file=sys.stderr)
        return 3
    net = load_model("small")
    plan = pair_plan(net)
    assert plan is not None
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="govnet-bench-fw-") as tmp:
        work = Path(tmp)
        # 1a: anchor, keepalived active/standby without sync
        with Emulation(net, work / "ka") as emu, keepalived_pair(emu, work):
            results["keepalived"] = failover_run(emu, lambda: power_off(emu, "fw-a"))
        # 1b and 2: govnet's pair
        with Emulation(net, work / "pair") as emu, Pair(emu, plan, work / "pair", balance=False) as pair:
            results["govnet"] = failover_run(emu, lambda: pair.crash("fw-a"))
            pair.restore("fw-a")
            time.sleep(1.5)
            pair.add("fw-a")
            time.sleep(1)
            results["ecmp"] = evenness_run(emu, pair, args.seconds)
            pair.balance, pair.rebalance_s = True, 1.0
            results["balanced"] = evenness_run(emu, pair, args.seconds)
            results["balanced"]["rebalances"] = sum(
                1 for e in pair.history if e["detail"].get("action") == "rebalance"
            )
    g, k = results["govnet"], results["keepalived"]
    print("1. member failure under load (8 TCP streams, 60 short HTTP sessions; fw-a powered off)")
    print(f"{'':<34}{'govnet pair':>14}{'keepalived A/S':>16}")
    print(f"{'longest stream stall (s)':<34}{g['stall_s']:>14.2f}{k['stall_s']:>16.2f}")
    lost_g, lost_k = f"{g['streams_lost']}/{g['streams']}", f"{k['streams_lost']}/{k['streams']}"
    print(f"{'TCP streams lost':<34}{lost_g:>14}{lost_k:>16}")
    print(f"{'short HTTP sessions failed (of 60)':<34}{g['http_failed']:>14}{k['http_failed']:>16}")
    if g["stall_s"] > 0:
        print(f"stall ratio keepalived/govnet: {k['stall_s'] / g['stall_s']:.1f}x")
    e, b = results["ecmp"], results["balanced"]
    print(
        "\n2. load evenness, 3 elephants x 10 Mbit/s + short downloads (member Mbit/s, last half of the run)"
    )
    print(f"   govnet controller: {b['mbps']} max/min {b['max_min']:.2f} ({b['rebalances']} rebalance steps)")
    print(f"   plain ECMP hash:   {e['mbps']} max/min {e['max_min']:.2f}")
    print(f"   evenness ratio (ECMP / govnet): {e['max_min'] / b['max_min']:.2f}")
    print(json.dumps(results))
    write_results(
        "firewall",
        "firewall pair: failover under load and load evenness",
        "keepalived active/standby (VRRP, 1 s adverts, no state sync); plain five-tuple ECMP hashing",
        [
            Figure(
                "longest TCP stream stall, fw-a powered off",
                g["stall_s"],
                k["stall_s"],
                "s",
                k["stall_s"] / g["stall_s"] if g["stall_s"] > 0 else None,
                "anchor/govnet",
            ),
            Figure("TCP streams lost", f"{lost_g}", f"{lost_k}"),
            Figure("short HTTP sessions failed (of 60)", g["http_failed"], k["http_failed"]),
            Figure(
                "load evenness, member max/min Mbit/s (anchor: plain ECMP)",
                b["max_min"],
                e["max_min"],
                "",
                e["max_min"] / b["max_min"],
                "anchor/govnet",
                f"govnet {b['mbps']} in {b['rebalances']} rebalance steps; ECMP {e['mbps']}",
            ),
        ],
        params={"seconds": args.seconds, "model": "small"},
        extra=results,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
