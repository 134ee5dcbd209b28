"""Run a lab: validate scenario and model, bring the network up, run checks, report, tear down."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govnet.errors import ModelError, NotRootError, Problem
from govnet.rundir import create_run_dir
from govnet.signals import interrupts_on_signals
from topology import dump_model_yaml, load_model
from topology.schema import REQUIRED, Checker_, bool_field, list_of, name_field, obj, text_field
from topology.yamlload import load_yaml_file

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
CHECKS = ("reachability", "rates", "heal")


def _check_name(v: Checker_, value: Any, path: str) -> Any:
    if value not in CHECKS:
        v.err(path, "unknown check", value, f"use one of: {', '.join(CHECKS)}")
    return value


SCENARIO = obj(
    {
        "name": (name_field, REQUIRED),
        "description": (text_field, ""),
        "model": (text_field, "weihai"),
        "checks": (list_of(_check_name, 1), lambda: list(CHECKS)),
        "monitor": (bool_field, True),  # metrics store + SNMP + link counters during the lab
    }
)


@dataclass
class LabResult:
    ok: bool
    run_dir: Path
    report: Path
    summary: str


def list_labs() -> list[tuple[str, str]]:
    out = []
    for f in sorted(SCENARIOS.glob("*.yaml")):
        data = load_yaml_file(f)
        out.append((f.stem, str(data.get("description", "")) if isinstance(data, dict) else ""))
    return out


def _scenario_path(name: str) -> Path:
    p = Path(name)
    if p.suffix in (".yaml", ".yml") or "/" in name:
        return p
    bundled = SCENARIOS / f"{name}.yaml"
    if not bundled.exists():
        known = ", ".join(n for n, _ in list_labs())
        raise ModelError(
            [Problem(name, "", "no such lab scenario", has_value=False, fix=f"use one of: {known}")]
        )
    return bundled


def load_scenario(name: str) -> dict[str, Any]:
    path = _scenario_path(name)
    data = load_yaml_file(path)
    v = Checker_(str(path))
    if data is None:
        raise ModelError(
            [Problem(str(path), "", "the file is empty", has_value=False, fix="see labs/scenarios/")]
        )
    out = SCENARIO(v, data, "")
    if v.problems:
        raise ModelError(v.problems)
    assert isinstance(out, dict)
    return out


def run_lab(name: str, model: str | None = None, log: Callable[[str], None] = print) -> LabResult:
    from topology.emulator import Emulation, detect, run_checks

    scenario = load_scenario(name)
    net = load_model(model or scenario["model"])  # bad input fails here, before anything starts
    if os.geteuid() != 0:
        raise NotRootError("labs build an emulated network and need root: run 'sudo govnet lab run ...'")
    run = create_run_dir(scenario["name"])
    (run / "scenario.json").write_text(json.dumps(scenario, indent=1) + "\n")
    (run / "model.yaml").write_text(dump_model_yaml(net))
    caps = detect()
    log(f"run directory {run}")
    t0 = time.monotonic()
    report = None
    error = ""
    timings: dict[str, float] = {}
    emu = Emulation(net, run, log=log, caps=caps)
    metrics: dict[str, Any] = {}
    try:
        with interrupts_on_signals():
            try:
                emu.start()
                log(
                    f"network up in {emu.timings['up_s']:.1f} s; "
                    f"running checks: {', '.join(scenario['checks'])}"
                )
                with (
                    _firewall_pair(emu, net, run, log) as pair,
                    _monitoring(emu, run, scenario["monitor"], log) as metrics,
                ):
                    if pair is not None and metrics.get("writer") is not None:
                        pair.sink = metrics["writer"].write
                    report = run_checks(emu, tuple(scenario["checks"]))
                    if pair is not None:
                        metrics["firewall_pair"] = pair.status()
                        pair.sink = None
            finally:
                emu.stop()
                timings = dict(emu.timings)
    except Exception as exc:
        if not isinstance(exc, ModelError | KeyboardInterrupt):
            error = f"{type(exc).__name__}: {exc}"
        else:
            raise
    ok = report is not None and report.ok and not error
    report_path = _write_report(
        run, scenario, net.name, caps.table(), report, timings, error, time.monotonic() - t0, ok, metrics
    )
    summary = (
        f"lab {scenario['name']}: {'PASSED' if ok else 'FAILED'}"
        + (f" — {error}" if error else "")
        + (f"\n{report.table()}" if report is not None else "")
    )
    return LabResult(ok, run, report_path, summary)


@contextlib.contextmanager
def _firewall_pair(emu: Any, net: Any, run: Path, log: Callable[[str], None]) -> Iterator[Any]:
    """The active/active firewall pair's controller (state sync, steering, probes) when the model has one."""
    from firewall import Pair, pair_plan
    from govnet.events import EventLog

    plan = pair_plan(net)
    if plan is None:
        yield None
        return
    with EventLog(run / "events.json") as events, Pair(emu, plan, run, events=events, log=log) as pair:
        yield pair


@contextlib.contextmanager
def _monitoring(emu: Any, run: Path, enabled: bool, log: Callable[[str], None]) -> Iterator[dict[str, Any]]:
    """Run the monitoring stack (store, SNMP, link counters) around the lab; fill in a summary at exit."""
    info: dict[str, Any] = {}
    if not enabled:
        yield info
        return
    from govnet.tsdb import Store
    from govnet.tsdb_writer import Writer
    from monitors.collector import LabMonitor

    store = Store()
    store.up()
    info["store"] = store.url
    log(f"metrics store at {store.url}")
    writer = Writer(store.url, spill_dir=run / "spill")
    monitor = LabMonitor(emu, run, writer, log=log)
    t0 = time.time()
    monitor.start()
    info["writer"] = writer
    try:
        yield info
    finally:
        info.pop("writer", None)
        monitor.stop()
        stats = writer.close()
        info["points_written"] = stats.sent
        info["points_dropped"] = stats.dropped
        info["points_by_measurement"] = dict(sorted(monitor.counts.items()))
        info["queries"] = _metric_queries(store, max(10, int(time.time() - t0) + 5))


def _metric_queries(store: Any, window_s: int) -> dict[str, str]:
    """A few PromQL answers over the run, proving the series are there and queryable."""
    w = f"{window_s}s"
    queries = [
        f'count(count by (link) (last_over_time(iface_tx_bytes{{source="kernel"}}[{w}])))',
        f"count(last_over_time(device_uptime_s[{w}]))",
        f'count(count by (node) (last_over_time(iface_tx_bytes{{source="snmp"}}[{w}])))',
        f'avg_over_time(poller_completeness{{poller="snmp"}}[{w}])',
        f'max_over_time(poller_cycle_s{{poller="snmp"}}[{w}])',
        f'max_over_time(iface_utilisation{{link="core1--core2",source="kernel"}}[{w}])',
    ]
    out = {}
    with contextlib.suppress(Exception):
        store.force_flush()
    time.sleep(1.5)  # the store hides points younger than -search.latencyOffset (1 s)
    for q in queries:
        try:
            res = store.query(q)
            out[q] = ", ".join(f"{float(r['value'][1]):.4g}" for r in res) or "no data"
        except Exception as exc:
            out[q] = f"error: {exc}"
    return out


def _write_report(
    run: Path,
    scenario: dict[str, Any],
    model: str,
    caps: str,
    report: Any,
    timings: dict[str, float],
    error: str,
    total_s: float,
    ok: bool,
    metrics: dict[str, Any],
) -> Path:
    results = {
        "ok": ok,
        "scenario": scenario,
        "model": model,
        "timings_s": timings,
        "error": error,
        "checks": report.to_dict() if report is not None else None,
        "total_s": total_s,
        "metrics": metrics,
    }
    (run / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    lines = [
        f"# Lab `{scenario['name']}` on model `{model}`: {'PASSED' if ok else 'FAILED'}",
        "",
        scenario.get("description", ""),
        "",
        "## Timings",
        "",
        *[f"- {k}: {v:.2f} s" for k, v in timings.items()],
        f"- total: {total_s:.1f} s",
        "",
    ]
    if error:
        lines += ["## Error", "", "```", error, "```", ""]
    if report is not None:
        lines += ["## Checks", "", "```", report.table(), "```", ""]
        if report.figures:
            lines += [
                f"- {k}: {v:.3f}" if isinstance(v, float) else f"- {k}: {v}"
                for k, v in report.figures.items()
            ]
            lines.append("")
    if metrics:
        lines += ["## Metrics", "", f"Store: {metrics.get('store', '?')} (PromQL at /api/v1/query)", ""]
        lines += [f"- {k}: {v}" for k, v in metrics.items() if k not in ("store", "queries", "firewall_pair")]
        lines += ["", "| PromQL | answer |", "| --- | --- |"]
        lines += [f"| `{q}` | {a} |" for q, a in metrics.get("queries", {}).items()]
        lines.append("")
    fw = metrics.get("firewall_pair") if metrics else None
    if fw:
        lines += ["## Firewall pair", "", "| member | state | slot share | load share | sessions | healthy |"]
        lines += ["| --- | --- | --- | --- | --- | --- |"]
        lines += [
            f"| {m['name']} | {m['state']} | {m['slot_share']:.0%} | {m['load_share']:.0%} | {m['sessions']} "
            f"| {'yes' if m['healthy'] else 'no'} |"
            for m in fw["members"]
        ]
        lines += ["", f"State sync: {fw['sync']['state']}; alarms: {', '.join(fw['alarms']) or 'none'}", ""]
    lines += ["## What this machine can emulate", "", "```", caps, "```", ""]
    path = run / "report.md"
    path.write_text("\n".join(lines))
    return path
