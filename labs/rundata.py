"""A stored lab run read back for its pages: results.json, run.json, events.json, report.md, and the
figures drawn from them (timeline markers, alerts per signature, failed logins, host names), all
from the run directory alone.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govnet import events as eve
from govnet.errors import UsageError
from labs.markdown import text_of
from labs.plots import Marker


# --- reading a run directory ----------------------------------------------------------------------
@dataclass
class RunData:
    """What the page is built from, read once from the run directory."""

    run: Path
    results: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)  # run.json
    events: list[dict[str, Any]] = field(default_factory=list)  # events.json
    report_md: str = ""
    t0: float = 0.0  # Unix time of the start of the run: the pictures' 0

    @property
    def name(self) -> str:
        scen = self.results.get("scenario")
        name = scen.get("name") if isinstance(scen, dict) else None
        return str(name or self.meta.get("name") or self.run.name)

    @property
    def metrics(self) -> dict[str, Any]:
        m = self.results.get("metrics")
        return m if isinstance(m, dict) else {}

    def list_of(self, key: str) -> list[dict[str, Any]]:
        v = self.results.get(key)
        return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def read_json(path: Path) -> Any:
    """The JSON document in `path`; None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def as_dict(v: Any) -> dict[str, Any]:
    """`v` when it is a mapping, else an empty one."""
    return v if isinstance(v, dict) else {}


def parse_time(text: Any) -> float | None:
    """Unix time of an EVE or run.json timestamp (None when it is not one)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return _dt.datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def load_run(run_dir: Path) -> RunData:
    """The run directory's data; UsageError (exit 2) naming the directory when it holds no
    readable results.json."""
    run = Path(run_dir)
    if not run.is_dir():
        raise UsageError(
            f"{run}: no such run directory; give a directory under runs/ that a lab run wrote "
            "(it holds results.json)"
        )
    results = read_json(run / "results.json")
    if not isinstance(results, dict) or "parts" not in results:
        what = (
            "has no results.json" if not (run / "results.json").exists() else "has an unreadable results.json"
        )
        raise UsageError(
            f"{run}: {what}; give the directory of a finished lab run (runs/<time>-<lab>/), "
            "or run the lab again: sudo govnet lab run NAME"
        )
    meta = read_json(run / "run.json")
    data = RunData(run, results, meta if isinstance(meta, dict) else {})
    if (run / "events.json").exists():
        try:
            data.events = list(eve.read(run / "events.json"))
        except OSError:
            data.events = []
    if not data.events:
        data.events = data.list_of("events")
    try:
        data.report_md = (run / "report.md").read_text(encoding="utf-8", errors="replace")
    except OSError:
        data.report_md = ""
    started = parse_time(data.meta.get("started"))
    if started is None:  # an older run: its first event is the best start there is
        known = [t for t in (parse_time(e.get("timestamp")) for e in data.events) if t is not None]
        started = min(known) if known else 0.0
    data.t0 = started
    return data


def why_lines(data: RunData) -> list[str]:
    """Why the lab failed: the run's error, parts' reasons, timeline actions, expectations."""
    out = []
    if data.results.get("error"):
        out.append(text_of(data.results["error"]))
    parts = data.results.get("parts")
    for key, p in parts.items() if isinstance(parts, dict) else []:
        if isinstance(p, dict) and not p.get("ok", True):
            out += [f"{key}: {text_of(r)}" for r in (p.get("reasons") or ["failed"])]
    for a in data.list_of("timeline"):
        if not a.get("ok", True):
            what = text_of(a.get("do") or a.get("action"))
            state, error = text_of(a.get("state") or "failed"), text_of(a.get("error") or "")
            out.append(f"timeline: {what} {state}: {error}".rstrip(": "))
    for e in data.list_of("expectations"):
        if not e.get("ok", True):
            out.append(f"expectation {text_of(e.get('name'))}: {text_of(e.get('text'))}")
    return out


# --- the pictures' data ---------------------------------------------------------------------------
def timeline_markers(data: RunData) -> list[Marker]:
    """The timeline's actions at seconds from the start of the run. The timeline's clock starts
    after the start steps: its Unix time is results.json's `timeline_t0` when recorded, else
    estimated from the `action.done`/`action.failed` events (each is logged just after its action
    ran, so the earliest `event time - executed_s` is the closest)."""
    acts = data.list_of("timeline")
    if not acts:
        return []
    t0 = data.results.get("timeline_t0")
    if not isinstance(t0, int | float):
        t0 = _estimate_timeline_t0(data, acts)
    out = []
    for a in acts:
        label = str(a.get("do") or ".".join(str(a.get(k, "")) for k in ("part", "action")).strip("."))
        executed = a.get("executed_s")
        at = executed if isinstance(executed, int | float) else a.get("planned_s")
        if not isinstance(at, int | float):
            continue
        out.append(
            Marker(t0 - data.t0 + at, label, bool(a.get("ok", True)), isinstance(executed, int | float))
        )
    return out


def _estimate_timeline_t0(data: RunData, acts: list[dict[str, Any]]) -> float:
    done = [
        (str(e.get("sensor", "")), str(e.get("subject", "")).split(" ")[0], parse_time(e.get("timestamp")))
        for e in data.events
        if e.get("kind") in ("action.done", "action.failed")
    ]
    estimates = []
    used: set[int] = set()
    for a in acts:
        executed = a.get("executed_s")
        if not isinstance(executed, int | float):
            continue
        part, _, verb = str(a.get("do") or f"{a.get('part', '')}.{a.get('action', '')}").partition(".")
        for j, (src, v, t) in enumerate(done):
            if j not in used and src == part and v == verb and t is not None:
                used.add(j)
                estimates.append(t - executed)
                break
    if estimates:
        return min(estimates)
    started = [parse_time(e.get("timestamp")) for e in data.events if e.get("kind") == "part.started"]
    known = [t for t in started if t is not None]
    return max(known) if known else data.t0


def alert_times(data: RunData) -> dict[str, list[float]]:
    """Alert times (s from the start of the run) per signature, from nids/*.json."""
    out: dict[str, list[float]] = {}
    for path in sorted((data.run / "nids").glob("*.json")):
        for rec in eve.read(path):
            if rec.get("event_type") != "alert":
                continue
            al = as_dict(rec.get("alert"))
            t = parse_time(rec.get("timestamp"))
            if t is None:
                continue
            sig = f"sid {text_of(al.get('signature_id'))}: {text_of(al.get('signature') or '?')}"
            out.setdefault(sig, []).append(t - data.t0)
    return out


def login_failures(data: RunData) -> tuple[dict[str, dict[str, int]], str]:
    """Failed logins per source and service, and where they were read: the audit ledger
    (audit.db) when the run has one, else the users' own records (apps/ops.jsonl)."""
    out: dict[str, dict[str, int]] = {}
    db = data.run / "audit.db"
    if db.exists():
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            rows = con.execute(
                "SELECT source, service, COUNT(*) FROM records "
                "WHERE kind = 'login' AND result != 'success' GROUP BY source, service"
            ).fetchall()
        finally:
            con.close()
        for src, svc, n in rows:
            out.setdefault(str(src) or "unknown", {})[str(svc)] = int(n)
        return out, "the login ledger (audit.db)"
    ops = data.run / "apps" / "ops.jsonl"
    if ops.exists():
        for rec in eve.read(ops):
            if rec.get("op") != "login":
                continue
            if rec.get("status") == "ok" and "mistyp" not in str(rec.get("did", "")):
                continue
            src, app = str(rec.get("src") or "unknown"), str(rec.get("app") or "?")
            out.setdefault(src, {})[app] = out.get(src, {}).get(app, 0) + 1
        return out, "the users' records (apps/ops.jsonl; mistyped passwords)"
    return out, ""


def host_names(data: RunData) -> dict[str, str]:
    """Address -> node name, from the device configurations the run wrote (config/<node>/ip.batch;
    reading them is cheaper than expanding model.yaml again)."""
    out: dict[str, str] = {}
    for batch in sorted((data.run / "config").glob("*/ip.batch")):
        try:
            text = batch.read_text(errors="replace")
        except OSError:
            continue
        for addr in re.findall(r"^addr add ([0-9a-fA-F.:]+)/", text, re.M):
            out.setdefault(addr, batch.parent.name)
    return out
