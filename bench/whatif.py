"""Capacity what-ifs: our solve and N-1 against a straightforward networkx baseline, and a scale curve.

Run: .venv/bin/python bench/whatif.py [--quick]

The baseline is what one would write first: a networkx DiGraph with the same OSPF costs, one
shortest path per demand (networkx, recomputed for every failure, no ECMP), and progressive filling
in plain Python. Its N-1 is timed on a sample of failures and scaled to all of them (said so in
the output). The scale curve grows the reference model by its parameters up to ~10,000 nodes
(10,466 at 250 bureaus x 39 desktops on a 64-node ring), each point in a fresh process so that
its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import resource
import time
from typing import Any

import networkx as nx
import yaml
from benchfile import Figure, write_results

from capacity import Simulator, builtin_demands
from capacity.demands import Demand
from capacity.routing import Router
from capacity.whatif import n_minus_1, n_minus_1_failures
from topology import load_model, load_model_text
from topology.model import Network


def baseline_graph(net: Network, failed_links: frozenset[int], failed_nodes: frozenset[str]) -> Any:
    g = nx.DiGraph()
    costs = {(u, v): c for u, v, _r, c in Router(net).edges}
    for i, lk in enumerate(net.links):
        if i in failed_links or lk.a in failed_nodes or lk.b in failed_nodes:
            continue
        for u, v in ((lk.a, lk.b), (lk.b, lk.a)):
            w = costs.get((u, v), 10)
            if not g.has_edge(u, v) or g[u][v]["weight"] > w:
                g.add_edge(u, v, weight=w, link=lk.name, cap=lk.bw_mbps)
    return g


def baseline_solve(
    net: Network, demands: list[Demand], failed: tuple[frozenset[int], frozenset[str]]
) -> dict[str, float]:
    g = baseline_graph(net, *failed)
    paths: list[list[tuple[str, str]]] = []
    for d in demands:
        try:
            p = nx.shortest_path(g, d.src, d.dst, weight="weight")
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            paths.append([])
            continue
        paths.append(list(itertools.pairwise(p)))
    cap = {(u, v): float(data["cap"]) for u, v, data in g.edges(data=True)}
    rate = [0.0] * len(demands)
    want = [d.mbps for d in demands]  # calls are treated as elastic here: the baseline has no Erlang
    active = {i for i, p in enumerate(paths) if p and want[i] > 0}
    used = dict.fromkeys(cap, 0.0)
    while active:
        count: dict[tuple[str, str], int] = {}
        for i in active:
            for e in paths[i]:
                count[e] = count.get(e, 0) + 1
        step = min(
            min((cap[e] - used[e]) / n for e, n in count.items()), min(want[i] - rate[i] for i in active)
        )
        for i in active:
            rate[i] += step
            for e in paths[i]:
                used[e] += step
        full = {e for e in count if cap[e] - used[e] <= 1e-9}
        active = {i for i in active if want[i] - rate[i] > 1e-9 and not any(e in full for e in paths[i])}
    load: dict[str, float] = {}
    for (u, v), x in used.items():
        name = g[u][v]["link"]
        load[name] = max(load.get(name, 0.0), x)
    return load


def scaled(bureaus: int, desktops: int, ring: int) -> Network:
    data = dict(load_model("weihai").source)
    data["parameters"] = {
        **data["parameters"],
        "bureaus": bureaus,
        "desktops_per_bureau": desktops,
        "ring_size": ring,
    }
    return load_model_text(yaml.safe_dump(data, sort_keys=False), f"weihai-{bureaus}x{desktops}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller scale curve")
    ap.add_argument("--sample", type=int, default=15, help="failures the baseline N-1 is timed on")
    ap.add_argument("--n1-max-nodes", type=int, default=2600, help="largest model our N-1 runs on")
    ap.add_argument("--baseline-max-nodes", type=int, default=2600, help="largest model for networkx")
    args = ap.parse_args()

    net = load_model("weihai")
    demands = builtin_demands(net)
    print(f"instance: weihai, {len(net.nodes)} nodes, {len(net.links)} links, {len(demands)} demands")
    t0 = time.perf_counter()
    sim = Simulator(net, demands)
    ours = sim.result(None)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    base = baseline_solve(net, demands, (frozenset(), frozenset()))
    t_base = time.perf_counter() - t0
    worst = max(abs(base.get(lk.name, 0.0) - lk.load_mbps) for lk in ours.links)
    print(
        f"solve      govnet {t_ours:8.3f} s   networkx baseline {t_base:8.3f} s"
        f"   ratio {t_base / t_ours:6.1f}x"
    )
    print(f"           largest per-link load difference (baseline has no ECMP, no calls): {worst:.2f} Mbit/s")

    t0 = time.perf_counter()
    nm1 = n_minus_1(Simulator(net, demands))
    t_n1 = time.perf_counter() - t0
    failures = n_minus_1_failures(net)
    sample = failures[:: max(1, len(failures) // args.sample)][: args.sample]
    t0 = time.perf_counter()
    for f in sample:
        baseline_solve(net, demands, (f.links, f.nodes))
    t_bs = (time.perf_counter() - t0) / len(sample) * len(failures)
    print(
        f"N-1 ({nm1.scenarios} failures) govnet {t_n1:6.3f} s   networkx baseline {t_bs:8.1f} s "
        f"(timed on {len(sample)} failures, scaled)   ratio {t_bs / t_n1:6.0f}x"
    )

    print(
        f"\nscale curve: each point in a fresh process (peak RSS = that process's ru_maxrss, Python and"
        f" numpy included); N-1 (serial, one core) up to {args.n1_max_nodes} nodes, the networkx"
        f" baseline up to {args.baseline_max_nodes} nodes (above that it would take minutes: skipped)"
    )
    print(
        f"  {'nodes':>6} {'links':>6} {'demands':>7} {'expand s':>8} {'solve s':>8} {'peak MiB':>8}"
        f" {'N-1 s':>8} {'failures':>8} | {'nx solve s':>10} {'nx MiB':>7} {'nx N-1 s':>9}"
    )
    points = [(60, 2, 4), (120, 8, 8), (250, 8, 16), (250, 18, 32), (250, 39, 64)]
    if args.quick:
        points = points[:3]
    ctx = multiprocessing.get_context("fork")
    curve: list[dict[str, Any]] = []
    for point in points:
        with ctx.Pool(1, maxtasksperchild=1) as pool:
            pt = pool.apply(_ours_point, (point, args.n1_max_nodes))
        base_cols = f"{'skipped':>10} {'':>7} {'':>9}"
        if pt["nodes"] <= args.baseline_max_nodes:
            with ctx.Pool(1, maxtasksperchild=1) as pool:
                nx_pt = pool.apply(_baseline_point, (point, args.sample))
            base_cols = f"{nx_pt['solve']:>10.3f} {nx_pt['peak']:>7.0f} {nx_pt['n1']:>9.1f}"
        n1 = f"{pt['n1']:>8.2f}" if pt["n1"] is not None else f"{'-':>8}"
        curve.append({**pt, "baseline": nx_pt if pt["nodes"] <= args.baseline_max_nodes else None})
        print(
            f"  {pt['nodes']:>6} {pt['links']:>6} {pt['demands']:>7} {pt['expand']:>8.2f}"
            f" {pt['solve']:>8.3f} {pt['peak']:>8.0f} {n1} {pt['failures']:>8} | {base_cols}",
            flush=True,
        )
    print("  (nx N-1: timed on a sample of failures and scaled to all of them)")
    figures = [
        Figure(
            "solve, reference model",
            t_ours,
            t_base,
            "s",
            t_base / t_ours,
            "anchor/govnet",
            f"{len(net.nodes)} nodes, {len(demands)} demands",
        ),
        Figure(
            f"N-1, reference model ({nm1.scenarios} failures)",
            t_n1,
            t_bs,
            "s",
            t_bs / t_n1,
            "anchor/govnet",
            f"baseline timed on {len(sample)} failures and scaled",
        ),
    ]
    for pt in curve:
        base_pt = pt["baseline"] or {}
        figures.append(
            Figure(
                f"scale: {pt['nodes']:,} nodes, {pt['demands']:,} demands: solve",
                pt["solve"],
                base_pt.get("solve"),
                "s",
                base_pt["solve"] / pt["solve"] if base_pt else None,
                "anchor/govnet",
                f"peak {pt['peak']:.0f} MiB (baseline {base_pt['peak']:.0f} MiB)"
                if base_pt
                else f"peak {pt['peak']:.0f} MiB",
            )
        )
        if pt["n1"] is not None:
            figures.append(
                Figure(
                    f"scale: {pt['nodes']:,} nodes: N-1 ({pt['failures']:,} failures, one core)",
                    pt["n1"],
                    base_pt.get("n1"),
                    "s",
                    base_pt["n1"] / pt["n1"] if base_pt else None,
                    "anchor/govnet",
                )
            )
    write_results(
        "whatif",
        "flow simulator: one solve and N-1 on the reference model, and a scale curve",
        "networkx: one shortest path per demand recomputed per failure, no ECMP, plain progressive filling",
        figures,
        params=vars(args),
        extra={"scale_curve": curve},
        notes=["each scale point runs in a fresh process, so its peak RSS (ru_maxrss) is its own"],
    )


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _ours_point(point: tuple[int, int, int], n1_max_nodes: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    m = scaled(*point)
    t_expand = time.perf_counter() - t0
    dem = builtin_demands(m)
    t0 = time.perf_counter()
    sim = Simulator(m, dem)
    sim.result(None)
    t_solve = time.perf_counter() - t0
    n1 = None
    if len(m.nodes) <= n1_max_nodes:
        n1 = n_minus_1(sim).seconds
    return {
        "nodes": len(m.nodes),
        "links": len(m.links),
        "demands": len(dem),
        "expand": t_expand,
        "solve": t_solve,
        "peak": _peak_mib(),
        "n1": n1,
        "failures": len(n_minus_1_failures(m)),
    }


def _baseline_point(point: tuple[int, int, int], sample: int) -> dict[str, float]:
    m = scaled(*point)
    dem = builtin_demands(m)
    t0 = time.perf_counter()
    baseline_solve(m, dem, (frozenset(), frozenset()))
    t_solve = time.perf_counter() - t0
    failures = n_minus_1_failures(m)
    picked = failures[:: max(1, len(failures) // sample)][:sample]
    t0 = time.perf_counter()
    for f in picked:
        baseline_solve(m, dem, (f.links, f.nodes))
    t_n1 = (time.perf_counter() - t0) / len(picked) * len(failures)
    return {"solve": t_solve, "peak": _peak_mib(), "n1": t_n1}


if __name__ == "__main__":
    main()
