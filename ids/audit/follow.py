"""Reading a growing log file into the audit: resumable, rotation-aware, exactly once.

`LogFollower.poll()` reads the complete lines written since the last poll, feeds them to an
`Auditor`, and commits the ledger records together with the file's new read position (a `Cursor`
keyed by the file's path) in one transaction. After a crash or a restart it resumes at the saved
position: no line is lost and none is recorded twice. A file whose inode changed (rotated) or that
shrank (truncated) is read again from its start. A trailing line without its newline is left for
the next poll (it is still being written), except with `final=True`, for a file that is complete.

This is how a running lab feeds the ledger: one follower per sshd/auth log of an emulated host
(or `kind="app"` readers per service), polled from one thread, e.g. every 0.2 s.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from ids.audit.auditor import Auditor, FeedResult
from ids.audit.ledger import Cursor
from ids.audit.logline import SyslogYear, file_year
from ids.audit.parse import parse_line

CHUNK_BYTES = 1 << 20


class LogFollower:
    """Follows one text log (kinds sshd, pam, auth) into an Auditor with a ledger."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        kind: str,
        auditor: Auditor,
        *,
        year: int | None = None,
        from_start: bool = False,
    ) -> None:
        if kind not in ("sshd", "pam", "auth"):
            raise ValueError(f"a follower reads sshd, pam or auth logs, not {kind!r}")
        self.path = Path(path)
        self.kind = kind
        self.auditor = auditor
        self.key = str(self.path.resolve())
        self._year = year
        self._years: SyslogYear | None = None
        saved = None if from_start or auditor.ledger is None else auditor.ledger.cursor(self.key)
        self.inode, self.offset, self.line = (saved.inode, saved.offset, saved.line) if saved else (0, 0, 1)

    def _years_for(self) -> SyslogYear:
        if self._years is None:
            self._years = SyslogYear(year=self._year) if self._year is not None else file_year(self.path)
        return self._years

    @property
    def years(self) -> SyslogYear:
        """How year-less dates are dated; its `bad_dates` counts lines skipped for an impossible date."""
        return self._years_for()

    def poll(self, *, final: bool = False) -> FeedResult:
        """Read and commit what is new; returns the decisions and anomalies it caused."""
        total = FeedResult()
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return total  # rotated away and not yet re-created
        if st.st_ino != self.inode or st.st_size < self.offset:
            self.inode, self.offset, self.line = st.st_ino, 0, 1
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            while True:
                data = fh.read(CHUNK_BYTES)
                if not data:
                    break
                at_eof = len(data) < CHUNK_BYTES
                if final and at_eof:
                    end = len(data)
                else:
                    end = data.rfind(b"\n") + 1
                    if end == 0:
                        if at_eof:
                            break  # an unfinished line: wait for its newline
                        end = len(data)  # a line longer than a chunk: taken in pieces
                self._feed(data[:end], total)
                fh.seek(self.offset)
        return total

    def _feed(self, data: bytes, total: FeedResult) -> None:
        with self.auditor.lock:  # nobody else flushes our records before the cursor goes with them
            self._feed_locked(data, total)

    def _feed_locked(self, data: bytes, total: FeedResult) -> None:
        years = self._years_for()
        n = self.line
        pieces = data.split(b"\n")
        if pieces[-1] == b"":
            pieces.pop()
        for raw in pieces:
            text = raw.decode("utf-8", errors="replace").replace("\x00", "").rstrip("\r")
            ev = parse_line(self.kind, n, text, years)
            n += 1
            if ev is not None:
                r = self.auditor.feed(ev, flush=False)
                total.decisions += r.decisions
                total.anomalies += r.anomalies
                total.failures += r.failures
        self.offset += len(data)
        self.line = n
        self.auditor.flush(Cursor(self.key, self.inode, self.offset, self.line))

    def run(self, stop: threading.Event, interval: float = 0.2) -> None:
        """Poll until `stop` is set (then one last poll)."""
        while not stop.wait(interval):
            self.poll()
        self.poll()


class AppDbFollower:
    """Follows a service's audit database (the OA's or approval's `events` table) into an Auditor.

    Each poll reads the rows past the last one seen (by id, read-only, in WAL mode alongside the
    running service) and feeds their login events. The position lives in memory: this is for a
    running lab, where the database and the follower start together."""

    def __init__(self, path: str | os.PathLike[str], auditor: Auditor) -> None:
        self.path = Path(path)
        self.auditor = auditor
        self.last_id = 0
        self.seen = 0

    def poll(self) -> FeedResult:
        import json
        import sqlite3

        from ids.audit.appevents import app_login

        total = FeedResult()
        if not self.path.exists():
            return total
        try:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=2.0)
            db.row_factory = sqlite3.Row
            try:
                rows = db.execute("SELECT * FROM events WHERE id > ? ORDER BY id", (self.last_id,)).fetchall()
            finally:
                db.close()
        except sqlite3.Error:
            return total  # being created, or busy: the next poll reads it
        for row in rows:
            rec = dict(row)
            self.last_id = int(rec["id"])
            try:
                rec["detail"] = json.loads(rec.get("detail") or "{}")
            except (json.JSONDecodeError, TypeError):
                rec["detail"] = {}
            ev = app_login(self.last_id, rec)
            if ev is None:
                continue
            self.seen += 1
            r = self.auditor.feed(ev)
            total.decisions += r.decisions
            total.anomalies += r.anomalies
            total.failures += r.failures
        return total

    def run(self, stop: threading.Event, interval: float = 0.2) -> None:
        while not stop.wait(interval):
            self.poll()
        self.poll()
