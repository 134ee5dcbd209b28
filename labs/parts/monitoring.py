"""Monitoring as a part: the metrics store, the SNMP poller, the device CLI and the kernel link
counters for the whole lab. Publishes `metrics_sink` (points to the store) and `device_cli` (the
NOC's management-SSH access) on the service board; a summary with a few PromQL answers at the end.
At stop it exports the series the HTML report draws (link rates per direction, firewall sessions per
member, poller cycle times) to `<run>/metrics/series.json`, since the store is shared and outlives the
run."""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from govnet.events import Event
from govnet.tsdb import Store
from govnet.tsdb_writer import Writer
from labs.parts.base import LabContext, Part, text_of
from labs.parts.registry import register
from labs.plots import SERIES_FILE
from monitors.collector import LabMonitor
from topology.model import Network


@register
class Monitoring(Part):
    key = "monitor"
    steps = ((20, "start"),)
    result_path = ()  # its figures sit at the top of results.json's metrics (store, points_*, queries)

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.store: Store | None = None
        self.writer: Writer | None = None
        self.monitor: LabMonitor | None = None
        self.ctx: LabContext | None = None
        self.info: dict[str, Any] = {}
        self.t0 = 0.0
        self.store_stopped: float | None = None  # monotonic time of a store_stop not yet undone

    @classmethod
    def default(cls) -> Any:
        return True

    def start(self, ctx: LabContext) -> None:
        self.ctx = ctx
        self.store = Store()
        self.store.up()
        self.info["store"] = self.store.url
        ctx.log(f"metrics store at {self.store.url}")
        self.writer = Writer(self.store.url, spill_dir=ctx.run / "spill")
        self.monitor = LabMonitor(ctx.emu, ctx.run, self.writer, log=ctx.log, on_event=ctx.emit)
        self.t0 = time.time()
        self.monitor.start()
        ctx.services["metrics_sink"] = self.writer.write
        ctx.services["device_cli"] = self.monitor.cli_access()
        super().start(ctx)

    # --- actions: an outage of the metrics store ---------------------------------------------
    def store_stop(self) -> str:
        """Stop the metrics store (its process, as a crash would): the writer keeps the points
        (memory, then spill files) and sends them when the store is back."""
        if self.store is None:
            raise RuntimeError("the monitoring is not running")
        url = self.store.url
        if not self.store.down():
            raise RuntimeError(f"the metrics store at {url} was not running")
        self.store.port = int(url.rsplit(":", 1)[1])  # it comes back where the writer sends
        self.store_stopped = time.monotonic()
        return f"metrics store at {self.store.url} stopped"

    def store_start(self) -> str:
        """Start the metrics store again (same data directory): the writer catches up."""
        if self.store is None:
            raise RuntimeError("the monitoring is not running")
        self.store.up()
        down = time.monotonic() - self.store_stopped if self.store_stopped is not None else None
        self.store_stopped = None
        if down is not None:
            self.info["store_outage_s"] = round(self.info.get("store_outage_s", 0.0) + down, 3)
        return f"metrics store at {self.store.url} up again"

    def actions(self) -> Mapping[str, Callable[..., Any]]:
        return {"store_stop": self.store_stop, "store_start": self.store_start}

    def stop(self) -> None:
        if self.ctx is None:
            return
        ctx, self.ctx = self.ctx, None
        ctx.services.pop("metrics_sink", None)
        ctx.services.pop("device_cli", None)
        if self.store is not None and self.store_stopped is not None:
            with contextlib.suppress(Exception):  # a timeline that left the store down: the points wait
                self.store_start()
        try:
            if self.monitor is not None:
                self.monitor.stop()
        finally:
            if self.writer is not None:
                stats = self.writer.close()
                self.info["points_written"] = stats.sent
                # a point still in the writer's memory or spill files never reached the store
                self.info["points_dropped"] = stats.dropped + stats.pending
                if stats.pending:
                    ctx.emit(
                        Event(
                            self.key,
                            "monitor.gap",
                            f"{stats.pending} points never reached the store (kept in {ctx.run / 'spill'})",
                            {"unsent_points": stats.pending},
                        )
                    )
                said = self.monitor.dropped_reported if self.monitor is not None else 0
                if stats.dropped > said:  # lost while the writer closed (the monitor said the rest)
                    lost = stats.dropped - said
                    ctx.emit(
                        Event(self.key, "monitor.gap", f"{lost} points dropped", {"dropped_points": lost})
                    )
            if self.monitor is not None:
                self.info["points_by_measurement"] = dict(sorted(self.monitor.counts.items()))
            if self.store is not None:
                self.info["queries"] = metric_queries(self.store, max(10, int(time.time() - self.t0) + 5))
                self._export_series(ctx)
            super().stop()

    def _export_series(self, ctx: LabContext) -> None:
        """metrics/series.json for the report; a failure is a warning and a `monitor.gap` event."""
        assert self.store is not None
        try:
            path, errors = export_series(self.store, ctx.net, ctx.run, self.t0, time.time())
        except Exception as exc:
            text = f"the report's series were not exported: {type(exc).__name__}: {exc}"[:300]
            ctx.log(f"warning: {text}")
            ctx.emit(Event(self.key, "monitor.gap", text, {"file": SERIES_FILE}))
            return
        ctx.log(f"series for the report: {path}")
        with contextlib.suppress(OSError, ValueError):
            self.info["peak_utilisation"] = peak_utilisation(json.loads(path.read_text()))
        if errors:
            text = f"some of the report's series were not exported: {'; '.join(errors)}"[:300]
            ctx.log(f"warning: {text}")
            ctx.emit(Event(self.key, "monitor.gap", text, {"file": SERIES_FILE, "errors": errors}))

    def summary(self) -> Any:
        return self.info

    def report_lines(self, metrics: Mapping[str, Any]) -> list[str]:
        m = {k: metrics[k] for k in self.info if k in metrics}
        if not m:
            return []
        lines = ["## Metrics", "", f"Store: {m.get('store', '?')} (PromQL at /api/v1/query)", ""]
        lines += [
            f"- {k.replace('_', ' ')}: {text_of(v)}" for k, v in m.items() if k not in ("store", "queries")
        ]
        lines += ["", "| PromQL | answer |", "| --- | --- |"]
        lines += [f"| `{q}` | {a} |" for q, a in m.get("queries", {}).items()]
        lines.append("")
        return lines


def metric_queries(store: Store, window_s: int) -> dict[str, str]:
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


# --- the report's series --------------------------------------------------------------------------
MAX_POINTS = 600  # per series in metrics/series.json
SERIES_QUERIES = {
    # per link end: what the node sends on the link, i.e. one direction of the link, in Mbit/s
    "links": 'max by (link, node) (iface_tx_bps{source="kernel"}) / 1e6',
    "firewall_sessions": "max by (node) (fw_sessions)",
    "poller_cycle_s": "max by (poller) (poller_cycle_s)",
}


def series_step(start: float, end: float, max_points: int = MAX_POINTS) -> float:
    """A whole number of seconds (at least 1) that gives at most `max_points` points over the span."""
    span = max(0.0, end - start)
    return float(max(1, math.ceil(span / max(1, max_points - 1))))


def _num(v: Any) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _points(values: Any, start: float, max_points: int) -> list[list[float]]:
    """[[seconds after start, value], ...] from a query_range result's values, rounded to keep the
    file small; NaN and unparsable samples are left out."""
    out: list[list[float]] = []
    for item in values or []:
        try:
            t, v = _num(item[0]), _num(item[1])
        except (TypeError, IndexError):
            continue
        if t is None or v is None:
            continue
        out.append([round(t - start, 1), float(f"{v:.4g}")])
    return out[:max_points]


def shape_series(
    store: Any, net: Network | None, start: float, end: float, max_points: int = MAX_POINTS
) -> dict[str, Any]:
    """The content of metrics/series.json: the series of SERIES_QUERIES over [start, end], with the
    links' directions and capacities from the model. A query that fails leaves its list empty and
    its error in `errors` (the rest is still exported)."""
    step = series_step(start, end, max_points)
    links = {lk.name: lk for lk in net.links} if net is not None else {}
    doc: dict[str, Any] = {
        "version": 1,
        "start": round(start, 3),
        "end": round(end, 3),
        "step_s": step,
        "units": "t in seconds after start (Unix time); links in Mbit/s sent by `from`",
        "links": [],
        "firewall_sessions": [],
        "poller_cycle_s": [],
        "errors": [],
    }
    for key, promql in SERIES_QUERIES.items():
        try:
            result = store.query_range(promql, start, end, step)
        except Exception as exc:
            doc["errors"].append(f"{key}: {type(exc).__name__}: {exc}"[:300])
            continue
        rows: list[dict[str, Any]] = []
        for r in result:
            labels = r.get("metric") or {}
            pts = _points(r.get("values"), start, max_points)
            if not pts:
                continue
            if key == "links":
                name, node = str(labels.get("link", "")), str(labels.get("node", ""))
                if not name or not node:
                    continue
                lk = links.get(name)
                peer = "" if lk is None else (lk.b if lk.a == node else lk.a)
                cap = None if lk is None else float(lk.bw_mbps)
                rows.append({"link": name, "from": node, "to": peer, "capacity_mbps": cap, "points": pts})
            elif key == "firewall_sessions":
                rows.append({"member": str(labels.get("node", "")), "points": pts})
            else:
                rows.append({"poller": str(labels.get("poller", "")), "points": pts})
        first = "link" if key == "links" else ("member" if key == "firewall_sessions" else "poller")
        doc[key] = sorted(rows, key=lambda row: (row[first], row.get("from", "")))
    return doc


def export_series(
    store: Any, net: Network | None, run: Path, start: float, end: float
) -> tuple[Path, list[str]]:
    """Write metrics/series.json in the run directory (see shape_series): its path, and the errors
    of the queries that failed."""
    doc = shape_series(store, net, start, end)
    path = run / SERIES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    return path, list(doc["errors"])


def peak_utilisation(doc: Mapping[str, Any], top: int | None = None) -> dict[str, float]:
    """Every link of a series document (or the `top` busiest): link -> its highest rate in either
    direction as a share of its capacity (0.42 is 42 %), busiest first."""
    peak: dict[str, float] = {}
    for row in doc.get("links") or []:
        cap = row.get("capacity_mbps")
        if not isinstance(cap, int | float) or cap <= 0:
            continue
        rates = [p[1] for p in row.get("points") or [] if isinstance(p, list | tuple) and len(p) == 2]
        if rates:
            share = max(float(r) for r in rates) / float(cap)
            peak[str(row["link"])] = max(peak.get(str(row["link"]), 0.0), round(share, 4))
    return dict(sorted(peak.items(), key=lambda kv: (-kv[1], kv[0]))[:top])
