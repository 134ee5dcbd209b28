"""Client and background traffic models, their configuration, and the offered-traffic export."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from apps.background import VOICE_BPS, VOICE_PACKET_BYTES, background_flows
from apps.config import ClientParams, TrafficConfig, load_config
from apps.offered import export_offered, offered_timeline
from apps.traffic import (
    DAY_S,
    HTTP_OVERHEAD_BYTES,
    DiurnalCurve,
    client_events,
    doc_sizes,
    expected_sessions,
    think_times,
)
from capacity.demands import load_demands
from govnet.errors import ModelError
from topology import load_model

SMALL = load_model("small")


def _cfg(**client: float) -> TrafficConfig:
    params = dataclasses.replace(ClientParams(), **client)  # type: ignore[arg-type]
    return TrafficConfig(seed=42, clients={"oa": params, "approval": params})


def test_same_seed_same_schedule_and_other_seed_differs() -> None:
    a = client_events(SMALL, _cfg(), "oa", 8 * 3600, 3600)
    b = client_events(SMALL, _cfg(), "oa", 8 * 3600, 3600)
    c = client_events(SMALL, dataclasses.replace(_cfg(), seed=43), "oa", 8 * 3600, 3600)
    assert a == b and len(a) > 100 and a != c
    assert background_flows(SMALL, _cfg()) == background_flows(SMALL, _cfg())


def test_offered_session_rate_matches_configuration() -> None:
    cfg = _cfg(users_per_desktop=300, ops_per_session=2)
    for start, duration in ((0.0, DAY_S), (14 * 3600.0, 3 * 3600.0)):
        events = client_events(SMALL, cfg, "oa", start, duration)
        sessions = sum(1 for e in events if e.op == "login" and e.ok)
        want = expected_sessions(SMALL, cfg, "oa", start, duration)
        assert want > 3000
        assert abs(sessions / want - 1) < 0.05, (sessions, want)


def test_diurnal_shape_and_compression() -> None:
    cfg = dataclasses.replace(_cfg(users_per_desktop=100), day_minutes=10)
    events = client_events(SMALL, cfg, "oa")
    per_hour = Counter(int(e.t_s // 3600) for e in events)
    assert per_hour[3] < per_hour[10] / 10  # quiet night
    assert per_hour[12] < 0.7 * per_hour[11] and per_hour[12] < 0.7 * per_hour[15]  # lunch dip
    assert per_hour[15] == max(per_hour.values())  # afternoon peak
    assert per_hour[21] < per_hour[15] / 5  # quiet evening
    assert all(math.isclose(e.wall_s, e.t_s * 600 / DAY_S) for e in events)
    curve = DiurnalCurve()
    assert curve.weight(15.5 * 3600) == pytest.approx(1.0) and curve.weight(DAY_S + 3600) == curve.weight(
        3600
    )


def test_lognormal_parameters_are_recovered() -> None:
    p = ClientParams(size_mu=9.0, size_sigma=1.2, size_min=1, size_max=10**12)
    logs = np.log(doc_sizes(np.random.default_rng(5), p, 200_000) + 0.5)
    assert logs.mean() == pytest.approx(9.0, abs=0.02) and logs.std() == pytest.approx(1.2, rel=0.02)
    q = ClientParams()
    sizes = doc_sizes(np.random.default_rng(6), q, 50_000)
    assert sizes.min() >= q.size_min and sizes.max() <= q.size_max
    assert np.median(np.log(sizes)) == pytest.approx(q.size_mu, abs=0.05)
    events = client_events(SMALL, _cfg(users_per_desktop=100), "oa")
    opened = np.log([e.bytes_down - HTTP_OVERHEAD_BYTES for e in events if e.op == "open"])
    assert len(opened) > 2000 and opened.mean() == pytest.approx(q.size_mu, abs=0.1)
    assert opened.std() == pytest.approx(q.size_sigma, rel=0.06)


def test_think_times_and_mistyped_passwords() -> None:
    p = ClientParams()
    t = think_times(np.random.default_rng(1), p, 100_000)
    assert t.max() <= p.think_max_s and t.mean() == pytest.approx(7.0, rel=0.03)
    events = client_events(SMALL, _cfg(users_per_desktop=200, mistype_rate=0.1), "oa")
    logins = [e for e in events if e.op == "login"]
    failed = sum(not e.ok for e in logins) / len(logins)
    assert failed == pytest.approx(0.1, abs=0.015)
    users = {e.user for e in events}
    assert len(users) == 3 * 200 and {e.src for e in events} == {
        n.name for n in SMALL.nodes if n.is_host and n.zone == "office"}  # fmt: skip
    assert {e.dst for e in events} == {"srv-oa"}


def test_voice_calls_rate_holding_and_packets() -> None:
    cfg = dataclasses.replace(_cfg(), vod=None, conference=None)
    cfg = dataclasses.replace(cfg, voice=dataclasses.replace(cfg.voice, calls_per_hour=300.0))  # type: ignore[type-var]
    flows = background_flows(SMALL, cfg, 0.0, 3 * DAY_S)
    calls = flows[::2]
    want = 300 / 3600 * 3 * DAY_S * DiurnalCurve().mean()
    assert abs(len(calls) / want - 1) < 0.05
    assert np.mean([f.duration_s for f in calls]) == pytest.approx(210, rel=0.05)
    assert {(f.cls, f.bps, f.packet_bytes) for f in flows} == {("voice", VOICE_BPS, VOICE_PACKET_BYTES)}
    assert VOICE_PACKET_BYTES * 8 * 50 == VOICE_BPS  # 20 ms G.711 frames on Ethernet
    assert all(f.src != f.dst for f in flows)


def test_conference_rates_and_classes() -> None:
    raw = {"seed": 3, "background": {"conference": {"meetings_per_day": 20, "rate_bps": 2_000_000}}}
    flows = background_flows(SMALL, load_config(raw))
    assert flows and {f.cls for f in flows} == {"video-hd"}
    assert all(f.bps == pytest.approx(2_400_000) and f.packet_bytes == 1200 for f in flows)
    assert all(8 * 3600 <= f.start_s < 18 * 3600 for f in flows)
    low = load_config({"background": {"conference": {"rate_bps": 768_000}, "vod": {}}})
    assert {f.cls for f in background_flows(SMALL, low)} == {"video"}


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ({"background": {"telepresence": {}}}, "background.telepresence"),
        ({"clients": {"mail": {}}}, "clients.mail"),
        ({"background": {"voice": {"calls_per_hour": -1}}}, "background.voice.calls_per_hour"),
        ({"clients": {"oa": {"think_mean_s": "7"}}}, "clients.oa.think_mean_s"),
        ({"clients": {"oa": {"users_per_desktop": 2.5}}}, "clients.oa.users_per_desktop"),
        ({"clients": {"oa": {"colour": 1}}}, "clients.oa.colour"),
        ({"background": {"conference": {"rate_bps": 5e6}}}, "background.conference.rate_bps"),
        ({"day_minutes": 0}, "day_minutes"),
        ({"sed": 1}, "sed"),
    ],
)
def test_config_errors_name_the_field(raw: dict[str, object], path: str) -> None:
    with pytest.raises(ModelError) as err:
        load_config(raw, "traffic.json")
    assert [p.path for p in err.value.problems] == [path]
    assert str(err.value).startswith(f"traffic.json: {path}: ")


def test_offered_export_loads_in_capacity(tmp_path: Path) -> None:
    cfg = load_config({"seed": 9, "clients": {"oa": {"users_per_desktop": 50}, "approval": {}}})
    start, duration = 8 * 3600.0, 8 * 3600.0
    events = client_events(SMALL, cfg, "oa", start, duration) + client_events(
        SMALL, cfg, "approval", start, duration
    )
    flows = background_flows(SMALL, cfg, start, duration)
    doc = export_offered(tmp_path / "offered.json", SMALL.name, events, flows, start, duration, 900.0)
    demands = load_demands(tmp_path / "offered.json", SMALL)
    assert {d.cls for d in demands} >= {"oa", "approval", "voice"}
    assert len(doc["timeline"]) == 32
    busiest = sum(d.mbps for d in demands)
    assert busiest == pytest.approx(
        max(sum(x["mbps"] for x in t["demands"]) for t in doc["timeline"]), rel=1e-3
    )
    bins = offered_timeline(events, [], start, duration, 900.0)
    total_bits = sum(sum(b.values()) * 900.0 for b in bins)
    legs = [2 if e.via else 1 for e in events]  # an applicant's request crosses the portal: two legs
    assert any(n == 2 for n in legs)
    assert total_bits == pytest.approx(
        sum((e.bytes_up + e.bytes_down) * 8 * n for e, n in zip(events, legs, strict=True)), rel=1e-9
    )
    submits = [e for e in events if e.op == "submit"]
    assert submits and all(e.src == "citizen1" and e.via == "dmz-portal" for e in submits)
    one = offered_timeline([], [f for f in flows if f.cls == "voice"][:1], start, duration, 900.0)
    f = next(f for f in flows if f.cls == "voice")
    assert sum(sum(b.values()) for b in one) * 900.0 == pytest.approx(
        f.bps * min(f.duration_s, start + duration - f.start_s)
    )


def test_generate_command_writes_loadable_json_and_rejects_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from apps.generate import main

    out = tmp_path / "offered.json"
    assert (
        main(
            ["--model", "small", "--start-hour", "9", "--hours", "2", "--interval", "600", "--out", str(out)]
        )
        == 0
    )
    assert load_demands(out, SMALL) and "client operations" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text('{"background": {"voice": {"holding_s": -210}}}')
    assert main(["--model", "small", "--config", str(bad), "--out", str(tmp_path / "x.json")]) == 2
    assert "background.voice.holding_s: must be positive" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
