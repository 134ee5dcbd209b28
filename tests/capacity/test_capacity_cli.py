"""`govnet whatif`: the --json contract, --n-1 fields, and bad inputs (exit 2, one line, no traceback)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# what the `govnet` script runs (cli.main:main), whatever the venv's path
GOVNET = [sys.executable, "-m", "cli"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GOVNET, "whatif", *args], capture_output=True, text=True, timeout=60)


def test_json_contract_with_n_1() -> None:
    p = _run("small", "--n-1", "--json", "--grow", "file=20")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["links"] and isinstance(out["saturated"], list)
    for lk in out["links"]:
        assert {"name", "a", "b", "capacity_mbps", "load_mbps", "utilisation"} <= set(lk)
        assert {"worst_utilisation", "worst_failure"} <= set(lk)
        assert lk["worst_utilisation"] >= lk["utilisation"] - 1e-9
    ring = {lk["name"]: lk for lk in out["links"]}["core1--core2"]
    assert ring["worst_failure"] and ring["worst_utilisation"] > ring["utilisation"]
    assert out["saturated"], "file x20 fills the 10 Mbit/s desktop links"
    sat = out["saturated"][0]
    loads = [d["load_mbps"] for d in sat["demands"]]
    assert loads == sorted(loads, reverse=True)
    assert sat["upgrade"]["kind"] in {"rate", "member"} and sat["upgrade"]["text"]


def test_failure_reports_unroutable_demands() -> None:
    p = _run("small", "--fail", "bureau-finance--dist2", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["failures"] == ["bureau-finance--dist2"]
    assert any("bureau-finance-pc1" in (u["src"], u["dst"]) for u in out["unroutable"])
    assert {lk["name"]: lk for lk in out["links"]}["bureau-finance--dist2"]["load_mbps"] == 0


def test_table_output() -> None:
    p = _run("small", "--grow", "file=20")
    assert p.returncode == 0, p.stderr
    assert "top 15 links by utilisation" in p.stdout and "cheapest fix:" in p.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--fail", "core1--core9"], "did you mean core1--core2"),
        (["--fail", "fw-inner--core1#3"], "did you mean fw-inner--core1#2"),
        (["--grow", "aproval=2"], "did you mean approval"),
        (["--grow", "fnance=2"], "did you mean finance"),
        (["--grow", "file=lots"], "factor must be a number"),
        (["--grow", "file"], "CLASS_OR_SITE=FACTOR"),
        (["--add-bureaus", "-1"], "must be >= 0"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(args: list[str], needle: str) -> None:
    p = _run(*args)
    assert p.returncode == 2
    assert needle in p.stderr
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_bad_demand_files(tmp_path: Path) -> None:
    bad_class = tmp_path / "d.json"
    bad_class.write_text(json.dumps([{"src": "srv-oa", "dst": "noc1", "class": "vioce", "mbps": 1}]))
    p = _run("small", "--demands", str(bad_class))
    assert p.returncode == 2 and "did you mean voice" in p.stderr and "Traceback" not in p.stderr
    bad_node = tmp_path / "n.json"
    bad_node.write_text(json.dumps([{"src": "srv-ao", "dst": "noc1", "class": "oa", "mbps": 1}]))
    p = _run("small", "--demands", str(bad_node))
    assert p.returncode == 2 and "did you mean srv-oa" in p.stderr
    broken = tmp_path / "b.json"
    broken.write_text("[{")
    p = _run("small", "--demands", str(broken))
    assert p.returncode == 2 and "invalid JSON" in p.stderr and "Traceback" not in p.stderr


def test_demand_file_is_used(tmp_path: Path) -> None:
    f = tmp_path / "d.json"
    f.write_text(json.dumps([{"src": "srv-oa", "dst": "bureau-finance-pc1", "class": "file", "mbps": 7}]))
    out = json.loads(_run("small", "--demands", str(f), "--json").stdout)
    assert {lk["name"]: lk for lk in out["links"]}["bureau-finance--dist2"]["load_mbps"] == pytest.approx(7)


def test_add_bureaus_grows_the_model() -> None:
    out = json.loads(_run("small", "--add-bureaus", "2", "--json").stdout)
    names = {lk["name"] for lk in out["links"]}
    assert any("bureau-b05" in n for n in names)
