"""Fuzz the ledger's verification: tamper with an intact ledger in ways chosen by the input and check
that verify never crashes and never calls a changed chain intact."""

from __future__ import annotations

import shutil
import sqlite3

import atheris

with atheris.instrument_imports():
    from fuzz.common import _SCRATCH, expected, main
    from ids.audit.ledger import Entry, Ledger
    from ids.audit.records import LoginEvent

SEEDS = ["@bytes"]
_GOOD = _SCRATCH / "good.db"
with Ledger(_GOOD) as _led:
    for _i in range(8):
        _ev = LoginEvent(0, 1000.0 + _i, f"user{_i % 3}", "198.51.100.7", "failure", "failed-password", "ssh")
        _led.append(Entry.login(_ev))
_COLUMNS = ("kind", "ts", "user", "source", "service", "result", "reason", "detail", "prev", "hash")
_HASHED = {"kind", "ts", "user", "source", "service", "result", "reason", "detail"}


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    db = _SCRATCH / "t.db"
    shutil.copyfile(_GOOD, db)
    for suffix in ("-wal", "-shm"):
        (_SCRATCH / f"t.db{suffix}").unlink(missing_ok=True)
    con = sqlite3.connect(db)
    changed = False
    for _ in range(fdp.ConsumeIntInRange(0, 3)):
        action = fdp.ConsumeIntInRange(0, 3)
        rid = fdp.ConsumeIntInRange(0, 9)
        if action == 0:
            col = _COLUMNS[fdp.ConsumeIntInRange(0, len(_COLUMNS) - 1)]
            value: object = fdp.ConsumeUnicodeNoSurrogates(40) if fdp.ConsumeBool() else fdp.ConsumeInt(4)
            cur = con.execute(
                f"UPDATE records SET {col} = ? WHERE id = ? AND {col} IS NOT ?", (value, rid, value)
            )
            changed |= cur.rowcount > 0
        elif action == 1:
            changed |= con.execute("DELETE FROM records WHERE id = ?", (rid,)).rowcount > 0
        elif action == 2:
            changed |= con.execute("UPDATE head SET last_id = ? WHERE last_id != ?", (rid, rid)).rowcount > 0
        else:
            changed |= con.execute("DELETE FROM head").rowcount > 0
    con.commit()
    con.close()

    def verify() -> None:
        with Ledger(db, create=False) as led:
            res = led.verify()
        if changed:
            assert not res.ok, "a changed ledger verified as intact"
        else:
            assert res.ok and res.records == 8

    expected(verify)


if __name__ == "__main__":
    main(TestOneInput)
