"""The rule parser: valid rules mean what they say; a bad rule names its file, line and keyword."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

import pytest

from govnet.errors import GovnetError, RuleError
from ids.nids import DetectorConfig, Engine, decode, default_rules_path, load_rules, parse_rule, parse_rules
from ids.nids.ruleoptions import flags_match
from ids.nids.ruletypes import CLASSTYPES


def _pkt(src: str, dst: str, sport: int, dport: int, flags: str = "S", payload: bytes = b"") -> Any:
    from scapy.all import IP, TCP, Ether, Raw

    frame = bytes(Ether() / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags) / Raw(payload))
    p = decode(frame, 1.0)
    assert p is not None
    return p


def _matches(rule_text: str, pkt: Any) -> bool:
    got: list[Any] = []
    eng = Engine(parse_rules(rule_text), DetectorConfig(enabled=frozenset()), on_alert=got.append)
    eng.inspect(pkt)
    return bool(got)


def test_shipped_rules_load() -> None:
    rs = load_rules([default_rules_path()])
    assert len(rs) >= 12
    assert {1000001, 1000011, 1000013, 1000021} <= {r.sid for r in rs.rules}
    assert all(r.msg and r.classtype in CLASSTYPES for r in rs.rules)


def test_header_fields_and_options() -> None:
    r = parse_rule(
        "drop tcp $EXTERNAL_NET any -> [10.1.0.0/16,!10.1.2.3] [80,8000:8100,!8050] "
        '(msg:"x \\"q\\" y\\; z"; flags:S,12; content:"GET|20|/"; nocase; depth:10; offset:0; '
        "classtype:attempted-recon; priority:1; sid:7; rev:3; metadata: govnet_block 120, owner sec;)"
    )
    assert (r.action, r.proto, r.sid, r.rev, r.priority, r.severity) == ("drop", "tcp", 7, 3, 1, 1)
    assert r.msg == 'x "q" y; z'
    assert r.block_seconds == 120 and r.metadata["owner"] == ["sec"]
    assert r.contents[0].pattern == b"get /" and r.contents[0].nocase and r.contents[0].depth == 10
    assert r.dport is not None and r.dport[80] and r.dport[8099] and not r.dport[8050] and not r.dport[81]
    assert r.dst is not None and r.src is not None
    ip = lambda s: int.from_bytes(bytes(int(x) for x in s.split(".")), "big")  # noqa: E731
    assert r.dst(4, ip("10.1.9.9")) and not r.dst(4, ip("10.1.2.3")) and not r.dst(4, ip("10.2.0.1"))
    assert r.src(4, ip("8.8.8.8")) and not r.src(4, ip("192.168.1.1"))
    assert r.category == CLASSTYPES["attempted-recon"][0]


def test_variables_ranges_and_bidirectional() -> None:
    rs = parse_rules(
        "# a comment\n"
        "ipvar SERVERS [10.5.0.0/24,10.6.0.1]\n"
        "portvar HIGH 1024:\n"
        'alert udp $SERVERS $HIGH <> any :1023 (msg:"b"; sid:1;)\n'
    )
    r = rs.rules[0]
    assert r.bidirectional
    got: list[Any] = []
    eng = Engine(rs, DetectorConfig(enabled=frozenset()), on_alert=got.append)
    eng.inspect(_udp_pkt("10.5.0.7", "8.8.8.8", 5000, 53))
    eng.inspect(_udp_pkt("8.8.8.8", "10.6.0.1", 53, 5000))  # reverse direction matches too
    eng.inspect(_udp_pkt("8.8.8.8", "10.7.0.1", 53, 5000))  # not a server
    assert len(got) == 2


def _udp_pkt(src: str, dst: str, sport: int, dport: int) -> Any:
    from scapy.all import IP, UDP, Ether

    p = decode(bytes(Ether() / IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / b"q"), 1.0)
    assert p is not None
    return p


@pytest.mark.parametrize(
    ("spec", "flags", "want"),
    [
        ("S", 0x02, True),
        ("S", 0x12, False),
        ("S,12", 0x02 | 0x80, True),
        ("SA+", 0x12 | 0x08, True),
        ("*FR", 0x04, True),
        ("!A", 0x02, True),
        ("0", 0x00, True),
        ("FPU", 0x29, True),
    ],
)
def test_flags(spec: str, flags: int, want: bool) -> None:
    r = parse_rule(f"alert tcp any any -> any any (flags:{spec}; sid:1;)")
    assert r.flags is not None
    assert flags_match(flags, r.flags) is want


def test_content_and_pcre_on_packets() -> None:
    pkt = _pkt("1.2.3.4", "10.0.0.1", 4000, 80, "PA", b"GET /a?q=UNION%20SELECT HTTP/1.1\r\nHost: h\r\n\r\n")
    assert _matches('alert tcp any any -> any 80 (content:"union"; nocase; sid:1;)', pkt)
    assert not _matches('alert tcp any any -> any 80 (content:"union"; sid:1;)', pkt)
    assert not _matches('alert tcp any any -> any 80 (content:"GET"; offset:1; sid:1;)', pkt)
    assert _matches('alert tcp any any -> any 80 (content:"GET"; depth:3; sid:1;)', pkt)
    assert _matches('alert http any any -> any any (http.uri; content:"UNION SELECT"; sid:1;)', pkt)
    assert _matches('alert http any any -> any any (uricontent:"UNION SELECT"; sid:1;)', pkt)
    assert _matches('alert http any any -> any any (content:"UNION SELECT"; http_uri; sid:1;)', pkt)
    assert _matches('alert http any any -> any any (http.uri.raw; content:"%20"; sid:1;)', pkt)
    assert _matches('alert http any any -> any any (http.method; content:"GET"; sid:1;)', pkt)
    assert _matches('alert http any any -> any any (pcre:"/union\\s+select/Ui"; sid:1;)', pkt)
    assert not _matches('alert http any any -> any any (content:!"Host"; sid:1;)', pkt)
    assert _matches("alert tcp any any -> any any (dsize:>10; sid:1;)", pkt)
    assert not _matches("alert udp any any -> any any (sid:1;)", pkt)
    assert not _matches("alert http any any -> any 9999 (sid:1;)", pkt)


def test_pass_rule_silences_the_packet() -> None:
    pkt = _pkt("10.99.0.5", "10.0.0.1", 4000, 80, "PA", b"GET /../x HTTP/1.1\r\n\r\n")
    text = (
        'alert http any any -> any any (http.uri; content:"../"; sid:1;)\n'
        "pass tcp 10.99.0.0/24 any -> any any (sid:2;)\n"
    )
    assert not _matches(text, pkt)


BAD = [
    ("alert tcp any any -> any any (sid:1; msg:x;)", 1, "msg"),
    ("alert tcp any any any any (sid:1;)", 1, "header"),
    ("alarm tcp any any -> any any (sid:1;)", 1, "action"),
    ("alert sctp any any -> any any (sid:1;)", 1, "protocol"),
    ("alert tcp 10.0.0.300 any -> any any (sid:1;)", 1, "address"),
    ("alert tcp $NOPE any -> any any (sid:1;)", 1, "address"),
    ("alert tcp any 70000 -> any any (sid:1;)", 1, "port"),
    ('alert tcp any any -> any any (msg:"x";)', 1, "sid"),
    ("alert tcp any any -> any any (flags:SZ; sid:1;)", 1, "flags"),
    ('alert tcp any any -> any any (content:"a|4"; sid:1;)', 1, "content"),
    ("alert tcp any any -> any any (nocase; sid:1;)", 1, "nocase"),
    ('alert tcp any any -> any any (pcre:"/(/"; sid:1;)', 1, "pcre"),
    (
        "alert tcp any any -> any any (threshold: type often, track by_src, count 1, seconds 1; sid:1;)",
        1,
        "threshold",
    ),
    ("alert tcp any any -> any any (detection_filter: track by_src, count 1; sid:1;)", 1, "detection_filter"),
    ("alert tcp any any -> any any (classtype:nonsense; sid:1;)", 1, "classtype"),
    ("alert tcp any any -> any any (metadata: govnet_block soon; sid:1;)", 1, "metadata"),
    ("alert tcp any any -> any any (byte_test:1,>,2,0; sid:1;)", 1, "byte_test"),
    ('alert tcp any any -> any any (msg:"x"; sid:1)', 1, "sid"),
    # accepted before issue 15, refused by Suricata
    ("alert tcp [!any] any -> any any (sid:1;)", 1, "address"),
    ("alert tcp !any any -> any any (sid:1;)", 1, "address"),
    ("alert tcp any any -> [10.0.0.0/8,!10.0.0.0/8] any (sid:1;)", 1, "address"),
    ("alert tcp any !any -> any any (sid:1;)", 1, "port"),
    ("alert tcp any any -> any any (dsize:10<>5; sid:1;)", 1, "dsize"),
    ("alert tcp any any -> any any (dsize:5<>6; sid:1;)", 1, "dsize"),
    ("alert tcp any any -> any any (dsize:-3; sid:1;)", 1, "dsize"),
    ("alert tcp any any -> any any (dsize:<0; sid:1;)", 1, "dsize"),
    ("alert tcp any any -> any any (dsize:>65535; sid:1;)", 1, "dsize"),
    ("alert icmp any any -> any any (itype:256; sid:1;)", 1, "itype"),
    ('alert tcp any any -> any any (content:"abc"; depth:0; sid:1;)', 1, "depth"),
    ('alert tcp any any -> any any (content:"abc"; depth:2; sid:1;)', 1, "depth"),
    ('alert tcp any any -> any any (content:"abc"; offset:-1; sid:1;)', 1, "offset"),
    ("alert tcp any any -> any any (sid:100000000000000000000000;)", 1, "sid"),
    ("alert tcp any any -> any any (sid:4294967296;)", 1, "sid"),
    ("alert tcp any any -> any any (sid:1_000;)", 1, "sid"),
    ("alert tcp any any -> any any (sid:1; rev:-1;)", 1, "rev"),
    ("alert tcp any any -> any any (sid:1; priority:x;)", 1, "priority"),
]


@pytest.mark.parametrize(("text", "line", "keyword"), BAD)
def test_bad_rules_name_file_line_keyword(tmp_path: Path, text: str, line: int, keyword: str) -> None:
    f = tmp_path / "bad.rules"
    f.write_text("# header comment\n\n" + text + "\n")
    with pytest.raises(RuleError) as ei:
        load_rules([f])
    err = ei.value
    assert isinstance(err, GovnetError)
    assert (err.source, err.line, err.keyword) == (str(f), line + 2, keyword)
    assert str(err).startswith(f"{f}:{line + 2}: {keyword}:")


def test_duplicate_sid_names_both_places(tmp_path: Path) -> None:
    a, b = tmp_path / "a.rules", tmp_path / "b.rules"
    a.write_text("alert tcp any any -> any any (sid:5;)\n")
    b.write_text("\nalert udp any any -> any any (sid:5;)\n")
    with pytest.raises(RuleError, match=r"b\.rules:2: sid: sid 5 already used at .*a\.rules:1"):
        load_rules([a, b])


def test_continuation_lines_and_missing_file(tmp_path: Path) -> None:
    f = tmp_path / "c.rules"
    f.write_text('alert tcp any any -> any any ( \\\n  msg:"two lines"; \\\n  sid:9;)\n')
    assert load_rules([f]).rules[0].msg == "two lines"
    with pytest.raises(RuleError, match="cannot read rule file"):
        load_rules([tmp_path / "missing.rules"])


def test_bad_reload_keeps_the_running_rules(tmp_path: Path) -> None:
    from ids.nids.sensor import Sensor

    f = tmp_path / "live.rules"
    f.write_text('alert tcp any any -> any any (msg:"one"; sid:1;)\n')
    eng = Engine(load_rules([f]))

    class _NoCapture:
        iface = "none"

        def statistics(self) -> tuple[int, int]:
            return (0, 0)

    sensor = Sensor(cast(Any, _NoCapture()), eng, rule_files=[f])
    f.write_text(
        'alert tcp any any -> any any (msg:"one"; sid:1;)\nalert tcp any any -> any any (flags:Q; sid:2;)\n'
    )
    assert sensor.reload() is False
    assert [r.sid for r in eng.rules.rules] == [1]
    f.write_text("alert tcp any any -> any any (sid:1;)\nalert udp any any -> any any (sid:2;)\n")
    assert sensor.reload() is True
    assert [r.sid for r in eng.rules.rules] == [1, 2]


def test_block_hook_records_requests_and_survives_a_broken_command(tmp_path: Path) -> None:
    from govnet import events
    from ids.nids import BlockRequest
    from ids.nids.sensor import exec_block_hook

    req = BlockRequest("203.0.113.9", 300, 9000001, "scan", 1.0, 2.0, "nids-test")
    out = tmp_path / "ran"
    with events.EventLog(tmp_path / "ev.json") as log:
        exec_block_hook(f"touch {out}-{{src}}-{{seconds}}", log)(req)
        exec_block_hook("/nonexistent/blocker {src}", log)(req)
    recs = list(events.read(tmp_path / "ev.json"))
    assert [(r["event_type"], r["detail"]["state"]) for r in recs] == [
        ("block", "requested"),
        ("block", "requested"),
        ("block", "hook_failed"),
    ]
    assert recs[0]["sensor"] == "nids-test" and recs[0]["detail"]["src_ip"] == "203.0.113.9"
    deadline = time.monotonic() + 3
    while not (tmp_path / "ran-203.0.113.9-300").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (tmp_path / "ran-203.0.113.9-300").exists()


@pytest.mark.parametrize(
    ("option", "alerts_at"),
    [
        ("threshold: type limit, track by_src, count 2, seconds 60", [1, 2]),
        ("threshold: type threshold, track by_src, count 3, seconds 60", [3, 6]),
        ("threshold: type both, track by_src, count 3, seconds 60", [3]),
        ("detection_filter: track by_src, count 5, seconds 60", [6, 7]),
        ("threshold: type limit, track by_dst, count 1, seconds 60", [1]),
    ],
)
def test_threshold_semantics(option: str, alerts_at: list[int]) -> None:
    got: list[Any] = []
    eng = Engine(
        parse_rules(f'alert tcp any any -> any 80 (msg:"t"; {option}; sid:1;)'),
        DetectorConfig(enabled=frozenset()),
        on_alert=got.append,
    )
    seen = []
    for i in range(1, 8):
        p = _pkt("1.2.3.4", "10.0.0.1", 4000 + i, 80)
        p.ts = float(i)
        before = len(got)
        eng.inspect(p)
        if len(got) > before:
            seen.append(i)
    assert seen == alerts_at
    # a new window starts after `seconds`
    late = _pkt("1.2.3.4", "10.0.0.1", 5000, 80)
    late.ts = 100.0
    eng.inspect(late)
    assert len(got) == len(alerts_at) + (1 if "limit" in option else 0)


@pytest.mark.parametrize(
    ("options", "fix"),
    [
        ("dsize:10<>5; sid:1;", "write dsize:5<>10"),
        ("dsize:5<>6; sid:1;", "N<>M means strictly between"),
        ('content:"abc"; depth:0; sid:1;', "use depth:3 or more"),
        ("sid:100000000000000000000000;", "sid must be a whole number 1..4294967295 (32-bit, as in Suricata"),
    ],
)
def test_refusals_say_how_to_fix_them(options: str, fix: str) -> None:
    with pytest.raises(RuleError) as ei:
        parse_rule(f"alert tcp any any -> any any ({options})")
    assert fix in str(ei.value)


def test_negated_any_address_says_what_to_write() -> None:
    with pytest.raises(RuleError, match=r"matches no address .* write 'any', or negate a smaller set"):
        parse_rule("alert tcp [!any] any -> any any (sid:1;)")


def test_edges_of_the_ranges_are_accepted() -> None:
    r = parse_rule(
        'alert tcp any any -> any any (content:"abc"; depth:3; dsize:4<>7; sid:4294967295; rev:0;)'
    )
    assert r.sid == 4294967295 and r.dsize == (5, 6) and r.contents[0].depth == 3
    assert parse_rule("alert tcp any any -> any any (dsize:>65534; sid:1;)").dsize == (65535, 65535)
    assert parse_rule("alert tcp any any -> any any (dsize:<1; sid:1;)").dsize == (0, 0)
    assert parse_rule("alert tcp [!10.0.0.0/8,!$HOME_NET] any -> any any (sid:1;)").src is not None
    assert parse_rule("alert tcp any [!22,!80] -> any any (sid:1;)").sport is not None
