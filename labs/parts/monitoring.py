"""Monitoring as a part: the metrics store, the SNMP poller, the device CLI and the kernel link
counters for the whole lab. Publishes `metrics_sink` (points to the store) and `device_cli` (the
NOC's management-SSH access) on the service board; a summary with a few PromQL answers at the end."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import Any

from govnet.events import Event
from govnet.tsdb import Store
from govnet.tsdb_writer import Writer
from labs.parts.base import LabContext, Part
from labs.parts.registry import register
from monitors.collector import LabMonitor


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

    def stop(self) -> None:
        if self.ctx is None:
            return
        ctx, self.ctx = self.ctx, None
        ctx.services.pop("metrics_sink", None)
        ctx.services.pop("device_cli", None)
        try:
            if self.monitor is not None:
                self.monitor.stop()
        finally:
            if self.writer is not None:
                stats = self.writer.close()
                self.info["points_written"] = stats.sent
                self.info["points_dropped"] = stats.dropped
                if stats.dropped:
                    ctx.emit(
                        Event(
                            self.key,
                            "monitor.gap",
                            f"{stats.dropped} points dropped",
                            {"dropped_points": stats.dropped},
                        )
                    )
            if self.monitor is not None:
                self.info["points_by_measurement"] = dict(sorted(self.monitor.counts.items()))
            if self.store is not None:
                self.info["queries"] = metric_queries(self.store, max(10, int(time.time() - self.t0) + 5))
            super().stop()

    def summary(self) -> Any:
        return self.info

    def report_lines(self, metrics: Mapping[str, Any]) -> list[str]:
        m = {k: metrics[k] for k in self.info if k in metrics}
        if not m:
            return []
        lines = ["## Metrics", "", f"Store: {m.get('store', '?')} (PromQL at /api/v1/query)", ""]
        lines += [f"- {k}: {v}" for k, v in m.items() if k not in ("store", "queries")]
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
