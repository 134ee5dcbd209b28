"""The durable store of both services: SQLite in WAL mode, one connection behind a lock.

An accepted request is committed (synchronous=FULL) before the reply is sent, so a restart loses
nothing a client was told about. The audit log (every operation, every login attempt, every alert)
lives in the same database, and the per-operation counters it keeps become registry Points.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from apps.clock import Clock
from govnet.metrics import APP, LOGIN, Point, validate

_AUDIT_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, ts REAL NOT NULL, kind TEXT NOT NULL, service TEXT NOT NULL,
    user TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL
);
"""
EVENT_KINDS = ("op", "login", "alert")


class Store:
    """A SQLite database in WAL mode; `tx()` yields a cursor inside one transaction."""

    def __init__(self, path: str | Path, schema: str) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_AUDIT_SCHEMA + schema)

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Cursor]:
        """One transaction (committed on success, rolled back on any exception)."""
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Audit:
    """The audit log and the operation counters of one service."""

    def __init__(self, store: Store, service: str, clock: Clock) -> None:
        self.store = store
        self.service = service
        self.clock = clock
        self._lock = threading.Lock()
        self._logins: dict[str, int] = {}
        self._ops: dict[str, tuple[int, float]] = {}  # op -> (count, total seconds)
        self._reads = (0, 0.0, 0, 0.0)  # file reads: count, modelled seconds, recalls, their seconds

    def record(
        self, cur: sqlite3.Cursor, kind: str, user: str, action: str, target: str = "", **detail: Any
    ) -> None:
        """Append one event inside the caller's transaction."""
        cur.execute(
            "INSERT INTO events (ts, kind, service, user, action, target, detail) VALUES (?,?,?,?,?,?,?)",
            (self.clock.now(), kind, self.service, user, action, target, json.dumps(detail, sort_keys=True)),
        )

    def login(self, cur: sqlite3.Cursor, user: str, result: str, **detail: Any) -> None:
        """A login attempt (result: success, failure or locked) for the login audit."""
        self.record(cur, "login", user, "login", result=result, **detail)
        with self._lock:
            self._logins[result] = self._logins.get(result, 0) + 1

    def operation(self, op: str, seconds: float, status: int) -> None:
        """Count one served request (the `JsonApp.on_op` hook)."""
        with self._lock:
            n, total = self._ops.get(op, (0, 0.0))
            self._ops[op] = (n + 1, total + seconds)

    def storage(self, latency_s: float, recalled: bool) -> None:
        """Count one file read from the file server, with its modelled storage latency."""
        with self._lock:
            n, total, recalls, recall_s = self._reads
            self._reads = (n + 1, total + latency_s, recalls + int(recalled), recall_s + recalled * latency_s)

    def events(self, kind: str = "", since_id: int = 0) -> list[dict[str, Any]]:
        """Events in order, optionally of one kind."""
        with self.store.tx() as cur:
            sql = "SELECT * FROM events WHERE id > ?" + (" AND kind = ?" if kind else "") + " ORDER BY id"
            rows = cur.execute(sql, (since_id, kind) if kind else (since_id,)).fetchall()
        return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]

    def points(self) -> list[Point]:
        """Registry Points: `login` attempts per result, `app` ops and mean latency per operation."""
        ts = int(self.clock.now() * 1e9)
        with self._lock:
            logins = dict(self._logins)
            ops = dict(self._ops)
            reads, read_s, recalls, recall_s = self._reads
        out = [
            Point(LOGIN.name, {"service": self.service, "result": r}, {"attempts": n}, ts)
            for r, n in sorted(logins.items())
        ]
        out += [
            Point(APP.name, {"app": self.service, "op": op}, {"latency_s": total / n, "ops": n}, ts)
            for op, (n, total) in sorted(ops.items())
        ]
        if reads:  # the file server's modelled latency (HSM recalls), apart from the service's own time
            for op, n, total in (("file-read", reads, read_s), ("file-recall", recalls, recall_s)):
                if n:
                    out.append(
                        Point(
                            APP.name, {"app": self.service, "op": op}, {"latency_s": total / n, "ops": n}, ts
                        )
                    )
        return [validate(p) for p in out]
