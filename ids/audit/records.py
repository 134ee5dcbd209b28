"""The records the audit passes around: one login event, one user activity (an app operation)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Literal

Result = Literal["success", "failure"]


def iso(ts: float) -> str:
    """A POSIX time as ISO 8601 in UTC with microseconds, e.g. 2026-11-22T06:01:02.000000+00:00."""
    return _dt.datetime.fromtimestamp(ts, _dt.UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class LoginEvent:
    """One recognised login event from a log line or an app's event record.

    `host` is where the attempt came from (an address, or "" when the log does not say, e.g. a
    console login); `server` is the machine that logged it. `reason` says which kind of line it
    was (failed-password, invalid-user, preauth-close, pam-auth, locked, accepted-publickey, ...).
    `pid` identifies the sshd connection process, so lines of one connection can be joined.
    """

    line: int
    ts: float
    user: str
    host: str
    result: Result
    reason: str
    service: str
    port: int | None = None
    server: str = ""
    pid: int | None = None
    method: str = ""
    invalid_user: bool = False
    count: int = 1
    source_kind: str = "sshd"

    @property
    def time(self) -> str:
        return iso(self.ts)

    def to_json(self) -> dict[str, Any]:
        """The `govnet audit parse --json` contract: line, time, user, host, result, then extras."""
        out: dict[str, Any] = {
            "line": self.line,
            "time": self.time,
            "user": self.user,
            "host": self.host,
            "result": self.result,
            "reason": self.reason,
            "service": self.service,
            "port": self.port,
            "server": self.server,
        }
        if self.pid is not None:
            out["pid"] = self.pid
        if self.method:
            out["method"] = self.method
        if self.invalid_user:
            out["invalid_user"] = True
        if self.count != 1:
            out["count"] = self.count
        return out


@dataclass(frozen=True, slots=True)
class Activity:
    """One thing a logged-in user did in an app (document opened, edited, an admin action)."""

    ts: float
    user: str
    service: str
    action: str
    target: str = ""
    admin: bool = False
    detail: dict[str, Any] = field(default_factory=dict)
