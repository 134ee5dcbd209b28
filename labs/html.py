"""A lab run's report as one self-contained HTML page: `<run>/report.html`.

Built from the run directory alone (results.json, run.json, events.json, report.md, nids/*.json,
audit.db, apps/ops.jsonl, metrics/series.json), so `govnet lab report RUN_DIR` can rebuild it for a
stored run. First screen: lab, model, verdict, duration, the expectations (expected, measured,
pass), why it failed, the parts; then the pictures (inline SVG, each only when its data exists,
otherwise a note), the timeline, the events and the detail (report.md as HTML). No external URL,
script or font: the page works offline and from a mail attachment. Every text is escaped.
"""

from __future__ import annotations

import ast
import datetime as _dt
import html
import json
import logging
import re
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govnet import events as eve
from govnet.errors import UsageError
from labs import plots
from labs.plots import SERIES_FILE, Marker

log = logging.getLogger("govnet.labs.report")

REPORT_HTML = "report.html"
BUSIEST_LINKS = 5
MAX_EVENTS = 400  # rows of the events table; the rest are counted
MAX_SIGNATURES = 8  # alert lines; the rest are summed as "other signatures"


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


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _dict(v: Any) -> dict[str, Any]:
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
    results = _json(run / "results.json")
    if not isinstance(results, dict) or "parts" not in results:
        what = (
            "has no results.json" if not (run / "results.json").exists() else "has an unreadable results.json"
        )
        raise UsageError(
            f"{run}: {what}; give the directory of a finished lab run (runs/<time>-<lab>/), "
            "or run the lab again: sudo govnet lab run NAME"
        )
    meta = _json(run / "run.json")
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


# --- text -----------------------------------------------------------------------------------------
def text_of(v: Any) -> str:
    """A value as a person reads it: no None, no reprs, no braces."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else f"{v:.4g}"
    if isinstance(v, str):
        return "–" if v == "None" else _REPR.sub(_plain, v)
    if isinstance(v, Mapping):
        return "; ".join(f"{k} {text_of(x)}" for k, x in v.items()) or "–"
    if isinstance(v, Iterable):
        return ", ".join(text_of(x) for x in v) or "–"
    return str(v)


def esc(v: Any) -> str:
    return html.escape(text_of(v), quote=True)


def seconds(s: Any) -> str:
    if not isinstance(s, int | float):
        return "–"
    if s >= 120:
        return f"{s / 60:.1f} min ({s:.0f} s)"
    return f"{s:.1f} s"


_REPR = re.compile(r"\{'[^{}]*\}|\['[^\[\]]*\]")


def _plain(m: re.Match[str]) -> str:
    try:
        return text_of(ast.literal_eval(m.group(0)))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return m.group(0)


def tidy(text: str) -> str:
    """Python reprs of dicts and lists that parts wrote into report.md (and a bare None), as plain
    text."""
    return re.sub(r"\bNone\b", "–", _REPR.sub(_plain, text))


# --- Markdown (the subset report.md uses) ---------------------------------------------------------
def _inline(text: str) -> str:
    """Escaped text with `code` and **bold** spans."""
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for p in parts:
        if len(p) >= 2 and p.startswith("`") and p.endswith("`"):
            out.append(f"<code>{html.escape(p[1:-1])}</code>")
        else:
            e = html.escape(p)
            out.append(re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", e))
    return "".join(out)


def _cells(line: str) -> list[str]:
    """A Markdown table row's cells; a | inside `code` or escaped as \\| does not split."""
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    cells, cur, in_code, i = [], "", False, 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s) and s[i + 1] == "|":
            cur += "|"
            i += 2
            continue
        if c == "`":
            in_code = not in_code
        if c == "|" and not in_code:
            cells.append(cur.strip())
            cur = ""
        else:
            cur += c
        i += 1
    cells.append(cur.strip())
    return cells


_SEP = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_HEAD = re.compile(r"^(#{1,6})\s+(.*)$")
_ITEM = re.compile(r"^\s*(?:[-*]|\d+\.)\s+(.*)$")


def markdown_html(text: str, shift: int = 2) -> str:
    """HTML of the Markdown subset report.md uses: headings (shifted down by `shift` levels),
    paragraphs, lists, pipe tables, fenced code, `code` and **bold**."""
    lines = tidy(text).splitlines()
    out: list[str] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            out.append(f"<p>{_inline(' '.join(para))}</p>")
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        s = line.strip()
        if s.startswith("```"):
            flush()
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                body.append(lines[i])
                i += 1
            out.append(f"<pre><code>{html.escape(chr(10).join(body))}</code></pre>")
            i += 1
            continue
        m = _HEAD.match(s)
        if m:
            flush()
            level = min(6, len(m.group(1)) + shift)
            out.append(f"<h{level}>{_inline(m.group(2))}</h{level}>")
            i += 1
            continue
        if s.startswith("|"):
            flush()
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(lines[i])
                i += 1
            out.append(_table_html(rows))
            continue
        if _ITEM.match(line):
            flush()
            ordered = bool(re.match(r"^\s*\d+\.", line))
            items = []
            while i < len(lines) and _ITEM.match(lines[i]):
                item = _ITEM.match(lines[i])
                assert item is not None
                items.append(f"<li>{_inline(item.group(1))}</li>")
                i += 1
            tag = "ol" if ordered else "ul"
            out.append(f"<{tag}>{''.join(items)}</{tag}>")
            continue
        if not s:
            flush()
        else:
            para.append(s)
        i += 1
    flush()
    return "\n".join(out)


def _table_html(rows: list[str]) -> str:
    head: list[str] = []
    body = rows
    if len(rows) >= 2 and _SEP.match(rows[1].strip()):
        head, body = _cells(rows[0]), rows[2:]
    out = ["<table>"]
    if head:
        out.append("<thead><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr></thead>")
    out.append("<tbody>")
    for r in body:
        out.append("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in _cells(r)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


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


def _series(data: RunData) -> dict[str, Any] | None:
    doc = _json(data.run / SERIES_FILE)
    return doc if isinstance(doc, dict) else None


def _pts(row: Mapping[str, Any], shift: float, scale: float = 1.0) -> list[tuple[float, float]]:
    out = []
    for p in row.get("points") or []:
        if isinstance(p, list | tuple) and len(p) == 2 and all(isinstance(x, int | float) for x in p):
            out.append((float(p[0]) + shift, float(p[1]) * scale))
    return out


class NoData(Exception):
    """A picture's data is not in this run: the message says which and where it would come from."""


def _utilisation(data: RunData, markers: list[Marker]) -> str:
    doc = _series(data)
    if doc is None:
        raise NoData(f"no link series in this run ({SERIES_FILE} is written by the monitor part at stop)")
    shift = float(doc.get("start", data.t0)) - data.t0
    best: dict[str, tuple[float, str, list[tuple[float, float]]]] = {}
    for row in doc.get("links") or []:
        cap = row.get("capacity_mbps")
        if not isinstance(cap, int | float) or cap <= 0:
            continue
        pts = _pts(row, shift, 100.0 / cap)
        if not pts:
            continue
        peak = max(v for _, v in pts)
        link = str(row.get("link", ""))
        label = f"{row.get('from', '')} → {row.get('to', '')}" if row.get("to") else link
        if "#" in link:  # one member of a bundle: say which
            label += f" ({link})"
        if link not in best or peak > best[link][0]:
            best[link] = (peak, label, pts)
    if not best:
        raise NoData(f"no link rates with a known capacity in {SERIES_FILE}")
    top = sorted(best.values(), key=lambda b: -b[0])[:BUSIEST_LINKS]
    return plots.utilisation_svg([(f"{label}, peak {peak:.1f} %", pts) for peak, label, pts in top], markers)


def _series_lines(data: RunData, key: str, label_key: str, ylabel: str, markers: list[Marker]) -> str:
    doc = _series(data)
    if doc is None:
        raise NoData(f"no series in this run ({SERIES_FILE} is written by the monitor part at stop)")
    shift = float(doc.get("start", data.t0)) - data.t0
    lines = [(str(r.get(label_key, "")), _pts(r, shift)) for r in doc.get(key) or []]
    lines = [(lab, pts) for lab, pts in lines if pts]
    if not lines:
        raise NoData(f"no {key.replace('_', ' ')} series in {SERIES_FILE}")
    return plots.lines_svg(key, lines, ylabel, markers)


def alert_times(data: RunData) -> dict[str, list[float]]:
    """Alert times (s from the start of the run) per signature, from nids/*.json."""
    out: dict[str, list[float]] = {}
    for path in sorted((data.run / "nids").glob("*.json")):
        for rec in eve.read(path):
            if rec.get("event_type") != "alert":
                continue
            al = _dict(rec.get("alert"))
            t = parse_time(rec.get("timestamp"))
            if t is None:
                continue
            sig = f"sid {text_of(al.get('signature_id'))}: {text_of(al.get('signature') or '?')}"
            out.setdefault(sig, []).append(t - data.t0)
    return out


def _alerts(data: RunData, markers: list[Marker]) -> str:
    if not (data.run / "nids").is_dir():
        raise NoData("no NIDS in this run (nids/ holds the sensors' alerts)")
    by_sig = alert_times(data)
    if not by_sig:
        raise NoData("no IDS alerts in this run")
    ranked = sorted(by_sig.items(), key=lambda kv: -len(kv[1]))
    shown = dict(ranked[:MAX_SIGNATURES])
    rest = [t for _, ts in ranked[MAX_SIGNATURES:] for t in ts]
    if rest:
        shown[f"{len(ranked) - MAX_SIGNATURES} other signatures"] = rest
    return plots.alerts_svg(shown, markers)


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


def _logins(data: RunData, _markers: list[Marker]) -> str:
    by_src, where = login_failures(data)
    if not where:
        raise NoData("no login records in this run (audit.db or apps/ops.jsonl)")
    if not by_src:
        raise NoData(f"no failed logins in {where}")
    sources = sorted(by_src, key=lambda s: (-sum(by_src[s].values()), s))[:20]
    services = sorted({svc for s in sources for svc in by_src[s]})
    stacks = {svc: [float(by_src[s].get(svc, 0)) for s in sources] for svc in services}
    notes = [str(sum(by_src[s].values())) for s in sources]
    hosts = host_names(data)
    names = [f"{s} ({hosts[s]})" if s in hosts else s for s in sources]
    return plots.bars_svg("logins", names, stacks, f"failed logins, from {where}", notes)


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


def _offsite(data: RunData, _markers: list[Marker]) -> str:
    off = data.metrics.get("offsite")
    links = off.get("links") if isinstance(off, dict) else None
    if not isinstance(links, list) or not links:
        raise NoData("no off-site copy in this run")
    rows = [r for r in links if isinstance(r, dict) and isinstance(r.get("mbps"), int | float)]
    if not rows:
        raise NoData("the off-site copy measured no link")
    names = [str(r.get("link", "")) for r in rows]
    notes = [f"{text_of(r.get('mbps'))} of {text_of(r.get('capacity_mbps'))} Mbit/s" for r in rows]
    return plots.bars_svg(
        "offsite", names, {"Mbit/s": [float(r["mbps"]) for r in rows]}, "Mbit/s during the copy", notes
    )


def _hsm(data: RunData, _markers: list[Marker]) -> str:
    hsm = data.metrics.get("hsm")
    tiers = hsm.get("tiers") if isinstance(hsm, dict) else None
    if not isinstance(tiers, list) or not tiers:
        raise NoData("no HSM figures in this run")
    rows = [t for t in tiers if isinstance(t, dict) and isinstance(t.get("bytes"), int | float)]
    if not rows:
        raise NoData("the HSM figures have no tier sizes")
    names = [str(t.get("tier") or t.get("name") or "?") for t in rows]
    notes = []
    for t in rows:
        cap = t.get("capacity_bytes")
        fill = f", {100 * t['bytes'] / cap:.0f} % full" if isinstance(cap, int | float) and cap > 0 else ""
        notes.append(f"{t['bytes'] / 1e6:.1f} MB{fill}")
    mb = [float(t["bytes"]) / 1e6 for t in rows]
    return plots.bars_svg("hsm", names, {"MB": mb}, "MB stored per tier", notes)


@dataclass(frozen=True)
class Picture:
    title: str
    svg: str = ""
    note: str = ""


PictureFn = Callable[[RunData, list[Marker]], str]


def _network(data: RunData, _markers: list[Marker]) -> str:
    """The model drawn (topology.draw) with each link coloured by its measured peak load, and the links
    the timeline cut drawn as failed."""
    from topology import load_model
    from topology.draw import network_figure

    model = data.run / "model.yaml"
    if not model.is_file():
        raise NoData("no model.yaml in this run")
    net = load_model(str(model))
    loads: dict[str | tuple[str, str], float] = {}
    for row in _dict(_series(data)).get("links") or []:
        cap, link = row.get("capacity_mbps"), row.get("link")
        if not isinstance(cap, int | float) or cap <= 0 or not isinstance(link, str):
            continue
        pts = _pts(row, 0.0, 1.0 / cap)
        if pts:
            loads[link] = max(loads.get(link, 0.0), max(v for _, v in pts))
    failed = [
        str(_dict(r.get("with")).get("link"))
        for r in data.list_of("timeline")
        if r.get("do") == "links.cut" and r.get("state") == "done" and _dict(r.get("with")).get("link")
    ]
    title = "peak load of each link" + (" (dashed: cut during the run)" if failed else "")
    return plots.svg_of(network_figure(net, loads=loads or None, failed=failed, title=title), "network")


PICTURES: tuple[tuple[str, PictureFn], ...] = (
    ("The network: links by measured peak load", _network),
    (
        f"Utilisation of the {BUSIEST_LINKS} busiest links (peak, per direction), with the timeline",
        _utilisation,
    ),
    ("IDS alerts over time, by signature", _alerts),
    ("Failed logins by source", _logins),
    (
        "Firewall sessions per member",
        lambda d, m: _series_lines(d, "firewall_sessions", "member", "conntrack sessions", m),
    ),
    (
        "Monitoring poller cycle times",
        lambda d, m: _series_lines(d, "poller_cycle_s", "poller", "cycle, s", m),
    ),
    ("Off-site copy: rate on each link of the path", _offsite),
    ("HSM tiers", _hsm),
)


def pictures(data: RunData) -> list[Picture]:
    """Every picture, or its note: no data, or why drawing failed (that error is logged, the page is
    still written)."""
    try:
        markers = timeline_markers(data)
    except Exception as exc:
        log.warning("report %s: timeline markers left out: %s: %s", data.run, type(exc).__name__, exc)
        markers = []
    out = []
    for title, fn in PICTURES:
        try:
            out.append(Picture(title, svg=fn(data, markers)))
        except NoData as exc:
            out.append(Picture(title, note=str(exc)))
        except Exception as exc:
            log.warning("report %s: picture %r not drawn: %s: %s", data.run, title, type(exc).__name__, exc)
            out.append(Picture(title, note=f"could not be drawn ({type(exc).__name__}: {exc})"[:300]))
    return out


# --- the page -------------------------------------------------------------------------------------
CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:0 auto;
max-width:1100px;padding:1em 1.5em}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.25em;border-bottom:1px solid #ddd;margin-top:1.6em}
h3{font-size:1.1em}h4,h5,h6{font-size:1em}
.verdict{display:inline-block;padding:.1em .6em;border-radius:.3em;color:#fff;font-weight:bold}
.PASSED{background:#1e7e34}.FAILED{background:#c0392b}
.ok{color:#1e7e34;font-weight:bold}.bad{color:#c0392b;font-weight:bold}
.facts{color:#444;margin:.3em 0 1em}.facts span{margin-right:1.4em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:13px}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4}tr.failed td{background:#fdecea}
.sev-warning{color:#9a6700}.sev-alarm{color:#c0392b;font-weight:bold}
pre{background:#f6f8fa;padding:.6em;overflow-x:auto;font-size:12px}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.92em}
figure{margin:1em 0}figcaption{font-weight:bold;margin-bottom:.3em}
figure svg{max-width:100%;height:auto}.note{color:#666;font-style:italic}
ul.why li{color:#c0392b}
"""


def _row(cells: Sequence[str], cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<tr{attr}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _table(head: Sequence[str], rows: Iterable[str]) -> str:
    h = "".join(f"<th>{html.escape(x)}</th>" for x in head)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _pass(ok: Any) -> str:
    return '<span class="ok">pass</span>' if ok else '<span class="bad">FAIL</span>'


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


def _header(data: RunData) -> str:
    ok = bool(data.results.get("ok"))
    verdict = "PASSED" if ok else "FAILED"
    facts = [
        ("model", data.results.get("model")),
        ("duration", seconds(data.results.get("total_s"))),
        ("started", data.meta.get("started")),
        ("seed", data.results.get("seed")),
        ("run", data.run.name),
    ]
    spans = "".join(
        f"<span>{html.escape(k)}: <b>{esc(v)}</b></span>" for k, v in facts if v not in (None, "")
    )
    scen = data.results.get("scenario")
    desc = scen.get("description") if isinstance(scen, dict) else ""
    return (
        f'<header><h1>Lab {esc(data.name)} <span class="verdict {verdict}">{verdict}</span></h1>'
        f'<div class="facts">{spans}</div>' + (f"<p>{esc(desc)}</p>" if desc else "") + "</header>"
    )


def _expectations(data: RunData) -> str:
    exps = data.list_of("expectations")
    if not exps:
        return (
            '<section id="expectations"><h2>Expectations</h2>'
            '<p class="note">no expectations in this scenario</p></section>'
        )
    met = sum(1 for e in exps if e.get("ok"))
    rows = [
        _row(
            [
                *(esc(e.get(k)) for k in ("name", "expected", "measured")),
                _pass(e.get("ok")),
                esc(e.get("text")),
            ],
            "" if e.get("ok") else "failed",
        )
        for e in exps
    ]
    return (
        f'<section id="expectations"><h2>Expectations: {met} of {len(exps)} met</h2>'
        + _table(["expectation", "expected", "measured", "pass", "what was measured"], rows)
        + "</section>"
    )


def _why(data: RunData) -> str:
    lines = why_lines(data)
    if data.results.get("ok") or not lines:
        return ""
    items = "".join(f"<li>{esc(x)}</li>" for x in lines)
    return f'<section id="why"><h2>Why it failed</h2><ul class="why">{items}</ul></section>'


def _parts(data: RunData) -> str:
    parts = data.results.get("parts")
    if not isinstance(parts, dict) or not parts:
        return ""
    rows = []
    for key, p in parts.items():
        p = p if isinstance(p, dict) else {}
        ok = bool(p.get("ok", True))
        verdict = "ok" if ok else "FAILED: " + "; ".join(text_of(r) for r in p.get("reasons") or [])
        cls = "ok" if ok else "bad"
        cells = [esc(key), esc(p.get("state")), f'<span class="{cls}">{esc(verdict)}</span>']
        rows.append(_row(cells, "" if ok else "failed"))
    return '<section id="parts"><h2>Parts</h2>' + _table(["part", "state", "verdict"], rows) + "</section>"


def _timeline(data: RunData) -> str:
    acts = data.list_of("timeline")
    if not acts:
        return ""
    rows = []
    for a in acts:
        what = a.get("do") or ".".join(text_of(a.get(k)) for k in ("part", "action"))
        args = a.get("with")
        rows.append(
            _row(
                [
                    esc(a.get("planned_s")),
                    esc(a.get("executed_s")),
                    esc(what) + (f" <small>{esc(args)}</small>" if args else ""),
                    _pass(a.get("ok", True)),
                    esc(a.get("state") or ""),
                    esc(a.get("error") or ""),
                ],
                "" if a.get("ok", True) else "failed",
            )
        )
    head = ["planned, s", "executed, s", "action", "pass", "state", "error"]
    return (
        '<section id="timeline"><h2>Timeline</h2><p class="note">Offsets in seconds on the timeline\'s clock '
        "(from the end of the start steps).</p>" + _table(head, rows) + "</section>"
    )


def _pictures(pics: list[Picture]) -> str:
    out = ['<section id="pictures"><h2>Pictures</h2>']
    for p in pics:
        if p.svg:
            out.append(f"<figure><figcaption>{esc(p.title)}</figcaption>{p.svg}</figure>")
        else:
            out.append(f'<p class="note"><b>{esc(p.title)}</b>: {esc(p.note)}</p>')
    out.append("</section>")
    return "\n".join(out)


def _event_row(e: Mapping[str, Any], t0: float) -> str:
    """One events.json record: a lab event (kind, severity, subject), an alert, or another EVE
    record (fw, block: kind from its type and action)."""
    t = parse_time(e.get("timestamp"))
    when = "–" if t is None else f"+{t - t0:.1f} s ({str(e.get('timestamp'))[11:19]})"
    detail, alert = _dict(e.get("detail")), _dict(e.get("alert"))
    action = str(detail.get("action") or detail.get("state") or "")
    kind = e.get("kind") or ".".join(x for x in (str(e.get("event_type") or ""), action) if x)
    sev = str(e.get("severity") or ("alarm" if e.get("event_type") == "alert" else "info"))
    subject = e.get("subject") or alert.get("signature") or detail.get("src_ip") or ""
    badge = f'<span class="sev-{html.escape(sev)}">{esc(sev)}</span>'
    return _row([esc(when), esc(e.get("sensor")), esc(kind), badge, esc(subject)])


def _events(data: RunData) -> str:
    evs = sorted(data.events, key=lambda e: str(e.get("timestamp", "")))
    if not evs:
        return '<section id="events"><h2>Events</h2><p class="note">no events recorded</p></section>'
    rows = [_event_row(e, data.t0) for e in evs[:MAX_EVENTS]]
    more = len(evs) - MAX_EVENTS
    note = f'<p class="note">{more} more events in events.json</p>' if more > 0 else ""
    return (
        f'<section id="events"><h2>Events ({len(evs)})</h2>'
        + _table(["time", "source", "kind", "severity", "subject"], rows)
        + note
        + "</section>"
    )


def _detail(data: RunData) -> str:
    if not data.report_md.strip():
        return '<section id="detail"><h2>Detail</h2><p class="note">no report.md in this run</p></section>'
    return f'<section id="detail"><h2>Detail (report.md)</h2>{markdown_html(data.report_md)}</section>'


def render(data: RunData) -> str:
    """The whole page."""
    verdict = "PASSED" if data.results.get("ok") else "FAILED"
    body = [
        _header(data),
        _expectations(data),
        _why(data),
        _parts(data),
        _pictures(pictures(data)),
        _timeline(data),
        _events(data),
        _detail(data),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(data.name)}: {verdict}</title><style>{CSS}</style></head>\n<body>\n"
        + "\n".join(b for b in body if b)
        + "\n</body></html>\n"
    )


def write_html(run_dir: Path) -> Path:
    """Write `<run>/report.html` from the run directory; its path."""
    data = load_run(Path(run_dir))
    path = data.run / REPORT_HTML
    path.write_text(render(data), encoding="utf-8")
    return path
