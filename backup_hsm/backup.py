"""Backup jobs with three copies and retention, and the scheduler of nightly windows.

A job backs up chosen directories (full or incremental), application data (a SQLite database as an SQL
dump, a mailbox as mbox) or a whole-system image (every file of a server's tree, restorable without
reinstalling). Each backup is one tar archive written to three sites: `online` (disk, in the centre),
`isolated` (tape, same site) and `offsite` (tape, across the off-site link). Archives are written to a
temporary name, fsynced and renamed, then recorded; `BackupStore.open` removes anything unrecorded.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from backup_hsm.clock import DAY_S, VirtualClock
from backup_hsm.devices import Library
from backup_hsm.errors import HsmInputError, IntegrityError
from backup_hsm.placement import Policy
from backup_hsm.reclaim import reclaim
from backup_hsm.store import RECLAIM_BELOW, Hsm
from govnet.secure import open_private, private_dir, private_file

SITES = ("online", "isolated", "offsite")
RETENTION = {"online": 2, "isolated": 4, "offsite": 8}  # full chains kept per site
OFFSITE_LINK_BPS = 100e6 / 8  # the 100 Mbit/s off-site link
KINDS = ("files", "database", "mailbox", "system")


@dataclass(frozen=True)
class Job:
    """What to back up: a directory tree (files/system), a SQLite file (database) or an mbox (mailbox)."""

    name: str
    kind: str
    source: Path
    full_every_days: int = 7

    def check(self) -> None:
        """Raise HsmInputError if the source is missing or the kind unknown."""
        if self.kind not in KINDS:
            raise HsmInputError(
                f"job {self.name}", "kind", "unknown job kind", self.kind, f"use one of {KINDS}"
            )
        want_dir = self.kind in ("files", "system")
        if not (self.source.is_dir() if want_dir else self.source.is_file()):
            raise HsmInputError(
                f"job {self.name}",
                "source",
                f"{'directory' if want_dir else 'file'} does not exist",
                str(self.source),
                "create it or fix the path in the job",
            )


@dataclass(frozen=True)
class Backup:
    """One recorded backup (the same archive at every site)."""

    id: int
    job: str
    mode: str
    time: float
    checksum: str
    size: int
    manifest: dict[str, str]
    write_s: dict[str, float] = field(default_factory=dict)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _payload(job: Job, since: dict[str, str] | None) -> tuple[bytes, dict[str, str]]:
    """The tar bytes of a job and its manifest {member: sha256}; `since` makes it incremental."""
    buf = io.BytesIO()
    manifest: dict[str, str] = {}
    with tarfile.open(fileobj=buf, mode="w") as tar:

        def add(name: str, data: bytes) -> None:
            manifest[name] = _sha(data)
            if since is None or since.get(name) != manifest[name]:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))

        if job.kind in ("files", "system"):
            for path in sorted(job.source.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    add(path.relative_to(job.source).as_posix(), path.read_bytes())
        elif job.kind == "database":
            db = sqlite3.connect(job.source)
            try:
                add("dump.sql", "\n".join(db.iterdump()).encode())
            finally:
                db.close()
        else:
            add("mailbox.mbox", job.source.read_bytes())
    return buf.getvalue(), manifest


class BackupStore:
    """Backups of jobs at three sites under <root>/backup/<site>/, recorded in backup.sqlite."""

    def __init__(self, root: Path, clock: VirtualClock, library: Library | None = None) -> None:
        self.root = root / "backup"
        self.clock = clock
        self.library = library or Library()
        for site in SITES:
            private_dir(self.root / site)  # 0700: backups hold every service's data
        self.db = sqlite3.connect(str(private_file(self.root / "backup.sqlite")), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS backups (id INTEGER PRIMARY KEY, job TEXT, mode TEXT, "
            "time REAL, checksum TEXT, size INTEGER, manifest TEXT)"
        )
        self.db.execute("CREATE TABLE IF NOT EXISTS alarms (time REAL, kind TEXT, name TEXT, detail TEXT)")
        self.recover()

    def close(self) -> None:
        """Close the record."""
        self.db.close()

    def _path(self, site: str, job: str, bid: int, mode: str) -> Path:
        return self.root / site / job / f"{bid:06d}-{mode}.tar"

    def recover(self) -> list[str]:
        """Remove temporary and unrecorded archives a crash left."""
        known = {(j, b) for b, j in self.db.execute("SELECT id, job FROM backups")}
        gone = []
        for path in self.root.glob("*/*/*"):
            bid = path.name.split("-")[0]
            if path.suffix == ".tmp" or not bid.isdigit() or (path.parent.name, int(bid)) not in known:
                path.unlink()
                gone.append(str(path))
        return gone

    def history(self, job: str) -> list[Backup]:
        """Recorded backups of a job, oldest first."""
        return [
            Backup(b, j, m, t, c, s, json.loads(man))
            for b, j, m, t, c, s, man in self.db.execute(
                "SELECT id, job, mode, time, checksum, size, manifest FROM backups WHERE job = ? ORDER BY id",
                (job,),
            )
        ]

    def run(self, job: Job, mode: str | None = None) -> Backup:
        """Back a job up (full on its full day or when no full exists, else incremental) to all sites."""
        job.check()
        hist = self.history(job.name)
        day = int(self.clock.now() // DAY_S)
        if mode is None:
            mode = "full" if not hist or job.kind != "files" or day % job.full_every_days == 0 else "incr"
        data, manifest = _payload(job, hist[-1].manifest if mode == "incr" and hist else None)
        bid = int(self.db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM backups").fetchone()[0])
        times = {}
        for site in SITES:
            path = self._path(site, job.name, bid, mode)
            private_dir(path.parent)
            tmp = path.with_suffix(".tmp")
            with os.fdopen(open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            times[site] = self._write_s(site, len(data))
        self.db.execute(
            "INSERT INTO backups VALUES (?, ?, ?, ?, ?, ?, ?)",
            (bid, job.name, mode, self.clock.now(), _sha(data), len(data), json.dumps(manifest)),
        )
        if mode == "full":
            self._retain(job.name)
        return Backup(bid, job.name, mode, self.clock.now(), _sha(data), len(data), manifest, times)

    def _write_s(self, site: str, size: int) -> float:
        """Modelled time to write an archive at a site (tape: mount + stream; off-site: + the link)."""
        tape, disk = self.library.tape, self.library.disk
        if site == "online":
            return disk.read_s(size)
        t = tape.robot_move_s + tape.load_s + size / tape.throughput_bps
        return t + (size / OFFSITE_LINK_BPS if site == "offsite" else 0.0)

    def _retain(self, job: str) -> None:
        """Keep the newest RETENTION[site] full chains at each site; drop older archives."""
        fulls = [b.id for b in self.history(job) if b.mode == "full"]
        for site, keep in RETENTION.items():
            if len(fulls) > keep:
                oldest_kept = fulls[-keep]
                for path in (self.root / site / job).glob("*.tar"):
                    if int(path.name.split("-")[0]) < oldest_kept:
                        path.unlink()

    def restore(
        self, job: str, into: Path, member: str | None = None, prefer: tuple[str, ...] = SITES
    ) -> tuple[list[str], float]:
        """Restore a job's latest chain (or one member) into `into`; (sites used, modelled seconds).

        Every archive is verified; a damaged one is read from the next site instead, with an alarm."""
        hist = self.history(job)
        fulls = [i for i, b in enumerate(hist) if b.mode == "full"]
        if not fulls:
            raise HsmInputError(f"job {job}", "job", "no backup to restore", job, "run a full backup first")
        chain = hist[fulls[-1] :]
        into.mkdir(parents=True, exist_ok=True)
        used, modelled = [], 0.0
        for b in chain:
            for site in prefer:
                path = self._path(site, job, b.id, b.mode)
                data = path.read_bytes() if path.exists() else b""
                if _sha(data) == b.checksum:
                    break
                self.db.execute(
                    "INSERT INTO alarms VALUES (?, 'checksum-mismatch', ?, ?)",
                    (
                        self.clock.now(),
                        str(path),
                        f"backup {b.id} at {site} is damaged; trying the next site",
                    ),
                )
            else:
                raise IntegrityError(f"backup {b.id} of {job}: no site has a good copy")
            used.append(site)
            modelled += self._write_s(site, len(data))
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                for m in tar.getmembers():
                    if m.isfile() and (member is None or m.name == member):
                        _extract(tar, m, into)
        if member is None:
            for path in into.rglob("*"):  # files deleted before the last incremental
                if path.is_file() and path.relative_to(into).as_posix() not in chain[-1].manifest:
                    path.unlink()
        return used, modelled

    def alarms(self) -> list[tuple[float, str, str, str]]:
        """Backup alarms, oldest first."""
        return [tuple(r) for r in self.db.execute("SELECT time, kind, name, detail FROM alarms")]


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, into: Path) -> None:
    """Write one regular member under `into` (never outside it)."""
    dest = (into / member.name).resolve()
    if not dest.is_relative_to(into.resolve()):
        raise IntegrityError(f"archive member {member.name!r} points outside the restore directory")
    src = tar.extractfile(member)
    assert src is not None
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(src.read())


@dataclass(frozen=True)
class Window:
    """A nightly window: starts at `start_h` o'clock, lasts `hours`."""

    start_h: float
    hours: float

    def contains(self, t: float) -> bool:
        """Whether time t falls inside a window."""
        return (t % DAY_S - self.start_h * 3600) % DAY_S < self.hours * 3600


class Scheduler:
    """Runs backups in the backup window, the HSM policy pass in the migration window and tape reclamation
    in the reclamation window (bounded by its length in modelled time), night by night."""

    def __init__(
        self,
        clock: VirtualClock,
        hsm: Hsm,
        backups: BackupStore,
        jobs: list[Job],
        policy: Policy,
        backup_window: Window = Window(22.0, 3.0),
        migration_window: Window = Window(1.0, 4.0),
        reclamation_window: Window | None = Window(5.0, 2.0),
        reclaim_below: float = RECLAIM_BELOW,
    ) -> None:
        for job in jobs:
            job.check()
        self.clock, self.hsm, self.backups, self.jobs, self.policy = clock, hsm, backups, jobs, policy
        self.windows = {"backup": backup_window, "migration": migration_window}
        if reclamation_window is not None:
            self.windows["reclamation"] = reclamation_window
        self.reclaim_below = reclaim_below
        self.events: list[tuple[float, str, str]] = []

    def run_days(
        self, days: int, on_day: Callable[[int], None] | None = None
    ) -> list[tuple[float, str, str]]:
        """Advance the clock `days` days; run each window's work at its start. Returns (time, kind, what)."""
        start_day = self.clock.day()
        for day in range(start_day, start_day + days):
            if on_day:
                on_day(day)
            plan = sorted(
                (day * DAY_S + w.start_h * 3600 + (DAY_S if w.start_h < 12 else 0), kind)
                for kind, w in self.windows.items()
            )
            for when, kind in plan:
                self.clock.set(when)
                if kind == "backup":
                    for job in self.jobs:
                        b = self.backups.run(job)
                        self.events.append((when, "backup", f"{job.name} {b.mode} {b.size} bytes"))
                elif kind == "migration":
                    moves = self.hsm.apply(self.policy)
                    self.events.append((when, "migration", json.dumps(moves, sort_keys=True)))
                else:
                    budget = self.windows["reclamation"].hours * 3600
                    done = reclaim(self.hsm, self.reclaim_below, budget_s=budget).to_dict()
                    del done["volumes"]
                    self.events.append((when, "reclamation", json.dumps(done, sort_keys=True)))
        return self.events
