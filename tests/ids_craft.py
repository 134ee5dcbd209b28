"""Crafted traffic for the IDS tests: scapy packets with timestamps, written to pcaps in tmp_path."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from scapy.all import ICMP, IP, TCP, UDP, Ether, Raw, wrpcap

from ids.nids import ScanResult, default_rules_path, load_rules, scan_pcap
from ids.nids.detectors import DetectorConfig

T0 = 1_763_800_000.0
ATTACKER = "203.0.113.66"
PORTAL = "10.50.0.10"


def timed(packets: Iterable[Any], start: float = T0, step: float = 0.01) -> list[Any]:
    out = []
    for i, p in enumerate(packets):
        p.time = start + i * step
        out.append(p)
    return out


def write(tmp: Path, name: str, packets: Iterable[Any]) -> Path:
    path = tmp / name
    wrpcap(str(path), list(packets))
    return path


def scan(tmp: Path, packets: Iterable[Any], rules: str | None = None, **cfg: Any) -> ScanResult:
    """Write the packets to a pcap and scan it with the shipped rules (or `rules` text) + detectors."""
    path = write(tmp, "t.pcap", packets)
    if rules is None:
        rs = load_rules([default_rules_path()])
    else:
        rf = tmp / "t.rules"
        rf.write_text(rules)
        rs = load_rules([rf])
    return scan_pcap(path, rs, DetectorConfig(**cfg))


def sids(result: ScanResult) -> list[int]:
    return [a["alert"]["signature_id"] for a in result.alerts]


def syn(src: str, dst: str, dport: int, sport: int = 40000) -> Any:
    return Ether() / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags="S")


def http(src: str, dst: str, request: bytes, dport: int = 80, sport: int = 40000) -> Any:
    return Ether() / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags="PA") / Raw(request)


def get(uri: str, src: str = ATTACKER, dst: str = PORTAL, dport: int = 80) -> Any:
    return http(src, dst, f"GET {uri} HTTP/1.1\r\nHost: portal\r\nUser-Agent: curl\r\n\r\n".encode(), dport)


def post(
    path: str, body: str, src: str = ATTACKER, dst: str = PORTAL, dport: int = 80, sport: int = 40000
) -> Any:
    req = (
        f"POST {path} HTTP/1.1\r\nHost: portal\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()
    return http(src, dst, req, dport, sport)


def handshake(src: str, dst: str, dport: int, sport: int) -> list[Any]:
    """Client-side packets of a completed connection: SYN, then the handshake's bare ACK."""
    return [
        Ether() / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags="S", seq=1),
        Ether() / IP(src=dst, dst=src) / TCP(sport=dport, dport=sport, flags="SA", seq=9, ack=2),
        Ether() / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags="A", seq=2, ack=10),
    ]


def udp(src: str, dst: str, sport: int, dport: int, data: bytes = b"x") -> Any:
    return Ether() / IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / Raw(data)


def ping(src: str, dst: str) -> Any:
    return Ether() / IP(src=src, dst=dst) / ICMP(type=8)
