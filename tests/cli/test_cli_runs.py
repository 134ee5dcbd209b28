"""`govnet lab runs | show | diff | prune` through the real entry point, on fake run directories in a
temporary GOVNET_RUNS: tables, JSON, user errors (exit 2, one line naming the id and the fix, no
traceback), a crashed run, a run without run.json, and what prune must never touch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from govnet.rundir import create_run_dir
from labs.runrecord import begin_run, end_run, write_record

ROOT = Path(__file__).resolve().parents[2]


def govnet(runs: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env["GOVNET_RUNS"] = str(runs)
    env["GOVNET_VAR"] = str(runs.parent / "var")
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def results(ok: bool, measured: float) -> dict[str, object]:
    return {
        "schema_version": 2,
        "ok": ok,
        "scenario": {"name": "smoke"},
        "model": "small",
        "timings_s": {"up_s": 10.0},
        "error": "",
        "total_s": 60.0,
        "metrics": {"checks": {"heal_ms": measured}},
        "parts": {"checks": {"state": "stopped", "ok": ok, "reasons": [] if ok else ["heal took too long"]}},
        "expectations": [{"name": "heal", "expected": "<= 1000 ms", "measured": measured, "ok": ok}],
        "events": [],
    }


def run_dir(base: Path, stamp: str, name: str, ok: bool | None, record: bool = True) -> Path:
    run = create_run_dir(name, base).rename(base / f"{stamp}-{name}")
    if record:
        rec = begin_run(run, {"name": name}, "small")
        if ok is None:  # crashed: left "running" by a process that is gone
            p = subprocess.Popen([sys.executable, "-c", "pass"])
            p.wait()
            write_record(run, {**rec, "pid": p.pid, "pid_start": None})
        else:
            end_run(run, rec, "passed" if ok else "failed", 0 if ok else 1)
    else:
        (run / "run.json").unlink()
    if ok is not None:
        (run / "results.json").write_text(json.dumps(results(ok, 800.0 if ok else 1500.0)))
    return run


@pytest.fixture
def base(tmp_path: Path) -> Path:
    b = tmp_path / "runs"
    b.mkdir()
    run_dir(b, "20260101-100000", "smoke", True)
    run_dir(b, "20260101-110000", "smoke", False)
    run_dir(b, "20260101-120000", "workday", True, record=False)  # an older run: results.json only
    run_dir(b, "20260101-130000", "crash", None)
    (b / "notes").mkdir()
    return b


def one_line_error(r: subprocess.CompletedProcess[str], *words: str) -> None:
    assert r.returncode == 2, r
    assert "Traceback" not in r.stderr and r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("govnet: "), r.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_runs_table_newest_first(base: Path) -> None:
    r = govnet(base, "lab", "runs")
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["id", "scenario", "start", "duration", "verdict", "commit", "host", "size"]
    ids = [ln.split()[0] for ln in lines[1:]]
    assert ids == ["20260101-130000-crash", "20260101-120000-workday", "20260101-110000-smoke",
                   "20260101-100000-smoke"]  # fmt: skip
    words = ("passed", "failed", "crashed", "running", "interrupted", "unknown")
    verdicts = [next(w for w in ln.split() if w in words) for ln in lines[1:]]
    assert verdicts == ["crashed", "passed", "failed", "passed"]
    assert all(ln.endswith("MB") for ln in lines[1:])
    assert "notes" not in r.stdout and "None" not in r.stdout


def test_runs_json_and_limit(base: Path) -> None:
    r = govnet(base, "lab", "runs", "--json", "--limit", "2")
    assert r.returncode == 0, r
    data = json.loads(r.stdout)
    assert [d["id"] for d in data] == ["20260101-130000-crash", "20260101-120000-workday"]
    assert data[1]["source"] == "results" and data[1]["commit"] is None and data[1]["size_bytes"] > 0
    one_line = govnet(base, "lab", "runs", "--limit", "0")
    assert one_line.returncode == 2 and "--limit" in one_line.stderr and "Traceback" not in one_line.stderr


def test_runs_in_an_empty_folder(tmp_path: Path) -> None:
    r = govnet(tmp_path / "none", "lab", "runs")
    assert r.returncode == 0 and "no runs in" in r.stdout


def test_show_latest_prefix_and_crashed(base: Path) -> None:
    r = govnet(base, "lab", "show", "latest")
    assert r.returncode == 0, r
    assert "run 20260101-130000-crash" in r.stdout and "crashed" in r.stdout and "is gone" in r.stdout
    r = govnet(base, "lab", "show", "20260101-11")
    assert r.returncode == 0, r
    for w in ("verdict    failed (exit 1)", "heal took too long", "expectations:", "1500", "FAILED"):
        assert w in r.stdout, w
    assert "None" not in r.stdout and "{" not in r.stdout


def test_show_a_scenario(base: Path) -> None:
    r = govnet(base, "lab", "show", "smoke")
    assert r.returncode == 0, r
    assert r.stdout.startswith("scenario smoke") and "model      small" in r.stdout and "checks" in r.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["show", "nosuch"], ["'nosuch'", "govnet lab runs", "govnet lab list"]),
        (["show", "20260101"], ["'20260101' is ambiguous", "give more of the id"]),
        (["diff", "20260101-10", "2027"], ["no run '2027'", "govnet lab runs"]),
        (["diff", "2026", "latest"], ["'2026' is ambiguous"]),
        (["prune", "--keep", "0"], ["--keep 0", "at least 1"]),
    ],
)
def test_user_errors(base: Path, args: list[str], words: list[str]) -> None:
    one_line_error(govnet(base, "lab", *args), *words)


def test_diff(base: Path) -> None:
    r = govnet(base, "lab", "diff", "20260101-10", "20260101-11")
    assert r.returncode == 0, r
    star = [ln for ln in r.stdout.splitlines() if ln.startswith("*")]
    assert any("verdict" in ln for ln in star) and any("expectation heal" in ln for ln in star)
    assert any("checks.heal_ms" in ln and "+700" in ln for ln in star)
    assert "timings.up_s" not in r.stdout
    assert "timings.up_s" in govnet(base, "lab", "diff", "20260101-10", "20260101-11", "--all").stdout


def test_prune_dry_run_then_prune(base: Path) -> None:
    before = sorted(p.name for p in base.iterdir())
    r = govnet(base, "lab", "prune", "--keep", "2", "--dry-run")
    assert r.returncode == 0, r
    assert (
        "would remove 20260101-110000-smoke" in r.stdout and "would remove 20260101-100000-smoke" in r.stdout
    )
    assert "would free" in r.stdout
    assert sorted(p.name for p in base.iterdir()) == before
    r = govnet(base, "lab", "prune", "--keep", "2")
    assert r.returncode == 0, r
    assert "removed 2 runs" in r.stdout and "freed" in r.stdout
    assert sorted(p.name for p in base.iterdir()) == [
        "20260101-120000-workday",
        "20260101-130000-crash",
        "notes",
    ]


@pytest.mark.parametrize("verb", ["runs", "show", "diff", "prune"])
def test_help_has_an_example(verb: str, tmp_path: Path) -> None:
    r = govnet(tmp_path, "lab", verb, "--help")
    assert r.returncode == 0 and "example" in r.stdout and f"govnet lab {verb}" in r.stdout


@pytest.mark.parametrize(
    ("exc", "verdict", "code"),
    [(KeyboardInterrupt(), "interrupted", 130), (RuntimeError("boom"), "failed", 1)],
)
def test_lab_run_that_raises_ends_its_record(
    exc: BaseException, verdict: str, code: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lab run` interrupted (or failing with an exception) after its record began: the record says so."""
    import labs
    from cli.main import main

    def fake_run_lab(name: str, model: str | None = None, **_kw: object) -> None:
        run = create_run_dir(name, tmp_path)
        begin_run(run, {"name": name}, "small")
        raise exc

    monkeypatch.setattr(labs, "run_lab", fake_run_lab)
    if isinstance(exc, KeyboardInterrupt):
        assert main(["lab", "run", "smoke"]) == 130
    else:
        with pytest.raises(RuntimeError):
            main(["lab", "run", "smoke"])
    (run,) = tmp_path.iterdir()
    rec = json.loads((run / "run.json").read_text())
    assert (rec["verdict"], rec["exit_code"]) == (verdict, code) and rec["end"] is not None


def test_prune_failure_exits_1_naming_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import labs.runs
    from cli.main import main

    b = tmp_path / "runs"
    b.mkdir()
    run_dir(b, "20260101-100000", "smoke", True)
    run_dir(b, "20260101-110000", "smoke", True)
    monkeypatch.setenv("GOVNET_RUNS", str(b))

    def denied(path: object, *_a: object, **_k: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(labs.runs.shutil, "rmtree", denied)
    assert main(["lab", "prune", "--keep", "1"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "20260101-100000-smoke" in err[0] and "sudo govnet lab prune" in err[0]


def test_show_a_scenario_file_and_a_bad_one(base: Path, tmp_path: Path) -> None:
    f = tmp_path / "mine.yaml"
    smoke = (ROOT / "labs" / "scenarios" / "smoke.yaml").read_text()
    f.write_text(smoke.replace("name: smoke", "name: mine"))
    r = govnet(base, "lab", "show", str(f))
    assert r.returncode == 0, r
    assert r.stdout.startswith(f"scenario mine ({f})")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nchecks: [nosuch]\n")
    r = govnet(base, "lab", "show", str(bad))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith(str(bad)) and "checks" in r.stderr
