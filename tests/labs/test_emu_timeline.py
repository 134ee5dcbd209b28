"""Timelines and expectations on a real network (root; CI runs them as root).

- the bundled `fw-crash-at-peak` lab end to end through `govnet lab run`: a member crashes at the
  morning peak, the pair fails over within its expectation, the run passes and writes its pages;
- the bundled `internet-port-scan` lab: a SYN flood and an nmap scan from the Internet host; the
  NIDS alerts on both (events at the alerts' own times), blocks the scanner on the firewalls and
  verifies it, blocks nobody else; the attacks' records and outputs are in the run;
- a lab whose expectation cannot be met exits 1 and its summary names the expectation, measured
  against expected;
- Ctrl-C in the middle of the timeline exits 130 and leaves no interface or node shell behind, and
  the run's record says it was interrupted.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from topology import load_model
from topology.emulator.state import govnet_interfaces, shell_pids
from topology.render import bridge_name

pytestmark = [
    pytest.mark.emu,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces); CI runs as root"),
]
SMALL_NAMES = {bridge_name(n) if n.is_switch else n.name for n in load_model("small").nodes}
CLI = [sys.executable, "-m", "cli"]


def _lab(tmp_path: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, GOVNET_RUNS=str(tmp_path / "runs"))
    return subprocess.run(
        [*CLI, "lab", "run", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def _only_run(tmp_path: Path) -> Path:
    (run,) = (tmp_path / "runs").iterdir()
    return run


def test_firewall_crash_at_peak_meets_its_expectations(tmp_path: Path) -> None:
    out = _lab(tmp_path, "fw-crash-at-peak")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    run = _only_run(tmp_path)
    results = json.loads((run / "results.json").read_text())
    assert results["ok"] is True and results["schema_version"] == 3
    assert [(a["do"], a["state"]) for a in results["timeline"]] == [
        ("firewall.crash", "done"),
        ("firewall.restore", "done"),
        ("firewall.add", "done"),
    ]
    assert all(a["executed_s"] >= a["planned_s"] for a in results["timeline"])
    assert [e["ok"] for e in results["expectations"]] == [True] * 4
    failover = next(e for e in results["expectations"] if e["kind"] == "event_within")
    assert failover["measured"] <= 5.0  # the pair's failover after the crash, in seconds
    page = (run / "report.html").read_text()
    assert "PASSED" in page and "firewall.crash" in page
    assert "<testsuite" in (run / "junit.xml").read_text()
    assert json.loads((run / "run.json").read_text())["verdict"] == "passed"
    assert (govnet_interfaces(), shell_pids(SMALL_NAMES)) == ([], {})


def test_internet_port_scan_alerts_blocks_the_scanner_and_nobody_else(tmp_path: Path) -> None:
    out = _lab(tmp_path, "internet-port-scan")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    run = _only_run(tmp_path)
    results = json.loads((run / "results.json").read_text())
    assert results["ok"] is True
    assert [(a["do"], a["state"]) for a in results["timeline"]] == [
        ("attacks.flood", "done"),
        ("attacks.scan", "done"),
    ]
    outcomes = {e["name"]: e for e in results["expectations"]}
    assert all(e["ok"] for e in outcomes.values()), outcomes
    assert 0 <= outcomes["port-scan alert within 5 s"]["measured"] <= 5.0
    assert outcomes["no false block"]["measured"] == 0
    # the run's event stream: alerts of both attacks at the sensors' times, one verified block of
    # the scanner's address, none of anyone else
    lab = [r for r in map(json.loads, (run / "events.json").read_text().splitlines()) if r.get("kind")]
    alerts = {r["detail"]["signature"] for r in lab if r["kind"] == "ids.alert"}
    assert {"GOVNET DOS SYN flood", "GOVNET SCAN TCP port scan"} <= alerts, alerts
    citizen = str(load_model("small").node("citizen1").addr).split("/")[0]
    blocks = [r["detail"] for r in lab if r["kind"] == "ids.block"]
    assert [(b["src_ip"], b["state"]) for b in blocks] == [(citizen, "block_verified")], blocks
    attacks = results["metrics"]["attacks"]
    assert [a["attack"] for a in attacks] == ["hping3-syn-flood", "nmap-syn"]
    assert all((run / a["log"]).is_file() for a in attacks)
    assert "Attacks" in (run / "report.html").read_text()
    assert (govnet_interfaces(), shell_pids(SMALL_NAMES)) == ([], {})


UNMEETABLE = """\
name: cut-without-failover
description: a ring cut that no firewall notices; the expectation of a failover cannot be met
model: small
checks: [reachability]
firewall: true
monitor: false
timeline:
  - {at: +15s, do: links.cut, with: {link: core1--core2}}  # after the reachability checks
  - {at: +17s, do: links.restore, with: {link: core1--core2}}
expectations:
  - {kind: event_within, event: fw.failover, after: links.cut, within_s: 1, name: a failover after the cut}
"""


def test_an_expectation_that_cannot_be_met_exits_1_and_is_named(tmp_path: Path) -> None:
    f = tmp_path / "cut-without-failover.yaml"
    f.write_text(UNMEETABLE)
    out = _lab(tmp_path, str(f))
    assert out.returncode == 1, out.stdout[-3000:] + out.stderr[-2000:]
    why = [line.strip() for line in out.stdout.splitlines() if line.strip().startswith("why:")]
    assert any("a failover after the cut" in line for line in why), out.stdout[-3000:]
    results = json.loads((_only_run(tmp_path) / "results.json").read_text())
    (exp,) = results["expectations"]
    assert exp["ok"] is False and exp["name"] == "a failover after the cut"
    assert [a["state"] for a in results["timeline"]] == ["done", "done"]  # the actions themselves ran
    assert (govnet_interfaces(), shell_pids(SMALL_NAMES)) == ([], {})


def _wait_for(proc: subprocess.Popen[bytes], pattern: str, timeout: float) -> str:
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    seen, deadline = "", time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if not sel.select(timeout=1):
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        seen += chunk.decode(errors="replace")
        if re.search(pattern, seen):
            return seen
    raise AssertionError(f"never saw {pattern!r}; output so far:\n{seen[-3000:]}")


def test_ctrl_c_mid_timeline_leaves_nothing_behind(tmp_path: Path) -> None:
    f = tmp_path / "long.yaml"
    f.write_text(UNMEETABLE.replace("+17s", "+300s").replace("name: cut-without-failover", "name: long"))
    env = dict(os.environ, GOVNET_RUNS=str(tmp_path / "runs"))
    proc = subprocess.Popen(
        [*CLI, "lab", "run", str(f)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as a terminal's Ctrl-C
    )
    try:
        _wait_for(proc, r"timeline \+15s: links\.cut", 300)  # the first action ran; the second is due later
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (govnet_interfaces(), shell_pids(SMALL_NAMES)) == ([], {})
    record = json.loads((_only_run(tmp_path) / "run.json").read_text())
    assert record["verdict"] == "interrupted"
