"""Expand a validated model (parameters + templates) into plain nodes, links, VLANs, LANs and zones.

Cross-reference checks live here too, because they need the expanded names: duplicate names,
unknown VLANs/cores/zones, dangling extra links, overlapping subnets, address-plan capacity.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from govnet.errors import ModelError, Problem
from topology.model import ROUTER_KINDS, SWITCH_KINDS, Lan, Link, Network, Node, Vlan

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


def expand(spec: dict[str, Any], source: str) -> Network:
    """Turn a structurally valid, normalised model into a Network or raise ModelError."""
    b = _Builder(source, spec)
    vlans = _check_vlans(b)
    zones = _zones(b, vlans)
    policy = _policy(b, zones)
    access = _access(b, zones)
    _address_pools(b)
    if b.problems:
        raise ModelError(b.problems)
    cores = _backbone(b)
    _exit(b, vlans, cores)
    for i, site in enumerate(spec["sites"]):
        _site(b, f"sites[{i}]", site, vlans, cores)
    _bureaus(b, vlans)
    _extra_links(b)
    if b.problems:
        raise ModelError(b.problems)
    return Network(
        name=spec["name"],
        nodes=tuple(b.nodes),
        links=tuple(b.links),
        vlans=tuple(vlans.values()),
        lans=tuple(b.lans),
        zones=zones,
        policy=policy,
        services={(r["from"], r["to"]): tuple(r["services"]) for r in spec["policy"] if r["services"]},
        forbidden=tuple(spec["forbidden_services"]),
        access=access,
        source=spec,
    )


def _check_vlans(b: _Builder) -> dict[str, Vlan]:
    out: dict[str, Vlan] = {}
    ids: dict[int, int] = {}
    addr = b.spec["addressing"]
    # the address pools come first, so an overlap is reported on the VLAN (which the user wrote),
    # not on addressing.* (which may be a default the file never mentions)
    nets: list[tuple[str, ipaddress.IPv4Network]] = [
        ("addressing.infrastructure", ipaddress.IPv4Network(addr["infrastructure"])),
        ("addressing.internet", ipaddress.IPv4Network(addr["internet"])),
    ]
    for i, v in enumerate(b.spec["vlans"]):
        path = f"vlans[{i}]"
        if v["id"] in ids:
            b.err(
                f"{path}.id",
                f"duplicate VLAN id (also vlans[{ids[v['id']]}])",
                v["id"],
                "give each VLAN its own id",
            )
        ids[v["id"]] = i
        if v["name"] in out:
            b.err(f"{path}.name", "duplicate VLAN name", v["name"], "give each VLAN its own name")
            continue
        out[v["name"]] = Vlan(v["id"], v["name"], v["subnet"], v["zone"], v["routed"])
        nets.append((f"{path}.subnet", ipaddress.IPv4Network(v["subnet"])))
    for j, (pj, nj) in enumerate(nets):
        for pk, nk in nets[:j]:
            if nj.overlaps(nk):
                b.err(pj, f"subnet overlaps {pk} ({nk})", str(nj), "choose a subnet that does not overlap")
    return out


def _zones(b: _Builder, vlans: dict[str, Vlan]) -> dict[str, tuple[str, ...]]:
    declared = b.spec["zones"]
    zones: dict[str, list[str]] = {z: [] for z in declared}
    zones.setdefault("internet", [])
    for i, v in enumerate(vlans.values()):
        if declared and v.zone not in zones:
            b.err(
                f"vlans[{i}].zone",
                "unknown zone",
                v.zone,
                f"use one of: {', '.join(zones)} or add it to zones",
            )
            continue
        zones.setdefault(v.zone, []).append(v.subnet)
    zones["internet"].append(b.spec["addressing"]["internet"])
    # routers' own links and transit segments: a zone so policy can let management reach devices
    zones.setdefault("infrastructure", []).append(b.spec["addressing"]["infrastructure"])
    return {z: tuple(s) for z, s in zones.items()}


def _policy(b: _Builder, zones: dict[str, tuple[str, ...]]) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for i, rule in enumerate(b.spec["policy"]):
        for end in ("from", "to"):
            if rule[end] not in zones:
                b.err(f"policy[{i}].{end}", "unknown zone", rule[end], f"use one of: {', '.join(zones)}")
        pair = (rule["from"], rule["to"])
        if pair in out:
            b.err(
                f"policy[{i}]",
                f"a second rule for {pair[0]} -> {pair[1]}",
                f"{pair[0]} -> {pair[1]}",
                f"merge it into policy[{out.index(pair)}] (one rule per zone pair)",
            )
        out.append(pair)
    return tuple(out)


def _access(
    b: _Builder, zones: dict[str, tuple[str, ...]]
) -> dict[tuple[str, str], tuple[tuple[str, ...], str]]:
    """Access management of each policy rule: source ranges (subnets or user groups) and hours."""
    groups: dict[str, list[str]] = b.spec.get("groups", {})
    out: dict[tuple[str, str], tuple[tuple[str, ...], str]] = {}
    for i, rule in enumerate(b.spec["policy"]):
        if not rule["sources"] and not rule["hours"]:
            continue
        nets: list[str] = []
        for j, src in enumerate(rule["sources"]):
            path = f"policy[{i}].sources[{j}]"
            if "/" not in src and src not in groups:
                names = ", ".join(groups) or "none defined"
                b.err(
                    path,
                    "unknown user group",
                    src,
                    f"define it under groups: (known: {names}) or give a subnet",
                )
                continue
            for s in groups.get(src, [src]):
                inside = [
                    z
                    for z in zones.get(rule["from"], ())
                    if ipaddress.IPv4Network(s).subnet_of(ipaddress.IPv4Network(z))
                ]
                if rule["from"] in zones and not inside:
                    b.err(
                        path,
                        f"lies outside zone {rule['from']!r}",
                        s,
                        f"use a range inside {', '.join(zones[rule['from']])}",
                    )
                nets.append(s)
        out[(rule["from"], rule["to"])] = (tuple(nets), rule["hours"])
    return out


def _address_pools(b: _Builder) -> None:
    infra = ipaddress.IPv4Network(b.spec["addressing"]["infrastructure"])
    n_dist = b.spec["parameters"]["ring_size"] * b.spec["parameters"]["distribution_per_core"]
    if infra.prefixlen > 24 - max(1, (n_dist + 1).bit_length()):
        b.err(
            "addressing.infrastructure",
            f"too small for {n_dist} transit /24s and the point-to-point links",
            str(infra),
            f"use a /{24 - max(1, (n_dist + 1).bit_length())} or larger, or fewer distribution switches",
        )
        return
    blocks = list(infra.subnets(new_prefix=24))
    b.transit = blocks[:n_dist]
    b.p2p = deque(s for blk in blocks[n_dist:] for s in blk.subnets(new_prefix=31))
    inet = ipaddress.IPv4Network(b.spec["addressing"]["internet"])
    if inet.prefixlen > 23:
        b.err(
            "addressing.internet",
            "too small: needs two /24s (links and the internet LAN)",
            str(inet),
            "use a /23 or larger, e.g. 198.18.0.0/15",
        )
        return
    first = next(inet.subnets(new_prefix=24))
    b.inet_p2p = list(first.subnets(new_prefix=31))


def _lan_subnet(b: _Builder, path: str, vlan: Vlan, nhosts: int) -> ipaddress.IPv4Network | None:
    net = ipaddress.IPv4Network(vlan.subnet)
    k = b.vlan_sites.get(vlan.name, 0)
    b.vlan_sites[vlan.name] = k + 1
    if net.prefixlen <= LAN_PREFIX:
        subnets = net.subnets(new_prefix=LAN_PREFIX)
        count = 2 ** (LAN_PREFIX - net.prefixlen)
        if k >= count:
            b.err(
                path,
                f"VLAN '{vlan.name}' subnet {net} has room for {count} sites, this is site {k + 1}",
                vlan.name,
                "give the VLAN a larger subnet (a /16 holds 256 sites)",
            )
            return None
        for _ in range(k):
            next(subnets)
        lan = next(subnets)
    else:
        if k > 0:
            b.err(
                path,
                f"VLAN '{vlan.name}' subnet {net} is smaller than a /24 and can serve one site only",
                vlan.name,
                "give the VLAN a /24 or larger subnet",
            )
            return None
        lan = net
    if nhosts > lan.num_addresses - FIRST_HOST - 1:
        b.err(path, f"{nhosts} hosts do not fit in {lan}", nhosts, "use fewer hosts or a larger VLAN subnet")
        return None
    return lan


def _backbone(b: _Builder) -> list[str]:
    p = b.spec["parameters"]
    ring = b.spec["backbone"]["ring"]
    cores = [f"{ring['prefix']}{i}" for i in range(1, p["ring_size"] + 1)]
    for c in cores:
        b.add_node("backbone.ring", c, "core", site=c)
    for i, c in enumerate(cores):
        nxt = cores[(i + 1) % len(cores)]
        a_addr, b_addr = b.take_p2p("backbone.ring")
        b.link(
            c,
            nxt,
            ring["bw_mbps"],
            "ring",
            a_addr=a_addr,
            b_addr=b_addr,
            medium=ring["medium"],
            delay_ms=ring["delay_ms"],
            loss_pct=ring["loss_pct"],
            ospf=True,
            group="ring",
        )
    dist = b.spec["backbone"]["distribution"]
    k = 0
    for c in cores:
        for _ in range(p["distribution_per_core"]):
            name = f"{dist['prefix']}{k + 1}"
            b.add_node("backbone.distribution", name, "distribution", site=c)
            gw = b.transit[k]
            b.link(name, c, dist["bw_mbps"], "distribution", b_addr=f"{gw[1]}/{gw.prefixlen}", ospf=True)
            k += 1
    return cores


def _check_core(b: _Builder, path: str, core: str, cores: list[str]) -> bool:
    if core not in cores:
        b.err(path, "no such core node", core, f"use one of: {', '.join(cores)} (parameters.ring_size)")
        return False
    return True


def _vlan(b: _Builder, path: str, name: str, vlans: dict[str, Vlan]) -> Vlan | None:
    if name not in vlans:
        b.err(path, "unknown VLAN", name, f"use one of: {', '.join(vlans)} or add it under vlans")
        return None
    return vlans[name]


def _lans(
    b: _Builder,
    path: str,
    site: str,
    gateway: str,
    lans: list[dict[str, Any]],
    vlans: dict[str, Vlan],
    backplane: float,
    host_base: str,
) -> None:
    for j, lan in enumerate(lans):
        lp = f"{path}.lans[{j}]"
        vlan = _vlan(b, f"{lp}.vlan", lan["vlan"], vlans)
        if vlan is None:
            continue
        if lan["hosts"] and lan["count"]:
            b.err(
                f"{lp}.count",
                "give either hosts (names) or count, not both",
                lan["count"],
                "remove one of them",
            )
            continue
        names = list(lan["hosts"]) or [
            f"{host_base}-{lan['host_prefix']}{i}" for i in range(1, lan["count"] + 1)
        ]
        subnet = _lan_subnet(b, lp, vlan, len(names))
        if subnet is None:
            continue
        switch = f"{site}-{vlan.name}"
        if b.add_node(lp, switch, "switch", site=site, vlan=vlan.name, zone=vlan.zone) is None:
            continue
        gw_addr = ""
        if vlan.routed:
            gw_addr = str(subnet[1])
            b.link(
                gateway, switch, max(backplane, lan["bw_mbps"]), "lan", a_addr=f"{gw_addr}/{subnet.prefixlen}"
            )
        made = []
        for i, h in enumerate(names):
            addr = f"{subnet[FIRST_HOST + i]}/{subnet.prefixlen}"
            if (
                b.add_node(
                    f"{lp}.hosts[{i}]",
                    h,
                    lan["kind"],
                    site=site,
                    vlan=vlan.name,
                    zone=vlan.zone,
                    addr=addr,
                    gateway=gw_addr,
                )
                is None
            ):
                continue
            b.link(h, switch, lan["bw_mbps"], "access", a_addr=addr)
            made.append(h)
        b.lans.append(
            Lan(site, vlan.name, str(subnet), switch, gateway if vlan.routed else "", gw_addr, tuple(made))
        )


def _uplink(b: _Builder, gw: str, core: str, up: dict[str, Any], group: str) -> None:
    for m in range(up["members"]):
        a_addr, b_addr = b.take_p2p(group)
        b.link(
            gw,
            core,
            up["bw_mbps"],
            "uplink",
            a_addr=a_addr,
            b_addr=b_addr,
            group=group,
            member=m,
            members=up["members"],
            delay_ms=up["delay_ms"],
            loss_pct=up["loss_pct"],
            ospf=True,
        )


def _site(b: _Builder, path: str, site: dict[str, Any], vlans: dict[str, Vlan], cores: list[str]) -> None:
    if not _check_core(b, f"{path}.core", site["core"], cores):
        return
    gw = site["gateway"]
    if b.add_node(f"{path}.gateway", gw["name"], gw["kind"], site=site["name"]) is None:
        return
    _uplink(b, gw["name"], site["core"], site["uplink"], f"{site['name']}-uplink")
    backplane = site["uplink"]["bw_mbps"] * site["uplink"]["members"]
    _lans(b, path, site["name"], gw["name"], site["lans"], vlans, backplane, site["name"])


def _bureaus(b: _Builder, vlans: dict[str, Vlan]) -> None:
    p = b.spec["parameters"]
    spec = b.spec["bureaus"]
    if p["bureaus"] == 0:
        return
    if spec is None:
        b.err(
            "parameters.bureaus",
            "bureaus are asked for but the model has no 'bureaus' section",
            p["bureaus"],
            "add a bureaus: section (uplink, lans) or set parameters.bureaus: 0",
        )
        return
    dists = [n.name for n in b.nodes if n.kind == "distribution"]
    if not dists:
        if p["distribution_per_core"] == 0:  # otherwise a duplicate-name problem already explains it
            b.err(
                "parameters.distribution_per_core",
                "bureaus need distribution switches",
                0,
                "set parameters.distribution_per_core to 1 or more",
            )
        return
    if spec["uplink"]["members"] != 1:
        b.err(
            "bureaus.uplink.members",
            "a bureau has one uplink to its distribution switch",
            spec["uplink"]["members"],
            "set members: 1",
        )
        return
    names = list(spec["names"])[: p["bureaus"]]
    names += [f"b{i:02d}" for i in range(len(names) + 1, p["bureaus"] + 1)]
    lans = [
        dict(lan, count=lan["count"] or (0 if lan["hosts"] else p["desktops_per_bureau"]))
        for lan in spec["lans"]
    ]
    per_dist: dict[str, int] = {}
    for i, short in enumerate(names):
        path = f"bureaus.names[{i}]"
        name = f"bureau-{short}"
        dist = dists[i % len(dists)]
        if b.add_node(path, name, "router", site=name) is None:
            continue
        k = per_dist.get(dist, 0)
        per_dist[dist] = k + 1
        transit = b.transit[dists.index(dist)]
        if k >= transit.num_addresses - FIRST_HOST - 1:
            b.err(
                "parameters.bureaus",
                f"too many bureaus on {dist}",
                p["bureaus"],
                "raise parameters.distribution_per_core",
            )
            return
        addr = f"{transit[FIRST_HOST + k]}/{transit.prefixlen}"
        b.link(
            name,
            dist,
            spec["uplink"]["bw_mbps"],
            "uplink",
            a_addr=addr,
            ospf=True,
            delay_ms=spec["uplink"]["delay_ms"],
            loss_pct=spec["uplink"]["loss_pct"],
        )
        _lans(b, path, name, name, lans, vlans, spec["uplink"]["bw_mbps"], name)


def _exit(b: _Builder, vlans: dict[str, Vlan], cores: list[str]) -> None:
    ex = b.spec["exit"]
    if ex is None:
        return
    if not _check_core(b, "exit.core", ex["core"], cores):
        return
    members = b.spec["parameters"]["firewall_members"]
    fw = ex["firewall"]
    inet = ex["internet"]
    names = [f"{fw['prefix']}-{chr(ord('a') + m)}" for m in range(members)]
    inet_net = ipaddress.IPv4Network(b.spec["addressing"]["internet"])
    inet_lan = list(inet_net.subnets(new_prefix=24))[1]
    room = inet_lan.num_addresses - FIRST_HOST - 1
    if len(inet["hosts"]) > room:
        b.err(
            "exit.internet.hosts",
            f"{len(inet['hosts'])} hosts do not fit in {inet_lan}",
            len(inet["hosts"]),
            f"use at most {room} internet hosts",
        )
        return
    isp_links: list[tuple[str, str, str]] = []
    for m, name in enumerate(names):
        if b.add_node("parameters.firewall_members", name, "firewall", site="exit", member=m) is None:
            return
        a_addr, b_addr = b.take_p2p("exit")
        b.link(
            name,
            ex["core"],
            fw["bw_mbps"],
            "inside",
            a_addr=a_addr,
            b_addr=b_addr,
            ospf=True,
            group="exit-inside",
            member=m,
            members=members,
        )
        net = b.inet_p2p.pop(0)
        isp_links.append((name, f"{net[0]}/31", f"{net[1]}/31"))
    if (
        b.add_node(
            "exit.internet.router",
            inet["router"],
            "internet",
            role="router",
            site="internet",
            zone="internet",
        )
        is None
    ):
        return
    for m, (name, fw_addr, isp_addr) in enumerate(isp_links):
        b.link(
            name,
            inet["router"],
            ex["uplink"]["bw_mbps"],
            "exit",
            a_addr=fw_addr,
            b_addr=isp_addr,
            group="internet-exit",
            member=m,
            members=members,
            delay_ms=ex["uplink"]["delay_ms"],
            loss_pct=ex["uplink"]["loss_pct"],
        )
    # the firewalls' default route points at the internet router
    for m, (name, _fw, isp_addr) in enumerate(isp_links):
        b.nodes[b.origin_index(name)] = _replace(b.node_by(name), gateway=isp_addr.split("/")[0], member=m)
    # DMZ: one segment shared by all firewall members
    dmz = ex["dmz"]
    vlan = _vlan(b, "exit.dmz.vlan", dmz["vlan"], vlans)
    if vlan is not None:
        if not vlan.routed:
            b.err(
                "exit.dmz.vlan",
                "the DMZ VLAN must be routed (the firewalls are its gateways)",
                vlan.name,
                "set routed: true on that VLAN",
            )
            return
        subnet = _lan_subnet(b, "exit.dmz", vlan, len(dmz["hosts"]))
        if subnet is None:
            return
        switch = "dmz-sw"
        b.add_node("exit.dmz", switch, "switch", site="dmz", vlan=vlan.name, zone=vlan.zone)
        for m, name in enumerate(names):
            b.link(name, switch, dmz["bw_mbps"], "lan", a_addr=f"{subnet[1 + m]}/{subnet.prefixlen}")
        made = []
        for i, h in enumerate(dmz["hosts"]):
            addr = f"{subnet[FIRST_HOST + i]}/{subnet.prefixlen}"
            if (
                b.add_node(
                    f"exit.dmz.hosts[{i}]",
                    h,
                    "server",
                    site="dmz",
                    vlan=vlan.name,
                    zone=vlan.zone,
                    addr=addr,
                    gateway=str(subnet[1]),
                )
                is None
            ):
                continue
            b.link(h, switch, dmz["bw_mbps"], "access", a_addr=addr)
            made.append(h)
        b.lans.append(Lan("dmz", vlan.name, str(subnet), switch, names[0], str(subnet[1]), tuple(made)))
    # internet side: the ISP router and its LAN of citizens (and an attacker)
    switch = "internet-sw"
    b.add_node("exit.internet", switch, "switch", site="internet", zone="internet")
    b.link(inet["router"], switch, inet["bw_mbps"], "lan", a_addr=f"{inet_lan[1]}/24")
    made = []
    for i, h in enumerate(inet["hosts"]):
        addr = f"{inet_lan[FIRST_HOST + i]}/24"
        if (
            b.add_node(
                f"exit.internet.hosts[{i}]",
                h,
                "internet",
                site="internet",
                zone="internet",
                addr=addr,
                gateway=str(inet_lan[1]),
            )
            is None
        ):
            continue
        b.link(h, switch, inet["bw_mbps"], "access", a_addr=addr)
        made.append(h)
    b.lans.append(Lan("internet", "", str(inet_lan), switch, inet["router"], str(inet_lan[1]), tuple(made)))
    _sync_segment(b, names, fw["bw_mbps"])


def _sync_segment(b: _Builder, members: list[str], bw: float) -> None:
    """A dedicated state-sync LAN for a pair (or more) of firewall members: conntrackd runs over it.

    It takes the last /28 of the infrastructure block (so adding it moves no other address), is not
    part of OSPF and carries nothing but conntrack state and the members' sync probes.
    """
    if len(members) < 2 or not b.p2p:
        return
    sync = b.p2p[-1].supernet(new_prefix=28)
    b.p2p = deque(s for s in b.p2p if not s.subnet_of(sync))
    switch = "fw-sync"
    if (
        b.add_node("parameters.firewall_members", switch, "switch", site="exit", zone="infrastructure")
        is None
    ):
        return
    for m, name in enumerate(members):
        b.link(name, switch, bw, "sync", a_addr=f"{sync[1 + m]}/{sync.prefixlen}", group="fw-sync", member=m)


def _extra_links(b: _Builder) -> None:
    for i, lk in enumerate(b.spec["extra_links"]):
        path = f"extra_links[{i}]"
        ok = True
        for end in ("a", "b"):
            if lk[end] not in b.origin:
                b.err(
                    f"{path}.{end}",
                    "link end names no node (dangling link)",
                    lk[end],
                    "use the name of a core, firewall or router in this model",
                )
                ok = False
            elif not b.node_by(lk[end]).is_router:
                b.err(
                    f"{path}.{end}",
                    "extra links join routers (core, firewall, router) only",
                    lk[end],
                    "attach hosts through a site's lans instead",
                )
                ok = False
        if ok and lk["a"] == lk["b"]:
            b.err(path, "a link cannot join a node to itself", lk["a"], "use two different nodes")
            ok = False
        if ok:
            a_addr, b_addr = b.take_p2p(path)
            b.link(
                lk["a"],
                lk["b"],
                lk["bw_mbps"],
                "extra",
                a_addr=a_addr,
                b_addr=b_addr,
                ospf=True,
                delay_ms=lk["delay_ms"],
                loss_pct=lk["loss_pct"],
            )
