"""Process and port checks with psutil: new listening ports and new setuid/setgid files.

Inside an emulated host these see that host's network namespace (psutil reads /proc/net of the
calling process). A baseline is taken once; each `check()` returns what is new since then.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

from govnet import events


@dataclass(frozen=True, order=True)
class Listener:
    """One listening socket: protocol, local address and port, and the owning process if known."""

    proto: str
    ip: str
    port: int
    pid: int = 0
    process: str = ""

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.proto, self.ip, self.port)


def listening_ports() -> list[Listener]:
    """TCP sockets in LISTEN and bound UDP sockets of this network namespace."""
    out: set[Listener] = set()
    names: dict[int, str] = {}
    for c in psutil.net_connections(kind="inet"):
        if not c.laddr:
            continue
        tcp = c.type == 1  # SOCK_STREAM
        if tcp and c.status != psutil.CONN_LISTEN:
            continue
        if not tcp and c.raddr:
            continue
        pid = c.pid or 0
        if pid and pid not in names:
            try:
                names[pid] = psutil.Process(pid).name()
            except psutil.Error:
                names[pid] = ""
        proto = ("tcp" if tcp else "udp") + ("6" if c.family == 10 else "")
        out.add(Listener(proto, c.laddr.ip, c.laddr.port, pid, names.get(pid, "")))
    return sorted(out)


def setuid_files(roots: Iterable[str | os.PathLike[str]]) -> set[str]:
    """Regular files with the setuid or setgid bit under the roots (symlinks not followed)."""
    found: set[str] = set()
    for root in roots:
        for d, _dirs, files in os.walk(root):
            for name in files:
                p = os.path.join(d, name)
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
                    found.add(p)
    return found


def parse_port(text: str) -> tuple[str, int]:
    """`tcp/80` or `udp/5004` -> ("tcp", 80); ValueError naming the form otherwise."""
    proto, _, port = text.partition("/")
    if proto not in ("tcp", "udp") or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected port {text!r}: write tcp/PORT or udp/PORT, e.g. udp/5004")
    return proto, int(port)


class HostWatch:
    """Baseline of listeners and setuid files; `check()` returns alerts for what appeared since."""

    SID_PORT = 9100101
    SID_SETUID = 9100102

    def __init__(
        self,
        setuid_roots: Iterable[str | os.PathLike[str]] = (),
        *,
        sensor: str = "hids",
        expected_ports: Iterable[str] = (),
    ) -> None:
        self.sensor = sensor
        self.setuid_roots = [os.fspath(r) for r in setuid_roots]
        self.ports = {li.key for li in listening_ports()}
        # declared service ports ("udp/5004"): never an alert, on any address
        self.expected = {parse_port(p) for p in expected_ports}
        self.setuid = setuid_files(self.setuid_roots)

    def check(self) -> list[events.Record]:
        out: list[events.Record] = []
        for li in listening_ports():
            if li.key in self.ports or (li.proto.rstrip("6"), li.port) in self.expected:
                continue
            self.ports.add(li.key)
            out.append(
                events.alert(
                    sensor=self.sensor,
                    signature_id=self.SID_PORT,
                    signature=f"GOVNET HIDS new listening port {li.proto}/{li.port} "
                    f"({li.process or 'unknown'})",
                    category="HIDS process and port check",
                    severity=2,
                    dest_ip=li.ip,
                    dest_port=li.port,
                    proto=li.proto.rstrip("6").upper(),
                    extra={"hids": {"listener": li.__dict__}},
                )
            )
        now = setuid_files(self.setuid_roots)
        for path in sorted(now - self.setuid):
            out.append(
                events.alert(
                    sensor=self.sensor,
                    signature_id=self.SID_SETUID,
                    signature=f"GOVNET HIDS new setuid/setgid file: {path}",
                    category="HIDS process and port check",
                    severity=1,
                    extra={"hids": {"path": path, "changes": ["setuid-added"]}},
                )
            )
        self.setuid = now
        return out
