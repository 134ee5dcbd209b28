"""The builder that `topology.expand` fills: nodes, links, LANs, interface names, point-to-point pool.

Internal to `topology.expand` (the sections in `expand_sites` and `expand_exit` add to it); every
problem it finds is collected, not raised, so one run reports them all.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from govnet.errors import Problem
from topology.model import ROUTER_KINDS, SWITCH_KINDS, Lan, Link, Node

LAN_PREFIX = 24
FIRST_HOST = 11  # .1-.10 are kept for gateways and firewall members


@dataclass
class _Builder:
    source: str
    spec: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    lans: list[Lan] = field(default_factory=list)
    origin: dict[str, str] = field(default_factory=dict)  # node name -> model path that made it
    position: dict[str, int] = field(default_factory=dict)  # node name -> index (O(1) at 10k nodes)
    ifcount: dict[str, int] = field(default_factory=dict)
    p2p: deque[ipaddress.IPv4Network] = field(default_factory=deque)  # popleft: O(1) per link
    transit: list[ipaddress.IPv4Network] = field(default_factory=list)
    inet_p2p: list[ipaddress.IPv4Network] = field(default_factory=list)
    p2p_exhausted: bool = False
    vlan_sites: dict[str, int] = field(default_factory=dict)

    def err(self, path: str, message: str, got: object = None, fix: str = "", has_value: bool = True) -> None:
        self.problems.append(Problem(self.source, path, message, got, fix, has_value))

    # nodes and interfaces -----------------------------------------------------------------
    def add_node(self, path: str, name: str, kind: str, **kw: Any) -> Node | None:
        if name in self.origin:
            self.err(
                path,
                f"duplicate node name (already made by {self.origin[name]})",
                name,
                "give every node a unique name",
            )
            return None
        role = "router" if kind in ROUTER_KINDS else "switch" if kind in SWITCH_KINDS else "host"
        role = kw.pop("role", role)
        node = Node(name=name, kind=kind, index=len(self.nodes), role=role, **kw)
        if node.role == "router":
            i = sum(1 for n in self.nodes if n.role == "router") + 1
            node = _replace(node, router_id=f"1.0.{i // 256}.{i % 256}")
        self.nodes.append(node)
        self.origin[name] = path
        self.position[name] = node.index
        return node

    def ifname(self, node: str) -> str:
        k = self.ifcount.get(node, 0)
        self.ifcount[node] = k + 1
        return f"gn{self.origin_index(node)}e{k}"

    def origin_index(self, name: str) -> int:
        return self.position[name]

    def node_by(self, name: str) -> Node:
        return self.nodes[self.origin_index(name)]

    def link(self, a: str, b: str, bw: float, kind: str, **kw: Any) -> None:
        if a not in self.origin or b not in self.origin:
            return  # an earlier problem (duplicate name) already explains this
        group = kw.pop("group", "")
        member = kw.get("member", 0)
        name = f"{a}--{b}" + (f"#{member + 1}" if kw.get("members", 1) > 1 else "")
        self.links.append(
            Link(
                name=name,
                a=a,
                b=b,
                bw_mbps=bw,
                kind=kind,
                a_if=self.ifname(a),
                b_if=self.ifname(b),
                group=group,
                **kw,
            )
        )

    def take_p2p(self, path: str) -> tuple[str, str]:
        if not self.p2p:
            if self.p2p_exhausted:
                return "", ""  # said once; one line per further link would bury the other problems
            self.p2p_exhausted = True
            self.err(
                "addressing.infrastructure",
                "too small for all point-to-point links",
                self.spec["addressing"]["infrastructure"],
                "use a /16",
            )
            return "", ""
        net = self.p2p.popleft()
        return f"{net[0]}/31", f"{net[1]}/31"


def _replace(node: Node, **kw: Any) -> Node:
    from dataclasses import replace

    return replace(node, **kw)
