"""Addressing of an expanded model: VLAN ids and subnets, the address pools, each site's LAN subnet.

Internal to `topology.expand`.
"""

from __future__ import annotations

import ipaddress
from collections import deque

from topology.expand_builder import FIRST_HOST, LAN_PREFIX, _Builder
from topology.model import Vlan


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
