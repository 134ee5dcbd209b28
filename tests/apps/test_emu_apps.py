"""OA and approval work over the emulated small network (root).

1. `govnet lab run workday` end to end: the bundled scenario brings the network up, plays a
   compressed working day, and the run directory holds the offered-traffic exports, the per-service
   numbers, the login audit ledger and a report with the traffic section.
2. A compressed slice played by `AppsLab` on one emulated network while the OA service is killed and
   restarted: users record the refusals and carry on; nothing accepted is lost; every login attempt
   reaches the services' audit and the hash-chained ledger; overdue approval steps escalate;
   background voice/video crosses the firewalls (the receiver opens each stream) and is delivered.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [
    pytest.mark.emu,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (Mininet); CI runs these as root"),
]

from apps.lab import AppsLab, parse_traffic  # noqa: E402
from capacity.demands import load_demands  # noqa: E402
from ids.hids.lab import LabHids  # noqa: E402
from topology import load_model  # noqa: E402

GOVNET = [sys.executable, "-m", "cli"]


def test_workday_lab_drives_traffic_and_reports_it(tmp_path: Path) -> None:
    # the lab's metrics store is left running between labs by design: give it the test's own var/
    # and stop it afterwards
    env = {**os.environ, "GOVNET_RUNS": str(tmp_path / "runs"), "GOVNET_VAR": str(tmp_path / "var")}
    try:
        r = subprocess.run(
            [*GOVNET, "lab", "run", "workday"], capture_output=True, text=True, timeout=900, env=env
        )
    finally:
        subprocess.run([*GOVNET, "tsdb", "down"], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    run = next((tmp_path / "runs").glob("*-workday"))
    results = json.loads((run / "results.json").read_text())
    apps = results["metrics"]["apps"]
    assert apps["users"]["operations"] == apps["planned"]["operations"] > 500
    assert apps["users"]["errors"] == 0
    svc = apps["services"]
    assert svc["oa"]["documents"] == apps["users"]["done"]["oa/create"]
    assert svc["approval"]["applications"] == apps["users"]["done"]["approval/submit"]
    assert svc["approval"]["escalations"] > 0  # the scenario's limits are tight on purpose
    for name in ("oa", "approval"):
        assert apps["audit"]["login_records"][name] == sum(svc[name]["logins"].values())
    assert apps["audit"]["intact"]
    assert apps["hids"]["servers"] == ["srv-oa"] and apps["hids"]["alerts"] == {"srv-oa": 0}, apps["hids"]
    # the routers' and firewalls' management SSH logins (the device CLI's netmiko sessions) too
    assert apps["audit"]["login_records"].get("ssh", 0) >= len(
        [n for n in load_model("small").nodes if n.kind in ("core", "router", "firewall")]
    )
    net = load_model("small")
    for export in ("offered.json", "offered-wall.json"):
        demands = load_demands(run / export, net)
        assert {d.cls for d in demands} >= {"oa", "approval"}
    nids = results["metrics"]["nids"]  # sensors watched the whole lab: a working day raises nothing
    assert len(nids["sensors"]) == 5 and nids["alerts"] == 0 and nids["blocks"] == [], nids
    validation = results["metrics"]["validation"]  # the scenario compares simulator and emulator first
    assert validation["links"] and validation["mean_relative_error"] < 0.10
    report = (run / "report.md").read_text()
    assert "## Traffic (OA, approval, background)" in report and "| oa/create |" in report
    assert "## Simulator vs emulator" in report and "## Off-site backup copy" in report
    # the night's off-site copy crossed the network at its paced rate, verified, and it shows in the
    # load of every link on its path (the slowest: a 10 Mbit/s desktop link, paced to half)
    off = results["metrics"]["offsite"]
    assert off["ok"] and off["result"]["sha256"] == off["plan"]["sha256"]
    rate = off["plan"]["rate_mbps"]
    assert off["links"] and all(
        0.85 * rate <= lk["mbps"] <= 1.1 * rate for lk in off["links"] if "#" not in lk["link"]
    ), off["links"]
    assert (run / "apps" / "ops.jsonl").exists() and (run / "audit.db").exists()
    assert not subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.strip()


SLICE = {
    "start_hour": 9,
    "hours": 3,
    "day_minutes": 4,  # 3 h in 30 s
    "seed": 11,
    "clients": {"oa": {"users_per_desktop": 4}, "approval": {"users_per_desktop": 3}},
    "background": {"voice": {"calls_per_hour": 120}, "vod": {"sessions_per_hour": 30}, "conference": {}},
    "limits_hours": {"accept": 0.5, "review": 1, "final": 0.5},
}


def test_users_survive_a_crash_and_every_login_is_audited(tmp_path: Path) -> None:
    from firewall import Pair, pair_plan
    from labs.parts.audit import audit_logins as _audit_logins
    from topology.emulator import Emulation

    net = load_model("small")
    plan = pair_plan(net)
    assert plan is not None
    spec = parse_traffic(SLICE, "test")
    logs: list[str] = []
    with Emulation(net, tmp_path) as emu, Pair(emu, plan, tmp_path, log=logs.append) as _pair:
        apps = AppsLab(emu, tmp_path, spec, log=logs.append)
        with apps, LabHids(emu, tmp_path, apps.hids_watch(), log=logs.append) as hids:
            apps.play(wait=False)
            time.sleep(spec.wall_s / 3)
            crash = time.time()
            apps.restart("oa", down_s=2.0)
            back = time.time()
            # an intruder on the OA server: swaps the sealing key, opens a back door
            key = tmp_path / "apps" / "oa.db.key"
            key.write_bytes(key.read_bytes()[::-1])
            door = emu.node("srv-oa").popen(["python3", "-m", "http.server", "4444"], stdout=-1, stderr=-1)
            apps.wait()
            deadline = time.monotonic() + 10
            while len(hids.alerts("srv-oa")) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            door.kill()
            door.wait()
        summary: dict[str, Any] = apps.summary
    sigs = [a["alert"]["signature"] for a in hids.alerts("srv-oa")]
    assert f"GOVNET HIDS file modified: {key}" in sigs, sigs
    assert any(s.startswith("GOVNET HIDS new listening port tcp/4444") for s in sigs), sigs
    assert len(sigs) == 2, sigs  # the OA's restart (same port) and the users' traffic raise nothing
    users = summary["users"]
    assert users["operations"] == summary["planned"]["operations"]
    recs = [json.loads(x) for x in (tmp_path / "apps" / "ops.jsonl").read_text().splitlines()]
    errors = [r for r in recs if r["status"] == "error"]
    # the only failures are the OA service's refusals while it was down (a request in flight may
    # end with the reset), recorded as such
    assert errors and all(r["app"] == "oa" and r["http"] == 0 for r in errors), errors[:3]
    assert all(crash - 1 <= r["wall"] <= back + 35 for r in errors), errors[:3]
    later = [r for r in recs if r["app"] == "oa" and r["wall"] > max(r["wall"] for r in errors) + 1]
    assert later and all(r["status"] != "error" for r in later)
    # nothing a user was told about is lost
    svc = summary["services"]
    assert svc["oa"]["documents"] == users["done"].get("oa/create", 0) > 0
    assert svc["approval"]["applications"] == users["done"].get("approval/submit", 0) > 0
    assert svc["approval"]["receipts_sent"] == svc["approval"]["applications"]
    assert svc["approval"]["escalations"] > 0 and svc["approval"]["completed"] > 0
    # every login attempt the users made is in the service's audit and in the ledger
    audit = _audit_logins(tmp_path)
    for app in ("oa", "approval"):
        attempts = [r for r in recs if r["app"] == app and r["op"] == "login" and r.get("http", 200) != 0]
        assert sum(svc[app]["logins"].values()) == len(attempts) > 0
        assert audit["login_records"][app] == len(attempts)
    # staff logged in from their desks: the audit names the desk addresses, not the portal's
    db = sqlite3.connect(tmp_path / "apps" / "approval.db")
    sources = {
        json.loads(d)["source"] for (d,) in db.execute("SELECT detail FROM events WHERE kind = 'login'")
    }
    db.close()
    assert sources and all(s.startswith("10.10.") for s in sources), sources
    # background flows crossed the network (the VoD server's stream through the inner firewall)
    bg = users["background"]
    assert set(bg) == {"voice", "video"}
    for cls, c in bg.items():
        assert c["sent"] >= 0.9 * c["planned"] and c["delivered"] >= 0.99, (cls, c)
