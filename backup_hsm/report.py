"""A long-horizon run from plain parameters (`govnet hsm simulate`'s options) -> SimConfig, and the
report as text."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from backup_hsm.devices import GB, TB, TIER_NAMES, Library
from backup_hsm.errors import HsmInputError
from backup_hsm.sim import SimConfig, simulate


def _tb(name: str, value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise HsmInputError("hsm simulate", name, "capacity must be positive", value, "give TB, e.g. 10")
    return value


def run_simulation(
    *,
    files: int,
    days: int,
    policy: str,
    seed: int,
    growth: float,
    mean_mb: float,
    reads: float,
    disk_tb: float | None = None,
    optical_tb: float | None = None,
    tape_tb: float | None = None,
) -> dict[str, Any]:
    """Simulate `files` files over `days` days under `policy` (see `SimConfig`); a capacity in TB
    replaces the device model's (None: its default); a non-positive one is an `HsmInputError`."""
    lib = Library()
    disk_tb, optical_tb, tape_tb = (
        _tb("disk-tb", disk_tb),
        _tb("optical-tb", optical_tb),
        _tb("tape-tb", tape_tb),
    )
    if disk_tb:
        lib = replace(lib, disk=replace(lib.disk, capacity_bytes=int(disk_tb * TB)))
    if optical_tb:
        lib = replace(
            lib, optical=replace(lib.optical, discs=max(1, int(optical_tb * TB // lib.optical.disc_bytes)))
        )
    if tape_tb:
        carts = max(1, int(tape_tb * TB // lib.tape.cartridge_bytes))
        lib = replace(lib, tape=replace(lib.tape, cartridges=carts))
    cfg = SimConfig(
        files=files,
        days=days,
        policy=policy,
        seed=seed,
        growth=growth,
        mean_mb=mean_mb,
        reads_per_file_day=reads,
        library=lib,
    )
    return simulate(cfg)


def _size(b: float) -> str:
    return f"{b / TB:.2f} TB" if b >= TB else f"{b / GB:.1f} GB"


def format_report(r: dict[str, Any]) -> str:
    """The simulation report as a table."""
    lines = [
        f"policy {r['policy']}: {r['files']} files after {r['days']} days",
        "",
        "day    " + "".join(f"{n:>12}" for n in TIER_NAMES),
    ]
    for row in r["timeline"]:
        lines.append(f"{row['day']:<7}" + "".join(f"{_size(row[n]):>12}" for n in TIER_NAMES))
    lines.append("")
    for name, t in r["tiers"].items():
        fill = r["fill_day"][name]
        lines.append(
            f"{name:8} {t['files']:>9} files {_size(t['bytes']):>11} of {_size(t['capacity']):>11}"
            f"   fills: {'never' if fill is None else f'day {fill}'}"
        )
    lat = r["recall_latency_s"]
    mean = "-" if lat["mean"] is None else f"{lat['mean']:.1f} s"
    p95 = "-" if lat["p95"] is None else f"{lat['p95']:.1f} s"
    cost = "-" if r["cost_per_tb"] is None else f"{r['cost_per_tb']:.1f}"
    lines += [
        f"recalls {r['recalls']}  latency mean {mean}, p95 {p95}",
        f"tape mounts {r['tape_mounts']}, optical mounts {r['optical_mounts']}, files migrated "
        f"{r['migrated_files']}, watermark triggers {r['watermark_triggers']}",
        f"media cost per TB stored: {cost}",
    ]
    return "\n".join(lines)


def format_status(status: dict[str, Any]) -> str:
    """`govnet hsm status` as text: tiers, media, volumes by live fraction (* = to reclaim), alarms."""
    lines = [f"HSM store {status['root']}"]
    for name, t in status["tiers"].items():
        lines.append(f"  {name:8} {t['files']:>8} files {t['bytes']:>14,} bytes of {t['capacity']:,}")
    lines.append(
        f"  media {status['media']} (retired {status['retired']}), pending steps {status['pending']}, "
        f"alarms {len(status['alarms'])}"
    )
    vols = sorted(status["volumes"], key=lambda v: (v["live_fraction"], v["name"]))
    if vols:
        below = 100 * status["reclaim_below"]
        cands = [v for v in vols if v["candidate"]]
        lines.append(
            f"  reclaimable {sum(v['reclaimable'] for v in vols):,} bytes; "
            f"{len(cands)} volume(s) below {below:g} % live hold {sum(v['reclaimable'] for v in cands):,}"
        )
        lines.append(
            f"  {'volume':24} {'tier':7} {'written':>14} {'live':>14} {'live %':>7} {'reclaimable':>14}"
        )
        for v in vols[:20]:
            lines.append(
                f"  {v['name']:24} {v['tier']:7} {v['written']:>14,} {v['live']:>14,} "
                f"{100 * v['live_fraction']:>6.1f}{'*' if v['candidate'] else ' '} {v['reclaimable']:>14,}"
            )
        if len(vols) > 20:
            lines.append(f"  ... {len(vols) - 20} more volumes (--json lists all)")
    lines += [f"  ALARM {a['kind']}: {a['name']}: {a['detail']}" for a in status["alarms"][-5:]]
    return "\n".join(lines)
