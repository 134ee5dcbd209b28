"""The HSM store's journaled step and crash recovery.

Every move is a journaled step: journal (copying) -> copy -> verify checksum -> commit catalog
(committed) -> delete source -> journal row removed; `recover` finishes or undoes whatever a crash
interrupted, so each file is in exactly one place and the catalog matches the bytes.
"""

from __future__ import annotations

from pathlib import Path

from backup_hsm import archive
from backup_hsm.catalog import FileRow
from backup_hsm.devices import DISK, OPTICAL, TAPE, TIER_NAMES
from backup_hsm.errors import HsmError, TierFullError
from backup_hsm.store_media import PRIMARY, Copy, StoreMedia, sha256


class StoreJournal(StoreMedia):
    """Moves a copy as one journaled step; recovers after a crash."""

    recovered: list[str]

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
