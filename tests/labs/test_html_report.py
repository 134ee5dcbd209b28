"""A stored lab run becomes one self-contained HTML page and a JUnit XML file, offline.

The fixture (tests/data/labs/workday-run/) is a real `workday` run of the small model, trimmed: its
metrics/series.json was exported from the run's own store with labs.parts.monitoring.shape_series
(64 points per series), audit.db keeps every failed login and 30 successes, and
nids/nids-fw-a-outside.json holds made-up alerts (the run had none), config/ only the desktops'
ip.batch (they name the login sources). Expectations and a timeline
(another slice of issue 17 adds them to results.json) are added by the tests.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

import pytest

from govnet.errors import UsageError
from labs import plots
from labs.html import write_html
from labs.junit import write_junit
from labs.markdown import markdown_html, text_of
from labs.parts.monitoring import MAX_POINTS, Monitoring, export_series, series_step, shape_series
from labs.plots import SERIES_FILE
from labs.report import write_pages
from labs.rundata import load_run, login_failures, timeline_markers
from topology import load_model

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "data" / "labs" / "workday-run"

EXPECTATIONS = [
    {
        "name": "failover under 1 s",
        "kind": "max_outage_ms",
        "expected": 1000,
        "measured": 420.5,
        "ok": True,
        "text": "longest outage 420 ms (limit 1,000 ms)",
    },
    {
        "name": "no session lost",
        "kind": "sessions_lost",
        "expected": 0,
        "measured": 3,
        "ok": False,
        "text": "3 sessions lost (limit 0)",
    },
    {
        "name": "alert within 5 s",
        "kind": "event_within",
        "expected": 5.0,
        "measured": None,  # never seen: must not show as None
        "ok": False,
        "text": "no ids.alert event after timeline[1]",
    },
]
TIMELINE = [
    {
        "index": 0,
        "do": "firewall.crash",
        "with": {"member": "fw-a"},
        "planned_s": 20.0,
        "executed_s": 20.004,
        "state": "done",
        "ok": True,
        "error": "",
    },
    {
        "index": 1,
        "do": "probe.scan",
        "with": {},
        "planned_s": 40.0,
        "executed_s": 40.01,
        "state": "failed",
        "ok": False,
        "error": "RuntimeError: nmap missing",
    },
    {
        "index": 2,
        "do": "firewall.restore",
        "with": {"member": "fw-a"},
        "planned_s": 90.0,
        "executed_s": None,
        "state": "not run",
        "ok": False,
        "error": "the lab stopped before it was due",
    },
]


def _run(tmp_path: Path, **extra: Any) -> Path:
    """A copy of the fixture run, with `extra` keys set in its results.json."""
    run = tmp_path / "20261203-130216-workday"
    shutil.copytree(FIXTURE, run)
    if extra:
        doc = json.loads((run / "results.json").read_text())
        doc.update(extra)
        (run / "results.json").write_text(json.dumps(doc, indent=1))
    return run


def _failed_run(tmp_path: Path) -> Path:
    return _run(tmp_path, ok=False, expectations=EXPECTATIONS, timeline=TIMELINE, timeline_t0=1796302960.0)


class Structure(HTMLParser):
    """Start and end tags of the page's structure, checked for nesting; void elements aside."""

    VOID: ClassVar[set[str]] = {"meta", "br", "hr", "img", "input", "link", "wbr", "col", "source"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.refs: list[tuple[str, str, str]] = []
        self.count: dict[str, int] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.count[tag] = self.count.get(tag, 0) + 1
        self.refs += [(tag, k, v or "") for k, v in attrs if k in ("src", "href", "xlink:href", "action")]
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.count[tag] = self.count.get(tag, 0) + 1
        self.refs += [(tag, k, v or "") for k, v in attrs if k in ("src", "href", "xlink:href", "action")]

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}>")
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()


def _parse(text: str) -> Structure:
    p = Structure()
    p.feed(text)
    p.close()
    return p


def _section(text: str, name: str) -> str:
    m = re.search(rf'<section id="{name}">(.*?)</section>', text, re.S)
    assert m, f"no section {name}"
    return m.group(1)


# --- the page ---------------------------------------------------------------------------------------
def test_page_first_screen_verdict_expectations_why_parts(tmp_path: Path) -> None:
    run = _failed_run(tmp_path)
    t = time.monotonic()
    path = write_html(run)
    elapsed = time.monotonic() - t
    print(f"report.html of the fixture built in {elapsed:.2f} s")  # shown with pytest -s
    assert path == run / "report.html"
    text = path.read_text()
    head = text[: text.index('<section id="pictures">')]
    assert '<span class="verdict FAILED">FAILED</span>' in head
    assert "Lab workday" in head and "small" in head and "2.3 min" in head
    exp = _section(text, "expectations")
    assert "1 of 3 met" in text
    for e in EXPECTATIONS:
        assert str(e["name"]) in exp
    assert "<td>420.5</td>" in exp and "<td>3</td>" in exp and "<td>–</td>" in exp  # None as a dash
    assert exp.count('class="failed"') == 2
    why = _section(text, "why")
    assert "expectation no session lost: 3 sessions lost (limit 0)" in why
    assert "timeline: probe.scan failed: RuntimeError: nmap missing" in why
    parts = _section(text, "parts")
    assert parts.count("<tr>") == 1 + 10  # header + every part
    # the order of the first screen
    sections = ("expectations", "why", "parts", "pictures", "events", "detail")
    order = [text.index(f'id="{s}"') for s in sections]
    assert order == sorted(order)


def test_passed_run_without_expectations_says_so(tmp_path: Path) -> None:
    text = write_html(_run(tmp_path)).read_text()
    assert '<span class="verdict PASSED">PASSED</span>' in text
    assert "no expectations in this scenario" in text
    assert 'id="why"' not in text and 'id="timeline"' not in text


def test_each_picture_with_data_is_inline_svg(tmp_path: Path) -> None:
    text = write_html(_failed_run(tmp_path)).read_text()
    pics = _section(text, "pictures")
    figures = re.findall(r"<figure><figcaption>(.*?)</figcaption>(.*?)</figure>", pics, re.S)
    titles = [t for t, _ in figures]
    assert all(body.lstrip().startswith("<svg") and body.rstrip().endswith("</svg>") for _, body in figures)
    # the fixture has series, alerts, failed logins and an off-site copy, and no HSM
    for want in ("busiest links", "IDS alerts", "Failed logins", "Firewall sessions", "poller", "Off-site"):
        assert any(want in t for t in titles), (want, titles)
    assert "<b>HSM tiers</b>: no HSM figures in this run" in pics
    assert "<?xml" not in text and "<metadata" not in text and "<!DOCTYPE svg" not in text
    # the timeline's actions are drawn on the utilisation picture, the one not run as such
    util = next(body for t, body in figures if "busiest" in t)
    assert "firewall.crash" in util and "probe.scan" in util and "firewall.restore (not run)" in util
    # login sources are named after the hosts (config/<node>/ip.batch)
    logins = next(body for t, body in figures if "logins" in t)
    assert "bureau-education-pc1" in logins


def test_page_is_self_contained_and_has_no_reprs(tmp_path: Path) -> None:
    text = write_html(_failed_run(tmp_path)).read_text()
    p = _parse(text)
    bad = [(tag, k, v) for tag, k, v in p.refs if not v.startswith(("#", "data:image/png;base64,"))]
    assert not bad, bad  # only references inside the page (the SVGs' ids, the colour bar's inline PNG)
    assert "<script" not in text and "<link" not in text and "<img" not in text
    assert all(u.startswith("#") for u in re.findall(r"url\(\s*['\"]?([^)'\"]*)", text))  # clip paths
    assert "@import" not in text
    assert "None" not in text
    assert "{'" not in text and "['" not in text and '{"' not in text
    assert "Traceback" not in text


def test_page_structure_parses_without_unclosed_tags(tmp_path: Path) -> None:
    text = write_html(_failed_run(tmp_path)).read_text()
    p = _parse(text)
    assert not p.problems, p.problems[:5]
    assert p.stack == [], f"unclosed: {p.stack}"
    assert p.count["html"] == p.count["head"] == p.count["body"] == 1
    assert p.count["section"] >= 6 and p.count["svg"] >= 6


def test_missing_data_gives_notes_not_errors(tmp_path: Path) -> None:
    run = _run(tmp_path)
    (run / SERIES_FILE).unlink()
    shutil.rmtree(run / "nids")
    (run / "audit.db").unlink()
    text = write_html(run).read_text()
    pics = _section(text, "pictures")
    assert "<svg" in pics  # the off-site copy is in results.json
    assert pics.count('class="note"') == 6
    assert "metrics/series.json is written by the monitor part at stop" in pics
    assert "no NIDS in this run" in pics and "no login records in this run" in pics


def test_a_picture_that_fails_is_a_note_and_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_a: Any, **_k: Any) -> str:
        raise ValueError("no room on the axes")

    monkeypatch.setattr(plots, "utilisation_svg", broken)
    with caplog.at_level(logging.WARNING, logger="govnet.labs.report"):
        text = write_html(_run(tmp_path)).read_text()
    assert "could not be drawn (ValueError: no room on the axes)" in text
    assert text.count("<svg") >= 5  # the other pictures are still there
    assert any("no room on the axes" in r.getMessage() for r in caplog.records)


def test_login_failures_fall_back_to_the_users_records(tmp_path: Path) -> None:
    run = _run(tmp_path)
    (run / "audit.db").unlink()
    (run / "apps").mkdir()
    recs = [
        {"app": "oa", "op": "login", "did": "login", "status": "ok", "src": "bureau-b03-pc1"},
        {"app": "oa", "op": "login", "did": "login-mistyped", "status": "ok", "src": "bureau-b03-pc1"},
        {"app": "approval", "op": "login", "did": "login", "status": "error", "src": "bureau-finance-pc1"},
        {"app": "oa", "op": "open", "did": "open", "status": "error", "src": "bureau-finance-pc1"},
    ]
    (run / "apps" / "ops.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    by_src, where = login_failures(load_run(run))
    assert by_src == {"bureau-b03-pc1": {"oa": 1}, "bureau-finance-pc1": {"approval": 1}}
    assert "ops.jsonl" in where


def test_timeline_markers_at_run_seconds(tmp_path: Path) -> None:
    data = load_run(_failed_run(tmp_path))
    run_t0 = 1796302936.0  # run.json's started, 2026-12-03T13:02:16Z
    assert data.t0 == run_t0
    marks = timeline_markers(data)
    assert [round(m.t, 2) for m in marks] == [44.0, 64.01, 114.0]  # timeline_t0 - t0 + executed/planned
    assert [m.executed for m in marks] == [True, True, False]
    assert [m.ok for m in marks] == [True, False, False]


def test_timeline_clock_estimated_from_action_events(tmp_path: Path) -> None:
    run = _run(tmp_path, timeline=TIMELINE[:1])
    line = {
        "timestamp": "2026-12-03T13:02:50.504000+0000",  # 34.504 s after the run's start
        "event_type": "lab",
        "sensor": "firewall",
        "kind": "action.done",
        "severity": "info",
        "subject": "crash member=fw-a",
        "detail": {},
    }
    with (run / "events.json").open("a") as f:
        f.write(json.dumps(line) + "\n")
    (marker,) = timeline_markers(load_run(run))
    assert marker.t == pytest.approx(34.504, abs=0.01)  # logged right after the action ran


def test_markdown_subset() -> None:
    md = "\n".join(
        [
            "# Lab `x`: PASSED",
            "",
            "Some <b>text</b> with **bold** and `a|b`.",
            "",
            "- one: {'success': 3, 'failure': None}",
            "- two & three",
            "",
            "| PromQL | answer |",
            "| --- | --- |",
            '| `sum(x{a="b"}) or vector(0)` | 1 \\| 2 |',
            "",
            "```",
            "<raw> & table",
            "```",
        ]
    )
    out = markdown_html(md)
    assert out.startswith("<h3>Lab <code>x</code>: PASSED</h3>")
    assert "<p>Some &lt;b&gt;text&lt;/b&gt; with <strong>bold</strong> and <code>a|b</code>.</p>" in out
    assert "<li>one: success 3; failure –</li>" in out and "<li>two &amp; three</li>" in out
    assert "<th>PromQL</th><th>answer</th>" in out
    assert "<td><code>sum(x{a=&quot;b&quot;}) or vector(0)</code></td><td>1 | 2</td>" in out
    assert "<pre><code>&lt;raw&gt; &amp; table</code></pre>" in out
    assert not _parse(out).problems


def test_text_of_never_shows_reprs() -> None:
    assert text_of(None) == "–"
    assert text_of({"a": 1, "b": [1.5, None]}) == "a 1; b 1.5, –"
    assert text_of(True) == "yes" and text_of(2.0) == "2" and text_of(0.123456) == "0.1235"
    assert text_of("crash {'member': 'fw-a'}") == "crash member fw-a" and text_of("None") == "–"
    assert text_of("None of them") == "None of them"  # English stays


def test_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such run directory"):
        load_run(tmp_path / "nope")
    with pytest.raises(UsageError, match=r"has no results\.json"):
        load_run(tmp_path)
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(UsageError, match=r"unreadable results\.json"):
        load_run(tmp_path)


# --- JUnit ------------------------------------------------------------------------------------------
def test_junit_counts_and_failures(tmp_path: Path) -> None:
    path = write_junit(_failed_run(tmp_path))
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root
    assert suite.tag == "testsuite" and suite.get("name") == "lab.workday"
    cases = suite.findall("testcase")
    assert len(cases) == len(EXPECTATIONS) + 10 + len(TIMELINE) + 1
    failures = [c for c in cases if c.find("failure") is not None]
    skipped = [c for c in cases if c.find("skipped") is not None]
    for el in (root, suite):
        assert el.get("tests") == str(len(cases))
        assert el.get("failures") == str(len(failures))
        assert el.get("skipped") == str(len(skipped))
        assert el.get("errors") == "0"
        assert float(el.get("time") or "nan") == pytest.approx(139.818, abs=0.001)
    by = {(c.get("classname"), c.get("name")): c for c in cases}
    lost = by[("lab.workday.expectations", "no session lost")].find("failure")
    assert lost is not None and lost.text == "3 sessions lost (limit 0)"
    assert lost.get("type") == "sessions_lost"
    assert by[("lab.workday.expectations", "failover under 1 s")].find("failure") is None
    assert all(c.get("classname") == "lab.workday.parts" for c in cases[3:13])
    assert by[("lab.workday.timeline", "firewall.restore at 90 s")].find("skipped") is not None
    assert by[("lab.workday.timeline", "probe.scan at 40 s")].find("failure") is not None
    verdict = by[("lab.workday", "verdict")].find("failure")
    assert verdict is not None and "no session lost" in (verdict.text or "")
    # the common JUnit schema: only its elements, the required attributes, no None
    allowed = {"testsuites", "testsuite", "testcase", "failure", "skipped", "error"}
    allowed |= {"system-out", "system-err", "properties", "property"}
    assert {el.tag for el in root.iter()} <= allowed
    assert all(c.get("classname") and c.get("name") and c.get("time") for c in cases)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", suite.get("timestamp") or "")
    tags = [el.tag for el in suite]  # the schema's order
    assert tags[0] == "properties" and tags[-2:] == ["system-out", "system-err"]
    assert set(tags[1:-2]) == {"testcase"}
    assert {p.get("name"): p.get("value") for p in suite.iter("property")}["model"] == "small"
    assert suite.get("hostname") and suite.get("id") == "0" and suite.get("package") == "lab.workday"
    assert "None" not in path.read_text()


def test_junit_of_a_passed_run_has_no_failure(tmp_path: Path) -> None:
    root = ET.parse(write_junit(_run(tmp_path))).getroot()
    assert root.get("failures") == "0" and root.get("tests") == "11"
    assert root.find(".//failure") is None


def test_write_pages_keeps_going_when_one_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import labs.report

    def broken(_run: Path) -> Path:
        raise RuntimeError("disk full")

    monkeypatch.setattr(labs.report, "write_html", broken)
    run = _run(tmp_path)
    with caplog.at_level(logging.WARNING, logger="govnet.labs.report"):
        assert write_pages(run) == [run / "junit.xml"]
    assert any("disk full" in r.getMessage() for r in caplog.records)


def test_write_report_writes_the_pages(tmp_path: Path) -> None:
    from labs.engine import Lab
    from labs.parts import Part
    from labs.report import write_report
    from topology.emulator.caps import Capabilities

    class Quiet(Part):
        key = "quiet"

    caps = Capabilities(root=False, results={}, tools={})
    lab = Lab(load_model("small"), tmp_path, {"name": "t"}, [Quiet(None)], log=lambda _m: None, caps=caps)
    lab.bus.close()
    report = write_report(lab, {"name": "t", "description": "d"}, 1.0, True)
    assert report.exists() and (tmp_path / "results.json").exists()
    text = (tmp_path / "report.html").read_text()
    assert "PASSED" in text and "no expectations in this scenario" in text
    assert ET.parse(tmp_path / "junit.xml").getroot().get("tests") == "2"


# --- the series export ------------------------------------------------------------------------------
class FakeStore:
    """query_range answers as VictoriaMetrics gives them, and the calls it got."""

    def __init__(self, answers: dict[str, list[dict[str, Any]]], fail: str = "") -> None:
        self.answers, self.fail = answers, fail
        self.calls: list[tuple[str, float, float, float]] = []

    def query_range(self, promql: str, start: float, end: float, step_s: float) -> list[dict[str, Any]]:
        self.calls.append((promql, start, end, step_s))
        if self.fail and self.fail in promql:
            raise RuntimeError("metrics store at http://127.0.0.1:1 does not answer (connection refused)")
        for key, ans in self.answers.items():
            if key in promql:
                return ans
        return []


START = 1_800_000_000.0


def _values(n: int, step: float, v: float = 5.0) -> list[list[Any]]:
    return [[START + i * step, str(v)] for i in range(n)]


def test_series_shaping(tmp_path: Path) -> None:
    net = load_model("small")
    lk = next(lk for lk in net.links if lk.name == "core1--core2")
    answers = {
        "iface_tx_bps": [
            {"metric": {"link": lk.name, "node": lk.b}, "values": _values(3, 10)},
            {
                "metric": {"link": lk.name, "node": lk.a},
                "values": [[START, "1.23456789"], [START + 1, "NaN"]],
            },
            {"metric": {"link": "gone--link", "node": "x"}, "values": _values(1, 10)},
            {"metric": {"node": "nolink"}, "values": _values(2, 10)},
            {"metric": {"link": lk.name, "node": lk.a, "x": "empty"}, "values": []},
        ],
        "fw_sessions": [{"metric": {"node": "fw-b"}, "values": _values(2, 10, 18)}],
        "poller_cycle_s": [{"metric": {"poller": "snmp"}, "values": _values(2, 10, 1.373)}],
    }
    store = FakeStore(answers)
    doc = shape_series(store, net, START, START + 120)
    assert doc["version"] == 1 and doc["start"] == START and doc["step_s"] == 1.0
    assert {c[1:] for c in store.calls} == {(START, START + 120, 1.0)}
    links = doc["links"]
    ends = sorted([(lk.name, lk.a, lk.b), (lk.name, lk.b, lk.a)], key=lambda e: e[1])  # sorted by link, from
    assert [(r["link"], r["from"], r["to"]) for r in links] == [*ends, ("gone--link", "x", "")]
    by_from = {r["from"]: r for r in links}
    assert by_from[lk.a]["points"] == [[0.0, 1.235]]  # NaN left out, 4 significant digits
    assert by_from[lk.b]["points"] == [[0.0, 5.0], [10.0, 5.0], [20.0, 5.0]]
    assert by_from[lk.a]["capacity_mbps"] == lk.bw_mbps and by_from["x"]["capacity_mbps"] is None
    assert doc["firewall_sessions"] == [{"member": "fw-b", "points": [[0.0, 18.0], [10.0, 18.0]]}]
    assert doc["poller_cycle_s"] == [{"poller": "snmp", "points": [[0.0, 1.373], [10.0, 1.373]]}]
    assert doc["errors"] == []
    path, errors = export_series(store, net, tmp_path, START, START + 120)
    assert path == tmp_path / SERIES_FILE and json.loads(path.read_text()) == doc and errors == []


def test_series_step_keeps_600_points() -> None:
    for span in (0.0, 1.0, 131.0, 599.0, 600.0, 601.0, 3600.0, 86_400.0 * 3):
        step = series_step(START, START + span)
        assert step >= 1.0 and step == int(step)
        assert math.floor(span / step) + 1 <= MAX_POINTS, span


def test_series_points_are_capped() -> None:
    store = FakeStore({"fw_sessions": [{"metric": {"node": "fw-a"}, "values": _values(2000, 1)}]})
    doc = shape_series(store, None, START, START + 1999)
    assert len(doc["firewall_sessions"][0]["points"]) == MAX_POINTS


def test_a_failing_query_is_reported_and_the_rest_kept() -> None:
    answer = [{"metric": {"poller": "kernel"}, "values": _values(2, 1)}]
    store = FakeStore({"poller_cycle_s": answer}, fail="fw_")
    doc = shape_series(store, None, START, START + 10)
    assert len(doc["errors"]) == 1 and doc["errors"][0].startswith("firewall_sessions: RuntimeError: ")
    assert doc["firewall_sessions"] == [] and doc["poller_cycle_s"][0]["poller"] == "kernel"


def test_export_failure_is_a_warning_and_a_gap_event(tmp_path: Path) -> None:
    from labs.parts import EventBus, LabContext

    class Empty:
        def query_range(self, *_a: Any) -> list[dict[str, Any]]:
            return []

    (tmp_path / "metrics").write_text("a file where the folder should be")
    said: list[str] = []
    bus = EventBus(tmp_path / "events.json", said.append)
    ctx = LabContext(None, load_model("small"), tmp_path, {}, bus, said.append)  # type: ignore[arg-type]
    part = Monitoring(True)
    part.store = Empty()  # type: ignore[assignment]
    part._export_series(ctx)  # no exception
    bus.close()
    (gap,) = [e for e in bus.events if e.kind == "monitor.gap"]
    assert gap.severity == "warning" and not gap.fails_lab
    assert "series were not exported" in gap.subject
    assert any(line.startswith("warning: the report's series were not exported") for line in said)


def test_failed_queries_at_stop_are_a_gap_event(tmp_path: Path) -> None:
    from labs.parts import EventBus, LabContext

    said: list[str] = []
    bus = EventBus(tmp_path / "events.json", said.append)
    ctx = LabContext(None, load_model("small"), tmp_path, {}, bus, said.append)  # type: ignore[arg-type]
    part = Monitoring(True)
    part.store = FakeStore({}, fail="iface_")  # type: ignore[assignment]
    part._export_series(ctx)
    bus.close()
    assert (tmp_path / SERIES_FILE).exists()
    (gap,) = [e for e in bus.events if e.kind == "monitor.gap"]
    assert gap.subject.startswith("some of the report's series were not exported: links: RuntimeError")


# --- the command --------------------------------------------------------------------------------------
def _govnet(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env["GOVNET_VAR"] = str(tmp / "var")
    env["GOVNET_RUNS"] = str(tmp / "runs")
    cmd = [sys.executable, "-m", "cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, check=False)


@pytest.mark.parametrize("what", ["missing", "empty", "broken"])
def test_lab_report_on_a_bad_directory_exits_2(tmp_path: Path, what: str) -> None:
    d = tmp_path / "run"
    if what != "missing":
        d.mkdir()
    if what == "broken":
        (d / "results.json").write_text("[1, 2")
    r = _govnet("lab", "report", str(d), tmp=tmp_path)
    assert r.returncode == 2, r
    assert "Traceback" not in r.stderr and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(d) in lines[0], r.stderr
    assert "govnet lab run" in lines[0] or "runs/" in lines[0]


def test_lab_report_rebuilds_the_pages(tmp_path: Path) -> None:
    run = _run(tmp_path)
    r = _govnet("lab", "report", str(run), tmp=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"html: {run / 'report.html'}", f"junit: {run / 'junit.xml'}"]
    assert (run / "report.html").stat().st_size > 10_000


def test_the_network_is_drawn_with_peak_loads_and_the_cut_link(tmp_path: Path) -> None:
    """The first picture is the model (model.yaml) with the links coloured by the series' peak load;
    a link the timeline cut is drawn failed (topology.draw's marker), one it never cut is not."""
    cut = {"index": 0, "do": "links.cut", "with": {"link": "core1--core2"}, "planned_s": 5.0}
    cut |= {"executed_s": 5.01, "state": "done", "ok": True, "error": ""}
    text = write_html(_run(tmp_path, timeline=[cut])).read_text()
    figures = re.findall(
        r"<figure><figcaption>(.*?)</figcaption>(.*?)</figure>", _section(text, "pictures"), re.S
    )
    title, body = figures[0]
    assert title == "The network: links by measured peak load"
    assert body.lstrip().startswith("<svg") and "core1" in body and "dashed: cut during the run" in body
    assert 'id="failed-core1--core2' in body
    plain = write_html(_run(tmp_path / "b")).read_text()
    assert 'id="failed-' not in plain and "The network: links by measured peak load" in plain
