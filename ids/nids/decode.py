"""Fast header decoding: Ethernet (+802.1Q/802.1ad tags), IPv4, IPv6, TCP, UDP, ICMP.

Hand-written `struct` parsing that touches only the header bytes: addresses stay integers, the
payload stays an offset into the frame, and nothing is copied until a rule asks for content. A
truncated or malformed frame yields `None` (or a packet with what could be read) — `decode` never
raises. Checksums are not validated: Mininet veths offload them and captured frames often carry
partial ones.
"""

from __future__ import annotations

import ipaddress
import struct

# Link types (pcap LINKTYPE_* values).
LINK_ETHERNET = 1
LINK_RAW = 101
LINK_LINUX_SLL = 113
LINK_LINUX_SLL2 = 276
LINK_IPV4 = 228
LINK_IPV6 = 229

PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_ICMPV6 = 58
PROTO_NAMES = {PROTO_ICMP: "ICMP", PROTO_TCP: "TCP", PROTO_UDP: "UDP", PROTO_ICMPV6: "IPv6-ICMP"}

# TCP flag bits.
FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80

_U16 = struct.Struct("!H").unpack_from
_U32X2 = struct.Struct("!II").unpack_from
_U64X2 = struct.Struct("!QQ").unpack_from
_PORTS = struct.Struct("!HH").unpack_from
_IPV6_EXT = frozenset({0, 43, 60, 51})  # hop-by-hop, routing, destination options, AH (44 = fragment)


class Packet:
    """One decoded frame: integer addresses, ports, TCP flags and where the L4 payload starts."""

    __slots__ = (
        "ack_only",
        "buf",
        "dport",
        "dst",
        "end",
        "flags",
        "frag",
        "fragmented",
        "icmp_code",
        "icmp_type",
        "l3",
        "pay",
        "proto",
        "sport",
        "src",
        "ts",
        "ver",
        "wire_len",
    )

    def __init__(self, ts: float, buf: bytes, ver: int, proto: int, src: int, dst: int) -> None:
        self.ts = ts
        self.buf = buf
        self.ver = ver
        self.proto = proto
        self.src = src
        self.dst = dst
        self.sport = 0
        self.dport = 0
        self.flags = 0
        self.icmp_type = -1
        self.icmp_code = -1
        self.pay = 0
        self.end = 0
        self.frag = False  # not the first fragment: no L4 header in this packet
        self.fragmented = False  # any fragment of a fragmented datagram (first one too)
        self.l3 = 0  # where the IP header starts in `buf`
        self.ack_only = False
        self.wire_len = len(buf)

    @property
    def payload(self) -> bytes:
        """The L4 payload bytes (empty for fragments and header-only packets)."""
        return self.buf[self.pay : self.end] if self.end > self.pay else b""

    @property
    def payload_len(self) -> int:
        return self.end - self.pay if self.end > self.pay else 0

    @property
    def src_ip(self) -> str:
        return ip_text(self.ver, self.src)

    @property
    def dst_ip(self) -> str:
        return ip_text(self.ver, self.dst)

    @property
    def proto_name(self) -> str:
        return PROTO_NAMES.get(self.proto, str(self.proto))

    def __repr__(self) -> str:
        return (
            f"Packet({self.proto_name} {self.src_ip}:{self.sport} -> {self.dst_ip}:{self.dport} "
            f"flags={self.flags:#04x} payload={self.payload_len})"
        )


_TEXT_CACHE: dict[tuple[int, int], str] = {}


def ip_text(ver: int, value: int) -> str:
    """Dotted (or IPv6) text of an integer address; cached, since alerting sources repeat."""
    key = (ver, value)
    text = _TEXT_CACHE.get(key)
    if text is None:
        if len(_TEXT_CACHE) > 65536:
            _TEXT_CACHE.clear()
        text = str(ipaddress.IPv4Address(value) if ver == 4 else ipaddress.IPv6Address(value))
        _TEXT_CACHE[key] = text
    return text


def decode(buf: bytes, ts: float = 0.0, linktype: int = LINK_ETHERNET) -> Packet | None:
    """Decode one captured frame; None when it is not IP or too short/malformed to say anything."""
    try:
        return _decode(buf, ts, linktype)
    except (struct.error, IndexError, ValueError):  # defence in depth: the checks below should suffice
        return None


def _decode(buf: bytes, ts: float, linktype: int) -> Packet | None:
    n = len(buf)
    if linktype == LINK_ETHERNET:
        if n < 14:
            return None
        etype = _U16(buf, 12)[0]
        off = 14
        tags = 0
        while etype in (0x8100, 0x88A8, 0x9100) and tags < 2:
            if n < off + 4:
                return None
            etype = _U16(buf, off + 2)[0]
            off += 4
            tags += 1
    elif linktype in (LINK_RAW, LINK_IPV4, LINK_IPV6):
        if n < 1:
            return None
        etype = 0x0800 if buf[0] >> 4 == 4 else 0x86DD if buf[0] >> 4 == 6 else 0
        off = 0
    elif linktype == LINK_LINUX_SLL:
        if n < 16:
            return None
        etype = _U16(buf, 14)[0]
        off = 16
    elif linktype == LINK_LINUX_SLL2:
        if n < 20:
            return None
        etype = _U16(buf, 0)[0]
        off = 20
    else:
        return None
    if etype == 0x0800:
        return _ipv4(buf, ts, off, n)
    if etype == 0x86DD:
        return _ipv6(buf, ts, off, n)
    return None


def _ipv4(buf: bytes, ts: float, off: int, n: int) -> Packet | None:
    if n < off + 20:
        return None
    vihl = buf[off]
    ihl = (vihl & 0x0F) * 4
    if vihl >> 4 != 4 or ihl < 20 or n < off + ihl:
        return None
    total = _U16(buf, off + 2)[0]
    end = off + total if ihl <= total and off + total <= n else n
    src, dst = _U32X2(buf, off + 12)
    proto = buf[off + 9]
    p = Packet(ts, buf, 4, proto, src, dst)
    p.l3 = off
    fo = _U16(buf, off + 6)[0]
    if fo & 0x3FFF:  # more fragments, or an offset: one piece of a fragmented datagram
        p.fragmented = True
    if fo & 0x1FFF:  # not the first fragment: no L4 header here
        p.frag = True
        return p
    return _l4(p, buf, proto, off + ihl, end)


def _ipv6(buf: bytes, ts: float, off: int, n: int) -> Packet | None:
    if n < off + 40 or buf[off] >> 4 != 6:
        return None
    plen = _U16(buf, off + 4)[0]
    end = off + 40 + plen if plen > 0 and off + 40 + plen <= n else n
    nh = buf[off + 6]
    s_hi, s_lo = _U64X2(buf, off + 8)
    d_hi, d_lo = _U64X2(buf, off + 24)
    p = Packet(ts, buf, 6, nh, (s_hi << 64) | s_lo, (d_hi << 64) | d_lo)
    o = off + 40
    for _ in range(8):  # a bounded walk over extension headers
        if nh in _IPV6_EXT:
            if end < o + 8:
                return p
            nxt = buf[o]
            o += (buf[o + 1] + 2) * 4 if nh == 51 else (buf[o + 1] + 1) * 8
            nh = nxt
        elif nh == 44:  # fragment header
            if end < o + 8:
                return p
            nxt = buf[o]
            p.fragmented = True
            if _U16(buf, o + 2)[0] & 0xFFF8:
                p.proto = nxt
                p.frag = True
                return p
            o += 8
            nh = nxt
        else:
            break
    p.proto = nh
    return _l4(p, buf, nh, o, end)


def _l4(p: Packet, buf: bytes, proto: int, o: int, end: int) -> Packet:
    if proto == PROTO_TCP:
        if end >= o + 20:
            p.sport, p.dport = _PORTS(buf, o)
            flags = buf[o + 13]
            p.flags = flags
            doff = (buf[o + 12] >> 4) * 4
            p.pay = o + max(doff, 20)
            p.end = end
            p.ack_only = flags & 0x17 == ACK and p.pay >= end  # bare ACK: no SYN/FIN/RST, no data
    elif proto == PROTO_UDP:
        if end >= o + 8:
            p.sport, p.dport = _PORTS(buf, o)
            p.pay = o + 8
            p.end = end
    elif proto in (PROTO_ICMP, PROTO_ICMPV6) and end >= o + 4:
        p.icmp_type = buf[o]
        p.icmp_code = buf[o + 1]
        p.pay = o + 8
        p.end = end
    return p


def flow_id(p: Packet) -> int:
    """A direction-independent 51-bit flow id (EVE's `flow_id`), the same for both directions."""
    a = (p.src, p.sport)
    b = (p.dst, p.dport)
    key = (p.proto, a, b) if a <= b else (p.proto, b, a)
    return hash(key) & 0x7FFFFFFFFFFFF or 1
