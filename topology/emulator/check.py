"""`topo up --check`: verify a running emulation against its model.

Three checks, each a list of rows with ok/not ok:
- reachability: representative hosts of every zone ping each other; the model's policy and VLAN
  routing say which pairs must answer and which must stay isolated;
- rates: iperf3 over a 10, a 100 and a 1000 Mbit/s link (and the internet exit) within 10 %; a figure
  below that is measured again with the link's shaper lifted, and passes as host-limited only when
  the path then carries less than the shaper's rate too;
- heal: 10 ms pings across a ring link while it is cut; the largest gap must stay under 1 s.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from govnet.errors import EmulationError
from govnet.supervise import stop_process
from topology.emulator.handle import EmulatorHandle
from topology.model import Link, Network
from topology.reach import expected_reach, nearest_core, representative_hosts, shortest_path

RATE_TOLERANCE = 0.10
HEAL_LIMIT_S = 1.0
PING_INTERVAL_S = 0.01


@dataclass
class Row:
    check: str
    subject: str
    expected: str
    measured: str
    ok: bool


@dataclass
class CheckReport:
    rows: list[Row] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(r.ok for r in self.rows)

    def table(self) -> str:
        w = [
            max([len(h)] + [len(getattr(r, f)) for r in self.rows])
            for h, f in (
                ("check", "check"),
                ("subject", "subject"),
                ("expected", "expected"),
                ("measured", "measured"),
            )
        ]
        lines = [f"{'check':{w[0]}} {'subject':{w[1]}} {'expected':{w[2]}} {'measured':{w[3]}} result"]
        for r in self.rows:
            lines.append(
                f"{r.check:{w[0]}} {r.subject:{w[1]}} {r.expected:{w[2]}} {r.measured:{w[3]}} "
                f"{'ok' if r.ok else 'FAIL'}"
            )
        failed = sum(not r.ok for r in self.rows)
        lines.append(f"{len(self.rows) - failed} passed, {failed} failed")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "rows": [asdict(r) for r in self.rows], "figures": self.figures}


def run_checks(
    emu: EmulatorHandle, which: tuple[str, ...] = ("reachability", "rates", "heal")
) -> CheckReport:
    report = CheckReport()
    if "reachability" in which:
        report.rows += check_reachability(emu)
    if "rates" in which:
        report.rows += check_rates(emu)
    if "heal" in which:
        rows, figures = check_heal(emu)
        report.rows += rows
        report.figures.update(figures)
    return report


# reachability --------------------------------------------------------------------------------
def check_reachability(emu: EmulatorHandle) -> list[Row]:
    net = emu.model
    hosts = representative_hosts(net)
    procs = []
    for src in hosts:
        for dst in hosts:
            if src.name == dst.name:
                continue
            want, why = expected_reach(net, src, dst)
            ip = dst.addr.split("/")[0]
            p = emu.node(src.name).popen(["ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", ip])
            procs.append((src, dst, want, why, p))
    rows = []
    for src, dst, want, why, p in procs:
        out = p.communicate()[0].decode(errors="replace")
        got = bool(re.search(r"bytes from", out))
        rows.append(
            Row(
                "reachability",
                f"{src.name} -> {dst.name}",
                "answers" if want else f"isolated ({why})",
                "answers" if got else "no answer",
                got == want,
            )
        )
    return rows


# link rates ----------------------------------------------------------------------------------
def _iperf_ends(net: Network, lk: Link) -> tuple[str, str, str]:
    """(client, server, server address) so that the path's bottleneck is this link."""
    a, b = net.node(lk.a), net.node(lk.b)
    if not a.is_switch and not b.is_switch:
        return lk.a, lk.b, lk.b_addr.split("/")[0]
    sw, client = (lk.b, lk.a) if b.is_switch else (lk.a, lk.b)
    for other in net.links_of(sw):
        peer, addr = (other.a, other.a_addr) if other.b == sw else (other.b, other.b_addr)
        if peer != client and addr and net.node(peer).is_router:
            return client, peer, addr.split("/")[0]
    raise LookupError(f"no router behind {sw} to measure {lk.name}")


def rate_sample_links(net: Network) -> list[Link]:
    """One link per rate class up to 1000 Mbit/s (10, 100, 1000 in the reference), preferring ring,
    bureau uplink and desktop access links, whose bottleneck an iperf3 stream can isolate."""
    prefer = ("ring", "uplink", "access", "exit", "inside", "distribution", "lan")
    picks: list[Link] = []
    for bw in sorted({lk.bw_mbps for lk in net.links if lk.bw_mbps <= 1000}):
        for kind in prefer:
            cands = [lk for lk in net.links if lk.kind == kind and lk.bw_mbps == bw]
            usable = [lk for lk in cands if _measurable(net, lk)]
            if usable:
                picks.append(usable[0])
                break
    return picks


def _measurable(net: Network, lk: Link) -> bool:
    try:
        _iperf_ends(net, lk)
    except LookupError:
        return False
    return True


def measure_rate(emu: EmulatorHandle, lk: Link, seconds: float = 3.0) -> float:
    """Mbit/s received over one iperf3 TCP stream whose bottleneck is this link."""
    client, server, ip = _iperf_ends(emu.model, lk)
    srv = emu.node(server).popen(["iperf3", "-s", "-1", "-B", ip, "-p", "5201"])
    try:
        time.sleep(0.3)
        out = emu.node(client).cmd(f"iperf3 -c {ip} -p 5201 -t {seconds} -O 1 -J")
        data = json.loads(out[out.index("{") :])
        return float(data["end"]["sum_received"]["bits_per_second"]) / 1e6
    except (ValueError, KeyError) as exc:
        raise RuntimeError(f"iperf3 {client} -> {server} gave no result: {exc}") from None
    finally:
        stop_process(srv)  # iperf3 -s -1 has normally ended with its one test


def judge_rate(bw: float, got: float, unshaped: float | None) -> tuple[bool, str]:
    """Is `got` (Mbit/s through a link shaped at `bw`) right? It must never exceed the shaper, and it
    must reach it within RATE_TOLERANCE unless the path, with this link's shaper lifted, carries less
    than the shaper's rate: then the host is the bottleneck and the figure must be within tolerance
    of what the host carries (`unshaped`)."""
    text = f"{got:.1f} Mbit/s ({(got / bw - 1) * 100:+.1f} %)"
    if got > bw * (1 + RATE_TOLERANCE):
        return False, text + " above its shaper"
    if got >= bw * (1 - RATE_TOLERANCE):
        return True, text
    if unshaped is None or unshaped >= bw * (1 - RATE_TOLERANCE):
        return False, text if unshaped is None else f"{text}; unshaped {unshaped:.0f}"
    return got >= unshaped * (1 - RATE_TOLERANCE), f"{text}; host-limited, unshaped {unshaped:.0f}"


def measure_unshaped(emu: EmulatorHandle, lk: Link) -> float:
    """Mbit/s the same path carries with this link's shaper lifted (10x its rate); the shaper is
    put back whatever happens."""
    emu.set_rate(lk, lk.bw_mbps * 10)
    try:
        return measure_rate(emu, lk)
    finally:
        emu.set_rate(lk, lk.bw_mbps)


def check_rates(emu: EmulatorHandle) -> list[Row]:
    """One row per sampled link. A figure below tolerance is measured again without the link's
    shaper, so that a host too busy to fill a gigabit link (2 cores running 68 routers) is reported
    as host-limited rather than as a wrong shaper; a shaper set too low still fails."""
    rows = []
    for lk in rate_sample_links(emu.model):
        try:
            got = measure_rate(emu, lk)
            unshaped = measure_unshaped(emu, lk) if got < lk.bw_mbps * (1 - RATE_TOLERANCE) else None
            ok, measured = judge_rate(lk.bw_mbps, got, unshaped)
        except (RuntimeError, EmulationError) as exc:
            ok, measured = False, str(exc)[:60]
        rows.append(Row("rate", f"{lk.name} ({lk.kind})", f"{lk.bw_mbps:g} Mbit/s ±10 %", measured, ok))
    return rows


# ring heal -----------------------------------------------------------------------------------
def heal_probe(net: Network) -> tuple[Link, str, str] | None:
    """A ring link and a (src, dst) host pair whose shortest path crosses it."""
    rings = [lk for lk in net.links if lk.kind == "ring"]
    if not rings:
        return None
    cores = {h.name: nearest_core(net, h.name) for h in net.nodes if h.is_host}
    fallback = None
    for lk in rings:
        srcs = [h for h in net.nodes if h.is_host and cores[h.name] == lk.b]
        dsts = [h for h in net.nodes if h.is_host and cores[h.name] == lk.a]
        for s in srcs:
            for d in dsts:
                if not expected_reach(net, s, d)[0]:
                    continue
                # prefer a pure backbone path (no firewall on it): it measures the ring alone
                if not any(net.node(h).kind == "firewall" for h in shortest_path(net, s.name, d.name)):
                    return lk, s.name, d.name
                fallback = fallback or (lk, s.name, d.name)
    return fallback


def measure_outage(
    emu: EmulatorHandle, lk: Link, src: str, dst: str, restore: bool = False
) -> tuple[float, int]:
    """Cut (or restore) a link under 10 ms pings; return (largest reply gap in s, replies received)."""
    ip = emu.model.node(dst).addr.split("/")[0]
    count = int(4.0 / PING_INTERVAL_S)
    p = emu.node(src).popen(["ping", "-n", "-i", str(PING_INTERVAL_S), "-W", "1", "-c", str(count), ip])
    time.sleep(1.0)
    emu.set_link(lk, up=restore)
    out = p.communicate()[0].decode(errors="replace")
    return ping_gap(out, count), len(re.findall(r"bytes from", out))


def ping_gap(out: str, count: int) -> float:
    """Largest run of missing replies in `ping -i PING_INTERVAL_S -c count` output, in seconds;
    inf when replies never came back before the end."""
    seqs = [int(m) for m in re.findall(r"bytes from .*?icmp_seq=(\d+)", out)]
    if len(seqs) < 2 or seqs[-1] < count - 50:
        return float("inf")
    gap = max(b - a for a, b in itertools.pairwise([0, *seqs])) - 1
    return gap * PING_INTERVAL_S


def check_heal(emu: EmulatorHandle) -> tuple[list[Row], dict[str, Any]]:
    probe = heal_probe(emu.model)
    if probe is None:
        return [Row("heal", "ring", "a ring link to cut", "model has no ring path to probe", False)], {}
    lk, src, dst = probe
    subject = f"cut {lk.name} ({src} -> {dst})"
    ip = emu.model.node(dst).addr.split("/")[0]
    route = emu.node(lk.b).cmd(f"ip -4 route get {ip}")
    if f"dev {lk.b_if} " not in route + " ":
        return [Row("heal", subject, f"path via {lk.b_if}", "probe path avoids the link", False)], {}
    cut_gap, _ = measure_outage(emu, lk, src, dst)
    rows = [Row("heal", subject, f"< {HEAL_LIMIT_S:g} s outage", f"{cut_gap:.2f} s", cut_gap < HEAL_LIMIT_S)]
    restore_gap, _ = measure_outage(emu, lk, src, dst, restore=True)
    emu.wait_converged()
    rows.append(
        Row(
            "heal",
            f"restore {lk.name}",
            f"< {HEAL_LIMIT_S:g} s outage",
            f"{restore_gap:.2f} s",
            restore_gap < HEAL_LIMIT_S,
        )
    )
    return rows, {"heal_cut_s": cut_gap, "heal_restore_s": restore_gap, "heal_link": lk.name}
