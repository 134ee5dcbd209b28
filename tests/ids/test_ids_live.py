"""Live capture on `lo` with a raw AF_PACKET socket (needs root: CAP_NET_RAW; we are root in CI).

Only traffic to 127.0.0.1 in this namespace; no interface is created or changed.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from govnet import events

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="live capture opens a raw AF_PACKET socket: needs root (CAP_NET_RAW)"
)


def test_capture_sees_udp_to_localhost_once_each() -> None:
    from ids.nids import decode
    from ids.nids.capture import Capture

    port = 47000 + os.getpid() % 1000
    with Capture("lo") as cap:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(20):
            s.sendto(b"probe-%d" % i, ("127.0.0.1", port))
        s.close()
        got = []
        deadline = time.monotonic() + 3
        while len(got) < 20 and time.monotonic() < deadline:
            for ts, frame in cap.frames(0.1):
                p = decode(frame, ts)
                if p is not None and p.dport == port:
                    got.append(p.payload)
        packets, drops = cap.statistics()
    # the BPF filter drops the outgoing copy that lo shows every packet twice as
    assert sorted(got) == sorted(b"probe-%d" % i for i in range(20))
    assert drops == 0 and packets >= 20
    assert cap.rcvbuf >= 1 << 20


def test_both_directions_filter_also_keeps_frames_leaving_the_interface() -> None:
    """On a router's or bridge's port the frames leaving are traffic too: lo shows each twice."""
    from ids.nids import decode
    from ids.nids.capture import BOTH_DIRECTIONS_FILTER, Capture

    port = 48000 + os.getpid() % 1000
    with Capture("lo", bpf=BOTH_DIRECTIONS_FILTER) as cap:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(10):
            s.sendto(b"both-%d" % i, ("127.0.0.1", port))
        s.close()
        got: list[bytes] = []
        deadline = time.monotonic() + 3
        while len(got) < 20 and time.monotonic() < deadline:
            for ts, frame in cap.frames(0.1):
                p = decode(frame, ts)
                if p is not None and p.dport == port:
                    got.append(p.payload)
    assert sorted(got) == sorted(b"both-%d" % i for i in range(10) for _ in range(2))


def test_sensor_alerts_on_a_localhost_port_scan(tmp_path: Path) -> None:
    from ids.nids import DetectorConfig, Engine, default_rules_path, load_rules
    from ids.nids.capture import Capture
    from ids.nids.sensor import Sensor

    log = events.EventLog(tmp_path / "events.json")
    blocks: list[object] = []
    engine = Engine(
        load_rules([default_rules_path()]),
        DetectorConfig(udpscan_ports=15),
        sensor="nids-lo",
        on_block=blocks.append,
        never_block=["10.99.0.0/24"],
    )
    cap = Capture("lo")
    sensor = Sensor(cap, engine, events_log=log, stats_interval=0.5)
    stop = threading.Event()
    th = threading.Thread(target=sensor.run, args=(stop,))
    th.start()
    try:
        time.sleep(0.3)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t0 = time.monotonic()
        for port in range(48100, 48140):
            s.sendto(b"x", ("127.0.0.1", port))
        s.close()
        while time.monotonic() - t0 < 5 and not engine.stats.alerts:
            time.sleep(0.05)
        detect_s = time.monotonic() - t0
    finally:
        stop.set()
        th.join()
        cap.close()
        log.close()
    recs = list(events.read(tmp_path / "events.json"))
    alerts = [r for r in recs if r["event_type"] == "alert"]
    stats = [r for r in recs if r["event_type"] == "stats"]
    assert [a["alert"]["signature_id"] for a in alerts] == [9000002], alerts
    assert detect_s < 5
    assert stats and "kernel_drops" in stats[-1]["detail"] and stats[-1]["detail"]["iface"] == "lo"
    assert len(blocks) == 1
