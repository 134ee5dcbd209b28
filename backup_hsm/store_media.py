"""Where the HSM store's bytes live: one file per disk copy, append-only archives on optical and tape.

`StoreMedia` is the lowest layer of `backup_hsm.store.Hsm`: it names the paths, chooses the medium
and offset of a new copy, writes it durably, reads it back and drops a superseded one.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from backup_hsm import archive
from backup_hsm.catalog import Catalog
from backup_hsm.clock import VirtualClock
from backup_hsm.devices import DISK, OPTICAL, TIER_NAMES, Library
from backup_hsm.errors import TierFullError
from govnet.secure import open_private

PRIMARY = "primary"


def sha256(data: bytes) -> str:
    """Hex SHA-256 of some bytes."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Copy:
    """Where one copy of a file lives."""

    role: str
    tier: int
    medium: str
    offset: int
    length: int
    checksum: str


class StoreMedia:
    """Paths, placement, durable writes and reads of copies (the store's attributes are set by Hsm)."""

    root: Path
    clock: VirtualClock
    library: Library
    catalog: Catalog

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

    def _drop(self, c: Copy) -> None:
        """Delete a superseded copy: unlink a disk file; archive records become dead space."""
        if c.tier == DISK:
            self._path(DISK, c.medium).unlink(missing_ok=True)


def _medium_no(medium: str) -> int:
    digits = "".join(ch for ch in medium if ch.isdigit())
    return int(digits) if digits else 0


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
