"""Run records and run management (labs.runrecord, labs.runs, labs.runtext), offline: fake run
directories written the way a lab run writes them (begin_run / end_run, results.json as labs.report
writes it) in a temporary runs folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from govnet.errors import UsageError
from govnet.rundir import create_run_dir, is_run_name, run_stamp
from govnet.secure import write_atomic
from labs import runs, runtext
from labs.runrecord import (
    begin_run,
    end_current,
    end_run,
    find_seed,
    git_commit,
    pid_alive,
    process_start,
    write_record,
)
from labs.runs import find_run, list_runs, looks_like_run, prune, read_run
from labs.runtext import cell, diff_runs, flatten, show_run

RECORD_FIELDS = {
    "schema_version", "id", "scenario", "model", "seed", "start", "start_epoch", "end", "end_epoch",
    "duration_s", "verdict", "exit_code", "pid", "pid_start", "commit", "dirty", "host", "python", "kernel",
    "govnet", "tools",
}  # fmt: skip


WHY = "office -> dmz did not answer"


@pytest.fixture
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "runs"
    root.mkdir()
    monkeypatch.setenv("GOVNET_RUNS", str(root))
    return root


def results(ok: bool, **extra: Any) -> dict[str, Any]:
    """A results.json body with the fields labs.report writes."""
    return {
        "schema_version": 2,
        "ok": ok,
        "scenario": {"name": "smoke", "traffic": {"seed": 7}},
        "model": "small",
        "timings_s": {"up_s": 10.5, "down_s": 2.0},
        "error": "" if ok else "checks run failed: RuntimeError: boom",
        "checks": None,
        "total_s": 61.0,
        "metrics": {"traffic": {"ops": 100, "failed": 0}, "ids": {"alerts": 0}},
        "parts": {
            "checks": {
                "state": "stopped",
                "ok": ok,
                "reasons": [] if ok else ["office -> dmz did not answer"],
            },
            "monitor": {"state": "stopped", "ok": True, "reasons": []},
        },
        "events": [],
        **extra,
    }


def make_run(
    base: Path,
    name: str = "smoke",
    ok: bool | None = True,
    *,
    record: bool = True,
    res: dict[str, Any] | None = None,
    stamp: str | None = None,
) -> Path:
    """A run directory: create_run_dir + begin_run (+ end_run when ok is not None) + results.json."""
    run = create_run_dir(name, base)
    if stamp is not None:  # a fixed, ordered name instead of now
        target = base / f"{stamp}-{name}"
        run.rename(target)
        run = target
    if record:
        rec = begin_run(run, {"name": name, "traffic": {"seed": 7}}, "small")
        if ok is not None:
            end_run(run, rec, "passed" if ok else "failed", 0 if ok else 1)
    else:
        (run / "run.json").unlink()
    if res is not None or ok is not None:
        (run / "results.json").write_text(json.dumps(res if res is not None else results(bool(ok))))
    (run / "report.md").write_bytes(b"x" * 5000)
    return run


# the record ------------------------------------------------------------------------------------------
def test_begin_and_end_write_every_field(base: Path) -> None:
    run = create_run_dir("smoke", base)
    rec = begin_run(run, {"name": "smoke", "traffic": {"seed": 3}}, "small")
    on_disk = json.loads((run / "run.json").read_text())
    assert set(on_disk) == RECORD_FIELDS
    assert on_disk["verdict"] == "running" and on_disk["end"] is None and on_disk["exit_code"] is None
    assert on_disk["id"] == run.name and on_disk["scenario"] == "smoke" and on_disk["model"] == "small"
    assert on_disk["seed"] == 3 and on_disk["pid"] == os.getpid()
    assert on_disk["start"].endswith("Z") and abs(on_disk["start_epoch"] - time.time()) < 60
    assert read_run(run).verdict == "running"  # this process is alive
    end_run(run, rec, "failed", 1)
    done = json.loads((run / "run.json").read_text())
    assert done["verdict"] == "failed" and done["exit_code"] == 1
    assert done["end_epoch"] >= done["start_epoch"] and done["duration_s"] >= 0
    assert [p.name for p in run.iterdir()] == ["run.json"]  # no temp file left behind
    assert (run / "run.json").stat().st_mode & 0o044 == 0o044  # readable by the user who ran sudo


def test_end_current_marks_an_unfinished_run_once(base: Path) -> None:
    run = create_run_dir("smoke", base)
    begin_run(run, {"name": "smoke"}, "small")
    end_current("interrupted", 130)
    rec = json.loads((run / "run.json").read_text())
    assert (rec["verdict"], rec["exit_code"]) == ("interrupted", 130)
    end_current("failed", 1)  # nothing unfinished any more
    assert json.loads((run / "run.json").read_text())["verdict"] == "interrupted"


def test_the_record_is_replaced_whole_or_not_at_all(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = create_run_dir("smoke", base)
    rec = begin_run(run, {"name": "smoke"}, "small")
    before = (run / "run.json").read_bytes()

    def fail(*_a: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        end_run(run, dict(rec), "passed", 0)
    assert (run / "run.json").read_bytes() == before
    assert sorted(p.name for p in run.iterdir()) == ["run.json"]


def test_write_atomic_keeps_the_mode_it_is_given(tmp_path: Path) -> None:
    p = write_atomic(tmp_path / "f.json", b"{}", mode=0o640)
    assert p.read_bytes() == b"{}"
    assert p.stat().st_mode & 0o777 == 0o640 & ~_umask()


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


def test_commit_of_a_directory_that_is_not_a_checkout(tmp_path: Path) -> None:
    assert git_commit(tmp_path) == ("-", None)


def test_commit_when_git_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert git_commit(Path(__file__).resolve().parents[2]) == ("-", None)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_commit_and_dirty_of_a_checkout(tmp_path: Path) -> None:
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "a").write_text("1")
    subprocess.run([*git, "add", "a"], check=True)
    subprocess.run([*git, "commit", "-qm", "a"], check=True)
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
    assert git_commit(tmp_path) == (head.stdout.strip(), False)
    (tmp_path / "a").write_text("2")
    assert git_commit(tmp_path) == (head.stdout.strip(), True)


@dataclass
class _Cfg:
    seed: int


@dataclass
class _Spec:
    config: _Cfg


def test_find_seed() -> None:
    assert find_seed({"name": "x", "seed": 5, "traffic": {"seed": 1}}) == 5
    assert find_seed({"name": "x", "traffic": {"seed": 1}}) == 1
    assert find_seed({"name": "x", "traffic": _Spec(_Cfg(9))}) == 9
    assert find_seed({"name": "x", "traffic": None, "seed": True}) is None
    assert find_seed(None) is None


def test_a_finished_process_is_not_alive() -> None:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    assert not pid_alive(p.pid, None)
    me = os.getpid()
    assert pid_alive(me, process_start(me))
    assert not pid_alive(me, (process_start(me) or 0) + 1)  # the pid was reused by another process
    assert not pid_alive(None, None) and not pid_alive(-1, None) and not pid_alive(True, None)


# reading runs back -----------------------------------------------------------------------------------
def test_crashed_run_old_runs_and_unknown_ones(base: Path) -> None:
    crashed = make_run(base, "crash", ok=None, stamp="20260101-000004")
    rec = json.loads((crashed / "run.json").read_text())
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    write_record(crashed, {**rec, "pid": p.pid, "pid_start": None})
    legacy = make_run(base, "old", ok=False, record=False, stamp="20260101-000003")
    short = create_run_dir("topo-small", base).rename(base / "20260101-000002-topo-small")
    bare = base / "20260101-000001-bare"
    bare.mkdir()
    (base / "notes").mkdir()  # not a run name: not a run
    listed = list_runs(base)
    assert [r.id for r in listed] == [crashed.name, legacy.name, short.name, bare.name]
    by = {r.id: r for r in listed}
    assert by[crashed.name].verdict == "crashed"
    assert any("is gone" in w for w in runtext.why_lines(by[crashed.name]))
    assert (by[legacy.name].verdict, by[legacy.name].source) == ("failed", "results")
    assert by[legacy.name].scenario == "smoke" and by[legacy.name].duration_s == 61.0
    assert by[legacy.name].seed == 7
    assert (by[short.name].verdict, by[short.name].source, by[short.name].scenario) == (
        "unknown", "old-record", "topo-small",
    )  # fmt: skip
    assert by[short.name].start_epoch is not None
    assert (by[bare.name].verdict, by[bare.name].commit, by[bare.name].host) == ("unknown", "-", "-")
    assert by[bare.name].start_epoch == run_stamp(bare.name)
    assert by[legacy.name].size >= 5000


def test_find_run_by_id_prefix_latest_and_path(base: Path) -> None:
    a = make_run(base, "smoke", stamp="20260101-100000")
    b = make_run(base, "smoke", stamp="20260101-110000")
    listed = list_runs(base)
    assert find_run("latest", listed, base).id == b.name  # type: ignore[union-attr]
    assert find_run(a.name, listed, base).id == a.name  # type: ignore[union-attr]
    assert find_run("20260101-10", listed, base).id == a.name  # type: ignore[union-attr]
    assert find_run(str(a), listed, base).id == a.name  # type: ignore[union-attr]
    assert find_run("2027", listed, base) is None
    with pytest.raises(UsageError, match="ambiguous: 2 runs start with it"):
        find_run("20260101", listed, base)
    with pytest.raises(UsageError, match="not a run directory"):
        find_run(str(base.parent), listed, base)
    with pytest.raises(UsageError, match="no run '2027'"):
        runs.get_run("2027", base)
    with pytest.raises(UsageError, match="no runs in"):
        find_run("latest", [], base)


def test_show_renders_timeline_and_expectations_without_reprs(base: Path) -> None:
    extra = {
        "timeline": [
            {"at": 30, "planned": 30.0, "executed": 30.02, "action": "cut core1-core2", "ok": True},
            {"at": 60, "planned": 60.0, "executed": None, "action": "crash fw-a", "ok": False},
        ],
        "expectations": [
            {"name": "heal", "expected": "<= 1000 ms", "measured": 1500.0, "ok": False},
            {"name": "sessions lost", "expected": {"max": 0}, "measured": 0, "ok": True},
        ],
    }
    run = make_run(base, "smoke", ok=False, res=results(False, **extra))
    text = "\n".join(show_run(read_run(run)))
    for word in ("timeline:", "expectations:", "cut core1-core2", "FAILED", "met", "heal", "1500",
                 "office -> dmz did not answer", "seed 7", "verdict    failed (exit 1)"):  # fmt: skip
        assert word in text, word
    for bad in ("None", "{", "[", "True", "False", "'"):
        assert bad not in text, bad


def test_show_without_timeline_has_no_such_section(base: Path) -> None:
    text = "\n".join(show_run(read_run(make_run(base))))
    assert "timeline:" not in text and "expectations:" not in text and "parts:" in text


def test_diff_shows_what_differs(base: Path) -> None:
    ea = [{"name": "heal", "expected": "<= 1000 ms", "measured": 800.0, "ok": True}]
    eb = [{"name": "heal", "expected": "<= 1000 ms", "measured": 1200.0, "ok": False}]
    ra = results(True, expectations=ea)
    rb = results(False, expectations=eb)
    rb["metrics"]["traffic"]["ops"] = 150
    a = read_run(make_run(base, res=ra, stamp="20260101-100000"))
    b = read_run(make_run(base, ok=False, res=rb, stamp="20260101-110000"))
    lines = diff_runs(a, b)
    text = "\n".join(lines)
    assert a.id in text and b.id in text
    star = [ln for ln in lines if ln.startswith("*")]
    assert any("verdict" in ln and "passed" in ln and "failed" in ln for ln in star)
    assert any("part checks" in ln for ln in star)
    assert any("expectation heal" in ln and "800" in ln and "1200" in ln for ln in star)
    assert any("traffic.ops" in ln and "+50" in ln for ln in star)
    assert "ids.alerts" not in text  # equal figures are left out...
    assert "ids.alerts" in "\n".join(diff_runs(a, b, everything=True))  # ...unless asked for


def test_flatten_keeps_numbers_only() -> None:
    assert flatten({"a": {"b": 1, "c": [2.5, {"d": 3}], "e": True, "f": "x", "g": None}}) == {
        "a.b": 1.0, "a.c.0": 2.5, "a.c.1.d": 3.0,
    }  # fmt: skip


def test_cell_never_shows_python() -> None:
    assert cell(None) == "-" and cell(True) == "yes" and cell({"max": 0}) == "max 0"
    assert cell([1, None]) == "1, -" and cell(0.1 + 0.2) == "0.3" and cell("a\n b") == "a b"


# pruning -------------------------------------------------------------------------------------------
def test_prune_keeps_the_newest_and_never_touches_other_directories(base: Path, tmp_path: Path) -> None:
    olds = [make_run(base, "smoke", stamp=f"20260101-0{i}0000") for i in range(1, 5)]
    running = make_run(base, "live", ok=None, stamp="20260101-000000")  # oldest, but its process runs
    noresult = base / "20250101-000000-mine"  # a run's name, nothing of a run inside
    noresult.mkdir()
    (noresult / "keep.txt").write_text("mine")
    (base / "notes").mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "run.json").write_text("{}")
    (base / "20240101-000000-link").symlink_to(outside)
    assert not looks_like_run(base / "20240101-000000-link") and not looks_like_run(noresult)

    dry = prune(2, dry_run=True, base=base)
    assert [r.id for r in dry.removed] == [olds[1].name, olds[0].name]
    assert all(r.exists() for r in olds)
    assert dry.freed >= 2 * 5000

    done = prune(2, base=base)
    assert [r.id for r in done.removed] == [olds[1].name, olds[0].name]
    assert [r.id for r in done.running] == [running.name]
    assert done.freed == dry.freed
    assert not olds[0].exists() and not olds[1].exists() and olds[2].exists() and olds[3].exists()
    assert running.exists() and (noresult / "keep.txt").exists() and (base / "notes").is_dir()
    assert (outside / "run.json").exists() and (base / "20240101-000000-link").is_symlink()


def test_prune_refuses_to_keep_nothing(base: Path) -> None:
    make_run(base)
    with pytest.raises(UsageError, match="--keep 0"):
        prune(0, base=base)
    assert len(list_runs(base)) == 1


def test_run_names() -> None:
    assert is_run_name("20261203-130000-smoke") and is_run_name("20261203-130000-topo-small-2")
    assert not is_run_name("notes") and not is_run_name("20261203-smoke") and not is_run_name(".x")
    assert run_stamp("19700101-000100-x") == 60.0 and run_stamp("notes") is None


def test_prune_reports_what_it_could_not_remove(base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = make_run(base, stamp="20260101-000000")
    make_run(base, stamp="20260101-010000")

    def denied(path: object, *_a: object, **_k: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(runs.shutil, "rmtree", denied)
    done = prune(1, base=base)
    assert done.removed == [] and [(r.id, why) for r, why in done.failed] == [(old.name, "Permission denied")]
    assert old.exists()


def test_a_scenario_timeline_in_words() -> None:
    assert runtext._words({"at": 30, "action": "cut", "link": "core1-core2"}, ("at", "action", "part")) == (
        "at 30 s: cut link core1-core2"
    )
    assert runtext._words({"name": "heal", "max_ms": 1000, "flow": None}, ("name",)) == "heal: max_ms 1000"
    assert runtext._words("plain", ("name",)) == "plain"
