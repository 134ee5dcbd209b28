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

The controller's parts live beside this module: `pair_steering` (the slot table on the steering
points), `pair_health` (probes, failover, sync health), `pair_balance` (measurement, rebalance,
ruleset parity), `pair_control` (the control socket and `request`), `pair_state` (shared state,
events and alarms) and `pair_ns` (commands and sockets in a node's namespace).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firewall import conntrackd
from firewall.errors import FirewallError
from firewall.pair_balance import PairBalance
from firewall.pair_control import PairControl, request
from firewall.pair_health import PairHealth
from firewall.pair_ns import member_devices, ns_run
from firewall.pair_state import Log, MemberState
from firewall.pair_steering import PairSteering
from firewall.plan import PairPlan
from firewall.slots import SlotTable, evenness
from govnet.events import EventLog
from govnet.metrics import Point
from govnet.supervise import Lifecycle

if TYPE_CHECKING:
    from topology.emulator.handle import EmulatorHandle

HASH_FIELDS = 0x37  # src/dst address, ip protocol, src/dst port
HASH_SEED = 4242  # net.ipv4.fib_multipath_hash_seed (kernel >= 6.11); older kernels share one seed
SOCKET_NAME = "control.sock"

__all__ = ["FirewallError", "Pair", "member_devices", "ns_run", "request"]


def _quiet(_m: str) -> None:
    pass


class Pair(PairSteering, PairHealth, PairBalance, PairControl, Lifecycle):
    def __init__(
        self,
        emu: EmulatorHandle,
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
