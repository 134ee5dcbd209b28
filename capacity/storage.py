"""Storage horizon of a what-if: the HSM long-horizon simulation on the what-if's growth.

`capacity` may not import `backup_hsm` (ARCHITECTURE.md), so the simulation is passed in: the CLI
hands `storage_report` a `run_hsm(params) -> report` callable (backup_hsm's `run_simulation` with
`params` as its keyword arguments); this module only maps the growth and reads the report dict.

The mapping: the documents the HSM tiers keep are written by the file, OA and approval classes.
New data per day grows as the upload traffic of those classes to the servers does (user -> server
demands, offered Mbit/s), whether it grows by `--grow CLASS=F`, `--grow SITE=F` or
`--add-bureaus N`. The HSM run keeps its file count at day 0 (the archive as it is today) and
multiplies its daily growth (new files per day, `--growth` of `govnet hsm simulate`) by that factor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from capacity.demands import Demand, builtin_demands
from capacity.whatif import WhatIf
from govnet.errors import GovnetError, WhatIfError
from topology.model import Network

STORAGE_CLASSES = ("file", "oa", "approval")
BASE_GROWTH = 0.003  # new files per day as a fraction of the day-0 files (govnet hsm simulate's default)
TIERS = ("disk", "optical", "tape")

RunHsm = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class StorageGrowth:
    """How much faster data arrives: upload Mbit/s of the storage classes before and after."""

    before_mbps: dict[str, float]
    after_mbps: dict[str, float]

    @property
    def factor(self) -> float:
        before, after = sum(self.before_mbps.values()), sum(self.after_mbps.values())
        return after / before if before > 0 else 1.0


def storage_growth(before: Sequence[Demand], after: Sequence[Demand], servers: set[str]) -> StorageGrowth:
    """Upload traffic (demands into a server) of the storage classes, before and after the what-if."""

    def uploads(ds: Sequence[Demand]) -> dict[str, float]:
        out = dict.fromkeys(STORAGE_CLASSES, 0.0)
        for d in ds:
            if d.cls in out and d.dst in servers:
                out[d.cls] += d.mbps
        return out

    return StorageGrowth(uploads(before), uploads(after))


def whatif_growth(net: Network, w: WhatIf, demands: Sequence[Demand] | None = None) -> StorageGrowth:
    """The storage growth of a what-if on `net` (the model before --add-bureaus)."""
    before = builtin_demands(net) if demands is None else demands
    servers = {n.name for n in w.result.net.nodes if n.zone == "servers"}
    return storage_growth(before, w.sim.demands, servers)


def horizon(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per tier: bytes used at the end, capacity, the simulated fill day, or a linear projection
    from the timeline's first and last snapshots when the tier does not fill within the horizon."""
    timeline = report.get("timeline") or []
    first, last = (timeline[0], timeline[-1]) if timeline else ({}, {})
    out: dict[str, dict[str, Any]] = {}
    for tier in TIERS:
        t = report["tiers"][tier]
        fill = report["fill_day"][tier]
        span = last.get("day", 0) - first.get("day", 0)
        per_day = (last.get(tier, 0) - first.get(tier, 0)) / span if span > 0 else 0.0
        projected = None
        if fill is None and per_day > 0:
            projected = int(last["day"] + max(0.0, t["capacity"] - last[tier]) / per_day)
        out[tier] = {
            "used_bytes": t["bytes"],
            "capacity_bytes": t["capacity"],
            "bytes_per_day": round(per_day),
            "fill_day": fill,
            "projected_fill_day": projected,
        }
    return out


def storage_report(
    growth: StorageGrowth,
    run_hsm: RunHsm,
    files: int = 20_000,
    days: int = 365,
    policy: str = "20/80+30/70",
    disk_tb: float | None = None,
) -> dict[str, Any]:
    """Run the HSM simulation for the model as it is and for the what-if; when each tier fills."""
    f = growth.factor
    for flag, value in (("--storage-files", files), ("--storage-days", days)):
        if value < 1:
            raise WhatIfError(f"{flag} {value}: must be at least 1")
    if BASE_GROWTH * f > 1:
        raise WhatIfError(
            f"--storage: the what-if multiplies new data by {f:.1f}, more than the HSM simulation's "
            f"new files per day allow ({BASE_GROWTH} x {f:.1f} > 1 of the day-0 files); "
            "grow the storage classes less or give more --storage-files"
        )
    params = {
        "files": files,
        "days": days,
        "policy": policy,
        "seed": 1,
        "growth": BASE_GROWTH,
        "mean_mb": 20.0,
        "reads": 0.02,
        "disk_tb": disk_tb,
        "optical_tb": None,
        "tape_tb": None,
    }
    try:
        base = run_hsm(params)
        grown = base if abs(f - 1.0) < 1e-12 else run_hsm({**params, "growth": BASE_GROWTH * f})
    except GovnetError as exc:  # the HSM's own input errors name its flags: say which of ours
        raise WhatIfError(f"--storage (HSM simulation): {exc}") from None
    return {
        "factor": round(f, 4),
        "upload_mbps": {
            "before": {k: round(v, 4) for k, v in growth.before_mbps.items()},
            "after": {k: round(v, 4) for k, v in growth.after_mbps.items()},
        },
        "hsm": {k: v for k, v in params.items() if v is not None},
        "growth_per_day": {"base": BASE_GROWTH, "whatif": round(BASE_GROWTH * f, 6)},
        "files_at_end": {"base": base["files"], "whatif": grown["files"]},
        "tiers": {"base": horizon(base), "whatif": horizon(grown)},
    }


def _size(b: float) -> str:
    return f"{b / 1e12:.2f} TB" if b >= 1e12 else f"{b / 1e9:.1f} GB"


def _when(t: dict[str, Any]) -> str:
    if t["fill_day"] is not None:
        return f"day {t['fill_day']}"
    if t["projected_fill_day"] is not None:
        if t["projected_fill_day"] > 36_500:
            return "not within 100 years"
        return f"~day {t['projected_fill_day']} (projected)"
    return "never"


def format_storage(s: dict[str, Any]) -> str:
    """The storage horizon as text (part of `govnet whatif --storage`)."""
    hsm = s["hsm"]
    before = sum(s["upload_mbps"]["before"].values())
    after = sum(s["upload_mbps"]["after"].values())
    lines = [
        f"storage horizon (HSM simulation: {hsm['files']} files at day 0, {hsm['days']} days, "
        f"policy {hsm['policy']}):",
        f"  new data per day x{s['factor']:.2f}: upload traffic of {', '.join(STORAGE_CLASSES)} to the "
        f"servers {before:.1f} -> {after:.1f} Mbit/s",
        f"  {'tier':8} {'used (what-if)':>15} {'capacity':>11}   {'fills (as today)':26} fills (what-if)",
    ]
    base, grown = s["tiers"]["base"], s["tiers"]["whatif"]
    for tier in TIERS:
        g = grown[tier]
        lines.append(
            f"  {tier:8} {_size(g['used_bytes']):>15} {_size(g['capacity_bytes']):>11}   "
            f"{_when(base[tier]):26} {_when(g)}"
        )
    return "\n".join(lines)
