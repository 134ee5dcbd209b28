"""Sweeps of many what-ifs: spec parsing, the local process pool, and a real Dask LocalCluster."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from capacity.sweep import Spec, load_sweep, parse_specs, run_spec, run_sweep
from govnet.errors import WhatIfError
from topology import dump_model_yaml, load_model

# what the `govnet` script runs (cli.main:main), whatever the venv's path
GOVNET = [sys.executable, "-m", "cli"]
SMALL = load_model("small")
SPECS: list[dict[str, Any]] = [
    {"name": "base"},
    {"name": "files-x20", "grow": {"file": 20}},
    {"name": "ring-cut", "fail": ["core1--core2"], "grow": ["file=3"], "n_1": True},
    {"name": "typo", "fail": "core1--core9"},
    {"name": "more", "add_bureaus": 2},
]


def _check_rows(rows: list[dict[str, Any]]) -> None:
    assert [r["name"] for r in rows] == [s["name"] for s in SPECS]
    by = {r["name"]: r for r in rows}
    assert by["base"]["error"] is None and by["base"]["saturated"] == 0
    assert by["files-x20"]["saturated"] and by["files-x20"]["utilisation"] == pytest.approx(1.0, abs=0.02)
    assert by["ring-cut"]["n_1_worst_link"] and by["ring-cut"]["n_1_worst_failure"]
    assert "did you mean core1--core2" in str(by["typo"]["error"])
    assert by["more"]["nodes"] > len(SMALL.nodes)


def test_specs_parse_and_bad_specs_name_the_fix() -> None:
    specs = parse_specs(SPECS)
    assert specs[1] == Spec("files-x20", grow=("file=20",))
    assert specs[3].fail == ("core1--core9",)
    assert parse_specs([{}, {}])[1].name == "whatif-2"
    with pytest.raises(WhatIfError, match="did you mean grow"):
        parse_specs([{"grwo": ["file=2"]}])
    with pytest.raises(WhatIfError, match="add_bureaus: must be an integer"):
        parse_specs([{"add_bureaus": "many"}])
    with pytest.raises(WhatIfError, match="used twice"):
        parse_specs([{"name": "a"}, {"name": "a"}])
    with pytest.raises(WhatIfError, match="non-empty list"):
        parse_specs({"whatifs": []})


def test_sweep_files_yaml_and_json(tmp_path: Path) -> None:
    y = tmp_path / "s.yaml"
    y.write_text("- {name: a, grow: [file=2]}\n- {name: b, fail: core1--core2}\n")
    assert [s.name for s in load_sweep(y)] == ["a", "b"]
    j = tmp_path / "s.json"
    j.write_text(json.dumps({"whatifs": [{"name": "c", "n_1": True}]}))
    assert load_sweep(j)[0].n_1
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {name: a\n")
    with pytest.raises(WhatIfError, match="invalid YAML"):
        load_sweep(bad)


def test_one_row_matches_a_single_whatif() -> None:
    from capacity import run_whatif

    row = run_spec(dump_model_yaml(SMALL), "small", None, Spec("x", grow=("file=20",)))
    w = run_whatif(SMALL, None, ["file=20"])
    worst = max(w.result.links, key=lambda lk: lk.utilisation)
    assert row["worst_link"] == worst.name
    assert row["utilisation"] == round(worst.utilisation, 4)
    assert row["saturated"] == len(w.result.saturated())


def test_local_process_pool_gives_the_serial_answer() -> None:
    specs = parse_specs(SPECS)
    serial = run_sweep(SMALL, specs, workers=1)
    pooled = run_sweep(SMALL, specs, workers=2)
    assert "process pool (2 workers)" in pooled.engine
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in pooled.rows]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in serial.rows]
    _check_rows(pooled.rows)
    assert len(pooled.failed) == 1


def test_dask_local_cluster_runs_the_sweep() -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=None
    ) as cluster:
        sweep = run_sweep(SMALL, parse_specs(SPECS), cluster=cluster.scheduler_address)
    assert sweep.engine.startswith("dask cluster tcp://") and "2 workers" in sweep.engine
    _check_rows(sweep.rows)


def test_cluster_without_dask_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(WhatIfError, match=r"pip install 'govnet\[cluster\]'"):
        run_sweep(SMALL, parse_specs(SPECS[:1]), cluster="tcp://127.0.0.1:8786")


def test_unreachable_scheduler_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("distributed")
    monkeypatch.setattr("capacity.sweep.CONNECT_TIMEOUT_S", 1.0)
    with pytest.raises(WhatIfError, match="cannot reach a Dask scheduler"):
        run_sweep(SMALL, parse_specs(SPECS[:1]), cluster="tcp://127.0.0.1:9")


def test_cli_sweep_json_and_exit_code(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("- {name: a, grow: {file: 20}}\n- {name: b, fail: [core1--core2]}\n")
    p = subprocess.run(
        [*GOVNET, "whatif", "small", "--sweep", str(f), "--workers", "2", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert [r["name"] for r in out["whatifs"]] == ["a", "b"] and out["failed"] == 0
    for r in out["whatifs"]:
        assert {"name", "worst_link", "utilisation", "saturated", "unroutable", "error"} <= set(r)
    f.write_text("- {name: a, fail: [core1--core9]}\n")
    p = subprocess.run([*GOVNET, "whatif", "small", "--sweep", str(f)], capture_output=True, text=True)
    assert p.returncode == 1 and "did you mean core1--core2" in p.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--sweep", "x.yaml", "--grow", "file=2"], "leave out --grow"),
        (["--workers", "2"], "run a --sweep FILE"),
        (["--sweep", "/nonexistent/s.yaml"], "sweep file not found"),
    ],
)
def test_cli_sweep_bad_inputs(args: list[str], needle: str) -> None:
    p = subprocess.run([*GOVNET, "whatif", "small", *args], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and needle in p.stderr and "Traceback" not in p.stderr
