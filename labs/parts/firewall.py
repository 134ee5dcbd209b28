"""The active/active firewall pair as a part: its controller for the whole lab (when the model has
a pair), its alarms as events, and the members' faults as actions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from firewall import Pair, pair_plan
from govnet.events import Event, record_time
from labs.parts.base import ActionProblem, LabContext, Part, PartStatus
from labs.parts.registry import register
from topology.model import Network

ALARM_KINDS = {"parity_drift": "fw.drift", "split_brain": "fw.split_brain"}


@register
class FirewallPair(Part):
    key = "firewall"
    steps = ((10, "start"),)
    result_path = ("firewall_pair",)

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.pair: Pair | None = None
        self.ctx: LabContext | None = None
        self.final: dict[str, Any] | None = None

    @classmethod
    def default(cls) -> Any:
        return True

    @classmethod
    def wanted(cls, scenario: Mapping[str, Any], net: Network) -> bool:
        return bool(scenario.get(cls.key)) and pair_plan(net) is not None

    def start(self, ctx: LabContext) -> None:
        plan = pair_plan(ctx.net)
        assert plan is not None
        self.ctx = ctx
        self.pair = Pair(ctx.emu, plan, ctx.run, events=ctx.bus.log_file, log=ctx.log)
        self.pair.start()
        self.pair.sink = ctx.write_points
        super().start(ctx)

    def stop(self) -> None:
        if self.pair is None:
            return
        pair, self.pair = self.pair, None
        try:
            self.final = pair.status()
            pair.sink = None
            self._alarm_events(pair.history)
        finally:
            pair.stop()
            super().stop()

    def _alarm_events(self, history: list[dict[str, Any]]) -> None:
        """The controller's alarms and failovers as lab events; a failover keeps the time it happened
        (so an expectation can time it from a timeline action)."""
        assert self.ctx is not None
        for rec in history:
            d = rec.get("detail", {})
            if d.get("action") in ("failover", "recovered"):
                member = str(d.get("member", "?"))
                subject = (
                    f"{member} out of service" if d["action"] == "failover" else f"{member} healthy again"
                )
                wall, mono = record_time(rec)
                self.ctx.emit(Event(self.key, "fw.failover", subject, d, wall=wall, mono=mono))
                continue
            if d.get("action") != "alarm":
                continue
            name = str(d.get("alarm", "?"))
            subject = str(
                d.get("member") or ", ".join(self.ctx.net.node(m).name for m in d.get("digests", {}))
            )
            self.ctx.emit(Event(self.key, ALARM_KINDS.get(name, "fw.alarm"), f"{name} {subject}".strip(), d))

    def status(self) -> PartStatus:
        st = super().status()
        if self.pair is not None:
            st.detail = self.pair.status()
        return st

    def _member(self, op: str) -> Callable[[str], Any]:
        def act(member: str) -> Any:
            if self.pair is None:
                raise RuntimeError("the firewall pair is not running")
            return getattr(self.pair, op)(member)

        return act

    def actions(self) -> Mapping[str, Callable[..., Any]]:
        return {op: self._member(op) for op in ("crash", "restore", "drain", "add")}

    def action_problems(self, verb: str, args: Mapping[str, Any], net: Network) -> list[ActionProblem]:
        plan = pair_plan(net)
        names = list(plan.names) if plan is not None else []
        if "member" not in args or args["member"] in names:
            return []
        return [
            ActionProblem(
                "member",
                "is not a member of the firewall pair",
                args["member"],
                f"use one of: {', '.join(names)}",
            )
        ]

    def summary(self) -> Any:
        return self.final

    def report_lines(self, metrics: Mapping[str, Any]) -> list[str]:
        fw = metrics.get("firewall_pair")
        if not fw:
            return []
        lines = ["## Firewall pair", "", "| member | state | slot share | load share | sessions | healthy |"]
        lines += ["| --- | --- | --- | --- | --- | --- |"]
        lines += [
            f"| {m['name']} | {m['state']} | {m['slot_share']:.0%} | {m['load_share']:.0%} | {m['sessions']} "
            f"| {'yes' if m['healthy'] else 'no'} |"
            for m in fw["members"]
        ]
        lines += ["", f"State sync: {fw['sync']['state']}; alarms: {', '.join(fw['alarms']) or 'none'}", ""]
        return lines
