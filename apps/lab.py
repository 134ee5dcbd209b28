"""Run the OA and approval services and their users on an emulated network, for a lab.

    with AppsLab(emu, run_dir, spec, log=print, sink=writer.write) as apps:
        apps.play()                      # a compressed working day; blocks until it is over
    apps.summary                         # per-service numbers (also run_dir/apps/apps.json)

Where each part runs (decided here, written down in README "Traffic"):

* the **OA service** on the model's OA server (`apps.traffic.server_of(net, "oa")`), port 80; its
  files on the file server host (`backup_hsm.files`, port 8090) when the model has a host named
  `*file*` in the servers zone, else in a directory beside its database;
* the **approval service** on the approval server, port 8081, with its SMTP sink on loopback there;
* the **DMZ portal** (`apps.portal`, port 80) on the first DMZ host when the model has internet
  hosts: applicants reach the approval service through it and the firewalls;
* **users** (`apps.replay`, one process in the root namespace with a socket in each host's network
  namespace) at the desktops the model gives each bureau; background voice/video flows between them.

Times: the scenario picks a slice of the day (`start_hour`, `hours`) and the traffic configuration's
`day_minutes` compresses it; the approval service's time limits shrink by the same factor, so late
steps escalate within the run. The run directory gets `apps/` with the plan, the logs, `ops.jsonl`,
`flows.json`, `replay.json`, the services' databases, `apps.json` (the summary), and at its top
`offered.json` (simulated time, for the planners) and `offered-wall.json` (what the emulated network
was offered per wall-clock interval, for comparing with measured link load).

The scenario's traffic section and its schedule are `apps.lab_traffic`; the numbers collected at the
end (apps.json, registry points) are `apps.lab_numbers`.
"""

from __future__ import annotations

import json
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apps.lab_numbers import collect, points
from apps.lab_traffic import TrafficSpec, parse_traffic, schedule, to_wall
from apps.traffic import portal_of, server_of, users_of
from govnet.children import die_with_parent
from govnet.errors import GovnetError
from govnet.metrics import Point
from govnet.netns import socket_in_netns
from govnet.secure import write_private
from govnet.supervise import Lifecycle, stop_all, stop_process

if TYPE_CHECKING:
    from topology.emulator.handle import EmulatorHandle

ROOT = Path(__file__).resolve().parent.parent
PORTS = {"oa": 80, "approval": 8081, "portal": 80, "files": 8090, "smtp": 2525}

__all__ = ["PORTS", "AppsError", "AppsLab", "TrafficSpec", "parse_traffic"]


class AppsError(GovnetError):
    """A service did not start, or the users' run failed."""


class AppsLab(Lifecycle):
    """Start the services in their hosts, play the users, collect the numbers, stop everything."""

    def __init__(
        self,
        emu: EmulatorHandle,
        run: Path,
        spec: TrafficSpec,
        log: Callable[[str], None] = print,
        sink: Callable[[Point], Any] | None = None,
    ) -> None:
        self.emu, self.net, self.spec, self.log, self.sink = emu, emu.model, spec, log, sink
        self.run = run
        self.dir = run / "apps"
        self.procs: dict[str, Any] = {}
        self.replay: subprocess.Popen[bytes] | None = None
        self.summary: dict[str, Any] = {}
        self.events, self.flows = schedule(self.net, spec)
        self.oa = server_of(self.net, "oa").name
        self.approval = server_of(self.net, "approval").name
        portal = portal_of(self.net)
        self.portal = portal.name if portal is not None else ""
        files = [n for n in self.net.nodes if n.is_host and n.zone == "servers" and "file" in n.name]
        self.files = files[0].name if files else ""
        self._started = 0.0
        self._plan: dict[str, Any] = {}

    # --- addresses ----------------------------------------------------------------------------
    def ip(self, host: str) -> str:
        return str(self.net.node(host).addr).split("/")[0]

    def _users(self) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        """(passwords, OA user -> bureau, approval staff -> department)."""
        c = self.spec.config.clients
        oa = (
            {u.name: u.bureau for u in users_of(self.net, "oa", c["oa"].users_per_desktop)}
            if "oa" in c
            else {}
        )
        staff = (
            {u.name: u.bureau for u in users_of(self.net, "approval", c["approval"].users_per_desktop)}
            if "approval" in c
            else {}
        )
        pw = {u: secrets.token_urlsafe(9) for u in {*oa, *staff}}
        return pw, oa, staff

    # --- services -------------------------------------------------------------------------------
    def _start(self, name: str, host: str, argv: list[str], port: int) -> None:
        log = (self.dir / f"{name}.log").open("ab")
        proc = self.emu.node(host).popen(
            [sys.executable, "-m", *argv], stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT)
        )
        log.close()
        self.procs[name] = (proc, host, argv, port)
        self._wait_ready(name, host, port, proc)

    def _wait_ready(self, name: str, host: str, port: int, proc: Any, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        ip = "127.0.0.1" if name == "smtp" else self.ip(host)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = (self.dir / f"{name}.log").read_text(errors="replace")[-800:]
                raise AppsError(f"{name} on {host} exited with {proc.returncode}:\n{tail}")
            s = socket_in_netns(self.emu.pid(host), socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(1.0)
            try:
                s.connect((ip, port))
                return
            except OSError:
                time.sleep(0.2)
            finally:
                s.close()
        raise AppsError(f"{name} on {host} did not listen on {ip}:{port} within {timeout_s:.0f} s")

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        pw, oa_users, staff = self._users()
        write_private(self.dir / "users.json", json.dumps(pw).encode())  # passwords: 0600 at creation
        if self.files:
            self._start(
                "files",
                self.files,
                [
                    "backup_hsm.files",
                    "--root",
                    str(self.dir / "hsm"),
                    "--bind",
                    "0.0.0.0",
                    "--port",
                    str(PORTS["files"]),
                ],
                PORTS["files"],
            )
        files_arg = ["--files", f"http://{self.ip(self.files)}:{PORTS['files']}"] if self.files else []
        self._start(
            "oa",
            self.oa,
            [
                "apps.oa",
                "--db",
                str(self.dir / "oa.db"),
                "--bind",
                "0.0.0.0",
                "--port",
                str(PORTS["oa"]),
                "--users",
                str(self.dir / "users.json"),
                *files_arg,
            ],
            PORTS["oa"],
        )
        self._start("smtp", self.approval, ["apps.smtp", "--port", str(PORTS["smtp"])], PORTS["smtp"])
        c = self.spec.compress
        limits = self.spec.limits
        scaled = f"{limits.accept * c:.3f},{limits.review * c:.3f},{limits.final * c:.3f}"
        proxy = ["--trusted-proxy", f"{self.ip(self.portal)}/32"] if self.portal else []
        self._start(
            "approval",
            self.approval,
            [
                "apps.approval",
                "--db",
                str(self.dir / "approval.db"),
                "--bind",
                "0.0.0.0",
                "--port",
                str(PORTS["approval"]),
                "--smtp",
                f"127.0.0.1:{PORTS['smtp']}",
                "--limits",
                scaled,
                "--users",
                str(self.dir / "users.json"),
                *proxy,
            ],
            PORTS["approval"],
        )
        if self.portal:
            upstream = f"http://{self.ip(self.approval)}:{PORTS['approval']}"
            self._start(
                "portal",
                self.portal,
                [
                    "apps.portal",
                    "--bind",
                    self.ip(self.portal),  # the DMZ host's own address (the default is 127.0.0.1)
                    "--port",
                    str(PORTS["portal"]),
                    "--upstream",
                    upstream,
                ],
                PORTS["portal"],
            )
        self.log(
            f"apps: OA on {self.oa}, approval on {self.approval}"
            + (f" behind the portal on {self.portal}" if self.portal else "")
            + (f", files on {self.files}" if self.files else "")
            + f"; {len(oa_users)} OA users, {len(staff)} approval staff"
        )
        wall_ev, wall_fl = to_wall(self.events, self.flows, self.spec)
        hosts = {e.src for e in wall_ev} | {e.via for e in wall_ev if e.via} | {f.src for f in wall_fl}
        hosts |= {f.dst for f in wall_fl}
        plan: dict[str, Any] = {
            "t0": 0,
            "hosts": {h: {"pid": self.emu.pid(h), "ip": self.ip(h)} for h in sorted(hosts)},
            "servers": {
                "oa": f"{self.ip(self.oa)}:{PORTS['oa']}",
                "approval": f"{self.ip(self.approval)}:{PORTS['approval']}",
                **({"portal": f"{self.ip(self.portal)}:{PORTS['portal']}"} if self.portal else {}),
            },
            "passwords": pw,
            "departments": staff,
            "oa_users": oa_users,
            "events": [
                [e.wall_s, e.app, e.user, e.src, e.op, e.bytes_up, e.bytes_down, e.ok, e.via] for e in wall_ev
            ],
            "flows": [[f.start_s, f.duration_s, f.src, f.dst, f.cls, f.bps, f.packet_bytes] for f in wall_fl],
            "seed": self.spec.config.seed,
        }
        self._plan = plan

    def play(self, wait: bool = True) -> None:
        """Start the users (a compressed day); with `wait`, block until they are done."""
        self._started = time.time() + 1.0
        self._plan["t0"] = self._started
        path = self.dir / "plan.json"
        write_private(path, (json.dumps(self._plan) + "\n").encode())  # holds the users' passwords
        log = (self.dir / "replay.log").open("ab")
        self.replay = subprocess.Popen(
            [sys.executable, "-m", "apps.replay", "--plan", str(path), "--out", str(self.dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(ROOT),
            preexec_fn=die_with_parent,  # a killed lab leaves no replay behind
        )
        log.close()
        self.log(
            f"apps: {len(self.events)} operations and {len(self.flows)} background flows over "
            f"{self.spec.hours:g} h of the day, played in {self.spec.wall_s:.0f} s"
        )
        if wait:
            self.wait()

    def wait(self, grace_s: float = 60.0) -> None:
        assert self.replay is not None
        deadline = self._started + self.spec.wall_s + grace_s
        try:
            rc = self.replay.wait(timeout=max(1.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            self.replay.send_signal(signal.SIGTERM)
            rc = self.replay.wait(timeout=30)
            self.log(f"apps: the users ran over their time by {grace_s:.0f} s and were stopped")
        if rc != 0 and not (self.dir / "replay.json").exists():
            tail = (self.dir / "replay.log").read_text(errors="replace")[-800:]
            raise AppsError(f"the users' replay failed (exit {rc}):\n{tail}")

    def hids_watch(self) -> dict[str, list[Path]]:
        """What a HIDS should guard on each service host: the files that must not change while the
        services run (the OA's sealing key, the deployment's user file); data is left out."""
        out: dict[str, list[Path]] = {}
        for name, key_files in (("oa", ["oa.db.key", "users.json"]), ("approval", ["users.json"])):
            if name in self.procs:
                host = self.procs[name][1]
                paths = out.setdefault(host, [])
                paths += [self.dir / f for f in key_files if self.dir / f not in paths]
        return out

    def restart(self, name: str, down_s: float) -> None:
        """Kill a service hard (as a crash), keep it down `down_s`, start it again on the same store."""
        proc, host, argv, port = self.procs[name]
        proc.kill()
        proc.wait()
        time.sleep(down_s)
        self._start(name, host, argv, port)

    def stop(self) -> None:
        stop_process(self.replay, timeout=15)
        stop_all([self.procs[name][0] for name in reversed(list(self.procs))], timeout=10)
        self.procs.clear()

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        if (self.dir / "replay.json").exists():
            self.summary = collect(self.dir, self.run, self.events, self.flows, self.spec, self.net.name)
            if self.sink is not None:
                for p in points(self.dir, self.summary):
                    self.sink(p)
