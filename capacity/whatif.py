"""What-ifs on top of simulate(): growth, failures, N-1, added bureaus; explanations and upgrades."""

from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import yaml

from capacity.demands import CLASSES, Demand, builtin_demands, scale, suggest
from capacity.simulate import (
    BLOCKING_LIMIT,
    Failure,
    LinkResult,
    Result,
    Simulator,
    calls_needed,
    resolve_failure,
)
from capacity.solve import F
from govnet.errors import WhatIfError
from topology.model import Network

STANDARD_RATES = (10, 100, 1000, 10000)
# relative price of one link (both ports and optics) at each rate: used only to rank upgrades
PRICE = {10: 1.0, 100: 2.0, 1000: 5.0, 10000: 20.0}


def site_names(net: Network) -> dict[str, str]:
    """Accepted site spellings -> the model's site: 'bureau-finance' and its short form 'finance'."""
    out: dict[str, str] = {}
    for n in net.nodes:
        if n.site:
            out[n.site] = n.site
            if n.site.startswith("bureau-"):
                out.setdefault(n.site.removeprefix("bureau-"), n.site)
    return out


def parse_grow(net: Network, specs: list[str]) -> dict[str, float]:
    """CLASS_OR_SITE=FACTOR items -> {class or model site: factor} (factors multiply)."""
    sites = site_names(net)
    out: dict[str, float] = {}
    for spec in specs:
        key, sep, value = spec.partition("=")
        if not sep:
            raise WhatIfError(f"--grow {spec}: expected CLASS_OR_SITE=FACTOR, e.g. approval=2")
        try:
            factor = float(value)
        except ValueError:
            raise WhatIfError(f"--grow {spec}: factor must be a number (got {value!r})") from None
        if not math.isfinite(factor) or factor < 0:
            raise WhatIfError(f"--grow {spec}: factor must be >= 0 (got {value!r})")
        if key in CLASSES:
            name = key
        elif key in sites:
            name = sites[key]
        else:
            raise WhatIfError(f"--grow {key}: no such class or site{suggest(key, [*CLASSES, *sites])}")
        out[name] = out.get(name, 1.0) * factor
    return out


def add_bureaus(net: Network, count: int) -> Network:
    """The same model with `count` more bureaus (named bureau-bNN), re-validated and re-expanded."""
    from topology import load_model_text

    if count < 0:
        raise WhatIfError(f"--add-bureaus {count}: must be >= 0")
    if count == 0:
        return net
    data: dict[str, Any] = {k: v for k, v in net.source.items() if v is not None}
    params = dict(data.get("parameters") or {})
    params["bureaus"] = int(params.get("bureaus", 0)) + count
    data["parameters"] = params
    return load_model_text(yaml.safe_dump(data, sort_keys=False), f"{net.name} + {count} bureaus")


def n_minus_1_failures(net: Network) -> list[Failure]:
    """Every single link (each bundle member on its own) and every router or switch."""
    out = [Failure(lk.name, links=frozenset({i})) for i, lk in enumerate(net.links)]
    out += [Failure(n.name, nodes=frozenset({n.name})) for n in net.nodes if not n.is_host]
    return out


@dataclass
class NMinus1:
    worst_utilisation: list[float]
    worst_failure: list[str]
    scenarios: int
    seconds: float


def n_minus_1(
    sim: Simulator, base: Failure | None = None, fast: bool = True, workers: int | None = None
) -> NMinus1:
    """Worst utilisation of each link over every single failure (on top of `base`).

    `fast` (the default) skips the solve of a failure that no demand's route touches (its loads are
    the intact network's) and fills max-min only on the congested part (solve.max_min `reduce`);
    `fast=False` solves every failure in full, the reference the tests compare with. With more than
    PARALLEL_MIN failures the scenarios are split over `workers` forked processes (default: one per
    CPU; not inside a sweep's worker); the chunks are merged in order, so the answer is the serial
    one, ties included.
    """
    t0 = time.perf_counter()
    scenarios = n_minus_1_failures(sim.net)
    n = workers if workers is not None else (os.cpu_count() or 1)
    n = max(1, min(n, len(scenarios) // max(1, PARALLEL_MIN // 4)))
    # only the main thread of the main process forks: a sweep's pool or a Dask worker runs N-1 serially
    nested = (
        multiprocessing.parent_process() is not None
        or threading.current_thread() is not threading.main_thread()
    )
    if len(scenarios) < PARALLEL_MIN or n <= 1 or nested:
        worst, who = _scan(sim, base, fast, scenarios)
    else:
        global _FORKED
        _FORKED = (sim, base, fast, scenarios)
        bounds = [len(scenarios) * k // n for k in range(n + 1)]
        try:
            with multiprocessing.get_context("fork").Pool(n) as pool:
                parts = pool.starmap(_scan_part, list(itertools.pairwise(bounds)))
        finally:
            _FORKED = None
        worst, who = parts[0]
        for w, names in parts[1:]:  # a later chunk wins only when strictly worse: the serial order
            better = w > worst + 1e-12
            worst = np.where(better, w, worst)
            who = [b if up else a for a, b, up in zip(who, names, better, strict=True)]
    return NMinus1([max(0.0, float(w)) for w in worst], who, len(scenarios), time.perf_counter() - t0)


PARALLEL_MIN = 800  # below this many failures a fork costs more than it saves
_FORKED: tuple[Simulator, Failure | None, bool, list[Failure]] | None = None  # what forked workers read


def _scan_part(lo: int, hi: int) -> tuple[F, list[str]]:
    assert _FORKED is not None
    sim, base, fast, scenarios = _FORKED
    return _scan(sim, base, fast, scenarios[lo:hi])


def _scan(sim: Simulator, base: Failure | None, fast: bool, scenarios: list[Failure]) -> tuple[F, list[str]]:
    """(worst utilisation, its failure) per link over these scenarios; -1 where none applies."""
    nl = len(sim.net.links)
    worst = np.full(nl, -1.0)
    who = [""] * nl
    index = {nd.name: i for i, nd in enumerate(sim.net.nodes)}
    end_a = np.array([index[lk.a] for lk in sim.net.links], dtype=np.int64)
    end_b = np.array([index[lk.b] for lk in sim.net.links], dtype=np.int64)
    intact: F | None = None
    for f in scenarios:
        if fast and base is None and not sim.affected(f):
            if intact is None:
                intact = sim.utilisation(None)[0]
            util = intact
        else:
            if base is not None:
                f = Failure(f.name, f.links | base.links, f.nodes | base.nodes)
            util = sim.utilisation(f, reduce=fast)[0]
        down = np.zeros(nl, dtype=bool)
        down[list(f.links)] = True
        if f.nodes:
            gone = np.zeros(len(index), dtype=bool)
            gone[[index[nd] for nd in f.nodes]] = True
            down |= gone[end_a] | gone[end_b]
        # rounded so that float noise between equal scenarios never decides the worst failure
        util = np.where(down, -1.0, np.round(util, 9))
        better = util > worst + 1e-12
        worst = np.where(better, util, worst)
        for i in np.flatnonzero(better):
            who[i] = f.name
    return worst, who


def explain(sim: Simulator, res: Result, lk: LinkResult, top: int = 5) -> dict[str, Any]:
    """Which demands cross a saturated link (largest first) and the cheapest upgrade that clears it."""
    li = next(i for i, x in enumerate(sim.net.links) if x.name == lk.name)
    fwd = lk.load_ab_mbps >= lk.load_ba_mbps
    r = 2 * li + (0 if fwd else 1)
    crossing: list[tuple[float, float, Demand]] = []
    wanted = 0.0
    need_calls = 0.0
    for dr in res.demands:
        frac = sum(f for res_i, f in dr.route.resources if res_i == r) if dr.route.ok else 0.0
        if frac <= 0:
            continue
        tc = CLASSES[dr.demand.cls]
        crossing.append((dr.rate_mbps * frac, dr.demand.mbps * frac, dr.demand))
        wanted += dr.demand.mbps * frac
    for name in {d.cls for _l, _w, d in crossing if not CLASSES[d.cls].elastic}:
        tc = CLASSES[name]
        e = sum(w for _l, w, d in crossing if d.cls == name) / tc.call_mbps
        need_calls = max(need_calls, calls_needed(e) * tc.call_mbps / tc.share)
    crossing.sort(key=lambda t: (-t[0], -t[1]))
    needed = max(wanted, need_calls)
    return {
        "name": lk.name,
        "utilisation": round(lk.utilisation, 4),
        "direction": f"{lk.a} -> {lk.b}" if fwd else f"{lk.b} -> {lk.a}",
        "call_blocking": round(lk.call_blocking, 4),
        "wanted_mbps": round(wanted, 3),
        "demands": [
            {**d.to_dict(), "load_mbps": round(load, 3), "wanted_mbps": round(w, 3)}
            for load, w, d in crossing[:top]
        ],
        "demands_crossing": len(crossing),
        "upgrade": upgrade(sim.net, li, needed),
    }


def upgrade(net: Network, li: int, needed_mbps: float) -> dict[str, Any]:
    """Cheapest of: every member of the bundle to the next standard rate that carries the load, or
    more members at today's rate (routed links only: ECMP). Prices are the relative PRICE table."""
    lk = net.links[li]
    group = [x for x in net.links if lk.group and x.group == lk.group and x.members > 1] or [lk]
    n = len(group)
    routed = net.node(lk.a).is_router and net.node(lk.b).is_router
    options: list[tuple[float, str, dict[str, Any]]] = []
    for rate in STANDARD_RATES:
        if rate > lk.bw_mbps and rate >= needed_mbps:
            options.append(
                (n * _price(rate), f"raise {lk.name} to {rate} Mbit/s", {"kind": "rate", "bw_mbps": rate})
            )
            break
    if routed and lk.bw_mbps > 0:
        total = needed_mbps * n  # the bundle's load, spread over its members by ECMP
        k = max(1, math.ceil(total / lk.bw_mbps - 1e-9) - n)
        options.append(
            (
                k * _price(lk.bw_mbps),
                f"add {k} member(s) of {lk.bw_mbps:g} Mbit/s beside {lk.name} (ECMP)",
                {"kind": "member", "add": k},
            )
        )
    if not options:
        return {
            "kind": "none",
            "text": f"{needed_mbps:.0f} Mbit/s exceeds 10 Gbit/s and the link is not routed",
        }
    cost, text, extra = min(options, key=lambda o: o[0])
    return {**extra, "text": text, "relative_cost": cost, "needed_mbps": round(needed_mbps, 3)}


def _price(rate: float) -> float:
    for r in STANDARD_RATES:
        if rate <= r:
            return PRICE[r]
    return PRICE[10000] * rate / 10000


@dataclass
class WhatIf:
    """Everything `govnet whatif` reports."""

    sim: Simulator
    result: Result
    grow: dict[str, float]
    failure: Failure | None
    nm1: NMinus1 | None
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        res = self.result
        links = []
        for i, lk in enumerate(res.links):
            item: dict[str, Any] = {
                "name": lk.name,
                "a": lk.a,
                "b": lk.b,
                "capacity_mbps": lk.capacity_mbps,
                "load_mbps": round(lk.load_mbps, 4),
                "utilisation": round(lk.utilisation, 4),
                "load_ab_mbps": round(lk.load_ab_mbps, 4),
                "load_ba_mbps": round(lk.load_ba_mbps, 4),
                "failed": lk.failed,
            }
            if self.nm1 is not None:
                item["worst_utilisation"] = round(self.nm1.worst_utilisation[i], 4)
                item["worst_failure"] = self.nm1.worst_failure[i]
            links.append(item)
        classes = {k: {m: round(v, 4) for m, v in c.items()} for k, c in sorted(res.classes().items())}
        out: dict[str, Any] = {
            "model": res.net.name,
            "nodes": len(res.net.nodes),
            "grow": self.grow,
            "failures": list(res.failures),
            "links": links,
            "saturated": [explain(self.sim, res, lk) for lk in res.saturated()],
            "classes": classes,
            "unroutable": [{**dr.demand.to_dict(), "why": dr.route.reason} for dr in res.unroutable()],
            "seconds": round(self.seconds, 4),
        }
        if self.nm1 is not None:
            out["n_1"] = {"scenarios": self.nm1.scenarios, "seconds": round(self.nm1.seconds, 4)}
        return out

    def table(self, top: int = 15) -> str:
        res = self.result
        lines = [
            f"model {res.net.name}: {len(res.net.nodes)} nodes, {len(res.net.links)} links, "
            f"{len(res.demands)} demands; failures: {', '.join(res.failures) or 'none'}; "
            f"grow: {', '.join(f'{k}x{v:g}' for k, v in self.grow.items()) or 'none'}",
            "",
            f"top {top} links by utilisation:",
            f"  {'link':44} {'Mbit/s':>8} {'load':>9} {'util':>6}"
            + (f"  {'N-1 worst':>9}  worst failure" if self.nm1 else ""),
        ]
        order = sorted(range(len(res.links)), key=lambda i: -res.links[i].utilisation)[:top]
        for i in order:
            lk = res.links[i]
            row = f"  {lk.name:44} {lk.capacity_mbps:>8g} {lk.load_mbps:>9.2f} {lk.utilisation:>6.1%}"
            if self.nm1:
                row += f"  {self.nm1.worst_utilisation[i]:>9.1%}  {self.nm1.worst_failure[i]}"
            lines.append(row)
        lines += ["", "classes:"]
        for name, c in sorted(res.classes().items()):
            row = (
                f"  {name:9} offered {c['offered_mbps']:9.2f} Mbit/s  carried {c['carried_mbps']:9.2f} Mbit/s"
            )
            if "blocking" in c:
                row += f"  {c['offered_erlangs']:.1f} erl, blocking {c['blocking']:.2%}"
            lines.append(row)
        sat = res.saturated()
        lines += [
            "",
            f"saturated links: {len(sat) or 'none'}"
            + (f" (the worst {top} explained)" if len(sat) > top else ""),
        ]
        for lk in sat[:top]:
            ex = explain(self.sim, res, lk)
            lines.append(
                f"  {lk.name} ({ex['direction']}) at {lk.utilisation:.1%}"
                + (f", calls blocked {lk.call_blocking:.1%}" if lk.call_blocking > BLOCKING_LIMIT else "")
                + f": wants {ex['wanted_mbps']:.1f} of {lk.capacity_mbps:g} Mbit/s"
                + f" from {ex['demands_crossing']} demands"
            )
            for d in ex["demands"]:
                lines.append(
                    f"    {d['class']:8} {d['src']} -> {d['dst']}: {d['load_mbps']:.2f}"
                    f" (wants {d['wanted_mbps']:.2f})"
                )
            lines.append(f"    cheapest fix: {ex['upgrade']['text']}")
        bad = res.unroutable()
        if bad:
            lines += ["", f"unroutable or denied demands: {len(bad)}"]
            for dr in bad[:10]:
                d = dr.demand
                lines.append(f"  {d.cls:8} {d.src} -> {d.dst}: {dr.route.reason}")
            if len(bad) > 10:
                lines.append(f"  ... and {len(bad) - 10} more (--json lists them all)")
        if self.nm1:
            lines += ["", f"N-1: {self.nm1.scenarios} single failures in {self.nm1.seconds:.3f} s"]
        return "\n".join(lines)


def run_whatif(
    net: Network,
    demands: list[Demand] | None = None,
    grow: list[str] | None = None,
    fail: list[str] | None = None,
    n1: bool = False,
    bureaus: int = 0,
) -> WhatIf:
    """Apply the what-if's inputs and solve (plus N-1 when asked)."""
    t0 = time.perf_counter()
    net = add_bureaus(net, bureaus)
    factors = parse_grow(net, grow or [])
    failures = [resolve_failure(net, f) for f in fail or []]
    base = builtin_demands(net) if demands is None else demands
    sim = Simulator(net, scale(base, net, factors))
    failure = None
    if failures:
        failure = Failure(
            "+".join(f.name for f in failures),
            frozenset().union(*(f.links for f in failures)),
            frozenset().union(*(f.nodes for f in failures)),
        )
    result = sim.result(failure, tuple(f.name for f in failures))
    nm1 = n_minus_1(sim, failure) if n1 else None
    return WhatIf(sim, result, factors, failure, nm1, time.perf_counter() - t0)
