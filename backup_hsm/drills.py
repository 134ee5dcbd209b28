"""Restore drills: a file, a database, a mailbox and a whole system, each timed and verified by checksum."""

from __future__ import annotations

import hashlib
import mailbox
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from backup_hsm.backup import BackupStore, Job
from backup_hsm.clock import DAY_S, VirtualClock
from backup_hsm.errors import HsmInputError
from backup_hsm.store import default_root

TAPE_FIRST = ("isolated", "offsite", "online")  # drills restore from the same-site isolated tape


@dataclass(frozen=True)
class DrillResult:
    """The outcome of one restore drill."""

    name: str
    ok: bool
    modelled_s: float
    wall_s: float
    detail: str

    def line(self) -> str:
        """One line for the console."""
        return (
            f"{'PASS' if self.ok else 'FAIL'} restore {self.name:8} modelled {self.modelled_s:8.1f} s, "
            f"wall {self.wall_s * 1000:7.1f} ms  {self.detail}"
        )


def tree_digest(root: Path) -> str:
    """One checksum over every file's relative path and bytes."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def db_digest(path: Path) -> str:
    """Checksum of a database's dump (tables, rows, users)."""
    db = sqlite3.connect(path)
    try:
        return hashlib.sha256("\n".join(db.iterdump()).encode()).hexdigest()
    finally:
        db.close()


def mbox_digest(path: Path) -> str:
    """Checksum over every message of a mailbox."""
    box = mailbox.mbox(path)
    try:
        return hashlib.sha256(b"".join(m.as_bytes() for m in box)).hexdigest()
    finally:
        box.close()


def make_sample(src: Path) -> dict[str, Job]:
    """Sample data to back up: office documents, an OA database, a mailbox and a server's tree."""
    if src.exists():
        shutil.rmtree(src)
    docs, server = src / "docs", src / "server"
    for i in range(12):
        (docs / f"dept{i % 3}").mkdir(parents=True, exist_ok=True)
        (docs / f"dept{i % 3}" / f"memo-{i:02d}.txt").write_text(f"memo {i}\n" * (40 * (i + 1)))
    for rel, text in {
        "etc/hostname": "srv-oa\n",
        "etc/passwd": "root:x:0:0::/root:/bin/sh\noa:x:1000:1000::/srv:/bin/sh\n",
        "usr/bin/oa-server": "#!/bin/sh\necho oa\n" * 200,
        "var/lib/oa/state": "ok\n" * 300,
    }.items():
        (server / rel).parent.mkdir(parents=True, exist_ok=True)
        (server / rel).write_text(text)
    db = sqlite3.connect(src / "oa.sqlite")
    db.executescript(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, login TEXT, role TEXT);"
        "CREATE TABLE approvals (id INTEGER PRIMARY KEY, doc TEXT, state TEXT);"
    )
    db.executemany("INSERT INTO users VALUES (?, ?, ?)", [(i, f"user{i}", "clerk") for i in range(50)])
    db.executemany("INSERT INTO approvals VALUES (?, ?, ?)", [(i, f"doc-{i}", "open") for i in range(500)])
    db.commit()
    db.close()
    box = mailbox.mbox(src / "mail.mbox")
    for i in range(20):
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = f"user{i}@gov.example", "oa@gov.example", f"request {i}"
        msg.set_content(f"please approve document {i}\n" * 5)
        box.add(msg)
    box.flush()
    box.close()
    return {
        "docs": Job("docs", "files", docs),
        "oa-db": Job("oa-db", "database", src / "oa.sqlite"),
        "mail": Job("mail", "mailbox", src / "mail.mbox"),
        "srv-oa": Job("srv-oa", "system", server),
    }


def run_drills(root: Path | str | None = None, log: Callable[[str], None] | None = None) -> list[DrillResult]:
    """Back up sample data (full, then a change and an incremental), then run the four restore drills."""
    base = Path(root) if root else default_root()
    for p in (base, base / "drill"):
        if p.exists() and not p.is_dir():
            raise HsmInputError(
                str(p),
                "root",
                "not a directory",
                str(p),
                "give a directory for the drill's store (created if missing)",
            )
    say = log or (lambda _m: None)
    clock = VirtualClock(0.0)
    src, out = base / "drill" / "source", base / "drill" / "restored"
    jobs = make_sample(src)
    store = BackupStore(base / "drill", clock)
    try:
        for job in jobs.values():
            store.run(job, "full")
        say("full backups written to online, isolated and offsite")
        clock.advance(DAY_S)
        memo = jobs["docs"].source / "dept1" / "memo-04.txt"
        memo.write_text("memo 4, revised\n" * 100)
        store.run(jobs["docs"], "incr")
        say("incremental backup of docs written")
        if out.exists():
            shutil.rmtree(out)
        results = []
        checks: list[tuple[str, str, str | None, Callable[[Path], str], str]] = [
            (
                "file",
                "docs",
                "dept1/memo-04.txt",
                lambda p: hashlib.sha256(p.read_bytes()).hexdigest(),
                hashlib.sha256(memo.read_bytes()).hexdigest(),
            ),
            ("database", "oa-db", None, lambda p: _db_from_dump(p), db_digest(jobs["oa-db"].source)),
            (
                "mailbox",
                "mail",
                None,
                lambda p: mbox_digest(p / "mailbox.mbox"),
                mbox_digest(jobs["mail"].source),
            ),
            ("system", "srv-oa", None, tree_digest, tree_digest(jobs["srv-oa"].source)),
        ]
        for name, job_name, member, digest, want in checks:
            t0 = time.monotonic()
            sites, modelled = store.restore(job_name, out / name, member, prefer=TAPE_FIRST)
            target = out / name / member if member else out / name
            got = digest(target)
            results.append(
                DrillResult(
                    name,
                    got == want,
                    modelled,
                    time.monotonic() - t0,
                    f"from {'+'.join(sorted(set(sites)))} ({len(sites)} archive(s)); "
                    f"sha256 {got[:12]} {'==' if got == want else '!='} {want[:12]}",
                )
            )
        return results
    finally:
        store.close()


def _db_from_dump(restored: Path) -> str:
    """Load the restored SQL dump into a fresh database and checksum it like the original."""
    path = restored / "restored.sqlite"
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.executescript((restored / "dump.sql").read_text())
    db.commit()
    db.close()
    return db_digest(path)
