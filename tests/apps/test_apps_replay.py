"""The users' replay against the real services on loopback (no root, no namespaces).

The OA and approval services, the DMZ portal and the SMTP sink run on 127.0.0.1 in this process; the
replay plays a compressed slice of the small model's day through them, with the background flows as
UDP between loopback addresses (127.0.0.x stand for the hosts). The emulated version of the same run
is tests/apps/test_emu_apps.py.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apps.approval import ApprovalService, Limits, Mailer
from apps.clock import SystemClock
from apps.lab_numbers import points, server_numbers
from apps.lab_traffic import parse_traffic, schedule, to_wall
from apps.portal import Portal, make_portal_server
from apps.replay import Replayer
from apps.replay_plan import PlanError
from apps.replay_summary import summarise
from apps.smtp import SmtpSink
from apps.web import serve_in_thread
from govnet.children import die_with_parent
from govnet.errors import ModelError
from topology import load_model

SMALL = load_model("small")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Services:
    """OA (its own process, so it can crash), approval (+ SMTP sink) and the portal on loopback."""

    def __init__(self, d: Path, passwords: dict[str, str]) -> None:
        self.d = d
        self.sink = SmtpSink().start()
        (d / "users.json").write_text(json.dumps(passwords))
        self.oa_port = _free_port()
        self.oa_proc = self._start_oa()
        self.ap = ApprovalService(
            d / "approval.db",
            SystemClock(),
            Limits(2.0, 2.0, 2.0),
            Mailer("127.0.0.1", self.sink.server_address[1]),
        )
        for u, pw in passwords.items():
            self.ap.accounts.add_user(u, pw)
        self.ap_http = serve_in_thread(self.ap.app)
        self.portal = Portal(f"http://127.0.0.1:{self.ap_http.server_address[1]}")
        self.portal_http = make_portal_server(self.portal, "127.0.0.1", 0)
        threading.Thread(target=self.portal_http.serve_forever, args=(0.05,), daemon=True).start()

    def _start_oa(self) -> subprocess.Popen[bytes]:
        argv = [
            sys.executable,
            "-m",
            "apps.oa",
            "--db",
            str(self.d / "oa.db"),
            "--port",
            str(self.oa_port),
            "--users",
            str(self.d / "users.json"),
        ]
        proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.oa_port), timeout=1).close()
                return proc
            except OSError:
                time.sleep(0.1)
        proc.kill()
        raise AssertionError("the OA service did not start")

    def restart_oa(self, down_s: float) -> None:
        """Kill the OA service (a crash: its port refuses), then start it on the same database and port."""
        self.oa_proc.kill()
        self.oa_proc.wait()
        time.sleep(down_s)
        self.oa_proc = self._start_oa()

    def close(self) -> None:
        self.oa_proc.terminate()
        self.oa_proc.wait(timeout=10)
        for srv in (self.ap_http, self.portal_http):
            srv.shutdown()
            srv.server_close()
        self.ap.close()
        self.sink.stop()


def _plan(spec_raw: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    spec = parse_traffic(spec_raw, "test")
    events, flows = schedule(SMALL, spec)
    ev, fl = to_wall(events, flows, spec)
    hosts = sorted(
        {e.src for e in ev} | {e.via for e in ev if e.via} | {f.src for f in fl} | {f.dst for f in fl}
    )
    users = sorted({e.user for e in ev if not e.user.endswith("-applicant")})
    bureaus = {u: next(n.site for n in SMALL.nodes if u.startswith(n.name + "-u")) for u in users}
    plan = {
        "hosts": {h: {"pid": None, "ip": f"127.0.0.{10 + i}"} for i, h in enumerate(hosts)},
        "passwords": {u: f"pw-{u}" for u in users},
        "departments": bureaus,
        "oa_users": bureaus,
        "events": [[e.wall_s, e.app, e.user, e.src, e.op, e.bytes_up, e.bytes_down, e.ok, e.via] for e in ev],
        "flows": [[f.start_s, f.duration_s, f.src, f.dst, f.cls, f.bps, f.packet_bytes] for f in fl],
        "seed": 3,
        "udp_port": 25004,
        "timeout_s": 10,
    }
    return plan, spec


SPEC = {
    "start_hour": 9,
    "hours": 2,
    "day_minutes": 1.5,  # 2 h in 7.5 s
    "seed": 5,
    "clients": {"oa": {"users_per_desktop": 2, "size_mu": 8.0}, "approval": {"users_per_desktop": 2}},
    "background": {"voice": {"calls_per_hour": 60}, "vod": {}},
}


@pytest.fixture
def services(tmp_path: Path) -> Iterator[tuple[Services, dict[str, Any]]]:
    plan, _ = _plan(SPEC)
    svc = Services(tmp_path, plan["passwords"])
    plan["servers"] = {
        "oa": f"127.0.0.1:{svc.oa_port}",
        "approval": f"127.0.0.1:{svc.ap_http.server_address[1]}",
        "portal": f"127.0.0.1:{svc.portal_http.server_address[1]}",
    }
    yield svc, plan
    svc.close()


def _records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "ops.jsonl").read_text().splitlines()]


def test_a_compressed_slice_is_played_and_the_services_agree(
    services: tuple[Services, dict[str, Any]], tmp_path: Path
) -> None:
    svc, plan = services
    out = tmp_path / "out"
    summary = Replayer(plan, out, log=lambda m: None).run(workers=16)
    recs = _records(out)
    assert len(recs) == len(plan["events"]) == summary["operations"] > 100
    assert summary["errors"] == 0, [r for r in recs if r["status"] == "error"][:3]
    nums = server_numbers(tmp_path)  # the services' own stores (WAL: readable while they run)
    # every login attempt, right or mistyped, is an audit event of the service it went to
    for app in ("oa", "approval"):
        attempts = [r for r in recs if r["app"] == app and r["op"] == "login"]
        assert sum(nums[app]["logins"].values()) == len(attempts)
        mistyped = sum(1 for e in plan["events"] if e[1] == app and e[4] == "login" and not e[7])
        assert nums[app]["logins"].get("failure", 0) == mistyped
    done = summary["done"]
    assert nums["oa"]["documents"] == done.get("oa/create", 0) > 0
    assert nums["approval"]["applications"] == done.get("approval/submit", 0) > 0
    assert nums["approval"]["receipts_sent"] == nums["approval"]["applications"]
    assert len(svc.sink.wait_for(nums["approval"]["applications"])) == nums["approval"]["applications"]
    assert svc.portal.relayed > 0 and svc.portal.failed == 0  # applicants came through the portal
    # documents moved along their flow and approvals were reviewed by the departments
    assert any(k.startswith("oa/flow-") for k in done) and done.get("approval/review-approve", 0) > 0
    # background: every flow's datagrams were paced and, on loopback, delivered
    bg = summary["background"]
    assert set(bg) == {"voice", "video"}
    for c in bg.values():
        assert c["sent"] >= 0.95 * c["planned"] and c["received"] == c["sent"]
    pts = points(out, {"services": nums})
    assert {p.tags["op"] for p in pts if p.measurement == "app"} >= {"login", "delivery", "escalation"}


def test_users_survive_a_server_restart_and_lose_nothing_accepted(
    services: tuple[Services, dict[str, Any]], tmp_path: Path
) -> None:
    svc, plan = services
    plan["flows"] = []
    out = tmp_path / "out"
    rep = Replayer(plan, out, log=lambda m: None)
    t = threading.Thread(target=rep.run, kwargs={"workers": 16})
    t.start()
    threading.Event().wait(3.0)
    svc.restart_oa(down_s=1.5)
    t.join(timeout=60)
    assert not t.is_alive()
    recs = _records(out)
    refused = [r for r in recs if r["app"] == "oa" and r["status"] == "error"]
    assert refused and all(r["http"] == 0 for r in refused)  # connection refused/reset, recorded
    after = [r for r in recs if r["app"] == "oa" and r["wall"] > max(x["wall"] for x in refused)]
    assert after and all(r["status"] == "ok" for r in after)  # and the users carried on
    created = sum(1 for r in recs if r["app"] == "oa" and r["did"] == "create" and r["status"] == "ok")
    db = sqlite3.connect(tmp_path / "oa.db")
    assert db.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == created
    db.close()


def test_bad_plans_are_refused_with_the_field_named(tmp_path: Path) -> None:
    plan, _ = _plan(SPEC)
    with pytest.raises(PlanError, match="servers"):
        Replayer(plan, tmp_path)  # no servers at all
    plan["servers"] = {"oa": "127.0.0.1:1", "approval": "nowhere", "portal": "127.0.0.1:2"}
    with pytest.raises(PlanError, match=r"servers\.approval"):
        Replayer(plan, tmp_path)
    plan["servers"]["approval"] = "127.0.0.1:3"
    plan["events"][0][3] = "no-such-host"
    with pytest.raises(PlanError, match="no-such-host"):
        Replayer(plan, tmp_path)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"hours": 0}, "traffic.hours"),
        ({"start_hour": "eight"}, "traffic.start_hour"),
        ({"clients": {"oa": {"users_per_desktop": -1}}}, "traffic.clients.oa.users_per_desktop"),
        ({"background": {"fax": {}}}, "traffic.background.fax"),
        ({"limits_hours": {"accept": 0}}, "traffic.limits_hours.accept"),
        ({"limits_hours": {"lunch": 1}}, "traffic.limits_hours"),
        ({"day_minute": 3}, "traffic.day_minute"),
    ],
)
def test_traffic_section_errors_name_the_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(ModelError) as exc:
        parse_traffic(raw, "lab.yaml")
    assert any(p.path == field for p in exc.value.problems), exc.value.problems


def test_summary_counts_conflicts_apart_from_errors() -> None:
    recs = [
        {"app": "oa", "op": "flow", "did": "flow-review", "status": "ok", "latency_s": 0.01, "lag_s": 0.0},
        {"app": "oa", "op": "flow", "did": "flow", "status": "conflict", "latency_s": 0.01, "lag_s": 0.0},
        {
            "app": "oa",
            "op": "open",
            "did": "open",
            "status": "error",
            "http": 0,
            "latency_s": 1.0,
            "lag_s": 0.0,
        },
    ]
    flows = [{"class": "voice", "planned": 100, "sent": 100, "received": 90}]
    s = summarise(recs, flows)
    assert (s["errors"], s["conflicts"]) == (1, 1)
    assert s["by_op"]["oa/flow"]["ok"] == 1 and s["by_op"]["oa/flow"]["conflicts"] == 1
    assert s["by_op"]["oa/open"]["latency_mean_s"] is None
    assert s["background"]["voice"]["delivered"] == 0.9
