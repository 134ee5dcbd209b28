"""The lab engine with real parts on a real network (root; CI runs them as root).

- an off-site copy that cannot arrive (its destination's cable is cut first, a timeline step)
  fails the lab, and the report and results say why;
- ruleset drift between the firewall members, made on purpose by a part written for this test
  (one class, no registry edit outside the test), reaches the report as an event.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from backup_hsm.offsite import pick_destination, pick_source
from govnet.tsdb import Store
from labs import Lab, Step, compose
from labs.parts import LabContext, Part, register
from labs.report import write_report
from topology import load_model

pytestmark = [
    pytest.mark.emu,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces); CI runs as root"),
]
SMALL = load_model("small")


def _access_link(host: str) -> str:
    return next(lk.name for lk in SMALL.links if host in (lk.a, lk.b))


def test_failed_offsite_copy_fails_the_lab_and_says_why(tmp_path: Path) -> None:
    dst = pick_destination(SMALL, pick_source(SMALL)).name
    scenario = {"name": "offsite-cut", "checks": ["reachability"], "firewall": True,
                "offsite": {"size_mb": 2.0, "share": 0.5}}  # fmt: skip
    parts = compose(scenario, SMALL, only=["checks", "links", "firewall", "offsite"])
    lab = Lab(SMALL, tmp_path, scenario, parts, log=lambda _m: None)
    with lab:
        assert lab.run_programme([Step(85, "links", "cut", {"link": _access_link(dst)})])
    assert not lab.ok()
    verdict = lab.verdicts()["offsite"]
    assert not verdict.ok and verdict.reasons[0].startswith("off-site copy failed: "), verdict
    assert lab.verdicts()["checks"].ok  # the network itself was fine before the cut
    report = write_report(lab, scenario, 1.0, lab.ok()).read_text()
    assert "# Lab `offsite-cut` on model `small`: FAILED" in report
    assert "## Why it failed\n\n- offsite: off-site copy failed: " in report
    assert "alarm offsite.failed (offsite):" in report
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["ok"] is False and results["parts"]["offsite"]["ok"] is False
    assert [e["kind"] for e in results["events"]] == ["offsite.failed"]


@register
class Drift(Part):
    """Changes one firewall member's ruleset behind the pair's back, then waits until monitoring
    reports it (the device CLI compares the members' rulesets every cycle)."""

    key = "drift_test"
    steps = ((35, "run"),)

    def run(self, ctx: LabContext) -> None:
        ctx.emu.node("fw-a").cmd("nft add table inet drift_test")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(e.kind == "fw.drift" for e in ctx.bus.events):
            time.sleep(0.5)


def test_ruleset_drift_is_an_event_in_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVNET_VAR", str(tmp_path / "var"))  # the test's own metrics store
    scenario: dict[str, Any] = {
        "name": "drift",
        "checks": ["reachability"],
        "monitor": True,
        "drift_test": True,
    }
    parts = compose(scenario, SMALL, only=["checks", "firewall", "monitor", "drift_test"])
    lab = Lab(SMALL, tmp_path, scenario, parts, log=lambda _m: None)
    try:
        with lab:
            assert lab.run_programme()
    finally:
        Store().down()
    drift = [e for e in lab.bus.events if e.kind == "fw.drift"]
    assert drift and drift[0].source == "monitoring" and "fw-a" in drift[0].subject, lab.bus.events
    report = write_report(lab, scenario, 1.0, lab.ok()).read_text()
    assert "alarm fw.drift (monitoring):" in report
