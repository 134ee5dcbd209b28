"""The internet exit of a model: firewall members, the ISP router, the DMZ, the internet LAN, state sync.

Internal to `topology.expand`.
"""

from __future__ import annotations

import ipaddress
from collections import deque

from topology.expand_addressing import _lan_subnet
from topology.expand_builder import FIRST_HOST, _Builder, _replace
from topology.expand_sites import _check_core, _vlan
from topology.model import Lan, Vlan


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
