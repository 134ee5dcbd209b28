"""The node table of `govnet topo show --nodes`: one row per node (kind, site, zone, VLANs, addresses,
link rates), sorted by kind then name, rendered as aligned columns that wrap long cells.

Re-exported by `topology.draw` (`node_table`, `render_node_table`), the module the brief names.
"""

from __future__ import annotations

import re
import textwrap
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from topology.model import Network

# the order of the table: the backbone first, then sites, their LANs and hosts, the internet last
KIND_ORDER = ("core", "distribution", "firewall", "router", "internet", "switch", "server", "host")
HEADERS = ("name", "kind", "site", "zone", "VLANs", "addresses", "links (Mbit/s to peer)")
WRAP = {"VLANs": 12, "addresses": 31, "links (Mbit/s to peer)": 48}  # wider cells continue on the next lines


@dataclass(frozen=True)
class NodeRow:
    """One node of the table; `links` is (rate Mbit/s, peer) per cable, in the model's order."""

    name: str
    kind: str
    site: str
    zone: str
    vlans: tuple[str, ...]
    addresses: tuple[str, ...]
    links: tuple[tuple[float, str], ...]


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that puts core2 before core10 and pc2 before pc10."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", name) if p)


def _kind_rank(kind: str) -> int:
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


def node_table(net: Network, kinds: Iterable[str] = ()) -> list[NodeRow]:
    """Every node of `net` (or only those of `kinds`) once, sorted by kind (KIND_ORDER) then name."""
    wanted = set(kinds)
    vlan_of = {n.name: n.vlan for n in net.nodes}
    gw_vlans: dict[str, list[str]] = {}  # a router's VLANs: those of the LAN bridges it is cabled to
    for lk in net.links:
        if lk.kind == "lan":
            for end, peer in ((lk.a, lk.b), (lk.b, lk.a)):
                v = vlan_of[peer]
                if v and not vlan_of[end] and v not in gw_vlans.setdefault(end, []):
                    gw_vlans[end].append(v)
    addrs: dict[str, list[str]] = {n.name: ([n.addr] if n.addr else []) for n in net.nodes}
    links: dict[str, list[tuple[float, str]]] = {n.name: [] for n in net.nodes}
    for lk in net.links:
        for end, peer, addr in ((lk.a, lk.b, lk.a_addr), (lk.b, lk.a, lk.b_addr)):
            if addr and addr not in addrs[end]:
                addrs[end].append(addr)
            links[end].append((lk.bw_mbps, peer))
    rows = [
        NodeRow(
            n.name,
            n.kind,
            n.site,
            n.zone,
            tuple(gw_vlans.get(n.name, [n.vlan] if n.vlan else [])),
            tuple(addrs[n.name]),
            tuple(links[n.name]),
        )
        for n in net.nodes
        if not wanted or n.kind in wanted
    ]
    rows.sort(key=lambda r: (_kind_rank(r.kind), natural_key(r.name)))
    return rows


def format_rates(links: Sequence[tuple[float, str]]) -> str:
    """'1000 to core2, core4, fw-inner×2; 100 to bureau-finance': fastest first, peers in natural order,
    a bundle's members counted once with ×N."""
    by_rate: dict[float, Counter[str]] = {}
    for rate, peer in links:
        by_rate.setdefault(rate, Counter())[peer] += 1
    parts = []
    for rate in sorted(by_rate, reverse=True):
        peers = by_rate[rate]
        names = [p if peers[p] == 1 else f"{p}×{peers[p]}" for p in sorted(peers, key=natural_key)]
        parts.append(f"{rate:g} to {', '.join(names)}")
    return "; ".join(parts)


def _cells(row: NodeRow) -> tuple[str, ...]:
    return (
        row.name,
        row.kind,
        row.site or "-",
        row.zone or "-",
        ", ".join(row.vlans) or "-",
        ", ".join(row.addresses) or "-",
        format_rates(row.links) or "-",
    )


def render_node_table(rows: Sequence[NodeRow]) -> str:
    """The rows as aligned columns under a header; a long address or link list wraps onto continuation
    lines that leave the other columns blank (a row's first line starts with its name, the others
    with spaces)."""
    cells = [_cells(r) for r in rows]
    limits = [WRAP.get(h, 0) for h in HEADERS]
    wrapped: list[list[list[str]]] = []
    for row in cells:
        wrapped.append(
            [
                textwrap.wrap(c, lim, break_on_hyphens=False, break_long_words=False) or ["-"]
                if lim and len(c) > lim
                else [c]
                for c, lim in zip(row, limits, strict=True)
            ]
        )
    widths = [len(h) for h in HEADERS]
    for row_lines in wrapped:
        for i, lines in enumerate(row_lines):
            widths[i] = max(widths[i], *(len(x) for x in lines))
    if len(widths) > 1:
        widths[-1] = 0  # the last column is not padded

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    out = [line(HEADERS), line(["-" * max(w, len(h)) for w, h in zip(widths, HEADERS, strict=True)])]
    for row_lines in wrapped:
        for k in range(max(len(x) for x in row_lines)):
            out.append(line([x[k] if k < len(x) else "" for x in row_lines]))
    return "\n".join(out)
