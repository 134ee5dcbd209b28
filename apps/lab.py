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
"""

from __future__ import annotations

import json
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from apps.approval import Limits
from apps.background import Flow, background_flows
from apps.config import CLIENT_APPS, TrafficConfig, load_config
from apps.offered import export_offered
from apps.traffic import DAY_S, Event, client_events, portal_of, server_of, users_of
from govnet.children import die_with_parent
from govnet.errors import GovnetError, ModelError, Problem
from govnet.metrics import APP, LOGIN, Point, validate
from govnet.netns import socket_in_netns
from govnet.secure import write_private

ROOT = Path(__file__).resolve().parent.parent
PORTS = {"oa": 80, "approval": 8081, "portal": 80, "files": 8090, "smtp": 2525}
WALL_INTERVAL_S = 10.0


class AppsError(GovnetError):
    """A service did not start, or the users' run failed."""


@dataclass(frozen=True)
class TrafficSpec:
    """A scenario's `traffic` section: the configuration and the slice of the day to play."""

    config: TrafficConfig
    start_hour: float = 8.0
    hours: float = 10.0
    limits: Limits = field(default_factory=Limits)  # the approval steps' time limits, in simulated seconds

    @property
    def compress(self) -> float:
        return self.config.day_minutes * 60.0 / DAY_S

    @property
    def wall_s(self) -> float:
        return self.hours * 3600.0 * self.compress


def parse_traffic(data: Any, source: str, where: str = "traffic") -> TrafficSpec:
    """Check a scenario's traffic section; ModelError names every bad field."""
    if not isinstance(data, Mapping):
        raise ModelError(
            [Problem(source, where, "must be a mapping", data, "see labs/scenarios/baseline.yaml")]
        )
    raw = dict(data)
    problems: list[Problem] = []
    window: dict[str, float] = {}
    for key, lo, hi in (("start_hour", 0.0, 24.0), ("hours", 0.0, 24.0)):
        if key in raw:
            v = raw.pop(key)
            if (
                isinstance(v, bool)
                or not isinstance(v, int | float)
                or not lo <= v <= hi
                or (key == "hours" and v == 0)
            ):
                problems.append(
                    Problem(source, f"{where}.{key}", f"must be a number of hours in ({lo:g}, {hi:g}]", v)
                )
            else:
                window[key] = float(v)
    limits = Limits()
    if "limits_hours" in raw:
        lim = raw.pop("limits_hours")
        kinds = ("accept", "review", "final")
        if not isinstance(lim, Mapping) or set(lim) - set(kinds):
            problems.append(
                Problem(
                    source,
                    f"{where}.limits_hours",
                    "must map accept/review/final to hours",
                    lim,
                    "e.g. {accept: 1, review: 2, final: 1}",
                )
            )
        else:
            bad = [
                k for k, v in lim.items() if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0
            ]
            for k in bad:
                problems.append(
                    Problem(source, f"{where}.limits_hours.{k}", "must be a number of hours > 0", lim[k])
                )
            if not bad:
                limits = Limits(**{k: float(lim.get(k, getattr(limits, k) / 3600.0)) * 3600.0 for k in kinds})
    try:
        cfg = load_config(raw, source)
    except ModelError as exc:
        problems += [replace(p, path=f"{where}.{p.path}") for p in exc.problems]
        cfg = TrafficConfig()
    if problems:
        raise ModelError(problems)
    return TrafficSpec(cfg, window.get("start_hour", 8.0), window.get("hours", 10.0), limits)


def schedule(net: Any, spec: TrafficSpec) -> tuple[list[Event], list[Flow]]:
    """Every client operation and background flow of the slice, in simulated time."""
    start, duration = spec.start_hour * 3600.0, spec.hours * 3600.0
    events = [
        e
        for app in CLIENT_APPS
        if app in spec.config.clients
        for e in client_events(net, spec.config, app, start, duration)
    ]
    events.sort(key=lambda e: (e.t_s, e.user))
    return events, background_flows(net, spec.config, start, duration)


def to_wall(events: list[Event], flows: list[Flow], spec: TrafficSpec) -> tuple[list[Event], list[Flow]]:
    """The same schedule in wall-clock seconds from the start of the run (durations compressed)."""
    c, t0 = spec.compress, spec.start_hour * 3600.0
    ev = [replace(e, t_s=(e.t_s - t0) * c, wall_s=(e.t_s - t0) * c) for e in events]
    fl = [replace(f, start_s=(f.start_s - t0) * c, duration_s=f.duration_s * c) for f in flows]
    return ev, fl


class AppsLab:
    """Start the services in their hosts, play the users, collect the numbers, stop everything."""

    def __init__(
        self,
        emu: Any,
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
        if self.replay is not None and self.replay.poll() is None:
            self.replay.send_signal(signal.SIGTERM)
            try:
                self.replay.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.replay.kill()
                self.replay.wait()
        for name in reversed(list(self.procs)):
            proc = self.procs[name][0]
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name in reversed(list(self.procs)):
            proc = self.procs[name][0]
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def __enter__(self) -> AppsLab:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if (self.dir / "replay.json").exists():
            self.summary = collect(self.dir, self.run, self.events, self.flows, self.spec, self.net.name)
            if self.sink is not None:
                for p in points(self.dir, self.summary):
                    self.sink(p)


# --- the numbers ----------------------------------------------------------------------------------
def _db(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    return db


def _logins(db: sqlite3.Connection) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for r in db.execute("SELECT detail FROM events WHERE kind = 'login'"):
        out[json.loads(r["detail"]).get("result", "?")] += 1
    return dict(out)


def _mean(xs: list[float]) -> float | None:
    return round(sum(xs) / len(xs), 3) if xs else None


def server_numbers(d: Path) -> dict[str, Any]:
    """What the services' durable stores say happened (read-only)."""
    out: dict[str, Any] = {}
    if (d / "oa.db").exists():
        db = _db(d / "oa.db")
        states = dict(db.execute("SELECT state, COUNT(*) FROM documents GROUP BY state").fetchall())
        sent = {
            r["target"]: r["ts"] for r in db.execute("SELECT target, ts FROM events WHERE action = 'send'")
        }
        got = {
            r["target"]: r["ts"] for r in db.execute("SELECT target, ts FROM events WHERE action = 'receive'")
        }
        delivery = [got[k] - sent[k] for k in got if k in sent]
        out["oa"] = {
            "documents": sum(states.values()),
            "by_state": states,
            "attachments": db.execute("SELECT COUNT(*) FROM attachments").fetchone()[0],
            "delivered": len(delivery),
            "delivery_mean_s": _mean(delivery),
            "logins": _logins(db),
            "tamper_alerts": db.execute("SELECT COUNT(*) FROM events WHERE action = 'tamper'").fetchone()[0],
        }
        db.close()
    if (d / "approval.db").exists():
        db = _db(d / "approval.db")
        states = dict(db.execute("SELECT state, COUNT(*) FROM applications GROUP BY state").fetchall())
        done = [
            r[0]
            for r in db.execute(
                "SELECT updated - created FROM applications WHERE state IN ('approved', 'rejected')"
            )
        ]
        last = db.execute("SELECT MAX(ts) FROM events").fetchone()[0] or 0.0
        receipts = [
            json.loads(r[0]).get("sent")
            for r in db.execute("SELECT detail FROM events WHERE action = 'receipt'")
        ]
        out["approval"] = {
            "applications": sum(states.values()),
            "by_state": states,
            "completed": len(done),
            "completion_mean_s": _mean(done),
            "escalations": db.execute("SELECT COUNT(*) FROM events WHERE action = 'escalate'").fetchone()[0],
            "overdue_open_steps": db.execute(
                "SELECT COUNT(*) FROM steps WHERE state = 'open' AND deadline <= ?", (last,)
            ).fetchone()[0],
            "receipts_sent": sum(1 for s in receipts if s),
            "receipts_failed": sum(1 for s in receipts if not s),
            "logins": _logins(db),
        }
        db.close()
    return out


def collect(
    d: Path, run: Path, events: list[Event], flows: list[Flow], spec: TrafficSpec, model: str
) -> dict[str, Any]:
    """apps.json: the plan's size, the users' view (replay.json) and the services' view; the exports."""
    start, duration = spec.start_hour * 3600.0, spec.hours * 3600.0
    export_offered(run / "offered.json", model, events, flows, start, duration, min(3600.0, duration))
    wall_ev, wall_fl = to_wall(events, flows, spec)
    export_offered(run / "offered-wall.json", model, wall_ev, wall_fl, 0.0, spec.wall_s, WALL_INTERVAL_S)
    users = json.loads((d / "replay.json").read_text())
    summary = {
        "window": {
            "start_hour": spec.start_hour,
            "hours": spec.hours,
            "day_minutes": spec.config.day_minutes,
            "wall_s": round(spec.wall_s, 1),
        },
        "planned": {"operations": len(events), "flows": len(flows)},
        "users": users,
        "services": server_numbers(d),
    }
    (d / "apps.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    return summary


def points(d: Path, summary: dict[str, Any]) -> list[Point]:
    """Registry points: per 10 s of wall time and operation, the users' latency, count and errors;
    at the end, delivery and completion times, escalations and overdue steps, login attempts."""
    bins: dict[tuple[int, str, str], list[dict[str, Any]]] = defaultdict(list)
    with (d / "ops.jsonl").open() as fh:
        for line in fh:
            r = json.loads(line)
            bins[(int(r["wall"] // WALL_INTERVAL_S), r["app"], r["op"])].append(r)
    out = []
    for (b, app, op), rs in sorted(bins.items()):
        ok = [r["latency_s"] for r in rs if r["status"] == "ok"]
        fields: dict[str, float | int] = {"ops": len(ok), "errors": sum(r["status"] == "error" for r in rs)}
        if ok:
            fields["latency_s"] = sum(ok) / len(ok)
        ts = int((b + 1) * WALL_INTERVAL_S * 1e9)
        out.append(Point(APP.name, {"app": app, "op": op}, fields, ts))
    now = int(time.time() * 1e9)
    svc = summary["services"]
    if "oa" in svc:
        oa = svc["oa"]
        out.append(
            Point(
                APP.name,
                {"app": "oa", "op": "delivery"},
                {"ops": oa["delivered"], **({"latency_s": oa["delivery_mean_s"]} if oa["delivered"] else {})},
                now,
            )
        )
    if "approval" in svc:
        ap = svc["approval"]
        out.append(
            Point(
                APP.name,
                {"app": "approval", "op": "completion"},
                {
                    "ops": ap["completed"],
                    **({"latency_s": ap["completion_mean_s"]} if ap["completed"] else {}),
                },
                now,
            )
        )
        out.append(Point(APP.name, {"app": "approval", "op": "escalation"}, {"ops": ap["escalations"]}, now))
        out.append(
            Point(APP.name, {"app": "approval", "op": "overdue"}, {"ops": ap["overdue_open_steps"]}, now)
        )
    for name, s in svc.items():
        for result, n in s["logins"].items():
            if result in ("success", "failure", "locked"):
                out.append(Point(LOGIN.name, {"service": name, "result": result}, {"attempts": n}, now))
    return [validate(p) for p in out]
