"""The catalog: SQLite in WAL mode, durable commits (synchronous=FULL), built for 10 million entries.

Each file row holds its size, checksum, tier, version, access history (last access, count) and heat
as (value, time of last update) plus the derived time-invariant key and bucket (see heat.py). The
covering index on (heat_bucket, tier, size) is the policy's byte histogram: one index-only scan, no sort.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backup_hsm.archive import HEAD_SIZE
from backup_hsm.errors import HsmInputError
from backup_hsm.heat import IntArray, bucket_of, key_of, touch, value_of
from backup_hsm.placement import Rows

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, size INTEGER NOT NULL, checksum TEXT NOT NULL,
  tier INTEGER NOT NULL, version INTEGER NOT NULL DEFAULT 1, created REAL NOT NULL,
  last_access REAL NOT NULL, accesses INTEGER NOT NULL DEFAULT 0,
  heat_v REAL NOT NULL, heat_t REAL NOT NULL, heat_key REAL NOT NULL, heat_bucket INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS versions (
  file_id INTEGER NOT NULL, version INTEGER NOT NULL, size INTEGER NOT NULL, checksum TEXT NOT NULL,
  time REAL NOT NULL, PRIMARY KEY (file_id, version));
CREATE TABLE IF NOT EXISTS copies (
  file_id INTEGER NOT NULL, role TEXT NOT NULL, tier INTEGER NOT NULL, medium TEXT NOT NULL,
  offset INTEGER NOT NULL, length INTEGER NOT NULL, checksum TEXT NOT NULL, PRIMARY KEY (file_id, role));
CREATE TABLE IF NOT EXISTS media (name TEXT PRIMARY KEY, tier INTEGER NOT NULL, end INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS journal (
  id INTEGER PRIMARY KEY, op TEXT NOT NULL, file_id INTEGER NOT NULL, state TEXT NOT NULL,
  src_medium TEXT, dst_tier INTEGER, dst_medium TEXT, dst_offset INTEGER, time REAL NOT NULL);
CREATE TABLE IF NOT EXISTS alarms (
  id INTEGER PRIMARY KEY, time REAL NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS retired (
  name TEXT PRIMARY KEY, tier INTEGER NOT NULL, time REAL NOT NULL, written INTEGER NOT NULL,
  files INTEGER NOT NULL, reason TEXT NOT NULL);
"""
INDEXES = """
CREATE INDEX IF NOT EXISTS files_heat ON files (heat_bucket, tier, size);
"""


@dataclass(frozen=True)
class FileRow:
    """One catalog entry."""

    id: int
    name: str
    size: int
    checksum: str
    tier: int
    version: int
    last_access: float
    accesses: int
    heat_key: float


@dataclass(frozen=True)
class Volume:
    """One archive medium (disc or cartridge): bytes written, bytes its live records hold."""

    name: str
    tier: int
    written: int
    live: int
    files: int

    @property
    def dead(self) -> int:
        """Bytes of superseded records (recalled, updated, expired): what reclamation frees."""
        return self.written - self.live

    @property
    def live_fraction(self) -> float:
        """Live bytes / written bytes (1.0 for an empty medium)."""
        return self.live / self.written if self.written else 1.0


class Catalog:
    """The HSM catalog over one SQLite file."""

    def __init__(self, path: Path, half_life_s: float, durable: bool = True) -> None:
        self.path = path
        self.half_life_s = half_life_s
        try:
            self.db = sqlite3.connect(str(path), isolation_level=None, timeout=30.0)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(f"PRAGMA synchronous={'FULL' if durable else 'OFF'}")
            self.db.executescript(SCHEMA + INDEXES)
        except sqlite3.DatabaseError as exc:
            raise HsmInputError(
                str(path),
                "catalog",
                f"not a usable HSM catalog ({exc})",
                str(path),
                "restore the catalog from a copy, or give the --root of an intact store",
            ) from None

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One atomic, durable transaction."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # files ----------------------------------------------------------------------------------------
    _COLS = "id, name, size, checksum, tier, version, last_access, accesses, heat_key"

    def get(self, name: str) -> FileRow | None:
        """The entry of a file by name."""
        row = self.db.execute(f"SELECT {self._COLS} FROM files WHERE name = ?", (name,)).fetchone()
        return FileRow(*row) if row else None

    def get_id(self, file_id: int) -> FileRow | None:
        """The entry of a file by id."""
        row = self.db.execute(f"SELECT {self._COLS} FROM files WHERE id = ?", (file_id,)).fetchone()
        return FileRow(*row) if row else None

    def all_files(self) -> list[FileRow]:
        """Every entry (small catalogs: status, verification)."""
        return [FileRow(*r) for r in self.db.execute(f"SELECT {self._COLS} FROM files ORDER BY id")]

    def heat_columns(self, now: float, key: float) -> dict[str, float | int]:
        """The heat columns for a key at `now`."""
        v, t = value_of(key, now, self.half_life_s)
        return {"heat_v": v, "heat_t": t, "heat_key": key, "heat_bucket": bucket_of(key)}

    def record_access(self, file_id: int, now: float) -> None:
        """One read at `now`: bump the access history and the heat."""
        row = self.db.execute("SELECT heat_key FROM files WHERE id = ?", (file_id,)).fetchone()
        key = touch(row[0], now, self.half_life_s)
        cols = self.heat_columns(now, key)
        self.db.execute(
            "UPDATE files SET last_access = :now, accesses = accesses + 1, heat_v = :heat_v, "
            "heat_t = :heat_t, heat_key = :heat_key, heat_bucket = :heat_bucket WHERE id = :id",
            {**cols, "now": now, "id": file_id},
        )

    def bulk_insert(self, rows: Iterable[tuple[int, str, int, str, int, float, float, float]]) -> None:
        """Load (id, name, size, checksum, tier, created, last_access, heat value at created) rows fast."""
        h = self.half_life_s

        def expand() -> Iterator[tuple[object, ...]]:
            for fid, name, size, checksum, tier, created, last, value in rows:
                k = key_of(value, created, h)
                yield fid, name, size, checksum, tier, created, last, value, created, k, bucket_of(k)

        self.db.execute("BEGIN")
        self.db.executemany(
            "INSERT INTO files (id, name, size, checksum, tier, created, last_access, heat_v, heat_t, "
            "heat_key, heat_bucket) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            expand(),
        )
        self.db.execute("COMMIT")

    def tier_bytes(self) -> dict[int, tuple[int, int]]:
        """tier -> (files, bytes), from the histogram index."""
        out = {t: (0, 0) for t in range(3)}
        for tier, n, b in self.db.execute(
            "SELECT tier, COUNT(*), COALESCE(SUM(size), 0) FROM files WHERE tier >= 0 GROUP BY tier"
        ):
            out[int(tier)] = (int(n), int(b))
        return out

    # policy source --------------------------------------------------------------------------------
    def histogram(self) -> tuple[IntArray, IntArray, IntArray]:
        """(bucket, tier, bytes) per non-empty pair: an index-only scan of files_heat."""
        rows = self.db.execute(
            "SELECT heat_bucket, tier, SUM(size) FROM files INDEXED BY files_heat GROUP BY heat_bucket, tier"
        ).fetchall()
        arr = np.array(rows, dtype=np.int64).reshape(-1, 3)
        return arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy()

    def bucket_rows(self, bucket: int) -> Rows:
        """All rows of one heat bucket."""
        rows = self.db.execute(
            "SELECT heat_key, id, size, tier, last_access FROM files WHERE heat_bucket = ?", (bucket,)
        ).fetchall()
        return _rows(rows)

    def rows(self, where: str = "1", params: tuple[object, ...] = ()) -> Rows:
        """Rows matching a condition (small catalogs, the age policy)."""
        return _rows(
            self.db.execute(
                f"SELECT heat_key, id, size, tier, last_access FROM files WHERE {where}", params
            ).fetchall()
        )

    # media ----------------------------------------------------------------------------------------
    def volumes(self, tier: int | None = None) -> list[Volume]:
        """Every archive medium with its live bytes (records of current copies, headers included)."""
        rows = self.db.execute(
            "SELECT m.name, m.tier, m.end, COALESCE(SUM(c.length + ? + LENGTH(CAST(f.name AS BLOB))), 0), "
            "COUNT(c.file_id) FROM media m LEFT JOIN copies c ON c.tier = m.tier AND c.medium = m.name "
            "LEFT JOIN files f ON f.id = c.file_id WHERE ? IS NULL OR m.tier = ? "
            "GROUP BY m.name ORDER BY m.name",
            (HEAD_SIZE, tier, tier),
        ).fetchall()
        return [Volume(str(n), int(t), int(e), int(live), int(k)) for n, t, e, live, k in rows]

    # alarms ---------------------------------------------------------------------------------------
    def alarm(self, now: float, kind: str, name: str, detail: str) -> None:
        """Record an alarm (durably)."""
        with self.tx() as db:
            db.execute(
                "INSERT INTO alarms (time, kind, name, detail) VALUES (?,?,?,?)", (now, kind, name, detail)
            )

    def alarms(self) -> list[tuple[float, str, str, str]]:
        """Every alarm, oldest first."""
        return [tuple(r) for r in self.db.execute("SELECT time, kind, name, detail FROM alarms ORDER BY id")]


def _rows(rows: list[tuple[float, int, int, int, float]]) -> Rows:
    if not rows:
        z = np.zeros(0)
        zi = np.zeros(0, dtype=np.int64)
        return Rows(z, zi, zi.copy(), zi.copy(), z.copy())
    keys, ids, sizes, tiers, last = zip(*rows, strict=True)
    return Rows(
        np.array(keys, dtype=np.float64),
        np.array(ids, dtype=np.int64),
        np.array(sizes, dtype=np.int64),
        np.array(tiers, dtype=np.int64),
        np.array(last, dtype=np.float64),
    )
