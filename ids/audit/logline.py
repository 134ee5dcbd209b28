"""Reading log files as bytes, splitting syslog/journal prefixes, and dating year-less timestamps.

Two prefix forms are recognised, with or without fractional seconds:

    Nov 22 06:01:02 host sshd[123]: message                    (RFC 3164 syslog, journalctl short)
    2026-11-22T06:01:02.123456+00:00 host sshd[123]: message   (rsyslog high precision, journalctl short-iso)

A year-less syslog timestamp is dated with a `SyslogYear`: either an explicit year (`--year`; a month
that goes back, e.g. Dec -> Jan, moves to the next year) or the file's modification time (a line
cannot be written after the file's mtime, so a date later than the mtime belongs to the year
before). Year-less timestamps carry no zone; they are taken as UTC, as lab hosts log in UTC.
A `Feb 29` whose guessed year is not a leap year is dated in the latest leap year before it (the
line cannot be newer than the file); with an explicit non-leap `--year` it cannot be dated and is
skipped. Every line with a syslog or ISO prefix whose date is impossible (Feb 30, hour 25) is
counted in `SyslogYear.bad_dates`, so callers report how many lines were skipped and why.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MONTHS = {m: i for i, m in enumerate(calendar.month_abbr) if m}

_SYSLOG = re.compile(
    r"(?P<mon>[A-Z][a-z]{2}) {1,2}(?P<day>\d{1,2}) (?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)(?P<frac>\.\d{1,9})? "
    r"(?P<host>\S+) (?P<prog>[^\s\[:]+)(?:\[(?P<pid>\d{1,10})\])?: (?P<msg>.*)"
)
_ISO = re.compile(
    r"(?P<date>\d{4}-\d\d-\d\d)[T ](?P<hms>\d\d:\d\d:\d\d)(?P<frac>\.\d{1,9})?(?P<tz>Z|[+-]\d\d:?\d\d)? "
    r"(?P<host>\S+) (?P<prog>[^\s\[:]+)(?:\[(?P<pid>\d{1,10})\])?: (?P<msg>.*)"
)


@dataclass(frozen=True, slots=True)
class Prefix:
    """A log line split into its time (POSIX seconds), logging host, program, pid and message."""

    ts: float
    server: str
    prog: str
    pid: int | None
    msg: str


class SyslogYear:
    """Chooses the year of year-less syslog dates (see the module docstring)."""

    def __init__(self, year: int | None = None, mtime: float | None = None) -> None:
        if year is None and mtime is None:
            mtime = _dt.datetime.now(_dt.UTC).timestamp()
        self._explicit = year
        self._last_month = 0
        self.cache: dict[str, float] = {}  # "Nov 22 06:01:02" -> POSIX seconds (split_prefix)
        self.bad_dates = 0  # lines skipped: a prefix with an impossible date (see the module docstring)
        self.first_bad: tuple[str, ...] = ()  # the first such date, for the report
        if mtime is not None:
            ref = _dt.datetime.fromtimestamp(mtime, _dt.UTC)
            self._ref = (ref.year, ref.month, ref.day)

    def year(self, month: int, day: int) -> int:
        if self._explicit is not None:
            if self._last_month and month < self._last_month - 6:  # Dec -> Jan: a new year
                self._explicit += 1
                self.cache.clear()
            self._last_month = month
            return self._explicit
        y, m, d = self._ref
        y = y if (month, day) <= (m, d + 1) else y - 1
        if (month, day) == (2, 29):
            while not calendar.isleap(y):
                y -= 1
        return y


def split_prefix(line: str, years: SyslogYear) -> Prefix | None:
    """The prefix of a syslog or ISO-stamped line, or None when the line has neither (or a bad date)."""
    if not line:
        return None
    c = line[0]
    try:
        if c.isdigit():
            mi = _ISO.match(line)
            if mi is None:
                return None
            text = f"{mi['date']}T{mi['hms']}{(mi['frac'] or '')[:7]}{_tz(mi['tz'])}"
            ts = _dt.datetime.fromisoformat(text).timestamp()
            pid = mi["pid"]
            return Prefix(ts, mi["host"], mi["prog"], int(pid) if pid else None, mi["msg"])
        ms = _SYSLOG.match(line)
        if ms is None:
            return None
        key = line[: ms.end("s")]
        ts = years.cache.get(key, -1.0)
        if ts < 0:
            month = MONTHS.get(ms["mon"])
            if month is None:
                return None
            day = int(ms["day"])
            when = _dt.datetime(
                years.year(month, day), month, day, int(ms["h"]), int(ms["m"]), int(ms["s"]), tzinfo=_dt.UTC
            )
            ts = when.timestamp()
            if len(years.cache) > 4096:
                years.cache.clear()
            years.cache[key] = ts
        frac = ms["frac"]
        if frac:
            ts += float(frac)
        pid = ms["pid"]
        return Prefix(ts, ms["host"], ms["prog"], int(pid) if pid else None, ms["msg"])
    except (ValueError, OverflowError):
        years.bad_dates += 1  # e.g. Feb 30, hour 25, Feb 29 of a non-leap --year
        if not years.first_bad:
            years.first_bad = (line[:15],)
        return None


def _tz(tz: str | None) -> str:
    if not tz or tz == "Z":
        return "+00:00"
    return tz if ":" in tz else f"{tz[:3]}:{tz[3:]}"


def read_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, str]]:
    """(1-based line number, text) of a file read as bytes; bad bytes become U+FFFD, NULs are dropped."""
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            yield n, raw.decode("utf-8", errors="replace").replace("\x00", "").rstrip("\r\n")


def file_year(path: str | os.PathLike[str]) -> SyslogYear:
    """A SyslogYear from the file's modification time."""
    return SyslogYear(mtime=Path(path).stat().st_mtime)
