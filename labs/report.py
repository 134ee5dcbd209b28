"""A lab's results.json and report.md, from the parts' summaries, verdicts and the events; then the
pages built from those files: report.html (labs.html) and junit.xml (labs.junit)."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from labs import evaluate
from labs.html import write_html
from labs.junit import write_junit
from labs.parts import EventBus, Part, Verdict
from labs.timeline import Timeline
from topology.emulator import Capabilities
from topology.model import Network


class LabView(Protocol):
    """What a report reads of a lab (labs.engine.Lab is one): the report does not import the engine
    that calls it."""

    net: Network
    run: Path
    parts: dict[str, Part]
    caps: Capabilities
    bus: EventBus
    error: str
    timings: dict[str, float]

    scenario: Mapping[str, Any]
    timeline: Timeline
    outcomes: list[dict[str, Any]]  # the expectations' records

    def results(self) -> tuple[dict[str, Any], dict[str, Any]]: ...

    def verdicts(self) -> dict[str, Verdict]: ...

    def why(self) -> list[str]: ...


log = logging.getLogger("govnet.labs.report")

SCHEMA_VERSION = 3  # 3: seed, timeline, timeline_t0 and expectations
# the report's sections in this order; parts not listed follow in registry order
REPORT_ORDER = ("checks", "monitor", "firewall", "ids", "offsite", "validate", "traffic")


def jsonable(o: Any) -> Any:
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    return str(o)


def write_report(lab: LabView, scenario: dict[str, Any], total_s: float, ok: bool) -> Path:
    top, metrics = lab.results()
    verdicts = lab.verdicts()
    notable = [e for e in lab.bus.events if e.severity != "info"]
    results = {
        "schema_version": SCHEMA_VERSION,
        "ok": ok,
        "scenario": scenario,
        "model": lab.net.name,
        "timings_s": lab.timings,
        "error": lab.error,
        "checks": top.get("checks"),
        "total_s": total_s,
        "metrics": metrics,
        "parts": {
            k: {"state": p.state, "ok": verdicts[k].ok, "reasons": verdicts[k].reasons}
            for k, p in lab.parts.items()
        },
        "events": [e.record() for e in notable],
        "seed": lab.scenario.get("seed", 1),
        "timeline": lab.timeline.records(),
        "timeline_t0": _wall(lab.timeline.t0),
        "expectations": lab.outcomes,
    }
    (lab.run / "results.json").write_text(json.dumps(results, indent=1, default=jsonable) + "\n")
    lines = [
        f"# Lab `{scenario['name']}` on model `{lab.net.name}`: {'PASSED' if ok else 'FAILED'}",
        "",
        scenario.get("description", ""),
        "",
        "## Timings",
        "",
        *[f"- {k}: {v:.2f} s" for k, v in lab.timings.items()],
        f"- total: {total_s:.1f} s",
        "",
    ]
    if lab.error:
        lines += ["## Error", "", "```", lab.error, "```", ""]
    why = lab.why() if not ok else []
    if why:
        lines += ["## Why it failed", ""]
        lines += [f"- {r}" for r in why]
        lines.append("")
    lines += evaluate.report_lines(lab.outcomes)
    if lab.timeline:
        lines += ["## Timeline", "", "Offsets from the end of the start steps.", ""]
        lines += [f"- {a.text()}" for a in lab.timeline.actions]
        lines.append("")
    order = [k for k in REPORT_ORDER if k in lab.parts] + [k for k in lab.parts if k not in REPORT_ORDER]
    for k in order:
        lines += lab.parts[k].report_lines(metrics)
    lines += ["## Parts", "", "| part | state | verdict |", "| --- | --- | --- |"]
    lines += [f"| {k} | {p.state} | {verdicts[k].text()} |" for k, p in lab.parts.items()]
    lines += ["", "## Events", ""]
    if notable:
        lines += [f"- {e.line()}" for e in notable]
    else:
        lines.append("No warnings or alarms. Every event of the run is in `events.json`.")
    lines += ["", "## What this machine can emulate", "", "```", lab.caps.table(), "```", ""]
    path = lab.run / "report.md"
    path.write_text("\n".join(lines))
    write_pages(lab.run)
    return path


def _wall(mono: float | None) -> float | None:
    """The Unix time of a time.monotonic() reading (the timeline's t0), for pictures on wall time."""
    return None if mono is None else round(time.time() - (time.monotonic() - mono), 3)


def write_pages(run: Path) -> list[Path]:
    """report.html and junit.xml from the run directory's files (call again after results.json
    changed). A page that cannot be written is logged and left out: report.md and results.json stay."""
    out = []
    for writer in (write_html, write_junit):
        try:
            out.append(writer(run))
        except Exception as exc:
            log.warning("%s: %s failed: %s: %s", run, writer.__name__, type(exc).__name__, exc)
    return out
