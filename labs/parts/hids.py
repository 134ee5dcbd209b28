"""HIDS agents as a part: on the service hosts, guarding the files the running services publish as
`hids_watch` (key files, new listening ports, setuid files) while the working day plays. Enabled
by `hids: true`, or by default when the scenario has both `ids: true` and `traffic`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from govnet.events import Event
from ids.hids.lab import LabHids
from labs.parts.base import LabContext, Part
from labs.parts.registry import register
from topology.model import Network
from topology.schema import Checker_, bool_field


@register
class Hids(Part):
    key = "hids"
    steps = ((65, "start"), (74, "stop"))
    result_path = ("apps", "hids")

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.agents: LabHids | None = None
        self.final: dict[str, Any] | None = None
        self.ctx: LabContext | None = None

    @classmethod
    def parse(cls, v: Checker_, value: Any, path: str) -> Any:
        return None if value is None else bool_field(v, value, path)

    @classmethod
    def wanted(cls, scenario: Mapping[str, Any], net: Network) -> bool:
        own = scenario.get(cls.key)
        return (
            bool(own)
            if own is not None
            else bool(scenario.get("ids")) and scenario.get("traffic") is not None
        )

    def start(self, ctx: LabContext) -> None:
        self.ctx = ctx
        watch = ctx.services.get("hids_watch")
        if watch is None:
            raise RuntimeError("HIDS needs the services running (a 'traffic' section) to know what to guard")
        self.agents = LabHids(ctx.emu, ctx.run, watch(), log=ctx.log)
        self.agents.__enter__()
        super().start(ctx)

    def stop(self) -> None:
        agents, self.agents = self.agents, None
        if agents is None:
            return
        try:
            agents.__exit__(None, None, None)
        finally:
            super().stop()
        self.final = agents.summary()
        if self.ctx is not None:
            for host, n in self.final["alerts"].items():
                if n:
                    self.ctx.emit(
                        Event(
                            self.key,
                            "hids.alert",
                            host,
                            {"alerts": n, "signatures": self.final["signatures"]},
                        )
                    )

    def summary(self) -> Any:
        return self.final
