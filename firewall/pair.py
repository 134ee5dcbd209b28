"""The live firewall pair: state sync, symmetric slot steering, sub-second health probes, load balancing.

`Pair(emu, plan, rundir)` (a context manager, used inside an `Emulation`):
1. starts conntrackd (FTFW) in every member, over the sync LAN;
2. installs at every steering point the same nexthop group of `SLOTS` slot nexthops (ids
   `NH_BASE + i`, group `GROUP_ID`) and routes the steered prefixes through it; the multipath hash is
   set to L4, with one seed everywhere, so both directions of a flow pick the same slot;
3. probes every member from every steering point every 100 ms (raw ICMP sockets opened inside each
   point's namespace) and every member's sync address from its peers; a member silent for `misses`
   probes at any point is taken out of the table at once (its slots go to the survivors);
4. measures each member (packets/s and bytes/s from its namespace's /proc/net/dev, sessions and
   invalid packets from /proc/net/stat/nf_conntrack) and moves one slot at a time from the busiest
   member to the least busy (dead band 15 %, one move per `rebalance_s`);
5. answers `govnet fw status|drain|add` on a UNIX socket recorded in the emulation's state file;
6. writes events (failover, drain, add, rebalance, sync_dead, split_brain, asymmetric_return,
   parity_drift, probe_disagreement) to the run's event log.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import select
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firewall import conntrackd
from firewall.plan import PairPlan
from firewall.slots import SlotTable, evenness
from govnet import netns
from govnet.errors import GovnetError
from govnet.events import EventLog, event
from govnet.metrics import Point

NH_BASE = 200_000  # far above FRR zebra's own nexthop ids
GROUP_ID = 201_000
PIN_TABLE = 100  # routing table (and rule priority) of member i's pinned sessions: PIN_TABLE + i
HASH_FIELDS = 0x37  # src/dst address, ip protocol, src/dst port
HASH_SEED = 4242  # net.ipv4.fib_multipath_hash_seed (kernel >= 6.11); older kernels share one seed
SOCKET_NAME = "control.sock"

Log = Callable[[str], None]


class FirewallError(GovnetError):
    """A firewall-pair operation failed (unknown member, no survivor, controller not running)."""


def _quiet(_m: str) -> None:
    pass


# namespaces ------------------------------------------------------------------------------------
def socket_in_netns(pid: int, family: int, kind: int, proto: int) -> socket.socket:
    """A socket created inside the network namespace of `pid` (FirewallError if it cannot be)."""
    try:
        return netns.socket_in_netns(pid, family, kind, proto)
    except OSError as exc:
        raise FirewallError(f"cannot open a probe socket in namespace of pid {pid}: {exc}") from None


def ns_run(
    pid: int, argv: list[str], stdin: str = "", timeout: float = 10.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nsenter", f"--net=/proc/{pid}/ns/net", "--", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = int(sum(struct.unpack(f"!{len(data) // 2}H", data)))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def echo_request(ident: int, seq: int) -> bytes:
    hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    payload = b"govnet-fw-probe"
    return struct.pack("!BBHHH", 8, 0, _checksum(hdr + payload), ident, seq) + payload


# state ---------------------------------------------------------------------------------------
@dataclass
class MemberState:
    name: str
    state: str = "active"  # active | drained | failed | ready (healthy, out of service)
    sessions: int = 0
    invalid: int = 0
    pps: float = 0.0
    bps: float = 0.0
    since: float = field(default_factory=time.time)
    _last: tuple[float, int, int] | None = None  # (t, rx packets, rx bytes)


class Pair:
    def __init__(
        self,
        emu: Any,
        plan: PairPlan,
        rundir: Path,
        *,
        events: EventLog | None = None,
        log: Log = _quiet,
        probe_interval_s: float = 0.1,
        misses: int = 3,
        rebalance_s: float = 2.0,
        balance: bool = True,
        sample_s: float = 1.0,
    ) -> None:
        self.emu = emu
        self.plan = plan
        self.rundir = Path(rundir)
        self.events = events
        self.log = log
        self.interval = probe_interval_s
        self.misses = misses
        self.rebalance_s = rebalance_s
        self.balance = balance
        self.sample_s = sample_s
        self.table = SlotTable.even(plan.names)
        self.members = {m: MemberState(m) for m in plan.names}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []
        self._last_ok: dict[tuple[str, str], float] = {}
        self._sync_ok: dict[tuple[str, str], float] = {}
        self._alarms: set[str] = set()
        self.sink: Callable[[list[Point]], None] | None = None  # e.g. a TSDB Writer's write
        self._rules: dict[str, set[int]] = {}  # per steering point, members whose pin rule is installed
        self._server: socket.socket | None = None
        self.socket_path: Path | None = None
        self.history: list[dict[str, Any]] = []
        self.applies = 0
        self._started = 0.0

    # lifecycle -----------------------------------------------------------------------------------
    def __enter__(self) -> Pair:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        tmp = self.emu.temp_dir("fw")
        self._conf_dir = tmp
        cfgdir = self.rundir / "config" / "fw-pair"
        cfgdir.mkdir(parents=True, exist_ok=True)
        (cfgdir / "plan.json").write_text(json.dumps(self.plan.to_dict(), indent=1) + "\n")
        for m in self.plan.members:
            d = tmp / m.name
            d.mkdir()
            conf = conntrackd.render(self.plan, m, d)
            (cfgdir / f"{m.name}-conntrackd.conf").write_text(conf)
            (d / "conntrackd.conf").write_text(conf)
            r = ns_run(self.emu.pid(m.name), ["conntrackd", "-d", "-C", str(d / "conntrackd.conf")])
            if r.returncode != 0:
                raise FirewallError(
                    f"conntrackd failed to start on {m.name}: {(r.stderr or r.stdout).strip()[-300:]}"
                )
        for p in self.plan.points:
            # Policy 3 (custom fields: addresses, protocol, ports) hashes every packet from its headers;
            # policy 1 would reuse a forwarded packet's socket hash (skb->l4_hash, random per sender
            # socket), which breaks symmetry between the two directions of a flow.
            sysctls = [
                "net.ipv4.fib_multipath_hash_policy=3",
                f"net.ipv4.fib_multipath_hash_fields={HASH_FIELDS:#x}",
            ]
            if Path("/proc/sys/net/ipv4/fib_multipath_hash_seed").exists():
                sysctls.append(f"net.ipv4.fib_multipath_hash_seed={HASH_SEED}")
            ns_run(self.emu.pid(p.node), ["sysctl", "-q", "-w", *sysctls])
        self._macs = self._member_macs()
        for p in self.plan.points:
            r = ns_run(self.emu.pid(p.node), ["nft", "-f", "-"], stdin=self.pin_ruleset(p.node))
            if r.returncode != 0:
                raise FirewallError(f"session pinning rules failed on {p.node}: {r.stderr.strip()[-300:]}")
        self.apply()
        self._open_probes()
        now = time.monotonic()
        for p in self.plan.points:
            for name in self.plan.names:
                self._last_ok[(p.node, name)] = now
        for a in self.plan.members:
            for b in self.plan.members:
                if a.name != b.name:
                    self._sync_ok[(a.name, b.name)] = now
        self._serve(tmp / SOCKET_NAME)
        self.emu.annotate("fw_socket", str(tmp / SOCKET_NAME))
        self._started = time.monotonic()
        for target, name in (
            (self._probe_loop, "fw-probe"),
            (self._sample_loop, "fw-sample"),
            (self._serve_loop, "fw-control"),
        ):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        self._event("fw", action="start", members=self.plan.names, shares=self.table.shares())
        self.log(
            f"firewall pair active/active: {', '.join(self.plan.names)} "
            f"over {len(self.plan.points)} steering points"
        )

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2)
        self._threads.clear()
        for s in self._socks:
            with contextlib.suppress(OSError):
                s.close()
        self._socks.clear()
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.close()
            self._server = None
        if self.socket_path is not None:
            with contextlib.suppress(OSError):
                self.socket_path.unlink()

    # the table -----------------------------------------------------------------------------------
    def _member_macs(self) -> dict[str, str]:
        """MAC address of every member address a steering point uses (to tell members apart on a LAN)."""
        want = {v.gateway for p in self.plan.points for v in p.via}
        out: dict[str, str] = {}
        for m in self.plan.names:
            r = ns_run(self.emu.pid(m), ["ip", "-j", "addr"])
            for link in json.loads(r.stdout or "[]"):
                for a in link.get("addr_info", []):
                    if a.get("local") in want:
                        out[a["local"]] = link.get("address", "")
        return out

    def pin_ruleset(self, node: str) -> str:
        """nftables at a steering point: a session stays on the member that saw its first packet.

        A new connection is marked with the member it arrived from (incoming) or was sent to (outgoing,
        chosen by the slot hash); every later packet carries that mark and is routed by the member's
        own table (`ip rule fwmark`), so both directions of a session cross one member. When a member
        leaves (failure, drain) its rule goes and its sessions fall back to the slot table; the member
        that takes them over already holds their state (conntrackd)."""
        p = next(x for x in self.plan.points if x.node == node)
        shared_dev = len({v.dev for v in p.via}) < len(p.via)
        pre, post = [], []
        for i, v in enumerate(p.via):
            mark = i + 1
            if shared_dev:
                pre.append(
                    f"    ct state new ether saddr {self._macs.get(v.gateway, '00:00:00:00:00:00')} "
                    f"ct mark set {mark}"
                )
                post.append(f"    ct mark 0 ct state new rt ip nexthop {v.gateway} ct mark set {mark}")
            else:
                pre.append(f'    ct state new iifname "{v.dev}" ct mark set {mark}')
                post.append(f'    ct mark 0 ct state new oifname "{v.dev}" ct mark set {mark}')
        return "\n".join(
            [
                "table ip govnet_steer {",
                "  chain pre {",
                "    type filter hook prerouting priority mangle; policy accept;",
                *pre,
                "    meta mark set ct mark",
                "  }",
                "  chain out {",
                "    type route hook output priority mangle; policy accept;",
                "    meta mark set ct mark",
                "  }",
                "  chain post {",
                "    type filter hook postrouting priority mangle; policy accept;",
                *post,
                "  }",
                "}",
                "",
            ]
        )

    def batch(self, node: str) -> str:
        """The `ip -batch` text that puts the current slot table on one steering point."""
        p = next(x for x in self.plan.points if x.node == node)
        lines = []
        for i, member in enumerate(self.table.slots):
            v = p.via_for(member)
            lines.append(f"nexthop replace id {NH_BASE + i} via {v.gateway} dev {v.dev}")
        lines.append(
            f"nexthop replace id {GROUP_ID} group "
            + "/".join(str(NH_BASE + i) for i in range(len(self.table.slots)))
        )
        lines += [f"route replace {prefix} nhid {GROUP_ID}" for prefix in p.prefixes]
        # per-member tables for pinned sessions; a member out of service loses its rule
        installed = self._rules.setdefault(node, set())
        for i, v in enumerate(p.via):
            if i in installed:
                lines.append(f"rule del fwmark {i + 1} lookup {PIN_TABLE + i}")
                installed.discard(i)
            lines += [
                f"route replace {prefix} via {v.gateway} dev {v.dev} table {PIN_TABLE + i}"
                for prefix in p.prefixes
            ]
            lines += [f"route replace throw {prefix} table {PIN_TABLE + i}" for prefix in p.own_side]
            if self.members[v.member].state == "active":
                lines.append(f"rule add fwmark {i + 1} lookup {PIN_TABLE + i} priority {PIN_TABLE + i}")
                installed.add(i)
        return "\n".join(lines) + "\n"

    def apply(self) -> None:
        """Write the table to every steering point at once (in parallel); errors name the point."""
        with self._lock:
            jobs = {p.node: self.batch(p.node) for p in self.plan.points}
        errors: dict[str, str] = {}

        def one(node: str, text: str) -> None:
            r = ns_run(self.emu.pid(node), ["ip", "-force", "-batch", "-"], stdin=text)
            if r.returncode != 0:
                errors[node] = (r.stderr or r.stdout).strip()[-300:]

        threads = [threading.Thread(target=one, args=kv) for kv in jobs.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.applies += 1
        if errors:
            self.log(
                f"fw: applying the slot table failed on {', '.join(errors)}: {next(iter(errors.values()))}"
            )

    # operator actions ----------------------------------------------------------------------------
    def drain(self, member: str) -> dict[str, Any]:
        with self._lock:
            self._known(member)
            ms = self.members[member]
            if ms.state != "active":
                raise FirewallError(f"{member} is {ms.state}, not in service; nothing to drain")
            in_service = [m for m in self.plan.names if self.members[m].state == "active"]
            try:
                moved = self.table.remove(member, in_service)
            except ValueError as exc:
                raise FirewallError(str(exc)) from None
            ms.state, ms.since = "drained", time.time()
        self.apply()
        self._event("fw", action="drain", member=member, moved_slots=len(moved), shares=self.table.shares())
        return {"member": member, "moved_slots": len(moved), "shares": self.table.shares()}

    def add(self, member: str) -> dict[str, Any]:
        with self._lock:
            self._known(member)
            ms = self.members[member]
            if ms.state == "active":
                raise FirewallError(f"{member} is already in service")
            if not self._healthy(member):
                raise FirewallError(f"{member} does not answer its health probes; fix it before adding it")
            moved = self.table.add(member)
            ms.state, ms.since = "active", time.time()
        # a member that was away has a stale table: pull every live session from its peers first
        conf = self._conf_dir / member / "conntrackd.conf"
        ns_run(self.emu.pid(member), ["conntrackd", "-C", str(conf), "-n"])
        self.apply()
        self._event("fw", action="add", member=member, moved_slots=len(moved), shares=self.table.shares())
        return {"member": member, "moved_slots": len(moved), "shares": self.table.shares()}

    def status(self) -> dict[str, Any]:
        with self._lock:
            shares = self.table.shares()
            live_loads = {m: s.pps for m, s in self.members.items() if s.state == "active"}
            total = sum(live_loads.values())
            return {
                "members": [
                    {
                        "name": m,
                        "state": s.state,
                        "slot_share": round(shares[m], 4),
                        "load_share": round(s.pps / total, 4) if total > 0 and s.state == "active" else 0.0,
                        "sessions": s.sessions,
                        "pps": round(s.pps, 1),
                        "mbps": round(s.bps * 8 / 1e6, 3),
                        "invalid": s.invalid,
                        "healthy": self._healthy(m),
                    }
                    for m, s in self.members.items()
                ],
                "sync": self._sync_health(),
                "alarms": sorted(self._alarms),
                "evenness": evenness({m: v for m, v in live_loads.items()}) if total > 0 else 1.0,
                "points": [p.node for p in self.plan.points],
                "slots": len(self.table.slots),
                "applies": self.applies,
            }

    # probes --------------------------------------------------------------------------------------
    def _open_probes(self) -> None:
        self._probe_socks: list[
            tuple[socket.socket, str, dict[str, str]]
        ] = []  # (sock, owner, addr -> member)
        for p in self.plan.points:
            s = socket_in_netns(self.emu.pid(p.node), socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            s.setblocking(False)
            self._socks.append(s)
            self._probe_socks.append((s, p.node, {v.gateway: v.member for v in p.via}))
        for m in self.plan.members:
            if not m.sync_addr:
                continue
            s = socket_in_netns(self.emu.pid(m.name), socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            s.setblocking(False)
            self._socks.append(s)
            peers = {
                o.sync_addr.split("/")[0]: o.name
                for o in self.plan.members
                if o.name != m.name and o.sync_addr
            }
            self._probe_socks.append((s, "sync:" + m.name, peers))

    def _probe_loop(self) -> None:
        seq = 0
        ident = os.getpid() & 0xFFFF
        while not self._stop.is_set():
            tick = time.monotonic()
            seq = (seq + 1) & 0xFFFF
            pkt = echo_request(ident, seq)
            for s, _owner, targets in self._probe_socks:
                for addr in targets:
                    with contextlib.suppress(OSError):
                        s.sendto(pkt, (addr, 0))
            deadline = tick + self.interval
            while (left := deadline - time.monotonic()) > 0:
                ready, _, _ = select.select([x[0] for x in self._probe_socks], [], [], left)
                now = time.monotonic()
                for s in ready:
                    owner, targets = next((o, t) for x, o, t in self._probe_socks if x is s)
                    while True:
                        try:
                            data, (src, _port) = s.recvfrom(2048)
                        except (BlockingIOError, OSError):
                            break
                        ihl = (data[0] & 0x0F) * 4 if data else 0
                        if len(data) < ihl + 8 or data[ihl] != 0:
                            continue
                        rid = struct.unpack("!H", data[ihl + 4 : ihl + 6])[0]
                        if rid != ident or src not in targets:
                            continue
                        if owner.startswith("sync:"):
                            self._sync_ok[(owner[5:], targets[src])] = now
                        else:
                            self._last_ok[(owner, targets[src])] = now
            try:
                self._judge()
            except Exception as exc:  # the controller must outlive any one bad decision
                self.log(f"fw controller: {exc}")

    def _healthy(self, member: str) -> bool:
        limit = self.misses * self.interval + self.interval / 2
        now = time.monotonic()
        return all(now - self._last_ok.get((p.node, member), 0.0) <= limit for p in self.plan.points)

    def _judge(self) -> None:
        limit = self.misses * self.interval + self.interval / 2
        now = time.monotonic()
        changed = False
        for m in self.plan.names:
            ages = {p.node: now - self._last_ok.get((p.node, m), 0.0) for p in self.plan.points}
            dead_at = [n for n, a in ages.items() if a > limit]
            ms = self.members[m]
            if dead_at and len(dead_at) < len(ages):
                self._alarm(f"probe_disagreement:{m}", member=m, silent_at=dead_at)
            elif not dead_at:
                self._clear(f"probe_disagreement:{m}")
            if dead_at and ms.state == "active":
                with self._lock:
                    survivors = [x for x in self.plan.names if x != m and self.members[x].state == "active"]
                    if not survivors:
                        self._alarm("no_survivor", member=m)
                        continue
                    moved = self.table.remove(m, survivors)
                    ms.state, ms.since = "failed", time.time()
                changed = True
                silent = max(ages[n] for n in dead_at)
                self._event(
                    "fw",
                    action="failover",
                    member=m,
                    silent_s=round(silent, 3),
                    moved_slots=len(moved),
                    to=survivors,
                )
            elif not dead_at and ms.state == "failed":
                ms.state, ms.since = "ready", time.time()
                self._event(
                    "fw",
                    action="recovered",
                    member=m,
                    note="healthy again; 'govnet fw add' returns it to service",
                )
        if changed:
            self.apply()
        # sync LAN: every pair of healthy members must hear each other
        health = self._sync_health()
        if health["state"] == "dead":
            self._alarm("sync_dead", pairs=health["dead_pairs"])
            if sum(1 for s in self.members.values() if s.state == "active") > 1:
                self._alarm("split_brain", note="members carry traffic without shared state")
        else:
            self._clear("sync_dead")
            self._clear("split_brain")

    def _sync_health(self) -> dict[str, Any]:
        limit = max(1.0, self.misses * self.interval * 3)
        now = time.monotonic()
        dead = [
            f"{a}->{b}"
            for (a, b), t in self._sync_ok.items()
            if now - t > limit and self._healthy(a) and self._healthy(b)
        ]
        return {"state": "dead" if dead else "ok", "dead_pairs": dead}

    # measurement and balance ---------------------------------------------------------------------
    def _sample_loop(self) -> None:
        last_balance = time.monotonic()
        last_parity = 0.0
        while not self._stop.wait(self.sample_s):
            try:
                self._sample()
                if self.sink is not None:
                    self.sink(self.points())
                now = time.monotonic()
                if self.balance and now - last_balance >= self.rebalance_s:
                    last_balance = now
                    self._rebalance()
                if now - last_parity >= 10.0:
                    last_parity = now
                    self._parity()
            except Exception as exc:
                self.log(f"fw sampler: {exc}")

    def _sample(self) -> None:
        sync_devs = {m.sync_dev for m in self.plan.members}
        for m in self.plan.names:
            ms = self.members[m]
            pid = self.emu.pid(m)
            pk = by = 0
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]:
                    dev, _, rest = line.partition(":")
                    dev = dev.strip()
                    if dev == "lo" or dev in sync_devs:
                        continue
                    f = rest.split()
                    by += int(f[0])
                    pk += int(f[1])
            t = time.monotonic()
            if ms._last is not None:
                dt = t - ms._last[0]
                if dt > 0:
                    a = 0.5  # EWMA over samples
                    ms.pps = (1 - a) * ms.pps + a * max(0, pk - ms._last[1]) / dt
                    ms.bps = (1 - a) * ms.bps + a * max(0, by - ms._last[2]) / dt
            ms._last = (t, pk, by)
            with contextlib.suppress(OSError, ValueError, IndexError):
                rows = Path(f"/proc/{pid}/net/stat/nf_conntrack").read_text().splitlines()[1:]
                ms.sessions = int(rows[0].split()[0], 16)
                invalid = sum(int(r.split()[4], 16) for r in rows if r.strip())
                if ms._last and invalid - ms.invalid > 50 and ms.invalid:
                    self._alarm(f"asymmetric_return:{m}", member=m, invalid_new=invalid - ms.invalid)
                ms.invalid = invalid

    def points(self) -> list[Point]:
        """The `fw` measurement for every member, now (validated by the metric registry on write)."""
        shares = self.table.shares()
        total = sum(s.pps for s in self.members.values() if s.state == "active")
        t_ns = time.time_ns()
        return [
            Point(
                "fw",
                {"node": m},
                {
                    "sessions": s.sessions,
                    "pps": round(s.pps, 3),
                    "bps": round(s.bps * 8, 1),
                    "load_share": round(s.pps / total, 4) if total > 0 and s.state == "active" else 0.0,
                    "slot_share": round(shares[m], 4),
                    "in_service": s.state == "active",
                    "healthy": self._healthy(m),
                },
                t_ns,
            )
            for m, s in self.members.items()
        ]

    def _rebalance(self) -> None:
        with self._lock:
            load = {m: s.pps for m, s in self.members.items() if s.state == "active"}
            if sum(load.values()) < 200:  # too little traffic to judge
                return
            moved = self.table.rebalance(load)
        if moved:
            self.apply()
            self._event(
                "fw",
                action="rebalance",
                moved_slots=moved,
                load_pps={k: round(v) for k, v in load.items()},
                shares=self.table.shares(),
            )

    def _parity(self) -> None:
        digests = {}
        for m in self.plan.names:
            r = ns_run(self.emu.pid(m), ["nft", "list", "table", "inet", "govnet"])
            if r.returncode == 0:
                body = "\n".join(x for x in r.stdout.splitlines() if "counter packets" not in x)
                digests[m] = hashlib.sha256(body.encode()).hexdigest()[:16]
        if len(set(digests.values())) > 1:
            self._alarm("parity_drift", digests=digests)
        else:
            self._clear("parity_drift")

    # control socket ------------------------------------------------------------------------------
    def _serve(self, path: Path) -> None:
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(str(path))
        os.chmod(path, 0o600)
        srv.listen(8)
        srv.settimeout(0.2)
        self._server = srv
        self.socket_path = path

    def _serve_loop(self) -> None:
        assert self._server is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    req = json.loads(conn.makefile("r").readline() or "{}")
                    op = req.get("op")
                    if op == "status":
                        reply: dict[str, Any] = {"ok": True, "status": self.status()}
                    elif op == "drain":
                        reply = {"ok": True, "result": self.drain(str(req.get("member", "")))}
                    elif op == "add":
                        reply = {"ok": True, "result": self.add(str(req.get("member", "")))}
                    else:
                        reply = {"ok": False, "error": f"unknown operation {op!r}"}
                except (FirewallError, ValueError) as exc:
                    reply = {"ok": False, "error": str(exc)}
                with contextlib.suppress(OSError):
                    conn.sendall((json.dumps(reply) + "\n").encode())

    # rulesets ------------------------------------------------------------------------------------
    def load_ruleset(self, text: str, source: str = "<ruleset>") -> None:
        """Replace the zone policy on every member, all or nothing.

        Each member first checks the ruleset (`nft -c`); only when every member accepts it is it loaded,
        and each load is one nftables transaction (the file flushes and re-creates the table), so a
        member never runs half a ruleset. A rejected ruleset leaves every member on its previous one,
        identical across members (the parity check keeps watching)."""
        body = "flush ruleset\n" + text if "flush ruleset" not in text else text
        errors = {}
        for m in self.plan.names:
            r = ns_run(self.emu.pid(m), ["nft", "-c", "-f", "-"], stdin=body)
            if r.returncode != 0:
                errors[m] = (r.stderr or r.stdout).strip().replace("/dev/stdin", source)
        if errors:
            first = next(iter(errors.values())).splitlines()
            raise FirewallError(
                f"{source}: ruleset refused, the previous one stays on every member: "
                + (first[0] if first else "nft rejected it")
            )
        for m in self.plan.names:
            r = ns_run(self.emu.pid(m), ["nft", "-f", "-"], stdin=body)
            if r.returncode != 0:
                raise FirewallError(f"{source}: loading on {m} failed: {r.stderr.strip()[:300]}")
        self._event("fw", action="ruleset", members=self.plan.names, source=source)

    # fault injection ---------------------------------------------------------------------------------
    def crash(self, member: str) -> None:
        """The member loses power: every port goes dark at once, its state daemon and table are gone."""
        self._known(member)
        pid = self.emu.pid(member)
        ns_run(pid, ["pkill", "-KILL", "-f", f"conntrackd -d -C {self._conf_dir / member}/"])
        batch = "".join(f"link set {d} down\n" for d in member_devices(self.emu, member))
        ns_run(pid, ["ip", "-force", "-batch", "-"], stdin=batch)
        ns_run(pid, ["conntrack", "-F"])

    def restore(self, member: str) -> None:
        """Power back: ports up, configuration re-applied, conntrackd restarted and resynchronised.
        The member stays out of service until `add` (an operator's decision)."""
        self._known(member)
        pid = self.emu.pid(member)
        batch = "".join(f"link set {d} up\n" for d in member_devices(self.emu, member))
        ns_run(pid, ["ip", "-force", "-batch", "-"], stdin=batch)
        self.emu.reapply(member)
        conf = self._conf_dir / member / "conntrackd.conf"
        for leftover in ("conntrackd.lock", "conntrackd.ctl"):  # a killed daemon leaves them behind
            (self._conf_dir / member / leftover).unlink(missing_ok=True)
        r = ns_run(pid, ["conntrackd", "-d", "-C", str(conf)])
        if r.returncode != 0:
            raise FirewallError(
                f"conntrackd failed to restart on {member}: {(r.stderr or r.stdout).strip()[-300:]}"
            )

    # events --------------------------------------------------------------------------------------
    def _known(self, member: str) -> None:
        if member not in self.members:
            raise FirewallError(f"no firewall member named {member!r}; members: {', '.join(self.plan.names)}")

    def _event(self, kind: str, **detail: Any) -> None:
        rec = event(kind, sensor="fw-controller", **detail)
        self.history.append(rec)
        self.log(f"fw: {detail.get('action', kind)} {detail.get('member', '')}".rstrip())
        if self.events is not None:
            self.events.write(rec)

    def _alarm(self, key: str, **detail: Any) -> None:
        if key in self._alarms:
            return
        self._alarms.add(key)
        self._event("fw", action="alarm", alarm=key.split(":")[0], **detail)

    def _clear(self, key: str) -> None:
        if key in self._alarms:
            self._alarms.discard(key)
            self._event("fw", action="alarm_cleared", alarm=key.split(":")[0])


def request(
    op: str, member: str = "", socket_path: str | None = None, timeout: float = 10.0
) -> dict[str, Any]:
    """Ask the running pair controller (found through the emulation's state file) to act."""
    path = socket_path
    if path is None:
        from topology.emulator.state import active_records

        recs = [r for r in active_records() if r.get("fw_socket")]
        if not recs:
            raise FirewallError(
                "no running emulation has a firewall pair controller; start one with "
                "'sudo govnet topo up' (a model with firewall_members >= 2) or 'govnet lab run ...'"
            )
        path = str(recs[0]["fw_socket"])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall((json.dumps({"op": op, "member": member}) + "\n").encode())
        reply = json.loads(s.makefile("r").readline() or "{}")
    except (OSError, json.JSONDecodeError) as exc:
        raise FirewallError(f"the pair controller at {path} did not answer: {exc}") from None
    finally:
        s.close()
    if not reply.get("ok"):
        raise FirewallError(str(reply.get("error", "the controller refused")))
    return dict(reply)


def member_devices(emu: Any, member: str) -> list[str]:
    r = ns_run(emu.pid(member), ["ip", "-j", "link"])
    return [x["ifname"] for x in json.loads(r.stdout or "[]") if x.get("ifname") != "lo"]
