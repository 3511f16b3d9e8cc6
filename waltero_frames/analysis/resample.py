"""Consumption per reading → consumption per local calendar period (DST-correct)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..timeargs import Period, TzLike, check_period, frame_tz
from ._frames import (
    DEVICE,
    device_codes,
    device_column,
    frame_times,
    make_links,
    to_ns,
    usual_interval_ns,
)

#: Period name (:data:`~waltero_frames.timeargs.Period`) → the pandas alias that steps
#: local wall-clock period starts.
FREQS: dict[Period, str] = {"hour": "h", "day": "D", "week": "W-MON", "month": "MS", "year": "YS"}
#: How far past the last instant the boundaries are generated (two periods).
_AHEAD: dict[Period, pd.Timedelta | pd.DateOffset] = {
    "hour": pd.Timedelta(hours=2),
    "day": pd.Timedelta(days=2),
    "week": pd.Timedelta(days=14),
    "month": pd.DateOffset(months=2),
    "year": pd.DateOffset(years=2),
}
METHODS = ("attribute", "interpolate")
#: Default ``max_gap``: an interval between readings longer than this many times the
#: device's usual (median) interval counts as uncovered.
GAP_FACTOR = 3.0


def period_boundaries(tmin_ns: int, tmax_ns: int, freq: Period, tz: TzLike) -> np.ndarray:
    """Return the UTC instants (int64 ns, ascending) at which the local periods start.

    ``freq`` is a period name or alias (:func:`~waltero_frames.timeargs.check_period`).

    The first is at or before ``tmin_ns`` and the last after ``tmax_ns``. Periods are
    stepped on the local wall clock and then placed on the UTC time line: a local day is
    23 h or 25 h long across a DST change; an hour repeated when clocks go back is two
    periods and the hour skipped when they go forward is none. A local midnight that
    does not exist (a DST change at midnight) starts the day at the first valid instant;
    an ambiguous one takes its first occurrence.
    """
    period = check_period(freq, "freq")
    lo = pd.Timestamp(tmin_ns, unit="ns", tz="UTC").tz_convert(tz).tz_localize(None)
    hi = pd.Timestamp(tmax_ns, unit="ns", tz="UTC").tz_convert(tz).tz_localize(None)
    if period == "hour":
        lo = lo.floor("h")
    else:
        lo = lo.normalize()
        if period == "week":
            lo -= pd.Timedelta(days=lo.weekday())
        elif period == "month":
            lo = lo.replace(day=1)
        elif period == "year":
            lo = lo.replace(month=1, day=1)
    hi += _AHEAD[period]
    wall = pd.date_range(lo, hi, freq=FREQS[period]).as_unit("ns")
    if period == "hour":
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


def locate(bounds: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Index of the period holding each instant: ``bounds[k] <= ts < bounds[k + 1]``.

    Periods of one freq are nearly equal in length, so the index is guessed from the
    mean period length and only wrong guesses are binary-searched (cheaper than a
    binary search of every instant); runs of equal instants are located once.
    ``bounds`` must cover every instant.
    """
    n = len(bounds) - 1
    if len(ts) < 10_000 or n < 2:
        return np.searchsorted(bounds, ts, side="right") - 1
    # devices that share a clock repeat each instant in consecutive rows: locate each
    # run of equal instants once
    new_run = np.flatnonzero(ts[1:] != ts[:-1]) + 1
    if len(new_run) < len(ts) // 4:
        run_start = np.concatenate([[0], new_run])
        lengths = np.diff(np.append(run_start, len(ts)))
        return np.repeat(locate(bounds, ts[run_start]), lengths)
    k = ts - bounds[0]
    k = np.floor_divide(k, max(1, (int(bounds[-1]) - int(bounds[0])) // n), out=k)
    np.clip(k, 0, n - 1, out=k)
    # fix the few wrong guesses: DST hours, month lengths
    wrong = np.flatnonzero((ts < bounds[k]) | (ts >= bounds[1:][k]))
    if len(wrong):
        k[wrong] = np.searchsorted(bounds, ts[wrong], side="right") - 1
    return k


def _intervals(
    frame: pd.DataFrame, codes: np.ndarray, ts: np.ndarray, devices: pd.Index
) -> tuple[np.ndarray, np.ndarray]:
    """Return each row's time since its device's previous reading, and the first-row mask.

    Times are int64 ns, 0 on first rows; from the ``interval`` column that
    :func:`readings_to_consumption` writes, else by linking the rows.
    """
    if "interval" in frame.columns and frame["interval"].dtype.kind == "m":
        dt = frame["interval"].to_numpy(dtype="m8[ns]").view(np.int64).copy()
        first = dt == np.iinfo(np.int64).min
        dt[first] = 0
        if (dt < 0).any():
            raise ValueError("consumption frame has negative 'interval' values")
        # a frame cut from a longer one: an interval reaching back before the device's
        # first row here is treated like a first reading's (its start is not in the frame)
        present = np.zeros(len(devices), dtype=np.int64)
        np.maximum.at(present, codes, 1)
        if (np.bincount(codes[first], minlength=len(devices))[present > 0] == 0).any():
            t_first = np.full(len(devices), np.iinfo(np.int64).max)
            np.minimum.at(t_first, codes, ts)
            first |= ts - dt < t_first[codes]
    else:
        links = make_links(codes, ts, devices)
        first = links.prev < 0
        dt = ts - ts[links.prev]
    dt[first] = 0
    return dt, first


def _spread(
    total: int,
    row: np.ndarray,
    inside: np.ndarray,
    cross: np.ndarray,
    density: np.ndarray,
    head: np.ndarray,
    tail: np.ndarray,
    steps: np.ndarray,
    seconds: np.ndarray,
) -> np.ndarray:
    """Per output row, the sum of quantities spread over time.

    ``inside``: the amount of each reading's interval when it lies within the period
    of the reading (all rows). ``cross``: rows whose interval starts ``steps`` periods
    earlier; it spreads ``density`` per second: ``head`` seconds in the reading's own
    period, ``tail`` seconds in the period it started in, whole periods in between.
    """
    out = np.bincount(row, weights=inside, minlength=total)
    if len(cross):
        r1 = row[cross]
        r0 = r1 - steps
        out += np.bincount(r1, weights=density * head, minlength=total)
        out += np.bincount(r0, weights=density * tail, minlength=total)
        long = np.flatnonzero(steps > 1)  # intervals that cover whole periods
        if len(long):
            d = density[long]
            between = np.bincount(r0[long] + 1, weights=d, minlength=total + 1)
            between -= np.bincount(r1[long], weights=d, minlength=total + 1)
            out += np.cumsum(between[:total]) * seconds
    return out


def _max_gap(value: Any) -> pd.Timedelta:
    """``max_gap`` as a positive Timedelta; a bare number (which unit?) is refused."""
    if isinstance(value, str | pd.Timedelta | timedelta | np.timedelta64):
        try:
            gap: pd.Timedelta | None = pd.Timedelta(value)
        except (ValueError, TypeError):
            gap = None
        if gap is not None and gap is not pd.NaT and gap > pd.Timedelta(0):
            return gap
    raise ValueError(
        f"max_gap={value!r}: expected a positive duration such as '2h' or pd.Timedelta(hours=2)"
    )


def resample_consumption(
    consumption: pd.DataFrame,
    freq: Period = "day",
    *,
    tz: TzLike | None = None,
    method: Literal["attribute", "interpolate"] = "attribute",
    max_gap: str | timedelta | None = None,
) -> pd.DataFrame:
    """Sum consumption per device into local calendar periods.

    Parameters
    ----------
    consumption : DataFrame
        Output of :func:`readings_to_consumption` (index ``timestamp``, columns
        ``device_id``, ``consumption``, and ``interval`` when present — without it each
        reading is linked to its device's previous one here); any row order. NaN
        consumption (each device's first reading) counts as a reading that adds nothing.
    freq : {"hour", "day", "week", "month", "year"}, default "day"
        Local hours, days, ISO weeks (from Monday), months, years
        (:data:`~waltero_frames.timeargs.Period`; the aliases ``"h"``, ``"D"``, ``"W"``,
        ``"MS"``, ``"YS"`` are accepted).
    tz : str or tzinfo, optional
        IANA time zone whose calendar defines the periods. Default: the frame's
        ``attrs["tz"]`` (the zone the telemetry was fetched in, which
        ``readings_to_consumption`` keeps), else ``"UTC"``; an explicit value wins.
        ``"UTC"`` reproduces the API's Part 1 periods. Days are 23 h / 25 h long on DST
        changes.
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
        ``attrs`` are the input's plus ``freq`` (the canonical period name), ``tz`` and
        ``method``.
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

    See Also
    --------
    readings_to_consumption : the per-reading deltas this function sums.

    Notes
    -----
    Sums are float64 sums of the per-reading deltas: UTC days, weeks and months equal the
    API's Part 1 values to 6 decimals; a whole year of readings (tens of thousands of
    additions, misreads of ± thousands included) can differ in the 6th decimal.

    Examples
    --------
    >>> import pandas as pd
    >>> ts = pd.DatetimeIndex(["2026-03-28T12:00Z", "2026-03-29T12:00Z"], name="timestamp")
    >>> c = pd.DataFrame({"device_id": "m1", "consumption": [float("nan"), 24.0]}, index=ts)
    >>> d = resample_consumption(c, "day", tz="Europe/Berlin", method="interpolate")
    >>> d["consumption"].round(3).tolist()   # 23-hour day on 2026-03-29
    [11.0, 13.0]
    """
    period_name = check_period(freq, "freq")
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    zone = frame_tz(consumption, tz)
    gap_limit = None if max_gap is None else _max_gap(max_gap)
    times = frame_times(consumption, "consumption")
    for col in (DEVICE, "consumption"):
        if col not in consumption.columns:
            raise ValueError(f"consumption frame needs a {col!r} column")
    unit = times.unit
    attrs = {**consumption.attrs, "freq": period_name, "tz": str(zone), "method": method}
    if len(consumption) == 0:
        empty = _empty(consumption[DEVICE], unit)
        empty.attrs = attrs
        return empty
    codes, devices = device_codes(consumption[DEVICE], "consumption")
    ts = to_ns(times)
    dt, first = _intervals(consumption, codes, ts, devices)

    bounds = period_boundaries(int(ts.min()), int(ts.max()), period_name, zone)
    period = locate(bounds, ts)
    n_dev = len(devices)
    p_first = np.full(n_dev, np.iinfo(np.int64).max)
    p_last = np.full(n_dev, -1)
    np.minimum.at(p_first, codes[first], period[first])  # a device's earliest row is first
    np.maximum.at(p_last, codes, period)
    dev = np.flatnonzero(p_last >= 0)
    p_first, p_last = p_first[dev], p_last[dev]
    n_per = p_last - p_first + 1
    out_end = np.cumsum(n_per)
    out_start = out_end - n_per
    total = int(out_end[-1])
    # output row of (device d, period k): out_start[d] + k - p_first[d]
    shift = np.zeros(n_dev, dtype=np.int64)
    shift[dev] = out_start - p_first
    out_code = np.repeat(dev, n_per).astype(codes.dtype)
    out_k = np.arange(total) + np.repeat(p_first - out_start, n_per)
    seconds = (bounds[out_k + 1] - bounds[out_k]) / 1e9

    # intervals from the device's previous reading that start in an earlier period
    # (few: one per device and period boundary); the big arrays are freed early
    scratch = bounds[period]
    scratch += dt
    cross = np.flatnonzero(ts < scratch)  # ts - dt < period start
    del scratch
    t_prev = ts[cross] - dt[cross]
    p_cross = period[cross]
    row = shift[codes]
    row += period
    del period
    c_steps = p_cross - locate(bounds, t_prev)
    c_dt = dt[cross] / 1e9
    head = (ts[cross] - bounds[p_cross]) / 1e9
    tail = (bounds[p_cross - c_steps + 1] - t_prev) / 1e9
    n_readings = np.bincount(row, minlength=total).astype(np.int64)
    outside = np.zeros(len(ts), dtype=bool)
    outside[cross] = True

    values = consumption["consumption"].to_numpy(dtype=float, na_value=np.nan).copy()
    values[np.isnan(values)] = 0.0
    if method == "attribute":
        cons = np.bincount(row, weights=values, minlength=total)
        cons[n_readings == 0] = np.nan
    else:
        density = values[cross] / c_dt
        values[outside] = 0.0  # now: the part of each delta inside its reading's period
        cons = _spread(total, row, values, cross, density, head, tail, c_steps, seconds)
    del values

    if gap_limit is None:
        limit = GAP_FACTOR * usual_interval_ns(codes, dt, ~first, len(devices), ts)
    else:
        limit = np.full(n_dev, float(gap_limit.value))
    # intervals longer than the device's limit are not covered: only intervals longer
    # than the smallest limit need the per-device comparison
    ok = np.ones(len(ts), dtype=bool)
    longer = np.flatnonzero(dt > np.nanmin(limit, initial=np.inf))
    ok[longer[~(dt[longer] <= limit[codes[longer]])]] = False
    ok_cross = ok[cross].astype(float)
    ok &= ~outside
    del outside
    covered = dt.astype(float)
    del dt
    covered[~ok] = 0.0
    covered /= 1e9
    covered = _spread(total, row, covered, cross, ok_cross, head, tail, c_steps, seconds)
    coverage = np.clip(covered / seconds, 0.0, 1.0)

    # period ascending, ties by device code (a radix sort when the periods fit 16 bits)
    small = out_k.astype(np.int16) if total and out_k.max() < np.iinfo(np.int16).max else out_k
    order = np.argsort(small, kind="stable")
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
        copy=False,
    )
    out.attrs = attrs
    return out
