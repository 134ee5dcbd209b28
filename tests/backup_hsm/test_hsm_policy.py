"""Placement policies on small hand-checked catalogs: exact 20/80 and 30/70 boundaries, ties, hysteresis."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from backup_hsm import DISK, OPTICAL, TAPE, HsmInputError, parse_policy
from backup_hsm.catalog import Catalog
from backup_hsm.placement import ArraySource, Cut, HotCold, Rows, find_cut

H = 86_400.0


def rows(
    keys: list[float], sizes: list[int], tiers: list[int] | None = None, last: list[float] | None = None
) -> Rows:
    n = len(keys)
    return Rows(
        np.array(keys, dtype=np.float64),
        np.arange(1, n + 1, dtype=np.int64),
        np.array(sizes, dtype=np.int64),
        np.array(tiers or [OPTICAL] * n, dtype=np.int64),
        np.array(last or [0.0] * n, dtype=np.float64),
    )


def targets(spec: str, r: Rows, band: Fraction = Fraction(0)) -> list[int]:
    pol = parse_policy(spec, band=band)
    return pol.plan(ArraySource(r), 0.0).targets(r, 0.0).tolist()


def test_2080_exact_boundary() -> None:
    r = rows([10 - i for i in range(10)], [10] * 10)  # id 1 hottest; 100 bytes, 20 % = 20 bytes = 2 files
    assert targets("20/80", r) == [DISK, DISK] + [OPTICAL] * 8


def test_2080_file_that_crosses_the_boundary_stays_down() -> None:
    r = rows([10 - i for i in range(10)], [11] + [10] * 9)  # 11 + 10 > 20.2: only the hottest fits
    assert targets("20/80", r) == [DISK] + [OPTICAL] * 9


def test_3070_exact_boundary() -> None:
    r = rows([10 - i for i in range(10)], [10] * 10)  # rest 80 bytes; 30 % = 24: two stay on optical
    assert targets("20/80+30/70", r) == [DISK, DISK, OPTICAL, OPTICAL] + [TAPE] * 6


def test_heat_order_not_id_order() -> None:
    r = rows([1, 5, 3, 9, 2, 0, 4, 8, 6, 7], [10] * 10)
    got = targets("20/80+30/70", r)
    assert [i + 1 for i, t in enumerate(got) if t == DISK] == [4, 8]
    assert [i + 1 for i, t in enumerate(got) if t == OPTICAL] == [9, 10]


def test_ties_go_to_the_older_file() -> None:
    r = rows([3.0] * 10, [10] * 10)
    assert targets("20/80+30/70", r) == [DISK, DISK, OPTICAL, OPTICAL] + [TAPE] * 6


def test_never_accessed_files_sort_last() -> None:
    r = rows([-math.inf, 1.0, -math.inf, 2.0, 0.5], [10] * 5)  # 20 % of 50 = 10: one file
    assert targets("20/80", r) == [OPTICAL, OPTICAL, OPTICAL, DISK, OPTICAL]


def test_hysteresis_keeps_residents_and_holds_back_newcomers() -> None:
    keys = [10 - i for i in range(10)]
    band = Fraction(1, 10)  # disk: newcomers within 10 %, residents within 30 %
    on_disk = rows(keys, [10] * 10, tiers=[DISK] * 10)
    assert targets("20/80", on_disk, band) == [DISK] * 3 + [OPTICAL] * 7
    off_disk = rows(keys, [10] * 10, tiers=[OPTICAL] * 10)
    assert targets("20/80", off_disk, band) == [DISK] + [OPTICAL] * 9


def test_hysteresis_stops_bouncing() -> None:
    """Two files swap heat back and forth around the boundary; with a band they do not move."""
    sizes = [10] * 10
    tiers = [DISK, DISK] + [OPTICAL] * 8
    moves = {0: 0, 2: 0}
    for band in (Fraction(0), Fraction(1, 10)):
        cur = list(tiers)
        for step in range(6):
            keys = [10.0, 9.0 - (step % 2) * 2, 8.0] + [5.0 - i for i in range(7)]
            new = targets("20/80", rows(keys, sizes, tiers=cur), band)
            moves[int(band * 20)] += sum(a != b for a, b in zip(cur, new, strict=True))
            cur = new
    assert moves[0] >= 10 and moves[2] == 0


def test_age_policy() -> None:
    now = 400 * H
    r = rows([1.0] * 3, [10] * 3, last=[now - 10 * H, now - 40 * H, now - 200 * H])
    pol = parse_policy("age:30")
    assert pol.plan(ArraySource(r), now).targets(r, now).tolist() == [DISK, OPTICAL, OPTICAL]
    pol = parse_policy("age:30:180")
    assert pol.plan(ArraySource(r), now).targets(r, now).tolist() == [DISK, OPTICAL, TAPE]


def _naive_cut(r: Rows, member: np.ndarray, fraction: Fraction) -> set[int]:
    """Reference: sort everything, walk the prefix."""
    idx = sorted(np.flatnonzero(member).tolist(), key=lambda i: (-r.keys[i], r.ids[i]))
    total = int(r.sizes[member].sum())
    acc, inside = 0, set()
    for i in idx:
        acc += int(r.sizes[i])
        if acc * fraction.denominator > total * fraction.numerator:
            break
        inside.add(int(r.ids[i]))
    return inside


@pytest.mark.parametrize("seed", range(8))
def test_find_cut_matches_a_full_sort(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 500
    keys = np.round(rng.normal(0, 3, n), 1)  # many ties, many buckets
    keys[rng.random(n) < 0.05] = -np.inf
    r = Rows(
        keys,
        rng.permutation(n).astype(np.int64) + 1,
        rng.integers(1, 1000, n),
        rng.integers(0, 3, n),
        np.zeros(n),
    )
    for frac in (Fraction(1, 5), Fraction(3, 10), Fraction(0), Fraction(1)):
        cut = find_cut(ArraySource(r), lambda rw, bk, t: np.ones(len(bk), dtype=bool), set(), frac)
        from backup_hsm.placement import Before

        got = set(r.ids[Before(cut).eval(r.buckets, r)].tolist())
        assert got == _naive_cut(r, np.ones(n, dtype=bool), frac)


@pytest.mark.parametrize("spec", ["20/80", "20/80+30/70", "age:2", "age:1:3"])
def test_sql_catalog_agrees_with_numpy(spec: str, tmp_path: Path) -> None:
    """The catalog's index histogram + SQL rule places exactly as the numpy path does."""
    rng = np.random.default_rng(7)
    n = 2000
    cat = Catalog(tmp_path / "c.sqlite", half_life_s=H, durable=False)
    created = np.round(rng.uniform(0, 5 * H, n), -3)
    cat.bulk_insert(
        (
            i + 1,
            f"f{i}",
            int(rng.integers(1, 10**6)),
            "x",
            int(rng.integers(0, 3)),
            float(created[i]),
            float(created[i] + rng.uniform(0, 2 * H)),
            float(rng.choice([1.0, 2.0, 4.0, 0.0])),
        )
        for i in range(n)
    )
    now = 6 * H
    r = cat.rows()
    pol = parse_policy(spec, band=Fraction(1, 50))
    expect = pol.plan(ArraySource(r), now).targets(r, now)
    rule = pol.plan(cat, now)
    expr, params = rule.sql(now)
    got = dict(cat.db.execute(f"SELECT id, {expr} FROM files", params).fetchall())
    assert [got[int(i)] for i in r.ids] == expect.tolist()
    assert len(set(expect.tolist())) >= 2
    cat.close()


@pytest.mark.parametrize(
    "spec", ["", "20/70", "0/100", "twenty", "20/80+30", "age:", "age:-3", "age:30:10", "20/80+30/70+1/99"]
)
def test_bad_policy_is_a_clear_error(spec: str) -> None:
    with pytest.raises(HsmInputError) as err:
        parse_policy(spec)
    text = str(err.value)
    assert "policy" in text and "got" in text and ("use " in text or "e.g." in text)
    assert err.value.exit_code == 2 and "\n" not in text


def test_band_must_be_smaller_than_the_fractions() -> None:
    with pytest.raises(HsmInputError, match="band"):
        parse_policy("20/80", band=Fraction(1, 4))
    assert isinstance(parse_policy("20/80"), HotCold)
    assert Cut(3).key == math.inf
