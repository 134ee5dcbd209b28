"""The HSM store: real bytes under <root>/{disk,optical,tape}/, catalog, journaled migrations, recall.

Every move is a journaled step: journal (copying) -> copy -> verify checksum -> commit catalog
(committed) -> delete source -> journal row removed. `Hsm.open` replays the journal, so a crash at any
point (kill -9) leaves each file in exactly one place, and the catalog matching the bytes. Disk copies
are one file each; optical discs and tape cartridges are append-only archive files (archive.py).
Time is modelled: reads and recalls return the device model's latency; the clock is passed in.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from backup_hsm import archive
from backup_hsm.catalog import Catalog, FileRow
from backup_hsm.clock import VirtualClock
from backup_hsm.devices import DISK, OPTICAL, TAPE, TIER_NAMES, Library, OpticalDrives, Request, TapeDrives
from backup_hsm.errors import HsmError, HsmInputError, IntegrityError, TierFullError
from backup_hsm.heat import DEFAULT_HALF_LIFE_S, bucket_of, key_of
from backup_hsm.placement import Policy
from govnet.paths import var_dir
from govnet.secure import open_private, private_dir, private_file

PRIMARY = "primary"
# a volume whose live fraction is below this is reclaimed (Spectrum Protect's RECLAIM=60: 60 % dead)
RECLAIM_BELOW = 0.4


def sha256(data: bytes) -> str:
    """Hex SHA-256 of some bytes."""
    return hashlib.sha256(data).hexdigest()


def default_root() -> Path:
    """The store directory: var/hsm (GOVNET_VAR overrides var)."""
    return var_dir() / "hsm"


@dataclass(frozen=True)
class Copy:
    """Where one copy of a file lives."""

    role: str
    tier: int
    medium: str
    offset: int
    length: int
    checksum: str


class Hsm:
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

    # locations ------------------------------------------------------------------------------------
    def _path(self, tier: int, medium: str) -> Path:
        return self.root / TIER_NAMES[tier] / medium

    def copies(self, file_id: int) -> list[Copy]:
        """Every copy of a file, the primary first."""
        rows = self.catalog.db.execute(
            "SELECT role, tier, medium, offset, length, checksum FROM copies WHERE file_id = ? "
            "ORDER BY role != 'primary', role",
            (file_id,),
        ).fetchall()
        return [Copy(*r) for r in rows]

    def _read_copy(self, c: Copy) -> bytes:
        path = self._path(c.tier, c.medium)
        if c.tier == DISK:
            return path.read_bytes() if path.exists() else b""
        return archive.read(path, c.offset, c.length)

    def _size_on(self, file_id: int) -> int:
        row = self.catalog.db.execute("SELECT size FROM files WHERE id = ?", (file_id,)).fetchone()
        return int(row[0]) if row else 0

    def _free(self, tier: int) -> int:
        return self.library.capacity(tier) - self.catalog.tier_bytes()[tier][1]

    def _place(
        self, tier: int, role: str, fid: int, version: int, size: int, avoid: frozenset[str] = frozenset()
    ) -> tuple[str, int]:
        """Choose the medium and offset for a new copy: a disk file, or the end of an archive medium.

        `avoid`: media not to write to (reclamation's sources). New media get a number never used before
        (retired volumes included), so a name always means one cartridge's contents."""
        if tier == DISK:
            return f"{fid}.v{version}" + ("" if role == PRIMARY else f".{role}"), 0
        unit = self.library.optical.disc_bytes if tier == OPTICAL else self.library.tape.cartridge_bytes
        count = self.library.optical.discs if tier == OPTICAL else self.library.tape.cartridges
        prefix = ("disc" if tier == OPTICAL else "cart") + ("" if role == PRIMARY else f"-{role}")
        pattern = prefix + "-[0-9][0-9][0-9][0-9]*"
        for name, end in self.catalog.db.execute(
            "SELECT name, end FROM media WHERE tier = ? AND name GLOB ? ORDER BY name", (tier, pattern)
        ):
            if end + size + 4096 <= unit and name not in avoid:
                return str(name), int(end)
        used = self.catalog.db.execute(
            "SELECT COUNT(*) FROM media WHERE tier = ? AND name GLOB ?", (tier, pattern)
        ).fetchone()[0]
        if used >= count or size + 4096 > unit:
            raise TierFullError(
                str(self.root),
                f"tiers.{TIER_NAMES[tier]}.media",
                "no medium has room",
                f"{used} of {count} full",
                "add media to the library, reclaim (`govnet hsm reclaim`) or migrate data off it",
            )
        taken = self.catalog.db.execute(
            "SELECT name FROM media WHERE tier = ? AND name GLOB ? UNION "
            "SELECT name FROM retired WHERE tier = ? AND name GLOB ?",
            (tier, pattern, tier, pattern),
        ).fetchall()
        number = 1 + max((_medium_no(str(n)) for (n,) in taken), default=-1)
        name = f"{prefix}-{number:04d}.arc"
        with self.catalog.tx() as db:
            db.execute("INSERT INTO media (name, tier, end) VALUES (?, ?, 0)", (name, tier))
        return name, 0

    def _write(
        self, tier: int, medium: str, offset: int, fid: int, ver: int, name: str, data: bytes
    ) -> tuple[int, int]:
        """Write a copy durably; return (data offset, new medium end)."""
        path = self._path(tier, medium)
        if tier != DISK:
            return archive.append(path, offset, fid, ver, name, data)
        tmp = path.with_suffix(path.suffix + ".tmp")
        with os.fdopen(open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
        return 0, 0

    # the journaled step ---------------------------------------------------------------------------
    def _move(
        self,
        row: FileRow,
        data: bytes,
        dst_tier: int,
        role: str = PRIMARY,
        new_file: bool = False,
        new_version: bool = False,
    ) -> Copy:
        """Put `data` as the `role` copy of `row` on dst_tier, then drop the old copy of that role."""
        grow = len(data) if new_file or dst_tier != row.tier else len(data) - self._size_on(row.id)
        if role == PRIMARY and grow > 0 and grow > self._free(dst_tier):
            raise TierFullError(
                str(self.root),
                f"tiers.{TIER_NAMES[dst_tier]}.capacity",
                f"{TIER_NAMES[dst_tier]} tier is full: {len(data)} bytes needed, "
                f"{max(0, self._free(dst_tier))} free",
                self.library.capacity(dst_tier),
                "raise the tier's capacity, or migrate cold data down first",
            )
        old = next((c for c in self.copies(row.id) if c.role == role), None)
        medium, offset = self._place(dst_tier, role, row.id, row.version, len(data))
        db = self.catalog
        with db.tx() as c:
            jid = c.execute(
                "INSERT INTO journal (op, file_id, state, src_medium, dst_tier, dst_medium, dst_offset, "
                "time) VALUES (?, ?, 'copying', ?, ?, ?, ?, ?)",
                (
                    role,
                    row.id,
                    f"{old.tier}:{old.medium}" if old else None,
                    dst_tier,
                    medium,
                    offset,
                    self.clock.now(),
                ),
            ).lastrowid
        data_off, end = self._write(dst_tier, medium, offset, row.id, row.version, row.name, data)
        new = Copy(role, dst_tier, medium, data_off, len(data), sha256(data))
        if sha256(self._read_copy(new)) != row.checksum:
            raise HsmError(f"{row.name}: the copy on {TIER_NAMES[dst_tier]} {medium} failed verification")
        with db.tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO copies VALUES (?, ?, ?, ?, ?, ?, ?)",
                (row.id, role, dst_tier, medium, data_off, len(data), new.checksum),
            )
            if role == PRIMARY:
                c.execute("UPDATE files SET tier = ? WHERE id = ?", (dst_tier, row.id))
            if new_version:
                c.execute(
                    "UPDATE files SET size = ?, checksum = ?, version = ? WHERE id = ?",
                    (row.size, row.checksum, row.version, row.id),
                )
                c.execute(
                    "INSERT OR REPLACE INTO versions VALUES (?, ?, ?, ?, ?)",
                    (row.id, row.version, row.size, row.checksum, self.clock.now()),
                )
            if dst_tier != DISK:
                c.execute("UPDATE media SET end = ? WHERE name = ?", (end, medium))
            c.execute("UPDATE journal SET state = 'committed' WHERE id = ?", (jid,))
        if old and (old.tier, old.medium) != (dst_tier, medium):
            self._drop(old)
        with db.tx() as c:
            c.execute("DELETE FROM journal WHERE id = ?", (jid,))
        return new

    def _drop(self, c: Copy) -> None:
        """Delete a superseded copy: unlink a disk file; archive records become dead space."""
        if c.tier == DISK:
            self._path(DISK, c.medium).unlink(missing_ok=True)

    def recover(self) -> list[str]:
        """Finish or undo every step a crash interrupted; cut archives back to their committed ends."""
        done: list[str] = []
        db = self.catalog.db
        for jid, op, fid, state, src, dst_tier, dst_medium in db.execute(
            "SELECT id, op, file_id, state, src_medium, dst_tier, dst_medium FROM journal ORDER BY id"
        ).fetchall():
            if state == "copying" and dst_tier == DISK:
                live = db.execute(
                    "SELECT 1 FROM copies WHERE tier = 0 AND medium = ?", (dst_medium,)
                ).fetchone()
                if not live:
                    self._path(DISK, dst_medium).unlink(missing_ok=True)
                    self._path(DISK, dst_medium + ".tmp").unlink(missing_ok=True)
            elif state == "committed" and src:
                tier, medium = src.split(":", 1)
                live = db.execute(
                    "SELECT 1 FROM copies WHERE tier = ? AND medium = ?", (int(tier), medium)
                ).fetchone()
                if int(tier) == DISK and not live:
                    self._path(DISK, medium).unlink(missing_ok=True)
            with self.catalog.tx() as c:
                c.execute("DELETE FROM journal WHERE id = ?", (jid,))
            done.append(f"{op} of file {fid}: {'rolled back' if state == 'copying' else 'completed'}")
        for name, tier, end in db.execute("SELECT name, tier, end FROM media").fetchall():
            if archive.truncate(self._path(int(tier), name), int(end)):
                done.append(f"{name}: cut back to {end} bytes")
        with self.catalog.tx() as c:
            for (fid,) in c.execute("SELECT id FROM files WHERE tier = -1").fetchall():
                c.execute("DELETE FROM files WHERE id = ?", (fid,))
                c.execute("DELETE FROM versions WHERE file_id = ?", (fid,))
                done.append(f"dropped unstored new file {fid}")
        for tmp in (self.root / "disk").glob("*.tmp"):
            tmp.unlink()
            done.append(f"removed {tmp.name}")
        live = {str(m) for (m,) in db.execute("SELECT medium FROM copies WHERE tier = ?", (DISK,))}
        for path in (self.root / "disk").iterdir():  # no step is in flight now: unreferenced is garbage
            if path.name not in live:
                path.unlink()
                done.append(f"removed unreferenced disk file {path.name}")
        for path in self._orphan_media():  # a volume retired by reclamation, killed before the unlink
            path.unlink()
            done.append(f"removed retired volume {path.name}")
        self.recovered = done
        return done

    def _orphan_media(self) -> list[Path]:
        """Archive files on optical/tape that no media row names (retired, or never registered)."""
        known = {(int(t), str(n)) for n, t in self.catalog.db.execute("SELECT name, tier FROM media")}
        return [
            p
            for tier in (OPTICAL, TAPE)
            for p in sorted((self.root / TIER_NAMES[tier]).glob("*.arc"))
            if (tier, p.name) not in known
        ]

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

    # integrity ------------------------------------------------------------------------------------
    def _verified(self, row: FileRow) -> bytes:
        """The file's bytes from its primary copy, or from another copy (rewriting the primary) + alarm."""
        copies = [c for c in self.copies(row.id) if c.role == PRIMARY or c.checksum == row.checksum]
        for c in copies:  # copies of older versions are no substitute for the current one
            data = self._read_copy(c)
            if sha256(data) == row.checksum:
                if c.role != PRIMARY:
                    self._move(row, data, row.tier)
                    self.catalog.alarm(
                        self.clock.now(),
                        "restored-from-copy",
                        row.name,
                        f"primary rewritten from the {c.role} copy on {c.medium}",
                    )
                return data
            self.catalog.alarm(
                self.clock.now(),
                "checksum-mismatch",
                row.name,
                f"{c.role} copy on {TIER_NAMES[c.tier]} {c.medium} does not match {row.checksum[:12]}",
            )
        raise IntegrityError(f"{row.name}: no copy matches its checksum ({len(copies)} tried)")

    def protect(self, role: str, tier: int) -> int:
        """Make a `role` copy (e.g. 'isolated' on tape) of every file that lacks a current one."""
        n = 0
        for row in self.catalog.all_files():
            have = [c for c in self.copies(row.id) if c.role == role]
            if not have or have[0].checksum != row.checksum:
                self._move(row, self._verified(row), tier, role=role)
                n += 1
        return n

    def verify(self) -> list[str]:
        """Check the catalog against the bytes: every copy matches, no stray disk files, no pending steps."""
        bad: list[str] = []
        live: set[str] = set()
        for row in self.catalog.all_files():
            copies = self.copies(row.id)
            if row.tier < 0 or not copies or copies[0].role != PRIMARY or copies[0].tier != row.tier:
                bad.append(f"{row.name}: catalog tier {row.tier} has no matching primary copy")
            for c in copies:  # a backup role may hold an older version: it must match its own checksum
                if c.tier == DISK:
                    live.add(c.medium)
                want = row.checksum if c.role == PRIMARY else c.checksum
                if sha256(self._read_copy(c)) != want:
                    bad.append(f"{row.name}: {c.role} copy on {c.medium} does not match")
        bad += [f"stray disk file {p.name}" for p in (self.root / "disk").iterdir() if p.name not in live]
        bad += [f"stray archive {p.parent.name}/{p.name}" for p in self._orphan_media()]
        bad += [f"pending journal step {j}" for (j,) in self.catalog.db.execute("SELECT id FROM journal")]
        for name, tier, end in self.catalog.db.execute("SELECT name, tier, end FROM media"):
            path = self._path(int(tier), name)  # a medium a crash registered before its first write has none
            if (path.stat().st_size if path.exists() else 0) != end:
                bad.append(f"{name}: size differs from the committed end {end}")
        return bad

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


def _medium_no(medium: str) -> int:
    digits = "".join(ch for ch in medium if ch.isdigit())
    return int(digits) if digits else 0


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
