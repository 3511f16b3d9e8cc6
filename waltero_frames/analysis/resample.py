"""Consumption per reading → consumption per local calendar period (DST-correct)."""

from __future__ import annotations

import zoneinfo
from datetime import tzinfo
from typing import Any

import numpy as np
import pandas as pd

from ._frames import (
    DEVICE,
    Panel,
    device_codes,
    device_column,
    frame_times,
    make_panel,
    to_ns,
    usual_interval_ns,
)

#: Supported period frequencies → the pandas alias that steps local wall-clock starts.
FREQS = {"h": "h", "D": "D", "W": "W-MON", "MS": "MS", "YS": "YS"}
METHODS = ("attribute", "interpolate")
#: Default ``max_gap``: an interval between readings longer than this many times the
#: device's usual (median) interval counts as uncovered.
GAP_FACTOR = 3.0


def check_tz(tz: Any) -> Any:
    """Return a time zone pandas accepts, or raise ValueError naming the bad value."""
    if isinstance(tz, tzinfo):
        return tz
    if not isinstance(tz, str) or not tz:
        raise ValueError(f"tz must be an IANA time zone name, got {tz!r}")
    if tz.upper() == "UTC":
        return "UTC"
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r}") from None
    return tz


def period_boundaries(tmin_ns: int, tmax_ns: int, freq: str, tz: Any) -> np.ndarray:
    """UTC instants (int64 ns, ascending) at which the local periods of ``freq`` start.

    The first is at or before ``tmin_ns`` and the last after ``tmax_ns``. Periods are
    stepped on the local wall clock and then placed on the UTC time line: a local day is
    23 h or 25 h long across a DST change; an hour repeated when clocks go back is two
    periods and the hour skipped when they go forward is none. A local midnight that
    does not exist (a DST change at midnight) starts the day at the first valid instant;
    an ambiguous one takes its first occurrence.
    """
    alias = FREQS[freq]
    lo = pd.Timestamp(tmin_ns, unit="ns", tz="UTC").tz_convert(tz).tz_localize(None)
    hi = pd.Timestamp(tmax_ns, unit="ns", tz="UTC").tz_convert(tz).tz_localize(None)
    if freq == "h":
        lo = lo.floor("h")
    else:
        lo = lo.normalize()
        if freq == "W":
            lo -= pd.Timedelta(days=lo.weekday())
        elif freq == "MS":
            lo = lo.replace(day=1)
        elif freq == "YS":
            lo = lo.replace(month=1, day=1)
    hi += {
        "h": pd.Timedelta(hours=2),
        "D": pd.Timedelta(days=2),
        "W": pd.Timedelta(days=14),
        "MS": pd.DateOffset(months=2),
        "YS": pd.DateOffset(years=2),
    }[freq]
    wall = pd.date_range(lo, hi, freq=alias).as_unit("ns")
    if freq == "h":
        parts = [
            wall.tz_localize(tz, ambiguous=np.full(len(wall), first), nonexistent="NaT")
            for first in (True, False)
        ]
        stamps = np.concatenate([p.dropna().asi8 for p in parts])
    else:
        stamps = wall.tz_localize(
            tz, ambiguous=np.ones(len(wall), dtype=bool), nonexistent="shift_forward"
        ).asi8
    return np.unique(stamps)


def _empty(like: Any, unit: str) -> pd.DataFrame:
    idx = pd.DatetimeIndex([], dtype=f"datetime64[{unit}, UTC]", name="period_start")
    dev = device_column(np.zeros(0, dtype=np.int16), pd.Index([], dtype=object), like)
    return pd.DataFrame(
        {
            DEVICE: dev,
            "consumption": np.zeros(0),
            "n_readings": np.zeros(0, dtype=np.int64),
            "coverage": np.zeros(0),
        },
        index=idx,
    )


def _at_boundaries(
    panel: Panel,
    cum: np.ndarray,
    key: np.ndarray,
    bkey: np.ndarray,
    bcode: np.ndarray,
    bts: np.ndarray,
) -> np.ndarray:
    """A per-device piecewise-linear cumulative (value ``cum`` at each reading, flat
    before the first and after the last reading) evaluated at the boundary instants
    ``bts`` of device ``bcode``; ``key``/``bkey`` locate boundaries among readings."""
    j = np.searchsorted(key, bkey, side="left")  # first reading at or after the boundary
    start, end = panel.starts[bcode], panel.ends[bcode]
    before = j <= start
    after = j >= end
    inner = ~(before | after)
    out = np.empty(len(bts))
    out[before] = cum[start[before]]
    out[after] = cum[end[after] - 1]
    jj = j[inner]
    t0, t1 = panel.ts[jj - 1], panel.ts[jj]
    frac = (bts[inner] - t0) / (t1 - t0)
    out[inner] = cum[jj - 1] + (cum[jj] - cum[jj - 1]) * frac
    return out


def _device_cumsum(panel: Panel, x: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``x`` restarting at each device (x at a device's first row is
    included)."""
    total = np.cumsum(x)
    base = np.zeros(len(panel.devices))
    nonempty = panel.ends > panel.starts
    base[nonempty] = total[panel.starts[nonempty]] - x[panel.starts[nonempty]]
    return total - base[panel.codes]


def resample_consumption(
    consumption: pd.DataFrame,
    freq: str = "D",
    *,
    tz: Any = "UTC",
    method: str = "attribute",
    max_gap: Any = None,
) -> pd.DataFrame:
    """Sum consumption per device into local calendar periods.

    Parameters
    ----------
    consumption : DataFrame
        Output of :func:`readings_to_consumption` (index ``timestamp``, columns
        ``device_id``, ``consumption``); any row order. NaN consumption (each device's
        first reading) counts as a reading that adds nothing.
    freq : {"h", "D", "W", "MS", "YS"}
        Local hours, days, ISO weeks (from Monday), months, years.
    tz : str
        IANA time zone whose calendar defines the periods (``"UTC"`` reproduces the API's
        Part 1 periods). Days are 23 h / 25 h long on DST changes.
    method : {"attribute", "interpolate"}
        ``"attribute"``: each delta counts in the period containing its reading (the
        API's Part 1 rule); a period without readings has NaN consumption, as Part 1's
        null. ``"interpolate"``: the cumulative register is interpolated linearly at each
        period boundary, so the consumption of an interval between two readings is spread
        over the periods it spans in proportion to time; no extrapolation before a
        device's first or after its last reading.
    max_gap : str or Timedelta, optional
        Intervals between consecutive readings longer than this count as not covered
        (default: 3 × the device's median reading interval).

    Returns
    -------
    DataFrame
        Index ``period_start`` (UTC instant the local period starts; ascending, ties by
        device_id); columns ``device_id``, ``consumption`` (float64), ``n_readings``
        (int64: readings with a timestamp in the period) and ``coverage`` (float64 in
        [0, 1]: the fraction of the period's real duration lying between two consecutive
        readings of the device that are at most ``max_gap`` apart). Every period from the
        one holding a device's first reading to the one holding its last is present. The
        first and last periods are usually **partial**: coverage counts only the time
        after the first / before the last reading, so a report can refuse periods with
        ``coverage < 0.5``. With ``"attribute"``, the first period also holds only the
        deltas whose later reading falls in it.

    Raises
    ------
    ValueError
        Unknown ``freq``, ``method`` or time zone, or a malformed frame.

    Examples
    --------
    >>> import pandas as pd
    >>> ts = pd.DatetimeIndex(["2026-03-28T12:00Z", "2026-03-29T12:00Z"], name="timestamp")
    >>> c = pd.DataFrame({"device_id": "m1", "consumption": [float("nan"), 24.0]}, index=ts)
    >>> d = resample_consumption(c, "D", tz="Europe/Berlin", method="interpolate")
    >>> d["consumption"].round(3).tolist()   # 23-hour day on 2026-03-29
    [11.0, 13.0]
    """
    if freq not in FREQS:
        raise ValueError(f"freq must be one of {list(FREQS)}, got {freq!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    tz = check_tz(tz)
    times = frame_times(consumption, "consumption")
    for col in (DEVICE, "consumption"):
        if col not in consumption.columns:
            raise ValueError(f"consumption frame needs a {col!r} column")
    unit = times.unit
    if len(consumption) == 0:
        return _empty(consumption[DEVICE], unit)
    codes, devices = device_codes(consumption[DEVICE], "consumption")
    panel = make_panel(codes, to_ns(times), devices)
    values = consumption["consumption"].to_numpy(dtype=float, na_value=np.nan)[panel.order]
    values = np.nan_to_num(values, nan=0.0)

    bounds = period_boundaries(int(panel.ts.min()), int(panel.ts.max()), freq, tz)
    period = np.searchsorted(bounds, panel.ts, side="right") - 1
    nonempty = panel.ends > panel.starts
    dev = np.flatnonzero(nonempty)
    p_first = period[panel.starts[dev]]
    p_last = period[panel.ends[dev] - 1]
    n_per = p_last - p_first + 1
    out_end = np.cumsum(n_per)
    out_start = out_end - n_per
    total = int(out_end[-1])
    # output row (device d, period k): out_start[d] + k - p_first[d]
    row_start = np.zeros(len(devices), dtype=np.int64)
    row_first = np.zeros(len(devices), dtype=np.int64)
    row_start[dev], row_first[dev] = out_start, p_first
    row = row_start[panel.codes] + period - row_first[panel.codes]
    out_code = np.repeat(dev, n_per).astype(panel.codes.dtype)
    out_k = np.arange(total) - np.repeat(out_start, n_per) + np.repeat(p_first, n_per)

    n_readings = np.bincount(row, minlength=total).astype(np.int64)

    # Boundary evaluation of per-device cumulative functions: boundary k of device d is
    # located among the readings by the (device, period) key, which is non-decreasing in
    # (device, time) order.
    stride = len(bounds) + 1
    key = panel.codes.astype(np.int64) * stride + period
    b_code = np.concatenate([out_code, out_code[out_end - 1]])
    b_k = np.concatenate([out_k, out_k[out_end - 1] + 1])
    b_ts = bounds[b_k]
    b_key = b_code.astype(np.int64) * stride + b_k

    def per_period(cum: np.ndarray) -> np.ndarray:
        at = _at_boundaries(panel, cum, key, b_key, b_code, b_ts)
        lower = at[:total]
        upper = np.empty(total)
        upper[:-1] = lower[1:]
        upper[out_end - 1] = at[total:]
        return upper - lower

    if method == "attribute":
        cons = np.bincount(row, weights=values, minlength=total)
        cons[n_readings == 0] = np.nan
    else:
        cons = per_period(_device_cumsum(panel, values))
        # a first reading's own delta (a frame cut from a longer series) has no earlier
        # reading to spread from: it stays in its reading's period
        first = panel.first
        cons += np.bincount(row[first], weights=values[first], minlength=total)

    gaps = np.zeros(len(panel.ts))
    gaps[1:] = np.diff(panel.ts).astype(float)
    gaps[panel.first] = 0.0
    if max_gap is None:
        limit = GAP_FACTOR * usual_interval_ns(panel)[panel.codes]
    else:
        limit = float(pd.Timedelta(max_gap).value)
    covered = np.where(gaps <= limit, gaps, 0.0) / 1e9
    seconds = (bounds[out_k + 1] - bounds[out_k]) / 1e9
    coverage = np.clip(per_period(_device_cumsum(panel, covered)) / seconds, 0.0, 1.0)

    order = np.argsort(out_k, kind="stable")  # period ascending, ties by device code
    index = pd.DatetimeIndex(
        pd.to_datetime(bounds[out_k[order]], unit="ns", utc=True), name="period_start"
    ).as_unit(unit)
    out = pd.DataFrame(
        {
            DEVICE: device_column(out_code[order], devices, consumption[DEVICE]),
            "consumption": cons[order],
            "n_readings": n_readings[order],
            "coverage": coverage[order],
        },
        index=index,
    )
    out.attrs = {**consumption.attrs, "freq": freq, "tz": str(tz), "method": method}
    return out
