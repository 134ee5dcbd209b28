"""OA, approval and background traffic as a part: the services start in their hosts, the working
day plays, the numbers are collected when they stop. Publishes `hids_watch` (the files a HIDS
should guard on each service host); actions `restart` (a crash and a restart) and `play`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from apps.lab import AppsLab, TrafficSpec, parse_traffic
from govnet.events import Event
from labs.parts.audit import login_counts
from labs.parts.base import LabContext, Part, parse_section, text_of
from labs.parts.registry import register
from topology.schema import Checker_


@register
class Traffic(Part):
    key = "traffic"
    steps = ((60, "start"), (70, "run"), (75, "stop"))
    result_path = ("apps",)

    def __init__(self, config: TrafficSpec) -> None:
        super().__init__(config)
        self.apps: AppsLab | None = None
        self.ctx: LabContext | None = None
        self.final: dict[str, Any] | None = None

    @classmethod
    def parse(cls, v: Checker_, value: Any, path: str) -> Any:
        return parse_section(v, value, path, parse_traffic)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        hours = {"type": "number", "minimum": 0, "maximum": 24}
        limit = {"type": "number", "exclusiveMinimum": 0}
        return {
            "type": "object",
            "properties": {
                "start_hour": {**hours, "default": 8},
                "hours": {**hours, "exclusiveMinimum": 0, "default": 10},
                "limits_hours": {
                    "type": "object",
                    "properties": {"accept": limit, "review": limit, "final": limit},
                    "additionalProperties": False,
                },
            },
            # the app classes, users and time compression of apps.traffic (docs/apps.md)
            "additionalProperties": True,
            "description": "a working day of OA and approval users, compressed in time",
        }

    def start(self, ctx: LabContext) -> None:
        self.ctx = ctx
        self.apps = AppsLab(ctx.emu, ctx.run, self.config, log=ctx.log, sink=ctx.write_points)
        self.apps.__enter__()
        ctx.services["hids_watch"] = self.apps.hids_watch
        super().start(ctx)

    def run(self, ctx: LabContext) -> None:
        assert self.apps is not None
        self.apps.play()

    def stop(self) -> None:
        apps, self.apps = self.apps, None
        if apps is None:
            return
        try:
            apps.__exit__(None, None, None)
        finally:
            if self.ctx is not None:
                self.ctx.services.pop("hids_watch", None)
            super().stop()
        self.final = apps.summary or None
        errors = (self.final or {}).get("users", {}).get("errors", 0)
        if errors and self.ctx is not None:
            self.ctx.emit(Event(self.key, "traffic.errors", f"{errors} user operations failed", {}))

    def _restart(self, service: str, down_s: float = 2.0) -> None:
        if self.apps is None:
            raise RuntimeError("the services are not running")
        self.apps.restart(service, down_s)

    def actions(self) -> Mapping[str, Callable[..., Any]]:
        return {"restart": self._restart}

    def summary(self) -> Any:
        return self.final

    def report_lines(self, metrics: Mapping[str, Any]) -> list[str]:
        a = metrics.get("apps")
        return traffic_lines(a) if a else []


def traffic_lines(a: Mapping[str, Any]) -> list[str]:
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
            f"logins {text_of(oa['logins'])}, tamper alerts {oa['tamper_alerts']}"
        )
    if "approval" in svc:
        ap = svc["approval"]
        states = ", ".join(f"{k} {v}" for k, v in sorted(ap["by_state"].items()))
        lines.append(
            f"- Approval: {ap['applications']} applications ({states}), {ap['completed']} completed "
            f"(mean {ap['completion_mean_s']} s), {ap['escalations']} escalations, "
            f"{ap['overdue_open_steps']} steps overdue at the end, {ap['receipts_sent']} receipts mailed, "
            f"logins {text_of(ap['logins'])}"
        )
    hi = a.get("hids")
    if hi:
        lines.append(
            f"- HIDS on {', '.join(hi['servers'])} (key files, new ports, setuid): "
            f"alerts {text_of(hi['alerts'])}"
            + (f" ({'; '.join(hi['signatures'])})" if hi["signatures"] else "")
        )
    au = a.get("audit")
    if au:
        lines.append(
            f"- Login audit: {login_counts(au['login_records'])} in the hash-chained ledger `{au['ledger']}` "
            f"({'intact' if au['intact'] else 'BROKEN'}); policy decisions: {len(au['decisions'])}"
        )
    lines.append("")
    return lines
