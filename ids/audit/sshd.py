"""OpenSSH sshd login lines (7.x to 9.x) -> LoginEvent.

Recognised messages (the prefix is split by `logline`; `error: ` and a trailing ` [preauth]` are
optional everywhere; 9.8+ logs from `sshd-session`, 10.0 also from `sshd-auth`):

message -> reason (all failures except `Accepted`):
- `Accepted METHOD for U from H port P ssh2[: KEY]` -> accepted-METHOD (success)
- `Failed METHOD for [invalid user ]U from H port P ssh2[: KEY]` -> failed-METHOD
  (METHOD: password, publickey, keyboard-interactive/pam -> keyboard-interactive, none, ...)
- `Invalid user U from H[ port P]` (7.4 has no port) -> invalid-user
- `User U from H not allowed because ...` (AllowUsers, DenyUsers, groups) -> not-allowed
- `maximum authentication attempts exceeded for [invalid user ]U from H port P ssh2` -> max-attempts
- `Disconnecting [invalid|authenticating] user U H port P: Too many authentication failures`
  -> max-attempts
- `Connection closed|reset by [invalid |authenticating ]user U H port P [preauth]`
  -> preauth-close / preauth-reset; without a user (a probe) the user is ""
- `Disconnected from [invalid |authenticating ]user U H port P [preauth]` -> preauth-disconnect
- `PAM: Authentication failure for [illegal user ]U from H` -> pam-auth
- `PAM N more authentication failure(s); ... rhost=H user=U` -> pam-more (count N)

Everything else (session ends, key exchange, `Received disconnect`, pam_* module lines, which the
`pam` parser reads) is not a login event and is skipped.
"""

from __future__ import annotations

import re

from ids.audit.logline import Prefix
from ids.audit.records import LoginEvent

SSHD_PROGRAMS = frozenset({"sshd", "sshd-session", "sshd-auth"})

_USER_AT = r"(?:(?P<inv>invalid|illegal) user (?P<iuser>.*?)|(?P<user>\S+))"
_ACCEPTED = re.compile(r"Accepted (?P<method>\S+) for (?P<user>\S+) from (?P<host>\S+) port (?P<port>\d+)")
_FAILED = re.compile(
    r"Failed (?P<method>\S+) for " + _USER_AT + r" from (?P<host>\S+) port (?P<port>\d+)(?: ssh\d?)?(?::|$)"
)
_INVALID = re.compile(r"(?:Invalid|Illegal) user (?P<user>.*?) from (?P<host>\S+?)(?: port (?P<port>\d+))?$")
_NOT_ALLOWED = re.compile(r"User (?P<user>\S+) from (?P<host>\S+) not allowed because ")
_MAX = re.compile(
    r"maximum authentication attempts exceeded for " + _USER_AT + r" from (?P<host>\S+) port (?P<port>\d+)"
)
_TOO_MANY = re.compile(
    r"Disconnecting:? (?:(?P<inv>invalid|authenticating) user (?P<user>\S+) )?"
    r"(?P<host>\S+) port (?P<port>\d+): Too many authentication failures"
)
_CLOSED = re.compile(
    r"(?P<what>Connection closed by|Connection reset by|Disconnected from) "
    r"(?:(?P<inv>invalid|authenticating) user (?P<user>.*?) )?(?P<host>\S+) port (?P<port>\d+)$"
)
_PAM_FAIL = re.compile(
    r"PAM: Authentication failure for (?:(?P<inv>illegal) user )?(?P<user>\S+) from (?P<host>\S+)"
)
_PAM_MORE = re.compile(
    r"PAM (?P<n>\d+) more authentication failures?;.*? rhost=(?P<host>\S*)(?:\s+user=(?P<user>\S+))?"
)
_WHAT = {
    "Connection closed by": "preauth-close",
    "Connection reset by": "preauth-reset",
    "Disconnected from": "preauth-disconnect",
}


def _port(text: str | None) -> int | None:
    if not text or len(text) > 5:  # also keeps int() away from 4300-digit strings
        return None
    value = int(text)
    return value if value <= 65535 else None


def _method(text: str) -> str:
    return text.split("/", 1)[0]


def login_event(
    n: int,
    p: Prefix,
    user: str,
    host: str,
    reason: str,
    port: str | None = None,
    *,
    success: bool = False,
    method: str = "",
    invalid: bool = False,
    count: int = 1,
    service: str = "ssh",
    source_kind: str = "sshd",
) -> LoginEvent:
    """The login event of log line `n` (prefix `p`); also used by the `pam` parser."""
    return LoginEvent(
        line=n,
        ts=p.ts,
        user=user,
        host=host,
        result="success" if success else "failure",
        reason=reason,
        service=service,
        port=_port(port),
        server=p.server,
        pid=p.pid,
        method=method,
        invalid_user=invalid,
        count=count,
        source_kind=source_kind,
    )


def parse_sshd(n: int, p: Prefix) -> LoginEvent | None:
    """The login event in one sshd message, or None when it is not one."""
    if p.prog not in SSHD_PROGRAMS:
        return None
    msg = p.msg
    if msg.startswith(("error: ", "fatal: ")):
        msg = msg[7:]
    preauth = msg.endswith(" [preauth]")
    if preauth:
        msg = msg[:-10]
    msg = msg.rstrip()
    head = msg[:4]
    m: re.Match[str] | None = None
    if head == "Acce":
        m = _ACCEPTED.match(msg)
        if m:
            method = _method(m["method"])
            return login_event(
                n, p, m["user"], m["host"], f"accepted-{method}", m["port"], success=True, method=method
            )
    elif head == "Fail":
        m = _FAILED.match(msg)
        if m:
            method = _method(m["method"])
            user = m["iuser"] if m["inv"] else m["user"]
            return login_event(
                n, p, user, m["host"], f"failed-{method}", m["port"], method=method, invalid=bool(m["inv"])
            )
    elif head in ("Inva", "Ille"):
        m = _INVALID.match(msg)
        if m:
            return login_event(n, p, m["user"], m["host"], "invalid-user", m["port"], invalid=True)
    elif head == "User":
        m = _NOT_ALLOWED.match(msg)
        if m:
            return login_event(n, p, m["user"], m["host"], "not-allowed")
    elif head == "maxi":
        m = _MAX.match(msg)
        if m:
            user = m["iuser"] if m["inv"] else m["user"]
            return login_event(n, p, user, m["host"], "max-attempts", m["port"], invalid=bool(m["inv"]))
    elif head == "Disc":
        if preauth and msg.startswith("Disconnected from"):
            m = _CLOSED.match(msg)
            if m:
                return _closed(n, p, m)
        m = _TOO_MANY.match(msg)
        if m:
            return login_event(
                n, p, m["user"] or "", m["host"], "max-attempts", m["port"], invalid=m["inv"] == "invalid"
            )
    elif head == "Conn" and preauth:
        m = _CLOSED.match(msg)
        if m:
            return _closed(n, p, m)
    elif head == "PAM:":
        m = _PAM_FAIL.match(msg)
        if m:
            return login_event(n, p, m["user"], m["host"], "pam-auth", invalid=bool(m["inv"]))
    elif head == "PAM ":
        m = _PAM_MORE.match(msg)
        if m:
            return login_event(n, p, m["user"] or "", m["host"], "pam-more", count=max(1, int(m["n"][:6])))
    return None


def _closed(n: int, p: Prefix, m: re.Match[str]) -> LoginEvent:
    return login_event(
        n, p, m["user"] or "", m["host"], _WHAT[m["what"]], m["port"], invalid=m["inv"] == "invalid"
    )
