"""What the model says about reachability: which host pairs answer and which are isolated.

A pair reaches when a path exists (non-routed VLANs stay inside their own bridge) and every firewall
on the path allows the zone pair (same zone, or an allowed `policy` entry). Stateful: replies pass.
"""

from __future__ import annotations

import ipaddress
import time
from collections import deque

from topology.model import Network, Node


def shortest_path(net: Network, src: str, dst: str) -> list[str]:
    """Fewest-hop path between two nodes (switches are hops too); [] when disconnected."""
    adj: dict[str, list[str]] = {n.name: [] for n in net.nodes}
    for lk in net.links:
        adj[lk.a].append(lk.b)
        adj[lk.b].append(lk.a)
    prev: dict[str, str | None] = {src: None}
    todo = deque([src])
    while todo:
        cur = todo.popleft()
        if cur == dst:
            break
        for nxt in adj[cur]:
            # hosts do not forward
            if nxt not in prev and (nxt == dst or not net.node(nxt).is_host):
                prev[nxt] = cur
                todo.append(nxt)
    if dst not in prev:
        return []
    path = [dst]
    while (p := prev[path[-1]]) is not None:
        path.append(p)
    return path[::-1]


def zone_allows(
    net: Network,
    src_zone: str,
    dst_zone: str,
    service: str = "icmp",
    src_addr: str = "",
    now_hhmm: str | None = None,
) -> bool:
    """Does the policy let src_zone open `service` (tcp/443, udp/53, icmp) towards dst_zone?

    With access management on the pair, the source address must lie in one of its ranges (when
    `src_addr` is given) and the time of day (`now_hhmm`, default: this machine's local time) in its
    window."""
    if service in net.forbidden:
        return False
    if src_zone == dst_zone:
        return True
    if (src_zone, dst_zone) not in net.policy:
        return False
    allowed = net.services.get((src_zone, dst_zone), ())
    if allowed and service not in allowed:
        return False
    sources, hours = net.access.get((src_zone, dst_zone), ((), ""))
    if sources and src_addr:
        addr = ipaddress.IPv4Address(src_addr.split("/")[0])
        if not any(addr in ipaddress.IPv4Network(s) for s in sources):
            return False
    if hours:
        now = now_hhmm or time.strftime("%H:%M")
        start, end = hours.split("-")
        inside = start <= now < end if start < end else (now >= start or now < end)
        if not inside:
            return False
    return True


def expected_reach(net: Network, src: Node, dst: Node) -> tuple[bool, str]:
    """(reaches?, why) for a ping from src to dst according to the model."""
    vlans = {v.name: v for v in net.vlans}
    routed_src = not src.vlan or vlans[src.vlan].routed
    routed_dst = not dst.vlan or vlans[dst.vlan].routed
    if not (routed_src and routed_dst):
        same = any(src.name in lan.hosts and dst.name in lan.hosts for lan in net.lans)
        return same, "same bridge of a non-routed VLAN" if same else "non-routed VLAN"
    path = shortest_path(net, src.name, dst.name)
    if not path:
        return False, "no path"
    for hop in path[1:-1]:
        node = net.node(hop)
        if node.kind == "firewall" and not zone_allows(net, src.zone, dst.zone, src_addr=src.addr):
            return False, f"{hop} denies {src.zone} -> {dst.zone}"
    return True, "allowed"


def representative_hosts(net: Network) -> list[Node]:
    """One host per zone (first in model order), plus a second office host on another core if any."""
    chosen: dict[str, Node] = {}
    for n in net.nodes:
        if n.is_host and n.zone and n.zone not in chosen:
            chosen[n.zone] = n
    out = list(chosen.values())
    first_office = chosen.get("office")
    if first_office is not None:
        core_of = nearest_core(net, first_office.name)
        for n in net.nodes:
            if n.is_host and n.zone == "office" and nearest_core(net, n.name) != core_of:
                out.append(n)
                break
    return out


def nearest_core(net: Network, name: str) -> str:
    """The ring node a node hangs off (by fewest hops)."""
    best = ("", 10**9)
    for core in net.by_kind("core"):
        p = shortest_path(net, name, core.name)
        if p and len(p) < best[1]:
            best = (core.name, len(p))
    return best[0]
