"""Where each part of a model goes in its picture (`topology.draw`): pure geometry, no plotting library.

The cores sit on a circle (the ring, clockwise in ring order, the exit's core at the top). Each core
owns a sector; its tree (distribution switches, then the sites behind them, found by walking the
distribution/uplink/transit cables outwards) fans out inside it, and each site's LANs are one box at
the rim whose text runs along the radius. A sector's width is what its boxes need, so no two boxes
share an angle. The internet exit (firewall members, state-sync switch, DMZ, ISP router, internet
LAN) is a tower above the disc, joined to its core through a gap left in that core's sector.
Coordinates are inches (the figure is drawn at 1 unit = 1 inch, so text sizes in points are known).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from topology.model import Lan, Link, Network

RADIAL_PT = 7.0  # font size of the boxes around the rim
LABEL_PT = 8.0  # other labels
LINE_H = 1.25  # line height, in font sizes
CHAR_W = 0.62  # a conservative average glyph width, in font sizes (DejaVu Sans)
BOX_PAD = 0.05  # inches of padding inside a box
SLOT_GAP = 0.06  # inches between two boxes at the rim
GAP_DEG = 30.0  # the opening left in the exit core's sector for the cables to the exit
R_RING_MIN = 1.1
R_BOX_MIN = 3.0
BOX_AWAY = 0.28  # from a site gateway's marker to its box
TREE_KINDS = frozenset({"distribution", "uplink", "transit"})


@dataclass(frozen=True)
class Element:
    """One thing drawn: a node, or a box standing for LANs (their bridges and hosts)."""

    key: str
    kind: str  # core | distribution | router | firewall | internet | switch | lans | ...
    label: str
    x: float
    y: float
    angle: float = 0.0  # degrees; the radial direction of a rim label
    radial: bool = False  # the label runs along the radius, outwards from (x, y)
    nodes: tuple[str, ...] = ()
    slot: tuple[float, float] = (0.0, 0.0)  # angles (degrees) a rim label may use, low to high


@dataclass(frozen=True)
class Edge:
    """One cable between two drawn elements; parallel cables are shifted sideways by `offset` inches."""

    link: Link
    a: str
    b: str
    offset: float = 0.0
    arc: tuple[float, float, float] | None = None  # ring cables: (radius, from deg, to deg) clockwise


@dataclass
class Layout:
    """The picture's geometry: elements by key, the cables between them, cables hidden inside boxes."""

    elements: dict[str, Element]
    edges: list[Edge]
    inside: dict[str, str]  # link name -> the box that hides it (a host's access cable)
    ring_radius: float
    exit_core: str = ""
    extent: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # estimated x0, y0, x1, y1
    element_of: dict[str, str] = field(default_factory=dict)  # node name -> element key


def _noun(net: Network, hosts: Sequence[str]) -> str:
    kinds = {net.node(h).kind for h in hosts}
    word = "server" if kinds == {"server"} else "host"
    return f"{len(hosts)} {word}{'' if len(hosts) == 1 else 's'}"


def lan_line(net: Network, lan: Lan) -> str:
    """'office LAN: 2 hosts' (the internet's LAN has no VLAN: 'internet: 3 hosts')."""
    return f"{lan.vlan} LAN: {_noun(net, lan.hosts)}" if lan.vlan else f"{lan.site}: {_noun(net, lan.hosts)}"


def text_size(text: str, pt: float) -> tuple[float, float]:
    """Estimated (width, height) in inches of a possibly multi-line label with its box padding."""
    lines = text.split("\n")
    w = max(len(x) for x in lines) * pt * CHAR_W / 72
    h = len(lines) * pt * LINE_H / 72
    return w + 2 * BOX_PAD, h + 2 * BOX_PAD


def _box_text(net: Network, site: str, gateway: str, lans: Sequence[Lan]) -> str:
    title = site if gateway in ("", site) else f"{site} ({gateway})"
    if len(lans) == 1:
        line = lan_line(net, lans[0])
        return f"{title}: {line[0].lower()}{line[1:]}".replace(" LAN: ", " LAN, ", 1)
    return "\n".join([title, *(lan_line(net, lan) for lan in lans)])


def layout(net: Network) -> Layout:
    """The geometry of `net`'s picture (see the module docstring)."""
    nodes = {n.name: n for n in net.nodes}
    cores = [n.name for n in net.nodes if n.kind == "core"]
    element_of: dict[str, str] = {}
    # the exit: firewall members (inside cables), the ISP (exit cables), the sync switch, their LANs
    fws = [n for lk in net.links if lk.kind == "inside" for n in (lk.a, lk.b) if nodes[n].kind != "core"]
    fws = list(dict.fromkeys(fws))
    isps = list(
        dict.fromkeys(n for lk in net.links if lk.kind == "exit" for n in (lk.a, lk.b) if n not in fws)
    )
    syncs = list(
        dict.fromkeys(n for lk in net.links if lk.kind == "sync" for n in (lk.a, lk.b) if nodes[n].is_switch)
    )
    exit_core = next((n for lk in net.links if lk.kind == "inside" for n in (lk.a, lk.b) if n in cores), "")
    exit_nodes = set(fws) | set(isps) | set(syncs)
    # LAN boxes: one per site (its LANs), one per LAN of the exit
    site_lans: dict[str, list[Lan]] = {}
    exit_lans: list[Lan] = []
    for lan in net.lans:
        if lan.gateway in exit_nodes:
            exit_lans.append(lan)
        else:
            site_lans.setdefault(lan.site, []).append(lan)
    boxes: dict[str, tuple[str, str, tuple[str, ...]]] = {}  # key -> (anchor node, text, nodes)
    for site, lans in site_lans.items():
        gw = next((lan.gateway for lan in lans if lan.gateway), "") or next(
            (n.name for n in net.nodes if n.site == site and n.is_router), cores[0] if cores else ""
        )
        members = tuple(x for lan in lans for x in (lan.switch, *lan.hosts))
        boxes[f"lans:{site}"] = (gw, _box_text(net, site, gw, lans), members)
    for lan in exit_lans:
        members = (lan.switch, *lan.hosts)
        boxes[f"lans:{lan.site}:{lan.vlan}"] = (lan.gateway, lan_line(net, lan), members)
    for key, (_gw, _text, members) in boxes.items():
        for m in members:
            element_of[m] = key
    for n in net.nodes:
        element_of.setdefault(n.name, n.name)
    # the tree of each core, outwards over distribution/uplink/transit cables (then any cable)
    parent: dict[str, str] = {c: "" for c in cores}
    children: dict[str, list[str]] = {}
    eligible = {n for n in element_of.values() if n not in exit_nodes and not n.startswith("lans:")}
    for kinds in (TREE_KINDS, None):
        frontier = [c for c in parent]
        while frontier:
            nxt = []
            for u in frontier:
                for lk in net.links_of(u):
                    if kinds is not None and lk.kind not in kinds:
                        continue
                    v = lk.b if lk.a == u else lk.a
                    if v in eligible and v not in parent and lk.kind != "ring":
                        parent[v] = u
                        children.setdefault(u, []).append(v)
                        nxt.append(v)
            frontier = nxt
    for loose in sorted(eligible - set(parent)):  # not cabled to the backbone: hang off the first core
        if cores:
            parent[loose] = cores[0]
            children.setdefault(cores[0], []).append(loose)
    for key, (gw, _text, _m) in boxes.items():
        if key.startswith("lans:") and gw in parent:
            children.setdefault(gw, []).append(key)
    depth: dict[str, int] = {}

    def walk(u: str, d: int, out: list[str]) -> None:
        depth[u] = d
        kids = children.get(u, [])
        if not kids and d > 0:
            out.append(u)
        for v in kids:
            walk(v, d + 1, out)

    leaves: dict[str, list[str]] = {}
    for c in cores:
        leaves[c] = []
        walk(c, 0, leaves[c])
    texts = {k: t for k, (_g, t, _m) in boxes.items()}
    for c in cores:
        for leaf in leaves[c]:
            texts.setdefault(leaf, leaf)
    need = {leaf: text_size(texts[leaf], RADIAL_PT)[1] + SLOT_GAP for c in cores for leaf in leaves[c]}
    # segments clockwise from the top: the exit core's second half of leaves right of the gap, the
    # other cores in ring order, the exit core's first half left of the gap (then the gap itself)
    if exit_core:
        i = cores.index(exit_core)
        own = leaves[exit_core]
        half = len(own) // 2
        segments = [(exit_core, own[half:])]
        segments += [(c, leaves[c]) for c in cores[i + 1 :] + cores[:i]]
        segments.append((exit_core, own[:half]))
    else:
        segments = [(c, leaves[c]) for c in cores]
    gap = math.radians(GAP_DEG) if exit_core else 0.0
    pad = 0.3
    bounds = len(segments) - (1 if exit_core else 0)
    # every core gets at least half of an equal share of the rim, so the ring stays round
    least = math.pi * R_BOX_MIN / max(1, len(cores))
    extra = {c: max(0.0, least - sum(need[x] for x in leaves[c]) - pad) for c in cores}
    total = sum(need.values()) + pad * bounds + sum(extra.values())
    r_box = max(R_BOX_MIN, total / (2 * math.pi - gap))
    scale = (2 * math.pi - gap) / total if total else 0.0  # radians per inch of need
    elements: dict[str, Element] = {}
    theta: dict[str, float] = {}
    r_ring = max(R_RING_MIN, 0.25 * len(cores))
    a = math.pi / 2 - gap / 2 if exit_core else math.pi / 2 + pad * scale / 2
    for k, (c, seg) in enumerate(segments):
        if k > 0 or not exit_core:
            a -= pad * scale / 2
        start_a = a
        if c != exit_core or k > 0:  # the exit core's share goes to its outer sides, not the gap
            a -= extra[c] * scale / 2
        for leaf in seg:
            w = need[leaf] * scale
            theta[leaf] = a - w / 2
            elements[leaf] = Element(
                leaf,
                "",
                texts[leaf],
                0,
                0,
                math.degrees(theta[leaf]),
                True,
                slot=(math.degrees(a - w), math.degrees(a)),
            )
            a -= w
        if c != exit_core or k == 0:
            a -= extra[c] * scale / 2
        if c != exit_core:
            theta[c] = (start_a + a) / 2
        if k < len(segments) - 1 or not exit_core:
            a -= pad * scale / 2
    if exit_core:
        theta[exit_core] = math.pi / 2
    # inner nodes: the mean angle of their leaves; radius by depth; leaves' boxes at the rim
    inner_depth = max((depth[n] for n in children if n not in cores), default=1) or 1
    r_gw = r_box - BOX_AWAY

    def place(u: str) -> list[float]:
        kids = children.get(u, [])
        if not kids:
            return [theta[u]] if u in theta else []
        angles = [t for v in kids for t in place(v)]
        if u not in cores and angles:
            theta[u] = sum(angles) / len(angles)
        return angles

    for c in cores:
        place(c)
    for u, d in depth.items():
        t = theta.get(u, math.pi / 2)
        if u in cores:
            r = r_ring
        elif u.startswith("lans:"):
            r = r_box
        elif children.get(u):
            r = r_ring + (r_gw - r_ring) * d / inner_depth
        else:  # a leaf node without LANs: at its depth, its name along the radius
            r = min(r_ring + (r_gw - r_ring) * d / inner_depth, r_gw)
        kind = "lans" if u.startswith("lans:") else nodes[u].kind
        old = elements.get(u)
        kids = children.get(u, [])
        gateway_only = bool(kids) and all(k.startswith("lans:") for k in kids)  # its box names it
        elements[u] = Element(
            u,
            kind,
            old.label if old else ("" if gateway_only else u),
            r * math.cos(t),
            r * math.sin(t),
            math.degrees(t),
            old is not None,
            boxes[u][2] if u in boxes else (u,),
            old.slot if old else (0.0, 0.0),
        )
    # the extent of the disc, from each rim label's estimated length
    x0 = y0 = -r_box
    x1 = y1 = r_box
    for e in elements.values():
        if e.radial:
            w = text_size(e.label, RADIAL_PT)[0]
            t = math.radians(e.angle)
            ex, ey = e.x + w * math.cos(t), e.y + w * math.sin(t)
            x0, x1, y0, y1 = min(x0, ex), max(x1, ex), min(y0, ey), max(y1, ey)
    if exit_core:
        y1 = _exit_tower(elements, exit_core, fws, syncs, isps, boxes, r_box)
    layout = Layout(elements, [], {}, r_ring, exit_core, (x0, y0, x1, y1), element_of)
    _edges(net, layout, cores, theta)
    return layout


def _exit_tower(
    elements: dict[str, Element],
    core: str,
    fws: list[str],
    syncs: list[str],
    isps: list[str],
    boxes: dict[str, tuple[str, str, tuple[str, ...]]],
    r_box: float,
) -> float:
    """Place the exit above the disc; returns the estimated top of the picture."""
    cx = elements[core].x
    spread = 0.9
    xs = [cx + (i - (len(fws) - 1) / 2) * 2 * spread / max(1, len(fws) - 1) for i in range(len(fws))]
    if len(fws) == 1:
        xs = [cx]
    exit_boxes = [k for k, (gw, _t, _m) in boxes.items() if gw in fws]
    inet_boxes = [k for k, (gw, _t, _m) in boxes.items() if gw in isps]
    half_w = spread + 0.4 + max((text_size(boxes[k][1], LABEL_PT)[0] + 0.6 for k in exit_boxes), default=0)
    # the lowest height clear of every rim label whose estimated extent comes near the tower
    base = r_box - BOX_AWAY + 0.6
    for e in elements.values():
        if e.radial:
            w = text_size(e.label, RADIAL_PT)[0]
            t = math.radians(e.angle)
            ends = [(e.x, e.y), (e.x + w * math.cos(t), e.y + w * math.sin(t))]
            if any(abs(x - cx) < half_w + 0.3 for x, _y in ends) or min(x for x, _ in ends) < cx < max(
                x for x, _ in ends
            ):
                base = max(base, max(y for _x, y in ends) + 0.45)
    for name, x in zip(fws, xs, strict=True):
        elements[name] = Element(name, "firewall", name, x, base, 90.0, nodes=(name,))
    for i, name in enumerate(syncs):
        elements[name] = Element(name, "switch", name, cx, base - 0.05 - 0.3 * i, 90.0, nodes=(name,))
    right = max(xs) if xs else cx
    for i, key in enumerate(exit_boxes):
        elements[key] = Element(
            key, "lans", boxes[key][1], right + 0.75, base + 0.75 + 0.45 * i, 0.0, nodes=boxes[key][2]
        )
    top = base + 0.75 + 0.45 * len(exit_boxes)
    y_isp = max(base + 1.3, top)
    for i, name in enumerate(isps):
        elements[name] = Element(name, "internet", name, cx + 0.9 * i, y_isp, 90.0, nodes=(name,))
    y = y_isp + 0.55
    for key in inet_boxes:
        elements[key] = Element(key, "lans", boxes[key][1], cx, y, 90.0, nodes=boxes[key][2])
        y += text_size(boxes[key][1], LABEL_PT)[1] + 0.2
    return y + 0.2


def _edges(net: Network, layout: Layout, cores: list[str], theta: dict[str, float]) -> None:
    groups: dict[tuple[str, str], list[Link]] = {}
    for lk in net.links:
        a, b = layout.element_of[lk.a], layout.element_of[lk.b]
        if a not in layout.elements or b not in layout.elements:
            continue  # an end the layout could not place (no core to hang it from)
        if a == b:
            layout.inside[lk.name] = a
            continue
        groups.setdefault((a, b) if a <= b else (b, a), []).append(lk)
    for links in groups.values():
        arcs = [lk for lk in links if lk.kind == "ring" and lk.a in cores and lk.b in cores]
        rest = [lk for lk in links if lk not in arcs]
        for lk in arcs:
            ta, tb = math.degrees(theta[lk.a]), math.degrees(theta[lk.b])
            sweep = (ta - tb) % 360 or 360.0
            layout.edges.append(Edge(lk, lk.a, lk.b, arc=(layout.ring_radius, ta, ta - sweep)))
        for i, lk in enumerate(rest):
            a, b = sorted((layout.element_of[lk.a], layout.element_of[lk.b]))
            layout.edges.append(Edge(lk, a, b, offset=(i - (len(rest) - 1) / 2) * 0.06))
