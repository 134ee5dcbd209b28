"""What-if extras: the storage horizon (HSM on the same growth), plots, the fast N-1 and solver
against the reference path, and parametric models up to 10,000 nodes."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from capacity import Demand, Simulator, builtin_demands, run_whatif
from capacity.plot import svg, write_plot
from capacity.solve import max_min
from capacity.storage import horizon, storage_growth, storage_report, whatif_growth
from capacity.whatif import n_minus_1
from govnet.errors import WhatIfError
from topology import load_model, load_model_text

# what the `govnet` script runs (cli.main:main), whatever the venv's path
GOVNET = [sys.executable, "-m", "cli"]
SMALL = load_model("small")
WEIHAI = load_model("weihai")


# storage horizon ------------------------------------------------------------------------------
def test_storage_growth_follows_uploads_of_the_storage_classes() -> None:
    before = [
        Demand("pc", "srv", "file", 1.0),
        Demand("srv", "pc", "file", 9.0),  # a download: not new data
        Demand("pc", "srv", "approval", 1.0),
        Demand("pc", "srv", "web", 5.0),  # not a storage class
    ]
    after = [Demand(d.src, d.dst, d.cls, d.mbps * (3 if d.cls == "file" else 1)) for d in before]
    g = storage_growth(before, after, {"srv"})
    assert g.factor == pytest.approx((3 + 1) / 2)


def test_whatif_growth_counts_class_site_and_bureau_growth() -> None:
    assert whatif_growth(WEIHAI, run_whatif(WEIHAI)).factor == pytest.approx(1.0)
    assert whatif_growth(WEIHAI, run_whatif(WEIHAI, grow=["web=5"])).factor == pytest.approx(1.0)
    assert whatif_growth(WEIHAI, run_whatif(WEIHAI, grow=["file=2"])).factor > 1.5
    assert whatif_growth(WEIHAI, run_whatif(WEIHAI, grow=["finance=3"])).factor > 1.0
    assert whatif_growth(WEIHAI, run_whatif(WEIHAI, bureaus=60)).factor > 1.5


def test_horizon_projects_linearly_when_a_tier_does_not_fill() -> None:
    tiers = {t: {"bytes": 0, "files": 0, "capacity": 1000} for t in ("disk", "optical", "tape")}
    tiers["disk"]["bytes"] = 600
    report = {
        "tiers": tiers,
        "fill_day": {"disk": None, "optical": 5, "tape": None},
        "timeline": [
            {"day": 0, "disk": 100, "optical": 0, "tape": 0},
            {"day": 50, "disk": 600, "optical": 0, "tape": 0},
        ],
    }
    h = horizon(report)
    assert h["disk"]["bytes_per_day"] == 10 and h["disk"]["projected_fill_day"] == 90
    assert h["optical"]["fill_day"] == 5 and h["optical"]["projected_fill_day"] is None
    assert h["tape"]["projected_fill_day"] is None  # no growth: never


def test_storage_report_runs_the_hsm_twice_with_the_growth_applied() -> None:
    calls: list[dict[str, object]] = []

    def fake(p: dict[str, object]) -> dict[str, object]:
        calls.append(p)
        t = {"bytes": 1, "files": 1, "capacity": 10}
        return {"files": 7, "tiers": dict.fromkeys(("disk", "optical", "tape"), t),
                "fill_day": dict.fromkeys(("disk", "optical", "tape")), "timeline": []}  # fmt: skip

    g = storage_growth([Demand("a", "s", "file", 1)], [Demand("a", "s", "file", 2)], {"s"})
    out = storage_report(g, fake, files=100, days=10)
    assert [c["growth"] for c in calls] == [0.003, 0.006]
    assert out["factor"] == 2 and out["growth_per_day"]["whatif"] == 0.006
    with pytest.raises(WhatIfError, match="more than the HSM simulation"):
        storage_report(
            storage_growth([Demand("a", "s", "file", 1)], [Demand("a", "s", "file", 1e4)], {"s"}), fake
        )


def test_cli_storage_json_fills_the_disk_sooner_when_files_grow() -> None:
    def run(grow: str) -> dict[str, Any]:
        p = subprocess.run(
            [*GOVNET, "whatif", "small", "--grow", grow, "--storage", "--storage-files", "2000",
             "--storage-days", "120", "--disk-tb", "0.01", "--json"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)["storage"]  # type: ignore[no-any-return]

    s = run("file=8")
    assert s["factor"] > 5
    base, grown = s["tiers"]["base"]["disk"], s["tiers"]["whatif"]["disk"]
    assert grown["fill_day"] is not None
    assert grown["fill_day"] < (base["fill_day"] or base["projected_fill_day"] or 10**9)
    assert run("oa=1")["factor"] == pytest.approx(1.0)


# plots ----------------------------------------------------------------------------------------
def test_svg_plot_is_valid_sorted_and_highlights_saturated_links(tmp_path: Path) -> None:
    w = run_whatif(SMALL, grow=["file=20"], n1=True)
    out = write_plot(w, tmp_path / "p.svg", top=10)
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg")
    ns = "{http://www.w3.org/2000/svg}"
    titles = [t.text or "" for t in root.iter(f"{ns}title")]
    base = [t for t in titles if "N-1" not in t]
    assert len(base) == 10 and any("N-1 worst" in t for t in titles)
    fills = [r.get("fill") for r in root.iter(f"{ns}rect")]
    assert "#d62728" in fills  # saturated desktop links are red
    assert "core1--core2" in svg(run_whatif(SMALL, fail=["core1--core2"])) and "(failed)" in svg(
        run_whatif(SMALL, fail=["core1--core2"]), top=100
    )


def test_plot_bad_suffix_and_cli(tmp_path: Path) -> None:
    with pytest.raises(WhatIfError, match=r"\.svg or \.png"):
        write_plot(run_whatif(SMALL), tmp_path / "p.pdf")
    f = tmp_path / "n1.svg"
    p = subprocess.run(
        [*GOVNET, "whatif", "small", "--n-1", "--plot", str(f)], capture_output=True, text=True, check=False
    )
    assert p.returncode == 0, p.stderr
    assert f.read_text().startswith("<svg") and f"plot written to {f}" in p.stdout


# the fast paths give the reference answers ----------------------------------------------------
def _reference_max_min(rows: Any, cols: Any, vals: Any, caps: Any, capacity: Any) -> Any:
    """The solver's progressive filling as it was before the fast paths (full incidence every round)."""
    n, nres = caps.shape[0], capacity.shape[0]
    rate = np.zeros(n)
    load = np.bincount(rows, weights=vals * caps[cols], minlength=nres)
    if np.all(load <= capacity + 1e-9):
        return caps.copy()
    active = caps > 1e-9
    level = 0.0
    full = np.zeros(nres, dtype=bool)
    for _ in range(n + nres + 1):
        if not active.any():
            break
        act = active[cols]
        weight = np.bincount(rows[act], weights=vals[act], minlength=nres)
        fixed = np.bincount(rows[~act], weights=vals[~act] * rate[cols[~act]], minlength=nres)
        used = fixed + weight * level
        room = np.full(nres, np.inf)
        grow = (weight > 1e-9) & ~full
        room[grow] = (capacity[grow] - used[grow]) / weight[grow]
        step = max(0.0, min(float(room.min()) if grow.any() else np.inf, float((caps[active] - level).min())))
        level += step
        rate[active] = level
        newly_full = grow & (room <= step + 1e-9)
        full |= newly_full
        hit = np.zeros(n, dtype=bool)
        if newly_full.any():
            hit[cols[newly_full[rows] & act]] = True
        hit |= active & (caps - level <= 1e-9)
        rate[hit & active] = np.minimum(level, caps[hit & active])
        active &= ~hit
    return rate


def test_max_min_reduce_matches_plain_progressive_filling() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        nres, n = int(rng.integers(2, 30)), int(rng.integers(1, 60))
        per = rng.integers(1, 5, n)
        cols = np.repeat(np.arange(n), per)
        rows = rng.integers(0, nres, cols.shape[0])
        vals = rng.choice([1.0, 0.5, 0.25], cols.shape[0])
        caps = rng.choice([0.1, 0.5, 1.0, 2.0, 4.0, 20.0], n) * rng.integers(0, 3, n).astype(np.float64)
        cap = rng.uniform(1, 30, nres)
        fast = max_min(rows, cols, vals, caps, cap)
        slow = max_min(rows, cols, vals, caps, cap, reduce=False)
        np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(
            fast, _reference_max_min(rows, cols, vals, caps, cap), rtol=1e-9, atol=1e-9
        )


@pytest.mark.parametrize(
    ("model", "grow"),
    [("small", {}), ("small", {"file": 20.0}), ("weihai", {"file": 20.0, "approval": 30.0})],
)
def test_fast_n_minus_1_matches_the_full_solve_of_every_failure(model: str, grow: dict[str, float]) -> None:
    from capacity.demands import scale

    net = SMALL if model == "small" else WEIHAI
    sim = Simulator(net, scale(builtin_demands(net), net, grow))
    fast, slow = n_minus_1(sim), n_minus_1(sim, fast=False)
    np.testing.assert_allclose(fast.worst_utilisation, slow.worst_utilisation, rtol=0, atol=1e-9)
    assert fast.worst_failure == slow.worst_failure


def test_parallel_n_minus_1_merges_to_the_serial_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    from capacity.demands import scale

    sim = Simulator(WEIHAI, scale(builtin_demands(WEIHAI), WEIHAI, {"file": 20.0}))
    serial = n_minus_1(sim, workers=1)
    monkeypatch.setattr("capacity.whatif.PARALLEL_MIN", 40)
    forked = n_minus_1(sim, workers=3)
    assert forked.worst_failure == serial.worst_failure
    assert forked.worst_utilisation == serial.worst_utilisation


def test_weihai_n_minus_1_is_under_two_seconds() -> None:
    sim = Simulator(WEIHAI, builtin_demands(WEIHAI))
    assert n_minus_1(sim).seconds < 2.0  # about 0.5 s here; the bound leaves room for a loaded CI


# scale ------------------------------------------------------------------------------------------
def scaled(bureaus: int, desktops: int, ring: int) -> str:
    data = dict(WEIHAI.source)
    data["parameters"] = {**data["parameters"], "bureaus": bureaus, "desktops_per_bureau": desktops,
                          "ring_size": ring}  # fmt: skip
    return yaml.safe_dump(data, sort_keys=False)


def test_parametric_model_reaches_10000_nodes_and_solves() -> None:
    net = load_model_text(scaled(250, 39, 64), "weihai-10k")
    assert len(net.nodes) >= 10_000
    res = Simulator(net, builtin_demands(net)).result(None)
    assert len(res.links) == len(net.links) and not res.unroutable()


# simulator against measured link loads --------------------------------------------------------
def test_compare_links_against_measured_loads() -> None:
    from capacity import compare_links

    res = run_whatif(SMALL, grow=["file=2"]).result
    busy = max(res.links, key=lambda lk: lk.utilisation)
    exact = compare_links(res, {busy.name: busy.load_mbps})
    assert exact.mean_utilisation_error == pytest.approx(0.0) and exact.mean_relative_error == 0
    off = compare_links(res, {busy.name: busy.load_mbps / 1.25})
    assert off.links[0].relative_error == pytest.approx(0.25)
    assert off.mean_utilisation_error == pytest.approx(busy.utilisation * 0.2)
    both = compare_links(res, {busy.name: (busy.load_ab_mbps, busy.load_ba_mbps)})
    assert both.to_dict()["mean_utilisation_error"] == 0
    with pytest.raises(WhatIfError, match="did you mean core1--core2"):
        compare_links(res, {"core1--core9": 1.0})


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--storage", "--storage-files", "0"], "--storage-files 0: must be at least 1"),
        (["--storage", "--storage-days", "3", "--storage-policy", "30/80"], "--storage (HSM simulation)"),
        (["--plot", "/nonexistent/x.svg"], "cannot write"),
        (["--plot", "x.pdf"], ".svg or .png"),
    ],
)
def test_cli_storage_and_plot_bad_inputs(args: list[str], needle: str) -> None:
    p = subprocess.run([*GOVNET, "whatif", "small", *args], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and needle in p.stderr and "Traceback" not in p.stderr


def test_png_without_matplotlib_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(WhatIfError, match="PNG needs matplotlib"):
        write_plot(run_whatif(SMALL), tmp_path / "p.png")
