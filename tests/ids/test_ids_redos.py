"""Bounded matching (issue 15): no pcre, shipped or user-written, can stall the engine.

Every shipped pcre is checked against adversarial inputs of growing length: RE2 patterns must grow
about linearly (a generous time ratio, best of several runs, aborted early when it clearly is not),
PCRE2 patterns must stay under a tiny match limit at every length (work counted by PCRE2 itself, per
start position, so the total is linear). A catastrophic user pattern returns at once with the hit
counted per sid in the stats, the EVE `stats` event, the metric points and `ids scan`'s output.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ids_craft import get, http, post, scan, sids, timed, write

from ids.nids import DetectorConfig, Engine, Limits, decode, default_rules_path, load_rules, parse_rules
from ids.nids.pcre import LIMIT, Regex, _Code, _pcre2, to_re2
from ids.nids.rules import parse_rule
from ids.nids.ruletypes import Content

# what the `govnet` script runs (cli.main:main), whatever the venv's path
GOVNET = [sys.executable, "-m", "cli"]

SHIPPED = load_rules([default_rules_path()])
PCRE_RULES = [(r.sid, c) for r in SHIPPED.rules for c in r.contents if c.regex is not None]

# fragments that the shipped patterns can start, continue or almost finish, repeated to length
FRAGMENTS = [
    b"/*", b"*/", b"/**/", b"union/*", b"union/**/select", b"union select ", b"union all ", b"select/**/",
    b"union", b"select", b"' or 1", b"'or 1=", b"' or '1'='", b"' or ", b" ", b"\t", b"+", b"1", b"a",
    b"=", b"'", b",", b"/", b"*",
]  # fmt: skip
HEADS = [b"", b"union", b"union/**/select", b"union select 1", b"union/**/select/**/1", b"' or 1=", b"' or '"]
TAILS = [b"", b"!", b"=2", b",", b" from", b"*/"]


def adversarial(n: int) -> list[bytes]:
    return [h + f * max(1, n // len(f)) + t for h in HEADS for f in FRAGMENTS for t in TAILS]


def test_the_shipped_rules_have_pcres_on_both_engines() -> None:
    engines = {sid: c.regex.engine for sid, c in PCRE_RULES if c.regex is not None}
    assert engines == {1000011: "pcre2", 1000012: "pcre2", 1000013: "re2", 1000014: "re2"}


@pytest.mark.parametrize(("sid", "content"), PCRE_RULES, ids=[str(s) for s, _ in PCRE_RULES])
def test_shipped_pcre_grows_linearly(sid: int, content: Content) -> None:
    regex = content.regex
    assert regex is not None
    if regex.engine == "pcre2":
        # deterministic: PCRE2 counts its own steps, per start position; staying under 64 at every
        # length means the work is at most 64 steps per byte
        tight = Limits(64, 64)
        for n in (64, 512, 4096, 8192):
            for data in adversarial(n):
                assert content.matches(data, data.lower(), tight) is not LIMIT, (sid, data[:40], n)
    # RE2 is linear by construction; both engines also have to show it on the clock
    _assert_linear(lambda data: content.matches(data, data.lower()), adversarial, (64, 512, 4096))


def _assert_linear(
    run: Callable[[bytes], object], inputs: Callable[[int], list[bytes]], sizes: tuple[int, ...]
) -> None:
    """time(8x)/time(x) < 30 for each step of sizes (best of 5 runs, each run repeated until it is long
    enough to measure); a run that passes the bound is stopped at once, so a super-linear matcher fails
    in seconds instead of hanging the suite."""
    ratio = 30.0
    base: float | None = None
    for n in sizes:
        data = inputs(n)
        budget = None if base is None else base * ratio
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            for d in data:
                run(d)
                if budget is not None and time.perf_counter() - t0 > budget * 5:
                    pytest.fail(
                        f"matching {n}-byte inputs took over {5 * ratio:.0f}x the time of 1/8 that size"
                    )
            best = min(best, time.perf_counter() - t0)
        if base is not None:
            assert best / base < ratio, f"{n} bytes: {best / base:.1f}x the time of {n // 8} bytes"
        base = best


def test_the_reported_request_no_longer_stalls_the_engine() -> None:
    """A GET and a POST full of `/*` after UNION SELECT (2 KB took ~30 s, 4 KB over a minute)."""
    eng = Engine(SHIPPED, DetectorConfig(enabled=frozenset()))

    def requests(n: int) -> list[bytes]:
        junk = "/*" * (n // 2)
        pkts = [
            get(f"/applications?id=1union/**/select{junk}"),
            get(f"/applications?id=1union%20select%20{junk}"),
            post("/applications", f"subject=x' union/**/select{junk}"),
        ]
        return [bytes(p) for p in pkts]

    def inspect(frame: bytes) -> None:
        pkt = decode(frame, 1.0)
        assert pkt is not None
        eng.inspect(pkt)

    _assert_linear(inspect, requests, (64, 512, 4096))
    assert eng.stats.pcre_limit_hits == 0


def test_tautology_cannot_be_hidden_behind_a_limit(tmp_path: Path) -> None:
    """With `\\s*` (backtracking) 4000 spaces after the first `=` made the search of the first quote hit
    the match limit, and PCRE2 stops there: the real tautology after it was never looked at."""
    body = "subject=x' or 1=" + " " * 4000 + "2' or 1=1--"
    res = scan(tmp_path, timed([post("/applications", body)]), enabled=frozenset())
    assert sids(res) == [1000012]
    assert res.stats.pcre_limit_hits == 0


def test_rewritten_tautology_means_what_it_meant() -> None:
    import random

    old = Regex(rb"'\s*or\s+'?(\d+)'?\s*=\s*'?\1", "i")
    new = SHIPPED.by_sid(1000011).contents[0].regex
    assert new is not None
    rng = random.Random(11)
    parts = [b"'", b" ", b"\t", b"or", b"OR", b"1", b"2", b"12", b"=", b"'1'", b"x", b"\x0b"]
    big = Limits(10**7, 10**7)
    for _ in range(20000):
        s = b"".join(rng.choice(parts) for _ in range(rng.randint(1, 12)))
        assert old.search(s, big) == new.search(s, big), s


@pytest.mark.parametrize(
    "uri",
    [
        "/a?id=1/**/union/**/select/**/1,2",
        "/a?id=1%20UNION%0ASELECT%20a%20FROM%20t",
        "/a?id=1/*x*/union/*%0a*/select/***/name,2",
        "/a?id=1+union+all+select+null,null",
        "/a?id=-1%09union%0b%0bselect%091,2",  # VT is whitespace to PCRE's \\s (and to MySQL)
    ],
)
def test_union_select_variants_still_alert(tmp_path: Path, uri: str) -> None:
    assert sids(scan(tmp_path, timed([get(uri)]), enabled=frozenset())) == [1000013]


# --- a catastrophic user pattern ---------------------------------------------------------------
def _pkt(payload: bytes) -> Any:
    p = decode(bytes(http("203.0.113.9", "10.0.0.1", payload, dport=9000)), 1.0)
    assert p is not None
    return p


def test_catastrophic_pattern_runs_in_re2_when_it_can() -> None:
    r = Regex(b"(a+)+$")
    assert r.engine == "re2"
    t0 = time.perf_counter()
    assert r.search(b"a" * 31 + b"!") is False
    assert r.search(b"a" * 31 + b"\n") is True  # PCRE's $ also matches before a final newline
    assert r.search(b"a" * 100_000 + b"!") is False
    assert time.perf_counter() - t0 < 5  # backtracking needs 2**31 steps for the first alone


def test_catastrophic_pattern_on_pcre2_hits_the_limit_and_is_counted() -> None:
    # the x flag is one of the things RE2 cannot do: this pattern has to backtrack
    rules = parse_rules(
        'alert tcp any any -> any 9000 (msg:"evil"; pcre:"/(a+)+$/x"; sid:7001;)\n'
        'alert tcp any any -> any 9000 (msg:"fine"; content:"aaa"; sid:7002;)\n'
    )
    assert rules.by_sid(7001).contents[0].regex is not None
    assert rules.by_sid(7001).contents[0].regex.engine == "pcre2"
    got: list[Any] = []
    eng = Engine(rules, DetectorConfig(enabled=frozenset()), on_alert=got.append)
    t0 = time.perf_counter()
    for n in (31, 64, 1400):
        eng.inspect(_pkt(b"a" * n + b"!"))
    assert time.perf_counter() - t0 < 10  # without a limit, 31 bytes alone never finish
    assert [a["alert"]["signature_id"] for a in got] == [7002, 7002, 7002]  # the others still run
    assert eng.stats.pcre_limit_hits == 3
    assert eng.stats.pcre_limits_per_sid() == {7001: 3}
    detail = eng.stats_event()["detail"]
    assert detail["pcre_limit_hits"] == 3 and detail["pcre_limit_by_sid"] == {"7001": 3}
    points = {pt.tags["signature_id"]: pt.fields for pt in eng.points(time_ns=1)}
    assert points == {"7001": {"pcre_limit_hits": 3}, "7002": {"alerts": 3}}
    # a limit hit is no match, even for a negated pcre (Suricata: a matching error fails the keyword)
    neg = parse_rule('alert tcp any any -> any 9000 (pcre:!"/(a+)+$/x"; sid:7003;)')
    assert neg.contents[0].matches(b"a" * 40 + b"!", None) is None
    # higher limits are honoured: with enough steps the search ends, without a match
    assert neg.contents[0].matches(b"a" * 12 + b"!", None, Limits(10**7, 10**7)) is True


def test_scan_reports_limit_hits_and_refuses_bad_limits(tmp_path: Path) -> None:
    """Through the real command (a subprocess with a timeout: the old engine never came back)."""
    rules = tmp_path / "evil.rules"
    rules.write_text('alert http any any -> any any (msg:"evil"; pcre:"/(a+)+$/Px"; sid:7001;)\n')
    # 2**20 steps for the a's: past the default limit, well inside a raised one
    pcap = write(tmp_path, "t.pcap", timed([post("/x", "a" * 20 + "!"), post("/x", "b" * 40)]))

    def govnet(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*GOVNET, *args], capture_output=True, text=True, timeout=60, check=False)

    r = govnet("ids", "scan", str(pcap), "--rules", str(rules), "--json")
    assert r.returncode == 0 and r.stdout == ""
    assert r.stderr.startswith("govnet: note: 1 pcre searches stopped at the match limit")
    assert "(sid 7001: 1)" in r.stderr and r.stderr.count("\n") == 1
    r = govnet("ids", "scan", str(pcap), "--rules", str(rules), "--pcre-match-limit", "100000000")
    assert r.returncode == 0 and "pcre searches" not in r.stderr, r.stderr
    for bad in ("0", "-5", "many", "1e9", str(1 << 32)):
        for flag in ("--pcre-match-limit", "--pcre-depth-limit"):
            r = govnet("ids", "scan", str(pcap), flag, bad)
            assert r.returncode == 2 and r.stderr.startswith(f"govnet: {flag}: bad value"), r.stderr
            assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_sensor_stats_event_carries_the_limit_counters(tmp_path: Path) -> None:
    from ids.nids.sensor import Sensor

    eng = Engine(parse_rules('alert tcp any any -> any 9000 (pcre:"/(a+)+$/x"; sid:7001;)'))
    eng.inspect(_pkt(b"a" * 40 + b"!"))

    class _NoCapture:
        iface = "none"

        def statistics(self) -> tuple[int, int]:
            return (0, 0)

    rec = Sensor(_NoCapture(), eng).report()  # type: ignore[arg-type]
    assert rec["detail"]["pcre_limit_hits"] == 1 and rec["detail"]["pcre_limit_by_sid"] == {"7001": 1}
    assert json.loads(json.dumps(rec)) == rec


# --- RE2 means what PCRE2 means ------------------------------------------------------------------
_ATOMS = [
    "a", "b", ".", r"\s", r"\S", r"\d", r"\w", r"\W", r"\v", r"\V", r"\h", r"\H", "[ab]", r"[^a\s]",
    r"[\s1]", r"[\S]", "[[:space:]]", "[[:^space:]a]", r"[\v]", r"[\h_]", r"\x0b", r"\x85", r"\0",
    r"\012", r"\Qa.\E", r"\.", r"\n", "{", "}", "a{2}", "b{1,}", "a{,2}", "[]a]", r"[\b]", r"\t", "_", ",",
]  # fmt: skip
_ANCHORS = ["^", "$", r"\Z", r"\z", r"\A", r"\b", r"\B"]


def _patterns() -> st.SearchStrategy[str]:
    atom = st.sampled_from(_ATOMS)
    quant = st.sampled_from(["", "", "*", "+", "?", "{1,2}", "*?", "+?"])
    piece = st.one_of(st.builds(lambda a, q: a + q, atom, quant), st.sampled_from(_ANCHORS))
    seq = st.lists(piece, min_size=1, max_size=4).map("".join)
    return st.recursive(
        seq,
        lambda inner: st.one_of(
            st.builds(lambda a, b: f"(?:{a}|{b})", inner, inner),
            st.builds(lambda a, q: f"({a}){q}", inner, st.sampled_from(["", "*", "+", "?"])),
            st.builds(lambda a, b: a + b, inner, inner),
        ),
        max_leaves=6,
    )


_SUBJECT = st.lists(st.sampled_from([b"a", b"b", b" ", b"\n", b"\t", b"\x0b", b"\x0c", b"\r", b"\x85",
                                     b"\xa0", b"1", b"_", b"{", b"}", b".", b"\x00", b"\x08", b","]),
                    max_size=10).map(b"".join)  # fmt: skip


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    _patterns(), st.sampled_from(["", "i", "s", "m", "ms", "is"]), st.lists(_SUBJECT, min_size=1, max_size=6)
)
def test_re2_translation_agrees_with_pcre2(pattern: str, flags: str, subjects: list[bytes]) -> None:
    lib = _pcre2()
    assert lib is not None
    p = pattern.encode()
    try:
        reference = _Code(lib, p, flags)
    except ValueError:
        return  # not a valid PCRE2 pattern: the rule parser refuses it
    regex = Regex(p, flags)
    if regex.engine != "re2":
        return  # PCRE2 itself runs it
    big = Limits(10**7, 10**7)
    for s in subjects:
        want = reference.search(s, big)
        if want is not LIMIT:
            assert regex.search(s) == want, (pattern, flags, s, to_re2(p, flags))


def test_translation_rewrites_and_refusals() -> None:
    assert to_re2(rb"a\sb$") == rb"a[\t\n\x0b\x0c\r ]b(?:\n?\z)"
    assert to_re2(rb"(a|b$)", "i") == rb"(?i)(a|b(?:\n?\z))"
    assert to_re2(rb"a$", "m") == rb"(?m)a$"
    for unsupported in (
        rb"(a)\1",
        rb"a(?=b)",
        rb"(?<!a)b",
        rb"(?>a)",
        rb"a$b",
        rb"(a$)+",
        rb"(?i)a",
        rb"\pL",
    ):
        assert to_re2(unsupported) is None, unsupported
    assert to_re2(b"a", "x") is None and to_re2(b"^a", "m") is None
    assert Regex(rb"a++b").engine == "pcre2"  # possessive: RE2 refuses it, PCRE2 runs it


def test_bad_pcre_is_a_rule_error_with_pcre2s_message() -> None:
    from govnet.errors import RuleError

    with pytest.raises(RuleError, match=r"pcre: missing closing parenthesis at offset 1"):
        parse_rule('alert tcp any any -> any any (pcre:"/(/"; sid:1;)')


# --- other matchers on long input ----------------------------------------------------------------
def test_rule_header_parsing_is_linear() -> None:
    """The header regex `\\s+(.*?)\\s*(->|<>)` took 5 s for a rule line of 1000 spaces, 35 s for 2000."""
    from govnet.errors import RuleError

    def parse(text: bytes) -> None:
        with pytest.raises(RuleError):
            parse_rule(text.decode())

    def lines(n: int) -> list[bytes]:
        return [
            b"alert tcp " + b" " * n + b"x",
            b"alert tcp a b -> c d (" + b"-> " * (n // 3),
            b"alert " + b"a " * n,
        ]

    _assert_linear(parse, lines, (100, 800, 6400))


def test_content_matching_is_linear_on_long_payloads() -> None:
    rules = parse_rules(
        'alert tcp any any -> any 9000 (content:"aaaaaaaaab"; content:"ab"; depth:1000; offset:5; '
        'content:!"b"; nocase; sid:1;)'
    )
    eng = Engine(rules, DetectorConfig(enabled=frozenset()))

    def inspect(frame: bytes) -> None:
        eng.inspect(_pkt(frame))

    _assert_linear(
        inspect, lambda n: [b"a" * n, b"aB" * (n // 2), b"aaaaaaaaa" * (n // 9)], (128, 1024, 8192)
    )
