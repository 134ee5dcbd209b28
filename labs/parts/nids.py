"""NIDS sensors as a part: sensors on the pair's links and the DMZ for the whole lab, blocks pushed
to the firewalls (over the device CLI's management SSH when monitoring publishes `device_cli`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apps.traffic import portal_of
from ids.nids.lab import LabNids
from labs.parts.base import LabContext, Part
from labs.parts.registry import register
from monitors.devcli import CliPush


@register
class Nids(Part):
    key = "ids"
    steps = ((30, "start"),)
    result_path = ("nids",)

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.nids: LabNids | None = None
        self.push: CliPush | None = None
        self.final: dict[str, Any] | None = None
        self.ctx: LabContext | None = None

    @classmethod
    def default(cls) -> Any:
        return False

    def start(self, ctx: LabContext) -> None:
        self.ctx = ctx
        cli = ctx.services.get("device_cli")
        self.push = CliPush(ctx.emu, cli[0], cli[1]) if cli is not None else None
        self.nids = LabNids(
            ctx.emu,
            ctx.run,
            log=ctx.log,
            push=self.push.push if self.push is not None else None,
            on_event=ctx.emit,  # a sensor that dropped packets says so itself (ids.kernel_drops)
            trusted_proxies=portal_proxies(ctx),
        )
        self.nids.start()
        super().start(ctx)

    def stop(self) -> None:
        nids, self.nids = self.nids, None
        try:
            if nids is not None:
                nids.stop()
                self.final = nids.summary()  # (its alerts and blocks went to the bus as they came)
        finally:
            if self.push is not None:
                self.push.close()
                self.push = None
            super().stop()

    def summary(self) -> Any:
        return self.final

    def report_lines(self, metrics: Mapping[str, Any]) -> list[str]:
        n = metrics.get("nids")
        if not n:
            return []
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


def portal_proxies(ctx: LabContext) -> list[str]:
    """The DMZ portal's address when the lab runs the services: it is the citizens' reverse proxy,
    so its forwarded requests carry their payloads; alerts on them stay, it is never blocked."""
    portal = portal_of(ctx.net) if ctx.scenario.get("traffic") is not None else None
    return [str(portal.addr).split("/")[0]] if portal is not None and portal.addr else []
