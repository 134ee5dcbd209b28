"""Expand a validated model (parameters + templates) into plain nodes, links, VLANs, LANs and zones.

Cross-reference checks live here too, because they need the expanded names: duplicate names,
unknown VLANs/cores/zones, dangling extra links, overlapping subnets, address-plan capacity.

The work is split by section: `expand_builder` (the builder, interface names, the point-to-point
pool), `expand_addressing` (VLANs, address pools, LAN subnets), `expand_zones` (zones, policy,
access), `expand_sites` (backbone, sites, bureaus, extra links) and `expand_exit` (the firewalls,
DMZ and internet side).
"""

from __future__ import annotations

from typing import Any

from govnet.errors import ModelError
from topology.expand_addressing import _address_pools, _check_vlans
from topology.expand_builder import _Builder
from topology.expand_exit import _exit
from topology.expand_sites import _backbone, _bureaus, _extra_links, _site
from topology.expand_zones import _access, _policy, _zones
from topology.model import Network


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
