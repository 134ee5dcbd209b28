"""Where the firewall pair is steered from, as data computed from the model (no root, golden-testable).

The pair is active/active. Every router or host that has a choice of member is a *steering point*:
the exit core (inside → internet and inside → DMZ), the internet router (internet → city) and each DMZ
host (its default route). At every steering point the same destinations go through one nexthop
group of `SLOTS` slots, each slot a nexthop object pointing at one member. All points hold the *same*
slot → member table and the kernel's multipath hash is symmetric (source/destination sorted before
hashing, one seed for every namespace), so a flow and its replies pick the same slot — and the same
member — in both directions, which is what stateful firewalls need.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from topology.model import Network, Node
from topology.render import inside_prefixes, pair_members


@dataclass(frozen=True)
class Via:
    """How a steering point reaches one member: the member's address on the shared link and our device."""

    member: str
    gateway: str
    dev: str


@dataclass(frozen=True)
class SteerPoint:
    node: str
    prefixes: tuple[str, ...]  # destinations steered through the group ("default" allowed)
    via: tuple[Via, ...]  # one per member, in member order
    # destinations on this point's own side: a pinned session's packets toward them (replies going home)
    # must not follow the member's table, whose default route would send them back to the member
    own_side: tuple[str, ...] = ()

    def via_for(self, member: str) -> Via:
        for v in self.via:
            if v.member == member:
                return v
        raise KeyError(member)


@dataclass(frozen=True)
class Member:
    name: str
    index: int
    sync_addr: str = ""  # address/prefix on the sync LAN
    sync_dev: str = ""
    probe_addrs: tuple[str, ...] = ()  # per steering point, the address probed (same order as points)


@dataclass(frozen=True)
class PairPlan:
    members: tuple[Member, ...]
    points: tuple[SteerPoint, ...]
    sync_subnet: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.members]

    def member(self, name: str) -> Member:
        for m in self.members:
            if m.name == name:
                return m
        raise KeyError(name)

    def to_dict(self) -> dict[str, object]:
        return {
            "members": [
                {"name": m.name, "index": m.index, "sync_addr": m.sync_addr, "sync_dev": m.sync_dev}
                for m in self.members
            ],
            "points": [
                {
                    "node": p.node,
                    "prefixes": list(p.prefixes),
                    "via": [{"member": v.member, "gateway": v.gateway, "dev": v.dev} for v in p.via],
                    "own_side": list(p.own_side),
                }
                for p in self.points
            ],
            "sync_subnet": self.sync_subnet,
        }


def _addr(text: str) -> str:
    return text.split("/")[0]


def pair_plan(net: Network) -> PairPlan | None:
    """The steering plan of the model's perimeter pair, or None when the model has a single member."""
    members = pair_members(net)
    if len(members) < 2:
        return None
    names = [m.name for m in members]
    dmz = next((lan for lan in net.lans if lan.site == "dmz"), None)
    # per peer node: (member, member's address on the link, peer's device)
    by_peer: dict[str, dict[str, tuple[str, str]]] = {}
    sync: dict[str, tuple[str, str]] = {}
    dmz_addr: dict[str, str] = {}
    for lk in net.links:
        for me, my_addr, peer, peer_if in (
            (lk.a, lk.a_addr, lk.b, lk.b_if),
            (lk.b, lk.b_addr, lk.a, lk.a_if),
        ):
            if me not in names:
                continue
            if lk.kind == "sync":
                sync[me] = (my_addr, lk.a_if if lk.a == me else lk.b_if)
            elif dmz is not None and peer == dmz.switch:
                dmz_addr[me] = _addr(my_addr)
            elif lk.kind in ("inside", "exit") and my_addr:
                by_peer.setdefault(peer, {})[me] = (_addr(my_addr), peer_if)
    points: list[SteerPoint] = []
    inside = tuple(inside_prefixes(net))
    dmz_prefix = (dmz.subnet,) if dmz is not None else ()
    for peer, vias in sorted(by_peer.items(), key=lambda kv: net.node(kv[0]).index):
        if set(vias) != set(names):
            continue  # a router that reaches only some members cannot steer between them
        node: Node = net.node(peer)
        # the internet router reaches the DMZ through `inside` (the DMZ is a routed VLAN)
        prefixes = inside if node.kind == "internet" else ("default", *dmz_prefix)
        prefixes = tuple(dict.fromkeys(_normal(p) for p in prefixes))
        own = () if node.kind == "internet" else inside
        points.append(
            SteerPoint(peer, prefixes, tuple(Via(m, vias[m][0], vias[m][1]) for m in names), own),
        )
    if dmz is not None and len(dmz_addr) == len(names):
        for h in dmz.hosts:
            dev = next(lk.a_if if lk.a == h else lk.b_if for lk in net.links_of(h))
            points.append(SteerPoint(h, ("default",), tuple(Via(m, dmz_addr[m], dev) for m in names)))
    sync_subnet = ""
    if sync:
        sync_subnet = str(ipaddress.IPv4Interface(next(iter(sync.values()))[0]).network)
    out_members = tuple(
        Member(
            m.name,
            m.member,
            sync.get(m.name, ("", ""))[0],
            sync.get(m.name, ("", ""))[1],
            tuple(p.via_for(m.name).gateway for p in points),
        )
        for m in members
    )
    return PairPlan(out_members, tuple(points), sync_subnet)


def _normal(prefix: str) -> str:
    return prefix if prefix == "default" else str(ipaddress.IPv4Network(prefix, strict=False))
