"""The network itself as parts: `checks` (reachability, rates, ring heal) and `links` (cut/restore)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

from govnet.events import Event
from labs.parts.base import ActionProblem, LabContext, Part, Verdict, text_of
from labs.parts.registry import register
from topology.emulator.check import CheckReport, run_checks
from topology.model import Link, Network
from topology.schema import Checker_, list_of

CHECKS = ("reachability", "rates", "heal")


def _check_name(v: Checker_, value: Any, path: str) -> Any:
    if value not in CHECKS:
        v.err(path, "unknown check", value, f"use one of: {', '.join(CHECKS)}")
    return value


@register
class Checks(Part):
    """Verify the running network against its model; a lab fails when a check fails."""

    key = "checks"
    steps = ((40, "run"),)
    result_top = "checks"

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.report: CheckReport | None = None

    @classmethod
    def parse(cls, v: Checker_, value: Any, path: str) -> Any:
        return list_of(_check_name, 1)(v, value, path)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        return {"type": "array", "items": {"enum": list(CHECKS)}, "minItems": 1, "default": list(CHECKS)}

    @classmethod
    def default(cls) -> Any:
        return list(CHECKS)

    def run(self, ctx: LabContext) -> None:
        self.report = run_checks(ctx.emu, tuple(self.config))
        for row in self.report.rows:
            if not row.ok:
                ctx.emit(
                    Event(self.key, "check.failed", f"{row.check} {row.subject}", {"measured": row.measured})
                )

    def verdict(self) -> Verdict:
        if self.report is None:
            return Verdict(False, [self.error or "the checks did not run"])
        bad = [f"{r.check} {r.subject}: {r.measured}" for r in self.report.rows if not r.ok]
        return Verdict(self.report.ok, bad[:5] + ([f"and {len(bad) - 5} more"] if len(bad) > 5 else []))

    def summary(self) -> Any:
        return self.report.to_dict() if self.report is not None else None

    def report_lines(self, metrics: Mapping[str, Any]) -> list[str]:
        if self.report is None:
            return []
        lines = ["## Checks", "", "```", self.report.table(), "```", ""]
        if self.report.figures:
            lines += [f"- {k}: {text_of(v)}" for k, v in self.report.figures.items()]
            lines.append("")
        return lines


@register
class Links(Part):
    """Cables as a part: `cut` and `restore` a link by its model name (a timeline's fibre cut)."""

    key = "links"
    in_scenario = False

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.ctx: LabContext | None = None

    @classmethod
    def wanted(cls, scenario: Mapping[str, Any], net: Network) -> bool:
        return True  # always there: every lab has links to cut

    def start(self, ctx: LabContext) -> None:
        self.ctx = ctx
        super().start(ctx)

    def _link(self, name: str) -> Link:
        assert self.ctx is not None
        for lk in self.ctx.net.links:
            if lk.name == name:
                return lk
        raise KeyError(f"no link named {name!r} in model {self.ctx.net.name}")

    def cut(self, link: str) -> None:
        assert self.ctx is not None
        self.ctx.emu.set_link(self._link(link), up=False)

    def restore(self, link: str) -> None:
        assert self.ctx is not None
        self.ctx.emu.set_link(self._link(link), up=True)

    def actions(self) -> Mapping[str, Callable[..., Any]]:
        return {"cut": self.cut, "restore": self.restore}

    def action_problems(self, verb: str, args: Mapping[str, Any], net: Network) -> list[ActionProblem]:
        names = [lk.name for lk in net.links]
        link = args.get("link")
        if "link" not in args or link in names:
            return []
        close = difflib.get_close_matches(str(link), names, n=1)
        fix = f"did you mean '{close[0]}'?" if close else "see 'govnet topo show' for the link names"
        return [ActionProblem("link", f"no such link in model {net.name}", link, fix)]
