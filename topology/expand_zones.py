"""Zones, the zone-pair policy and its access management (source ranges, hours) of an expanded model.

Internal to `topology.expand`.
"""

from __future__ import annotations

import ipaddress

from topology.expand_builder import _Builder
from topology.model import Vlan


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
