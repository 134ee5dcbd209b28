"""Placement policies as plugins: 20/80, 20/80+30/70 (with hysteresis) and an age threshold.

Files are ordered hottest first by (heat key descending, id ascending: older files win ties). A policy
cuts that order where the cumulative bytes of a set reach a fraction (`20/80`: the prefix that fits in
20 % of all bytes goes to disk). A cut is found without sorting everything: a (bucket, tier) -> bytes
histogram (the catalog keeps it as a covering index) locates the boundary bucket, and only that bucket's
rows are fetched and sorted. Each policy returns a Rule, an expression over (bucket, key, id, tier,
last access) that evaluates on numpy columns (simulation) or renders to SQL (catalog).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

import numpy as np
import numpy.typing as npt

from backup_hsm.devices import DISK, OPTICAL, TAPE
from backup_hsm.errors import HsmInputError
from backup_hsm.heat import ZERO_BUCKET, FloatArray, IntArray, buckets_of

BoolArray = npt.NDArray[np.bool_]
EVERYTHING_BUCKET = ZERO_BUCKET - 1
DEFAULT_BAND = Fraction(1, 50)


@dataclass
class Rows:
    """Columns of some catalog rows."""

    keys: FloatArray
    ids: IntArray
    sizes: IntArray
    tiers: IntArray
    last_access: FloatArray

    @property
    def buckets(self) -> IntArray:
        """The heat bucket of each row."""
        return buckets_of(self.keys)

    def take(self, mask: BoolArray) -> Rows:
        """The rows where mask is true."""
        return Rows(
            self.keys[mask], self.ids[mask], self.sizes[mask], self.tiers[mask], self.last_access[mask]
        )


class HeatSource(Protocol):
    """What a policy reads: the (bucket, tier) byte histogram and the rows of one bucket."""

    def histogram(self) -> tuple[IntArray, IntArray, IntArray]:
        """(bucket, tier, bytes) for every non-empty pair."""
        ...

    def bucket_rows(self, bucket: int) -> Rows:
        """All rows in one bucket."""
        ...


class ArraySource:
    """A HeatSource over numpy columns (the simulator's catalog)."""

    def __init__(self, rows: Rows) -> None:
        self.rows = rows
        self._buckets = rows.buckets

    def histogram(self) -> tuple[IntArray, IntArray, IntArray]:
        """(bucket, tier, bytes) for every non-empty pair."""
        if len(self._buckets) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        code = self._buckets * 4 + self.rows.tiers
        uniq, inv = np.unique(code, return_inverse=True)
        sums = np.zeros(len(uniq), dtype=np.int64)
        np.add.at(sums, inv, self.rows.sizes)
        return uniq // 4, uniq % 4, sums

    def bucket_rows(self, bucket: int) -> Rows:
        """All rows in one bucket."""
        return self.rows.take(self._buckets == bucket)


# rules ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cut:
    """A position in the hottest-first order: rows at or before (bucket, key, id) are inside."""

    bucket: int
    key: float = math.inf
    id: int = -1


@dataclass(frozen=True)
class Before:
    """Row is at or before a cut in the hottest-first order."""

    cut: Cut

    def eval(self, bk: IntArray, rows: Rows | None) -> BoolArray:
        """Evaluate on rows (None: aggregate rows whose bucket is not this cut's boundary)."""
        c = self.cut
        out: BoolArray = bk > c.bucket
        if rows is not None:
            same = bk == c.bucket
            out = out | (same & ((rows.keys > c.key) | ((rows.keys == c.key) & (rows.ids <= c.id))))
        return out

    def sql(self, params: list[object]) -> str:
        """Render as an SQL condition, appending parameters."""
        c = self.cut
        params.extend([c.bucket, c.bucket, c.key, c.key, c.id])
        return "(heat_bucket > ? OR (heat_bucket = ? AND (heat_key > ? OR (heat_key = ? AND id <= ?))))"


@dataclass(frozen=True)
class Rule:
    """Targets: disk where `disk` holds, else optical where `optical` holds, else tape."""

    disk: Callable[[Rows | None, IntArray, IntArray, float], BoolArray]
    optical: Callable[[Rows | None, IntArray, IntArray, float], BoolArray]
    disk_sql: Callable[[list[object], float], str]
    optical_sql: Callable[[list[object], float], str]

    def targets(self, rows: Rows, now: float) -> IntArray:
        """Target tier of each row."""
        bk = rows.buckets
        d = self.disk(rows, bk, rows.tiers, now)
        o = self.optical(rows, bk, rows.tiers, now)
        return np.where(d, DISK, np.where(o, OPTICAL, TAPE)).astype(np.int64)

    def sql(self, now: float) -> tuple[str, list[object]]:
        """An SQL CASE expression giving the target tier, and its parameters."""
        params: list[object] = []
        d = self.disk_sql(params, now)
        o = self.optical_sql(params, now)
        return f"(CASE WHEN {d} THEN {DISK} WHEN {o} THEN {OPTICAL} ELSE {TAPE} END)", params


def _band(first: Cut, second: Cut, tier: int) -> tuple[Callable[..., BoolArray], Callable[..., str]]:
    """Inside `first`, or on `tier` already and inside `second` (the hysteresis band)."""
    b1, b2 = Before(first), Before(second)

    def ev(rows: Rows | None, bk: IntArray, tiers: IntArray, now: float) -> BoolArray:
        out: BoolArray = b1.eval(bk, rows) | ((tiers == tier) & b2.eval(bk, rows))
        return out

    def sq(params: list[object], now: float) -> str:
        one = b1.sql(params)
        two = b2.sql(params)
        params.append(tier)
        return f"({one} OR ({two} AND tier = ?))"

    return ev, sq


def find_cut(
    src: HeatSource,
    member: Callable[[Rows | None, IntArray, IntArray], BoolArray],
    boundaries: set[int],
    fraction: Fraction,
) -> Cut:
    """The longest hottest-first prefix of the member rows whose bytes fit in `fraction` of theirs."""
    hb, ht, hbytes = src.histogram()
    cache: dict[int, Rows] = {}

    def exact(b: int) -> Rows:
        if b not in cache:
            rows = src.bucket_rows(b)
            cache[b] = rows.take(member(rows, rows.buckets, rows.tiers))
        return cache[b]

    per_bucket: dict[int, int] = {}
    agg = member(None, hb, ht) if len(hb) else np.zeros(0, dtype=np.bool_)
    for b, size, inside in zip(hb.tolist(), hbytes.tolist(), agg.tolist(), strict=True):
        if b in boundaries:
            if b not in per_bucket:
                per_bucket[b] = int(exact(b).sizes.sum())
        elif inside:
            per_bucket[b] = per_bucket.get(b, 0) + size
    total = sum(per_bucket.values())
    budget = total * fraction.numerator // fraction.denominator
    acc = 0
    for b in sorted(per_bucket, reverse=True):
        if acc + per_bucket[b] <= budget:
            acc += per_bucket[b]
            continue
        rows = exact(b)
        order = np.lexsort((rows.ids, -rows.keys))
        cum = acc + np.cumsum(rows.sizes[order])
        fit = int(np.searchsorted(cum, budget, side="right"))
        if fit == 0:
            return Cut(b)
        last = order[fit - 1]
        return Cut(b, float(rows.keys[last]), int(rows.ids[last]))
    return Cut(EVERYTHING_BUCKET)


# policies ---------------------------------------------------------------------------------------
class Policy(Protocol):
    """A placement policy plugin."""

    @property
    def name(self) -> str:
        """The policy as written on the command line."""
        ...

    def plan(self, src: HeatSource, now: float) -> Rule:
        """Compute the targets for the catalog behind `src` at time `now`."""
        ...


def _all(rows: Rows | None, bk: IntArray, tiers: IntArray) -> BoolArray:
    return np.ones(len(bk), dtype=np.bool_)


@dataclass(frozen=True)
class HotCold:
    """`20/80`: the hottest files that fit in `disk` of the bytes on disk, the rest on optical;
    with `keep` (the `+30/70` part), of the rest the hottest `keep` of their bytes stay on optical and
    the others go to tape. `band` is the hysteresis: a file already on a tier stays while it is within
    fraction + band, and moves up only within fraction - band."""

    disk: Fraction
    keep: Fraction | None = None
    band: Fraction = DEFAULT_BAND
    name: str = "20/80"

    def plan(self, src: HeatSource, now: float) -> Rule:
        """Find the cuts and return the rule."""
        lo = find_cut(src, _all, set(), max(self.disk - self.band, Fraction(0)))
        hi = find_cut(src, _all, set(), min(self.disk + self.band, Fraction(1)))
        disk_ev, disk_sq = _band(lo, hi, DISK)
        if self.keep is None:
            return Rule(
                disk_ev, lambda r, b, t, n: np.ones(len(b), dtype=np.bool_), disk_sq, lambda p, n: "1"
            )

        def rest(rows: Rows | None, bk: IntArray, tiers: IntArray) -> BoolArray:
            return ~disk_ev(rows, bk, tiers, now)

        bounds = {lo.bucket, hi.bucket}
        keep_lo = find_cut(src, rest, bounds, max(self.keep - self.band, Fraction(0)))
        keep_hi = find_cut(src, rest, bounds, min(self.keep + self.band, Fraction(1)))
        opt_ev, opt_sq = _band(keep_lo, keep_hi, OPTICAL)
        return Rule(disk_ev, opt_ev, disk_sq, opt_sq)


@dataclass(frozen=True)
class AgeThreshold:
    """`age:DAYS[:TAPE_DAYS]`: on disk if read within DAYS, else optical; tape after TAPE_DAYS idle."""

    days: float
    tape_days: float | None = None
    name: str = "age"

    def plan(self, src: HeatSource, now: float) -> Rule:
        """No cuts: the rule compares last access with now."""
        d_limit = now - self.days * 86_400.0
        t_limit = -math.inf if self.tape_days is None else now - self.tape_days * 86_400.0

        def disk(rows: Rows | None, bk: IntArray, tiers: IntArray, n: float) -> BoolArray:
            assert rows is not None
            return rows.last_access >= d_limit

        def optical(rows: Rows | None, bk: IntArray, tiers: IntArray, n: float) -> BoolArray:
            assert rows is not None
            return rows.last_access >= t_limit

        def disk_sql(params: list[object], n: float) -> str:
            params.append(d_limit)
            return "last_access >= ?"

        def opt_sql(params: list[object], n: float) -> str:
            params.append(t_limit)
            return "last_access >= ?"

        return Rule(disk, optical, disk_sql, opt_sql)


def _fraction(text: str, spec: str, fix: str) -> tuple[Fraction, Fraction]:
    """Parse 'A/B' with A + B = 100 into (A/100, B/100)."""
    parts = text.split("/")
    try:
        a, b = (int(p) for p in parts)
    except ValueError:
        raise HsmInputError("--policy", "policy", f"'{text}' is not two percentages A/B", spec, fix) from None
    if a <= 0 or b <= 0 or a + b != 100:
        raise HsmInputError(
            "--policy", "policy", f"'{text}' must be two positive percentages adding to 100", spec, fix
        )
    return Fraction(a, 100), Fraction(b, 100)


POLICY_FIX = "use 20/80, 20/80+30/70 (any A/B adding to 100) or age:DAYS[:TAPE_DAYS]"


def parse_policy(spec: str, band: Fraction = DEFAULT_BAND) -> Policy:
    """The policy named by `spec`: '20/80', '20/80+30/70' or 'age:DAYS[:TAPE_DAYS]'."""
    spec = spec.strip()
    if spec.startswith("age:"):
        parts = spec[4:].split(":")
        try:
            days = [float(p) for p in parts]
        except ValueError:
            raise HsmInputError(
                "--policy", "policy", "age needs a number of days", spec, POLICY_FIX
            ) from None
        if not 1 <= len(days) <= 2 or any(not math.isfinite(d) or d <= 0 for d in days):
            raise HsmInputError(
                "--policy", "policy", "age needs one or two positive day counts", spec, POLICY_FIX
            )
        if len(days) == 2 and days[1] <= days[0]:
            raise HsmInputError(
                "--policy", "policy", "the tape age must exceed the disk age", spec, "e.g. age:30:180"
            )
        return AgeThreshold(days[0], days[1] if len(days) == 2 else None, name=spec)
    halves = spec.split("+")
    if len(halves) > 2 or not spec:
        raise HsmInputError("--policy", "policy", "unknown policy", spec, POLICY_FIX)
    disk, _ = _fraction(halves[0], spec, POLICY_FIX)
    keep = _fraction(halves[1], spec, POLICY_FIX)[0] if len(halves) == 2 else None
    if not 0 <= band < min(disk, 1 - disk) or (keep is not None and band >= min(keep, 1 - keep)):
        raise HsmInputError(
            "--policy",
            "band",
            "the hysteresis band must be smaller than every fraction",
            float(band),
            "use a band of 0 to a few percent, e.g. 0.02",
        )
    return HotCold(disk, keep, band, name=spec)
