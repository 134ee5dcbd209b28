"""Built-in detectors: port scans, SYN floods, ICMP sweeps, SSH and web-login password guessing.

Each counts per key (a source, or a destination service) in a tumbling window that starts at the
key's first counted packet and alerts once per window when the count reaches its threshold. Time is
the packets' own timestamps, so a pcap replays exactly as it was captured.

| detector  | counts                                                       | key        | default      |
| --------- | ------------------------------------------------------------ | ---------- | ------------ |
| portscan  | distinct TCP destination ports of SYNs (no ACK)               | source     | 20 in 10 s   |
| udpscan   | distinct UDP destination ports (replies from ports < 1024 to  | source     | 20 in 10 s   |
|           | ports >= 1024 are not counted)                                |            |              |
| synflood  | half-open connections: SYNs whose handshake ACK was not seen  | dst + port | 200 in 5 s   |
| sweep     | distinct destinations of ICMP/ICMPv6 echo requests            | source     | 10 in 10 s   |
| ssh_guess | new TCP connections (SYNs) to SSH ports                       | source     | 10 in 60 s   |
| web_guess | HTTP `POST <login path>` requests to web ports                | source     | 10 in 60 s   |
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ids.nids.decode import ACK, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, SYN, Packet

# Built-in signature ids (outside the range of rules we ship: govnet.rules uses 1000001..1099999).
SID_PORTSCAN = 9000001
SID_UDPSCAN = 9000002
SID_SYNFLOOD = 9000003
SID_SWEEP = 9000004
SID_SSH_GUESS = 9000005
SID_WEB_GUESS = 9000006

DETECTORS = ("portscan", "udpscan", "synflood", "sweep", "ssh_guess", "web_guess")


@dataclass(frozen=True)
class Signature:
    """What a built-in detector reports: sid, text, classtype description and severity."""

    sid: int
    msg: str
    category: str
    severity: int


SIGNATURES = {
    "portscan": Signature(SID_PORTSCAN, "GOVNET SCAN TCP port scan", "Detection of a Network Scan", 2),
    "udpscan": Signature(SID_UDPSCAN, "GOVNET SCAN UDP port scan", "Detection of a Network Scan", 2),
    "synflood": Signature(SID_SYNFLOOD, "GOVNET DOS SYN flood", "Detection of a Denial of Service Attack", 1),
    "sweep": Signature(SID_SWEEP, "GOVNET SCAN ICMP ping sweep", "Detection of a Network Scan", 3),
    "ssh_guess": Signature(
        SID_SSH_GUESS, "GOVNET BRUTEFORCE SSH password guessing", "Attempted User Privilege Gain", 1
    ),
    "web_guess": Signature(
        SID_WEB_GUESS, "GOVNET BRUTEFORCE web login guessing", "Attempted User Privilege Gain", 1
    ),
}


@dataclass
class DetectorConfig:
    """Thresholds and windows of the built-in detectors; block seconds 0 = alert only, never block."""

    enabled: frozenset[str] = frozenset(DETECTORS)
    portscan_ports: int = 20
    portscan_window: float = 10.0
    udpscan_ports: int = 20
    udpscan_window: float = 10.0
    synflood_half_open: int = 200
    synflood_window: float = 5.0
    sweep_hosts: int = 10
    sweep_window: float = 10.0
    ssh_connections: int = 10
    ssh_window: float = 60.0
    ssh_ports: frozenset[int] = frozenset({22})
    web_posts: int = 10
    web_window: float = 60.0
    web_ports: frozenset[int] = frozenset({80, 8080, 8081})
    web_login_paths: tuple[bytes, ...] = (b"/login",)  # apps.oa: POST /login
    max_tracked: int = 100_000  # keys per detector; beyond, the oldest half is dropped (spoofed floods)
    block_seconds: int = 300  # every detector but synflood (its sources are spoofed: never blocked)
    extra: dict[str, Any] = field(default_factory=dict)

    def set(self, name: str, value: str) -> None:
        """Set one threshold from text (the CLI's `--set portscan_ports=50`)."""
        if name in ("enabled", "extra") or not hasattr(self, name):
            known = [k for k in self.__dataclass_fields__ if k not in ("enabled", "extra")]
            raise ValueError(f"unknown detector setting {name!r} (known: {', '.join(known)})")
        cur = getattr(self, name)
        shown = value if len(value) <= 40 else value[:37] + "..."
        if isinstance(cur, frozenset):
            ports = [_whole(v) for v in value.split(",")]
            if not all(1 <= p <= 65535 for p in ports):
                raise ValueError(
                    f"detector setting {name}: bad value {shown!r}: use ports 1..65535, e.g. {name}=22,2222"
                )
            setattr(self, name, frozenset(ports))
        elif isinstance(cur, tuple):
            paths = tuple(v.strip().encode() for v in value.split(","))
            if not all(p.startswith(b"/") and b" " not in p for p in paths):
                raise ValueError(
                    f"detector setting {name}: bad value {shown!r}: use URL paths, e.g. {name}=/login,/signin"
                )
            setattr(self, name, paths)
        elif isinstance(cur, int):
            n = _whole(value)
            least = 0 if name == "block_seconds" else 1  # block_seconds 0: alert, never block
            if n < least:
                what = "a whole number >= 0 (0: alert only)" if least == 0 else "a whole number > 0"
                raise ValueError(
                    f"detector setting {name}: bad value {shown!r}: use {what}, e.g. {name}={cur}"
                )
            setattr(self, name, n)
        else:
            try:
                f = float(value)
            except ValueError:
                f = math.nan
            if not (math.isfinite(f) and f > 0):
                raise ValueError(
                    f"detector setting {name}: bad value {shown!r}: use seconds > 0, e.g. {name}={cur:g}"
                )
            setattr(self, name, f)


def _whole(text: str) -> int:
    """A whole number in ASCII digits (-1 for anything else: a sign, '_', a fraction, words)."""
    t = text.strip()
    return int(t) if t.isascii() and t.isdigit() and len(t) <= 18 else -1


# A hit: (detector name, the packet that crossed the threshold, first time the key was counted).
Hit = tuple[str, Packet, float]


class _Window:
    """Per-key tumbling windows: a set (distinct items) or a counter, and whether it alerted."""

    __slots__ = ("_n", "evicted", "max_keys", "seconds", "state", "threshold")

    def __init__(self, threshold: int, seconds: float, max_keys: int = 100_000) -> None:
        self.threshold = threshold
        self.seconds = seconds
        self.max_keys = max_keys
        self.state: dict[object, list[Any]] = {}
        self._n = 0
        self.evicted = 0

    def add(self, key: object, item: object, ts: float) -> float | None:
        """Count item under key; the window's first time when this crosses the threshold, else None."""
        st = self.state.get(key)
        if st is None or ts - st[0] > self.seconds:
            if st is not None:
                del self.state[key]  # re-insert at the end: the dict stays ordered by window start
            elif len(self.state) >= self.max_keys:
                self._shed(ts)
            st = self.state[key] = [ts, set(), False]
            self._n += 1
            if self._n & 0xFFF == 0:
                self.purge(ts)
        items: set[object] = st[1]
        if st[2]:
            return None
        items.add(item)
        if len(items) >= self.threshold:
            st[2] = True
            st[1] = set()  # free the memory; the window stays alerted until it ends
            first: float = st[0]
            return first
        return None

    def _shed(self, now: float) -> None:
        """Bound memory under spoofed floods (a new key per packet): expire, then drop the oldest half."""
        self.purge(now)
        if len(self.state) >= self.max_keys:
            drop = list(itertools.islice(self.state, len(self.state) // 2))
            for k in drop:
                del self.state[k]
            self.evicted += len(drop)

    def purge(self, now: float) -> None:
        old = [k for k, st in self.state.items() if now - st[0] > self.seconds]
        for k in old:
            del self.state[k]


class Detectors:
    """The built-in detectors over a stream of decoded packets."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        c = self.config = config or DetectorConfig()
        on = c.enabled
        self._portscan = (
            _Window(c.portscan_ports, c.portscan_window, c.max_tracked) if "portscan" in on else None
        )
        self._udpscan = _Window(c.udpscan_ports, c.udpscan_window, c.max_tracked) if "udpscan" in on else None
        self._sweep = _Window(c.sweep_hosts, c.sweep_window, c.max_tracked) if "sweep" in on else None
        self._ssh = _Window(c.ssh_connections, c.ssh_window, c.max_tracked) if "ssh_guess" in on else None
        self._web = _Window(c.web_posts, c.web_window, c.max_tracked) if "web_guess" in on else None
        self._flood = (
            _Window(c.synflood_half_open, c.synflood_window, c.max_tracked) if "synflood" in on else None
        )
        self._paths = tuple(b"POST " + p for p in c.web_login_paths)
        self._serial = 0

    @property
    def evicted(self) -> int:
        """Keys dropped to bound memory (a flood of spoofed sources): a reason to trust counts less."""
        wins = (self._portscan, self._udpscan, self._sweep, self._ssh, self._web, self._flood)
        return sum(w.evicted for w in wins if w is not None)

    def inspect(self, p: Packet, hit: Callable[[str, Packet, float], None]) -> None:
        """Count one packet; call hit(detector, packet, first_seen) for each threshold crossed."""
        proto = p.proto
        if proto == PROTO_TCP:
            flags = p.flags
            if flags & (SYN | ACK) == SYN:
                key = (p.ver, p.src)
                if self._portscan is not None:
                    t = self._portscan.add(key, p.dport, p.ts)
                    if t is not None:
                        hit("portscan", p, t)
                if self._ssh is not None and p.dport in self.config.ssh_ports:
                    self._serial += 1
                    t = self._ssh.add(key, self._serial, p.ts)
                    if t is not None:
                        hit("ssh_guess", p, t)
                if self._flood is not None:
                    t = self._flood.add((p.ver, p.dst, p.dport), (p.src, p.sport), p.ts)
                    if t is not None:
                        hit("synflood", p, t)
            elif p.ack_only and self._flood is not None:
                st = self._flood.state.get((p.ver, p.dst, p.dport))
                if st is not None:
                    st[1].discard((p.src, p.sport))  # the handshake completed: not half-open
            elif (
                self._web is not None
                and p.end - p.pay > 10
                and p.dport in self.config.web_ports
                and p.buf[p.pay : p.pay + 5] == b"POST "
            ):
                line = p.buf[p.pay : p.pay + 80]
                for path in self._paths:
                    if line.startswith(path) and line[len(path) : len(path) + 1] in (b" ", b"?"):
                        self._serial += 1
                        t = self._web.add((p.ver, p.src), self._serial, p.ts)
                        if t is not None:
                            hit("web_guess", p, t)
                        break
        elif proto == PROTO_UDP:
            if self._udpscan is not None and not (p.sport < 1024 <= p.dport) and p.end >= p.pay:
                t = self._udpscan.add((p.ver, p.src), p.dport, p.ts)
                if t is not None:
                    hit("udpscan", p, t)
        elif (
            proto in (PROTO_ICMP, PROTO_ICMPV6)
            and self._sweep is not None
            and ((proto == PROTO_ICMP and p.icmp_type == 8) or (proto == PROTO_ICMPV6 and p.icmp_type == 128))
        ):
            t = self._sweep.add((p.ver, p.src), p.dst, p.ts)
            if t is not None:
                hit("sweep", p, t)
