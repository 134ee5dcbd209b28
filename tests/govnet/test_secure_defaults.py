"""Secure defaults (issue 15): state files are private from the moment they exist, reads never make a
store, and unusable paths are one clear line with exit 2 that leaves nothing behind."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from backup_hsm import BackupStore, Hsm, Job, VirtualClock
from cli import hsm as cli_hsm
from cli.main import main
from govnet import signals
from govnet.events import EventLog
from govnet.secure import private_dir, private_file, write_private
from ids.audit import Ledger
from ids.hids.integrity import Baseline


@pytest.fixture(autouse=True)
def default_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the usual default: without care every new file is world-readable
    try:
        yield
    finally:
        os.umask(old)


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_helpers_create_private(tmp_path: Path) -> None:
    d = private_dir(tmp_path / "a" / "b")
    assert mode(d) == mode(tmp_path / "a") == 0o700
    f = write_private(d / "x", b"secret")
    assert mode(f) == 0o600 and f.read_bytes() == b"secret" and os.listdir(d) == ["x"]
    assert mode(private_file(d / "y")) == 0o600


def test_state_files_are_private_at_creation(tmp_path: Path) -> None:
    with Ledger(tmp_path / "audit" / "l.db") as led:
        led.count()
        files = [p for p in (tmp_path / "audit").iterdir()]
        assert {p.name for p in files} >= {"l.db"} and all(mode(p) == 0o600 for p in files)  # -wal, -shm too
    with EventLog(tmp_path / "eve.json") as ev:
        ev.write({"event_type": "alert"})
    assert mode(tmp_path / "eve.json") == 0o600
    with Hsm.open(tmp_path / "hsm") as hsm:
        hsm.put("docs/a.txt", b"x" * 1000)
        hsm.catalog.db.execute("SELECT 1")
    for p in (tmp_path / "hsm").rglob("*"):
        assert mode(p) == (0o700 if p.is_dir() else 0o600), p
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("hello")
    store = BackupStore(tmp_path / "bk", VirtualClock())
    store.run(Job("docs", "files", src))
    store.close()
    for p in (tmp_path / "bk" / "backup").rglob("*"):
        assert mode(p) == (0o700 if p.is_dir() else 0o600), p
    Baseline([str(src)], {}, 0.0).save(tmp_path / "hids" / "base.json")
    assert mode(tmp_path / "hids" / "base.json") == 0o600 and mode(tmp_path / "hids") == 0o700


def test_reads_never_make_a_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = tmp_path / "x"
    rc, _, err = run(capsys, "hsm", "status", "--root", str(x))
    assert rc == 2 and "no HSM store here" in err and not x.exists()
    rc, _, err = run(capsys, "hsm", "reclaim", "--root", str(x), "--dry-run")
    assert rc == 2 and "no HSM store here" in err and not x.exists()


def test_unusable_hsm_roots_and_catalogs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "file"
    f.write_text("not a store")
    for argv in (["hsm", "status", "--root", str(f)], ["hsm", "drill", "--root", str(f)]):
        rc, _, err = run(capsys, *argv)
        assert rc == 2 and "not a directory" in err and "Traceback" not in err, argv
    assert f.read_text() == "not a store"
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "catalog.sqlite").write_bytes(b"\x00garbage" * 100)
    rc, _, err = run(capsys, "hsm", "status", "--root", str(bad))
    assert rc == 2 and "not a usable HSM catalog" in err


def test_hids_baseline_into_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "d"
    target.mkdir()
    rc, _, err = run(capsys, "ids", "hids", "baseline", "--paths", str(tmp_path), "--db", str(target))
    assert rc == 2 and "is a directory" in err and len(err.splitlines()) == 1
    assert sorted(os.listdir(tmp_path)) == ["d"] and os.listdir(target) == []  # no d.tmp left behind


def test_interrupted_offline_command_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(_args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(signals, "_TORN_DOWN", [])
    monkeypatch.setattr(cli_hsm, "cmd_hsm_status", interrupted)
    rc, _, err = run(capsys, "hsm", "status")
    assert rc == 130 and "nothing was running that needed tearing down" in err and "torn down:" not in err
    signals.note_torn_down("emulation of small")
    rc, _, err = run(capsys, "hsm", "status")
    assert rc == 130 and "torn down: emulation of small" in err


def test_ledger_in_an_unusable_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "audit", "ingest", "--kind", "sshd", __file__, "--ledger", str(tmp_path))
    assert rc == 2 and "is a directory" in err and os.listdir(tmp_path) == []


def test_overlapping_private_umask_from_threads_restores_the_umask() -> None:
    """Two threads in private_umask at once (A enters, B enters, A leaves, B leaves) must not leave
    the process at 077: files made later by other code would silently be private."""
    import os
    import threading

    from govnet.secure import private_umask

    before = os.umask(0o022)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a() -> None:
        with private_umask():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b() -> None:
        a_in.wait(5)
        with private_umask():
            b_in.set()
            a_out.wait(5)
            assert os.umask(os.umask(0o077)) == 0o077  # still private while B is inside

    ts = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(10)
    try:
        assert os.umask(0o022) == 0o022
    finally:
        os.umask(before)
