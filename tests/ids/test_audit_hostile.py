"""Hostile and careless input to the login audit (issue 15): tampered ledgers, state across runs,
impossible dates, bad options. Each case gives one clear line and the documented exit code."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from cli.main import main
from ids.audit import Auditor, Ledger, LoginEvent, Policy
from ids.audit.logline import SyslogYear, split_prefix

DATA = Path(__file__).resolve().parents[1] / "data" / "audit"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def ledger(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    led = str(tmp_path / "l.db")
    rc, _, _ = run(capsys, "audit", "ingest", "--kind", "sshd", str(DATA / "sshd-8.log"), "--ledger", led)
    assert rc == 0
    with Ledger(led, create=False) as lg:
        assert lg.count() == 18
    return led


TAMPER = [
    ("DELETE FROM records", "record 1: no records, but the head says the chain ends at record 18"),
    ("DROP TABLE records", "record 1: the records table is missing (dropped?); the head says"),
    ("DELETE FROM head", "record 18: the head row is missing (deleted?); the chain ends at record 18"),
    ("DROP TABLE head", "record 18: the head table is missing (dropped?)"),
    ("UPDATE head SET hash = 'ab'", "record 18: the head's hash does not match record 18"),
    ("UPDATE head SET last_id = 21", "record 19: missing: the chain ends at record 18 but the head says"),
    ("DELETE FROM records WHERE id > 5", "record 6: missing: the chain ends at record 5"),
    (
        "UPDATE head SET last_id = 10",
        "record 11: the head says the chain ends at record 10 but records go on",
    ),
]


@pytest.mark.parametrize(("sql", "needle"), TAMPER)
def test_verify_catches_head_and_records_disagreeing(
    sql: str, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    led = ledger(tmp_path, capsys)
    db = sqlite3.connect(led)
    db.execute(sql)
    db.commit()
    db.close()
    rc, out, err = run(capsys, "audit", "verify", "--ledger", led)
    assert rc == 1 and out == "" and needle in err and len(err.splitlines()) == 1
    assert "the no head" not in err and "head says record" not in err  # the old garbled wordings
    # verify reads, never repairs: a dropped table is still dropped afterwards (the evidence stays)
    tables = {r[0] for r in sqlite3.connect(led).execute("SELECT name FROM sqlite_master")}
    assert ("records" in tables) == ("DROP TABLE records" not in sql)
    rc, _, err = run(capsys, "audit", "ingest", "--kind", "sshd", str(DATA / "sshd-9.log"), "--ledger", led)
    assert rc == 2 and "refused" in err  # nothing is appended to a broken chain


def test_verify_new_empty_ledger_is_ok_but_other_files_are_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Ledger(tmp_path / "new.db").close()
    rc, out, _ = run(capsys, "audit", "verify", "--ledger", str(tmp_path / "new.db"))
    assert rc == 0 and "ok — 0 records" in out
    (tmp_path / "empty.db").write_bytes(b"")
    other = sqlite3.connect(tmp_path / "other.db")
    other.execute("CREATE TABLE t (x)")
    other.close()
    for name in ("empty.db", "other.db"):
        rc, _, err = run(capsys, "audit", "verify", "--ledger", str(tmp_path / name))
        assert rc == 2 and "not a govnet ledger" in err and len(err.splitlines()) == 1
    assert (tmp_path / "empty.db").read_bytes() == b""  # not turned into a ledger
    rc, _, err = run(capsys, "audit", "verify", "--ledger", str(tmp_path))
    assert rc == 2 and "not a ledger file" in err


ROUNDS = ("00:00", "01:00", "02:30", "05:00", "10:00", "19:00")  # each after the lock before it ends


def offender_log(path: Path) -> None:
    """Five failed passwords for 'bob' per round, each round after the previous lock ended: each round
    is one offence, and each repeat within a day doubles the lock (30 min, 1 h, 2 h, ... 16 h)."""
    lines = []
    for r, hm in enumerate(ROUNDS):
        for i in range(5):
            pid = 5000 + 10 * r + i
            lines.append(
                f"Nov 22 {hm}:{10 * i:02d} fw-a sshd[{pid}]: Failed password for bob "
                f"from 198.51.100.{r + 1} port {40000 + pid} ssh2"
            )
    path.write_text("\n".join(lines) + "\n")


def locks(out: str) -> list[str]:
    return [line.split("until")[1].split()[1] for line in out.splitlines() if "lock_account" in line]


def test_policy_state_survives_between_ingest_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole, part = tmp_path / "whole.log", tmp_path / "part.log"
    offender_log(whole)
    rc, out, _ = run(
        capsys,
        "audit",
        "ingest",
        "--kind",
        "sshd",
        str(whole),
        "--ledger",
        str(tmp_path / "a.db"),
        "--year",
        "2026",
    )
    one_run = locks(out)
    assert rc == 0 and len(one_run) == 6
    lines = whole.read_text().splitlines(keepends=True)
    part.write_text("".join(lines[:15]))
    rc, out1, _ = run(
        capsys,
        "audit",
        "ingest",
        "--kind",
        "sshd",
        str(part),
        "--ledger",
        str(tmp_path / "b.db"),
        "--year",
        "2026",
    )
    with part.open("a") as fh:
        fh.write("".join(lines[15:]))
    rc2, out2, _ = run(
        capsys,
        "audit",
        "ingest",
        "--kind",
        "sshd",
        str(part),
        "--ledger",
        str(tmp_path / "b.db"),
        "--year",
        "2026",
    )
    assert rc == rc2 == 0 and "policy state restored from 15 earlier attempts" in out2
    assert locks(out1) + locks(out2) == one_run  # the same locks, the repeats doubled as in one run
    assert "repeat offence 6" in out2


def test_restore_replays_without_enforcing_again(tmp_path: Path) -> None:
    applied: list[object] = []

    class Hook:
        def apply(self, d: object) -> None:
            applied.append(d)

    with Ledger(tmp_path / "l.db") as lg:
        a = Auditor(Policy(), ledger=lg)
        for i in range(5):
            a.feed(LoginEvent(0, 1000.0 + i, "bob", "198.51.100.1", "failure", "failed-password", "ssh"))
        a.flush()
        b = Auditor(Policy(), ledger=lg, hooks=[Hook()])
        assert b.restore(lg) == 5 and applied == []
        assert b.engine.locked("bob", 1001.0)


def test_feb_29_guessed_year_is_a_leap_year_and_bad_dates_are_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "auth.log"
    log.write_text(
        "Feb 29 10:00:00 fw-a sshd[1]: Failed password for bob from 198.51.100.1 port 1 ssh2\n"
        "Feb 30 10:00:00 fw-a sshd[2]: Failed password for bob from 198.51.100.1 port 2 ssh2\n"
    )
    mtime = 1_795_305_600.0  # 2026-11-22: not a leap year; the Feb 29 line is from 2024
    os.utime(log, (mtime, mtime))
    years = SyslogYear(mtime=mtime)
    p = split_prefix("Feb 29 10:00:00 fw-a sshd[1]: x", years)
    assert p is not None and p.ts == 1_709_200_800.0  # 2024-02-29T10:00:00Z
    rc, out, _ = run(capsys, "audit", "parse", "--kind", "sshd", str(log))
    assert rc == 0 and "1 login events" in out
    assert "1 line(s) skipped: impossible date (first: 'Feb 30 10:00:00')" in out
    rc, out, _ = run(capsys, "audit", "parse", "--kind", "sshd", str(log), "--year", "2026")
    assert "0 login events" in out and "2 line(s) skipped" in out and "--year" in out
    rc, out, _ = run(
        capsys, "audit", "ingest", "--kind", "sshd", str(log), "--ledger", str(tmp_path / "l.db")
    )
    assert rc == 0 and "1 line(s) skipped: impossible date" in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["ids", "scan", "--never-block", "10.0.0.0/99", "CAP"], "--never-block 10.0.0.0/99: not an address"),
        (["audit", "ingest", "--kind", "sshd", "LOG", "--ledger", "L", "--events", "DIR"], "is a directory"),
        (
            ["audit", "ingest", "--kind", "sshd", "LOG", "--ledger", "L", "--events", "/proc/none/e.json"],
            "cannot open the event file",
        ),
    ],
)
def test_bad_options_are_one_line_exit_2(
    argv: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cap = tmp_path / "c.pcap"
    cap.write_bytes(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
    subst = {
        "CAP": str(cap),
        "LOG": str(DATA / "sshd-8.log"),
        "L": str(tmp_path / "l.db"),
        "DIR": str(tmp_path),
    }
    rc, _, err = run(capsys, *[subst.get(a, a) for a in argv])
    assert rc == 2 and needle in err and len(err.splitlines()) == 1
    assert not (tmp_path / "l.db").exists()  # refused before anything was written
