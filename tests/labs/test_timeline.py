"""A lab's timeline without an emulator: offsets, the scenario's timeline checked field by field and
against the parts it composes, the scheduler on an injected clock (order, executed >= planned, a
stop before actions are due), and the engine running it through Lab.do between the programme's
start steps and its end."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from govnet.errors import ModelError
from labs import compose, list_labs, load_scenario
from labs.engine import Lab
from labs.parts import LabContext, Part
from labs.report import write_report
from labs.timeline import Action, Timeline, actions_of, format_offset, parse_offset
from topology import load_model
from topology.emulator.caps import Capabilities

SMALL = load_model("small")


def _scenario(text: str, tmp_path: Path) -> dict[str, Any]:
    f = tmp_path / "lab.yaml"
    f.write_text(text)
    return load_scenario(str(f))


def _problems(text: str, tmp_path: Path) -> list[str]:
    """Every problem of the scenario, from loading it and composing it on the small model."""
    try:
        sc = _scenario("name: x\nmodel: small\n" + text, tmp_path)
        compose(sc, SMALL, "lab.yaml")
    except ModelError as exc:
        return [str(p).replace(f"{tmp_path}/", "") for p in exc.problems]
    return []


# --- offsets --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (0, 0.0),
        (90, 90.0),
        (2.5, 2.5),
        ("90", 90.0),
        ("+90", 90.0),
        ("+90s", 90.0),
        ("2m", 120.0),
        ("1m30s", 90.0),
        ("+1h", 3600.0),
        ("500ms", 0.5),
        ("1.5s", 1.5),
        ("1h2m3s", 3723.0),
    ],
)
def test_offsets_are_seconds_or_durations(text: Any, seconds: float) -> None:
    assert parse_offset(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text", ["", "+", "soon", "-5s", -1, "5x", "30s1m", "m", "1 m", True, None, [5], "8d", 10**9]
)
def test_anything_else_is_not_an_offset(text: Any) -> None:
    assert parse_offset(text) is None


def test_offsets_are_shown_the_way_people_write_them() -> None:
    assert [format_offset(s) for s in (5, 2.5, 60, 90, 0)] == ["+5s", "+2.5s", "+1m", "+1m30s", "+0s"]


# --- the scenario's timeline ----------------------------------------------------------------------
def test_a_timeline_is_read_with_every_default(tmp_path: Path) -> None:
    sc = _scenario(
        "name: x\ntimeline:\n  - {at: +1m30s, do: links.cut, with: {link: core1--core2}}\n"
        "  - {at: 5, do: links.restore}\n",
        tmp_path,
    )
    assert sc["timeline"] == [
        {"at": 90.0, "do": "links.cut", "with": {"link": "core1--core2"}},
        {"at": 5.0, "do": "links.restore", "with": {}},
    ]
    assert sc["seed"] == 1 and sc["expectations"] == []
    assert _scenario("name: x\n", tmp_path)["timeline"] == []


def test_structural_mistakes_name_the_entry_and_field(tmp_path: Path) -> None:
    got = _problems(
        "timeline:\n"
        "  - {at: soon, do: links.cut, with: {link: core1--core2}}\n"
        "  - {at: 5, do: cut}\n"
        "  - {do: links.cut, when: 5, with: {link: core1--core2}}\n"
        "  - {at: 5, do: links.cut, with: [core1--core2]}\n"
        "  - links.cut\n",
        tmp_path,
    )
    assert got == [
        "lab.yaml: timeline[0].at: is not an offset (got 'soon'); give seconds (90) or a duration like "
        "'+90s', '2m', '1m30s', '1h', '500ms'",
        "lab.yaml: timeline[1].do: must be PART.ACTION (got 'cut'); e.g. links.cut, firewall.crash, "
        "traffic.restart",
        "lab.yaml: timeline[2].when: unknown field (got 'when'); allowed fields: at, do, with",
        "lab.yaml: timeline[2].at: is required; add 'at:'",
        "lab.yaml: timeline[3].with: must be a mapping of argument names to values (got ['core1--core2']); "
        "e.g. with: {link: core1--core2}",
        "lab.yaml: timeline[4]: must be a mapping, not str (got 'links.cut'); write key: value pairs",
    ]


def test_the_timeline_must_be_a_list(tmp_path: Path) -> None:
    assert _problems("timeline: {at: 5, do: links.cut}\n", tmp_path) == [
        "lab.yaml: timeline: must be a list of {at, do, with} entries (got {'at': 5, 'do': 'links.cut'}); "
        "e.g. - {at: +5s, do: links.cut}"
    ]


def test_actions_are_checked_against_the_parts_the_lab_composes(tmp_path: Path) -> None:
    got = _problems(
        "timeline:\n"
        "  - {at: 1, do: links.snip, with: {link: core1--core2}}\n"
        "  - {at: 2, do: traffic.restart, with: {service: oa}}\n"  # no traffic section: not in this lab
        "  - {at: 3, do: routers.reload}\n"
        "  - {at: 4, do: links.cut, with: {lnk: core1--core2}}\n"
        "  - {at: 5, do: links.restore}\n"
        "  - {at: 6, do: firewall.crash, with: {member: fw-a}}\n",  # fine: the small model has a pair
        tmp_path,
    )
    verbs = (
        "links.cut, links.restore, monitor.store_stop, monitor.store_start, "
        "firewall.crash, firewall.restore, firewall.drain, firewall.add"
    )
    assert got == [
        "lab.yaml: timeline[0].do: 'links' has no action 'snip' (got 'links.snip'); "
        "use one of: links.cut, links.restore",
        "lab.yaml: timeline[1].do: the part 'traffic' is not in this lab (add its section to the scenario) "
        f"(got 'traffic.restart'); use one of: {verbs}",
        f"lab.yaml: timeline[2].do: no such part in this lab (got 'routers.reload'); use one of: {verbs}",
        "lab.yaml: timeline[3].with.lnk: unknown argument (got 'lnk'); links.cut takes: link",
        "lab.yaml: timeline[3].with: links.cut needs 'link'; links.cut takes: link",
        "lab.yaml: timeline[4].with: links.restore needs 'link'; links.restore takes: link",
    ]


def test_argument_values_are_checked_against_the_model(tmp_path: Path) -> None:
    got = _problems(
        "timeline:\n"
        "  - {at: 1, do: links.cut, with: {link: core1--core9}}\n"
        "  - {at: 2, do: links.cut, with: {link: nowhere}}\n"
        "  - {at: 3, do: firewall.crash, with: {member: fw-c}}\n"
        "  - {at: 4, do: links.restore, with: {link: core2--core3}}\n",  # fine
        tmp_path,
    )
    assert got == [
        "lab.yaml: timeline[0].with.link: no such link in model small (got 'core1--core9'); "
        "did you mean 'core1--core2'?",
        "lab.yaml: timeline[1].with.link: no such link in model small (got 'nowhere'); "
        "see 'govnet topo show' for the link names",
        "lab.yaml: timeline[2].with.member: is not a member of the firewall pair (got 'fw-c'); "
        "use one of: fw-a, fw-b",
    ]


def test_the_scenario_seed_becomes_the_traffics_unless_it_has_its_own(tmp_path: Path) -> None:
    sc = _scenario("name: x\nseed: 42\ntraffic: {hours: 1}\n", tmp_path)
    assert sc["seed"] == 42 and sc["traffic"].config.seed == 42
    sc = _scenario("name: x\nseed: 42\ntraffic: {hours: 1, seed: 7}\n", tmp_path)
    assert sc["seed"] == 42 and sc["traffic"].config.seed == 7
    with pytest.raises(ModelError, match=r"lab.yaml: seed: must be a whole number, not str"):
        _scenario("name: x\nseed: one\n", tmp_path)


@pytest.mark.parametrize("name", ["ring-cut-and-heal", "fw-crash-at-peak"])
def test_the_bundled_timeline_scenarios_compose_offline(name: str) -> None:
    sc = load_scenario(name)
    keys = {p.key for p in compose(sc, load_model(sc["model"]), name)}
    assert {"links", "probe", "traffic"} <= keys
    assert sc["timeline"] and sc["expectations"]


def test_the_library_has_a_dozen_scenarios_each_with_a_purpose_and_expectations() -> None:
    """Every bundled scenario composes on its model before anything starts (hosts, links, members,
    actions and expectations all exist), says what it is in one line, and all but the three
    judged only by their parts' verdicts (smoke, workday, baseline) state expectations."""
    labs = dict(list_labs())
    assert len(labs) >= 12
    for name, line in labs.items():
        sc = load_scenario(name)
        compose(sc, load_model(sc["model"]), name)  # raises ModelError naming the problem
        assert line and "\n" not in line, name
        if name not in ("smoke", "workday", "baseline"):
            assert sc["expectations"], name
    attacks = [n for n in labs if "attacks" in {p.key for p in _parts(n)}]
    assert {"internet-port-scan", "password-guessing", "web-attack-on-portal", "emergency-drill"} <= set(
        attacks
    )


def _parts(name: str) -> list[Part]:
    sc = load_scenario(name)
    return compose(sc, load_model(sc["model"]), name)


# --- the scheduler --------------------------------------------------------------------------------
class FakeClock:
    """A monotonic clock that moves only when the scheduler waits (or a test says so)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.now += seconds
        return False


def _acts(*entries: tuple[float, str]) -> list[Action]:
    return actions_of([{"at": at, "do": do, "with": {}} for at, do in entries])


def test_actions_run_in_offset_order_with_ties_in_file_order() -> None:
    acts = _acts((10, "links.cut"), (0, "firewall.crash"), (10, "links.restore"), (2.5, "traffic.restart"))
    assert [(a.index, a.do) for a in acts] == [
        (1, "firewall.crash"),
        (3, "traffic.restart"),
        (0, "links.cut"),
        (2, "links.restore"),
    ]


def test_the_scheduler_runs_each_action_at_or_after_its_offset() -> None:
    clock = FakeClock()
    seen: list[tuple[str, float]] = []
    tl = Timeline(
        _acts((5, "links.cut"), (15, "links.restore"), (15, "probe.note")),
        lambda a: seen.append((a.do, clock())),
        clock=clock,
        wait=clock.wait,
    )
    tl.run()
    assert [d for d, _t in seen] == ["links.cut", "links.restore", "probe.note"]
    for (_d, t), a in zip(seen, tl.actions, strict=True):
        assert a.executed is not None and a.executed >= a.at and t - 1000.0 == a.executed
    recs = tl.records()
    assert [r["state"] for r in recs] == ["done"] * 3 and all(r["ok"] and r["error"] == "" for r in recs)
    assert recs[0] == {
        "index": 0,
        "do": "links.cut",
        "with": {},
        "planned_s": 5.0,
        "executed_s": 5.0,
        "state": "done",
        "ok": True,
        "error": "",
    }


def test_a_late_clock_runs_an_overdue_action_at_once() -> None:
    clock = FakeClock()

    def slow(a: Action) -> None:
        clock.now += 20  # the first action takes longer than the gap to the next one

    tl = Timeline(_acts((1, "a.x"), (5, "b.y")), slow, clock=clock, wait=clock.wait)
    tl.run()
    assert [a.executed for a in tl.actions] == [1.0, 21.0]  # executed >= planned, never earlier
    assert clock.waits == [1.0]


def test_a_failed_action_is_recorded_and_the_next_ones_still_run() -> None:
    clock = FakeClock()

    def act(a: Action) -> None:
        if a.do == "links.cut":
            raise KeyError("no link named 'core9--core1' in model small")

    tl = Timeline(_acts((1, "links.cut"), (2, "links.restore")), act, clock=clock, wait=clock.wait)
    tl.run()
    first, second = tl.records()
    assert first["state"] == "failed" and not first["ok"]
    assert first["error"] == "KeyError: \"no link named 'core9--core1' in model small\""
    assert second["state"] == "done"
    assert tl.actions[0].text() == (
        "timeline[0] +1s links.cut: failed: KeyError: \"no link named 'core9--core1' in model small\""
    )


def test_stopping_records_the_actions_not_yet_due_with_the_reason() -> None:
    clock = FakeClock()
    tl: Timeline

    def act(a: Action) -> None:
        tl.stop("interrupted (Ctrl-C)")

    tl = Timeline(
        _acts((1, "links.cut"), (9, "links.restore"), (9, "x.y")), act, clock=clock, wait=clock.wait
    )
    tl.run()
    recs = tl.records()
    assert [r["state"] for r in recs] == ["done", "not run", "not run"]
    assert recs[1]["error"] == "interrupted (Ctrl-C)" and recs[1]["executed_s"] is None and not recs[1]["ok"]
    assert tl.actions[1].text() == "timeline[1] +9s links.restore: not run: interrupted (Ctrl-C)"


def test_the_thread_is_a_daemon_and_stops_at_once_however_far_the_next_action() -> None:
    ran: list[str] = []
    tl = Timeline(_acts((0, "a.now"), (3600, "b.later")), lambda a: ran.append(a.do))
    tl.start()
    assert tl._thread is not None and tl._thread.daemon
    pause = threading.Event()
    for _ in range(500):  # the first action is due at once; give its thread up to 5 s to run it
        if ran:
            break
        pause.wait(0.01)
    tl.stop("the lab stopped before it was due", join_s=5)
    assert not tl.alive()
    assert [r["state"] for r in tl.records()] == ["done", "not run"]
    assert tl.records()[1]["error"] == "the lab stopped before it was due"
    tl.stop("again")  # idempotent: the first reason stays
    assert tl.records()[1]["error"] == "the lab stopped before it was due"


# --- in the engine --------------------------------------------------------------------------------
class _Actor(Part):
    """A part with a start step, a run step and two actions; records what happened, in order."""

    key = "actor"
    steps = ((10, "start"), (20, "run"), (30, "stop"))

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.calls: list[str] = []
        self.hook: Callable[[], None] = lambda: None

    def start(self, ctx: LabContext) -> None:
        self.calls.append("start")
        super().start(ctx)

    def run(self, ctx: LabContext) -> None:
        self.calls.append("run")
        self.hook()
        if self.config == "fail-run":
            raise RuntimeError("the day did not play")

    def stop(self) -> None:
        self.calls.append("stop")
        super().stop()

    def poke(self, what: str = "x") -> str:
        self.calls.append(f"poke {what}")
        return what

    def fail(self) -> None:
        raise RuntimeError("it broke")

    def actions(self) -> Mapping[str, Callable[..., Any]]:
        return {"poke": self.poke, "fail": self.fail}


class _NoEmu:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    def start(self) -> None: ...

    def stop(self) -> None: ...


def _lab(
    tmp_path: Path, timeline: list[dict[str, Any]], config: str = "", **extra: Any
) -> tuple[Lab, _Actor]:
    caps = Capabilities(root=False, results={}, tools={})
    part = _Actor(config)
    scenario = {"name": "t", "seed": 1, "timeline": timeline, **extra}
    lab = Lab(SMALL, tmp_path, scenario, [part], log=lambda _m: None, caps=caps)
    lab.emu = _NoEmu()  # type: ignore[assignment]
    return lab, part


def test_the_engine_starts_the_timeline_after_the_start_steps_and_waits_before_the_stop_steps(
    tmp_path: Path,
) -> None:
    lab, part = _lab(
        tmp_path,
        [{"at": 0, "do": "actor.poke", "with": {"what": "a"}}, {"at": 0.05, "do": "actor.poke", "with": {}}],
    )
    with lab:
        assert lab.run_programme()
    assert part.calls[0] == "start" and part.calls[-1] == "stop"
    assert sorted(part.calls[1:-1]) == ["poke a", "poke x", "run"]  # the actions and the run overlap
    assert part.calls.index("poke a") < part.calls.index("poke x")
    recs = lab.timeline.records()
    assert [r["state"] for r in recs] == ["done", "done"]
    assert all(r["executed_s"] >= r["planned_s"] for r in recs)
    done = [e.subject for e in lab.bus.events if e.kind == "action.done"]
    assert done == ["poke what=a", "poke"]
    assert lab.ok()


def test_a_failed_timeline_action_is_an_action_failed_event_and_fails_the_lab(tmp_path: Path) -> None:
    lab, _part = _lab(tmp_path, [{"at": 0, "do": "actor.fail", "with": {}}])
    with lab:
        assert lab.run_programme()  # the programme itself went on
    failed = [e for e in lab.bus.events if e.kind == "action.failed"]
    assert [e.subject for e in failed] == ["fail: RuntimeError: it broke"]
    assert lab.timeline.records()[0]["state"] == "failed"
    assert not lab.ok()
    assert "timeline[0] +0s actor.fail: failed: RuntimeError: it broke" in lab.why()


def test_a_failed_step_stops_the_timeline_and_records_what_did_not_run(tmp_path: Path) -> None:
    lab, part = _lab(tmp_path, [{"at": 3600, "do": "actor.poke", "with": {}}], config="fail-run")
    with lab:
        assert not lab.run_programme()
    rec = lab.timeline.records()[0]
    assert rec["state"] == "not run" and rec["executed_s"] is None
    assert rec["error"] == "the programme ended early (a step failed or the lab was interrupted)"
    assert not lab.timeline.alive() and "poke x" not in part.calls
    assert not lab.ok()


def test_an_interrupt_tears_down_and_leaves_no_timeline_thread(tmp_path: Path) -> None:
    lab, part = _lab(tmp_path, [{"at": 3600, "do": "actor.poke", "with": {}}])

    def interrupt() -> None:
        raise KeyboardInterrupt

    part.hook = interrupt
    with pytest.raises(KeyboardInterrupt), lab:
        lab.run_programme()
    assert part.calls == ["start", "run", "stop"]
    assert not lab.timeline.alive()
    assert lab.timeline.records()[0]["state"] == "not run"


def test_results_json_gains_seed_timeline_and_expectations(tmp_path: Path) -> None:
    lab, _part = _lab(
        tmp_path,
        [{"at": 0, "do": "actor.poke", "with": {}}],
        expectations=[{"kind": "no_event", "name": "", "event": "action.failed", "subject": ""}],
    )
    with lab:
        lab.run_programme()
    lab.evaluate()
    report = write_report(lab, dict(lab.scenario), 1.0, lab.ok())
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["schema_version"] == 3 and doc["seed"] == 1 and doc["ok"] is True
    assert isinstance(doc["timeline_t0"], float)  # the pictures put the actions on wall time
    assert [r["do"] for r in doc["timeline"]] == ["actor.poke"]
    assert doc["expectations"] == [
        {
            "name": "no action.failed",
            "kind": "no_event",
            "expected": 0,
            "measured": 0,
            "ok": True,
            "text": "no action.failed event, expected none",
        }
    ]
    text = report.read_text()
    assert "## Timeline" in text and "- timeline[0] +0s actor.poke: done at +" in text
    assert "| no action.failed | ok | no action.failed event, expected none |" in text
