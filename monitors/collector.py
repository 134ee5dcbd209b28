"""The monitoring stack of one running emulation, feeding the metrics store.

- SNMP: snmpd in every router, firewall and server (SNMPv3 authPriv); the poller runs in the NOC
  host's namespace, as a network-management station would, and streams JSON lines back here.
- Link counters: every end of every model link, bridge ports in the root namespace included, read
  from the kernel each interval (an RMON-style history per port), tagged with the model link name.

Every point is validated against the metric registry by the writer. A device that does not answer
is a recorded timeout in the `poller` series; nothing here stops the lab.

With `on_event`, what the lab should hear of is also a typed event (govnet.events.Event): ruleset
drift between firewall members (`fw.drift`, once when it appears), and points refused by the
registry or dropped by the writer (`monitor.gap`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from govnet.errors import GovnetError
from govnet.events import Event
from govnet.metrics import Point
from govnet.secure import write_private
from govnet.supervise import Lifecycle, stop_all
from govnet.tsdb_writer import Writer
from monitors.cycles import poller_point
from monitors.devcli import DriftWatch, cli_nodes, drift, firewall_groups, make_client_key, start_sshd
from monitors.linkstats import LinkSampler, link_ends, processes_per_netns, socket_count
from monitors.rates import RateTracker, Sample
from monitors.snmp import SnmpCredentials, agent_address, poll_targets, restart_agent, start_agents
from topology.emulator.handle import EmulatorHandle

Log = Callable[[str], None]
Popen = subprocess.Popen[Any]


def _quiet(_msg: str) -> None:
    pass


# Measured here: one poller with 16 requests in flight polls the reference network's 75 SNMPv3
# authPriv agents in 0.6-0.8 s (with every request in flight at once the answers overflowed the UDP
# receive buffer and ~20 were lost). Bigger networks are polled less often, as an NMS would; the
# kernel link counters keep their 1 s resolution regardless.
DEVICES_PER_SECOND = 90


def snmp_interval(targets: int, base_s: float) -> float:
    """The SNMP poll interval for this many devices: base_s, stretched so one poller keeps up."""
    return max(base_s, float(-(-targets // DEVICES_PER_SECOND)))


class LabMonitor(Lifecycle):
    """Start with `start()` (or `with`), stop with `stop()`; points go to `writer` (owned by the caller)."""

    def __init__(
        self,
        emu: EmulatorHandle,
        workdir: Path,
        writer: Writer,
        interval_s: float = 1.0,
        log: Log = _quiet,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        self.emu = emu
        self.on_event = on_event
        self.net = emu.model
        self.workdir = Path(workdir)
        self.writer = writer
        self.interval_s = interval_s
        self.log = log
        self.ends = {(e.node, e.ifname): e for e in link_ends(self.net)}
        self.rates = RateTracker()
        self.points = 0
        self.rejected = 0
        self.samples = 0  # fields written: VictoriaMetrics stores each field of a point as one sample
        self.counts: dict[str, int] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._agents: dict[str, Popen] = {}
        self._poller: Popen | None = None
        self._host_agents: dict[str, Popen] = {}
        self._sshd: dict[str, Popen] = {}
        self._creds = SnmpCredentials()
        self._cli: Popen | None = None
        self.drift: dict[str, bool] = {}
        self._drift_watch = DriftWatch(firewall_groups(self.net))
        self.dropped_reported = 0
        self.noc = next((n.name for n in self.net.nodes if n.is_host and n.zone == "management"), "")

    # lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        pids = {n.name: self.emu.node(n.name).pid for n in self.net.nodes if not n.is_switch}
        sampler = LinkSampler(self.net, pids)
        self._spawn(self._kernel_loop, sampler)
        self._start_snmp()
        self._start_host_agents()
        self._start_cli()

    def stop(self) -> None:
        self._stop.set()
        # every process gets SIGTERM at once; the reader threads end when their pipes close
        stop_all(
            [
                self._poller,
                self._cli,
                *self._agents.values(),
                *self._host_agents.values(),
                *self._sshd.values(),
            ]
        )
        for t in self._threads:
            t.join(timeout=5)
        dropped = self.writer.stats().dropped  # points the store never got (memory or spill bound)
        if dropped > self.dropped_reported:
            self.dropped_reported = dropped
            self._event(Event("monitoring", "monitor.gap", "metrics writer", {"dropped_points": dropped}))

    def _event(self, ev: Event) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(ev)
        except Exception as exc:  # the receiver's bug must not end a reader thread
            self.log(f"monitoring: event receiver failed: {type(exc).__name__}: {exc}")

    def _spawn(self, fn: Callable[..., None], *args: Any) -> None:
        t = threading.Thread(target=fn, args=args, daemon=True, name=f"monitor-{fn.__name__}")
        t.start()
        self._threads.append(t)

    def _emit(self, points: list[Point]) -> None:
        if not points:
            return
        try:
            self.writer.write(points)
        except GovnetError as exc:  # a point the registry refuses is a bug to report, not a dead thread
            self.rejected += len(points)
            if self.rejected == len(points):
                self.log(f"monitoring: points refused: {exc}")
                self._event(Event("monitoring", "monitor.gap", "metric registry", {"refused": str(exc)}))
            return
        self.points += len(points)
        for p in points:
            self.counts[p.measurement] = self.counts.get(p.measurement, 0) + 1
            self.samples += len(p.fields)

    # kernel link counters ----------------------------------------------------------------------
    def _host_points(self, pids: dict[str, int], now_ns: int) -> list[Point]:
        """`host` points for hosts without a psutil agent (desktops), read from the root namespace:
        their own sockets and processes; CPU and memory are the one machine's, as for every host."""
        import psutil

        cpu, mem = psutil.cpu_percent(interval=None), psutil.virtual_memory()
        procs = processes_per_netns()
        pts = []
        for name, pid in pids.items():
            try:
                ino = os.stat(f"/proc/{pid}/ns/net").st_ino
            except OSError:
                continue
            fields: dict[str, int | float | bool] = {
                "cpu_pct": float(cpu),
                "mem_pct": float(mem.percent),
                "mem_used_bytes": int(mem.total - mem.available),
                "connections": socket_count(pid),
                "processes": procs.get(ino, 0),
            }
            pts.append(Point("host", {"node": name}, fields, now_ns))
        return pts

    def _kernel_loop(self, sampler: LinkSampler) -> None:
        agents = set(self._agent_hosts())
        desktops = {
            n.name: self.emu.node(n.name).pid for n in self.net.nodes if n.is_host and n.name not in agents
        }
        while not self._stop.is_set():
            t0 = time.monotonic()
            now_ns = time.time_ns()
            found = sampler.sample()
            pts = self._host_points(desktops, now_ns)
            for (node, ifname), c in found.items():
                end = self.ends[(node, ifname)]
                fields: dict[str, int | float | bool] = {
                    "rx_bytes": c.rx_bytes,
                    "tx_bytes": c.tx_bytes,
                    "errors": c.rx_errs + c.tx_errs,
                    "discards": c.rx_drop + c.tx_drop,
                }
                self._add_rates(fields, ("k", node, ifname), c.rx_bytes, c.tx_bytes, t0, None, end.bw_mbps)
                tags = {
                    "node": node,
                    "ifname": ifname,
                    "link": end.link,
                    "kind": end.kind,
                    "source": "kernel",
                }
                pts.append(Point("iface", tags, fields, now_ns))
            cycle = time.monotonic() - t0
            n = len(sampler.ends)
            pts.append(
                Point(
                    "poller",
                    {"poller": "kernel"},
                    {
                        "cycle_s": cycle,
                        "targets": n,
                        "answered": len(found),
                        "timeouts": n - len(found),
                        "completeness": len(found) / n if n else 1.0,
                        "data_age_s": cycle,
                    },
                    now_ns,
                )
            )
            self._emit(pts)
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - t0)))

    def _add_rates(
        self,
        fields: dict[str, int | float | bool],
        key: tuple[str, ...],
        rx: int,
        tx: int,
        t: float,
        uptime: float | None,
        bw_mbps: float,
    ) -> None:
        cap = bw_mbps * 1e6 / 8 * 2  # a plausible ceiling for wrap-versus-reset decisions
        rx_rate = self.rates.update((*key, "rx"), Sample(rx, t, uptime), max_rate=cap)
        tx_rate = self.rates.update((*key, "tx"), Sample(tx, t, uptime), max_rate=cap)
        if rx_rate is not None and tx_rate is not None:
            fields["rx_bps"] = rx_rate * 8
            fields["tx_bps"] = tx_rate * 8
            if bw_mbps:
                fields["utilisation"] = max(rx_rate, tx_rate) * 8 / (bw_mbps * 1e6)

    def cli_access(self) -> tuple[str, Path] | None:
        """(NOC host, private key) for root SSH to the routers and firewalls, once their sshd runs."""
        if not self._sshd or not self.noc:
            return None
        return self.noc, self.workdir / "ssh" / "collector_ed25519"

    def restart_agent(self, name: str) -> None:
        """Restart one device's SNMP agent (fault injection: its uptime and counters start again)."""
        self._agents[name] = restart_agent(self.emu, self.workdir, name, self._agents[name], self._creds)

    # host agents -------------------------------------------------------------------------------
    def _agent_hosts(self) -> list[str]:
        """Hosts that run a psutil agent: servers and the NOC. Desktops are many (a Python process each
        would cost GBs here); the kernel loop reads their namespaces from outside instead."""
        return [
            n.name for n in self.net.nodes if n.is_host and (n.kind == "server" or n.zone == "management")
        ]

    def _start_host_agents(self) -> None:
        """psutil agents inside the servers' and the NOC's namespaces."""
        hosts = self._agent_hosts()
        for name in hosts:
            cmd = [
                sys.executable,
                "-m",
                "monitors.hostagent",
                "--node",
                name,
                "--interval",
                str(self.interval_s),
            ]
            proc = self.emu.node(name).popen(cmd, stdout=-1, stderr=-1, text=True)
            self._host_agents[name] = proc
            self._spawn(self._host_reader, proc)
        if hosts:
            self.log(f"host agents (psutil) on {len(hosts)} hosts")

    def _host_reader(self, proc: Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            fields: dict[str, int | float | bool] = {
                "cpu_pct": float(rec["cpu_pct"]),
                "mem_pct": float(rec["mem_pct"]),
                "mem_used_bytes": int(rec["mem_used_bytes"]),
                "processes": int(rec["processes"]),
            }
            if rec.get("connections", -1) >= 0:
                fields["connections"] = int(rec["connections"])
            self._emit([Point("host", {"node": rec["node"]}, fields, int(rec["t"] * 1e9))])
            if self._stop.is_set():
                break

    # device CLI --------------------------------------------------------------------------------
    def _start_cli(self) -> None:
        """sshd in routers and firewalls; netmiko from the NOC reads routes, sessions, ruleset hashes."""
        if not self.noc:
            return
        key = make_client_key(self.workdir)
        self._sshd = start_sshd(self.emu, self.workdir, key)
        targets = [[n.name, agent_address(self.net, n)] for n in cli_nodes(self.net)]
        tfile = self.workdir / "ssh" / "targets.json"
        tfile.write_text(json.dumps(targets))
        cmd = [
            sys.executable,
            "-m",
            "monitors.devcli",
            "--targets",
            str(tfile),
            "--key",
            str(key),
            "--interval",
            str(max(5.0, self.interval_s)),
        ]
        self._cli = self.emu.node(self.noc).popen(cmd, stdout=-1, stderr=-1, text=True)
        self._spawn(self._cli_reader)
        self.log(
            f"device CLI: sshd on {len(targets)} routers and firewalls, read with netmiko from {self.noc}"
        )

    def _cli_reader(self) -> None:
        assert self._cli is not None and self._cli.stdout is not None
        groups = firewall_groups(self.net)
        cycle: list[dict[str, Any]] = []
        kinds = {n.name: n.kind for n in self.net.nodes}
        for line in self._cli.stdout:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("poller") != "cli":
                cycle.append(rec)
                continue
            t_ns = int(rec["t"] * 1e9)
            self.drift = drift(cycle, groups)
            for site, members in self._drift_watch.update(self.drift):
                self.log(f"ruleset drift between firewall members: {members}")
                sha = {r["node"]: r.get("ruleset_sha") for r in cycle if r.get("node") in members}
                self._event(
                    Event("monitoring", "fw.drift", ", ".join(members), {"site": site, "ruleset_sha": sha})
                )
            pts = [poller_point(rec, float(rec["cycle_s"]))]
            for r in cycle:
                if not r.get("ok"):
                    continue
                pts.append(Point("device", {"node": r["node"]}, {"routes": int(r["routes"])}, t_ns))
                if kinds.get(r["node"]) == "firewall":
                    f: dict[str, int | float | bool] = {"sessions": max(0, int(r["conntrack"]))}
                    if r["node"] in self.drift:
                        f["ruleset_drift"] = self.drift[r["node"]]
                    pts.append(Point("fw", {"node": r["node"]}, f, t_ns))
            self._emit(pts)
            cycle = []
            if self._stop.is_set():
                break

    # SNMP ----------------------------------------------------------------------------------------
    def _start_snmp(self) -> None:
        if not self.noc:
            self.log("no host in a 'management' zone: SNMP agents are not polled")
            return
        creds = SnmpCredentials.from_settings()
        self._creds = creds
        self._agents = start_agents(self.emu, self.workdir, creds)
        d = self.workdir / "snmp"
        targets = poll_targets(self.net)
        (d / "targets.json").write_text(json.dumps(targets))
        cred_file = d / "poller-creds.json"
        write_private(cred_file, json.dumps(creds.to_dict()).encode())  # 0600 at creation
        time.sleep(0.5)  # let the agents bind
        interval = snmp_interval(len(targets), self.interval_s)
        cmd = [
            sys.executable,
            "-m",
            "monitors.poller",
            "--targets",
            str(d / "targets.json"),
            "--creds",
            str(cred_file),
            "--interval",
            str(interval),
            "--timeout",
            str(min(5.0, 0.9 * interval)),
        ]
        self._poller = self.emu.node(self.noc).popen(cmd, stdout=-1, stderr=-1, text=True)
        self._spawn(self._snmp_reader)
        self.log(f"SNMP: {len(targets)} agents, polled from {self.noc} every {interval:g} s")

    def _snmp_reader(self) -> None:
        assert self._poller is not None and self._poller.stdout is not None
        oldest = time.time()
        for line in self._poller.stdout:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("poller") == "snmp":
                self._emit([poller_point(rec, time.time() - oldest)])
                oldest = time.time()
            elif rec.get("ok"):
                oldest = min(oldest, float(rec["t"]))
                self._emit(self._device_points(rec))
            if self._stop.is_set():
                break

    def _device_points(self, rec: dict[str, Any]) -> list[Point]:
        node, t = rec["node"], float(rec["t"])
        t_ns = int(t * 1e9)
        uptime = rec.get("uptime_cs", 0) / 100
        fields: dict[str, int | float | bool] = {"uptime_s": uptime}
        if "cpu_idle_pct" in rec:
            fields["cpu_pct"] = float(min(100, max(0, 100 - rec["cpu_idle_pct"])))
        total, avail = rec.get("mem_total_kb", 0), rec.get("mem_avail_kb", 0)
        if total:
            fields["mem_pct"] = min(100.0, max(0.0, (total - avail) * 100 / total))
        pts = [Point("device", {"node": node}, fields, t_ns)]
        for ifname, row in rec.get("ifaces", {}).items():
            end = self.ends.get((node, ifname))
            if end is None or "in_octets" not in row or "out_octets" not in row:
                continue  # loopback and interfaces outside the model
            f: dict[str, int | float | bool] = {
                "rx_bytes": row["in_octets"],
                "tx_bytes": row["out_octets"],
                "errors": row.get("in_errors", 0) + row.get("out_errors", 0),
                "discards": row.get("in_discards", 0) + row.get("out_discards", 0),
                "oper_up": row.get("oper_status") == 1,
            }
            self._add_rates(
                f, ("s", node, ifname), row["in_octets"], row["out_octets"], t, uptime, end.bw_mbps
            )
            tags = {"node": node, "ifname": ifname, "link": end.link, "kind": end.kind, "source": "snmp"}
            pts.append(Point("iface", tags, f, t_ns))
        return pts
