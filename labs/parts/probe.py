"""The smallest real part (docs/parts.md walks through it): pings from one host to another for the
whole lab and reports the replies lost and the longest silence. `probe: {src: A, dst: B}`; the lab
fails when more than `max_loss` (default 0.5) of the pings went unanswered."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from typing import Any

from govnet.errors import Problem
from govnet.supervise import stop_process
from labs.parts.base import LabContext, Part, Verdict
from labs.parts.registry import register
from topology.model import Network
from topology.schema import REQUIRED, Checker_, json_schema_of, name_field, obj

INTERVAL_S = 0.2


def _share(v: Checker_, value: Any, path: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        v.err(path, "must be a number from 0 to 1", value, "e.g. 0.05 for 5 %")
    return value


@register
class Probe(Part):
    key = "probe"
    steps = ((15, "start"),)  # early: it watches everything that follows
    result_path = ("probe",)
    SCHEMA = obj({"src": (name_field, REQUIRED), "dst": (name_field, REQUIRED), "max_loss": (_share, 0.5)})

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.proc: subprocess.Popen[str] | None = None
        self.result: dict[str, Any] | None = None

    @classmethod
    def parse(cls, v: Checker_, value: Any, path: str) -> Any:
        return None if value is None else cls.SCHEMA(v, value, path)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        return json_schema_of(cls.SCHEMA)

    def validate(self, net: Network, source: str) -> list[Problem]:
        hosts = {n.name for n in net.nodes if n.is_host}
        return [
            Problem(
                source,
                f"probe.{end}",
                "no such host in the model",
                self.config[end],
                "see 'govnet topo show'",
            )
            for end in ("src", "dst")
            if self.config[end] not in hosts
        ]

    def start(self, ctx: LabContext) -> None:
        ip = ctx.net.node(self.config["dst"]).addr.split("/")[0]
        argv = ["ping", "-n", "-i", str(INTERVAL_S), "-W", "1", ip]
        self.proc = ctx.emu.node(self.config["src"]).popen(argv, stdout=subprocess.PIPE, text=True)
        super().start(ctx)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        stop_process(proc)
        out = proc.stdout.read() if proc.stdout is not None else ""
        self.result = probe_result(out)
        super().stop()

    def verdict(self) -> Verdict:
        r = self.result
        if r is not None and r["sent"] and r["lost"] / r["sent"] > self.config["max_loss"]:
            return Verdict(
                False,
                [f"probe {self.config['src']} -> {self.config['dst']}: {r['lost']} of {r['sent']} lost"],
            )
        return super().verdict()

    def summary(self) -> Any:
        return self.result

    def report_lines(self, metrics: Mapping[str, Any]) -> list[str]:
        r = metrics.get("probe")
        if not r:
            return []
        return [
            "## Probe",
            "",
            f"{self.config['src']} -> {self.config['dst']} every {INTERVAL_S:g} s: {r['sent']} pings, "
            f"{r['lost']} lost, longest silence {r['longest_gap_s']:.1f} s.",
            "",
        ]


def probe_result(ping_output: str) -> dict[str, Any]:
    """Pings sent and lost and the longest run of lost ones, from `ping -n -i INTERVAL_S` output."""
    seqs = sorted({int(m) for m in re.findall(r"icmp_seq=(\d+)", ping_output)})
    sent = seqs[-1] if seqs else 0
    gaps = [b - a - 1 for a, b in zip([0, *seqs], seqs, strict=False)]
    return {"sent": sent, "lost": sent - len(seqs), "longest_gap_s": max(gaps, default=0) * INTERVAL_S}
