"""Per-device configuration computed as data, rendered as text: addresses, shaping, OSPF, nftables.

Nothing here touches the system; the emulator writes and applies what this returns, and the golden
tests compare it with files under tests/golden/ (no root needed).

Design (see ARCHITECTURE notes in README): a routed core ring (FRR OSPF, point-to-point /31s,
1 s hellos, SPF throttle 0 ms) heals in well under a second on a cut because every site prefix is
an intra-area route; VLANs are per-site Linux bridges at the access layer (one L2 domain per VLAN and
site, no 802.1Q needed); link rates are HTB classes on both ends of every veth.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from topology.model import Link, Network, Node

ROUTER_SYSCTLS = (
    "net.ipv4.ip_forward=1",
    "net.ipv4.fib_multipath_hash_policy=1",  # L4 hash: flows spread over 2x1000M members
    "net.ipv4.conf.all.rp_filter=0",
    "net.ipv4.conf.default.rp_filter=0",
    "net.ipv4.conf.all.ignore_routes_with_linkdown=1",
    "net.ipv6.conf.all.disable_ipv6=1",
)
HOST_SYSCTLS = ("net.ipv6.conf.all.disable_ipv6=1",)
# Members of a firewall pair: a mid-stream TCP packet without conntrack state is invalid (dropped), so
# sessions survive a member's loss only through state sync -- and tests of it cannot pass by accident.
# A session moved to another member (failure, drain) may cross the two members one direction each until
# its pinning settles; both hold its state, and be_liberal keeps window tracking from calling the
# half it does not see invalid.
PAIR_SYSCTLS = ("net.netfilter.nf_conntrack_tcp_loose=0", "net.netfilter.nf_conntrack_tcp_be_liberal=1")

OSPF_HELLO_S = 1
OSPF_DEAD_S = 3
NFLOG_GROUP = 5  # firewall log: `tcpdump -i nflog:5` inside a firewall namespace reads it
LOG_RATE = "10/second"
FW_MEMBER_PENALTY = 100  # OSPF cost added per firewall member index: member 0 carries traffic


@dataclass
class NodeConfig:
    """Everything one emulated node needs, as text the emulator applies verbatim."""

    name: str
    sysctls: list[str] = field(default_factory=list)
    ip_batch: list[str] = field(default_factory=list)  # lines for `ip -batch -`
    tc_batch: list[str] = field(default_factory=list)  # lines for `tc -batch -`
    ospfd: str = ""  # ospfd.conf, empty when the node runs no OSPF
    nft: str = ""  # nftables ruleset, empty when the node filters nothing


def bridge_name(node: Node) -> str:
    """Kernel name of a switch's Linux bridge (IFNAMSIZ is 15; model names are longer)."""
    return f"gn{node.index}"


def shaping_lines(dev: str, bw_mbps: float) -> list[str]:
    """HTB root class at the link rate on one interface's egress."""
    return [f"qdisc replace dev {dev} root handle 5: htb default 1", rate_line(dev, bw_mbps, "replace")]


def rate_line(dev: str, bw_mbps: float, verb: str = "change") -> str:
    """The HTB class line of `shaping_lines`; `change` reshapes a running link in place."""
    rate_kbit = round(bw_mbps * 1000)
    # 4 ms of traffic (one tick at HZ=250, HTB's rule of rate/HZ): with 1 ms a busy 2-core host
    # lost tokens between dequeues and a 1 Gbit/s link carried 810-930 Mbit/s; with 4 ms it carries
    # 954-956, the TCP goodput ceiling (1448 of 1514 bytes), with two CPU hogs running as well
    burst = max(15_000, int(bw_mbps * 125 * 4))
    quantum = min(200_000, max(1_600, int(bw_mbps * 12_500)))
    return (
        f"class {verb} dev {dev} parent 5: classid 5:1 htb rate {rate_kbit}kbit ceil {rate_kbit}kbit "
        f"burst {burst} cburst {burst} quantum {quantum}"
    )


def _ends(net: Network, name: str) -> list[tuple[Link, str, str, str]]:
    """(link, my ifname, my address, peer name) for every link of a node, in link order."""
    out = []
    for lk in net.links:
        if lk.a == name:
            out.append((lk, lk.a_if, lk.a_addr, lk.b))
        elif lk.b == name:
            out.append((lk, lk.b_if, lk.b_addr, lk.a))
    return out


def render(net: Network) -> tuple[dict[str, NodeConfig], list[str]]:
    """Per-node configs for every non-switch node, and the root namespace's tc lines (bridge ports)."""
    nodes = {n.name: n for n in net.nodes}
    configs: dict[str, NodeConfig] = {}
    root_tc: list[str] = []
    for lk in net.links:
        for end, dev in ((lk.a, lk.a_if), (lk.b, lk.b_if)):
            if nodes[end].is_switch:
                root_tc += shaping_lines(dev, lk.bw_mbps)
    for node in net.nodes:
        if node.is_switch:
            continue
        cfg = NodeConfig(node.name)
        cfg.sysctls = list(ROUTER_SYSCTLS if node.is_router else HOST_SYSCTLS)
        if in_pair(net, node):
            cfg.sysctls += PAIR_SYSCTLS
        for lk, dev, addr, _peer in _ends(net, node.name):
            if addr:
                cfg.ip_batch.append(f"addr add {addr} dev {dev}")
            cfg.ip_batch.append(f"link set {dev} up")
            cfg.tc_batch += shaping_lines(dev, lk.bw_mbps)
        cfg.ip_batch += _static_routes(net, node)
        if node.is_router and node.kind != "internet":
            cfg.ospfd = _ospfd(net, node, nodes)
        if node.kind == "firewall":
            cfg.nft = _nft(net, node)
        configs[node.name] = cfg
    return configs, root_tc


def _static_routes(net: Network, node: Node) -> list[str]:
    if node.is_host and node.gateway:
        return [f"route add default via {node.gateway}"]
    if node.kind == "firewall" and node.gateway:
        return [f"route add default via {node.gateway}"]
    if node.kind == "internet" and node.is_router:
        # The ISP routes the city's whole address plan to the firewall pair; member 0 preferred.
        inside = inside_prefixes(net)
        lines = []
        for lk in net.links:
            if lk.kind == "exit" and lk.b == node.name:
                fw_ip = lk.a_addr.split("/")[0]
                for subnet in inside:
                    lines.append(
                        f"route add {subnet} via {fw_ip} metric {10 + FW_MEMBER_PENALTY * lk.member}"
                    )
        return lines
    return []


def inside_prefixes(net: Network) -> list[str]:
    """The city's address plan as the internet side routes it: every routed VLAN and the infrastructure."""
    inside = [v.subnet for v in net.vlans if v.routed and v.zone != "internet"]
    inside.append(str(net.source.get("addressing", {}).get("infrastructure", "10.255.0.0/16")))
    return inside


def pair_members(net: Network) -> list[Node]:
    """The perimeter firewall members in member order; a 'pair' when there are two or more."""
    return sorted((n for n in net.nodes if n.kind == "firewall" and n.site == "exit"), key=lambda n: n.member)


def in_pair(net: Network, node: Node) -> bool:
    return node.kind == "firewall" and node.site == "exit" and len(pair_members(net)) > 1


def _penalty(node: Node) -> int:
    """Extra OSPF cost of a perimeter firewall member: member 0 carries traffic, the rest stand by."""
    return FW_MEMBER_PENALTY * node.member if node.kind == "firewall" and node.site == "exit" else 0


def _ospfd(net: Network, node: Node, nodes: dict[str, Node]) -> str:
    lines = [f"hostname {node.name}", "!"]
    passive: list[str] = []
    for lk, dev, addr, peer in _ends(net, node.name):
        if not addr or lk.kind == "sync":  # the state-sync LAN stays out of routing
            continue
        # Both ends of a standby member's links (and its stub LANs) carry the penalty, so every
        # router prefers member 0 in both directions and the stateful firewalls see symmetric flows.
        penalty = max(_penalty(node), _penalty(nodes[peer]))
        lines.append(f"interface {dev}")
        lines.append(f" description {lk.name}")
        lines.append(" ip ospf area 0")
        if lk.ospf:
            if nodes[peer].is_router:
                lines.append(" ip ospf network point-to-point")
            else:  # a shared transit segment (distribution switch): the core should be DR
                lines.append(f" ip ospf priority {100 if node.kind == 'core' else 0}")
            lines.append(f" ip ospf hello-interval {OSPF_HELLO_S}")
            lines.append(f" ip ospf dead-interval {OSPF_DEAD_S}")
        else:
            passive.append(dev)
        if penalty:
            lines.append(f" ip ospf cost {10 + penalty}")
        lines.append("!")
    lines += [
        "router ospf",
        f" ospf router-id {node.router_id}",
        " timers throttle spf 0 50 1000",
        " timers throttle lsa all 0",
        " timers lsa min-arrival 0",
    ]
    lines += [f" passive-interface {dev}" for dev in passive]
    if node.kind == "firewall" and node.gateway:
        lines.append(f" default-information originate always metric {10 + _penalty(node)} metric-type 1")
    lines += ["!", ""]
    return "\n".join(lines)


def _nft(net: Network, node: Node) -> str:
    """Zone policy: stateful, default deny between zones, same-zone traffic allowed."""
    zones = {z: s for z, s in net.zones.items() if s}
    out = ["table inet govnet {"]
    for z, subnets in zones.items():
        elems = ", ".join(str(ipaddress.IPv4Network(s)) for s in subnets)
        out += [
            f"  set zone_{_ident(z)} {{",
            "    type ipv4_addr; flags interval;",
            f"    elements = {{ {elems} }}",
            "  }",
        ]
    out += [
        "  chain forward {",
        "    type filter hook forward priority filter; policy drop;",
        "    ct state established,related accept",
        "    ct state invalid drop",
    ]
    # forbidden services: blocked whatever the zones, every attempt counted and logged (NFLOG)
    for match in _service_matches(net.forbidden):
        out.append(f'    {match} counter log prefix "govnet forbidden: " group {NFLOG_GROUP} drop')
    # new connections, rate-limited (a limit that does not match skips the log, never the verdict)
    out.append(f'    ct state new limit rate {LOG_RATE} log prefix "govnet new: " group {NFLOG_GROUP}')
    for z in zones:
        out.append(f"    ip saddr @zone_{_ident(z)} ip daddr @zone_{_ident(z)} accept")
    for a, b in net.policy:
        if a in zones and b in zones:
            pair = f"ip saddr @zone_{_ident(a)} ip daddr @zone_{_ident(b)}"
            sources, hours = net.access.get((a, b), ((), ""))
            if sources:  # access management: only these ranges / user groups of the zone
                pair += f" ip saddr {{ {', '.join(sources)} }}"
            if hours:  # ... and only in this daily window (nft converts it from local time)
                start, end = hours.split("-")
                pair += f' meta hour "{start}"-"{end}"' if start < end else f' meta hour != "{end}"-"{start}"'
            for match in _service_matches(net.services.get((a, b), ())) or [""]:
                rule = f"{pair} {match}".rstrip()
                out.append(f'    {rule} accept comment "{a} -> {b}"')
    out += [
        f'    limit rate {LOG_RATE} log prefix "govnet drop: " group {NFLOG_GROUP}',
        '    counter comment "default deny"',
        "  }",
        "}",
        "",
    ]
    return "\n".join(out)


def _service_matches(services: tuple[str, ...]) -> list[str]:
    """nft matches for services: one per protocol with its ports as a set; icmp on its own."""
    ports: dict[str, list[str]] = {}
    out = []
    for svc in services:
        if svc == "icmp":
            out.append("meta l4proto icmp")
        else:
            proto, port = svc.split("/")
            ports.setdefault(proto, []).append(port)
    for proto, plist in ports.items():
        out.append(f"meta l4proto {proto} th dport {{ {', '.join(plist)} }}")
    return out


def _ident(zone: str) -> str:
    return zone.replace("-", "_")
