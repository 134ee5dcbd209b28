"""Counters of every link end of the model, read from the kernel without agents.

`/proc/<pid>/net/dev` shows the interfaces of *that process's* network namespace, so one reader in
the root namespace sees every emulated node (through its shell's pid) and every bridge port (through
its own /proc/self/net/dev) — the RMON-style port counters of the switches included.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from topology.model import Network

FIELDS = ("rx_bytes", "rx_packets", "rx_errs", "rx_drop", "tx_bytes", "tx_packets", "tx_errs", "tx_drop")


@dataclass(frozen=True)
class IfCounters:
    """The counters of /proc/net/dev that monitoring uses (bytes, packets, errors, drops)."""

    rx_bytes: int
    rx_packets: int
    rx_errs: int
    rx_drop: int
    tx_bytes: int
    tx_packets: int
    tx_errs: int
    tx_drop: int


def parse_net_dev(text: str) -> dict[str, IfCounters]:
    """Parse /proc/net/dev (two header lines, then `name: 16 numbers`)."""
    out: dict[str, IfCounters] = {}
    for line in text.splitlines()[2:]:
        if ":" not in line:
            continue
        name, _, rest = line.partition(":")
        nums = rest.split()
        if len(nums) < 16:
            continue
        v = [int(x) for x in nums]
        out[name.strip()] = IfCounters(v[0], v[1], v[2], v[3], v[8], v[9], v[10], v[11])
    return out


def read_net_dev(pid: int | None = None) -> dict[str, IfCounters]:
    """Counters of the namespace of `pid` (None: this process's own namespace)."""
    path = Path(f"/proc/{pid}/net/dev") if pid else Path("/proc/self/net/dev")
    try:
        return parse_net_dev(path.read_text())
    except OSError:
        return {}


@dataclass(frozen=True)
class LinkEnd:
    """One interface of one link, with the model's names for joining series."""

    link: str
    kind: str
    node: str
    ifname: str
    peer: str
    bw_mbps: float


def link_ends(net: Network) -> list[LinkEnd]:
    """Both ends of every link of the model."""
    ends = []
    for lk in net.links:
        ends.append(LinkEnd(lk.name, lk.kind, lk.a, lk.a_if, lk.b, lk.bw_mbps))
        ends.append(LinkEnd(lk.name, lk.kind, lk.b, lk.b_if, lk.a, lk.bw_mbps))
    return ends


class LinkSampler:
    """Reads every link end's counters in one pass: one /proc read per namespace."""

    def __init__(self, net: Network, pids: dict[str, int]) -> None:
        self.ends = link_ends(net)
        self._switches = {n.name for n in net.nodes if n.is_switch}
        self._pids = pids

    def sample(self) -> dict[tuple[str, str], IfCounters]:
        """(node, ifname) -> counters for every end that exists right now."""
        tables: dict[int | None, dict[str, IfCounters]] = {}
        out: dict[tuple[str, str], IfCounters] = {}
        for end in self.ends:
            pid = None if end.node in self._switches else self._pids.get(end.node)
            if pid is None and end.node not in self._switches:
                continue
            if pid not in tables:
                tables[pid] = read_net_dev(pid)
            counters = tables[pid].get(end.ifname)
            if counters is not None:
                out[(end.node, end.ifname)] = counters
        return out


def socket_count(pid: int) -> int:
    """Open TCP/UDP sockets of the namespace of `pid` (rows of /proc/<pid>/net/{tcp,udp}{,6})."""
    n = 0
    for name in ("tcp", "tcp6", "udp", "udp6"):
        try:
            with open(f"/proc/{pid}/net/{name}", "rb") as f:
                n += max(0, sum(1 for _ in f) - 1)
        except OSError:
            continue
    return n


def processes_per_netns() -> dict[int, int]:
    """Network-namespace inode -> number of processes in it (one /proc scan)."""
    import os

    out: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ino = os.stat(f"/proc/{entry}/ns/net").st_ino
            except OSError:
                continue
            out[ino] = out.get(ino, 0) + 1
    return out
