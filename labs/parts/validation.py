"""Simulator against emulator as a part: the same flows measured in the emulated network and
predicted by the flow simulator (labs/validate.py); the lab fails when they disagree beyond the
scenario's bound (`validate: true` uses a 10 % mean relative error, the requirements' figure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from govnet.events import Event
from labs.parts.base import LabContext, Part, Verdict
from labs.parts.registry import register
from labs.validate import run_validation
from topology.schema import Checker_

DEFAULT_BOUND = 0.10


@register
class Validation(Part):
    key = "validate"
    steps = ((50, "run"),)
    result_path = ("validation",)

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.doc: dict[str, Any] | None = None

    @classmethod
    def default(cls) -> Any:
        return False

    @classmethod
    def parse(cls, v: Checker_, value: Any, path: str) -> Any:
        """`true`, `false`, or `{max_mean_relative_error: 0.1}`."""
        if isinstance(value, bool):
            return {"max_mean_relative_error": DEFAULT_BOUND} if value else False
        if isinstance(value, dict):
            out = {"max_mean_relative_error": DEFAULT_BOUND}
            for k, x in value.items():
                if k != "max_mean_relative_error":
                    v.err(f"{path}.{k}", "unknown key", k, "use max_mean_relative_error")
                elif isinstance(x, bool) or not isinstance(x, int | float) or not 0 < x <= 10:
                    v.err(f"{path}.{k}", "must be a number in (0, 10] (0.1 is 10 %)", x)
                else:
                    out[k] = float(x)
            return out
        v.err(path, "must be true, false or {max_mean_relative_error: N}", value, "e.g. validate: true")
        return False

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        bound = {
            "type": "object",
            "properties": {
                "max_mean_relative_error": {"type": "number", "exclusiveMinimum": 0, "maximum": 10}
            },
            "additionalProperties": False,
        }
        return {
            "anyOf": [{"type": "boolean"}, bound],
            "description": "simulator vs emulator on the same flows",
        }

    def run(self, ctx: LabContext) -> None:
        ctx.log("validation: the same flows in the emulator and the simulator")
        self.doc = doc = run_validation(ctx.emu)
        rel = doc["mean_relative_error"]
        ctx.log(
            f"validation: {len(doc['links'])} links in use, mean utilisation error "
            f"{doc['mean_utilisation_error']:.2%}, mean relative error "
            + (f"{rel:.1%}" if rel is not None else "-")
        )
        bound = self.config["max_mean_relative_error"]
        doc["max_mean_relative_error"] = bound
        if rel is not None and rel > bound:
            ctx.emit(
                Event(
                    self.key, "validation.out_of_bounds", f"mean relative error {rel:.1%} > {bound:.0%}", {}
                )
            )

    def verdict(self) -> Verdict:
        if self.doc is None:
            return Verdict(False, [self.error or "the validation did not run"])
        rel, bound = self.doc["mean_relative_error"], self.config["max_mean_relative_error"]
        if rel is not None and rel > bound:
            return Verdict(False, [f"simulator vs emulator: mean relative error {rel:.1%} above {bound:.0%}"])
        return Verdict(True)

    def summary(self) -> Any:
        return self.doc

    def report_lines(self, metrics: Mapping[str, Any]) -> list[str]:
        v = metrics.get("validation")
        if not v:
            return []
        rel = v["mean_relative_error"]
        lines = [
            "## Simulator vs emulator",
            "",
            f"The same {len(v['flows'])} flows (TCP bulk, up or down, between bureau desktops and a server; "
            f"one constant-rate UDP stream) for {v['seconds']:g} s in the emulator and in the "
            "flow simulator. "
            f"Mean utilisation error {v['mean_utilisation_error']:.2%} of capacity; mean relative error "
            + (f"{rel:.1%}" if rel is not None else "-")
            + f" (links at >= 1 %; the lab's bound: {v['max_mean_relative_error']:.0%}). "
            "Parallel members are compared as one bundle (see labs/validate.py).",
            "",
            "| link | capacity | predicted | measured | utilisation error | relative error |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for lk in v["links"]:
            r = f"{lk['relative_error']:.1%}" if lk["relative_error"] is not None else "-"
            lines.append(
                f"| {lk['name']} | {lk['capacity_mbps']:g} | {lk['predicted_mbps']:.2f} "
                f"| {lk['measured_mbps']:.2f} | {lk['utilisation_error']:.2%} | {r} |"
            )
        lines.append("")
        return lines
