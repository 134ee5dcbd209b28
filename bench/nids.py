"""Benchmark: packets/s inspected by govnet's NIDS against a scapy-based sensor, on one pcap, in one run.

1. Generate a pcap of N packets (default 200,000) of mixed traffic over 100 s: web sessions to the
   portal and the OA app (handshake, request, answer, ACK), OA logins, DNS queries and answers, VoIP
   RTP, pings — and attacks: a 1,000-port SYN scan, a UDP scan, a 5,000-packet spoofed SYN flood, an
   ICMP sweep of a /24, SSH and web-login guessing, path traversal and SQL injection requests.
2. govnet: `ids.nids.scan_pcap` (struct decoding, rule index, built-in detectors, shipped rules).
3. scapy: `PcapReader` + layer access (`pkt[IP].src`, `pkt[TCP].flags`, `bytes(pkt[TCP].payload)`)
   feeding the *same* detection logic (rules and detectors), so any difference in alerts is a
   decoding difference, and the ratio is the cost of the capture/decode path.
Both print packets/s; then their ratio and whether the (sid, source, destination) alert sets agree.

Live (needs root; the lead runs it under Mininet on the firewall's outside link while replaying the
same pcap with `tcpreplay --mbps 100` on each of the two 100 Mbit/s exits):
    .venv/bin/python bench/nids.py --live-iface IFACE --duration 30
prints frames/s inspected, alerts and the kernel's drop counter. `--live-iface lo --loopback-pps N`
also sends N UDP datagrams/s to 127.0.0.1 from a child process, to measure this machine's ceiling.

Usage: .venv/bin/python bench/nids.py [--packets 200000] [--scapy-packets N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import ipaddress
import multiprocessing
import random
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchfile import Figure, write_results

from ids.nids import DetectorConfig, Engine, PcapWriter, default_rules_path, load_rules, scan_pcap
from ids.nids.decode import Packet

T0 = 1_763_800_000.0
PORTAL = "10.50.0.10"
OA = "10.50.0.20"
DNS = "10.50.0.53"
ATTACKER = "203.0.113.66"
MAC = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02"


def _ip(a: str) -> bytes:
    return ipaddress.IPv4Address(a).packed


def _frame(src: str, dst: str, proto: int, l4: bytes) -> bytes:
    """Ethernet + IPv4 (checksum left 0: sensors must not care) + the given L4 bytes."""
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0, 0x4000, 64, proto, 0, _ip(src), _ip(dst))
    return MAC + b"\x08\x00" + ip + l4


def tcp(src: str, dst: str, sport: int, dport: int, flags: int, payload: bytes = b"") -> bytes:
    hdr = struct.pack("!HHIIBBHHH", sport, dport, 1, 1, 5 << 4, flags, 65535, 0, 0)
    return _frame(src, dst, 6, hdr + payload)


def udp(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    return _frame(src, dst, 17, struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload)


def icmp_echo(src: str, dst: str) -> bytes:
    return _frame(src, dst, 1, struct.pack("!BBHHH", 8, 0, 0, 1, 1) + b"\0" * 32)


def generate(path: Path, n: int, seed: int = 6) -> dict[str, int]:
    """Write n frames of background traffic with the attacks mixed in; returns packets per kind."""
    rng = random.Random(seed)
    S, A, PA, SA, FA = 0x02, 0x10, 0x18, 0x12, 0x11
    attacks: list[bytes] = []
    attacks += [tcp(ATTACKER, PORTAL, 40000, p, S) for p in range(1, 1001)]
    attacks += [udp(ATTACKER, PORTAL, 40001, p, b"") for p in range(1, 101)]
    attacks += [tcp(f"198.51.{i // 250}.{i % 250 + 1}", PORTAL, 1024 + i % 60000, 80, S) for i in range(5000)]
    attacks += [icmp_echo("203.0.113.67", f"10.50.1.{i}") for i in range(1, 255)]
    attacks += [tcp("203.0.113.68", "10.60.0.2", 41000 + i, 22, S) for i in range(30)]
    login = b'POST /login HTTP/1.1\r\nHost: oa\r\n\r\n{"user": "alice", "password": "guess"}'
    attacks += [tcp("203.0.113.69", OA, 42000 + i, 8080, PA, login) for i in range(30)]
    for i, uri in enumerate(
        [
            b"/files/../../etc/passwd",
            b"/f/%2e%2e/%2e%2e/x",
            b"/a?id=1'%20OR%201=1",
            b"/a?id=1+UNION+SELECT+1,2",
        ]
        * 5
    ):
        attacks.append(
            tcp("203.0.113.70", PORTAL, 43000 + i, 80, PA, b"GET " + uri + b" HTTP/1.1\r\nHost: p\r\n\r\n")
        )
    kinds = {"attack": len(attacks)}
    bg: list[bytes] = []
    page = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 900\r\n\r\n" + b"x" * 900
    rtp = b"\x80\x00" + b"\0" * 170
    while len(bg) + len(attacks) < n:
        r = rng.random()
        client = f"10.{rng.choice((20, 30, 40))}.{rng.randrange(1, 60)}.{rng.randrange(1, 250)}"
        sport = rng.randrange(20000, 60000)
        if r < 0.45:
            srv, port = (PORTAL, 80) if rng.random() < 0.6 else (OA, 8080)
            uri = rng.choice([b"/applications/17", b"/todo", b"/documents/3", b"/health", b"/static/app.js"])
            bg += [
                tcp(client, srv, sport, port, S),
                tcp(srv, client, port, sport, SA),
                tcp(client, srv, sport, port, A),
                tcp(
                    client,
                    srv,
                    sport,
                    port,
                    PA,
                    b"GET " + uri + b" HTTP/1.1\r\nHost: s\r\nAccept: */*\r\n\r\n",
                ),
                tcp(srv, client, port, sport, PA, page),
                tcp(client, srv, sport, port, A),
                tcp(client, srv, sport, port, FA),
                tcp(srv, client, port, sport, FA),
            ]
        elif r < 0.5:
            body = b'{"user": "bob", "password": "correct horse"}'
            bg += [
                tcp(client, OA, sport, 8080, S),
                tcp(client, OA, sport, 8080, A),
                tcp(client, OA, sport, 8080, PA, b"POST /login HTTP/1.1\r\nHost: oa\r\n\r\n" + body),
                tcp(OA, client, 8080, sport, PA, b'HTTP/1.0 200 OK\r\n\r\n{"token": "abc"}'),
            ]
        elif r < 0.7:
            q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x06portal\x03gov\x00\x00\x01\x00\x01"
            bg += [udp(client, DNS, sport, 53, q), udp(DNS, client, 53, sport, q + b"\xc0\x0c" + b"\0" * 14)]
        elif r < 0.97:
            peer = f"10.40.{rng.randrange(1, 60)}.{rng.randrange(1, 250)}"
            bg += [udp(client, peer, 16384, 16386, rtp), udp(peer, client, 16386, 16384, rtp)] * 10
        else:
            bg += [icmp_echo(client, PORTAL)]
    bg = bg[: n - len(attacks)]
    kinds["background"] = len(bg)
    # spread attacks through the background, each attack kept in order, over 100 s
    total = len(bg) + len(attacks)
    at = sorted(rng.sample(range(total), len(attacks)))
    frames: list[bytes] = []
    ai = bi = 0
    for i in range(total):
        if ai < len(at) and at[ai] == i:
            frames.append(attacks[ai])
            ai += 1
        else:
            frames.append(bg[bi])
            bi += 1
    with PcapWriter(path) as w:
        for i, f in enumerate(frames):
            w.write(T0 + 100.0 * i / total, f)
    return kinds


def scapy_sensor(path: Path, limit: int | None) -> tuple[list[dict[str, Any]], int, float]:
    """The same detections with scapy doing the reading and dissection (PcapReader + layer access)."""
    from scapy.all import ICMP, IP, TCP, UDP, PcapReader

    alerts: list[dict[str, Any]] = []
    engine = Engine(
        load_rules([default_rules_path()]), DetectorConfig(), sensor="scapy", on_alert=alerts.append
    )
    inspect = engine.inspect
    n = 0
    t0 = time.perf_counter()
    with PcapReader(str(path)) as reader:
        for pkt in reader:
            n += 1
            if limit is not None and n > limit:
                n -= 1
                break
            if IP not in pkt:
                continue
            ip = pkt[IP]
            p = Packet(
                float(pkt.time),
                b"",
                4,
                ip.proto,
                int(ipaddress.IPv4Address(ip.src)),
                int(ipaddress.IPv4Address(ip.dst)),
            )
            if TCP in pkt:
                t = pkt[TCP]
                p.sport, p.dport, p.flags = t.sport, t.dport, int(t.flags)
                payload = bytes(t.payload)
                p.ack_only = p.flags & 0x17 == 0x10 and not payload
            elif UDP in pkt:
                u = pkt[UDP]
                p.sport, p.dport = u.sport, u.dport
                payload = bytes(u.payload)
            elif ICMP in pkt:
                p.icmp_type, p.icmp_code = pkt[ICMP].type, pkt[ICMP].code
                payload = bytes(pkt[ICMP].payload)
            else:
                payload = b""
            p.buf, p.pay, p.end = payload, 0, len(payload)
            inspect(p)
    return alerts, n, time.perf_counter() - t0


def _key(a: dict[str, Any]) -> tuple[int, str, str]:
    return (a["alert"]["signature_id"], a["src_ip"], a["dest_ip"])


def offline(args: argparse.Namespace) -> None:
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="govnet-nids-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        pcap = tmp / "mixed.pcap"
        t0 = time.perf_counter()
        kinds = generate(pcap, args.packets)
        mb = pcap.stat().st_size / 1e6
        print(
            f"pcap: {sum(kinds.values()):,} frames ({kinds['attack']:,} attack), {mb:.1f} MB, "
            f"generated in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        ours = scan_pcap(pcap)
        ours_pps = ours.packets_per_second
        print(
            f"govnet (struct decode + rule index + detectors): {ours.stats.frames:,} frames in "
            f"{ours.seconds:.2f} s = {ours_pps:,.0f} frames/s, {len(ours.alerts)} alerts",
            flush=True,
        )
        limit = args.scapy_packets
        s_alerts, s_n, s_sec = scapy_sensor(pcap, limit)
        s_pps = s_n / s_sec
        print(
            f"scapy (PcapReader + layer access, same detections): {s_n:,} frames in {s_sec:.2f} s = "
            f"{s_pps:,.0f} frames/s, {len(s_alerts)} alerts",
            flush=True,
        )
        print(f"ratio: govnet is {ours_pps / s_pps:.1f}x the scapy sensor")
        if limit is None or limit >= ours.stats.frames:
            a, b = {_key(x) for x in ours.alerts}, {_key(x) for x in s_alerts}
            if a == b:
                print(f"same alerts: yes ({len(a)} distinct (sid, source, destination))")
            else:
                print(f"same alerts: NO — only govnet: {sorted(a - b)[:5]}; only scapy: {sorted(b - a)[:5]}")
        else:
            print("same alerts: not compared (scapy read only a prefix: --scapy-packets)")
        by_sid: dict[int, int] = {}
        for x in ours.alerts:
            by_sid[x["alert"]["signature_id"]] = by_sid.get(x["alert"]["signature_id"], 0) + 1
        print("alerts by sid:", ", ".join(f"{k}×{v}" for k, v in sorted(by_sid.items())))
        compared = limit is None or limit >= ours.stats.frames
        same_alerts = {_key(x) for x in ours.alerts} == {_key(x) for x in s_alerts} if compared else None
        write_results(
            "nids",
            "frames/s inspected from one pcap of mixed traffic and attacks",
            "a scapy-based sensor (PcapReader + layer access) feeding the same detection code",
            [
                Figure("frames/s inspected", ours_pps, s_pps, "frames/s", ours_pps / s_pps, "govnet/anchor"),
                Figure(
                    "alerts",
                    len(ours.alerts),
                    len(s_alerts),
                    note=f"same (sid, source, destination) set: {same_alerts}",
                ),
            ],
            params={
                "frames": ours.stats.frames,
                "attack_frames": kinds["attack"],
                "megabytes": round(mb, 1),
                "scapy_packets": limit,
            },
            extra={"alerts_by_sid": by_sid},
        )
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def _blast(pps: int, seconds: float, port: int) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    payload = b"\0" * 18  # 60-byte frames on the wire, as in FEASIBILITY.md
    end = time.monotonic() + seconds
    sent = 0
    start = time.monotonic()
    while time.monotonic() < end:
        target = int((time.monotonic() - start) * pps)
        while sent < target:
            s.sendto(payload, ("127.0.0.1", port + sent % 16))
            sent += 1
    s.close()


def live(args: argparse.Namespace) -> None:
    """Inspect live frames on an interface for --duration s; report frames/s and kernel drops."""
    from ids.nids.capture import Capture
    from ids.nids.sensor import Sensor

    engine = Engine(load_rules([default_rules_path()]), DetectorConfig(), sensor=f"bench-{args.live_iface}")
    cap = Capture(args.live_iface)
    sensor = Sensor(cap, engine, stats_interval=3600)
    child = None
    if args.loopback_pps:
        if args.live_iface != "lo":
            raise SystemExit("--loopback-pps sends to 127.0.0.1: use it with --live-iface lo only")
        child = multiprocessing.Process(target=_blast, args=(args.loopback_pps, args.duration, 49100))
    stop = threading.Event()
    t0 = time.perf_counter()
    if child is not None:
        child.start()
    timer = threading.Timer(args.duration + 0.5, stop.set)
    timer.start()
    try:
        sensor.run(stop)
    finally:
        timer.cancel()
        if child is not None:
            child.join()
        cap.close()
    secs = time.perf_counter() - t0
    st = engine.stats
    print(
        f"live {args.live_iface}: {st.frames:,} frames in {secs:.1f} s = {st.frames / secs:,.0f} frames/s "
        f"inspected, {st.alerts} alerts, kernel drops {cap.kernel_drops:,} of {cap.kernel_packets:,}"
    )
    write_results(
        f"nids-live-{args.live_iface}",
        f"live frames/s inspected on {args.live_iface}",
        "none: a figure (the kernel's drop counter says whether the sensor kept up)",
        [
            Figure("frames/s inspected", st.frames / secs, unit="frames/s", note=f"{st.frames:,} frames"),
            Figure("kernel drops", cap.kernel_drops, note=f"of {cap.kernel_packets:,} packets"),
        ],
        params={"iface": args.live_iface, "duration": args.duration, "loopback_pps": args.loopback_pps},
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packets", type=int, default=200_000, help="frames in the generated pcap")
    ap.add_argument("--scapy-packets", type=int, help="let scapy read only this many (it is slow)")
    ap.add_argument("--keep", help="write the pcap here and keep it")
    ap.add_argument("--live-iface", help="live part: capture on this interface (root) instead")
    ap.add_argument("--duration", type=float, default=10.0, help="live part: seconds")
    ap.add_argument(
        "--loopback-pps", type=int, default=0, help="live on lo: send this many UDP/s to 127.0.0.1"
    )
    args = ap.parse_args()
    if args.live_iface:
        live(args)
    else:
        offline(args)


if __name__ == "__main__":
    main()
