"""The lab's live status line: its text at each point of a timeline (phase, position, next action,
actions done and failed, alarms), and that it draws only on a terminal and leaves nothing behind."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from govnet.events import Event
from labs.progress import live_status, status_text
from labs.timeline import Action, Timeline


@dataclass
class _Bus:
    events: list[Event] = field(default_factory=list)


@dataclass
class _Lab:
    phase: str
    timeline: Timeline
    bus: _Bus


def _lab(now: list[float]) -> _Lab:
    acts = [Action(0, 10.0, "firewall.crash"), Action(1, 35.0, "firewall.add")]
    return _Lab("traffic run", Timeline(acts, lambda a: None, clock=lambda: now[0]), _Bus())


def test_the_status_line_follows_the_timeline() -> None:
    now = [100.0]
    lab = _lab(now)
    assert status_text(lab) == (
        "traffic run | timeline of +35s | next firewall.crash at +10s | actions 0/2 done | alarms 0"
    )
    lab.timeline.t0 = 100.0
    now[0] = 112.44
    lab.timeline.actions[0].state = "done"
    lab.bus.events.append(Event("fw", "fw.split_brain", "fw-a, fw-b"))
    assert status_text(lab) == (
        "traffic run | timeline +12.4s of +35s | next firewall.add at +35s | actions 1/2 done | alarms 1"
    )
    lab.timeline.actions[1].state = "failed"
    lab.phase = "tearing down"
    assert (
        status_text(lab, now=140.0)
        == "tearing down | timeline +40s of +35s | actions 1/2 done, 1 failed | alarms 1"
    )


def test_no_timeline_no_timeline_words() -> None:
    lab = _Lab("checks run", Timeline([], lambda a: None), _Bus())
    assert status_text(lab) == "checks run | alarms 0"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_it_draws_only_on_a_terminal_and_leaves_no_line() -> None:
    plain = io.StringIO()
    with live_status(_lab([0.0]), stream=plain):
        pass
    assert plain.getvalue() == ""
    tty = _Tty()
    seen: dict[str, Any] = {}
    with live_status(_lab([0.0]), stream=tty):
        seen["during"] = True
    assert seen == {"during": True}
    text = tty.getvalue()
    assert "traffic run" in text  # drawn at least once, then erased (transient): ends with no status
    assert not text.rstrip().endswith("alarms 0")
