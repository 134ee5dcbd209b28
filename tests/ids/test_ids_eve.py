"""Every alert the NIDS and HIDS write follows the EVE schema (what Suricata's readers expect)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from ids_craft import ATTACKER, PORTAL, get, handshake, ping, post, scan, syn, timed, udp

from govnet import events
from govnet.metrics import validate
from ids.hids import scan as hids_scan
from ids.hids import to_alerts
from ids.hids.integrity import compare

_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+0000$")
_IP = re.compile(r"^([0-9.]+|[0-9a-f:]+)$")


def check_eve_alert(rec: dict[str, Any]) -> None:
    """The EVE alert contract: field names and types that EVE readers rely on."""
    assert _TS.match(rec["timestamp"]), rec["timestamp"]
    assert rec["event_type"] == "alert"
    assert isinstance(rec["flow_id"], int) and rec["flow_id"] >= 0
    assert isinstance(rec["sensor"], str) and rec["sensor"]
    for key in ("src_ip", "dest_ip"):
        assert isinstance(rec[key], str) and (rec[key] == "" or _IP.match(rec[key]))
    for key in ("src_port", "dest_port"):
        if key in rec:
            assert isinstance(rec[key], int) and 0 <= rec[key] <= 65535
    assert isinstance(rec["proto"], str)
    al = rec["alert"]
    assert al["action"] in ("allowed", "blocked")
    assert isinstance(al["signature_id"], int) and al["signature_id"] > 0
    assert isinstance(al["signature"], str) and al["signature"]
    assert isinstance(al["category"], str) and al["category"]
    assert al["severity"] in (1, 2, 3, 4)
    assert isinstance(al["gid"], int) and isinstance(al["rev"], int)
    assert json.loads(json.dumps(rec)) == rec


def test_nids_alerts_follow_eve(tmp_path: Path) -> None:
    pkts = [syn(ATTACKER, PORTAL, p) for p in range(1000, 1040)]
    pkts += [udp(ATTACKER, PORTAL, 5000, p) for p in range(100, 140)]
    pkts += [ping(ATTACKER, f"10.50.1.{i}") for i in range(1, 20)]
    pkts += [get("/x/../../etc/passwd"), get("/a?id=1'%20or%201=1")]
    pkts += [post("/login", "u=a&p=b", dport=8080, sport=50000 + i) for i in range(12)]
    for i in range(12):
        pkts += handshake(ATTACKER, "10.60.0.2", 22, 41000 + i)
    res = scan(tmp_path, timed(pkts))
    assert len(res.alerts) >= 8
    log = tmp_path / "events.json"
    with events.EventLog(log) as el:
        for rec in res.alerts:
            check_eve_alert(rec)
            el.write(rec)
    back = list(events.read(log))
    assert back == res.alerts
    for rec in back:
        if rec["alert"]["signature_id"] in (1000001, 1000004, 1000011):
            assert rec["app_proto"] == "http" and rec["http"]["url"]
        if "govnet" in rec:
            assert rec["govnet"]["block_seconds"] > 0 and _TS.match(rec["govnet"]["first_seen"])


def test_ids_metric_points_validate(tmp_path: Path) -> None:
    from ids.nids import Engine, decode

    eng = Engine(None)
    for p in timed(syn(ATTACKER, PORTAL, port) for port in range(1000, 1030)):
        pkt = decode(bytes(p), float(p.time))
        assert pkt is not None
        eng.inspect(pkt)
    points = eng.points(time_ns=1_763_800_000_000_000_000)
    assert [(pt.tags["signature_id"], pt.fields["alerts"]) for pt in points] == [("9000001", 1)]
    for pt in points:
        assert validate(pt) is pt
    stats = eng.stats_event(kernel_drops=0)
    assert stats["event_type"] == "stats" and stats["detail"]["alerts"] == 1


def test_hids_alerts_follow_eve(tmp_path: Path) -> None:
    root = tmp_path / "srv"
    root.mkdir()
    (root / "a").write_text("1")
    (root / "b").write_text("2")
    before = hids_scan([root])
    (root / "a").write_text("changed")
    os.chmod(root / "b", 0o4755)
    (root / "c").write_text("new")
    alerts = to_alerts(compare(before, hids_scan([root])), sensor="hids-test")
    assert len(alerts) == 3
    for rec in alerts:
        check_eve_alert(rec)
        assert rec["alert"]["category"] == "HIDS file integrity"
        assert rec["hids"]["path"].startswith(str(root))
    sev = {a["hids"]["path"].rsplit("/", 1)[1]: a["alert"]["severity"] for a in alerts}
    assert sev == {"a": 2, "b": 1, "c": 3}
