"""PAM module lines (any program: sshd, login, su, sudo, vsftpd, ...) -> LoginEvent.

message (after `pam_MODULE(SERVICE:auth|account|session): `) -> result, reason:
- `authentication failure; logname=L uid=N euid=N tty=T ruser=R rhost=H [user=U]`
  (pam_unix, pam_sss, pam_ldap, ...) -> failure, pam-auth
- `Consecutive login failures for user U account temporarily locked` (pam_faillock) -> failure, locked
- `user U (N) tally N, deny N` (pam_tally2) -> failure, locked
- `session opened for user U[(uid=N)] by ...` -> success, session-opened

`host` is `rhost` (empty for console and su logins: the `tty` field then says where). The service is
PAM's service name (`sshd` becomes `ssh`, to match the sshd parser).
"""

from __future__ import annotations

import re

from ids.audit.logline import Prefix
from ids.audit.records import LoginEvent
from ids.audit.sshd import login_event

_PAM = re.compile(r"(?P<mod>pam_[a-z0-9_]+)\((?P<svc>[^:()\s]+):(?P<type>[a-z]+)\): (?P<rest>.*)")
_KV = re.compile(r"(\w+)=(\S*)")
_FAILLOCK = re.compile(r"Consecutive login failures for user (?P<user>\S+) account temporarily locked")
_TALLY = re.compile(r"user (?P<user>\S+) \(\d+\) tally \d+, deny \d+")
_SESSION = re.compile(r"session opened for user (?P<user>[^\s(]+)")


def _service(svc: str) -> str:
    return "ssh" if svc == "sshd" else svc


def parse_pam(n: int, p: Prefix) -> LoginEvent | None:
    """The login event in one PAM module line, or None when it is not one."""
    msg = p.msg
    if not msg.startswith("pam_"):
        return None
    m = _PAM.match(msg)
    if m is None:
        return None
    rest = m["rest"]
    svc = _service(m["svc"])
    kind = m["type"]
    user = ""
    host = ""
    reason = ""
    success = False
    if kind == "auth" and rest.startswith("authentication failure;"):
        fields = dict(_KV.findall(rest[23:]))
        user = fields.get("user", "")
        host = fields.get("rhost", "")
        reason = "pam-auth"
    elif kind == "session" and rest.startswith("session opened"):
        ms = _SESSION.match(rest)
        if ms is None:
            return None
        user, reason, success = ms["user"], "session-opened", True
    elif (mf := _FAILLOCK.match(rest)) is not None:
        user, reason = mf["user"], "locked"
    elif (mt := _TALLY.match(rest)) is not None:
        user, reason = mt["user"], "locked"
    else:
        return None
    return login_event(
        n, p, user, host, reason, success=success, method=m["mod"], service=svc, source_kind="pam"
    )
