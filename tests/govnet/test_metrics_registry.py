"""The metric registry: every definition is consistent, and validate() names what is wrong."""

from __future__ import annotations

import dataclasses

import pytest

from govnet.errors import GovnetError, MetricError
from govnet.metrics import (
    MEASUREMENTS,
    REGISTRY,
    Field,
    Measurement,
    Point,
    Tag,
    check_registry,
    promql_name,
    validate,
)

T = 1_700_000_000_000_000_000

EXPECTED = {
    "iface": (
        {"node", "ifname", "link", "vlan", "kind", "source"},
        {"rx_bytes", "tx_bytes", "rx_bps", "tx_bps", "utilisation", "errors", "discards", "oper_up"},
    ),
    "host": ({"node"}, {"cpu_pct", "mem_pct", "mem_used_bytes", "connections", "processes"}),
    "device": ({"node"}, {"uptime_s", "cpu_pct", "mem_pct", "routes"}),
    "poller": ({"poller"}, {"cycle_s", "targets", "answered", "timeouts", "completeness", "data_age_s"}),
    "fw": (
        {"node"},
        {
            "sessions",
            "accepted",
            "dropped",
            "ruleset_drift",
            "pps",
            "bps",
            "load_share",
            "slot_share",
            "in_service",
            "healthy",
        },
    ),
    "ids": ({"sensor", "signature_id", "severity"}, {"alerts", "pcre_limit_hits"}),
    "login": ({"service", "result"}, {"attempts"}),
    "hsm": ({"tier"}, {"bytes", "files", "recalls"}),
    "app": ({"app", "op"}, {"latency_s", "ops", "errors"}),
}


def _sample_value(f: Field) -> int | float | bool:
    if f.type is bool:
        return True
    lo = f.min if f.min is not None else 0.0
    hi = f.max if f.max is not None else lo + 100.0
    mid = (lo + hi) / 2
    return int(mid) if f.type is int else mid


def _full_point(m: Measurement) -> Point:
    tags = {t.name: sorted(t.values)[0] if t.values else f"{t.name}-x" for t in m.tags}
    return Point(m.name, tags, {f.name: _sample_value(f) for f in m.fields}, T)


def test_registry_has_the_documented_measurements() -> None:
    got = {m.name: ({t.name for t in m.tags}, {f.name for f in m.fields}) for m in MEASUREMENTS}
    assert got == EXPECTED
    assert set(REGISTRY) == set(EXPECTED)


def test_registry_is_consistent() -> None:
    assert check_registry() == []
    for m in MEASUREMENTS:
        assert dataclasses.is_dataclass(m) and m.__dataclass_params__.frozen  # type: ignore[attr-defined]
        for f in m.fields:
            assert f.type in (int, float, bool), f"{m.name}.{f.name}: strings belong in tags"
            assert f.kind in ("gauge", "counter")


def test_check_registry_finds_clashes() -> None:
    a = Measurement("a_b", "x", (Tag("c", "x"),), (Field("c", "s", "x"), Field("d", "s", "x", "counter")))
    b = Measurement("a", "x", (), (Field("b_c", "s", "x"),))
    problems = check_registry((a, b, a))
    assert any("a_b: defined twice" in p for p in problems)
    assert any("a_b.c: used more than once" in p for p in problems)
    assert any("a_b.d: a counter must be an integer" in p for p in problems)
    assert any("series name a_b_c clashes" in p for p in problems)


@pytest.mark.parametrize("m", MEASUREMENTS, ids=lambda m: m.name)
def test_every_measurement_accepts_a_full_point(m: Measurement) -> None:
    p = _full_point(m)
    assert validate(p) is p
    line = p.line()
    assert line.startswith(m.name + ",") or line.startswith(m.name + " ")
    assert line.endswith(f" {T}")


def test_promql_names() -> None:
    assert promql_name("iface", "tx_bytes") == "iface_tx_bytes"
    assert promql_name("poller", "completeness") == "poller_completeness"
    with pytest.raises(MetricError, match="unknown measurement 'ifac'"):
        promql_name("ifac", "tx_bytes")
    with pytest.raises(MetricError, match="iface: unknown field 'tx_byte'"):
        promql_name("iface", "tx_byte")


def test_line_protocol_escapes_and_types() -> None:
    p = Point(
        "iface", {"node": "core 1", "ifname": "a,b=c"}, {"tx_bytes": 5, "rx_bps": 1.5, "oper_up": False}, 7
    )
    assert p.line() == r"iface,ifname=a\,b\=c,node=core\ 1 tx_bytes=5i,rx_bps=1.5,oper_up=false 7"


OK_TAGS = {"node": "core1", "ifname": "gn1e0"}


@pytest.mark.parametrize(
    ("point", "message"),
    [
        (Point("ifaces", OK_TAGS, {"tx_bytes": 1}, T), "unknown measurement 'ifaces'"),
        (Point("iface", OK_TAGS, {"tx_bits": 1}, T), "iface: unknown field 'tx_bits'"),
        (Point("iface", {**OK_TAGS, "site": "x"}, {"tx_bytes": 1}, T), "iface: unknown tag 'site'"),
        (Point("iface", {"node": "core1"}, {"tx_bytes": 1}, T), "iface: missing tag(s) ifname"),
        (
            Point("iface", {**OK_TAGS, "vlan": ""}, {"tx_bytes": 1}, T),
            "iface: tag 'vlan' must be a non-empty",
        ),
        (Point("iface", OK_TAGS, {}, T), "iface: a point needs at least one field"),
        (Point("iface", OK_TAGS, {"tx_bytes": "5"}, T), "iface.tx_bytes: must be a number"),  # type: ignore[dict-item]
        (Point("iface", OK_TAGS, {"tx_bytes": 1.5}, T), "iface.tx_bytes: must be an integer counter"),
        (Point("iface", OK_TAGS, {"tx_bytes": -1}, T), "iface.tx_bytes: must be >= 0"),
        (Point("iface", OK_TAGS, {"oper_up": 1}, T), "iface.oper_up: must be a boolean"),
        (Point("iface", OK_TAGS, {"rx_bps": True}, T), "iface.rx_bps: must be a number"),
        (Point("iface", OK_TAGS, {"rx_bps": float("nan")}, T), "iface.rx_bps: must be finite"),
        (Point("host", {"node": "h"}, {"cpu_pct": 101.0}, T), "host.cpu_pct: must be <= 100"),
        (
            Point("login", {"service": "oa", "result": "ok"}, {"attempts": 1}, T),
            "login: tag 'result' must be one of",
        ),
        (
            Point("ids", {"sensor": "s", "signature_id": "1", "severity": "9"}, {"alerts": 1}, T),
            "tag 'severity'",
        ),
        (Point("app", {"app": "oa", "op": "x"}, {"ops": 1}, 0), "app: time_ns must be a positive integer"),
    ],
)
def test_validate_names_the_fault(point: Point, message: str) -> None:
    with pytest.raises(MetricError) as exc:
        validate(point)
    assert message in str(exc.value)
    assert isinstance(exc.value, GovnetError)


def test_point_gets_a_current_timestamp() -> None:
    import time

    before = time.time_ns()
    p = Point("app", {"app": "oa", "op": "login"}, {"latency_s": 0.02})
    assert before <= p.time_ns <= time.time_ns()
    validate(p)
