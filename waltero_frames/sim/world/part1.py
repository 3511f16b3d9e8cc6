"""Part 1 (v3 device-daily-consumption) computed from a device's register series.

CONTRACT §3: UTC calendar periods (day, ISO week from Monday 00:00Z, month, year);
only readings in ``[start, end)`` count; the delta ``r[i-1] -> r[i]`` belongs to the
period containing ``r[i].ts`` (``r[i-1]`` may lie before ``start``); a rollover (§4:
previous raw in the top 10 % of the register, new raw in the bottom 10 %) is unwrapped
by ``10**digits * multiplier``; every other negative delta is summed as it is; a
device's first ever reading contributes 0.0.

Vectorized: period boundaries are located with ``searchsorted`` and each period's sum
of deltas telescopes to ``p[last] - p[first - 1] + wraps * rollovers``.
"""

from __future__ import annotations

import numpy as np

from .generate import DAY_MS

RESOLUTIONS = ("day", "week", "month", "year")


def _days(ms: np.ndarray | int) -> np.ndarray:
    return np.floor_divide(np.asarray(ms, dtype=np.int64), DAY_MS)


def period_start_day(ms: np.ndarray | int, resolution: str) -> np.ndarray:
    """First UTC day (days since epoch) of the period containing each instant."""
    days = _days(ms)
    if resolution == "day":
        return days
    if resolution == "week":  # 1970-01-05 (day 4) was a Monday
        return (days - 4) // 7 * 7 + 4
    unit = {"month": "M", "year": "Y"}[resolution]
    as_dt = days.astype("datetime64[D]").astype(f"datetime64[{unit}]")
    return as_dt.astype("datetime64[D]").astype(np.int64)


def periods(start_ms: int, end_ms: int, resolution: str) -> np.ndarray:
    """First days of every period that overlaps ``[start_ms, end_ms)``, plus the end bound.

    Returns ``n + 1`` day numbers: the starts of the ``n`` periods and the start of the
    period after the last one.
    """
    if resolution not in RESOLUTIONS:
        raise ValueError(f"unsupported resolution {resolution!r}; expected one of {RESOLUTIONS}")
    first = int(period_start_day(start_ms, resolution))
    last = int(period_start_day(end_ms - 1, resolution))
    if resolution == "day":
        return np.arange(first, last + 2, dtype=np.int64)
    if resolution == "week":
        return np.arange(first, last + 8, 7, dtype=np.int64)
    unit = {"month": "M", "year": "Y"}[resolution]
    a = np.datetime64(first, "D").astype(f"datetime64[{unit}]")
    b = np.datetime64(last, "D").astype(f"datetime64[{unit}]") + 1
    return np.arange(a, b + 1).astype("datetime64[D]").astype(np.int64)


def rollovers(raw: np.ndarray, register_digits: int) -> np.ndarray:
    """Bool per reading: the step from the previous reading is a register rollover."""
    size = 10**register_digits
    out = np.zeros(raw.shape, dtype=bool)
    prev, cur = raw[:-1], raw[1:]
    out[1:] = (cur < prev) & (prev >= 0.9 * size) & (cur < 0.1 * size)
    return out


def period_consumption(
    ts: np.ndarray,
    processed: np.ndarray,
    raw: np.ndarray,
    multiplier: float,
    register_digits: int,
    start_ms: int,
    end_ms: int,
    resolution: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Consumption per period of one device.

    Returns ``(period_days, consumption)``: the first UTC day of each period overlapping
    the range (days since epoch) and its consumption rounded to 6 decimals, NaN where
    the device has no reading in the period.
    """
    bounds_days = periods(start_ms, end_ms, resolution)
    bounds = bounds_days * DAY_MS
    bounds[0] = start_ms
    bounds[-1] = end_ms
    idx = np.searchsorted(ts, bounds, side="left")
    first, stop = idx[:-1], idx[1:]
    has = stop > first
    wraps = np.concatenate(([0], np.cumsum(rollovers(raw, register_digits))))
    out = np.full(first.shape, np.nan)
    f, s = first[has], stop[has]
    base = processed[np.maximum(f - 1, 0)]
    total = processed[s - 1] - base + (wraps[s] - wraps[f]) * (10**register_digits * multiplier)
    out[has] = np.round(total, 6) + 0.0  # + 0.0 turns -0.0 into 0.0
    return bounds_days[:-1], out
