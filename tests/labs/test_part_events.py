"""Typed events out of the monitoring and the NIDS, offline (no emulation): ruleset drift is reported
once when it appears, refused points are a gap, a sensor's kernel drops at stop are an event."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from govnet import events
from govnet.errors import GovnetError
from govnet.events import Event
from govnet.metrics import Point
from ids.nids.lab import LabNids, drop_events
from monitors.collector import LabMonitor
from monitors.devcli import DriftWatch, drift, firewall_groups
from topology import load_model

SHA, OTHER = "ab" * 32, "cd" * 32


def _rec(node: str, sha: str | None, ok: bool = True) -> dict[str, Any]:
    return {"node": node, "ok": ok, "routes": 9, "conntrack": 3, "ruleset_sha": sha}


def test_drift_is_new_once_when_it_lasts_and_again_after_it_ended() -> None:
    groups = firewall_groups(load_model("small"))
    assert groups == {"exit": ["fw-a", "fw-b"]}
    watch = DriftWatch(groups)
    same = [_rec("fw-a", SHA), _rec("fw-b", SHA)]
    differ = [_rec("fw-a", SHA), _rec("fw-b", OTHER)]
    silent = [_rec("fw-a", SHA), _rec("fw-b", None, ok=False)]
    seen = [watch.update(drift(cycle, groups)) for cycle in (same, differ, differ, differ, silent, differ)]
    # the second differing cycle in a row is drift; a lost poll is not its end
    assert seen == [[], [], [("exit", ["fw-a", "fw-b"])], [], [], []]
    assert watch.update(drift(same, groups)) == []  # ended: forgotten ...
    assert watch.update(drift(differ, groups)) == []
    assert watch.update(drift(differ, groups)) == [("exit", ["fw-a", "fw-b"])]  # ... so it is new again


def test_a_change_that_reaches_the_members_one_after_the_other_is_not_drift() -> None:
    """A block table pushed over SSH to fw-a, then fw-b: one poll may see only fw-a's."""
    groups = firewall_groups(load_model("small"))
    watch = DriftWatch(groups)
    before = [_rec("fw-a", SHA), _rec("fw-b", SHA)]
    halfway = [_rec("fw-a", OTHER), _rec("fw-b", SHA)]
    after = [_rec("fw-a", OTHER), _rec("fw-b", OTHER)]
    assert [watch.update(drift(c, groups)) for c in (before, halfway, after, after)] == [[], [], [], []]
    assert [DriftWatch(groups, confirm=1).update(drift(halfway, groups))] == [[("exit", ["fw-a", "fw-b"])]]


class _Writer:
    def __init__(self, refuse: bool = False) -> None:
        self.points: list[Point] = []
        self.refuse = refuse

    def write(self, points: list[Point]) -> None:
        if self.refuse:
            raise GovnetError("unknown field 'bogus' of measurement 'fw'")
        self.points += points

    def stats(self) -> Any:
        return SimpleNamespace(dropped=0)


def _monitor(tmp_path: Path, writer: _Writer) -> tuple[LabMonitor, list[Event], list[str]]:
    got: list[Event] = []
    logs: list[str] = []
    emu: Any = SimpleNamespace(model=load_model("small"))
    mon = LabMonitor(emu, tmp_path, writer, log=logs.append, on_event=got.append)
    return mon, got, logs


def _cli_lines(*cycles: list[dict[str, Any]]) -> list[str]:
    out = []
    for i, cycle in enumerate(cycles):
        out += [json.dumps(r) for r in cycle]
        summary = {"poller": "cli", "cycle": i, "t": 1.7e9 + i, "cycle_s": 0.2, "targets": 2}
        out.append(json.dumps({**summary, "answered": 2, "timeouts": 0}))
    return out


def test_the_monitor_emits_and_logs_fw_drift_once_while_it_lasts(tmp_path: Path) -> None:
    writer = _Writer()
    mon, got, logs = _monitor(tmp_path, writer)
    same = [_rec("fw-a", SHA), _rec("fw-b", SHA)]
    differ = [_rec("fw-a", SHA), _rec("fw-b", OTHER)]
    mon._cli = SimpleNamespace(stdout=iter(_cli_lines(same, differ, differ, differ)))
    mon._cli_reader()
    assert [(e.source, e.kind, e.subject, e.severity) for e in got] == [
        ("monitoring", "fw.drift", "fw-a, fw-b", "alarm")
    ]
    assert got[0].detail == {"site": "exit", "ruleset_sha": {"fw-a": SHA, "fw-b": OTHER}}
    drift_lines = [m for m in logs if m.startswith("ruleset drift between firewall members")]
    assert drift_lines == ["ruleset drift between firewall members: ['fw-a', 'fw-b']"]  # not every cycle
    fw = [p for p in writer.points if p.measurement == "fw" and p.tags["node"] == "fw-b"]
    assert [p.fields["ruleset_drift"] for p in fw] == [False, True, True, True]


def test_points_the_registry_refuses_are_one_gap_event(tmp_path: Path) -> None:
    mon, got, logs = _monitor(tmp_path, _Writer(refuse=True))
    pt = Point("fw", {"node": "fw-a"}, {"sessions": 1}, 0)
    mon._emit([pt])
    mon._emit([pt])
    assert [(e.kind, e.subject) for e in got] == [("monitor.gap", "metric registry")]
    assert "unknown field" in got[0].detail["refused"] and mon.rejected == 2
    assert len([m for m in logs if m.startswith("monitoring: points refused")]) == 1


def test_a_receiver_that_fails_does_not_stop_the_monitor(tmp_path: Path) -> None:
    writer = _Writer()
    mon, _got, logs = _monitor(tmp_path, writer)

    def broken(_e: Event) -> None:
        raise RuntimeError("boom")

    mon.on_event = broken
    differ = [_rec("fw-a", SHA), _rec("fw-b", OTHER)]
    mon._cli = SimpleNamespace(stdout=iter(_cli_lines(differ, differ)))
    mon._cli_reader()
    assert "monitoring: event receiver failed: RuntimeError: boom" in logs
    assert len([p for p in writer.points if p.measurement == "poller"]) == 2  # both cycles written


def test_kernel_drops_at_stop_are_events(tmp_path: Path) -> None:
    assert drop_events({"nids-x": {"kernel_drops": 0}}) == []
    emu: Any = SimpleNamespace(model=load_model("small"))
    got: list[Event] = []
    nids = LabNids(emu, tmp_path, log=lambda m: None, on_event=got.append)
    (tmp_path / "nids").mkdir()
    drops = {name: 0 for name, _n, _i in nids.points}
    first = nids.points[0][0]
    drops[first] = 7
    for name, n in drops.items():
        log = events.EventLog(tmp_path / "nids" / f"{name}.json")
        log.write(events.event("stats", sensor=name, frames=10, kernel_drops=0, kernel_packets=10))
        log.write(
            events.event("stats", sensor=name, frames=20, kernel_drops=n, kernel_packets=20, iface="e0")
        )
        log.close()
    nids.stop()
    nids.stop()  # idempotent: reported once
    assert [(e.source, e.kind, e.subject, e.severity) for e in got] == [
        ("nids", "ids.kernel_drops", first, "warning")
    ]
    assert got[0].detail == {"kernel_drops": 7, "kernel_packets": 20, "iface": "e0"}
    assert nids.summary()["kernel_drops"] == 7
