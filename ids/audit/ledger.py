"""The login ledger: every login attempt and policy decision, append-only, hash-chained, durable.

SQLite in WAL mode with `synchronous=FULL`: `append` returns after the commit is on disk, so a crash
(even SIGKILL or power loss after the fsync) never loses a record the caller was told about.
Each record carries `hash = sha256(prev_hash + "\\n" + canonical(record))`, where the canonical form
is compact, key-sorted JSON of the record *including its id*; the first record's prev is 64 zeros.
A one-row `head` table holds the last id and hash, updated in the same transaction, so removing
records from the end is caught as well as edits, removals and reorderings anywhere.

Writers serialise with `BEGIN IMMEDIATE` (one writer at a time, others wait up to `busy_timeout`).
Before appending, the writer re-checks the stored tail (the last record's own hash, its link to the
record before it, and the head row); if they fail, the append is refused with an AuditError naming
the bad record, and nothing is written until `govnet audit verify` passes again.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from govnet.errors import AuditError
from govnet.secure import private_dir, private_file
from ids.audit.records import LoginEvent

GENESIS = "0" * 64
KINDS = frozenset({"login", "decision", "change"})
RESULTS = frozenset({"success", "failure", "refused", "approved", "applied", ""})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, ts REAL NOT NULL, user TEXT NOT NULL,
    source TEXT NOT NULL, service TEXT NOT NULL, result TEXT NOT NULL, reason TEXT NOT NULL,
    detail TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS head (one INTEGER PRIMARY KEY CHECK (one = 1), last_id INTEGER NOT NULL,
    hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cursors (source TEXT PRIMARY KEY, inode INTEGER NOT NULL,
    offset INTEGER NOT NULL, line INTEGER NOT NULL);
"""
_COLS = "id, kind, ts, user, source, service, result, reason, detail, prev, hash"


@dataclass(frozen=True)
class Entry:
    """One ledger record. `detail` holds extras (server, port, counted, decision fields, ...)."""

    kind: str
    ts: float
    user: str
    source: str
    service: str
    result: str
    reason: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    id: int = 0
    prev: str = ""
    hash: str = ""

    @classmethod
    def login(cls, ev: LoginEvent, *, counted: bool = True) -> Entry:
        """The ledger entry of a parsed login event."""
        detail: dict[str, Any] = {"counted": counted, "server": ev.server, "source_kind": ev.source_kind}
        if ev.port is not None:
            detail["port"] = ev.port
        if ev.invalid_user:
            detail["invalid_user"] = True
        return cls("login", ev.ts, ev.user, ev.host, ev.service, ev.result, ev.reason, detail)

    def _fields(self, record_id: int) -> dict[str, Any]:
        """The hashed fields, as record `record_id`."""
        return {
            "id": record_id,
            "kind": self.kind,
            "ts": self.ts,
            "user": self.user,
            "source": self.source,
            "service": self.service,
            "result": self.result,
            "reason": self.reason,
            "detail": self.detail,
        }

    def canonical(self, record_id: int) -> str:
        body = self._fields(record_id)
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)

    def to_json(self) -> dict[str, Any]:
        return {**self._fields(self.id), "detail": dict(self.detail), "hash": self.hash}


def chain_hash(prev: str, canonical: str) -> str:
    return hashlib.sha256(f"{prev}\n{canonical}".encode()).hexdigest()


@dataclass(frozen=True)
class Cursor:
    """How far a log file has been read: its path, inode, byte offset and the next line number.
    Saved in the same transaction as the records read up to it, so a resumed read neither loses nor
    repeats a line (the cursors are bookkeeping, outside the hash chain)."""

    source: str
    inode: int
    offset: int
    line: int


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of `Ledger.verify`: ok, records checked, and the first bad record with why."""

    ok: bool
    records: int
    head: str
    bad_id: int | None = None
    problem: str = ""

    def line(self, path: str) -> str:
        if self.ok:
            return f"{path}: ok — {self.records} records, chain head {self.head[:16]}"
        return f"{path}: record {self.bad_id}: {self.problem}"


def _check(e: Entry) -> None:
    if e.kind not in KINDS:
        raise AuditError(f"ledger: refused record: kind must be one of {sorted(KINDS)} (got {e.kind!r})")
    if not isinstance(e.ts, float | int) or isinstance(e.ts, bool) or not math.isfinite(e.ts):
        raise AuditError(f"ledger: refused record: ts must be a finite POSIX time (got {e.ts!r})")
    for name in ("user", "source", "service", "result", "reason"):
        if not isinstance(getattr(e, name), str):
            raise AuditError(f"ledger: refused record: {name} must be a string (got {getattr(e, name)!r})")
    if e.result not in RESULTS:
        raise AuditError(
            f"ledger: refused record: result must be one of {sorted(RESULTS)} (got {e.result!r})"
        )
    if not isinstance(e.detail, Mapping):
        raise AuditError(f"ledger: refused record: detail must be a mapping (got {e.detail!r})")


class Ledger:
    """An append-only, hash-chained SQLite ledger (see the module docstring)."""

    def __init__(
        self, path: str | os.PathLike[str], *, create: bool = True, busy_timeout: float = 30.0
    ) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise AuditError(f"{self.path}: no such ledger; create one with 'govnet audit ingest'")
        if not create and self.path.exists() and not self.path.is_file():
            raise AuditError(
                f"{self.path}: not a ledger file (a directory or device); give the ledger's path"
            )
        if create:
            try:
                private_dir(self.path.parent)
                private_file(self.path)  # 0600 before SQLite opens it: its -wal and -shm files get this mode
            except IsADirectoryError:
                raise AuditError(f"{self.path}: is a directory; give a file for the ledger") from None
            except OSError as exc:
                raise AuditError(f"{self.path}: cannot create the ledger ({exc.strerror})") from None
        try:
            self._db = sqlite3.connect(
                str(self.path), timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            tables = _tables(self._db)
            if not create and not tables & {"records", "head"}:
                self._db.close()
                raise AuditError(
                    f"{self.path}: not a govnet ledger (no records or head table); "
                    "give the file 'govnet audit ingest' wrote"
                )
            if create or {"records", "head", "cursors"} <= tables:
                # an existing ledger opened to read is never altered: a dropped table stays dropped,
                # so verify can report it instead of silently recreating it empty
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise AuditError(f"{self.path}: not a usable ledger database ({exc})") from None
        self._busy_timeout = busy_timeout
        self._lock = threading.RLock()  # one Ledger may be shared by threads (follower + app feed)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- writing -------------------------------------------------------------------------------
    def append(self, entry: Entry) -> Entry:
        """Append one record durably; returns it with id, prev and hash."""
        return self.append_many([entry])[0]

    def append_many(self, entries: Iterable[Entry], cursor: Cursor | None = None) -> list[Entry]:
        """Append records in one transaction (all or none), after checking the stored tail; with
        `cursor`, save it in the same transaction."""
        batch = list(entries)
        for e in batch:
            _check(e)
        if not batch and cursor is None:
            return []
        with self._lock:
            return self._append(batch, cursor)

    def _append(self, batch: list[Entry], cursor: Cursor | None) -> list[Entry]:
        cur = self._db.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise AuditError(f"{self.path}: ledger busy or unwritable ({exc})") from None
        try:
            last_id, prev = self._checked_tail(cur)
            out = []
            for e in batch:
                last_id += 1
                try:
                    h = chain_hash(prev, e.canonical(last_id))
                except (TypeError, ValueError) as exc:  # rolled back below: all or nothing
                    raise AuditError(f"ledger: refused record: detail must be plain JSON ({exc})") from None
                cur.execute(
                    f"INSERT INTO records ({_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        last_id,
                        e.kind,
                        float(e.ts),
                        e.user,
                        e.source,
                        e.service,
                        e.result,
                        e.reason,
                        json.dumps(e.detail, sort_keys=True, ensure_ascii=False),
                        prev,
                        h,
                    ),
                )
                out.append(replace(e, ts=float(e.ts), id=last_id, prev=prev, hash=h))
                prev = h
            if batch:
                cur.execute(
                    "INSERT OR REPLACE INTO head (one, last_id, hash) VALUES (1, ?, ?)", (last_id, prev)
                )
            if cursor is not None:
                cur.execute(
                    "INSERT OR REPLACE INTO cursors (source, inode, offset, line) VALUES (?,?,?,?)",
                    (cursor.source, cursor.inode, cursor.offset, cursor.line),
                )
            cur.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                cur.execute("ROLLBACK")
            raise
        return out

    def _checked_tail(self, cur: sqlite3.Cursor) -> tuple[int, str]:
        rows = cur.execute(f"SELECT {_COLS} FROM records ORDER BY id DESC LIMIT 2").fetchall()
        head = cur.execute("SELECT last_id, hash FROM head").fetchone()
        if not rows:
            if head is not None and head[0] != 0:
                raise self._refuse(head[0], "the head says records exist but the table is empty")
            return 0, GENESIS
        last = _entry(rows[0])
        if len(rows) == 2:
            before = _entry(rows[1])
            if before.id != last.id - 1 or last.prev != before.hash:
                raise self._refuse(last.id, "does not link to the record before it")
        elif last.id != 1 or last.prev != GENESIS:
            raise self._refuse(last.id, "the only record is not the first of the chain")
        if chain_hash(last.prev, last.canonical(last.id)) != last.hash:
            raise self._refuse(last.id, "its content does not match its hash (edited)")
        if head is None or tuple(head) != (last.id, last.hash):
            raise self._refuse(last.id, "the head row does not match the last record (records removed?)")
        return last.id, last.hash

    def _refuse(self, bad_id: int, why: str) -> AuditError:
        return AuditError(
            f"{self.path}: append refused: record {bad_id} {why}; the chain is broken, "
            "run 'govnet audit verify' and restore the ledger from a copy"
        )

    def require_intact(self) -> VerifyResult:
        """Verify the whole chain; AuditError naming the first bad record when it is broken."""
        res = self.verify()
        if not res.ok:
            raise AuditError(
                f"{self.path}: append refused: record {res.bad_id}: {res.problem}; "
                "restore the ledger from a copy before adding to it"
            )
        return res

    # --- reading -------------------------------------------------------------------------------
    def entries(self, *, kind: str = "", since: float | None = None) -> Iterator[Entry]:
        sql = f"SELECT {_COLS} FROM records"
        clauses: list[str] = []
        args: list[object] = []
        if kind:
            clauses.append("kind = ?")
            args.append(kind)
        if since is not None:
            clauses.append("ts >= ?")
            args.append(since)
        sql += " WHERE id > ?" + "".join(f" AND {c}" for c in clauses) + " ORDER BY id LIMIT 1000"
        last = 0
        while True:
            with self._lock:  # a page at a time, so a slow reader never holds up writers
                rows = self._db.execute(sql, [last, *args]).fetchall()
            if not rows:
                return
            for row in rows:
                yield _entry(row)
            last = int(rows[-1][0])

    def cursor(self, source: str) -> Cursor | None:
        """The saved read position of a log file (None: never read)."""
        with self._lock:
            row = self._db.execute(
                "SELECT source, inode, offset, line FROM cursors WHERE source = ?", (source,)
            ).fetchone()
        return Cursor(*row) if row else None

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM records").fetchone()[0])

    def verify(self) -> VerifyResult:
        """Walk the whole chain; the first record that is edited, missing, reordered or unlinked.
        Reads one consistent snapshot on its own connection, so appends go on meanwhile."""
        try:
            db = sqlite3.connect(str(self.path), timeout=self._busy_timeout, isolation_level=None)
        except sqlite3.DatabaseError as exc:
            raise AuditError(f"{self.path}: cannot read the ledger ({exc})") from None
        try:
            db.execute("BEGIN")
            return self._verify(db)
        finally:
            db.close()

    def _verify(self, db: sqlite3.Connection) -> VerifyResult:
        prev = GENESIS
        expect = 1
        n = 0
        try:
            tables = _tables(db)
            head_row = db.execute("SELECT last_id, hash FROM head").fetchone() if "head" in tables else None
            if "records" not in tables:
                said = f"; the head says the chain ends at record {head_row[0]}" if head_row else ""
                return VerifyResult(False, 0, prev, 1, f"the records table is missing (dropped?){said}")
            rows = db.execute(f"SELECT {_COLS} FROM records ORDER BY id")
            for row in rows:
                try:
                    e = _entry(row)
                except (TypeError, ValueError, json.JSONDecodeError):
                    return VerifyResult(
                        False,
                        n,
                        prev,
                        int(row[0]) if isinstance(row[0], int) else expect,
                        "unreadable record (detail is not JSON)",
                    )
                if e.id != expect:
                    return VerifyResult(False, n, prev, expect, f"missing (the next record is {e.id})")
                if e.prev != prev:
                    return VerifyResult(
                        False,
                        n,
                        prev,
                        e.id,
                        "does not link to the record before it "
                        "(a record before it was removed, edited or reordered)",
                    )
                if chain_hash(prev, e.canonical(e.id)) != e.hash:
                    return VerifyResult(False, n, prev, e.id, "content does not match its hash (edited)")
                prev = e.hash
                expect += 1
                n += 1
        except sqlite3.DatabaseError as exc:
            raise AuditError(f"{self.path}: cannot read the ledger ({exc})") from None
        problem = _head_problem(n, prev, head_row, "head" in tables)
        if problem:
            bad_id, why = problem
            return VerifyResult(False, n, prev, bad_id, why)
        return VerifyResult(True, n, prev)


def _tables(db: sqlite3.Connection) -> set[str]:
    return {str(r[0]) for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _head_problem(n: int, last_hash: str, head: Any, have_table: bool) -> tuple[int, str] | None:
    """What is wrong between a chain of `n` intact records ending in `last_hash` and the head row
    (None: they agree). Returns the record to name and why."""
    if head is None:
        if n == 0:
            return None  # a new, empty ledger
        what = (
            "the head table is missing (dropped?)" if not have_table else "the head row is missing (deleted?)"
        )
        return n, f"{what}; the chain ends at record {n}"
    last_id, head_hash = int(head[0]), str(head[1])
    if last_id > n:
        if n == 0:
            return (
                1,
                f"no records, but the head says the chain ends at record {last_id} (all records removed?)",
            )
        return (
            n + 1,
            f"missing: the chain ends at record {n} but the head says it ends at record {last_id} "
            "(end records removed?)",
        )
    if last_id < n:
        return (
            last_id + 1,
            f"the head says the chain ends at record {last_id} but records go on to {n} "
            "(records added outside the ledger, or the head was edited)",
        )
    if head_hash != last_hash:
        return (
            n,
            f"the head's hash does not match record {n}, the last record (the head or the record was edited)",
        )
    return None


def _entry(row: tuple[Any, ...]) -> Entry:
    rid, kind, ts, user, source, service, result, reason, detail, prev, h = row
    return Entry(kind, ts, user, source, service, result, reason, json.loads(detail), rid, prev, h)


def open_ledger(path: str | os.PathLike[str], *, create: bool = True) -> Ledger:
    """Open (or create) a ledger; AuditError with one clear line when it cannot be used."""
    return Ledger(path, create=create)


def ingest(ledger: Ledger, events: Iterable[tuple[LoginEvent, bool]], batch: int = 1000) -> int:
    """Append (event, counted) pairs in batches; returns how many records were written."""
    n = 0
    chunk: list[Entry] = []
    for ev, counted in events:
        chunk.append(Entry.login(ev, counted=counted))
        if len(chunk) >= batch:
            n += len(ledger.append_many(chunk))
            chunk = []
    if chunk:
        n += len(ledger.append_many(chunk))
    return n
