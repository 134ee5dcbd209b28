"""The expanded network model: plain, immutable data that the emulator and the simulator both read.

Node kinds: core, distribution, firewall, router, switch, server, host, internet.
Routers (core, firewall, router, and the internet-side router) forward and run OSPF where the
model puts them; switches (distribution, switch) are L2 bridges; the rest are end hosts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ROUTER_KINDS = frozenset({"core", "firewall", "router"})
SWITCH_KINDS = frozenset({"distribution", "switch"})


@dataclass(frozen=True)
class Node:
    """One emulated device or host, named as operators name it."""

    name: str
    kind: str
    index: int
    site: str = ""
    zone: str = ""
    vlan: str = ""
    role: str = ""  # "router" | "switch" | "host"
    addr: str = ""  # primary address with prefix (hosts)
    gateway: str = ""  # default gateway (hosts; the internet router for firewalls)
    member: int = 0  # position in a firewall group (0 = preferred)
    router_id: str = ""

    @property
    def is_router(self) -> bool:
        return self.role == "router"

    @property
    def is_switch(self) -> bool:
        return self.role == "switch"

    @property
    def is_host(self) -> bool:
        return self.role == "host"


@dataclass(frozen=True)
class Link:
    """One cable (a LAG or 2×N bundle is several Links with the same group and member 0..n-1)."""

    name: str
    a: str
    b: str
    bw_mbps: float
    kind: str  # ring | distribution | uplink | transit | exit | inside | lan | access | extra | sync
    a_if: str
    b_if: str
    a_addr: str = ""
    b_addr: str = ""
    group: str = ""
    member: int = 0
    members: int = 1
    medium: str = "copper"
    delay_ms: float = 0
    loss_pct: float = 0
    ospf: bool = False  # routers on both ends form an OSPF adjacency over it


@dataclass(frozen=True)
class Vlan:
    """A function's L2 domain (one Linux bridge per site) and its address plan."""

    id: int
    name: str
    subnet: str
    zone: str
    routed: bool = True


@dataclass(frozen=True)
class Lan:
    """One VLAN at one site: its bridge, subnet, gateway and hosts."""

    site: str
    vlan: str
    subnet: str
    switch: str
    gateway: str  # router node name ("" when the VLAN is not routed)
    gateway_addr: str
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class Network:
    """The whole expanded model."""

    name: str
    nodes: tuple[Node, ...]
    links: tuple[Link, ...]
    vlans: tuple[Vlan, ...]
    lans: tuple[Lan, ...]
    zones: dict[str, tuple[str, ...]]  # zone -> subnets
    policy: tuple[tuple[str, str], ...]  # allowed (from zone, to zone), stateful
    services: dict[tuple[str, str], tuple[str, ...]] = field(
        default_factory=dict
    )  # pair -> allowed (empty: all)
    forbidden: tuple[str, ...] = ()  # services blocked (and logged) at every firewall
    # access management per allowed pair: (source subnets, daily window "HH:MM-HH:MM"); absent: anyone, always
    access: dict[tuple[str, str], tuple[tuple[str, ...], str]] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict, compare=False)  # the normalised YAML

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def by_kind(self, *kinds: str) -> list[Node]:
        return [n for n in self.nodes if n.kind in kinds]

    def links_of(self, name: str) -> list[Link]:
        return [lk for lk in self.links if name in (lk.a, lk.b)]

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of `govnet topo show --json`."""
        return {
            "name": self.name,
            "nodes": [_strip(asdict(n)) for n in self.nodes],
            "links": [_strip(asdict(lk)) for lk in self.links],
            "vlans": [asdict(v) for v in self.vlans],
            "lans": [{**asdict(lan), "hosts": list(lan.hosts)} for lan in self.lans],
            "zones": [{"name": z, "subnets": list(s)} for z, s in self.zones.items()],
            "policy": [{"from": a, "to": b} for a, b in self.policy],
        }


def _strip(d: dict[str, Any]) -> dict[str, Any]:
    keep = {"name", "kind", "a", "b", "bw_mbps"}
    return {k: v for k, v in d.items() if k in keep or v not in ("", 0, False) or k == "member"}
