"""The Part interface: what every component a lab runs implements, and what it is given.

A part is one class. It names the scenario key that enables it (`key`) and how to read that key's
value (`parse`, which reports bad input as `Problem`s before anything starts). The engine gives it a
`LabContext` — the emulated network, the run directory, the event bus and a small service board
on which parts publish what others may use (a metrics sink, device-CLI access, files to guard) —
so that parts know nothing of each other's classes. A part then:

- `start(ctx)`: starts on the emulated network; `stop()`: stops, idempotent, also after a failed
  or half-done start; `run(ctx)`: its job in the lab's programme (checks, a working day, a copy);
- `status()`: a typed `PartStatus`; `actions()`: named operations a timeline or an operator may call
  (crash a firewall member, cut a link, restart a service);
- emits `Event`s through `ctx.emit`, and gives its `verdict()` and its `summary()` (the JSON section
  of results.json at `result_path`) and `report_lines()` (its section of report.md).

`steps` places the part in the default programme: (order, verb) pairs, verbs start/run/stop; the
engine sorts every part's steps by order, starts a part before its first `run` if it has no start
step, and stops every started part in reverse order at the end whatever happened.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from govnet.errors import ModelError, Problem
from govnet.events import Event, EventLog
from govnet.metrics import Point
from topology.emulator.handle import EmulatorHandle
from topology.model import Network
from topology.schema import Checker_, bool_field, json_schema_of

Log = Callable[[str], None]


class EventBus:
    """Every event of a lab, in order: kept for the verdict and the report, appended to events.json."""

    def __init__(self, path: Path, log: Log) -> None:
        self.log_file = EventLog(path)
        self.events: list[Event] = []
        self._say = log
        self._lock = threading.Lock()

    def emit(self, ev: Event) -> None:
        with self._lock:
            self.events.append(ev)
        self.log_file.write(ev.record())
        if ev.severity != "info":
            self._say(ev.line())

    def close(self) -> None:
        self.log_file.close()


@dataclass
class LabContext:
    emu: EmulatorHandle
    net: Network
    run: Path
    scenario: Mapping[str, Any]
    bus: EventBus
    log: Log = print
    services: dict[str, Any] = field(default_factory=dict)

    def emit(self, ev: Event) -> None:
        self.bus.emit(ev)

    def write_points(self, points: Point | Iterable[Point]) -> None:
        """To the metrics store when a part publishes `metrics_sink` (monitoring), else dropped."""
        sink = self.services.get("metrics_sink")
        if sink is not None:
            sink(points)


@dataclass
class Verdict:
    ok: bool
    reasons: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "ok" if self.ok else "FAILED: " + "; ".join(self.reasons)


@dataclass
class PartStatus:
    name: str
    state: str  # idle | running | stopped | failed
    detail: dict[str, Any] = field(default_factory=dict)


def text_of(value: Any) -> str:
    """A value as a reader sees it in a report: a mapping as "a 1, b 2", a list comma-separated,
    nothing as "-", a float with at most 3 decimals — never a Python repr."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value == value else "-"
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {text_of(v)}" for k, v in value.items()) or "none"
    if isinstance(value, list | tuple | set):
        return ", ".join(text_of(v) for v in value) or "none"
    return str(value)


def parse_section(v: Checker_, value: Any, path: str, parser: Callable[[Any, str, str], Any]) -> Any:
    """A scenario section read by its domain's parser (`parser(value, source, path)`, which raises
    ModelError with file:line problems): None when the section is absent; its problems go to `v`, so
    that every problem of the scenario is said at once."""
    if value is None:
        return None
    try:
        return parser(value, v.source, path)
    except ModelError as exc:
        v.problems += exc.problems
        return None


@dataclass(frozen=True)
class ActionProblem:
    """One bad argument value of a timeline action: which argument, what is wrong, the fix."""

    argument: str
    message: str
    got: Any
    fix: str = ""


class Part:
    """Base class with the defaults; a part overrides what it does."""

    key: ClassVar[str]  # the scenario key that enables the part (and names it)
    steps: ClassVar[tuple[tuple[int, str], ...]] = ()
    result_path: ClassVar[tuple[str, ...]] = ()  # where summary() goes in results.json's metrics
    result_top: ClassVar[str] = ""  # or: a top-level key of results.json instead (checks)
    in_scenario: ClassVar[bool] = True  # False: always composed, no scenario key (links)

    def __init__(self, config: Any) -> None:
        self.config = config
        self.state = "idle"
        self.error = ""

    # scenario ------------------------------------------------------------------------------------
    @classmethod
    def parse(cls, v: Checker_, value: Any, path: str) -> Any:
        """The part's scenario value, checked; problems go to `v` (the default: true or false)."""
        return bool_field(v, value, path)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """The JSON Schema of the part's scenario value (for editors: `govnet lab schema`); a part
        that overrides `parse` overrides this too."""
        return json_schema_of(bool_field)

    @classmethod
    def wanted(cls, scenario: Mapping[str, Any], net: Network) -> bool:
        """Whether the (checked) scenario enables the part on this model: by default, its key's value."""
        return bool(scenario.get(cls.key))

    @classmethod
    def default(cls) -> Any:
        return None

    def validate(self, net: Network, source: str) -> list[Problem]:
        """Problems of this part's configuration against the model (names that must exist), found
        before anything starts."""
        return []

    # lifecycle -----------------------------------------------------------------------------------
    def start(self, ctx: LabContext) -> None:
        self.state = "running"

    def run(self, ctx: LabContext) -> None:
        return None

    def stop(self) -> None:
        if self.state == "running":
            self.state = "stopped"

    def status(self) -> PartStatus:
        return PartStatus(self.key, self.state, {"error": self.error} if self.error else {})

    def actions(self) -> Mapping[str, Callable[..., Any]]:
        """Named operations, each a method whose parameters are its arguments: a scenario's timeline
        calls them as `PART.ACTION` with `with: {ARGUMENT: VALUE}` (docs/parts.md)."""
        return {}

    def action_problems(self, verb: str, args: Mapping[str, Any], net: Network) -> list[ActionProblem]:
        """Problems of a timeline action's argument values against the model, found before anything
        starts (a link or member that does not exist); none by default."""
        return []

    # results -------------------------------------------------------------------------------------
    def verdict(self) -> Verdict:
        if self.error:
            return Verdict(False, [self.error])
        return Verdict(True)

    def summary(self) -> Any:
        return None

    def report_lines(self, metrics: Mapping[str, Any]) -> list[str]:
        """Its section of report.md, from results.json's `metrics` (so a report can be re-rendered)."""
        return []
