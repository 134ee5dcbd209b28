"""A lab's expectations without an emulator: the scenario's entries checked per kind and against the
lab (timeline entries, parts, checks), every kind evaluated on recorded events and results —
passing, failing and with its data missing (a failed record with a sentence, never a crash) — and
the lab's verdict and `why:` lines derived from them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from govnet.errors import ModelError
from labs import compose, load_scenario
from labs.engine import Lab
from labs.evaluate import Facts, Seen, evaluate
from labs.expect import KINDS
from labs.parts import Part
from topology import load_model
from topology.emulator.caps import Capabilities

SMALL = load_model("small")
TIMELINE = "timeline:\n  - {at: 5, do: links.cut, with: {link: core1--core2}}\n"


def _scenario(text: str, tmp_path: Path) -> dict[str, Any]:
    f = tmp_path / "lab.yaml"
    f.write_text("name: x\nmodel: small\n" + text)
    return load_scenario(str(f))


def _problems(text: str, tmp_path: Path) -> list[str]:
    try:
        compose(_scenario(text, tmp_path), SMALL, "lab.yaml")
    except ModelError as exc:
        return [str(p).replace(f"{tmp_path}/", "") for p in exc.problems]
    return []


def _one(entry: dict[str, Any], facts: Facts) -> dict[str, Any]:
    full = {"name": "", "subject": "", "source": None, "check": None, **entry}
    [out] = evaluate([full], facts)
    assert set(out) == {"name", "kind", "expected", "measured", "ok", "text"}
    assert "None" not in out["text"] and "{" not in out["text"]
    return out


# --- the scenario's expectations ------------------------------------------------------------------
def test_expectations_are_read_with_their_defaults(tmp_path: Path) -> None:
    sc = _scenario(
        TIMELINE + "expectations:\n"
        "  - {kind: no_event, event: fw.split_brain}\n"
        "  - {kind: event_within, event: fw.failover, after: links.cut, within_s: 5, name: fast}\n"
        "  - {kind: sessions_lost}\n",
        tmp_path,
    )
    assert sc["expectations"] == [
        {"kind": "no_event", "name": "", "event": "fw.split_brain", "subject": ""},
        {
            "kind": "event_within",
            "name": "fast",
            "event": "fw.failover",
            "within_s": 5,
            "after": "links.cut",
            "subject": "",
        },
        {"kind": "sessions_lost", "name": "", "max": 0},
    ]


def test_structural_mistakes_name_the_entry_and_field(tmp_path: Path) -> None:
    got = _problems(
        TIMELINE + "expectations:\n"
        "  - {kind: no_events, event: fw.split_brain}\n"
        "  - {event: fw.split_brain}\n"
        "  - {kind: no_event, event: fw.splitbrain}\n"
        "  - {kind: event_within, event: fw.failover, after: -1, within_s: 0}\n"
        "  - {kind: max_outage_ms, max: 1000, limit: 5}\n"
        "  - {kind: points_lost, max: 0.5}\n"
        "  - {kind: check_passed, check: speed}\n"
        "  - fw.split_brain\n",
        tmp_path,
    )
    assert got == [
        "lab.yaml: expectations[0].kind: is not an expectation kind (got 'no_events'); did you mean "
        "'no_event'?",
        "lab.yaml: expectations[1].kind: is required; add 'kind:' (" + ", ".join(KINDS) + ")",
        "lab.yaml: expectations[2].event: is not an event kind (got 'fw.splitbrain'); did you mean "
        "'fw.split_brain'?",
        "lab.yaml: expectations[3].within_s: must be a number above 0 (seconds) (got 0); e.g. 1",
        "lab.yaml: expectations[3].after: must name a timeline entry (got -1); give its index (0 is the "
        "first) "
        "or PART.ACTION",
        "lab.yaml: expectations[4].limit: unknown field (got 'limit'); allowed fields: kind, name, max, "
        "source",
        "lab.yaml: expectations[5].max: must be a whole number at least 0 (got 0.5); e.g. 1",
        "lab.yaml: expectations[6].check: is not one of the allowed values (got 'speed'); use one of: "
        "reachability, rates, heal",
        "lab.yaml: expectations[7]: must be a mapping {kind: ..., ...} (got 'fw.split_brain'); kinds: "
        + ", ".join(KINDS),
    ]


def test_hostile_values_are_problems_not_crashes(tmp_path: Path) -> None:
    got = _problems(
        "expectations:\n  - {kind: [no_event]}\n  - {kind: no_event, event: {a: 1}}\n"
        "  - {kind: max_outage_ms, max: .nan}\n",
        tmp_path,
    )
    assert [p.split(":")[1].strip() for p in got] == [
        "expectations[0].kind",
        "expectations[1].event",
        "expectations[2].max",
    ]


def test_what_an_expectation_names_must_be_in_the_lab(tmp_path: Path) -> None:
    got = _problems(
        TIMELINE + "checks: [reachability]\nexpectations:\n"
        "  - {kind: event_within, event: fw.failover, after: 3, within_s: 5}\n"
        "  - {kind: event_within, event: fw.failover, after: firewall.crash, within_s: 5}\n"
        "  - {kind: max_outage_ms, max: 1000, source: probe}\n"
        "  - {kind: validation_error_max, max: 0.1}\n"
        "  - {kind: check_passed, check: heal}\n"
        "  - {kind: event_within, event: fw.failover, after: 0, within_s: 5}\n",  # fine
        tmp_path,
    )
    assert got == [
        "lab.yaml: expectations[0].after: no timeline entry with this index (got 3); the timeline has 1 "
        "entries: "
        "0 to 0",
        "lab.yaml: expectations[1].after: no timeline entry does this (got 'firewall.crash'); use one of: "
        "links.cut",
        "lab.yaml: expectations[2].source: the lab has no probe part (got 'probe'); add 'probe: {src: HOST, "
        "dst: HOST}'",
        "lab.yaml: expectations[3].kind: the lab does not run the validation (got 'validation_error_max'); "
        "add 'validate: true'",
        "lab.yaml: expectations[4].check: this check is not run by the scenario (got 'heal'); add it to "
        "'checks:'",
    ]
    assert _problems(
        "expectations:\n  - {kind: event_within, event: fw.failover, after: 0, within_s: 5}\n", tmp_path
    ) == ["lab.yaml: expectations[0].after: the scenario has no timeline (got 0); add 'timeline:'"]


# --- evaluation, kind by kind ---------------------------------------------------------------------
CRASH = {"index": 0, "do": "firewall.crash", "executed_s": 10.0, "state": "done", "error": ""}
NOT_RUN = {
    "index": 1,
    "do": "firewall.add",
    "executed_s": None,
    "state": "not run",
    "error": "the lab stopped before it was due",
}


def test_no_event() -> None:
    e = {"kind": "no_event", "event": "fw.split_brain"}
    assert _one(e, Facts()) == {
        "name": "no fw.split_brain",
        "kind": "no_event",
        "expected": 0,
        "measured": 0,
        "ok": True,
        "text": "no fw.split_brain event, expected none",
    }
    facts = Facts([Seen("fw.split_brain", "split_brain fw-a, fw-b", 3.0), Seen("fw.split_brain", "", 4.0)])
    out = _one(e, facts)
    assert not out["ok"] and out["measured"] == 2
    assert out["text"] == "2 fw.split_brain events (first: split_brain fw-a, fw-b), expected none"
    assert _one({**e, "subject": "fw-c"}, facts)["ok"]  # the subject narrows it


def test_event_within() -> None:
    e = {
        "kind": "event_within",
        "event": "fw.failover",
        "after": "firewall.crash",
        "within_s": 5,
        "subject": "fw-a",
    }
    early = Seen("fw.failover", "fw-a out of service", 9.0)  # before the crash: does not count
    on_time = Seen("fw.failover", "fw-a out of service", 10.42)
    out = _one(e, Facts([early, on_time], timeline=[CRASH]))
    assert out["ok"] and out["measured"] == pytest.approx(0.42) and out["expected"] == 5
    assert (
        out["text"]
        == "fw.failover about 'fw-a' 0.42 s after firewall.crash (timeline[0]), expected within 5 s"
    )
    assert out["name"] == "fw.failover about 'fw-a' within 5 s of firewall.crash"
    late = _one(e, Facts([Seen("fw.failover", "fw-a out of service", 17.5)], timeline=[CRASH]))
    assert not late["ok"] and late["measured"] == 7.5
    assert late["text"] == (
        "the first fw.failover about 'fw-a' came 7.50 s after firewall.crash (timeline[0]), expected "
        "within 5 s"
    )
    none = _one(e, Facts([Seen("fw.failover", "fw-b out of service", 11)], timeline=[CRASH]))
    assert not none["ok"] and none["measured"] is None
    assert (
        none["text"]
        == "no fw.failover about 'fw-a' event after firewall.crash (timeline[0]), expected within 5 s"
    )
    by_index = _one({**e, "after": 0, "subject": ""}, Facts([on_time], timeline=[CRASH]))
    assert by_index["ok"] and by_index["name"] == "fw.failover within 5 s of timeline[0]"


def test_event_within_missing_its_action() -> None:
    e = {"kind": "event_within", "event": "fw.failover", "after": "firewall.add", "within_s": 5}
    out = _one(e, Facts(timeline=[CRASH, NOT_RUN]))
    assert not out["ok"] and out["measured"] is None
    assert out["text"] == (
        "firewall.add (timeline[1]) did not run (the lab stopped before it was due), so fw.failover cannot "
        "be timed"
    )
    gone = _one(e, Facts())
    assert gone["text"] == "no timeline action firewall.add was recorded, so fw.failover cannot be timed"
    clockless = _one({**e, "after": 0}, Facts([Seen("fw.failover", "fw-a", None)], timeline=[CRASH]))
    assert not clockless["ok"]  # an event with no time on the timeline clock cannot follow the action


def test_max_outage_from_the_probe_or_the_firewall_pair() -> None:
    e = {"kind": "max_outage_ms", "max": 1000}
    probe = {"probe": {"sent": 100, "lost": 2, "longest_gap_s": 0.4}}
    out = _one(e, Facts(metrics=probe))
    assert out["ok"] and out["measured"] == 400.0 and out["expected"] == 1000.0
    assert out["text"] == "longest outage 400 ms (the probe's longest silence), expected at most 1,000 ms"
    bad = _one(e, Facts(metrics={"probe": {"sent": 100, "lost": 20, "longest_gap_s": 2.2}}))
    assert not bad["ok"] and bad["text"].startswith("longest outage 2,200 ms")
    failover = [Seen("fw.failover", "fw-a out of service", 10.3, {"silent_s": 0.35, "member": "fw-a"})]
    fw = _one({**e, "source": "firewall"}, Facts(failover, metrics=probe))
    assert fw["ok"] and fw["measured"] == 350.0
    assert (
        fw["text"]
        == "longest outage 350 ms (the firewall pair's longest failover detection), expected at most 1,000 ms"
    )
    assert _one(e, Facts(failover))["measured"] == 350.0  # no probe: the pair's figure


def test_max_outage_with_nothing_measured() -> None:
    e = {"kind": "max_outage_ms", "max": 1000}
    out = _one(e, Facts())
    assert not out["ok"] and out["measured"] is None
    assert out["text"] == (
        "no outage was measured: no probe result and no firewall failover recorded; expected at most 1,000 ms"
    )
    out = _one({**e, "source": "probe"}, Facts(metrics={"probe": None}))
    assert out["text"] == (
        "the probe recorded no result (it did not run or did not stop cleanly); expected at most 1,000 ms"
    )


def test_sessions_lost() -> None:
    e = {"kind": "sessions_lost", "max": 0}
    assert _one(e, Facts(metrics={"firewall_pair": {"sessions_lost": 0}}))["ok"]
    out = _one(e, Facts(metrics={"firewall_pair": {"sessions_lost": 3}}))
    assert not out["ok"] and out["text"] == "3 sessions lost across the firewall pair, expected at most 0"
    out = _one(e, Facts(metrics={"firewall_pair": {"members": []}}))
    assert (
        not out["ok"]
        and out["text"] == "the firewall pair recorded no count of lost sessions; expected at most 0"
    )
    out = _one(e, Facts())
    assert out["text"] == "the firewall pair left no result (it did not run); expected at most 0"
    assert out["name"] == "no session lost"


def test_validation_error_max() -> None:
    e = {"kind": "validation_error_max", "max": 0.1}
    out = _one(e, Facts(metrics={"validation": {"mean_relative_error": 0.042}}))
    assert (
        out["ok"] and out["text"] == "mean relative error 4.2% (simulator vs emulator), expected at most 10%"
    )
    assert not _one(e, Facts(metrics={"validation": {"mean_relative_error": 0.25}}))["ok"]
    out = _one(e, Facts(metrics={"validation": {"mean_relative_error": None}}))
    assert not out["ok"] and out["text"] == (
        "the validation measured no link at 1 % utilisation or more; expected at most 10%"
    )
    assert _one(e, Facts())["text"] == "the validation left no result (it did not run); expected at most 10%"


def test_points_lost() -> None:
    e = {"kind": "points_lost", "max": 0}
    out = _one(e, Facts(metrics={"points_dropped": 0, "points_written": 100}))
    assert out["ok"] and out["text"] == "0 points dropped, 0 monitor.gap events, expected at most 0"
    gap = Seen("monitor.gap", "metric registry", 3.0, {"refused": "unknown metric"})
    out = _one(e, Facts([gap], metrics={"points_dropped": 0}))
    assert not out["ok"] and out["text"] == "0 points dropped, 1 monitor.gap event, expected at most 0"
    out = _one(e, Facts(metrics={"points_dropped": 12}))
    assert not out["ok"] and out["measured"] == 12
    out = _one(e, Facts())
    assert not out["ok"] and out["text"] == (
        "the monitoring recorded no count of dropped points; 0 monitor.gap events; expected at most 0"
    )


def test_check_passed() -> None:
    rows = [
        {"check": "reachability", "subject": "a -> b", "expected": "reply", "measured": "reply", "ok": True},
        {
            "check": "heal",
            "subject": "core1--core2 cut",
            "expected": "< 1 s",
            "measured": "1.4 s",
            "ok": False,
        },
    ]
    facts = Facts(checks={"ok": False, "rows": rows})
    out = _one({"kind": "check_passed"}, facts)
    assert not out["ok"] and out["measured"] == 1
    assert out["text"] == "1 of 2 checks failed (first: heal core1--core2 cut: 1.4 s), expected all to pass"
    out = _one({"kind": "check_passed", "check": "reachability"}, facts)
    assert out["ok"] and out["text"] == "all 1 reachability checks passed"
    out = _one({"kind": "check_passed", "check": "rates"}, facts)
    assert not out["ok"] and out["text"] == "no rates check ran; expected every rates check to pass"
    out = _one({"kind": "check_passed"}, Facts())
    assert (
        not out["ok"]
        and out["text"] == "the checks left no result (they did not run); expected every check to pass"
    )


def test_no_false_block_counts_blocks_of_sources_that_did_not_attack() -> None:
    e = {"kind": "no_false_block"}
    attacks = {"attacks": [{"attack": "nmap-syn", "src": "citizen1", "src_ip": "198.18.1.11"}]}
    scanner = Seen("ids.block", "citizen1 block verified", 9.0, {"src_ip": "198.18.1.11"})
    out = _one(e, Facts([scanner], metrics=attacks))
    assert out["ok"] and out["text"] == "1 block, all of attack sources (1 source)"
    clerk = Seen("ids.block", "x", 12.0, {"src_ip": "10.10.1.11", "src_host": "bureau-finance-pc1"})
    out = _one(e, Facts([scanner, clerk], metrics=attacks))
    assert not out["ok"] and out["measured"] == 1
    assert out["text"] == "1 block of sources that did not attack (bureau-finance-pc1), expected none"
    out = _one(e, Facts([clerk]))  # nobody attacked: every block is a false one
    assert not out["ok"] and out["measured"] == 1
    assert _one(e, Facts())["ok"]  # no block at all


def test_link_utilisation_max() -> None:
    e = {"kind": "link_utilisation_max", "max": 0.8}
    peaks = {"peak_utilisation": {"bureau-finance--dist2": 0.91, "core1--core2": 0.12}}
    out = _one(e, Facts(metrics=peaks))
    assert not out["ok"] and out["measured"] == 0.91
    assert out["text"] == "bureau-finance--dist2 peaked at 91% of its capacity, expected at most 80%"
    out = _one({**e, "link": "core1--core2"}, Facts(metrics=peaks))
    assert out["ok"] and out["name"] == "core1--core2 at most 80% loaded"
    out = _one({**e, "link": "core2--core3"}, Facts(metrics=peaks))
    assert not out["ok"] and out["measured"] is None and "core2--core3" in out["text"]
    out = _one(e, Facts())
    assert not out["ok"] and out["text"] == (
        "the monitoring recorded no link rates (metrics/series.json); expected at most 80%"
    )


def test_new_expectation_kinds_are_checked_against_the_lab(tmp_path: Path) -> None:
    assert _problems(
        "monitor: false\nexpectations:\n  - {kind: link_utilisation_max, max: 0.5}\n", tmp_path
    ) == [
        "lab.yaml: expectations[0].kind: the lab does not run the monitoring (got 'link_utilisation_max'); "
        "remove 'monitor: false'"
    ]
    assert _problems("expectations:\n  - {kind: no_false_block}\n", tmp_path) == [
        "lab.yaml: expectations[0].kind: the lab runs no NIDS, so nothing blocks (got 'no_false_block'); "
        "add 'ids: true'"
    ]
    bad = _problems("expectations:\n  - {kind: link_utilisation_max, max: 0}\n", tmp_path)
    assert len(bad) == 1 and "expectations[0].max" in bad[0]


def test_a_result_of_an_unforeseen_shape_fails_the_expectation_not_the_run() -> None:
    out = _one({"kind": "max_outage_ms", "max": 1000}, Facts(metrics={"probe": "garbled"}))
    assert not out["ok"] and out["measured"] is None
    out = _one({"kind": "check_passed"}, Facts(checks={"rows": ["garbled"]}))
    assert not out["ok"]


# --- the verdict ----------------------------------------------------------------------------------
class _Quiet(Part):
    key = "quiet"


class _NoEmu:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    def start(self) -> None: ...

    def stop(self) -> None: ...


def _lab(tmp_path: Path, expectations: list[dict[str, Any]]) -> Lab:
    caps = Capabilities(root=False, results={}, tools={})
    lab = Lab(
        SMALL,
        tmp_path,
        {"name": "t", "expectations": expectations},
        [_Quiet(None)],
        log=lambda _m: None,
        caps=caps,
    )
    lab.emu = _NoEmu()  # type: ignore[assignment]
    return lab


def test_a_failed_expectation_fails_the_lab_and_says_why(tmp_path: Path) -> None:
    lab = _lab(
        tmp_path,
        [
            {"kind": "no_event", "name": "", "event": "action.failed", "subject": ""},
            {"kind": "max_outage_ms", "name": "the ring heals", "max": 1000, "source": None},
        ],
    )
    with lab:
        lab.run_programme()
    assert lab.ok()  # not evaluated yet: parts and events only
    outcomes = lab.evaluate()
    assert [o["ok"] for o in outcomes] == [True, False]
    assert not lab.ok()
    assert lab.why() == [
        "expectation the ring heals: no outage was measured: no probe result and no firewall failover "
        "recorded; "
        "expected at most 1,000 ms"
    ]


def test_every_expectation_holding_keeps_the_lab_ok(tmp_path: Path) -> None:
    lab = _lab(tmp_path, [{"kind": "no_event", "name": "", "event": "fw.split_brain", "subject": ""}])
    with lab:
        lab.run_programme()
    lab.evaluate()
    assert lab.ok() and lab.why() == []


# --- the firewall pair's failovers, timed for event_within -----------------------------------------
def test_a_failover_becomes_an_event_at_the_time_it_happened(tmp_path: Path) -> None:
    import time
    from types import SimpleNamespace

    from govnet.events import event
    from labs.parts.firewall import FirewallPair

    part = FirewallPair(True)
    got: list[Any] = []
    part.ctx = SimpleNamespace(net=SMALL, emit=got.append)  # type: ignore[assignment]
    then = time.time() - 30  # the controller saw it half a minute ago
    history = [
        event("fw", sensor="fw-controller", t=then, action="failover", member="fw-a", silent_s=0.35),
        event("fw", sensor="fw-controller", t=then + 1, action="rebalance", moved_slots=1),
        {"timestamp": "garbled", "detail": {"action": "recovered", "member": "fw-a"}},
    ]
    before = time.monotonic()
    part._alarm_events(history)
    assert [(e.kind, e.subject) for e in got] == [
        ("fw.failover", "fw-a out of service"),
        ("fw.failover", "fw-a healthy again"),
    ]
    failover, recovered = got
    assert failover.detail["silent_s"] == 0.35
    assert abs(failover.wall - then) < 0.01
    assert failover.mono < before - 29  # on the monotonic clock too: 30 s before the replay
    assert recovered.mono >= before  # an unreadable time: the time of the replay
