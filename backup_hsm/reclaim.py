"""Tape (and disc) reclamation: copy the live records of mostly-dead volumes to other volumes, retire them.

Archive media are append-only, so a recall, a new version or an expiry leaves the old record behind as
dead bytes. A volume whose live fraction (bytes of records that a current copy points at, headers
included, over bytes written) is below the threshold (default 40 %, i.e. Spectrum Protect's
`RECLAIM=60` reclaimable) is reclaimed: its live records are read in tape order and appended to a
volume that is not being reclaimed (a new one when none has room), then the source is retired (its
cartridge goes back to scratch; its archive file is deleted, its name never reused).

Crash safety without a journal: a record is appended beyond its target's committed end, verified,
and only then one transaction moves the copy's row and the target's end together. A kill before that
commit leaves bytes past the committed end, which `Hsm.open` cuts off; after it, the copy simply lives
on the new volume. A volume is retired in one transaction (refused while any copy still points at it)
and its file deleted afterwards; `Hsm.open` deletes an archive file no media row names. Re-running
reclamation finishes what a kill interrupted.

Modelled time (device figures from devices.py): the robot mounts the source (move + load) and the
target; the source is read in offset order (locate between records + stream), the target written as a
pipeline at the same rate; then the source is unloaded and put back. Time is reported, the clock is
not advanced (as for migration passes); `budget_s` stops a run between records when the next one
would overrun the window, leaving the volume partly reclaimed for the next night.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from backup_hsm import archive
from backup_hsm.catalog import Volume
from backup_hsm.devices import OPTICAL, TAPE, TIER_NAMES, Library
from backup_hsm.errors import HsmInputError, TierFullError
from backup_hsm.store import RECLAIM_BELOW, Hsm, sha256


@dataclass
class VolumeResult:
    """What happened to one candidate volume."""

    name: str
    tier: str
    live_fraction: float
    written: int
    files_moved: int = 0
    bytes_moved: int = 0
    freed: int = 0
    modelled_s: float = 0.0
    state: str = "planned"  # planned (dry run), retired, partial (window ended), failed
    detail: str = ""


@dataclass
class ReclaimResult:
    """One reclamation run."""

    threshold: float
    tier: str
    volumes: list[VolumeResult] = field(default_factory=list)
    mounts: int = 0

    @property
    def modelled_s(self) -> float:
        """Modelled seconds of the whole run (volumes one after another on one drive pair)."""
        return sum(v.modelled_s for v in self.volumes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "threshold": self.threshold,
            "tier": self.tier,
            "modelled_s": round(self.modelled_s, 1),
            "mounts": self.mounts,
            "retired": sum(v.state == "retired" for v in self.volumes),
            "freed": sum(v.freed for v in self.volumes),
            "volumes": [asdict(v) for v in self.volumes],
        }

    def lines(self) -> list[str]:
        """A few lines for the console."""
        d = self.to_dict()
        out = [
            f"reclamation of {self.tier} volumes below {100 * self.threshold:g} % live: "
            f"{len(self.volumes)} candidate(s), {d['retired']} retired, {d['freed']:,} bytes freed, "
            f"modelled {self.modelled_s:,.1f} s, {self.mounts} mounts"
        ]
        for v in self.volumes:
            out.append(
                f"  {v.state:8} {v.name:24} {100 * v.live_fraction:5.1f} % live  moved {v.files_moved} "
                f"records ({v.bytes_moved:,} bytes) in {v.modelled_s:,.1f} s  {v.detail}".rstrip()
            )
        return out


@dataclass(frozen=True)
class _Member:
    file_id: int
    role: str
    offset: int
    length: int
    checksum: str
    name: str
    version: int

    @property
    def start(self) -> int:
        return self.offset - archive.HEAD_SIZE - len(self.name.encode())

    @property
    def record(self) -> int:
        return self.offset + self.length - self.start


class _Timing:
    """Drive time of one volume: mount the source (and the target once), read in order, write as a pipe."""

    def __init__(self, lib: Library, tier: int) -> None:
        self.tier = tier
        self.lib = lib
        self.target_mounted = False
        self.mounts = 0

    def mount_s(self) -> float:
        t = self.lib.tape
        return (
            t.robot_move_s + t.load_s
            if self.tier == TAPE
            else self.lib.optical.exchange_s + self.lib.optical.mount_s
        )

    def dismount_s(self) -> float:
        return self.lib.tape.unload_s + self.lib.tape.robot_move_s if self.tier == TAPE else 0.0

    def rate(self) -> float:
        return self.lib.tape.throughput_bps if self.tier == TAPE else self.lib.optical.throughput_bps

    def position_s(self, pos: int, to: int) -> float:
        return self.lib.tape.locate_s(pos, to) if self.tier == TAPE else self.lib.optical.seek_s

    def start(self) -> float:
        """Seconds until the source is mounted and the target is ready (the robot does one move at a time)."""
        self.mounts += 1
        t = self.mount_s()
        if not self.target_mounted:
            self.mounts += 1
            self.target_mounted = True
            robot = self.lib.tape.robot_move_s if self.tier == TAPE else self.lib.optical.exchange_s
            t += robot  # the target's robot move waits for the source's; its load overlaps
        return t

    def step_s(self, pos: int, m: _Member) -> float:
        return self.position_s(pos, m.start) + m.record / self.rate()


def _members(hsm: Hsm, vol: Volume) -> list[_Member]:
    rows = hsm.catalog.db.execute(
        "SELECT c.file_id, c.role, c.offset, c.length, c.checksum, f.name, "
        "COALESCE((SELECT MAX(v.version) FROM versions v WHERE v.file_id = c.file_id "
        "AND v.checksum = c.checksum), f.version) "
        "FROM copies c JOIN files f ON f.id = c.file_id WHERE c.tier = ? AND c.medium = ? ORDER BY c.offset",
        (vol.tier, vol.name),
    ).fetchall()
    return [_Member(*r) for r in rows]


def check_threshold(threshold: float, tier: int) -> None:
    """HsmInputError unless 0 < threshold <= 1 and the tier is an archive tier."""
    if not 0 < threshold <= 1:
        raise HsmInputError(
            "hsm reclaim",
            "threshold",
            "the live share below which a volume is reclaimed must be in (0, 100] %",
            f"{100 * threshold:g} %",
            "give a percentage such as 40",
        )
    if tier not in (OPTICAL, TAPE):
        raise HsmInputError(
            "hsm reclaim", "tier", "only archive tiers are reclaimed", tier, "use tape or optical"
        )


def candidates(hsm: Hsm, threshold: float = RECLAIM_BELOW, tier: int = TAPE) -> list[Volume]:
    """Volumes of a tier with bytes written and a live fraction below `threshold`, emptiest first."""
    check_threshold(threshold, tier)
    vols = [v for v in hsm.catalog.volumes(tier) if v.written > 0 and v.live_fraction < threshold]
    return sorted(vols, key=lambda v: (v.live_fraction, v.name))


def reclaim(
    hsm: Hsm,
    threshold: float = RECLAIM_BELOW,
    tier: int = TAPE,
    budget_s: float | None = None,
    dry_run: bool = False,
) -> ReclaimResult:
    """Reclaim every candidate volume (or plan it, `dry_run`), within `budget_s` modelled seconds."""
    vols = candidates(hsm, threshold, tier)
    result = ReclaimResult(threshold, TIER_NAMES[tier])
    avoid = frozenset(v.name for v in vols)
    timing = _Timing(hsm.library, tier)
    used = 0.0
    for vol in vols:
        out = VolumeResult(vol.name, TIER_NAMES[tier], round(vol.live_fraction, 4), vol.written)
        result.volumes.append(out)
        if budget_s is not None and used + timing.mount_s() > budget_s:
            out.state, out.detail = "partial", "the window is over; continues next run"
            continue
        members = _members(hsm, vol)
        t = timing.start() if members else 0.0  # an all-dead volume is retired without a mount
        pos, stopped = 0, False
        for m in members:
            step = timing.step_s(pos, m)
            if budget_s is not None and used + t + step + timing.dismount_s() > budget_s:
                stopped = True
                break
            if not dry_run:
                err = _relocate(hsm, vol, m, avoid)
                if err:
                    out.state, out.detail = "failed", err
                    continue
            t += step
            pos = m.start + m.record
            out.files_moved += 1
            out.bytes_moved += m.length
        t += timing.dismount_s() if members else 0.0
        out.modelled_s = round(t, 3)
        used += t
        if dry_run:
            out.freed = vol.written
        elif stopped:
            out.state, out.detail = "partial", "the window is over; continues next run"
        elif out.state != "failed":
            out.state, out.freed = "retired", vol.written
            _retire(hsm, vol, out.files_moved)
    result.mounts = timing.mounts
    return result


def _relocate(hsm: Hsm, vol: Volume, m: _Member, avoid: frozenset[str]) -> str:
    """Append one live record to another volume and move its copy row there; '' or why it failed."""
    src = hsm._path(vol.tier, vol.name)
    data = archive.read(src, m.offset, m.length)
    if sha256(data) != m.checksum:
        good = next(
            (
                d
                for c in hsm.copies(m.file_id)
                if (c.tier, c.medium) != (vol.tier, vol.name)
                for d in [hsm._read_copy(c)]
                if sha256(d) == m.checksum
            ),
            None,
        )
        hsm.catalog.alarm(
            hsm.clock.now(),
            "checksum-mismatch",
            m.name,
            f"{m.role} record on {vol.name} is damaged; "
            + ("rewritten from another copy" if good else "no other copy matches; volume kept"),
        )
        if good is None:
            return f"{m.name}: damaged and no other copy matches"
        data = good
    try:
        medium, offset = hsm._place(vol.tier, m.role, m.file_id, m.version, len(data), avoid)
    except TierFullError as exc:
        return f"no volume to copy {m.name} to: {exc}"
    dst = hsm._path(vol.tier, medium)
    data_off, end = archive.append(dst, offset, m.file_id, m.version, m.name, data)
    if sha256(archive.read(dst, data_off, len(data))) != m.checksum:
        return f"{m.name}: the copy on {medium} failed verification"
    with hsm.catalog.tx() as c:
        moved = c.execute(
            "UPDATE copies SET medium = ?, offset = ? "
            "WHERE file_id = ? AND role = ? AND tier = ? AND medium = ?",
            (medium, data_off, m.file_id, m.role, vol.tier, vol.name),
        ).rowcount
        if moved:
            c.execute("UPDATE media SET end = ? WHERE name = ?", (end, medium))
    return ""


def _retire(hsm: Hsm, vol: Volume, files: int) -> None:
    """Drop an emptied volume from the catalog (one transaction), then delete its archive file."""
    with hsm.catalog.tx() as c:
        left = c.execute(
            "SELECT COUNT(*) FROM copies WHERE tier = ? AND medium = ?", (vol.tier, vol.name)
        ).fetchone()[0]
        if left:
            return
        c.execute("DELETE FROM media WHERE name = ?", (vol.name,))
        c.execute(
            "INSERT OR REPLACE INTO retired VALUES (?, ?, ?, ?, ?, 'reclaimed')",
            (vol.name, vol.tier, hsm.clock.now(), vol.written, files),
        )
    path = hsm._path(vol.tier, vol.name)
    path.unlink(missing_ok=True)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
