"""NIDS sensors in an emulated lab, and the block path from their alerts to every firewall.

    with LabNids(emu, run_dir, log=print) as nids:
        ...                                   # traffic, attacks
    nids.summary()                            # alerts per signature, blocks and their verification

Where the sensors listen (one `python -m ids.nids.sensor` process each, capturing with AF_PACKET):
- each firewall-pair member's **outside** link (towards the internet router) and **inside** link
  (towards the core), inside the member's network namespace;
- the **DMZ segment**: the switch port of each DMZ host, in the root namespace where the Linux
  bridge lives (a tap of everything the host sends and receives).

Each sensor writes EVE records to its own file, `run_dir/nids/<sensor>.json`. A `block` request
(an alert whose detector or rule says block) is picked up within 50 ms by a follower in this process:
1. the source goes onto every firewall (`firewall.block.FirewallBlock`: a timed nft set element,
   the request's seconds), over each firewall's management SSH with netmiko when a `push` is given
   (the lab runner passes `monitors.devcli.CliPush` when monitoring runs), else by `nsenter`;
2. the block is **verified from the attacker's side**: the emulated host that owns the source
   address opens a TCP connection to the alerted destination. No answer at all (no SYN-ACK, no RST)
   within 1 s means the firewall drops it. Management addresses are never blocked (the sensors get
   `--never-block` for the management subnets);
3. a `block` event, state `block_verified` or `block_failed`, with `time_to_block_s` from the
   alert's first packet to the block in effect, goes to the run's event log (`events.json`).

A source already blocked is not blocked again until its block ends; sensors on several links see
the same scan and each asks.

With `on_event`, a sensor whose last stats record (written as it stops) counts kernel drops is an
`ids.kernel_drops` event (govnet.events.Event): it fell behind, so it may have missed an attack;
each alert of a new signature and source is an `ids.alert` event at the alert's own time (then none
for the same pair during ALERT_EVENT_S), and each block an `ids.block` event as it is recorded.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firewall.block import BlockError, FirewallBlock
from firewall.plan import pair_plan
from govnet import events
from govnet.children import die_with_parent
from govnet.events import Event
from govnet.netns import socket_in_netns
from govnet.supervise import Lifecycle, stop_all

if TYPE_CHECKING:
    from topology.emulator.handle import EmulatorHandle
    from topology.model import Network

ROOT = Path(__file__).resolve().parents[2]
POLL_S = 0.05
ALERT_EVENT_S = 5.0  # one ids.alert event per signature and source in this long
PROBE_TIMEOUT_S = 1.0
# A sensor told to stop first drains its socket (up to 64 MiB queued while it fell behind), then
# writes its last stats record, the one that says what the kernel dropped: it gets longer than
# govnet.supervise.STOP_TIMEOUT_S before it is killed and that record is lost.
SENSOR_STOP_TIMEOUT_S = 10.0


def sensor_points(net: Network) -> list[tuple[str, str | None, str]]:
    """(sensor name, node whose namespace has the interface or None for the root namespace, iface)."""
    plan = pair_plan(net)
    members = plan.names if plan is not None else []
    out: list[tuple[str, str | None, str]] = []
    kinds = {lk.name: lk.kind for lk in net.links}
    dmz_hosts = {n.name for n in net.nodes if n.is_host and n.zone == "dmz"}
    switches = {n.name for n in net.nodes if n.is_switch}
    for lk in net.links:
        for node, ifname, peer in ((lk.a, lk.a_if, lk.b), (lk.b, lk.b_if, lk.a)):
            if node in members and kinds[lk.name] in ("exit", "inside"):
                side = "outside" if kinds[lk.name] == "exit" else "inside"
                out.append((f"nids-{node}-{side}", node, ifname))
            elif node in switches and peer in dmz_hosts:
                out.append((f"nids-dmz-{peer}", None, ifname))
    return out


def sensor_command(
    name: str,
    iface: str,
    events_path: Path,
    stats_interval: float = 5.0,
    never_block: Sequence[str] = (),
    settings: Sequence[str] = (),
    duration: float | None = None,
) -> list[str]:
    """The argv of one sensor process (`python -m ids.nids.sensor`), run from the project root. The
    interfaces are links of forwarding nodes (firewalls, the bridge), so both directions are seen."""
    cmd = [
        sys.executable,
        "-m",
        "ids.nids.sensor",
        "--iface",
        iface,
        "--name",
        name,
        "--events",
        str(events_path),
        "--stats-interval",
        f"{stats_interval:g}",
        "--both-directions",
    ]
    for cidr in never_block:
        cmd += ["--never-block", cidr]
    for s in settings:
        cmd += ["--set", s]
    if duration is not None:
        cmd += ["--duration", f"{duration:g}"]
    return cmd


def probe(emu: EmulatorHandle, src_host: str, ip: str, port: int, timeout: float = PROBE_TIMEOUT_S) -> str:
    """From `src_host`: 'answered' (connected or refused: the packets got through) or 'silent'."""
    s = socket_in_netns(emu.pid(src_host), socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((ip, port))
        return "answered"
    except ConnectionRefusedError:
        return "answered"
    except OSError:
        return "silent"
    finally:
        s.close()


class LabNids(Lifecycle):
    """Start the sensors and the block follower; `stop()` (or leaving `with`) ends everything."""

    def __init__(
        self,
        emu: EmulatorHandle,
        run: Path,
        *,
        log: Callable[[str], None] = print,
        event_log: events.EventLog | None = None,
        detector_settings: tuple[str, ...] = (),
        push: Callable[[str, str], None] | None = None,
        on_event: Callable[[Event], None] | None = None,
        trusted_proxies: Sequence[str] = (),
    ) -> None:
        self.emu, self.run, self.log = emu, run, log
        self.on_event = on_event
        self.net = emu.model
        self.dir = run / "nids"
        self.points = sensor_points(self.net)
        # management subnets, and reverse proxies: a proxy forwards its clients' payloads, so an
        # inside sensor sees the attack come from it — the client is blocked at the outside sensors
        self.never_block = sorted(str(v.subnet) for v in self.net.vlans if v.zone == "management")
        self.never_block += [f"{a}/32" for a in trusted_proxies]
        self.detector_settings = detector_settings
        self.procs: list[tuple[str, subprocess.Popen[Any]]] = []
        self.firewall: FirewallBlock | None = None
        self.push = push
        self._own_log = event_log is None
        self.event_log = event_log or events.EventLog(run / "events.json")
        self.owner = {str(n.addr).split("/")[0]: n.name for n in self.net.nodes if n.is_host and n.addr}
        self.alerts: list[dict[str, Any]] = []
        self.blocks: list[dict[str, Any]] = []
        self._last_dest: dict[str, tuple[str, int]] = {}
        self._blocked_until: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._offsets: dict[Path, int] = {}
        self._alert_seen: dict[tuple[str, str], float] = {}
        self._stopped = False

    # --- sensors -----------------------------------------------------------------------------
    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.firewall = FirewallBlock(self.emu, push=self.push)
        self.firewall.install()
        for name, node, iface in self.points:
            out = self.dir / f"{name}.json"
            out.touch()
            cmd = sensor_command(name, iface, out, 5.0, self.never_block, self.detector_settings)
            log = (self.dir / f"{name}.log").open("ab")
            if node is None:
                proc: subprocess.Popen[Any] = subprocess.Popen(
                    cmd, stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT), preexec_fn=die_with_parent
                )
            else:
                proc = self.emu.node(node).popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT))
            log.close()
            self.procs.append((name, proc))
        self._wait_started()
        self._thread = threading.Thread(target=self._follow, name="nids-blocks", daemon=True)
        self._thread.start()
        self.log(
            f"nids: {len(self.points)} sensors ({', '.join(n for n, _, _ in self.points)}); blocks on "
            f"{', '.join(self.firewall.nodes)}"
        )

    def _wait_started(self, timeout: float = 20.0) -> None:
        """Each sensor writes a stats event once its capture is open; wait for all of them."""
        deadline = time.monotonic() + timeout
        pending = {name for name, _ in self.procs}
        while pending and time.monotonic() < deadline:
            for name, proc in self.procs:
                if name in pending and proc.poll() is not None:
                    tail = (self.dir / f"{name}.log").read_text(errors="replace")[-600:]
                    raise RuntimeError(f"NIDS sensor {name} exited with {proc.returncode}:\n{tail}")
                if name in pending and (self.dir / f"{name}.json").stat().st_size > 0:
                    pending.discard(name)
            time.sleep(0.1)
        if pending:  # no stats yet is not an error: the first comes after --stats-interval
            time.sleep(0.5)

    # --- the block path --------------------------------------------------------------------------
    def _new_records(self) -> list[dict[str, Any]]:
        out = []
        for name, _node, _iface in self.points:
            path = self.dir / f"{name}.json"
            with contextlib.suppress(OSError), path.open("rb") as fh:
                fh.seek(self._offsets.get(path, 0))
                data = fh.read()
                end = data.rfind(b"\n") + 1  # a torn last line waits for the next poll
                self._offsets[path] = self._offsets.get(path, 0) + end
                for line in data[:end].splitlines():
                    with contextlib.suppress(ValueError):
                        rec = json.loads(line)
                        if isinstance(rec, dict):
                            out.append(rec)
        return out

    def _follow(self) -> None:
        while not self._stop.wait(POLL_S):
            self.poll()

    def poll(self) -> None:
        for rec in self._new_records():
            kind = rec.get("event_type")
            if kind == "alert":
                self.alerts.append(rec)
                self._alert_event(rec)
                if rec.get("dest_ip") and rec.get("dest_port") is not None:
                    self._last_dest[str(rec.get("src_ip"))] = (str(rec["dest_ip"]), int(rec["dest_port"]))
            elif kind == "block" and rec.get("detail", {}).get("state") == "requested":
                self._block(rec)

    def _block(self, rec: dict[str, Any]) -> None:
        d = rec["detail"]
        src, seconds = str(d["src_ip"]), int(d["seconds"])
        now = time.time()
        if self._blocked_until.get(src, 0.0) > now:
            return  # another sensor saw the same source
        assert self.firewall is not None
        base = {
            "src_ip": src,
            "seconds": seconds,
            "signature_id": d.get("signature_id"),
            "signature": d.get("signature"),
            "requested_by": rec.get("sensor"),
        }
        try:
            applied = self.firewall.block(src, now + seconds)
        except BlockError as exc:
            self._record({**base, "state": "block_failed", "error": str(exc)})
            return
        self._blocked_until[src] = now + seconds
        first_seen = float(d.get("first_seen") or d.get("alert_ts") or now)
        result = {
            **base,
            "time_to_block_s": round(applied.applied_at - first_seen, 3),
            "nodes": list(applied.nodes),
            "via": self.firewall.via,
        }
        host = self.owner.get(src)
        dest = self._last_dest.get(src)
        if host is None or dest is None:
            self._record({**result, "state": "block_failed", "error": "cannot probe: source is no lab host"})
            return
        seen = probe(self.emu, host, dest[0], dest[1])
        state = "block_verified" if seen == "silent" else "block_failed"
        self._record({**result, "state": state, "probe": f"{host} -> {dest[0]}:{dest[1]} {seen}"})

    def _alert_event(self, rec: dict[str, Any]) -> None:
        """An `ids.alert` event for the first alert of a signature from a source in ALERT_EVENT_S
        (a scan alerts on many sensors and packets; the sensors' files keep every alert)."""
        if self.on_event is None:
            return
        a = rec.get("alert") or {}
        src, sig = str(rec.get("src_ip", "")), str(a.get("signature", "?"))
        wall, mono = events.record_time(rec)
        key = (src, sig)
        if wall - self._alert_seen.get(key, float("-inf")) < ALERT_EVENT_S:
            return
        self._alert_seen[key] = wall
        host = self.owner.get(src)
        detail = {
            "signature": sig,
            "signature_id": a.get("signature_id"),
            "src_ip": src,
            "src_host": host,
            "dest_ip": rec.get("dest_ip"),
            "dest_port": rec.get("dest_port"),
            "sensor": rec.get("sensor"),
        }
        subject = f"{sig} from {host or src}"
        self._emit(Event("nids", "ids.alert", subject, detail, wall=wall, mono=mono))

    def _emit(self, ev: Event) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(ev)
        except Exception as exc:  # the receiver's bug must not stop the block path
            self.log(f"nids: event receiver failed: {type(exc).__name__}: {exc}")

    def _record(self, detail: dict[str, Any]) -> None:
        self.blocks.append(detail)
        self.event_log.write(events.event("block", sensor="nids-blocker", **detail))
        self.log(f"nids: {detail['state']} {detail['src_ip']} ({detail.get('signature')})")
        host = self.owner.get(str(detail["src_ip"]))
        subject = f"{host or detail['src_ip']} {detail['state'].replace('_', ' ')}"
        self._emit(Event("nids", "ids.block", subject, {**detail, "src_host": host}))

    # --- the end ---------------------------------------------------------------------------------
    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        stop_all([proc for _name, proc in self.procs], SENSOR_STOP_TIMEOUT_S)
        self.procs.clear()
        self.poll()  # alerts written while stopping
        if self.firewall is not None:
            self.firewall.close()
        if self._own_log:
            self.event_log.close()
        if self.on_event is not None:
            for ev in drop_events(self.last_stats()):
                self._emit(ev)  # a receiver's bug must not leave the stop half done: _emit logs it

    def last_stats(self) -> dict[str, dict[str, Any]]:
        """Per sensor, the detail of its last stats record (a stopped sensor's: written as it stops)."""
        out: dict[str, dict[str, Any]] = {}
        for name, _n, _i in self.points:
            path = self.dir / f"{name}.json"
            if path.exists():
                stats = [r for r in events.read(path) if r.get("event_type") == "stats"]
                if stats:
                    out[name] = dict(stats[-1].get("detail", {}))
        return out

    def summary(self) -> dict[str, Any]:
        sigs: dict[str, int] = {}
        for a in self.alerts:
            sig = str(a.get("alert", {}).get("signature", "?"))
            sigs[sig] = sigs.get(sig, 0) + 1
        drops = sum(int(d.get("kernel_drops", 0) or 0) for d in self.last_stats().values())
        return {
            "sensors": [n for n, _, _ in self.points],
            "alerts": len(self.alerts),
            "by_signature": sigs,
            "blocks": self.blocks,
            "kernel_drops": drops,
        }


def drop_events(last_stats: dict[str, dict[str, Any]]) -> list[Event]:
    """An `ids.kernel_drops` event for each sensor whose last stats record counts kernel drops."""
    out = []
    for name, d in sorted(last_stats.items()):
        drops = int(d.get("kernel_drops", 0) or 0)
        if drops > 0:
            detail: dict[str, Any] = {
                "kernel_drops": drops,
                "kernel_packets": int(d.get("kernel_packets", 0) or 0),
                "iface": str(d.get("iface", "")),
            }
            out.append(Event("nids", "ids.kernel_drops", name, detail))
    return out
