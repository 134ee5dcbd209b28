"""Long-horizon simulation: synthetic Zipf access with drift over a catalog of synthetic sizes.

No file bytes are written: the catalog is numpy columns, placement runs the same policy code as the
store, recalls are timed on the device models (tape recalls batched per window, served in tape order).
Not modelled: tape reclamation (append positions wrap), the migration window's throughput limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backup_hsm.clock import DAY_S, VirtualClock
from backup_hsm.devices import (
    DISK,
    OPTICAL,
    TAPE,
    TB,
    TIER_NAMES,
    Library,
    OpticalDrives,
    Request,
    TapeDrives,
)
from backup_hsm.errors import HsmInputError
from backup_hsm.heat import DEFAULT_HALF_LIFE_S
from backup_hsm.placement import ArraySource, Policy, Rows, parse_policy


@dataclass(frozen=True)
class SimConfig:
    """Parameters of one simulation run."""

    files: int = 100_000
    days: int = 365
    policy: str = "20/80+30/70"
    seed: int = 1
    mean_mb: float = 20.0
    growth: float = 0.003
    reads_per_file_day: float = 0.02
    zipf_s: float = 1.0
    drift: float = 0.01
    half_life_s: float = DEFAULT_HALF_LIFE_S
    batch_s: float = 120.0
    window_start_h: float = 1.0
    high_watermark: float = 0.95
    low_watermark: float = 0.85
    library: Library = field(default_factory=Library)

    def validate(self) -> None:
        """Raise HsmInputError on a parameter out of range."""
        checks: list[tuple[str, object, bool, str]] = [
            ("--files", self.files, self.files >= 1, "give at least 1 file"),
            ("--days", self.days, self.days >= 1, "give at least 1 day"),
            (
                "--growth",
                self.growth,
                0 <= self.growth <= 1,
                "a fraction of the initial files per day, e.g. 0.003",
            ),
            ("--mean-mb", self.mean_mb, self.mean_mb > 0, "a positive mean file size in MB, e.g. 20"),
            (
                "--reads",
                self.reads_per_file_day,
                self.reads_per_file_day >= 0,
                "reads per file per day, e.g. 0.02",
            ),
            (
                "watermarks",
                (self.low_watermark, self.high_watermark),
                0 < self.low_watermark < self.high_watermark <= 1,
                "0 < low < high <= 1",
            ),
        ]
        for name, got, ok, fix in checks:
            if not ok:
                raise HsmInputError("hsm simulate", name.lstrip("-"), "out of range", got, fix)


@dataclass
class _State:
    keys: np.ndarray
    sizes: np.ndarray
    tiers: np.ndarray
    last: np.ndarray
    medium: np.ndarray
    offset: np.ndarray
    order: np.ndarray  # popularity: order[r] is the file at rank r

    @property
    def n(self) -> int:
        return len(self.keys)

    def rows(self) -> Rows:
        return Rows(self.keys, np.arange(self.n, dtype=np.int64), self.sizes, self.tiers, self.last)


def _sizes(rng: np.random.Generator, n: int, mean_mb: float) -> np.ndarray:
    sigma = 1.2
    mu = math.log(mean_mb * 1e6) - sigma * sigma / 2
    return np.maximum(1, rng.lognormal(mu, sigma, n)).astype(np.int64)


class Simulation:
    """One run: call run() for the report dict."""

    def __init__(self, cfg: SimConfig) -> None:
        cfg.validate()
        self.cfg = cfg
        self.policy: Policy = parse_policy(cfg.policy)
        self.rng = np.random.default_rng(cfg.seed)
        self.clock = VirtualClock(0.0)
        lib = cfg.library
        self.tape = TapeDrives(lib.tape)
        self.optical = OpticalDrives(lib.optical)
        self.append = [0, 0, 0]  # next free byte per tier (optical, tape append streams)
        self.latencies: list[float] = []
        self.fill_day: dict[str, int | None] = dict.fromkeys(TIER_NAMES)
        self.timeline: list[dict[str, Any]] = []
        self.migrated = 0
        self.watermark_triggers = 0
        self.state = self._initial()

    def _initial(self) -> _State:
        cfg, n, h = self.cfg, self.cfg.files, self.cfg.half_life_s
        ranks = np.arange(1, n + 1, dtype=np.float64)
        p = ranks**-cfg.zipf_s
        p /= p.sum()
        rate = p * cfg.reads_per_file_day * n  # expected reads per day
        heat = rate * (h / DAY_S) / math.log(2) * self.rng.uniform(0.5, 1.5, n) + 1e-9
        order = self.rng.permutation(n)
        keys = np.empty(n)
        keys[order] = np.log2(heat)
        idle = self.rng.exponential(1.0 / np.maximum(rate, 1e-6)) * DAY_S
        last = np.empty(n)
        last[order] = -np.minimum(idle, 3 * 365 * DAY_S)
        st = _State(
            keys,
            _sizes(self.rng, n, cfg.mean_mb),
            np.zeros(n, dtype=np.int64),
            last,
            np.full(n, -1, dtype=np.int64),
            np.zeros(n, dtype=np.int64),
            order,
        )
        self.state = st
        self._place(day=0, count=False)
        return st

    # one nightly pass ---------------------------------------------------------------------------
    def _place(self, day: int, count: bool = True) -> None:
        st, lib = self.state, self.cfg.library
        target = self.policy.plan(ArraySource(st.rows()), self.clock.now()).targets(
            st.rows(), self.clock.now()
        )
        for tier in (DISK, OPTICAL):  # overflow: the coldest of a full tier's targets go one tier down
            on = np.flatnonzero(target == tier)
            need = int(st.sizes[on].sum())
            if need >= lib.capacity(tier):
                self._filled(tier, day)
                cold = on[np.argsort(st.keys[on], kind="stable")]
                excess = need - lib.capacity(tier)
                k = int(np.searchsorted(np.cumsum(st.sizes[cold]), excess, side="left")) + 1
                target[cold[:k]] = tier + 1
        if int(st.sizes[target == TAPE].sum()) >= lib.capacity(TAPE):
            self._filled(TAPE, day)
        moving = np.flatnonzero(target != st.tiers)
        if count:
            self.migrated += len(moving)
        for tier in (OPTICAL, TAPE):
            idx = moving[target[moving] == tier]
            self._assign_media(idx, tier)
        st.tiers[moving] = target[moving]
        st.medium[moving[target[moving] == DISK]] = -1

    def _assign_media(self, idx: np.ndarray, tier: int) -> None:
        st, lib = self.state, self.cfg.library
        unit = lib.optical.disc_bytes if tier == OPTICAL else lib.tape.cartridge_bytes
        cap = lib.capacity(tier)
        ends = self.append[tier] + np.cumsum(st.sizes[idx])
        starts = (ends - st.sizes[idx]) % cap
        st.medium[idx] = starts // unit
        st.offset[idx] = starts % unit
        self.append[tier] = int(ends[-1] % cap) if len(idx) else self.append[tier]

    def _filled(self, tier: int, day: int) -> None:
        name = TIER_NAMES[tier]
        if self.fill_day[name] is None:
            self.fill_day[name] = day

    # one day --------------------------------------------------------------------------------------
    def _grow(self, day0: float) -> None:
        cfg, st = self.cfg, self.state
        new = round(cfg.files * cfg.growth)
        if new == 0:
            return
        t = day0 + np.sort(self.rng.uniform(8 * 3600, 18 * 3600, new))
        ids = np.arange(st.n, st.n + new)
        st.keys = np.concatenate([st.keys, t / cfg.half_life_s])
        st.sizes = np.concatenate([st.sizes, _sizes(self.rng, new, cfg.mean_mb)])
        st.tiers = np.concatenate([st.tiers, np.zeros(new, dtype=np.int64)])
        st.last = np.concatenate([st.last, t])
        st.medium = np.concatenate([st.medium, np.full(new, -1, dtype=np.int64)])
        st.offset = np.concatenate([st.offset, np.zeros(new, dtype=np.int64)])
        st.order = np.concatenate([self.rng.permutation(ids), st.order])  # new documents are the hottest

    def _drift(self) -> None:
        st = self.state
        k = int(self.cfg.drift * st.n)
        a, b = self.rng.integers(0, st.n, k), self.rng.integers(0, st.n, k)
        st.order[a], st.order[b] = st.order[b], st.order[a].copy()

    def _reads(self, day0: float) -> None:
        cfg, st = self.cfg, self.state
        count = self.rng.poisson(cfg.reads_per_file_day * st.n)
        if count == 0:
            return
        cdf = np.cumsum(np.arange(1, st.n + 1, dtype=np.float64) ** -cfg.zipf_s)
        ranks = np.minimum(np.searchsorted(cdf, self.rng.uniform(0, cdf[-1], count)), st.n - 1)
        files = st.order[ranks]
        times = day0 + self.rng.uniform(8 * 3600, 18 * 3600, count)
        order = np.argsort(times, kind="stable")
        files, times = files[order], times[order]
        first = np.unique(files, return_index=True)[1]
        self._recall(files[first], times[first])
        np.logaddexp2.at(st.keys, files, times / cfg.half_life_s)
        np.maximum.at(st.last, files, times)

    def _recall(self, files: np.ndarray, times: np.ndarray) -> None:
        st, bs = self.state, self.cfg.batch_s
        away = st.tiers[files] != DISK
        files, times = files[away], times[away]
        for tier, drives in ((TAPE, self.tape), (OPTICAL, self.optical)):
            sel = st.tiers[files] == tier
            f, t = files[sel], times[sel]
            release = np.floor(t / bs) * bs + bs if tier == TAPE else t
            for rel in np.unique(release):
                batch = np.flatnonzero(release == rel)
                reqs = [
                    Request(float(t[i]), int(st.medium[f[i]]), int(st.offset[f[i]]), int(st.sizes[f[i]]))
                    for i in batch
                ]
                done = drives.serve(reqs, float(rel))
                self.latencies.extend(d - r.arrival for d, r in zip(done, reqs, strict=True))
        st.tiers[files] = DISK
        st.medium[files] = -1

    def _watermark(self, day: int) -> None:
        st, cap = self.state, self.cfg.library.capacity(DISK)
        on = np.flatnonzero(st.tiers == DISK)
        used = int(st.sizes[on].sum())
        if used <= self.cfg.high_watermark * cap:
            return
        self.watermark_triggers += 1
        cold = on[np.argsort(st.keys[on], kind="stable")]
        excess = used - int(self.cfg.low_watermark * cap)
        k = int(np.searchsorted(np.cumsum(st.sizes[cold]), excess, side="left")) + 1
        self._assign_media(cold[:k], OPTICAL)
        st.tiers[cold[:k]] = OPTICAL

    def _snapshot(self, day: int) -> None:
        st = self.state
        self.timeline.append(
            {"day": day, **{name: int(st.sizes[st.tiers == t].sum()) for t, name in enumerate(TIER_NAMES)}}
        )

    def run(self) -> dict[str, Any]:
        """Replay the horizon and return the report."""
        cfg = self.cfg
        for day in range(cfg.days):
            day0 = day * DAY_S
            self.clock.set(day0)
            self._grow(day0)
            self._drift()
            self._reads(day0)
            self._watermark(day)
            self.clock.set(day0 + DAY_S + cfg.window_start_h * 3600)  # tonight's migration window
            self._place(day)
            if day % max(1, cfg.days // 10) == 0 or day == cfg.days - 1:
                self._snapshot(day)
        return self.report()

    def report(self) -> dict[str, Any]:
        """The summary dict (the --json output)."""
        st, lib = self.state, self.cfg.library
        lat = np.asarray(self.latencies)
        tiers = {
            name: {
                "bytes": int(st.sizes[st.tiers == t].sum()),
                "files": int((st.tiers == t).sum()),
                "capacity": lib.capacity(t),
            }
            for t, name in enumerate(TIER_NAMES)
        }
        total = sum(v["bytes"] for v in tiers.values())
        cost = sum(tiers[name]["bytes"] / TB * lib.cost_per_tb(t) for t, name in enumerate(TIER_NAMES))
        return {
            "policy": self.cfg.policy,
            "files": st.n,
            "days": self.cfg.days,
            "tiers": tiers,
            "recalls": len(self.latencies),
            "recall_latency_s": {
                "mean": float(lat.mean()) if len(lat) else None,
                "p95": float(np.percentile(lat, 95)) if len(lat) else None,
            },
            "tape_mounts": self.tape.mounts,
            "optical_mounts": self.optical.mounts,
            "migrated_files": self.migrated,
            "watermark_triggers": self.watermark_triggers,
            "cost_per_tb": cost / (total / TB) if total else None,
            "fill_day": self.fill_day,
            "timeline": self.timeline,
        }


def simulate(cfg: SimConfig) -> dict[str, Any]:
    """Run one simulation and return its report."""
    return Simulation(cfg).run()
