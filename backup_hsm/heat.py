"""Heat: an exponentially decayed access count, stored as a time-invariant log2 key.

A file's heat at time `now` is v * 2^-((now - t) / h) for the value v recorded at time t and the
half-life h. Its key log2(v) + t / h does not change as time passes, so ordering files by heat at any
moment is ordering by key, and one access at `now` is key := log2(2^key + 2^(now / h)).
`bucket` quantises the key (BUCKETS_PER_HALF_LIFE steps per half-life) for the catalog's histogram index.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

BUCKETS_PER_HALF_LIFE = 8
ZERO_BUCKET = -(2**62)  # never accessed: heat 0, key -inf
DEFAULT_HALF_LIFE_S = 14 * 86_400.0

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def key_of(value: float, at: float, half_life_s: float) -> float:
    """The key of heat `value` recorded at time `at`."""
    return math.log2(value) + at / half_life_s if value > 0 else -math.inf


def value_of(key: float, now: float, half_life_s: float) -> tuple[float, float]:
    """The (value, time) pair a key stands for, evaluated at `now`: the decayed heat."""
    return (2.0 ** (key - now / half_life_s) if key > -math.inf else 0.0), now


def touch(key: float, now: float, half_life_s: float, count: float = 1.0) -> float:
    """The key after `count` accesses at time `now`."""
    return float(np.logaddexp2(key, now / half_life_s + math.log2(count)))


def bucket_of(key: float) -> int:
    """The histogram bucket of a key."""
    return math.floor(key * BUCKETS_PER_HALF_LIFE) if key > -math.inf else ZERO_BUCKET


def buckets_of(keys: FloatArray) -> IntArray:
    """Vectorised bucket_of."""
    out = np.full(keys.shape, ZERO_BUCKET, dtype=np.int64)
    ok = np.isfinite(keys)
    out[ok] = np.floor(keys[ok] * BUCKETS_PER_HALF_LIFE).astype(np.int64)
    return out
