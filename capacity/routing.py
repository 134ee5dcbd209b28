"""Paths as the emulator forwards them: OSPF costs from topology/render.py, ECMP splits, static exits.

The forwarding graph holds routers and switches (hosts never forward). Every routed interface costs
10; a standby perimeter firewall member's interfaces cost 10 + 100 * member (render.FW_MEMBER_PENALTY).
A switch behind an OSPF link is a transit segment (the OSPF pseudo-node: router -> segment costs the
router's interface cost, segment -> router costs 0); a switch behind a passive link is a stub LAN that
routers can reach but not cross. Routers that run no OSPF (the ISP) follow their static routes: the
lowest metric next hop whose link is up, whatever lies beyond it. Equal-cost next hops split the
traffic equally (the kernel's L4 hash, in aggregate). A resource is one direction of one link:
`2 * link_index + (0 for a->b, 1 for b->a)`.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

from topology.model import Link, Network, Node
from topology.render import FW_MEMBER_PENALTY

BASE_COST = 10


@dataclass(frozen=True)
class Segment:
    """Where traffic from one node to one destination goes: (resource, fraction) pairs and nodes crossed."""

    resources: tuple[tuple[int, float], ...]
    nodes: frozenset[str]


@dataclass(frozen=True)
class Route:
    """A demand's route, or why it has none."""

    resources: tuple[tuple[int, float], ...]
    nodes: frozenset[str]
    links: frozenset[int]
    reason: str = ""  # non-empty: unroutable (or denied) and why

    @property
    def ok(self) -> bool:
        return not self.reason


def resource(link_index: int, forward: bool) -> int:
    return 2 * link_index + (0 if forward else 1)


def _penalty(node: Node) -> int:
    return FW_MEMBER_PENALTY * node.member if node.kind == "firewall" and node.site == "exit" else 0


class Router:
    """Routing on one network with some links and nodes down; Dijkstras and segments are cached."""

    nodes: dict[str, Node]
    static: set[str]  # routers that run no OSPF: static routes only (the ISP)
    access: dict[str, tuple[str, int]]  # host -> (attached node, link index)
    gateway: dict[str, str]  # host -> its LAN's gateway router
    edges: list[tuple[str, str, int, int]]  # (from, to, resource, cost) on the intact network
    pair_all: dict[tuple[str, str], int]

    def __init__(
        self,
        net: Network,
        failed_links: Iterable[int] = (),
        failed_nodes: Iterable[str] = (),
        template: Router | None = None,
    ):
        self.net = net
        self.failed_links = frozenset(failed_links)
        self.failed_nodes = frozenset(failed_nodes)
        if template is None:
            template = self
            self._build()
        self.nodes = template.nodes
        self.static = template.static
        self.access = template.access
        self.gateway = template.gateway
        self.edges = template.edges
        self.pair_all = template.pair_all
        # out[u] / inn[v]: (peer, resource, cost), without what failed
        self.out: dict[str, list[tuple[str, int, int]]] = {}
        self.inn: dict[str, list[tuple[str, int, int]]] = {}
        fl, fn = self.failed_links, self.failed_nodes
        if template is self:
            for u, v, r, cost in self.edges:
                self.out.setdefault(u, []).append((v, r, cost))
                self.inn.setdefault(v, []).append((u, r, cost))
        else:  # share the template's lists; _drop rebuilds only those of nodes next to what failed
            self.out = dict(template.out)
            self.inn = dict(template.inn)
        self._drop(fl, fn)
        self._dist: dict[str, dict[str, int]] = {}
        self._seg: dict[tuple[str, str], Segment | None] = {}

    def _drop(self, fl: frozenset[int], fn: frozenset[str]) -> None:
        """Drop the edges of failed links and nodes from out/inn (only the touched nodes' lists)."""
        if not fl and not fn:
            return
        touched = set(fn)
        for li in fl:
            if 0 <= li < len(self.net.links):
                touched.update((self.net.links[li].a, self.net.links[li].b))
        for nd in fn:
            touched.update(v for v, _r, _c in self.out.get(nd, ()))
            touched.update(u for u, _r, _c in self.inn.get(nd, ()))
        for u in touched:
            for table in (self.out, self.inn):
                if u in table:
                    keep = u not in fn
                    table[u] = [e for e in table[u] if keep and (e[1] >> 1) not in fl and e[0] not in fn]

    def _build(self) -> None:
        """What does not depend on failures: forwarding edges with costs, host attachments, gateways."""
        net = self.net
        self.nodes = {n.name: n for n in net.nodes}
        self.static = {n.name for n in net.nodes if n.is_router}
        self.access = {}
        self.pair_all = {}
        self.edges = []
        for i, lk in enumerate(net.links):
            self.pair_all.setdefault((lk.a, lk.b), i)
            self.pair_all.setdefault((lk.b, lk.a), i)
            a, b = self.nodes[lk.a], self.nodes[lk.b]
            if lk.ospf:
                self.static.discard(lk.a)
                self.static.discard(lk.b)
            if a.is_host or b.is_host:
                host, other = (a, b) if a.is_host else (b, a)
                self.access.setdefault(host.name, (other.name, i))
                continue
            for u, v, fwd in ((a, b, True), (b, a, False)):
                cost = self._cost(lk, u, v)
                if cost is not None:
                    self.edges.append((u.name, v.name, resource(i, fwd), cost))
        self.gateway = {}
        for lan in net.lans:
            for h in lan.hosts:
                self.gateway[h] = lan.gateway

    @staticmethod
    def _cost(lk: Link, u: Node, v: Node) -> int | None:
        """Cost of sending from u over lk to v, or None when u never forwards that way."""
        if u.is_switch:
            if v.is_switch:
                return 0
            return 0 if lk.ospf else None  # a stub LAN is not transit
        if v.is_switch:
            return BASE_COST + _penalty(u)
        return BASE_COST + max(_penalty(u), _penalty(v), FW_MEMBER_PENALTY * lk.member if not lk.ospf else 0)

    def dist(self, dst: str) -> dict[str, int]:
        """Cost from every node to dst (reverse Dijkstra)."""
        d = self._dist.get(dst)
        if d is not None:
            return d
        d = {dst: 0}
        heap = [(0, dst)]
        while heap:
            c, v = heapq.heappop(heap)
            if c > d[v]:
                continue
            for u, _r, w in self.inn.get(v, ()):
                nc = c + w
                if nc < d.get(u, 1 << 60):
                    d[u] = nc
                    heapq.heappush(heap, (nc, u))
        self._dist[dst] = d
        return d

    def next_hops(self, u: str, dst: str, dist: dict[str, int]) -> list[tuple[str, int]]:
        edges = self.out.get(u, ())
        if u in self.static:
            direct = [(v, r) for v, r, _c in edges if v == dst]
            if direct:
                return direct
            cand = [(c, v, r) for v, r, c in edges if v in dist and self.nodes[v].is_router]
            if not cand:
                return []
            best = min(c for c, _v, _r in cand)
            return [(v, r) for c, v, r in cand if c == best]
        du = dist.get(u)
        if du is None:
            return []
        return [(v, r) for v, r, c in edges if v in dist and c + dist[v] == du]

    def segment(self, src: str, dst: str) -> Segment | None:
        """Fractions of src->dst traffic on each resource (ECMP split); None when unroutable or looping."""
        key = (src, dst)
        if key in self._seg:
            return self._seg[key]
        seg = self._walk(src, dst)
        self._seg[key] = seg
        return seg

    def _walk(self, src: str, dst: str) -> Segment | None:
        if src in self.failed_nodes or dst in self.failed_nodes:
            return None
        if src == dst:
            return Segment((), frozenset({src}))
        dist = self.dist(dst)
        nh: dict[str, list[tuple[str, int]]] = {}
        stack = [src]
        while stack:
            u = stack.pop()
            if u in nh:
                continue
            if u == dst:
                nh[u] = []
                continue
            hops = self.next_hops(u, dst, dist)
            if not hops:
                return None
            nh[u] = hops
            stack.extend(v for v, _r in hops if v not in nh)
        indeg: dict[str, int] = dict.fromkeys(nh, 0)
        for hops in nh.values():
            for v, _r in hops:
                indeg[v] += 1
        if indeg[src]:
            return None  # a loop back through the source (static routes pointing at each other)
        frac = {src: 1.0}
        res: dict[int, float] = {}
        ready = [src]
        done = 0
        while ready:
            u = ready.pop()
            done += 1
            hops = nh[u]
            if not hops:
                continue
            share = frac[u] / len(hops)
            for v, r in hops:
                res[r] = res.get(r, 0.0) + share
                frac[v] = frac.get(v, 0.0) + share
                indeg[v] -= 1
                if indeg[v] == 0:
                    ready.append(v)
        if done != len(nh):
            return None  # a forwarding loop
        return Segment(tuple(sorted(res.items())), frozenset(nh))

    def route(self, src: str, dst: str) -> Route:
        """The route of src -> dst: host access hops, the routed segment, and the far access hop."""
        nodes = self.nodes
        if src not in nodes or dst not in nodes:
            return Route((), frozenset(), frozenset(), "unknown node")
        prefix: list[tuple[int, float]] = []
        suffix: list[tuple[int, float]] = []
        used_nodes = {src, dst}
        start, end = src, dst
        for host, outward in ((src, True), (dst, False)):
            if not nodes[host].is_host:
                continue
            att = self.access.get(host)
            if att is None:
                return Route((), frozenset(), frozenset(), f"{host} has no link")
            peer, li = att
            lk = self.net.links[li]
            if li in self.failed_links or peer in self.failed_nodes:
                return Route((), frozenset(), frozenset(), f"{host} is cut off ({lk.name} down)")
            fwd = (lk.a == host) == outward
            (prefix if outward else suffix).append((resource(li, fwd), 1.0))
            used_nodes.add(peer)
            if outward:
                start = peer
            else:
                end = peer
        if start == end:  # same LAN (or same attachment router)
            return self._finish(prefix + suffix, used_nodes)
        if nodes[src].is_host and nodes[start].is_switch:
            gw = self.gateway.get(src, "")
            if not gw:
                return Route((), frozenset(), frozenset(), f"{src} is on a non-routed VLAN")
            lan_link = self._link_between(start, gw)
            if lan_link is None or gw in self.failed_nodes:
                return Route((), frozenset(), frozenset(), f"gateway {gw} of {src} is down")
            prefix.append((resource(lan_link, self.net.links[lan_link].a == start), 1.0))
            used_nodes.add(gw)
            start = gw
        seg = self.segment(start, end)
        if seg is None:
            return Route((), frozenset(), frozenset(), f"no route from {start} to {end}")
        used_nodes |= seg.nodes
        return self._finish(prefix + list(seg.resources) + suffix, used_nodes)

    def _finish(self, res: list[tuple[int, float]], used_nodes: set[str]) -> Route:
        return Route(tuple(res), frozenset(used_nodes), frozenset(r // 2 for r, _f in res))

    def _link_between(self, a: str, b: str) -> int | None:
        # a stub LAN switch has no forwarding edge towards its gateway: use the LAN link itself
        i = self.pair_all.get((a, b))
        return None if i is None or i in self.failed_links else i
