"""The hash-chained ledger: tamper detection, refused appends, concurrent writers, SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from govnet.errors import AuditError
from ids.audit.ledger import Entry, Ledger

ROOT = Path(__file__).resolve().parents[2]


def _entry(i: int, result: str = "failure") -> Entry:
    return Entry("login", 1_795_327_200.0 + i, f"user{i % 3}", f"10.0.0.{i % 7}", "ssh", result,
                 "failed-password", {"counted": True})  # fmt: skip


def _filled(tmp_path: Path, n: int = 6) -> Path:
    path = tmp_path / "ledger.db"
    with Ledger(path) as led:
        led.append_many(_entry(i) for i in range(n))
    return path


def _sql(path: Path, *statements: str) -> None:
    db = sqlite3.connect(path)
    for s in statements:
        db.execute(s)
    db.commit()
    db.close()


def test_append_and_verify(tmp_path: Path) -> None:
    path = _filled(tmp_path)
    with Ledger(path) as led:
        res = led.verify()
        assert res.ok and res.records == 6
        got = list(led.entries())
        assert [e.id for e in got] == [1, 2, 3, 4, 5, 6]
        assert got[1].prev == got[0].hash
        extra = led.append(_entry(6, "success"))
        assert extra.id == 7 and extra.prev == got[-1].hash
        assert led.verify().ok


@pytest.mark.parametrize(
    ("statements", "bad_id", "word"),
    [
        (["UPDATE records SET user = 'mallory' WHERE id = 3"], 3, "edited"),
        (["UPDATE records SET ts = ts + 1 WHERE id = 4"], 4, "edited"),
        (["UPDATE records SET detail = '{\"counted\": false}' WHERE id = 2"], 2, "edited"),
        (["DELETE FROM records WHERE id = 3"], 3, "missing"),
        # reorder: swap the contents (and hashes) of records 2 and 3
        (
            [
                "UPDATE records SET id = 100 WHERE id = 2",
                "UPDATE records SET id = 2 WHERE id = 3",
                "UPDATE records SET id = 3 WHERE id = 100",
            ],
            2,
            "link",
        ),
        # remove the tail (and forget the head row is there)
        (["DELETE FROM records WHERE id >= 5"], 5, "removed"),
        (["UPDATE records SET detail = 'not json' WHERE id = 5"], 5, "unreadable"),
    ],
)
def test_verify_finds_first_bad_record(tmp_path: Path, statements: list[str], bad_id: int, word: str) -> None:
    path = _filled(tmp_path)
    _sql(path, *statements)
    with Ledger(path) as led:
        res = led.verify()
    assert not res.ok
    assert res.bad_id == bad_id, res
    assert word in res.problem


def test_recomputed_chain_after_edit_is_still_caught_by_later_links(tmp_path: Path) -> None:
    """An attacker who edits record 2 and recomputes its hash breaks record 3's link."""
    from ids.audit.ledger import chain_hash

    path = _filled(tmp_path)
    with Ledger(path) as led:
        e2 = next(e for e in led.entries() if e.id == 2)
    forged = Entry(e2.kind, e2.ts, "mallory", e2.source, e2.service, e2.result, e2.reason, e2.detail)
    h = chain_hash(e2.prev, forged.canonical(2))
    _sql(path, f"UPDATE records SET user = 'mallory', hash = '{h}' WHERE id = 2")
    with Ledger(path) as led:
        res = led.verify()
    assert (res.ok, res.bad_id) == (False, 3)


@pytest.mark.parametrize(
    ("statement", "why"),
    [
        ("UPDATE records SET user = 'x' WHERE id = 6", "edited"),
        ("DELETE FROM records WHERE id = 6", "head row"),
        ("DELETE FROM records WHERE id = 5", "link"),
    ],
)
def test_append_refused_when_tail_is_broken(tmp_path: Path, statement: str, why: str) -> None:
    path = _filled(tmp_path)
    _sql(path, statement)
    with Ledger(path) as led:
        before = led.count()
        with pytest.raises(AuditError, match=f"append refused: record \\d+ .*{why}"):
            led.append(_entry(99))
        assert led.count() == before


@pytest.mark.parametrize(
    "entry",
    [
        Entry("login", float("nan"), "u", "h", "ssh", "failure", "r"),
        Entry("login", 1.0, "u", "h", "ssh", "maybe", "r"),
        Entry("gossip", 1.0, "u", "h", "ssh", "failure", "r"),
        Entry("login", 1.0, "u", "h", "ssh", "failure", "r", {"x": object()}),
    ],
)
def test_bad_records_refused(tmp_path: Path, entry: Entry) -> None:
    with Ledger(tmp_path / "l.db") as led:
        with pytest.raises(AuditError, match="refused record"):
            led.append_many([_entry(1), entry])  # all or nothing
        assert led.count() == 0


def test_not_a_database(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(AuditError, match="not a usable ledger"):
        Ledger(junk)
    with pytest.raises(AuditError, match="no such ledger"):
        Ledger(tmp_path / "missing.db", create=False)


def test_concurrent_writers_serialise(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    Ledger(path).close()
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            with Ledger(path) as led:
                for i in range(25):
                    led.append(_entry(k * 100 + i))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with Ledger(path) as led:
        res = led.verify()
    assert res.ok and res.records == 100


_CHILD = """
import sys
from ids.audit.ledger import Entry, Ledger
led = Ledger(sys.argv[1])
i = 0
while True:
    e = led.append(Entry("login", 1795327200.0 + i, "u", "10.0.0.1", "ssh", "failure", "failed-password"))
    print(e.id, flush=True)
    i += 1
"""


def test_sigkill_loses_no_committed_record(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    reported: list[int] = []
    deadline = time.monotonic() + 20
    while len(reported) < 40 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        reported.append(int(line))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(reported) >= 40
    with Ledger(path) as led:
        ids = {e.id for e in led.entries()}
        res = led.verify()
    assert set(reported) <= ids
    assert res.ok, res
