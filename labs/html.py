"""A lab run's report as one self-contained HTML page: `<run>/report.html`.

Built from the run directory alone (results.json, run.json, events.json, report.md, nids/*.json,
audit.db, apps/ops.jsonl, metrics/series.json), so `govnet lab report RUN_DIR` can rebuild it for a
stored run. First screen: lab, model, verdict, duration, the expectations (expected, measured,
pass), why it failed, the parts; then the pictures (inline SVG, each only when its data exists,
otherwise a note), the timeline, the events and the detail (report.md as HTML). No external URL,
script or font: the page works offline and from a mail attachment. Every text is escaped.
The run is read by labs.rundata, its pictures drawn by labs.pictures, its text made by labs.markdown.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from labs.markdown import esc, markdown_html, seconds, text_of
from labs.pictures import Picture, pictures
from labs.rundata import RunData, as_dict, load_run, parse_time, why_lines

REPORT_HTML = "report.html"
MAX_EVENTS = 400  # rows of the events table; the rest are counted


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
    detail, alert = as_dict(e.get("detail")), as_dict(e.get("alert"))
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
