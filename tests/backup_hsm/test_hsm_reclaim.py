"""Tape reclamation: dead bytes per volume, live records moved in tape order, retirement, crash safety."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hsm_helpers import ROOT, run_and_kill

from backup_hsm import (
    DISK,
    TAPE,
    BackupStore,
    Hsm,
    HsmInputError,
    Scheduler,
    VirtualClock,
    candidates,
    parse_policy,
    reclaim,
)
from backup_hsm.archive import HEAD_SIZE
from backup_hsm.clock import DAY_S
from cli.main import main

KILLS = 12


def _text(name: str, version: int) -> bytes:
    return f"{name} version {version} ".encode() * (20 + sum(map(ord, name)) % 200)


def _record(name: str, data: bytes) -> int:
    return HEAD_SIZE + len(name.encode()) + len(data)


@pytest.fixture
def hsm(tmp_path: Path) -> Hsm:
    store = Hsm.open(tmp_path / "hsm", clock=VirtualClock(1000.0))
    for i in range(8):
        store.put(f"f{i}", _text(f"f{i}", 1))
    for i in range(8):
        store.migrate(f"f{i}", TAPE)  # all on cart-0000, in order f0..f7
    return store


def test_volumes_report_live_and_dead_bytes(hsm: Hsm) -> None:
    [vol] = hsm.catalog.volumes(TAPE)
    written = sum(_record(f"f{i}", _text(f"f{i}", 1)) for i in range(8))
    assert (vol.name, vol.written, vol.live, vol.files) == ("cart-0000.arc", written, written, 8)
    assert candidates(hsm) == []
    for i in (0, 1, 2, 4, 5):  # recalls leave their records behind as dead bytes
        hsm.read(f"f{i}")
    [vol] = hsm.catalog.volumes(TAPE)
    live = sum(_record(f"f{i}", _text(f"f{i}", 1)) for i in (3, 6, 7))
    assert (vol.live, vol.dead, vol.files) == (live, written - live, 3)
    status = hsm.status()
    [v] = status["volumes"]
    assert v["reclaimable"] == written - live and v["candidate"] is (live / written < 0.4)
    assert "reclaimable" in hsm.format_status(status)
    hsm.close()


def test_reclaim_moves_live_records_and_retires_the_volume(hsm: Hsm) -> None:
    for i in range(6):
        hsm.read(f"f{i}")
    hsm.put("f3", b"new version")  # an update: the tape record is dead too
    [vol] = candidates(hsm, 0.4)
    assert vol.name == "cart-0000.arc" and vol.files == 2
    res = reclaim(hsm, 0.4)
    [out] = res.volumes
    assert (out.state, out.files_moved, out.freed) == ("retired", 2, vol.written)
    assert not (hsm.root / "tape" / "cart-0000.arc").exists()
    assert [v.name for v in hsm.catalog.volumes(TAPE)] == ["cart-0001.arc"]
    assert {c.medium for n in ("f6", "f7") for c in hsm.copies(hsm.stat(n).id)} == {"cart-0001.arc"}
    assert hsm.verify() == []
    for i in range(8):
        want = b"new version" if i == 3 else _text(f"f{i}", 1)
        assert hsm.read(f"f{i}")[0] == want
    # modelled time: two robot moves (source, then target) + load, read f6 and f7 in order, unload + put back
    tape = hsm.library.tape
    rec6, rec7 = (_record(n, _text(n, 1)) for n in ("f6", "f7"))
    start6 = sum(_record(f"f{i}", _text(f"f{i}", 1)) for i in range(6))
    expect = (
        2 * tape.robot_move_s
        + tape.load_s
        + tape.locate_s(0, start6)
        + (rec6 + rec7) / tape.throughput_bps
        + tape.unload_s
        + tape.robot_move_s
    )
    assert out.modelled_s == pytest.approx(expect, abs=1e-3) and res.mounts == 2
    assert hsm.catalog.db.execute("SELECT name, files FROM retired").fetchall() == [("cart-0000.arc", 2)]
    hsm.close()


def test_roles_stay_on_their_own_volumes_and_names_are_never_reused(hsm: Hsm) -> None:
    assert hsm.protect("isolated", TAPE) == 8  # cart-isolated-0000
    for i in range(7):
        hsm.put(f"f{i}", _text(f"f{i}", 2))  # new versions: primaries to disk, isolated copies stale
    assert hsm.protect("isolated", TAPE) == 7  # re-copied: cart-isolated-0000 is mostly dead now
    names = {v.name for v in candidates(hsm, 0.4)}
    assert names == {"cart-0000.arc"}  # 1 of 8 live; isolated volume: 8 live of 15
    hsm.put("f7", _text("f7", 2))  # cart-0000 now all dead: retired without a mount
    res = reclaim(hsm, 0.4)
    assert [(v.name, v.state, v.files_moved, v.modelled_s) for v in res.volumes] == [
        ("cart-0000.arc", "retired", 0, 0.0)
    ]
    hsm.migrate("f0", TAPE)
    assert hsm.copies(hsm.stat("f0").id)[0].medium == "cart-0001.arc"  # not cart-0000 again
    for i in range(8):
        hsm.put(f"f{i}", _text(f"f{i}", 3))
    hsm.protect("isolated", TAPE)
    res = reclaim(hsm, 0.6)
    retired = {v.name for v in res.volumes if v.state == "retired"}
    assert "cart-isolated-0000.arc" in retired
    isolated = {c.medium for i in range(8) for c in hsm.copies(hsm.stat(f"f{i}").id) if c.role == "isolated"}
    assert all(m.startswith("cart-isolated-") and m != "cart-isolated-0000.arc" for m in isolated)
    assert hsm.verify() == []
    hsm.close()


def test_damaged_record_is_rewritten_from_another_copy_or_keeps_the_volume(hsm: Hsm) -> None:
    hsm.protect("offsite", DISK)
    for i in range(6):
        hsm.read(f"f{i}")
    for i in (6, 7):
        c = hsm.copies(hsm.stat(f"f{i}").id)[0]
        with open(hsm.root / "tape" / c.medium, "r+b") as f:
            f.seek(c.offset + 5)
            f.write(b"\xff")
    (hsm.root / "disk" / hsm.copies(hsm.stat("f7").id)[1].medium).write_bytes(b"rot")  # f7: no good copy
    [out] = reclaim(hsm, 0.4).volumes
    assert out.state == "failed" and "f7" in out.detail and out.files_moved == 1
    assert hsm.copies(hsm.stat("f6").id)[0].medium == "cart-0001.arc"
    assert (hsm.root / "tape" / "cart-0000.arc").exists()  # kept: f7's only primary record is there
    kinds = [(a[1], a[2]) for a in hsm.catalog.alarms()]
    assert kinds == [("checksum-mismatch", "f6"), ("checksum-mismatch", "f7")]
    assert hsm.read("f6")[0] == _text("f6", 1)
    hsm.close()


def test_budget_stops_between_records_and_the_next_run_finishes(hsm: Hsm) -> None:
    for i in range(5):
        hsm.read(f"f{i}")
    tape = hsm.library.tape
    plan = reclaim(hsm, 0.5, dry_run=True)
    assert [v.state for v in plan.volumes] == ["planned"] and hsm.verify() == []
    assert hsm.catalog.volumes(TAPE)[0].files == 3  # a dry run moves nothing
    start5 = sum(_record(f"f{i}", _text(f"f{i}", 1)) for i in range(5))
    rec5, rec6 = (_record(n, _text(n, 1)) for n in ("f5", "f6"))
    fixed = 2 * tape.robot_move_s + tape.load_s + tape.unload_s + tape.robot_move_s
    budget = fixed + tape.locate_s(0, start5) + (rec5 + rec6 / 2) / tape.throughput_bps  # f5 fits, f6 not
    first = reclaim(hsm, 0.5, budget_s=budget)
    assert [(v.state, v.files_moved) for v in first.volumes] == [("partial", 1)]
    assert first.modelled_s <= budget and hsm.verify() == []
    second = reclaim(hsm, 0.5)
    assert [(v.state, v.files_moved) for v in second.volumes] == [("retired", 2)]
    assert hsm.verify() == [] and all(hsm.read(f"f{i}")[0] == _text(f"f{i}", 1) for i in range(8))
    hsm.close()


def test_expired_files_leave_dead_bytes_to_reclaim(hsm: Hsm) -> None:
    for i in range(7):
        hsm.expire(f"f{i}")
    assert [r.name for r in hsm.catalog.all_files()] == ["f7"]
    [out] = reclaim(hsm).volumes
    assert out.state == "retired" and out.files_moved == 1 and hsm.verify() == []
    with pytest.raises(HsmInputError):
        hsm.stat("f0")
    hsm.close()


def test_scheduler_reclaims_in_its_window(tmp_path: Path) -> None:
    clock = VirtualClock()
    hsm = Hsm.open(tmp_path / "hsm", clock=clock)
    for i in range(8):
        hsm.put(f"f{i}", _text(f"f{i}", 1))
        hsm.migrate(f"f{i}", TAPE)
    store = BackupStore(tmp_path, clock)
    assert sorted(Scheduler(clock, hsm, store, [], parse_policy("20/80")).windows) == [
        "backup",
        "migration",
        "reclamation",
    ]
    sched = Scheduler(clock, hsm, store, [], parse_policy("age:30:60"))  # the first night recalls all
    events = sched.run_days(3)
    kinds = [kind for _, kind, _ in events]
    assert kinds == ["migration", "reclamation"] * 3  # 01:00 and 05:00 each night (no jobs at 22:00)
    recl = [(t, json.loads(what)) for t, kind, what in events if kind == "reclamation"]
    assert [t for t, _ in recl] == [d * DAY_S + 5 * 3600 + DAY_S for d in range(3)]
    assert [r["retired"] for _, r in recl] == [1, 0, 0] and recl[0][1]["modelled_s"] == 0.0
    assert hsm.verify() == []
    hsm.close()
    store.close()


def test_cli_reclaim_and_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "hsm"
    with Hsm.open(root) as hsm:
        for i in range(4):
            hsm.put(f"f{i}", _text(f"f{i}", 1))
            hsm.migrate(f"f{i}", TAPE)
        for i in range(3):
            hsm.read(f"f{i}")
    assert main(["hsm", "status", "--root", str(root), "--json"]) == 0
    [vol] = json.loads(capsys.readouterr().out)["volumes"]
    assert vol["candidate"] and vol["reclaimable"] > 0
    assert main(["hsm", "reclaim", "--root", str(root), "--dry-run"]) == 0
    assert "planned" in capsys.readouterr().out
    assert main(["hsm", "reclaim", "--root", str(root), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["retired"] == 1 and out["volumes"][0]["state"] == "retired"
    assert main(["hsm", "reclaim", "--root", str(root), "--threshold", "140"]) == 2
    assert "threshold" in capsys.readouterr().err


# crash injection ---------------------------------------------------------------------------------
def _worker(root: str, seed: int) -> None:
    """Recall, update, expire-and-recreate and migrate files so tapes go dead, and reclaim, until killed."""
    rng = random.Random(seed)
    clock = VirtualClock(1000.0 + seed * 1e5)
    hsm = Hsm.open(root, clock=clock)
    print("ready", flush=True)
    names = sorted(r.name for r in hsm.catalog.all_files())
    while True:
        step = rng.random()
        name = rng.choice(names)
        if step < 0.35:
            for n in rng.sample(names, 6):
                hsm.migrate(n, TAPE)
        elif step < 0.55:
            hsm.read(name)
        elif step < 0.7:
            hsm.put(name, _text(name, hsm.stat(name).version + 1))
        elif step < 0.75:
            hsm.protect("isolated", TAPE)
        else:
            reclaim(hsm, 0.7)
        clock.advance(30)


def test_kill_9_during_reclamation(tmp_path: Path) -> None:
    root = tmp_path / "hsm"
    names = [f"docs/d{i:02d}" for i in range(16)]
    with Hsm.open(root) as hsm:
        for n in names:
            hsm.put(n, _text(n, 1))
            hsm.migrate(n, TAPE)
    rng = random.Random(7)
    recovered = 0
    for k in range(KILLS):
        run_and_kill(__file__, root, k, rng.uniform(0.05, 0.4))
        with Hsm.open(root) as hsm:
            recovered += len(hsm.recovered)
            assert hsm.verify() == [], f"after kill {k}"
            rows = hsm.catalog.all_files()
            assert sorted(r.name for r in rows) == names  # nothing lost, nothing twice
            for r in rows:
                assert hsm._verified(r) == _text(r.name, r.version)
                roles = [c.role for c in hsm.copies(r.id)]
                assert len(roles) == len(set(roles)) and roles[0] == "primary"
            live_media = {m for (m,) in hsm.catalog.db.execute("SELECT medium FROM copies WHERE tier = 2")}
            on_disk = {p.name for p in (root / "tape").glob("*.arc")}
            assert live_media <= on_disk
            assert on_disk <= {v.name for v in hsm.catalog.volumes(TAPE)}  # no retired volume left behind
    with Hsm.open(root) as hsm:
        retired = hsm.catalog.db.execute("SELECT COUNT(*) FROM retired").fetchone()[0]
    assert retired > 0, "no reclamation ever completed"
    assert recovered > 0, "no kill landed inside a step; the test did not exercise recovery"


def _kill_at(root: str, point: int) -> None:
    """Reclaim, SIGKILLing this process at the `point`-th boundary: inside or after a catalog transaction,
    after an archive append, after an unlink. Exit 0 if reclamation finished before that point."""
    from contextlib import contextmanager

    import backup_hsm.archive as arc
    from backup_hsm.catalog import Catalog

    seen = [0]

    def tick() -> None:
        seen[0] += 1
        if seen[0] == point:
            os.kill(os.getpid(), signal.SIGKILL)

    append, tx, unlink = arc.append, Catalog.tx, Path.unlink

    def appended(*a: object) -> tuple[int, int]:
        out = append(*a)  # type: ignore[arg-type]
        tick()
        return out

    @contextmanager
    def ticking_tx(self: Catalog):  # type: ignore[no-untyped-def]
        with tx(self) as db:
            yield db
            tick()  # killed inside the transaction: it never commits
        tick()

    def unlinked(self: Path, missing_ok: bool = False) -> None:
        unlink(self, missing_ok=missing_ok)
        tick()

    arc.append = appended  # type: ignore[assignment]
    Catalog.tx = ticking_tx  # type: ignore[method-assign]
    Path.unlink = unlinked  # type: ignore[method-assign]
    with Hsm.open(root, clock=VirtualClock(5000.0)) as hsm:
        seen[0] = 0  # count only reclamation's own boundaries
        reclaim(hsm, 0.5)


def test_kill_9_at_every_boundary_of_a_reclamation(tmp_path: Path) -> None:
    template = tmp_path / "template"
    names = [f"t{i:02d}" for i in range(12)]
    with Hsm.open(template, clock=VirtualClock(1000.0)) as hsm:
        for n in names:
            hsm.put(n, _text(n, 1))
            hsm.migrate(n, TAPE)
        hsm.protect("isolated", TAPE)
        for n in names[:8]:
            hsm.read(n)
        for n in names[:3]:
            hsm.put(n, _text(n, 2))
        hsm.protect("isolated", TAPE)
        assert [v.name for v in candidates(hsm, 0.5)] == ["cart-0000.arc"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    point = 0
    while True:
        point += 1
        root = tmp_path / f"run{point}"
        shutil.copytree(template, root)
        rc = subprocess.run(
            [sys.executable, __file__, "--kill-at", str(root), str(point)], env=env
        ).returncode
        with Hsm.open(root) as hsm:
            assert hsm.verify() == [], f"after a kill at point {point}"
            assert sorted(r.name for r in hsm.catalog.all_files()) == names
            assert all(hsm._verified(r) == _text(r.name, r.version) for r in hsm.catalog.all_files())
            reclaim(hsm, 0.5)  # the next night finishes the job
            assert hsm.verify() == [] and candidates(hsm, 0.5) == []
            assert [v.name for v in hsm.catalog.volumes(TAPE)] == ["cart-0001.arc", "cart-isolated-0000.arc"]
            assert not (root / "tape" / "cart-0000.arc").exists()
        if rc == 0:
            break
        assert rc == -signal.SIGKILL, f"point {point}: the worker failed ({rc})"
    assert point > 10, "reclamation had fewer boundaries than expected"


if __name__ == "__main__":
    if sys.argv[1] == "--kill-at":
        _kill_at(sys.argv[2], int(sys.argv[3]))
    else:
        _worker(sys.argv[1], int(sys.argv[2]))
