"""The HSM store: real bytes under <root>/{disk,optical,tape}/, catalog, journaled migrations, recall.

Every move is a journaled step: journal (copying) -> copy -> verify checksum -> commit catalog
(committed) -> delete source -> journal row removed. `Hsm.open` replays the journal, so a crash at any
point (kill -9) leaves each file in exactly one place, and the catalog matching the bytes. Disk copies
are one file each; optical discs and tape cartridges are append-only archive files (archive.py).
Time is modelled: reads and recalls return the device model's latency; the clock is passed in.

Layers, bottom up: `store_media` (paths, placement, durable writes), `store_journal` (the journaled
step, recovery), `store_integrity` (verified reads, protection copies, verify); `Hsm` adds the public
API (put, read, recall, migrate, apply a policy, expire, status).
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

from backup_hsm.catalog import Catalog, FileRow
from backup_hsm.clock import VirtualClock
from backup_hsm.devices import DISK, OPTICAL, TAPE, TIER_NAMES, Library, OpticalDrives, Request, TapeDrives
from backup_hsm.errors import HsmInputError
from backup_hsm.heat import DEFAULT_HALF_LIFE_S, bucket_of, key_of
from backup_hsm.placement import Policy
from backup_hsm.store_integrity import StoreIntegrity
from backup_hsm.store_media import PRIMARY, Copy, _medium_no, sha256
from govnet.paths import var_dir
from govnet.secure import private_dir, private_file

# a volume whose live fraction is below this is reclaimed (Spectrum Protect's RECLAIM=60: 60 % dead)
RECLAIM_BELOW = 0.4

__all__ = ["PRIMARY", "RECLAIM_BELOW", "Copy", "Hsm", "default_root", "sha256"]


def default_root() -> Path:
    """The store directory: var/hsm (GOVNET_VAR overrides var)."""
    return var_dir() / "hsm"


class Hsm(StoreIntegrity):
    """A tiered store; open with Hsm.open(root), close (or use as a context manager)."""

    def __init__(
        self, root: Path, clock: VirtualClock, library: Library, half_life_s: float, create: bool = True
    ) -> None:
        self.root = root
        self.clock = clock
        self.library = library
        if create:
            for tier in TIER_NAMES:
                private_dir(root / tier)  # 0700: the archives and the catalog are nobody else's
            private_file(root / "catalog.sqlite")
        self.catalog = Catalog(root / "catalog.sqlite", half_life_s)
        self.tape = TapeDrives(library.tape)
        self.optical = OpticalDrives(library.optical)
        self.recovered: list[str] = []

    @classmethod
    def open(
        cls,
        root: Path | str | None = None,
        clock: VirtualClock | None = None,
        library: Library | None = None,
        half_life_s: float = DEFAULT_HALF_LIFE_S,
        recover: bool = True,
        create: bool = True,
    ) -> Hsm:
        """Open (or create) a store and recover whatever a crash left half done.

        `recover=False` only looks (e.g. `govnet hsm status` beside a running service that owns the
        store): recovery must run only in the one process that writes. `create=False` refuses a path
        that holds no store instead of making one there (a read never writes a store)."""
        path = Path(root) if root else default_root()
        if path.exists() and not path.is_dir():
            raise HsmInputError(
                str(path),
                "root",
                "the store path is not a directory",
                str(path),
                "give a directory (it is created if missing)",
            )
        if not create and not (path / "catalog.sqlite").is_file():
            raise HsmInputError(
                str(path),
                "root",
                "no HSM store here (no catalog.sqlite)",
                str(path),
                "give the --root of an existing store (the default is var/hsm); nothing was created",
            )
        hsm = cls(path, clock or VirtualClock(), library or Library(), half_life_s, create)
        if recover:
            hsm.recover()
        return hsm

    def close(self) -> None:
        """Close the catalog."""
        self.catalog.close()

    def __enter__(self) -> Hsm:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # public API -----------------------------------------------------------------------------------
    def put(self, name: str, data: bytes) -> FileRow:
        """Store a file (a new version if the name exists) on disk, and record it as an access."""
        now = self.clock.now()
        old = self.catalog.get(name)
        digest = sha256(data)
        if old is None:
            k = key_of(1.0, now, self.catalog.half_life_s)
            with self.catalog.tx() as c:  # tier -1: not yet stored; recover() drops such rows
                fid = c.execute(
                    "INSERT INTO files (name, size, checksum, tier, version, created, last_access, accesses, "
                    "heat_v, heat_t, heat_key, heat_bucket) VALUES (?, ?, ?, -1, 1, ?, ?, 1, 1.0, ?, ?, ?)",
                    (name, len(data), digest, now, now, now, k, bucket_of(k)),
                ).lastrowid
                c.execute("INSERT INTO versions VALUES (?, 1, ?, ?, ?)", (fid, len(data), digest, now))
            row = self.catalog.get_id(int(fid or 0))
            assert row is not None
            try:
                self._move(row, data, DISK, new_file=True)
            except BaseException:
                with self.catalog.tx() as c:
                    c.execute("DELETE FROM files WHERE id = ? AND tier = -1", (row.id,))
                    c.execute("DELETE FROM versions WHERE file_id = ?", (row.id,))
                raise
        else:
            row = FileRow(
                old.id, name, len(data), digest, old.tier, old.version + 1, now, old.accesses, old.heat_key
            )
            self._move(row, data, DISK, new_version=True)
            with self.catalog.tx():
                self.catalog.record_access(old.id, now)
        got = self.catalog.get_id(row.id)
        assert got is not None
        return got

    def expire(self, name: str) -> None:
        """Delete a file and all its copies (retention ended): archive records become dead space."""
        row = self.stat(name)
        copies = self.copies(row.id)
        with self.catalog.tx() as c:
            for table, col in (("files", "id"), ("versions", "file_id"), ("copies", "file_id")):
                c.execute(f"DELETE FROM {table} WHERE {col} = ?", (row.id,))
        for cp in copies:  # a kill before these unlinks leaves stray disk files; recover() removes them
            self._drop(cp)

    def stat(self, name: str) -> FileRow:
        """The catalog entry of a file."""
        row = self.catalog.get(name)
        if row is None:
            raise HsmInputError(
                str(self.root),
                "name",
                "no such file in the HSM catalog",
                name,
                "check the name with `govnet hsm status`",
            )
        return row

    def read(self, name: str) -> tuple[bytes, float]:
        """Read a file: record the access (heat), recall it to disk if needed; (bytes, modelled latency s)."""
        row = self.stat(name)
        now = self.clock.now()
        latency = self.recall([name])[name] if row.tier != DISK else self.library.disk.read_s(row.size)
        with self.catalog.tx():
            self.catalog.record_access(row.id, now)
        data = self._verified(self.stat(name))
        return data, latency

    def recall(self, names: list[str]) -> dict[str, float]:
        """Bring files to disk as one batch, served in tape order; modelled latency of each."""
        now = self.clock.now()
        rows = [self.stat(n) for n in names]
        lat: dict[str, float] = {}
        for tier, drives in ((TAPE, self.tape), (OPTICAL, self.optical)):
            todo = [(r, p) for r in rows if r.tier == tier for p in self.copies(r.id)[:1]]
            reqs = [Request(now, _medium_no(p.medium), p.offset, p.length) for _, p in todo]
            done = drives.serve(reqs, now)
            order = sorted(range(len(todo)), key=lambda i: (reqs[i].medium, reqs[i].offset))
            for i in order:
                row = todo[i][0]
                self._move(row, self._verified(row), DISK)
                lat[row.name] = done[i] - now
        for r in rows:
            lat.setdefault(r.name, self.library.disk.read_s(r.size))
        return lat

    def migrate(self, name: str, tier: int) -> None:
        """Move a file's primary copy to a tier (a journaled step)."""
        row = self.stat(name)
        if row.tier != tier:
            self._move(row, self._verified(row), tier)

    def apply(self, policy: Policy) -> dict[str, int]:
        """One policy pass: compute targets, then move (demotions first, to make room); counts per move."""
        rule = policy.plan(self.catalog, self.clock.now())
        expr, params = rule.sql(self.clock.now())
        moves = self.catalog.db.execute(
            f"SELECT id, tier, {expr} AS target FROM files WHERE tier >= 0 AND tier != {expr} "
            "ORDER BY target < tier, target DESC, id",
            params + params,
        ).fetchall()
        counts: dict[str, int] = {}
        for fid, tier, target in moves:
            row = self.catalog.get_id(fid)
            assert row is not None
            self._move(row, self._verified(row), int(target))
            key = f"{TIER_NAMES[tier]}->{TIER_NAMES[target]}"
            counts[key] = counts.get(key, 0) + 1
        return counts

    def status(self, reclaim_below: float = RECLAIM_BELOW) -> dict[str, Any]:
        """Files and bytes per tier, capacity, media (with reclaimable bytes), pending steps and alarms."""
        usage = self.catalog.tier_bytes()
        db = self.catalog.db
        vols = self.catalog.volumes()
        return {
            "root": str(self.root),
            "tiers": {
                TIER_NAMES[t]: {"files": n, "bytes": b, "capacity": self.library.capacity(t)}
                for t, (n, b) in usage.items()
            },
            "media": db.execute("SELECT COUNT(*) FROM media").fetchone()[0],
            "volumes": [
                {
                    "name": v.name,
                    "tier": TIER_NAMES[v.tier],
                    "written": v.written,
                    "live": v.live,
                    "files": v.files,
                    "reclaimable": v.dead,
                    "live_fraction": round(v.live_fraction, 4),
                    "candidate": v.written > 0 and v.live_fraction < reclaim_below,
                }
                for v in vols
            ],
            "reclaim_below": reclaim_below,
            "retired": db.execute("SELECT COUNT(*) FROM retired").fetchone()[0],
            "pending": db.execute("SELECT COUNT(*) FROM journal").fetchone()[0],
            "alarms": [
                {"time": t, "kind": k, "name": n, "detail": d} for t, k, n, d in self.catalog.alarms()
            ],
        }

    @staticmethod
    def format_status(status: dict[str, Any]) -> str:
        """The status as a few lines of text (report.format_status)."""
        from backup_hsm.report import format_status

        return format_status(status)
