"""The backbone, the sites and the bureaus of a model, and its extra links, as nodes and links.

Internal to `topology.expand`.
"""

from __future__ import annotations

from typing import Any

from topology.expand_addressing import _lan_subnet
from topology.expand_builder import FIRST_HOST, _Builder
from topology.model import Lan, Vlan


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
