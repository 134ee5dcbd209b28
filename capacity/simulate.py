"""simulate(net, demands, failures) -> Result: routes, calls admitted (Erlang B), max-min fair rates, loads.

Inelastic calls are served first (a priority queue): each class may use `share` of each link
direction, calls are blocked by the reduced-load Erlang B approximation, and what they carry is taken
off the link before the elastic classes share the rest max-min fairly, each up to what it asks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from capacity.demands import CLASSES, Demand, suggest
from capacity.routing import Route, Router
from capacity.solve import F, I, erlang_b, max_min, reduced_load
from govnet.errors import WhatIfError
from topology.model import Network
from topology.reach import zone_allows

SATURATED = 0.99  # utilisation at which a link counts as full
BLOCKING_LIMIT = 0.01  # a link that blocks more calls than this is saturated too


@dataclass(frozen=True)
class Failure:
    """Links and nodes taken down together, under the name the user gave."""

    name: str
    links: frozenset[int] = frozenset()
    nodes: frozenset[str] = frozenset()


@dataclass
class LinkResult:
    name: str
    a: str
    b: str
    capacity_mbps: float
    load_ab_mbps: float
    load_ba_mbps: float
    failed: bool = False
    call_blocking: float = 0.0  # worst per-direction call blocking on this link

    @property
    def load_mbps(self) -> float:
        return max(self.load_ab_mbps, self.load_ba_mbps)

    @property
    def utilisation(self) -> float:
        return self.load_mbps / self.capacity_mbps if self.capacity_mbps else 0.0

    @property
    def saturated(self) -> bool:
        return not self.failed and (self.utilisation >= SATURATED or self.call_blocking > BLOCKING_LIMIT)


@dataclass
class DemandResult:
    demand: Demand
    rate_mbps: float  # elastic: the max-min rate; inelastic: the carried mean load per direction
    route: Route
    blocking: float = 0.0

    @property
    def status(self) -> str:
        return "ok" if self.route.ok else ("denied" if "denies" in self.route.reason else "unroutable")


@dataclass
class Result:
    """Per-link loads, per-demand rates, per-class totals of one solve."""

    net: Network
    links: list[LinkResult]
    demands: list[DemandResult]
    failures: tuple[str, ...] = ()
    resource_load: F = field(default_factory=lambda: np.zeros(0))

    def classes(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for dr in self.demands:
            tc = CLASSES[dr.demand.cls]
            c = out.setdefault(dr.demand.cls, {"offered_mbps": 0.0, "carried_mbps": 0.0, "demands": 0})
            c["demands"] += 1
            c["offered_mbps"] += dr.demand.mbps
            c["carried_mbps"] += dr.rate_mbps
            if not tc.elastic:
                e = dr.demand.mbps / tc.call_mbps
                c["offered_erlangs"] = c.get("offered_erlangs", 0.0) + e
                c["blocked_erlangs"] = c.get("blocked_erlangs", 0.0) + (
                    e if not dr.route.ok else e * dr.blocking
                )
        for c in out.values():
            if "offered_erlangs" in c:
                c["blocking"] = c["blocked_erlangs"] / c["offered_erlangs"] if c["offered_erlangs"] else 0.0
        return out

    def unroutable(self) -> list[DemandResult]:
        return [dr for dr in self.demands if not dr.route.ok]

    def saturated(self) -> list[LinkResult]:
        return sorted((lk for lk in self.links if lk.saturated), key=lambda lk: -lk.utilisation)

    def link(self, name: str) -> LinkResult:
        for lk in self.links:
            if lk.name == name:
                return lk
        raise KeyError(name)


def resolve_failure(net: Network, name: str) -> Failure:
    """A link name (core1--core2), a member (fw-inner--core1#1), a bundle (fw-inner--core1) or a node."""
    for i, lk in enumerate(net.links):
        if lk.name == name:
            return Failure(name, links=frozenset({i}))
    bundle = frozenset(i for i, lk in enumerate(net.links) if lk.name.split("#")[0] == name)
    if bundle:
        return Failure(name, links=bundle)
    if any(n.name == name for n in net.nodes):
        return Failure(name, nodes=frozenset({name}))
    valid = [lk.name for lk in net.links] + [n.name for n in net.nodes if not n.is_host]
    raise WhatIfError(f"--fail {name}: no such link, member or node{suggest(name, valid)}")


def simulate(net: Network, demands: Sequence[Demand], failures: Iterable[Failure | str] = ()) -> Result:
    """Route the demands on the model (with failures applied), admit calls, share links; see module doc."""
    fs = [f if isinstance(f, Failure) else resolve_failure(net, f) for f in failures]
    sim = Simulator(net, demands)
    merged = Failure(
        "+".join(f.name for f in fs),
        frozenset().union(*(f.links for f in fs)) if fs else frozenset(),
        frozenset().union(*(f.nodes for f in fs)) if fs else frozenset(),
    )
    return sim.result(merged if fs else None, tuple(f.name for f in fs))


class Simulator:
    """The demands routed once on the intact network; failures re-route only the demands they touch."""

    def __init__(self, net: Network, demands: Sequence[Demand]):
        self.net = net
        self.demands = list(demands)
        n = len(self.demands)
        self.tclass = [CLASSES[d.cls] for d in self.demands]
        self.elastic = np.array([tc.elastic for tc in self.tclass], dtype=bool)
        self.mbps = np.array([d.mbps for d in self.demands], dtype=float)
        call = np.array([tc.call_mbps if not tc.elastic else 1.0 for tc in self.tclass])
        self.erlangs = np.where(self.elastic, 0.0, self.mbps / call)
        self.bw = np.array([lk.bw_mbps for lk in net.links], dtype=float)
        self.capacity = np.repeat(self.bw, 2)
        self.nodes = {nd.name: nd for nd in net.nodes}
        names = np.array([tc.name for tc in self.tclass], dtype=object)
        self.call_masks = [
            (CLASSES[nm], names == nm) for nm in sorted({tc.name for tc in self.tclass if not tc.elastic})
        ]
        self._routed_cache: tuple[list[Route], NDArray[np.bool_]] | None = None
        self._last_hit: tuple[list[Route], list[int]] | None = None  # the re-routed demands of routes()
        self.base = Router(net)
        self.base_routes = [self._route(self.base, i) for i in range(n)]
        self.rows, self.cols, self.vals = self._coo(self.base_routes, range(n))
        self.by_link: dict[int, list[int]] = {}
        self.by_node: dict[str, list[int]] = {}
        for i, r in enumerate(self.base_routes):
            for li in r.links:
                self.by_link.setdefault(li, []).append(i)
            for nd in r.nodes:
                self.by_node.setdefault(nd, []).append(i)
            if not r.ok:
                self.by_node.setdefault(self.demands[i].src, []).append(i)

    def _route(self, router: Router, i: int) -> Route:
        d = self.demands[i]
        fwd = router.route(d.src, d.dst)
        if fwd.ok and not self.tclass[i].elastic:  # a call loads both directions
            back = router.route(d.dst, d.src)
            if not back.ok:
                return back
            fwd = Route(fwd.resources + back.resources, fwd.nodes | back.nodes, fwd.links | back.links)
        if fwd.ok:
            s, t = self.nodes[d.src], self.nodes[d.dst]
            if (
                s.zone
                and t.zone
                and not (zone_allows(self.net, s.zone, t.zone) or zone_allows(self.net, t.zone, s.zone))
            ):
                for nd in sorted(fwd.nodes - {d.src, d.dst}):
                    if self.nodes[nd].kind == "firewall":
                        return Route((), frozenset(), frozenset(), f"{nd} denies {s.zone} -> {t.zone}")
        return fwd

    @staticmethod
    def _coo(routes: Sequence[Route], index: Iterable[int]) -> tuple[I, I, F]:
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for i, r in zip(index, routes, strict=True):
            if r.ok:
                for res, f in r.resources:
                    rows.append(res)
                    cols.append(i)
                    vals.append(f)
        return (np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64), np.array(vals, dtype=float))

    def affected(self, failure: Failure) -> list[int]:
        hit: set[int] = set()
        for li in failure.links:
            hit.update(self.by_link.get(li, ()))
        for nd in failure.nodes:
            hit.update(self.by_node.get(nd, ()))
        return sorted(hit)

    def routes(self, failure: Failure | None) -> tuple[list[Route], I, I, F]:
        if failure is None or (not failure.links and not failure.nodes):
            return self.base_routes, self.rows, self.cols, self.vals
        hit = self.affected(failure)
        routes = list(self.base_routes)
        self._last_hit = (routes, hit)
        if not hit:
            return routes, self.rows, self.cols, self.vals
        router = Router(self.net, failure.links, failure.nodes, template=self.base)
        for i in hit:
            routes[i] = self._route(router, i)
        gone = np.zeros(len(self.demands), dtype=bool)
        gone[hit] = True
        keep = ~gone[self.cols]
        r2, c2, v2 = self._coo([routes[i] for i in hit], hit)
        return (
            routes,
            np.concatenate([self.rows[keep], r2]),
            np.concatenate([self.cols[keep], c2]),
            np.concatenate([self.vals[keep], v2]),
        )

    def _routed(self, routes: Sequence[Route]) -> NDArray[np.bool_]:
        """Which demands have a route; the intact network's answer is kept, a failure's is patched."""
        cache = self._routed_cache
        if cache is None or cache[0] is not self.base_routes:
            cache = (self.base_routes, np.array([r.ok for r in self.base_routes], dtype=bool))
            self._routed_cache = cache
        if routes is self.base_routes:
            return cache[1]
        routed = cache[1].copy()
        last = self._last_hit
        if last is not None and last[0] is routes:
            changed = last[1]
        else:
            changed = [i for i, (a, b) in enumerate(zip(routes, self.base_routes, strict=True)) if a is not b]
        routed[changed] = [routes[i].ok for i in changed]
        return routed

    def solve(
        self, routes: Sequence[Route], rows: I, cols: I, vals: F, reduce: bool = True
    ) -> tuple[F, F, F, F]:
        """(rate per demand, load per resource, call blocking per resource, call blocking per demand)."""
        n = len(self.demands)
        nres = self.capacity.shape[0]
        routed = self._routed(routes)
        rate = np.zeros(n)
        blocking = np.zeros(n)
        res_block = np.zeros(nres)
        inel_load = np.zeros(nres)
        for tc, cmask in self.call_masks:
            mask = cmask & routed
            if not mask.any():
                continue
            sel = mask[cols]
            # a call is admitted on a link as a whole (it needs its rate both ways): one Erlang
            # resource per link and call, however often its two directions cross it
            nl = self.bw.shape[0]
            key = cols[sel] * nl + rows[sel] // 2
            order = np.argsort(key, kind="stable")
            skey = key[order]
            start = np.flatnonzero(np.r_[True, skey[1:] != skey[:-1]]) if skey.size else skey
            uniq = skey[start]
            frac = np.maximum.reduceat(vals[sel][order], start) if uniq.size else np.zeros(0)
            servers = np.floor(tc.share * self.bw / tc.call_mbps + 1e-9).astype(np.int64)
            b_dem, b_link = reduced_load(uniq % nl, uniq // nl, frac, self.erlangs, servers)
            blocking[mask] = b_dem[mask]
            res_block = np.maximum(res_block, np.repeat(b_link, 2))
            carried = self.mbps * (1.0 - b_dem)
            rate[mask] = carried[mask]
            inel_load += np.bincount(rows[sel], weights=vals[sel] * carried[cols[sel]], minlength=nres)
        emask = self.elastic & routed
        sel = emask[cols]
        caps = np.where(emask, self.mbps, 0.0)
        room = np.maximum(self.capacity - inel_load, 0.0)
        erate = max_min(rows[sel], cols[sel], vals[sel], caps, room, reduce=reduce)
        rate[emask] = erate[emask]
        load = np.bincount(rows, weights=vals * rate[cols], minlength=nres).astype(np.float64)
        return rate, load, res_block, blocking

    def result(self, failure: Failure | None, names: tuple[str, ...] = ()) -> Result:
        routes, rows, cols, vals = self.routes(failure)
        rate, load, res_block, blocking = self.solve(routes, rows, cols, vals)
        failed_links = set(failure.links) if failure else set()
        failed_nodes = set(failure.nodes) if failure else set()
        links = []
        for i, lk in enumerate(self.net.links):
            links.append(
                LinkResult(
                    lk.name,
                    lk.a,
                    lk.b,
                    lk.bw_mbps,
                    float(load[2 * i]),
                    float(load[2 * i + 1]),
                    failed=i in failed_links or lk.a in failed_nodes or lk.b in failed_nodes,
                    call_blocking=float(max(res_block[2 * i], res_block[2 * i + 1])),
                )
            )
        drs = [
            DemandResult(d, float(rate[i]), routes[i], float(blocking[i])) for i, d in enumerate(self.demands)
        ]
        return Result(self.net, links, drs, names, load)

    def utilisation(self, failure: Failure | None, reduce: bool = True) -> tuple[F, F]:
        """(per-link utilisation, per-link worst call blocking) of one scenario: the fast path for N-1."""
        routes, rows, cols, vals = self.routes(failure)
        _rate, load, res_block, _b = self.solve(routes, rows, cols, vals, reduce=reduce)
        util = np.maximum(load[0::2], load[1::2]) / np.where(self.bw > 0, self.bw, math.inf)
        return util, np.maximum(res_block[0::2], res_block[1::2])


def calls_needed(erlangs: float, target: float = BLOCKING_LIMIT) -> int:
    """Fewest circuits that keep Erlang B blocking at or under target."""
    n = 0
    while erlang_b(erlangs, n) > target:
        n += 1
    return n
