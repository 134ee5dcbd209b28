"""Run a lab: validate scenario and model, bring the network up, run checks, report, tear down."""

from __future__ import annotations

import contextlib
import dataclasses
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


def _traffic(v: Checker_, value: Any, path: str) -> Any:
    """The OA/approval users and background traffic played after the checks (apps.lab.TrafficSpec)."""
    from apps.lab import parse_traffic

    if value is None:
        return None
    try:
        return parse_traffic(value, v.source, path)
    except ModelError as exc:
        v.problems += exc.problems
        return None


def _offsite(v: Checker_, value: Any, path: str) -> Any:
    from labs.offsite import parse_offsite

    if value is None:
        return None
    try:
        return parse_offsite(value, v.source, path)
    except ModelError as exc:
        v.problems += exc.problems
        return None


SCENARIO = obj(
    {
        "name": (name_field, REQUIRED),
        "description": (text_field, ""),
        "model": (text_field, "weihai"),
        "checks": (list_of(_check_name, 1), lambda: list(CHECKS)),
        "monitor": (bool_field, True),  # metrics store + SNMP + link counters during the lab
        "ids": (bool_field, False),  # NIDS sensors on the pair's links and the DMZ, blocks to the firewalls
        "validate": (bool_field, False),  # simulator vs emulator on the same flows, after the checks
        "traffic": (_traffic, None),  # OA/approval users and background classes, after the checks
        "offsite": (_offsite, None),  # the off-site backup copy across the network, at the end
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
    (run / "scenario.json").write_text(json.dumps(scenario, indent=1, default=_jsonable) + "\n")
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
                    _nids(emu, run, scenario["ids"], metrics.get("cli"), log) as nids,
                ):
                    if pair is not None and metrics.get("writer") is not None:
                        pair.sink = metrics["writer"].write
                    report = run_checks(emu, tuple(scenario["checks"]))
                    if scenario["validate"]:
                        metrics["validation"] = _validation(emu, log)
                    if scenario["traffic"] is not None:
                        metrics["apps"] = _traffic_run(
                            emu, run, scenario["traffic"], metrics, log, hids=scenario["ids"]
                        )
                    if scenario["offsite"] is not None:
                        metrics["offsite"] = _offsite_run(emu, run, scenario["offsite"], log)
                    if nids is not None:
                        nids.stop()
                        metrics["nids"] = nids.summary()
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


def _offsite_run(emu: Any, run: Path, spec: dict[str, float], log: Callable[[str], None]) -> dict[str, Any]:
    from labs.offsite import run_offsite

    doc = run_offsite(emu, run, spec["size_mb"], spec["share"])
    p = doc["plan"]
    log(
        f"offsite: {p['bytes'] / 1e6:.1f} MB {p['source']} -> {p['destination']} at {doc['mbps']} Mbit/s "
        f"(paced to {p['rate_mbps']:g}): {'verified' if doc['ok'] else 'FAILED'}"
    )
    return doc


def _validation(emu: Any, log: Callable[[str], None]) -> dict[str, Any]:
    """The simulator's per-link loads against the emulator's for the same flows (labs/validate.py)."""
    from labs.validate import run_validation

    log("validation: the same flows in the emulator and the simulator")
    doc = run_validation(emu)
    rel = doc["mean_relative_error"]
    log(
        f"validation: {len(doc['links'])} links in use, mean utilisation error "
        f"{doc['mean_utilisation_error']:.2%}, mean relative error "
        + (f"{rel:.1%}" if rel is not None else "-")
    )
    return doc


def _traffic_run(
    emu: Any, run: Path, spec: Any, metrics: dict[str, Any], log: Callable[[str], None], hids: bool = False
) -> Any:
    """Play the scenario's working day over the network; the per-service numbers for the report.
    With `hids`, HIDS agents guard the service hosts' key files and ports while the day plays."""
    from apps.lab import AppsLab
    from ids.hids.lab import LabHids

    writer = metrics.get("writer")
    agents = None
    with AppsLab(emu, run, spec, log=log, sink=writer.write if writer is not None else None) as apps:
        if hids:
            agents = LabHids(emu, run, apps.hids_watch(), log=log)
        with agents if agents is not None else contextlib.nullcontext():
            apps.play()
    summary = apps.summary
    if summary and agents is not None:
        summary["hids"] = agents.summary()
    if summary:
        summary["audit"] = _audit_logins(run)
        log(f"apps: {summary['audit']['login_records']} login records in the audit ledger {run / 'audit.db'}")
    return summary


def _audit_logins(run: Path) -> dict[str, Any]:
    """Feed the lab's logins into the run's audit ledger (the login event stream): the services'
    login events, and the management SSH logins on the routers and firewalls (device CLI, NIDS
    block pushes), from their sshd logs."""
    from ids.audit import Auditor, Ledger, load_policy, parse_file

    counts: dict[str, int] = {}
    with Ledger(run / "audit.db") as ledger:
        auditor = Auditor(load_policy(None), ledger=ledger, batch=1000)
        decisions = []
        for db in ("oa.db", "approval.db"):
            if (run / "apps" / db).exists():
                decisions += auditor.feed_all(parse_file(run / "apps" / db, "app")).decisions
        for log in sorted((run / "ssh").glob("*/sshd.log")):
            decisions += auditor.feed_all(parse_file(log, "sshd")).decisions
        for e in ledger.entries(kind="login"):
            counts[e.service] = counts.get(e.service, 0) + 1
        intact = ledger.verify().ok
    return {
        "ledger": "audit.db",
        "login_records": dict(sorted(counts.items())),
        "decisions": [f"{d.kind} {d.subject}: {d.reason}" for d in decisions],
        "intact": intact,
    }


@contextlib.contextmanager
def _nids(emu: Any, run: Path, enabled: bool, cli: Any, log: Callable[[str], None]) -> Iterator[Any]:
    """NIDS sensors and their block path for the whole lab (ids/nids/lab.py), when asked for. Blocks
    go over the firewalls' management SSH (netmiko from the NOC) when monitoring runs the device CLI."""
    if not enabled:
        yield None
        return
    from ids.nids.lab import LabNids
    from monitors.devcli import CliPush

    push = CliPush(emu, cli[0], cli[1]) if cli is not None else None
    try:
        with LabNids(emu, run, log=log, push=push.push if push is not None else None) as nids:
            yield nids
    finally:
        if push is not None:
            push.close()


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
    info["cli"] = monitor.cli_access()
    try:
        yield info
    finally:
        info.pop("writer", None)
        info.pop("cli", None)
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


def _jsonable(o: Any) -> Any:
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    return str(o)


def _offsite_lines(o: dict[str, Any]) -> list[str]:
    p = o["plan"]
    lines = [
        "## Off-site backup copy",
        "",
        f"{p['bytes'] / 1e6:.1f} MB from {p['source']} to {p['destination']} over {' > '.join(p['path'])}; "
        f"bottleneck {p['bottleneck_mbps']:g} Mbit/s, paced to {p['rate_mbps']:g}; took {o['wall_s']} s "
        f"({o['mbps']} Mbit/s); {'verified (SHA-256)' if o['ok'] else 'FAILED: ' + str(o['result'])}.",
        "",
        "| link on the path | capacity | Mbit/s during the copy |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {lk['link']} | {lk['capacity_mbps']:g} | {lk['mbps']} |" for lk in o["links"]]
    lines.append("")
    return lines


def _nids_lines(n: dict[str, Any]) -> list[str]:
    lines = [
        "## Intrusion detection",
        "",
        f"Sensors: {', '.join(n['sensors'])}. Alerts: {n['alerts']}; kernel drops: {n['kernel_drops']}. "
        "Every alert is in `nids/<sensor>.json`; blocks are in `events.json`.",
        "",
    ]
    lines += [f"- {sig}: {count}" for sig, count in sorted(n["by_signature"].items())]
    lines += [
        f"- block {b['src_ip']} ({b.get('signature')}): {b['state']}"
        + (f" in {b['time_to_block_s']} s from the first packet" if "time_to_block_s" in b else "")
        for b in n["blocks"]
    ]
    lines.append("")
    return lines


def _validation_lines(v: dict[str, Any]) -> list[str]:
    rel = v["mean_relative_error"]
    lines = [
        "## Simulator vs emulator",
        "",
        f"The same {len(v['flows'])} flows (TCP bulk, up or down, between bureau desktops and a server; one "
        f"constant-rate UDP stream) for {v['seconds']:g} s in the emulator and in the flow simulator. "
        f"Mean utilisation error {v['mean_utilisation_error']:.2%} of capacity; mean relative error "
        + (f"{rel:.1%}" if rel is not None else "-")
        + " (links at >= 1 %). Parallel members are compared as one bundle (see labs/validate.py).",
        "",
        "| link | capacity | predicted | measured | utilisation error | relative error |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for lk in v["links"]:
        r = f"{lk['relative_error']:.1%}" if lk["relative_error"] is not None else "-"
        lines.append(
            f"| {lk['name']} | {lk['capacity_mbps']:g} | {lk['predicted_mbps']:.2f} "
            f"| {lk['measured_mbps']:.2f} | {lk['utilisation_error']:.2%} | {r} |"
        )
    lines.append("")
    return lines


def _traffic_lines(a: dict[str, Any]) -> list[str]:
    """The report's traffic section: what the users did and saw, and what the services recorded."""
    w, u = a["window"], a["users"]
    lines = [
        "## Traffic (OA, approval, background)",
        "",
        f"{w['hours']:g} h of the working day from {w['start_hour']:g}:00 played in {w['wall_s']:g} s; "
        f"{a['planned']['operations']} operations planned, {u['operations']} done, {u['errors']} failed, "
        f"{u['conflicts']} found their work item taken by a colleague (409). Lag is how late an operation "
        "started: latency is not compressed, so a slow reply delays the user's next operations. "
        "Offered traffic: `offered.json` (simulated time), `offered-wall.json` (per 10 s of the run); "
        "every operation: `apps/ops.jsonl`.",
        "",
        "| operation | count | errors | conflicts | mean latency | p95 latency | p95 lag |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for op, r in u["by_op"].items():
        mean = f"{r['latency_mean_s'] * 1000:.1f} ms" if r["latency_mean_s"] is not None else "-"
        p95 = f"{r['latency_p95_s'] * 1000:.1f} ms" if r["latency_p95_s"] is not None else "-"
        lag = f"{r['lag_p95_s']:.1f} s"
        lines.append(f"| {op} | {r['count']} | {r['errors']} | {r['conflicts']} | {mean} | {p95} | {lag} |")
    lines += ["", "| background class | flows | packets sent | delivered |", "| --- | --- | --- | --- |"]
    for cls, c in u["background"].items():
        share = f"{c['delivered']:.2%}" if c["delivered"] is not None else "-"
        lines.append(f"| {cls} | {c['flows']} | {c['sent']} | {share} |")
    lines.append("")
    svc = a["services"]
    if "oa" in svc:
        oa = svc["oa"]
        states = ", ".join(f"{k} {v}" for k, v in sorted(oa["by_state"].items()))
        lines.append(
            f"- OA: {oa['documents']} documents ({states}), "
            f"{oa['attachments']} attachments, {oa['delivered']} delivered (mean {oa['delivery_mean_s']} s), "
            f"logins {oa['logins']}, tamper alerts {oa['tamper_alerts']}"
        )
    if "approval" in svc:
        ap = svc["approval"]
        states = ", ".join(f"{k} {v}" for k, v in sorted(ap["by_state"].items()))
        lines.append(
            f"- Approval: {ap['applications']} applications ({states}), {ap['completed']} completed "
            f"(mean {ap['completion_mean_s']} s), {ap['escalations']} escalations, "
            f"{ap['overdue_open_steps']} steps overdue at the end, {ap['receipts_sent']} receipts mailed, "
            f"logins {ap['logins']}"
        )
    hi = a.get("hids")
    if hi:
        lines.append(
            f"- HIDS on {', '.join(hi['servers'])} (key files, new ports, setuid): alerts {hi['alerts']}"
            + (f" ({'; '.join(hi['signatures'])})" if hi["signatures"] else "")
        )
    au = a.get("audit")
    if au:
        lines.append(
            f"- Login audit: {au['login_records']} login records in the hash-chained ledger `{au['ledger']}` "
            f"({'intact' if au['intact'] else 'BROKEN'}); policy decisions: {len(au['decisions'])}"
        )
    lines.append("")
    return lines


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
    (run / "results.json").write_text(json.dumps(results, indent=1, default=_jsonable) + "\n")
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
        skip = ("store", "queries", "firewall_pair", "apps", "validation", "nids", "offsite")
        lines += [f"- {k}: {v}" for k, v in metrics.items() if k not in skip]
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
    if metrics.get("nids"):
        lines += _nids_lines(metrics["nids"])
    if metrics.get("offsite"):
        lines += _offsite_lines(metrics["offsite"])
    if metrics.get("validation"):
        lines += _validation_lines(metrics["validation"])
    if metrics.get("apps"):
        lines += _traffic_lines(metrics["apps"])
    lines += ["## What this machine can emulate", "", "```", caps, "```", ""]
    path = run / "report.md"
    path.write_text("\n".join(lines))
    return path
