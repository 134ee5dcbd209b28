"""The lab engine: compose the parts a scenario names, run the programme, derive the verdict.

`Lab` owns one emulated network and the parts on it. `run_programme()` walks the parts' steps in
order (start, run, stop; a part with no start step is started before its first run), with `extra`
steps (a timeline's actions) merged in by order; then every started part is stopped in reverse
order whatever happened, then the network. A step that raises ends the programme: the part is
marked failed, a `part.failed` event says why, and the rest is still torn down. The lab is ok only
when nothing failed, every part's verdict is ok and no event of a failing kind was emitted.
A scenario's timeline (labs/timeline.py) starts when the programme's last start step is done and
runs in a thread of its own while the blocking steps go on; the programme waits for it before its
first stop step. After the run the expectations (labs/expect.py) are evaluated; a failed one fails
the lab. `topo up` is the same engine with a smaller set of parts and no programme.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govnet.errors import ModelError, NotRootError
from govnet.events import Event
from govnet.rundir import create_run_dir
from govnet.signals import interrupts_on_signals
from labs.evaluate import Facts, Seen, evaluate
from labs.expect import expectation_problems
from labs.parts import PARTS, EventBus, LabContext, Part, Verdict
from labs.report import jsonable, write_report
from labs.runrecord import begin_run, end_run
from labs.scenario import load_scenario, scenario_path
from labs.slim import slim_run
from labs.timeline import Action, Timeline, actions_of, format_offset, timeline_problems
from topology import dump_model_yaml, load_model
from topology.emulator import Capabilities, Emulation, detect
from topology.model import Network


@dataclass(frozen=True)
class Step:
    """At `order` in the programme, call `verb` on the part named `part` (start, run, stop, or one of
    its actions with `args`)."""

    order: float
    part: str
    verb: str
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class LabResult:
    ok: bool
    run_dir: Path
    report: Path
    summary: str


def compose(
    scenario: Mapping[str, Any], net: Network, source: str = "", only: Iterable[str] | None = None
) -> list[Part]:
    """The parts this scenario enables on this model (or just those named in `only`); their
    configurations are checked against the model here, before anything starts (`source` names the
    scenario file in messages)."""
    keys = list(only) if only is not None else [k for k, cls in PARTS.items() if cls.wanted(scenario, net)]
    parts = [PARTS[k](scenario.get(k, PARTS[k].default())) for k in keys]
    where = source or str(scenario.get("name", ""))
    problems = [p for part in parts for p in part.validate(net, where)]
    timeline = scenario.get("timeline") or []
    problems += timeline_problems(timeline, parts, where, known=PARTS, net=net)
    problems += expectation_problems(
        scenario.get("expectations") or [],
        timeline,
        [p.key for p in parts],
        scenario.get("checks") or [],
        where,
    )
    if problems:
        raise ModelError(problems)
    return parts


def programme(parts: list[Part], extra: Iterable[Step] = ()) -> list[Step]:
    steps = [Step(order, p.key, verb) for p in parts for order, verb in p.steps]
    return sorted([*steps, *extra], key=lambda s: s.order)


class Lab:
    """One emulated network and the parts running on it (a context manager)."""

    def __init__(
        self,
        net: Network,
        run: Path,
        scenario: Mapping[str, Any],
        parts: list[Part],
        *,
        log: Callable[[str], None] = print,
        caps: Capabilities | None = None,
    ) -> None:
        self.net, self.run, self.scenario, self.log = net, run, scenario, log
        self.parts = {p.key: p for p in parts}
        self.caps = caps or detect()
        self.emu = Emulation(net, run, log=log, caps=self.caps)
        self.bus = EventBus(run / "events.json", log)
        self.ctx = LabContext(self.emu, net, run, scenario, self.bus, log)
        self.started: list[Part] = []
        self.error = ""
        self.timings: dict[str, float] = {}
        self._lock = threading.Lock()  # the timeline's thread starts parts too
        self.timeline = Timeline(actions_of(scenario.get("timeline") or []), self._timeline_action)
        self.outcomes: list[dict[str, Any]] = []  # the expectations' records, after evaluate()
        self.phase = "network up"  # what the programme does now, for a status line (labs/progress.py)

    # lifecycle -----------------------------------------------------------------------------------
    def __enter__(self) -> Lab:
        try:
            self.emu.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def start_part(self, part: Part) -> None:
        with self._lock:
            if part in self.started:
                return
            self.started.append(part)  # before start(): a half-started part is stopped too
        part.start(self.ctx)
        self.bus.emit(Event(part.key, "part.started", part.key))

    def stop_part(self, part: Part) -> None:
        with self._lock:
            if part not in self.started:
                return
            self.started.remove(part)
        try:
            part.stop()
            self.bus.emit(Event(part.key, "part.stopped", part.key))
        except Exception as exc:
            self._failed(part, "stop", exc)

    def close(self) -> None:
        """Stop the timeline (actions not yet due are recorded as not run), every started part in
        reverse order, then the network (idempotent; a second Ctrl-C while the timeline's running
        action finishes still tears everything down)."""
        try:
            self.timeline.stop("the lab stopped before it was due", join_s=5.0)
        finally:
            try:
                for part in reversed(list(self.started)):
                    self.stop_part(part)
            finally:
                try:
                    self.emu.stop()
                finally:
                    self.timings = dict(self.emu.timings)
                    self.bus.close()

    # programme -----------------------------------------------------------------------------------
    def do(self, step: Step) -> Any:
        part = self.parts.get(step.part)
        if part is None:
            raise ModelError([])  # compose() checked the names; unreachable for bundled programmes
        if step.verb == "start":
            return self.start_part(part)
        if step.verb == "stop":
            return self.stop_part(part)
        self.start_part(part)
        if step.verb == "run":
            return part.run(self.ctx)
        what = " ".join([step.verb, *(f"{k}={v}" for k, v in step.args.items())])
        try:
            result = part.actions()[step.verb](**step.args)
        except Exception as exc:
            self.bus.emit(Event(part.key, "action.failed", f"{what}: {type(exc).__name__}: {exc}"[:300]))
            raise
        self.bus.emit(Event(part.key, "action.done", what))
        return result

    def _timeline_action(self, act: Action) -> Any:
        args = "".join(f" {k}={v}" for k, v in act.args.items())
        self.log(f"timeline {format_offset(act.at)}: {act.do}{args}")
        return self.do(Step(act.at, act.part, act.verb, act.args))

    def run_programme(self, extra: Iterable[Step] = ()) -> bool:
        """Every step in order; False (and `error` set) when one raised. The timeline starts after
        the last start step; the programme waits for it before the first stop step after that."""
        steps = programme(list(self.parts.values()), extra)
        starts = [i for i, s in enumerate(steps) if s.verb == "start"]
        t0 = starts[-1] if starts else -1
        join = next((i for i, s in enumerate(steps) if i > t0 and s.verb == "stop"), len(steps))
        if t0 < 0 and self.timeline:
            self.timeline.start()
        try:
            for i, step in enumerate(steps):
                if i == join and self.timeline:
                    self._finish_timeline()
                self.phase = f"{step.part} {step.verb}"
                try:
                    self.do(step)
                except Exception as exc:
                    self._failed(self.parts[step.part], step.verb, exc)
                    return False
                if i == t0 and self.timeline:
                    self.timeline.start()
            if join == len(steps) and self.timeline:
                self._finish_timeline()
        finally:
            reason = "the programme ended early (a step failed or the lab was interrupted)"
            self.timeline.stop(reason, join_s=10.0)
            self.phase = "tearing down"
        return True

    def _finish_timeline(self) -> None:
        if self.timeline.alive():
            last = self.timeline.actions[-1].at
            self.log(f"timeline: waiting for its last action (due at {format_offset(last)})")
            self.phase = "timeline"
            self.timeline.wait_done()

    def _failed(self, part: Part, verb: str, exc: Exception) -> None:
        text = f"{type(exc).__name__}: {exc}"
        part.error = part.error or f"{verb}: {text}"
        part.state = "failed"
        self.error = self.error or f"{part.key} {verb} failed: {text}"
        self.bus.emit(Event(part.key, "part.failed", f"{verb}: {text}"[:300]))

    # results -------------------------------------------------------------------------------------
    def verdicts(self) -> dict[str, Verdict]:
        return {k: p.verdict() for k, p in self.parts.items()}

    def ok(self) -> bool:
        return (
            not self.error
            and all(v.ok for v in self.verdicts().values())
            and not any(e.fails_lab for e in self.bus.events)
            and all(a.ok for a in self.timeline.actions)
            and all(o["ok"] for o in self.outcomes)
        )

    def evaluate(self) -> list[dict[str, Any]]:
        """The expectations' records, from this run's events, results and timeline (after close())."""
        top, metrics = self.results()
        seen = [Seen(e.kind, e.subject, self.timeline.offset(e.mono), e.detail) for e in self.bus.events]
        facts = Facts(seen, metrics, top.get("checks"), self.timeline.records())
        self.outcomes = evaluate(self.scenario.get("expectations") or [], facts)
        return self.outcomes

    def why(self) -> list[str]:
        """Why the lab failed, one line per reason: parts, timeline actions, expectations."""
        out = [f"{k}: {r}" for k, v in self.verdicts().items() for r in v.reasons]
        out += [a.text() for a in self.timeline.actions if not a.ok]
        out += [f"expectation {o['name']}: {o['text']}" for o in self.outcomes if not o["ok"]]
        return out

    def results(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(top-level entries, the metrics section) of results.json, from every part's summary."""
        top: dict[str, Any] = {}
        metrics: dict[str, Any] = {}
        for p in sorted(self.parts.values(), key=lambda p: len(p.result_path)):  # parents first
            s = p.summary()
            if s is None:
                continue
            if p.result_top:
                top[p.result_top] = s
            elif not p.result_path:
                metrics.update(s)
            elif len(p.result_path) == 1:
                metrics[p.result_path[0]] = s
            else:
                parent = metrics.get(p.result_path[0])
                if isinstance(parent, dict):
                    parent[p.result_path[1]] = s
        return top, metrics


def run_lab(
    name: str,
    model: str | None = None,
    log: Callable[[str], None] = print,
    watch: Callable[[Lab], AbstractContextManager[Any]] | None = None,
    keep_raw: bool = False,
) -> LabResult:
    """Run a scenario end to end; `watch(lab)` (e.g. labs.progress.live_status) is entered while the
    network is up and left after it is torn down. Without `keep_raw` the run's raw data (attachment
    bodies, the off-site copy) is removed once the reports are written (labs/slim.py)."""
    scenario = load_scenario(name)
    net = load_model(model or scenario["model"])  # bad input fails here, before anything starts
    parts = compose(scenario, net, str(scenario_path(name)))
    if os.geteuid() != 0:
        raise NotRootError("labs build an emulated network and need root: run 'sudo govnet lab run ...'")
    run = create_run_dir(scenario["name"])
    record = begin_run(run, scenario, net.name)  # run.json: "running" until end_run (or the CLI) ends it
    (run / "scenario.json").write_text(json.dumps(scenario, indent=1, default=jsonable) + "\n")
    (run / "model.yaml").write_text(dump_model_yaml(net))
    log(f"run directory {run}")
    t0 = time.monotonic()
    lab = Lab(net, run, scenario, parts, log=log)
    try:
        with interrupts_on_signals(), watch(lab) if watch is not None else nullcontext(), lab:
            log(
                f"network up in {lab.emu.timings['up_s']:.1f} s; "
                f"running checks: {', '.join(scenario['checks'])}"
            )
            lab.run_programme()
    except Exception as exc:
        if isinstance(exc, ModelError):
            raise
        lab.error = lab.error or f"{type(exc).__name__}: {exc}"
    lab.evaluate()
    ok = lab.ok()
    report_path = write_report(lab, scenario, time.monotonic() - t0, ok)
    report = getattr(lab.parts.get("checks"), "report", None)
    table = report.table() if report is not None else ""
    reasons = lab.why()
    summary = (
        f"lab {scenario['name']}: {'PASSED' if ok else 'FAILED'}"
        + (f" — {lab.error}" if lab.error else "")
        + "".join(f"\n  why: {r}" for r in reasons if r != lab.error and not ok)
        + (f"\n{table}" if table else "")
    )
    if not keep_raw:
        slim_run(run)
    end_run(run, record, "passed" if ok else "failed", 0 if ok else 1)
    return LabResult(ok, run, report_path, summary)
