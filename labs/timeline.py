"""A lab's timeline: `{at, do: part.action, with}` entries checked before anything starts, then run
on a monotonic clock in a thread of their own while the programme's blocking steps go on.

The clock's zero is the moment the programme's last start step is done. Each action goes through
the caller's `run_action` (the engine's `Lab.do`, so part actions and their `action.done` /
`action.failed` events are the programme's own); every entry ends as a record: planned and executed
offset, ok, error. Stopping the timeline early (a failed step, Ctrl-C) records the actions not yet due
as not run, with the reason. The thread is a daemon and waits on a stop event, never on a plain sleep.
"""

from __future__ import annotations

import inspect
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from govnet.errors import Problem
from labs.parts import Part
from topology.model import Network
from topology.schema import MISSING, REQUIRED, Checker_, described, json_schema_of, obj

_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_OFFSET_RE = re.compile(r"^\+?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?$")
_PLAIN_RE = re.compile(r"^\+?\d+(?:\.\d+)?$")
OFFSET_PATTERN = r"^\+?(\d+(\.\d+)?|(\d+(\.\d+)?h)?(\d+(\.\d+)?m)?(\d+(\.\d+)?s)?(\d+ms)?)$"
OFFSET_FIX = "give seconds (90) or a duration like '+90s', '2m', '1m30s', '1h', '500ms'"
MAX_OFFSET_S = 7 * 24 * 3600.0
DO_RE = re.compile(r"^([a-z][a-z0-9_-]*)\.([a-z][a-z0-9_]*)$")
ARG_RE = re.compile(r"^[a-z_][a-z0-9_]*$")


def parse_offset(value: Any) -> float | None:
    """Seconds from the timeline's zero: a number >= 0, or text such as "+90s", "2m", "1m30s",
    "1h", "500ms", "90"; None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if 0 <= value <= MAX_OFFSET_S else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _PLAIN_RE.match(text):
        seconds = float(text.lstrip("+"))
    else:
        m = _OFFSET_RE.match(text)
        if m is None or not any(m.groups()):
            return None
        seconds = sum(float(g) * u for g, u in zip(m.groups(), _UNIT_S.values(), strict=True) if g)
    return seconds if seconds <= MAX_OFFSET_S else None


def format_offset(seconds: float) -> str:
    """'+5s', '+1m30s', '+2.5s' (the way a timeline entry is shown to people)."""
    if seconds >= 60 and float(seconds).is_integer():
        m, s = divmod(int(seconds), 60)
        return f"+{m}m{s}s" if s else f"+{m}m"
    return f"+{seconds:g}s"


@described(
    {
        "anyOf": [
            {"type": "number", "minimum": 0, "maximum": MAX_OFFSET_S},
            {"type": "string", "pattern": OFFSET_PATTERN},
        ],
        "description": "seconds after the programme's start steps (90, '+90s', '2m', '1m30s')",
    }
)
def offset_field(v: Checker_, value: Any, path: str) -> Any:
    seconds = parse_offset(value)
    if seconds is None:
        v.err(path, "is not an offset", value, OFFSET_FIX)
        return MISSING
    return seconds


@described(
    {
        "type": "string",
        "pattern": DO_RE.pattern,
        "description": "PART.ACTION, e.g. links.cut or firewall.crash (govnet lab schema: parts)",
    }
)
def do_field(v: Checker_, value: Any, path: str) -> Any:
    if not isinstance(value, str) or not DO_RE.match(value):
        v.err(path, "must be PART.ACTION", value, "e.g. links.cut, firewall.crash, traffic.restart")
        return MISSING
    return value


@described(
    {"type": "object", "propertyNames": {"pattern": ARG_RE.pattern}, "description": "the action's arguments"}
)
def args_field(v: Checker_, value: Any, path: str) -> Any:
    if not isinstance(value, dict):
        v.err(path, "must be a mapping of argument names to values", value, "e.g. with: {link: core1--core2}")
        return MISSING
    for k in value:
        if not isinstance(k, str) or not ARG_RE.match(k):
            v.err(f"{path}.{k}", "is not an argument name", k, "use lower-case words joined by '_'")
    return dict(value)


ENTRY = obj({"at": (offset_field, REQUIRED), "do": (do_field, REQUIRED), "with": (args_field, dict)})


def _timeline_check(v: Checker_, value: Any, path: str) -> Any:
    if not isinstance(value, list):
        v.err(path, "must be a list of {at, do, with} entries", value, "e.g. - {at: +5s, do: links.cut}")
        return MISSING
    out = []
    for i, entry in enumerate(value):
        before = len(v.problems)
        r = ENTRY(v, entry, f"{path}[{i}]")
        out.append(r if len(v.problems) == before else None)  # keep indexes: expectations name them
    return out


timeline_field = described(
    {
        "type": "array",
        "items": json_schema_of(ENTRY),
        "description": "actions at offsets from the end of the start steps: {at, do: PART.ACTION, with}",
    }
)(_timeline_check)


# --- against the composed parts ------------------------------------------------------------------
def action_params(fn: Callable[..., Any]) -> tuple[list[str], list[str]]:
    """(every argument name, the required ones) of an action."""
    names, required = [], []
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        names.append(p.name)
        if p.default is p.empty:
            required.append(p.name)
    return names, required


def verbs(parts: Iterable[Part]) -> list[str]:
    """Every PART.ACTION these parts offer, in part order."""
    return [f"{p.key}.{a}" for p in parts for a in p.actions()]


def timeline_problems(
    timeline: Sequence[Mapping[str, Any] | None],
    parts: Sequence[Part],
    source: str,
    known: Iterable[str] = (),
    net: Network | None = None,
) -> list[Problem]:
    """Problems of the timeline against the parts the scenario composes: the part must be one of
    them, the action one of its actions, the arguments its parameter names and (with `net`) their
    values what the part accepts on this model. `known` names registered parts that are not in
    this lab (for a better fix)."""
    by_key = {p.key: p for p in parts}
    offered = verbs(parts)
    problems = []
    for i, entry in enumerate(timeline):
        if entry is None:
            continue
        where = f"timeline[{i}]"
        part_key, _, verb = str(entry["do"]).partition(".")
        part = by_key.get(part_key)
        if part is None:
            fix = f"use one of: {', '.join(offered)}" if offered else "this lab has no part with actions"
            msg = (
                f"the part '{part_key}' is not in this lab (add its section to the scenario)"
                if part_key in set(known)
                else "no such part in this lab"
            )
            problems.append(Problem(source, f"{where}.do", msg, entry["do"], fix))
            continue
        acts = part.actions()
        if verb not in acts:
            own = [f"{part_key}.{a}" for a in acts]
            fix = (
                f"use one of: {', '.join(own)}"
                if own
                else f"'{part_key}' has no actions; use one of: {', '.join(offered)}"
            )
            problems.append(
                Problem(source, f"{where}.do", f"'{part_key}' has no action '{verb}'", entry["do"], fix)
            )
            continue
        names, required = action_params(acts[verb])
        takes = f"{entry['do']} takes: {', '.join(names)}" if names else f"{entry['do']} takes no arguments"
        for k in entry["with"]:
            if k not in names:
                problems.append(Problem(source, f"{where}.with.{k}", "unknown argument", k, takes))
        for k in required:
            if k not in entry["with"]:
                problems.append(
                    Problem(source, f"{where}.with", f"{entry['do']} needs '{k}'", has_value=False, fix=takes)
                )
        if net is not None:
            for bad in part.action_problems(verb, entry["with"], net):
                problems.append(
                    Problem(source, f"{where}.with.{bad.argument}", bad.message, bad.got, bad.fix)
                )
    return problems


# --- the scheduler -------------------------------------------------------------------------------
@dataclass
class Action:
    """One timeline entry and what became of it."""

    index: int  # its place in the scenario file (timeline[index])
    at: float  # planned offset, s
    do: str  # PART.ACTION
    args: dict[str, Any] = field(default_factory=dict)
    state: str = "pending"  # pending | running | done | failed | not run
    executed: float | None = None  # actual offset, s
    error: str = ""

    @property
    def part(self) -> str:
        return self.do.partition(".")[0]

    @property
    def verb(self) -> str:
        return self.do.partition(".")[2]

    @property
    def ok(self) -> bool:
        return self.state == "done"

    def record(self) -> dict[str, Any]:
        """Its entry in results.json's `timeline`."""
        return {
            "index": self.index,
            "do": self.do,
            "with": dict(self.args),
            "planned_s": round(self.at, 3),
            "executed_s": None if self.executed is None else round(self.executed, 3),
            "state": self.state,
            "ok": self.ok,
            "error": self.error,
        }

    def text(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.args.items())
        what = f"timeline[{self.index}] {format_offset(self.at)} {self.do}" + (f" ({args})" if args else "")
        if self.state == "done":
            return f"{what}: done at {format_offset(round(self.executed or 0.0, 2))}"
        return f"{what}: {self.state}" + (f": {self.error}" if self.error else "")


def actions_of(timeline: Iterable[Mapping[str, Any] | None]) -> list[Action]:
    """The checked scenario's entries in the order they run: by offset, ties in file order."""
    acts = [
        Action(i, float(e["at"]), str(e["do"]), dict(e.get("with") or {}))
        for i, e in enumerate(timeline)
        if e is not None
    ]
    return sorted(acts, key=lambda a: (a.at, a.index))


class Timeline:
    """Runs actions at their offsets on a monotonic clock, in a daemon thread (`start`) or in the
    caller's (`run`, for tests). `clock` and `wait(seconds) -> stopped?` can be injected."""

    def __init__(
        self,
        actions: Iterable[Action],
        run_action: Callable[[Action], Any],
        *,
        clock: Callable[[], float] = time.monotonic,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        self.actions = sorted(actions, key=lambda a: (a.at, a.index))
        self.run_action = run_action
        self.clock = clock
        self.stopped = threading.Event()
        self._wait = wait or self.stopped.wait
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.reason = "the lab stopped before it was due"
        self.t0: float | None = None

    def __bool__(self) -> bool:
        return bool(self.actions)

    def start(self) -> None:
        """t = 0 now; the actions run in a daemon thread."""
        if self._thread is not None:
            return
        self.t0 = self.clock()
        self._thread = threading.Thread(target=self._loop, name="lab-timeline", daemon=True)
        self._thread.start()

    def run(self) -> None:
        """t = 0 now; every action in this thread (returns when all ran or the timeline was stopped)."""
        self.t0 = self.clock()
        self._loop()

    def _loop(self) -> None:
        assert self.t0 is not None
        for act in self.actions:
            while not self.stopped.is_set():
                delay = self.t0 + act.at - self.clock()
                if delay <= 0:
                    break
                if self._wait(delay):
                    break
            with self._lock:
                if self.stopped.is_set():
                    break
                act.state = "running"
            act.executed = self.clock() - self.t0
            try:
                self.run_action(act)
                state, error = "done", ""
            except Exception as exc:
                state, error = "failed", f"{type(exc).__name__}: {exc}"[:300]
            with self._lock:
                act.state, act.error = state, error
        self._mark_not_run()

    def _mark_not_run(self) -> None:
        with self._lock:
            for act in self.actions:
                if act.state == "pending":
                    act.state, act.error = "not run", self.reason
                elif act.state == "running" and self.stopped.is_set() and not self.alive():
                    act.state, act.error = "failed", "interrupted while running"

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait_done(self, poll_s: float = 0.2) -> None:
        """Block until every action ran (Ctrl-C still interrupts: the join polls)."""
        while self.alive():
            assert self._thread is not None
            self._thread.join(poll_s)

    def stop(self, reason: str = "", join_s: float = 30.0) -> None:
        """Actions not yet due will not run (recorded with `reason`); waits up to `join_s` for one
        that is running. Idempotent."""
        with self._lock:
            if reason and not self.stopped.is_set():
                self.reason = reason
            self.stopped.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(join_s)
        self._mark_not_run()
        with self._lock:  # an action still running after join_s: say so, whatever it does next
            for act in self.actions:
                if act.state == "running" and self.alive():
                    act.error = f"still running when the lab stopped ({reason or self.reason})"

    def offset(self, mono: float) -> float | None:
        """A monotonic time on the timeline clock (None before the clock started)."""
        return None if self.t0 is None else mono - self.t0

    def records(self) -> list[dict[str, Any]]:
        """Every action's record, in the order they were due."""
        with self._lock:
            return [a.record() for a in self.actions]
