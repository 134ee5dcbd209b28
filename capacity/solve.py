"""The numeric core: max-min fair progressive filling and Erlang B with the reduced-load approximation.

Routes arrive as a sparse incidence in COO form: `rows` (resource), `cols` (demand), `vals` (the
fraction of the demand on that resource; below 1 where ECMP splits it).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

F = NDArray[np.float64]
I = NDArray[np.int64]  # noqa: E741
EPS = 1e-9


def erlang_b(erlangs: float, servers: int) -> float:
    """Blocking of an M/M/N/N loss system, by the stable recursion B_n = E B_{n-1} / (n + E B_{n-1})."""
    if erlangs <= 0:
        return 0.0
    if servers <= 0:
        return 1.0
    if servers > erlangs + 12.0 * math.sqrt(erlangs) + 40.0:
        return 0.0  # beyond 12 sigma of the Poisson load: below double precision
    b = 1.0
    for n in range(1, servers + 1):
        b = erlangs * b / (n + erlangs * b)
    return b


def erlang_b_many(erlangs: F, servers: NDArray[np.int64]) -> F:
    """erlang_b over arrays: one vectorised recursion, each step only over the elements that still
    have servers to add (sorted by server count, so that is a suffix)."""
    m = erlangs.shape[0]
    if m == 0:
        return np.ones(0)
    order = np.argsort(servers, kind="stable")
    e = erlangs[order]
    s = servers[order]
    b = np.ones(m)
    top = int(s[-1])
    starts = np.searchsorted(s, np.arange(1, top + 1), side="left").tolist()
    for n, lo in enumerate(starts, start=1):
        eb = e[lo:] * b[lo:]
        b[lo:] = eb / (n + eb)
    out = np.empty(m)
    out[order] = b
    return np.where(erlangs > 0, out, 0.0)


def max_min(rows: I, cols: I, vals: F, caps: F, capacity: F, reduce: bool = True) -> F:
    """Max-min fair rates (progressive filling), each demand capped at caps[d]; capacity per resource.

    All unfrozen demands rise together; when a resource fills, every demand on it freezes; when a
    demand reaches its cap, it freezes. Each round freezes at least one demand or resource.

    With `reduce` (the default), demands that cross no over-subscribed resource (the caps of all its
    demands fit) get their caps at once, and only the rest is filled, on what they leave. The
    allocation is the same (max-min fair with caps is unique; a resource whose caps fit can only be
    a bottleneck of demands already at their caps), and the filling runs on the congested part only.
    """
    n = caps.shape[0]
    nres = capacity.shape[0]
    if n == 0:
        return np.zeros(0)
    load = np.bincount(rows, weights=vals * caps[cols], minlength=nres)
    over = load > capacity + EPS
    if not over.any():
        return caps.copy()  # nothing is short: everyone gets what they ask for
    if not reduce:
        return _fill(rows, cols, vals, caps, capacity)
    tight = np.zeros(n, dtype=bool)
    tight[cols[over[rows]]] = True
    rate = caps.copy()
    rate[tight] = 0.0
    on = tight[cols]
    fixed = np.bincount(rows[~on], weights=vals[~on] * caps[cols[~on]], minlength=nres)
    idx = np.flatnonzero(tight)
    compact = np.full(n, -1, dtype=np.int64)
    compact[idx] = np.arange(idx.shape[0])
    rate[idx] = _fill(rows[on], compact[cols[on]], vals[on], caps[idx], capacity - fixed)
    return rate


def _fill(rows: I, cols: I, vals: F, caps: F, capacity: F) -> F:
    """Progressive filling proper (see max_min). A frozen demand's entries leave the incidence and
    its load joins `fixed`, so each round works on the demands still rising."""
    n = caps.shape[0]
    nres = capacity.shape[0]
    rate = np.zeros(n)
    active = caps > EPS
    keep = active[cols]
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    fixed = np.zeros(nres)
    level = 0.0
    full = np.zeros(nres, dtype=bool)
    for _ in range(n + nres + 1):
        if not active.any():
            break
        weight = np.bincount(rows, weights=vals, minlength=nres)
        used = fixed + weight * level
        room = np.full(nres, np.inf)
        grow = (weight > EPS) & ~full
        room[grow] = (capacity[grow] - used[grow]) / weight[grow]
        step_res = float(room.min()) if grow.any() else math.inf
        step_cap = float((caps[active] - level).min())
        step = max(0.0, min(step_res, step_cap))
        level += step
        newly_full = grow & (room <= step + EPS)
        full |= newly_full
        hit = np.zeros(n, dtype=bool)
        if newly_full.any():
            hit[cols[newly_full[rows]]] = True
        hit |= caps - level <= EPS
        hit &= active
        rate[hit] = np.minimum(level, caps[hit])
        active &= ~hit
        gone = hit[cols]
        fixed += np.bincount(rows[gone], weights=vals[gone] * rate[cols[gone]], minlength=nres)
        rows, cols, vals = rows[~gone], cols[~gone], vals[~gone]
    rate[active] = level
    return rate


def reduced_load(
    rows: I, cols: I, vals: F, erlangs: F, servers: NDArray[np.int64], iterations: int = 50
) -> tuple[F, F]:
    """Per-demand blocking and per-resource blocking by Kelly's reduced-load (Erlang fixed point).

    A call is carried only if every resource on its route admits it; each resource sees the load
    thinned by the blocking elsewhere on the routes that cross it.
    """
    nres = servers.shape[0]
    block = np.zeros(nres)
    used = np.unique(rows)
    for _ in range(iterations):
        keep = np.log(np.clip(1.0 - block, 1e-300, 1.0))
        per_demand = np.bincount(cols, weights=vals * keep[rows], minlength=erlangs.shape[0])
        thinned = erlangs[cols] * np.exp(per_demand[cols] - vals * keep[rows]) * vals
        offered = np.bincount(rows, weights=thinned, minlength=nres).astype(np.float64)
        new = np.zeros(nres)
        # only resources within 12 sigma of their limit can block (see erlang_b)
        off = offered[used]
        near = used[servers[used] <= off + 12.0 * np.sqrt(off) + 40.0]
        new[near] = erlang_b_many(offered[near], servers[near])
        if np.max(np.abs(new - block), initial=0.0) < 1e-9:
            block = new
            break
        block = new
    keep = np.log(np.clip(1.0 - block, 1e-300, 1.0))
    per_demand = np.bincount(cols, weights=vals * keep[rows], minlength=erlangs.shape[0])
    return 1.0 - np.exp(per_demand), block
