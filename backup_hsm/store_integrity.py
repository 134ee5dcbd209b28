"""The HSM store's integrity: verified reads (healed from another copy), protection copies, `verify`."""

from __future__ import annotations

from backup_hsm.catalog import FileRow
from backup_hsm.devices import DISK, TIER_NAMES
from backup_hsm.errors import IntegrityError
from backup_hsm.store_journal import StoreJournal
from backup_hsm.store_media import PRIMARY, sha256


class StoreIntegrity(StoreJournal):
    """Reads that check checksums, extra copies per role, and a full check of catalog against bytes."""

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
