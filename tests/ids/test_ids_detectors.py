"""Each built-in detector on crafted pcaps: attacks alert exactly once per window, normal traffic never."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ids_craft import ATTACKER, PORTAL, T0, handshake, ping, post, scan, sids, syn, timed, udp
from scapy.all import IP, TCP, Ether, Raw

from ids.nids.detectors import (
    SID_PORTSCAN,
    SID_SSH_GUESS,
    SID_SWEEP,
    SID_SYNFLOOD,
    SID_UDPSCAN,
    SID_WEB_GUESS,
)


def test_tcp_port_scan_alerts_once_and_asks_for_a_block(tmp_path: Path) -> None:
    pkts = timed(syn(ATTACKER, PORTAL, port) for port in range(1000, 1100))
    res = scan(tmp_path, pkts)
    assert sids(res) == [SID_PORTSCAN]
    a = res.alerts[0]
    assert a["src_ip"] == ATTACKER and a["dest_ip"] == PORTAL and a["proto"] == "TCP"
    assert [b.src_ip for b in res.blocks] == [ATTACKER]
    assert res.blocks[0].seconds == 300
    assert res.blocks[0].first_seen == pkts[0].time


def test_port_scan_below_threshold_or_slow_is_quiet(tmp_path: Path) -> None:
    assert sids(scan(tmp_path, timed(syn(ATTACKER, PORTAL, p) for p in range(1000, 1019)))) == []
    # 30 ports, one every second: never 20 distinct ports inside one 10 s window
    slow = timed((syn(ATTACKER, PORTAL, p) for p in range(1000, 1030)), step=1.0)
    assert sids(scan(tmp_path, slow)) == []


def test_port_scan_window_restarts(tmp_path: Path) -> None:
    burst1 = [syn(ATTACKER, PORTAL, p) for p in range(1000, 1030)]
    burst2 = [syn(ATTACKER, PORTAL, p) for p in range(2000, 2030)]
    pkts = timed(burst1) + timed(burst2, start=timed([ping("1.1.1.1", "1.1.1.2")])[0].time + 60)
    assert sids(scan(tmp_path, pkts)) == [SID_PORTSCAN, SID_PORTSCAN]


def test_udp_scan_but_not_dns_replies(tmp_path: Path) -> None:
    scan_pkts = [udp(ATTACKER, PORTAL, 53000, p) for p in range(100, 140)]
    assert sids(scan(tmp_path, timed(scan_pkts))) == [SID_UDPSCAN]
    # a DNS server answering 40 clients' ephemeral ports is not scanning them
    replies = [udp("10.10.0.53", "10.20.0.5", 53, 30000 + i) for i in range(40)]
    assert sids(scan(tmp_path, timed(replies))) == []


def test_syn_flood_on_one_service(tmp_path: Path) -> None:
    flood = [syn(f"198.51.{i // 250}.{i % 250 + 1}", PORTAL, 80, sport=1024 + i) for i in range(600)]
    res = scan(tmp_path, timed(flood, step=0.001))
    assert sids(res) == [SID_SYNFLOOD]
    a = res.alerts[0]
    assert (a["dest_ip"], a["dest_port"]) == (PORTAL, 80)
    # the sources are many and spoofed: the alert names only the victim and never asks for a block
    assert a["src_ip"] == "" and "src_port" not in a and a["flood"]["half_open"] == 200
    assert res.blocks == []


def test_many_completed_connections_are_not_a_flood(tmp_path: Path) -> None:
    pkts = []
    for i in range(600):
        pkts += handshake(f"10.20.{i // 200}.{i % 200 + 1}", PORTAL, 80, 20000 + i)
    assert sids(scan(tmp_path, timed(pkts, step=0.001))) == []


def test_icmp_sweep(tmp_path: Path) -> None:
    pkts = timed(ping(ATTACKER, f"10.50.0.{i}") for i in range(1, 31))
    res = scan(tmp_path, pkts)
    assert sids(res) == [SID_SWEEP]
    assert "dest_port" not in res.alerts[0] and res.alerts[0]["icmp_type"] == 8
    # pinging one host many times is not a sweep
    assert sids(scan(tmp_path, timed(ping(ATTACKER, PORTAL) for _ in range(50)))) == []


def test_ssh_password_guessing(tmp_path: Path) -> None:
    pkts = []
    for i in range(25):
        pkts += handshake(ATTACKER, "10.60.0.2", 22, 41000 + i)
    res = scan(tmp_path, timed(pkts, step=0.5))
    assert sids(res) == [SID_SSH_GUESS]
    # an admin opening 5 sessions in a minute is fine
    few = []
    for i in range(5):
        few += handshake("10.99.0.5", "10.60.0.2", 22, 41000 + i)
    assert sids(scan(tmp_path, timed(few, step=2.0))) == []


def test_web_login_guessing_against_oa(tmp_path: Path) -> None:
    body = '{"user": "alice", "password": "guess"}'
    pkts = [post("/login", body, dport=8080, sport=42000 + i) for i in range(15)]
    res = scan(tmp_path, timed(pkts, step=1.0))
    assert sids(res) == [SID_WEB_GUESS]
    assert res.alerts[0]["dest_port"] == 8080
    # other POSTs (documents) are not logins; a few logins are fine
    docs = [post("/documents", "{}", dport=8080, sport=42000 + i) for i in range(15)]
    assert sids(scan(tmp_path, timed(docs, step=1.0))) == []
    assert sids(scan(tmp_path, timed(pkts[:5], step=1.0))) == []


def test_failed_login_answers_rule(tmp_path: Path) -> None:
    reply = b'HTTP/1.0 401 Unauthorized\r\n\r\n{"error": "wrong user name or password"}'
    pkts = [
        Ether() / IP(src=PORTAL, dst=ATTACKER) / TCP(sport=8080, dport=42000 + i, flags="PA") / Raw(reply)
        for i in range(8)
    ]
    res = scan(tmp_path, timed(pkts, step=1.0), enabled=frozenset())
    # detection_filter count 5: the 6th, 7th and 8th failures in the minute alert
    assert sids(res) == [1000021] * 3
    assert res.alerts[0]["dest_ip"] == ATTACKER


def test_thresholds_are_configurable(tmp_path: Path) -> None:
    pkts = timed(syn(ATTACKER, PORTAL, p) for p in range(1000, 1030))
    assert sids(scan(tmp_path, pkts, portscan_ports=50)) == []
    assert sids(scan(tmp_path, pkts, enabled=frozenset({"sweep"}))) == []


def test_one_block_request_per_source_while_blocked(tmp_path: Path) -> None:
    def burst(start: float) -> list[Any]:
        return timed((syn(ATTACKER, PORTAL, p) for p in range(1000, 1030)), start=start)

    # a second scan while the 300 s block runs, a third after it ended
    res = scan(tmp_path, burst(T0) + burst(T0 + 60) + burst(T0 + 460))
    assert sids(res) == [SID_PORTSCAN] * 3
    assert len(res.blocks) == 2
    assert [a["govnet"].get("block_already_requested", False) for a in res.alerts] == [False, True, False]


def test_never_block_management_addresses(tmp_path: Path) -> None:
    from ids_craft import write

    from ids.nids import DetectorConfig, default_rules_path, load_rules, scan_pcap

    pcap = write(tmp_path, "m.pcap", timed(syn("10.99.0.5", PORTAL, p) for p in range(1000, 1030)))
    res = scan_pcap(pcap, load_rules([default_rules_path()]), DetectorConfig(), never_block=["10.99.0.0/24"])
    assert sids(res) == [SID_PORTSCAN]
    assert res.blocks == []
    assert "never blocked" in res.alerts[0]["govnet"]["block_refused"]


def test_spoofed_flood_state_is_bounded() -> None:
    from ids.nids import DetectorConfig, Engine, decode

    eng = Engine(None, DetectorConfig(max_tracked=1000))
    frame = bytearray(bytes(syn("198.51.100.1", PORTAL, 80)))
    for i in range(20_000):  # a new spoofed source every packet
        frame[26:30] = (0xC6330000 + i).to_bytes(4, "big")
        p = decode(bytes(frame), T0 + i * 1e-5)
        assert p is not None
        eng.inspect(p)
    for win in (eng.detectors._portscan, eng.detectors._flood):
        assert win is not None and len(win.state) <= 1000
    assert eng.detectors.evicted > 0
    assert eng.stats_event()["detail"]["detector_evictions"] == eng.detectors.evicted
    assert [a for a, _ in eng.stats.by_sid] == [SID_SYNFLOOD]
