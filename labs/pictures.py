"""The pictures of a lab run's page: one inline SVG per figure whose data the run holds (the network
by peak load, link utilisation, IDS alerts, failed logins, firewall sessions, poller cycles, the
off-site copy, HSM tiers), otherwise a note saying what is missing or why drawing failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from labs import plots
from labs.markdown import text_of
from labs.plots import SERIES_FILE, Marker
from labs.rundata import (
    RunData,
    alert_times,
    as_dict,
    host_names,
    login_failures,
    read_json,
    timeline_markers,
)

log = logging.getLogger("govnet.labs.report")

BUSIEST_LINKS = 5
MAX_SIGNATURES = 8  # alert lines; the rest are summed as "other signatures"


def _series(data: RunData) -> dict[str, Any] | None:
    doc = read_json(data.run / SERIES_FILE)
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
    for row in as_dict(_series(data)).get("links") or []:
        cap, link = row.get("capacity_mbps"), row.get("link")
        if not isinstance(cap, int | float) or cap <= 0 or not isinstance(link, str):
            continue
        pts = _pts(row, 0.0, 1.0 / cap)
        if pts:
            loads[link] = max(loads.get(link, 0.0), max(v for _, v in pts))
    failed = [
        str(as_dict(r.get("with")).get("link"))
        for r in data.list_of("timeline")
        if r.get("do") == "links.cut" and r.get("state") == "done" and as_dict(r.get("with")).get("link")
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
