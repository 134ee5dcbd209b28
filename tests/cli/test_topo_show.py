"""`govnet topo show --nodes [--role KIND]` and `--draw OUT [--fail A--B]`: the table, the picture,
and one line with exit 2 for every mistake (bad --fail, extension, path, misplaced option)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main
from topology import load_model

ROOT = Path(__file__).resolve().parents[2]


def test_nodes_table_lists_every_node(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topo", "show", "small", "--nodes"]) == 0
    out = capsys.readouterr().out
    firsts = [line.split()[0] for line in out.splitlines()[2:] if line and not line[0].isspace()]
    assert sorted(firsts) == sorted(n.name for n in load_model("small").nodes)
    assert out.splitlines()[0].startswith("name ") and "links (Mbit/s to peer)" in out


def test_nodes_role_filter(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topo", "show", "--nodes", "--role", "core"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines()[2:] if line and not line[0].isspace()]
    assert [r.split()[:2] for r in rows] == [[f"core{i}", "core"] for i in range(1, 5)]


def test_default_summary_is_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topo", "show", "small"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("model small: 28 nodes, 32 links\n") and "VLANs:" in out


def test_draw_writes_the_picture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "small.svg"
    assert main(["topo", "show", "small", "--draw", str(out), "--fail", "core2--core1"]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"wrote {out} (SVG, model small, failed: core2--core1)")
    assert 'id="failed-core1--core2"' in out.read_text()


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--draw", "{tmp}/x.svg", "--fail", "core1--core9"], "--fail core1--core9: no link of that name"),
        (["--draw", "{tmp}/x.svg", "--fail", "core1--core2x"], "did you mean core1--core2"),
        (["--draw", "{tmp}/x.jpeg"], "unknown picture format .jpeg; give a file name ending in .svg or .png"),
        (["--draw", "{tmp}/no/such/x.png"], "does not exist"),
        (["--draw", "{tmp}"], "is a directory"),
        (["--nodes", "--role", "toaster"], "--role toaster: no node of that kind in model small; use one of"),
        (["--role", "core"], "--role core: filters the node table; add --nodes"),
        (["--fail", "core1--core2"], "--fail core1--core2: marks a link in the picture; add --draw"),
    ],
)
def test_mistakes_exit_2_with_one_line(
    args: list[str], expect: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["topo", "show", "small", *(a.replace("{tmp}", str(tmp_path)) for a in args)]
    assert main(argv) == 2
    err = capsys.readouterr()
    lines = err.err.splitlines()
    assert len(lines) == 1 and expect in lines[0], err.err
    assert lines[0].startswith("govnet: ") and err.out == ""
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_real_entry_point_gives_no_traceback(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "topo",
            "show",
            "small",
            "--draw",
            str(tmp_path / "x.svg"),
            "--fail",
            "a--b",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.splitlines()) == 1 and "--fail a--b" in r.stderr
    assert "--json | jq -r '.links[].name'" in r.stderr  # says how to find the link names
