"""The real `govnet` entry point on bad input: exit 2, one line per problem, never a traceback.

Only verbs that fail (or finish) before anything touches the emulator are run here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# what the `govnet` script runs (cli.main:main), whatever the venv's path
GOVNET = [sys.executable, "-m", "cli"]
ROOT = Path(__file__).resolve().parents[2]


def govnet(*args: str, cwd: Path | None = None, tmp: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)  # any cwd
    if tmp is not None:  # whatever a verb might write goes to the test's folder, not the checkout
        env["GOVNET_VAR"] = str(tmp / "var")
        env["GOVNET_RUNS"] = str(tmp / "runs")
    return subprocess.run(
        [*GOVNET, *args], capture_output=True, text=True, timeout=60, cwd=cwd, env=env, check=False
    )


BAD_FILES = {
    "syntax": "name: x\nvlans: [\n  - a\n",
    "empty": "",
    "list": "- a\n- b\n",
    "unknown-field": "name: x\nvlan: []\n",
    "unhashable-key": "? [a, b]\n: 1\n",
    "core9": (
        "name: x\nvlans: [{id: 10, name: office, subnet: 10.10.0.0/16, zone: office}]\n"
        "sites:\n  - name: s\n    core: core9\n    gateway: {name: gw}\n    uplink: {bw_mbps: 100}\n"
        "    lans: [{vlan: office, bw_mbps: 10, count: 1}]\n"
    ),
}


@pytest.mark.parametrize("verb", ["check", "show"])
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_model_file(case: str, verb: str, tmp_path: Path) -> None:
    f = tmp_path / f"{case}.yaml"
    f.write_text(BAD_FILES[case])
    r = govnet("topo", verb, str(f), tmp=tmp_path)
    assert r.returncode == 2, r
    assert "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert lines, "no message"
    assert lines[0].startswith(f"{f}"), lines[0]
    assert all(line.startswith(f"{f}") and "; " in line for line in lines), r.stderr
    assert r.stdout == ""


def test_relative_path_is_named_as_given(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("name: x\nvlans: 3\n")
    r = govnet("topo", "check", "mine.yaml", cwd=tmp_path, tmp=tmp_path)
    assert r.returncode == 2
    assert r.stderr.startswith("mine.yaml: vlans: must be a list"), r.stderr


def test_reference_model_checks(tmp_path: Path) -> None:
    r = govnet("topo", "check", tmp=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "valid" in r.stdout
    assert r.stderr == ""


def test_missing_file(tmp_path: Path) -> None:
    r = govnet("topo", "check", "/nonexistent.yaml", tmp=tmp_path)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("/nonexistent.yaml: file not found"), r.stderr


def test_directory_instead_of_file(tmp_path: Path) -> None:
    r = govnet("topo", "check", str(tmp_path), tmp=tmp_path)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith(f"{tmp_path}: is a directory"), r.stderr


HELPS = [["--help"], ["topo", "--help"], ["lab", "--help"], ["topo", "check", "--help"]]


@pytest.mark.parametrize("args", HELPS)
def test_help_exits_zero(args: list[str], tmp_path: Path) -> None:
    r = govnet(*args, tmp=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: govnet")
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(("args", "usage"), [([], "usage: govnet "), (["topo"], "usage: govnet topo")])
def test_no_verb_prints_usage_and_exits_2(args: list[str], usage: str, tmp_path: Path) -> None:
    r = govnet(*args, tmp=tmp_path)
    assert r.returncode == 2
    assert r.stdout.startswith(usage), r.stdout
    assert "Traceback" not in r.stderr


def test_unknown_verb_is_a_usage_error(tmp_path: Path) -> None:
    r = govnet("topo", "explode", tmp=tmp_path)
    assert r.returncode == 2
    assert "invalid choice" in r.stderr
    assert "Traceback" not in r.stderr


def test_unknown_lab_fails_before_the_emulator(tmp_path: Path) -> None:
    r = govnet("lab", "run", "nosuchlab", tmp=tmp_path)
    assert r.returncode == 2, r
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("nosuchlab: no such lab scenario"), r.stderr
    assert "baseline" in r.stderr  # the fix lists the bundled scenarios
    assert not (tmp_path / "runs").exists(), "a run directory was created for a lab that does not exist"


def test_bad_traffic_section_fails_before_the_emulator(tmp_path: Path) -> None:
    lab = tmp_path / "day.yaml"
    lab.write_text(
        "name: day\nmodel: small\nchecks: [reachability]\nids: maybe\n"
        "traffic: {hours: 30, clients: {oa: {users_per_desktop: -2}}, background: {fax: {}}}\n"
        "offsite: {size_mb: -1, speed: 3}\n"
    )
    r = govnet("lab", "run", str(lab), tmp=tmp_path)
    assert r.returncode == 2, r
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    for where in (
        "ids",
        "traffic.hours",
        "traffic.clients.oa.users_per_desktop",
        "traffic.background.fax",
        "offsite.size_mb",
        "offsite.speed",
    ):
        assert any(line.startswith(f"{lab}: {where}:") for line in lines), (where, lines)
    assert not (tmp_path / "runs").exists()


def test_the_govnet_script_is_cli_main() -> None:
    """pyproject's `govnet` script names the function these tests run with `python -m cli`."""
    import importlib
    import tomllib

    from cli.main import main

    target = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["govnet"]
    module, _, func = target.partition(":")
    assert getattr(importlib.import_module(module), func) is main
