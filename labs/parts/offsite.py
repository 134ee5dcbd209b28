"""The night's off-site backup copy as a part (labs/offsite.py does the copy): the lab fails, and
its report says why, when the copy does not arrive intact."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from govnet.events import Event
from labs.offsite import parse_offsite, run_offsite
from labs.parts.base import LabContext, Part, Verdict, parse_section
from labs.parts.registry import register
from topology.schema import Checker_


@register
class Offsite(Part):
    key = "offsite"
    steps = ((90, "run"),)
    result_path = ("offsite",)

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.doc: dict[str, Any] | None = None
        self.ctx: LabContext | None = None

    @classmethod
    def parse(cls, v: Checker_, value: Any, path: str) -> Any:
        return parse_section(v, value, path, parse_offsite)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "size_mb": {"type": "number", "exclusiveMinimum": 0, "default": 20},
                "share": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.5},
            },
            "additionalProperties": False,
            "description": "one off-site copy of the service databases over the emulated network",
        }

    def start(self, ctx: LabContext) -> None:
        self.ctx = ctx
        super().start(ctx)

    def run(self, ctx: LabContext) -> None:
        """The night's copy, unless the timeline made one already (a backup window)."""
        if self.doc is None:
            self.copy()

    def copy(self, size_mb: float | None = None, share: float | None = None) -> dict[str, Any]:
        """One copy now (also a timeline action: a backup window)."""
        ctx = self.ctx
        assert ctx is not None
        size = size_mb if size_mb is not None else self.config["size_mb"]
        doc = run_offsite(ctx.emu, ctx.run, size, share if share is not None else self.config["share"])
        self.doc = doc
        p = doc["plan"]
        ctx.log(
            f"offsite: {p['bytes'] / 1e6:.1f} MB {p['source']} -> {p['destination']} at {doc['mbps']} Mbit/s "
            f"(paced to {p['rate_mbps']:g}): {'verified' if doc['ok'] else 'FAILED'}"
        )
        if not doc["ok"]:
            ctx.emit(
                Event(self.key, "offsite.failed", f"{p['source']} -> {p['destination']}", {"why": why(doc)})
            )
        return doc

    def actions(self) -> Mapping[str, Callable[..., Any]]:
        return {"copy": self.copy}

    def verdict(self) -> Verdict:
        if self.error:
            return Verdict(False, [f"off-site copy: {self.error}"])
        if self.doc is None:
            return Verdict(False, ["the off-site copy did not run"])
        return Verdict(True) if self.doc["ok"] else Verdict(False, [f"off-site copy failed: {why(self.doc)}"])

    def summary(self) -> Any:
        return self.doc

    def report_lines(self, metrics: Mapping[str, Any]) -> list[str]:
        o = metrics.get("offsite")
        if not o:
            return []
        p = o["plan"]
        lines = [
            "## Off-site backup copy",
            "",
            f"{p['bytes'] / 1e6:.1f} MB from {p['source']} to {p['destination']} "
            f"over {' > '.join(p['path'])}; "
            f"bottleneck {p['bottleneck_mbps']:g} Mbit/s, paced to {p['rate_mbps']:g}; took {o['wall_s']} s "
            f"({o['mbps']} Mbit/s); {'verified (SHA-256)' if o['ok'] else 'FAILED: ' + why(o)}.",
            "",
            "| link on the path | capacity | Mbit/s during the copy |",
            "| --- | --- | --- |",
        ]
        lines += [f"| {lk['link']} | {lk['capacity_mbps']:g} | {lk['mbps']} |" for lk in o["links"]]
        lines.append("")
        return lines


def why(doc: Mapping[str, Any]) -> str:
    """The reason a copy failed, in words (the transfer's error, else its whole result)."""
    res = doc.get("result") or {}
    return str(res.get("error") or res.get("reason") or res) if isinstance(res, dict) else str(res)
