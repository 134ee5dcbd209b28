"""Header decoding and capture files: right fields, every pcap flavour, and no exception on any input."""

from __future__ import annotations

import random
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.all import (
    ICMP,
    IP,
    TCP,
    UDP,
    Dot1Q,
    Ether,
    ICMPv6EchoRequest,
    IPv6,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    Raw,
    fuzz,
    wrpcap,
)

from ids.nids import Engine, PcapError, PcapWriter, decode, default_rules_path, load_rules, read_pcap
from ids.nids.decode import LINK_LINUX_SLL, LINK_RAW, flow_id

RULES = load_rules([default_rules_path()])


def test_tcp_over_vlan() -> None:
    frame = bytes(
        Ether()
        / Dot1Q(vlan=20)
        / IP(src="10.1.2.3", dst="10.4.5.6")
        / TCP(sport=1234, dport=80, flags="PA")
        / b"hi"
    )
    p = decode(frame, 5.0)
    assert p is not None
    assert (p.src_ip, p.dst_ip, p.sport, p.dport, p.flags, p.payload, p.ts) == (
        "10.1.2.3",
        "10.4.5.6",
        1234,
        80,
        0x18,
        b"hi",
        5.0,
    )
    assert p.proto_name == "TCP" and "10.1.2.3:1234" in repr(p)


def test_ipv6_with_extension_headers_and_icmpv6() -> None:
    p = decode(
        bytes(
            Ether()
            / IPv6(src="2001:db8::1", dst="2001:db8::2")
            / IPv6ExtHdrHopByHop()
            / UDP(sport=5, dport=53)
            / b"q"
        )
    )
    assert p is not None and (p.ver, p.proto, p.sport, p.dport, p.payload) == (6, 17, 5, 53, b"q")
    assert p.src_ip == "2001:db8::1"
    p = decode(bytes(Ether() / IPv6(dst="2001:db8::9") / ICMPv6EchoRequest()))
    assert p is not None and (p.proto, p.icmp_type) == (58, 128)
    frag = IPv6(dst="2001:db8::9") / IPv6ExtHdrFragment(offset=10, nh=6) / Raw(b"x" * 16)
    p = decode(bytes(Ether() / frag))
    assert p is not None and p.frag and p.proto == 6 and p.dport == 0


def test_ipv4_fragments_icmp_and_trailer_padding() -> None:
    p = decode(bytes(Ether() / IP(dst="10.0.0.1", frag=100, proto=6) / Raw(b"y" * 20)))
    assert p is not None and p.frag and p.sport == 0
    p = decode(bytes(Ether() / IP(dst="10.0.0.1") / ICMP(type=8, code=0)))
    assert p is not None and (p.icmp_type, p.icmp_code) == (8, 0)
    # Ethernet pads short frames: the IP total length, not the frame, bounds the payload
    p = decode(bytes(Ether() / IP(dst="10.0.0.1") / UDP(dport=9) / b"ab") + b"\0" * 10)
    assert p is not None and p.payload == b"ab"


def test_other_link_types_and_non_ip() -> None:
    ip = bytes(IP(src="1.1.1.1", dst="2.2.2.2") / UDP(sport=1, dport=2))
    p = decode(ip, 0.0, LINK_RAW)
    assert p is not None and p.dport == 2
    sll = b"\0\0\0\1\0\6" + b"\0" * 8 + b"\x08\x00" + ip
    p = decode(sll, 0.0, LINK_LINUX_SLL)
    assert p is not None and p.src_ip == "1.1.1.1"
    assert decode(bytes(Ether(type=0x0806) / (b"\0" * 28))) is None  # ARP
    assert decode(b"", 0.0) is None
    assert decode(ip, 0.0, 9999) is None


def test_flow_id_is_direction_independent() -> None:
    a = decode(bytes(Ether() / IP(src="1.1.1.1", dst="2.2.2.2") / TCP(sport=10, dport=20)))
    b = decode(bytes(Ether() / IP(src="2.2.2.2", dst="1.1.1.1") / TCP(sport=20, dport=10)))
    assert a is not None and b is not None
    assert flow_id(a) == flow_id(b) > 0


def test_truncated_frames_decode_partially_or_not_at_all() -> None:
    frame = bytes(
        Ether() / IP(src="10.1.1.1", dst="10.2.2.2") / TCP(sport=1, dport=2, flags="S") / (b"z" * 40)
    )
    for cut in range(len(frame)):
        p = decode(frame[:cut])
        if p is not None:
            assert p.payload_len <= max(0, cut - 54)


def _pkts() -> list[Any]:
    out = []
    for i in range(5):
        p = Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1000 + i, dport=53) / b"x"
        p.time = 1_700_000_000.25 + i
        out.append(p)
    return out


@pytest.mark.parametrize(("endian", "nano"), [("<", False), (">", False), ("<", True), (">", True)])
def test_classic_pcap_both_byte_orders_and_resolutions(tmp_path: Path, endian: str, nano: bool) -> None:
    path = tmp_path / "x.pcap"
    frames = [bytes(p) for p in _pkts()]
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    with open(path, "wb") as fh:
        fh.write(struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 65535, 1))
        for i, f in enumerate(frames):
            frac = 250_000_000 if nano else 250_000
            fh.write(struct.pack(endian + "IIII", 1_700_000_000 + i, frac, len(f), len(f)) + f)
    got = list(read_pcap(path))
    assert [g[1] for g in got] == frames
    assert [g[2] for g in got] == [1] * 5
    assert got[2][0] == pytest.approx(1_700_000_002.25)


def test_pcapng_and_writer_roundtrip(tmp_path: Path) -> None:
    from scapy.utils import PcapNgWriter

    ng = tmp_path / "x.pcapng"
    with PcapNgWriter(str(ng)) as w:
        for p in _pkts():
            w.write(p)
    got = list(read_pcap(ng))
    assert len(got) == 5 and got[0][1] == bytes(_pkts()[0])
    assert got[1][0] == pytest.approx(1_700_000_001.25, abs=1e-5)
    out = tmp_path / "w.pcap"
    with PcapWriter(out) as w:
        for ts, frame, _link in got:
            w.write(ts, frame)
    assert [g[1] for g in read_pcap(out)] == [g[1] for g in got]


def test_truncated_and_bad_files(tmp_path: Path) -> None:
    good = tmp_path / "g.pcap"
    wrpcap(str(good), _pkts())
    data = good.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:-3])  # crash mid-record: the complete records are still read
    assert len(list(read_pcap(cut))) == 4
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"hello world, not a capture")
    with pytest.raises(PcapError, match="not a pcap or pcapng file"):
        read_pcap(bad)
    with pytest.raises(PcapError, match="cannot open capture"):
        read_pcap(tmp_path / "missing.pcap")
    (tmp_path / "short.pcap").write_bytes(data[:10])
    with pytest.raises(PcapError, match="truncated pcap header"):
        read_pcap(tmp_path / "short.pcap")


# --- fuzz: nothing ever raises ------------------------------------------------------------------
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200), st.sampled_from([1, 101, 113, 276]))
def test_random_bytes_never_raise(data: bytes, link: int) -> None:
    eng = Engine(RULES)
    eng.feed(1.0, data, link)
    eng.feed(1.0, bytes(Ether()) + data, link)
    eng.feed(1.0, bytes(Ether() / IP(dst="10.0.0.1", proto=6)) + data, link)
    assert eng.stats.frames == 3


def test_scapy_fuzzed_packets_never_raise() -> None:
    random.seed(6)
    eng = Engine(RULES)
    templates = [
        Ether() / IP(dst="10.0.0.1") / fuzz(TCP(dport=80)) / Raw(b"GET /../ HTTP/1.1\r\n\r\n"),
        Ether() / fuzz(IP(dst="10.0.0.1")) / TCP(),
        Ether() / IP(dst="10.0.0.1") / fuzz(UDP()),
        Ether() / IP(dst="10.0.0.1") / fuzz(ICMP()),
        Ether() / fuzz(IPv6()) / TCP(),
        Ether() / Dot1Q() / fuzz(IP()) / fuzz(TCP()),
    ]
    n = 0
    for _ in range(150):
        for t in templates:
            try:
                frame = bytes(t)
            except Exception:  # scapy sometimes cannot build its own fuzzed values
                continue
            eng.feed(1.0, frame)
            for cut in (14, 20, 34, 40, 54):
                eng.feed(1.0, frame[:cut])
            n += 1
    assert n > 500 and eng.stats.frames == n * 6
