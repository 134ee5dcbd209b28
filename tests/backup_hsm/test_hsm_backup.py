"""Backup jobs, three copies, retention, scheduler windows and the four restore drills."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import pytest

from backup_hsm import (
    BackupStore,
    Hsm,
    HsmInputError,
    Job,
    Scheduler,
    VirtualClock,
    Window,
    parse_policy,
    run_drills,
)
from backup_hsm.backup import RETENTION, SITES
from backup_hsm.clock import DAY_S
from backup_hsm.drills import make_sample, tree_digest
from cli.main import main


def test_drills_pass_and_are_timed(tmp_path: Path) -> None:
    results = run_drills(tmp_path)
    assert [r.name for r in results] == ["file", "database", "mailbox", "system"]
    assert all(r.ok for r in results), [r.line() for r in results]
    assert all(r.modelled_s > 29 for r in results)  # from tape: robot move + load at least
    assert "isolated" in results[0].detail


def test_drill_detects_a_wrong_restore(tmp_path: Path) -> None:
    clock = VirtualClock()
    jobs = make_sample(tmp_path / "src")
    store = BackupStore(tmp_path, clock)
    store.run(jobs["srv-oa"])
    (jobs["srv-oa"].source / "etc" / "hostname").write_text("changed after the backup\n")
    store.restore("srv-oa", tmp_path / "out")
    assert tree_digest(tmp_path / "out") != tree_digest(jobs["srv-oa"].source)
    store.close()


def test_incremental_chain_restores_changes_and_deletions(tmp_path: Path) -> None:
    clock = VirtualClock()
    src = tmp_path / "src"
    src.mkdir()
    for i in range(5):
        (src / f"f{i}").write_text(f"v1 {i}")
    store = BackupStore(tmp_path, clock)
    job = Job("d", "files", src)
    assert store.run(job).mode == "full"
    clock.advance(DAY_S)
    (src / "f1").write_text("v2")
    (src / "f3").unlink()
    incr = store.run(job)
    assert incr.mode == "incr"
    with tarfile.open(tmp_path / "backup" / "online" / "d" / f"{incr.id:06d}-incr.tar") as tar:
        assert tar.getnames() == ["f1"]
    store.restore("d", tmp_path / "out")
    assert tree_digest(tmp_path / "out") == tree_digest(src)
    for site in SITES:
        assert len(list((tmp_path / "backup" / site / "d").glob("*.tar"))) == 2
    store.close()


def test_damaged_archive_is_read_from_the_next_site(tmp_path: Path) -> None:
    jobs = make_sample(tmp_path / "src")
    store = BackupStore(tmp_path, VirtualClock())
    store.run(jobs["mail"])
    online = next((tmp_path / "backup" / "online" / "mail").glob("*.tar"))
    online.write_bytes(online.read_bytes()[:-10] + b"0123456789")
    sites, _ = store.restore("mail", tmp_path / "out", prefer=SITES)
    assert sites == ["isolated"] and [a[1] for a in store.alarms()] == ["checksum-mismatch"]
    digest = hashlib.sha256((tmp_path / "out" / "mailbox.mbox").read_bytes()).hexdigest()
    assert digest == hashlib.sha256(jobs["mail"].source.read_bytes()).hexdigest()
    store.close()


def test_retention_keeps_the_newest_full_chains(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    store = BackupStore(tmp_path, VirtualClock())
    job = Job("d", "files", src)
    for i in range(10):
        (src / "f").write_text(str(i))
        store.run(job, "full")
    for site, keep in RETENTION.items():
        assert len(list((tmp_path / "backup" / site / "d").glob("*.tar"))) == keep
    store.close()


def test_scheduler_windows(tmp_path: Path) -> None:
    clock = VirtualClock()
    jobs = make_sample(tmp_path / "src")
    hsm = Hsm.open(tmp_path / "hsm", clock=clock)
    for i in range(10):
        hsm.put(f"doc{i}", b"x" * (100 * (i + 1)))
    store = BackupStore(tmp_path, clock)
    bw, mw = Window(22.0, 3.0), Window(1.0, 4.0)
    sched = Scheduler(clock, hsm, store, [jobs["docs"], jobs["oa-db"]], parse_policy("20/80+30/70"), bw, mw)
    events = sched.run_days(8)
    assert all(sched.windows[kind].contains(t) for t, kind, _ in events)
    assert not Window(22.0, 3.0).contains(12 * 3600.0) and Window(22.0, 3.0).contains(DAY_S + 1800.0)
    docs = [what.split()[1] for _, kind, what in events if kind == "backup" and what.startswith("docs")]
    assert docs == ["full"] + ["incr"] * 6 + ["full"]
    assert sum(1 for _, kind, _ in events if kind == "migration") == 8
    assert sum(1 for _, kind, _ in events if kind == "reclamation") == 8  # 05:00, after the migration
    assert hsm.catalog.tier_bytes()[2][0] > 0 and hsm.verify() == []
    assert clock.now() > 8 * DAY_S
    hsm.close()
    store.close()


def test_missing_directory_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(HsmInputError) as err:
        BackupStore(tmp_path, VirtualClock()).run(Job("x", "files", tmp_path / "nope"))
    assert "source" in str(err.value) and "nope" in str(err.value) and err.value.exit_code == 2
    (tmp_path / "file").write_text("")
    assert main(["hsm", "status", "--root", str(tmp_path / "file")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_cli_drill_and_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hsm", "drill", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS") == 4
    assert main(["hsm", "status", "--root", str(tmp_path / "hsm"), "--json"]) == 2  # the drill made no HSM
    assert "no HSM store here" in capsys.readouterr().err and not (tmp_path / "hsm").exists()
    Hsm.open(tmp_path / "hsm").close()
    assert main(["hsm", "status", "--root", str(tmp_path / "hsm"), "--json"]) == 0
