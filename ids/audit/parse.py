"""Parse a log file of one kind into login events, and decide which events are attempts.

Kinds: `sshd` (OpenSSH's own messages), `pam` (pam_* module lines of any program), `auth` (both,
for a whole auth.log), `app` (the services' JSON events or database). Parsers never raise on input:
a file is read as bytes, bad bytes are replaced, and a line that matches nothing is skipped.

One sshd connection logs several lines for one attempt (`Invalid user`, `Failed password for
invalid user`, `Connection closed by invalid user ... [preauth]`; with PAM also
`pam_unix(sshd:auth): authentication failure` and `error: PAM: Authentication failure`). `Attempts`
joins the lines of one connection (logging host + pid) so each password or key tried counts once:
see `Attempts.counts`. PAM's own sshd lines count only in a PAM-only stream (`--kind pam`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ids.audit.appevents import app_login, read_app_records
from ids.audit.logline import SyslogYear, file_year, read_lines, split_prefix
from ids.audit.pam import parse_pam
from ids.audit.records import LoginEvent
from ids.audit.sshd import parse_sshd

KINDS = ("sshd", "pam", "auth", "app")


def parse_line(kind: str, n: int, line: str, years: SyslogYear) -> LoginEvent | None:
    """The login event in one text line of a `sshd`, `pam` or `auth` log (None: not one)."""
    if "sshd" not in line and "pam_" not in line:  # cheap pre-filter: most noise stops here
        return None
    p = split_prefix(line, years)
    if p is None:
        return None
    if kind == "sshd":
        return parse_sshd(n, p)
    if kind == "pam":
        return parse_pam(n, p)
    return parse_sshd(n, p) or parse_pam(n, p)


def parse_file(
    path: str | os.PathLike[str], kind: str, year: int | None = None, years: SyslogYear | None = None
) -> Iterator[LoginEvent]:
    """Login events of one file, in file order. `year` dates year-less syslog lines (default: mtime);
    pass `years` to read afterwards how many lines were skipped for an impossible date."""
    if kind not in KINDS:
        raise ValueError(f"unknown log kind {kind!r}; use one of {', '.join(KINDS)}")
    if kind == "app":
        for n, rec in read_app_records(path):
            ev = app_login(n, rec)
            if ev is not None:
                yield ev
        return
    if years is None:
        years = SyslogYear(year=year) if year is not None else file_year(path)
    for n, line in read_lines(path):
        ev = parse_line(kind, n, line, years)
        if ev is not None:
            yield ev


@dataclass
class _Conn:
    attempts: int = 0
    success: bool = False


_NOT_SESSIONS = frozenset({"cron", "systemd-user", "sudo", "runuser", "runuser-l"})


class Attempts:
    """Decides, in stream order, whether a login event is one attempt (counted) or a note on one."""

    def __init__(self, *, sshd_lines: bool = True, max_connections: int = 100_000) -> None:
        self._sshd_lines = sshd_lines
        self._conns: dict[tuple[str, int], _Conn] = {}
        self._max = max_connections

    def _conn(self, ev: LoginEvent) -> _Conn | None:
        if ev.pid is None:
            return None
        key = (ev.server, ev.pid)
        conn = self._conns.get(key)
        if conn is None:
            if len(self._conns) >= self._max:
                del self._conns[next(iter(self._conns))]
            conn = self._conns[key] = _Conn()
        return conn

    def counts(self, ev: LoginEvent) -> bool:
        """True when `ev` is an attempt: a password/key tried, a refused (locked) try, an accepted
        login, or a connection that named a user and ended before any logged try."""
        if ev.source_kind == "app":
            return True
        conn = self._conn(ev)
        reason = ev.reason
        if ev.result == "success":
            if reason == "session-opened":
                if ev.service in _NOT_SESSIONS or (conn is not None and conn.success):
                    return False
                if ev.service == "ssh" and conn is not None and self._sshd_lines:
                    return False  # sshd always logs its own "Accepted" line
            if conn is not None:
                conn.success = True
            return True
        if reason == "pam-auth" and ev.source_kind == "pam":
            if self._sshd_lines and ev.service == "ssh":
                return False  # sshd logs the same try as "Failed password ..." with a better user name
            if conn is not None:
                conn.attempts += 1
            return True
        if reason.startswith("failed-") and reason != "failed-none":
            if conn is not None:
                conn.attempts += 1
            return True
        if reason == "locked":
            if conn is not None:
                conn.attempts += 1
            return True
        if reason.startswith("preauth-"):
            if conn is None:
                return False
            counted = bool(ev.user) and conn.attempts == 0 and not conn.success
            self._conns.pop((ev.server, ev.pid or 0), None)
            return counted
        return False  # invalid-user, not-allowed, max-attempts, pam-more, PAM: notes, failed-none


def attempts(events: Iterable[LoginEvent], *, sshd_lines: bool = True) -> Iterator[LoginEvent]:
    """The events that are attempts (see `Attempts.counts`); `sshd_lines`: the stream has sshd's own
    lines (kinds sshd, auth), so PAM's sshd lines are notes on them rather than attempts."""
    judge = Attempts(sshd_lines=sshd_lines)
    for ev in events:
        if judge.counts(ev):
            yield ev
