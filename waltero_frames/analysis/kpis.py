"""Load KPIs per device and local period: energy, peak demand, baseload, out-of-hours use.

Mean power over a window is the consumption of the deltas that end in it divided by the
time they span. Windows are the meter's own intervals when the meter reads at the
window length (each delta is then a window: ``(t - interval, t]``), else clock-aligned
windows ``(k·w, (k+1)·w]`` in UTC (local clock-aligned in every zone whose offset is a
whole number of quarter hours) that the deltas ending in them cover completely. A
window that a gap crosses has no mean power: peaks and baseload come from fully
covered windows only.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd

from ..timeargs import Period, TzLike
from ._frames import DEVICE, usual_interval_ns
from ._periodic import (
    HOUR_NS,
    Placed,
    chunks,
    holiday_days,
    place,
    schedule_table,
)
from .resample import GAP_FACTOR, locate
from .units import device_units, power_unit, unit_array

#: Peak demand is the highest mean power over this window, or over the meter's own
#: (median) reading interval when that is longer.
PEAK_WINDOW = pd.Timedelta(minutes=15)
#: Baseload: this quantile of the period's hourly mean powers (the meter's own interval
#: when that is longer than an hour) — the level the load rarely drops below.
BASELOAD_QUANTILE = 0.1
BASELOAD_WINDOW = pd.Timedelta(hours=1)
#: A delta spans a whole window when its interval is within this fraction of the window.
TOLERANCE = 0.01

COLUMNS = ("device_id", "energy", "peak_demand", "peak_at", "peak_interval", "baseload",
           "out_of_hours_share", "load_factor", "coverage", "unit", "power_unit")  # fmt: skip


def _window_lengths(p: Placed, minimum: pd.Timedelta) -> np.ndarray:
    """Per device: ``minimum`` or the device's usual reading interval when longer (ns)."""
    usual = usual_interval_ns(p.codes, p.dt, ~p.first, p.n_dev, p.ts)
    usual = np.where(np.isnan(usual), 0.0, np.round(usual / 1e9) * 1e9)
    return np.maximum(minimum.value, usual).astype(np.int64)


def _grid(p: Placed, w_dev: np.ndarray, select: np.ndarray) -> dict:
    """Sum the selected readings into clock-aligned windows ``(k·w, (k+1)·w]``.

    Per window, in (device, time) order: its device, end, consumption, time spanned and
    last reading; ``ok`` where the deltas cover the window completely.
    """
    lo = np.full(p.n_dev, np.iinfo(np.int64).max)
    hi = np.full(p.n_dev, -1)

    def window_index(rows: slice) -> tuple[np.ndarray, np.ndarray]:
        idx = np.flatnonzero(select[rows]) + rows.start
        codes = p.codes[idx]
        return idx, -(-p.ts[idx] // w_dev[codes])  # the window ending at or after each

    for rows in chunks(len(p.ts)):
        idx, widx = window_index(rows)
        np.minimum.at(lo, p.codes[idx], widx)
        np.maximum.at(hi, p.codes[idx], widx)
    has = hi >= 0
    n_cells = np.where(has, hi - lo + 1, 0)
    shift = np.cumsum(n_cells) - n_cells - np.where(has, lo, 0)
    total = int(n_cells.sum())
    sum_c = np.zeros(total)
    sum_dt = np.zeros(total)
    t_last = np.full(total, np.iinfo(np.int64).min)
    for rows in chunks(len(p.ts)):
        idx, cell = window_index(rows)
        cell += shift[p.codes[idx]]
        sum_c += np.bincount(cell, weights=p.values(idx), minlength=total)
        sum_dt += np.bincount(cell, weights=p.dt[idx].astype(float), minlength=total)
        np.maximum.at(t_last, cell, p.ts[idx])
    dev = np.repeat(np.arange(p.n_dev), n_cells)
    w_cell = w_dev[dev]
    end = (np.arange(total) - shift[dev]) * w_cell
    ok = np.abs(sum_dt - w_cell) <= TOLERANCE * w_cell
    return {"dev": dev, "end": end, "w": w_cell, "c": sum_c, "dt": sum_dt, "t": t_last, "ok": ok}


def _cell_keys(p: Placed, g: dict, idx: np.ndarray) -> np.ndarray:
    """Dense (period, device) key of windows ``idx``: the period of their last reading."""
    key = locate(p.bounds, g["t"][idx])
    key *= p.n_dev
    key += g["dev"][idx]
    return key


def _own_windows(p: Placed, w_dev: np.ndarray, rows: slice) -> tuple[np.ndarray, ...]:
    """Find the readings of ``rows`` whose delta is one whole window: row, key, power."""
    dt, w = p.dt[rows], w_dev[p.codes[rows]]
    idx = np.flatnonzero(np.abs(dt - w) <= TOLERANCE * w) + rows.start
    return idx, p.keys(idx), p.values(idx) * HOUR_NS / p.dt[idx]


def _peaks(p: Placed, w_dev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Highest mean power per (period, device) key and the start of its window."""
    peak = np.full(p.n_keys, -np.inf)
    at = np.full(p.n_keys, np.iinfo(np.int64).max)
    for rows in chunks(len(p.ts)):
        _, key, power = _own_windows(p, w_dev, rows)
        np.maximum.at(peak, key, power)
    sub = (p.dt > 0) & (p.dt < (1 - TOLERANCE) * w_dev[p.codes])
    if sub.any():  # meters reading faster than the window: sum them into windows
        g = _grid(p, w_dev, sub)
        win = np.flatnonzero(g["ok"])
        key = _cell_keys(p, g, win)
        power = g["c"][win] * HOUR_NS / g["dt"][win]
        np.maximum.at(peak, key, power)
        best = power == peak[key]
        np.minimum.at(at, key[best], (g["end"] - g["w"])[win[best]])
    for rows in chunks(len(p.ts)):  # the same powers again: where each maximum is
        idx, key, power = _own_windows(p, w_dev, rows)
        best = np.flatnonzero(power == peak[key])
        np.minimum.at(at, key[best], p.ts[idx[best]] - p.dt[idx[best]])
    peak[np.isinf(peak)] = np.nan
    return peak, at


def _baseload(p: Placed, w_dev: np.ndarray, q: float) -> np.ndarray:
    """Take the ``q`` quantile of the mean powers of fully covered windows per key."""
    out = np.full(p.n_keys, np.nan)
    select = (p.dt > 0) & (p.dt <= (1 + TOLERANCE) * w_dev[p.codes])
    if not select.any():
        return out
    g = _grid(p, w_dev, select)
    del select
    win = np.flatnonzero(g["ok"])
    if not len(win):
        return out
    key = _cell_keys(p, g, win)  # windows are in (device, time) order: keys come in runs
    power = g["c"][win] * HOUR_NS / g["dt"][win]
    del g
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    lengths = np.diff(np.r_[starts, len(key)])
    run = np.repeat(np.arange(len(starts)), lengths)
    matrix = np.full((len(starts), int(lengths.max())), np.inf)
    matrix[run, np.arange(len(key)) - starts[run]] = power
    matrix.sort(axis=1)
    pos = q * (lengths - 1)  # numpy's default "linear" quantile
    below = np.floor(pos).astype(np.int64)
    above = np.minimum(below + 1, lengths - 1)
    r = np.arange(len(starts))
    lo_v, hi_v = matrix[r, below], matrix[r, above]
    out[key[starts]] = lo_v + (pos - below) * (hi_v - lo_v)
    return out


def _out_of_hours(p: Placed, schedule: Any, holidays: Any) -> np.ndarray:
    """Share of each key's consumption read outside the schedule (local wall clock)."""
    table = schedule_table(schedule)
    lo, hi = (pd.Timestamp(int(t), tz="UTC").tz_convert(p.tz).year for t in p.bounds[[0, -1]])
    closed_days = holiday_days(holidays, range(lo, hi + 1))
    outside = np.zeros(p.n_keys)
    total = np.zeros(p.n_keys)
    for rows in chunks(len(p.ts)):
        day, minute = p.calendar(rows)
        is_open = table[(day + 3) % 7, minute]  # 1970-01-01 was a Thursday
        if len(closed_days):
            is_open &= ~np.isin(day, closed_days)
        values = p.values(rows)
        key = p.keys(rows)
        total += np.bincount(key, weights=values, minlength=p.n_keys)
        outside += np.bincount(key[~is_open], weights=values[~is_open], minlength=p.n_keys)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total != 0, outside / total, np.nan)


def _mean_power(p: Placed) -> np.ndarray:
    """Mean power per key over the deltas that are not gaps (their consumption / time)."""
    limit = GAP_FACTOR * usual_interval_ns(p.codes, p.dt, ~p.first, p.n_dev, p.ts)
    energy = np.zeros(p.n_keys)
    hours = np.zeros(p.n_keys)
    for rows in chunks(len(p.ts)):
        dt = p.dt[rows]
        ok = (dt > 0) & ~(dt > limit[p.codes[rows]])
        idx = np.flatnonzero(ok) + rows.start
        key = p.keys(idx)
        energy += np.bincount(key, weights=p.values(idx), minlength=p.n_keys)
        hours += np.bincount(key, weights=p.dt[idx] / HOUR_NS, minlength=p.n_keys)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(hours > 0, energy / hours, np.nan)


def load_kpis(
    consumption: pd.DataFrame,
    *,
    freq: Period = "month",
    tz: TzLike | None = None,
    schedule: dict[str, list[tuple[str, str]]] | None = None,
    holidays: Any = None,
) -> pd.DataFrame:
    """Load KPIs per device and local period: energy, peak demand, baseload, out-of-hours.

    Parameters
    ----------
    consumption : DataFrame
        Output of :func:`readings_to_consumption` (index ``timestamp``; ``device_id``,
        ``consumption``, ``interval``). Units come from ``attrs["devices"]`` (a telemetry
        frame of ``wf.devices(…, details=True)`` carries them) or a ``unit`` column;
        without them the unit columns are empty.
    freq : {"hour", "day", "week", "month", "year"}, default "month"
        The periods of :func:`resample_consumption` (same index, same rows).
    tz : str, optional
        Zone of the periods and of the schedule's wall clock; default ``attrs["tz"]``,
        else UTC.
    schedule : dict, optional
        Operating hours in local wall-clock time: ``{"Mon": [("08:00", "18:00")], …}``
        (weekdays ``"Mon"`` … ``"Sun"``; days not listed are closed; a window ending at
        or before its start runs past midnight). Without it ``out_of_hours_share`` is NaN.
    holidays : str or list of dates, optional
        Closed days: a country code (``"DE"``) or country and subdivision (``"DE-BE"``)
        of the ``holidays`` package, or a list of local dates. Needs ``schedule``.

    Returns
    -------
    DataFrame
        Index ``period_start`` (UTC instant the local period starts; the rows of
        ``resample_consumption``); columns

        - ``device_id``;
        - ``energy``: consumption in the period (Part 1's rule: each delta in the period
          of its reading), in the device's unit;
        - ``peak_demand``: highest mean power over 15 minutes, or over the meter's own
          interval when longer (``peak_interval``), in ``power_unit`` (kWh → kW,
          m3 → m3/h); a window belongs to the period of the reading that ends it;
        - ``peak_at``: the start of that window (UTC; the earliest on ties);
        - ``peak_interval``: the window length (timedelta);
        - ``baseload``: the 10th percentile (``BASELOAD_QUANTILE``) of the period's
          hourly mean powers (over the meter's own interval when longer than an hour);
        - ``out_of_hours_share``: share of ``energy`` read outside the schedule or on a
          holiday (a reading at the opening time counts as open);
        - ``load_factor``: mean power / ``peak_demand`` (mean over the deltas that are
          not gaps);
        - ``coverage``: as ``resample_consumption`` (fraction of the period with
          readings on both sides);
        - ``unit``, ``power_unit``: strings (missing when unknown).

        Peaks and baseload use only windows the readings cover completely: NaN when a
        period has none. ``attrs`` carries the input's plus ``freq``, ``tz``,
        ``baseload_quantile``, ``schedule`` and ``holidays``.

    Raises
    ------
    ValueError
        Unknown ``freq`` or zone, a malformed frame, a schedule with an unknown weekday
        or a time that is not ``"HH:MM"``, an unknown holiday country or subdivision,
        ``holidays`` without ``schedule``.

    See Also
    --------
    resample_consumption : the periods and coverage used here.
    costs, emissions : money and CO2 of the same periods.

    Examples
    --------
    >>> import pandas as pd
    >>> ts = pd.date_range("2026-06-01", periods=4 * 24 + 1, freq="15min", tz="UTC",
    ...                    name="timestamp")
    >>> c = pd.DataFrame({"device_id": "m1", "consumption": 0.25, "unit": "kWh"}, index=ts)
    >>> c.iloc[0, 1] = float("nan")
    >>> c.iloc[40, 1] = 3.0              # 3 kWh in the quarter 09:45-10:00 UTC: 12 kW
    >>> k = load_kpis(c, freq="D", tz="UTC")
    >>> k["peak_demand"].tolist(), k["baseload"].tolist(), k["power_unit"].tolist()
    ([12.0, 1.0], [1.0, 1.0], ['kW', 'kW'])
    >>> str(k["peak_at"].iloc[0])
    '2026-06-01 09:45:00+00:00'
    """
    if holidays is not None and schedule is None:
        raise ValueError("holidays= needs schedule= (holidays count as closed days)")
    if schedule is not None:
        schedule_table(schedule)  # bad input refused before any work
    p = place(consumption, freq, tz)
    out = p.out
    n = len(out)
    peak_interval = np.zeros(n, dtype="m8[ns]")
    peak, baseload, share, mean = (np.full(n, np.nan) for _ in range(4))
    at = np.full(n, np.iinfo(np.int64).min)
    units = np.full(n, "", dtype=object)
    if n:
        w_peak = _window_lengths(p, PEAK_WINDOW)
        peak_d, at_d = _peaks(p, w_peak)
        peak, at = p.to_rows(peak_d), p.to_rows(at_d)
        at = np.where(np.isnan(peak), np.iinfo(np.int64).min, at)
        out_codes = p.out_key % p.n_dev
        peak_interval = w_peak[out_codes].view("m8[ns]")
        w_base = _window_lengths(p, BASELOAD_WINDOW)
        baseload = p.to_rows(_baseload(p, w_base, BASELOAD_QUANTILE))
        if schedule is not None:
            share = p.to_rows(_out_of_hours(p, schedule, holidays))
        mean = p.to_rows(_mean_power(p))
        units = device_units(consumption, p.codes, p.devices, need=False)[out_codes]
    with np.errstate(invalid="ignore", divide="ignore"):
        load_factor = np.where(peak > 0, mean / peak, np.nan)
    unit_col = unit_array(units)
    power = pd.array([power_unit(u) if u else None for u in units], dtype="str")
    unit_name = cast(pd.DatetimeIndex, out.index).unit
    result = pd.DataFrame(
        {
            DEVICE: out[DEVICE],
            "energy": out["consumption"],
            "peak_demand": peak,
            "peak_at": pd.DatetimeIndex(at.view("M8[ns]")).tz_localize("UTC").as_unit(unit_name),
            "peak_interval": pd.TimedeltaIndex(peak_interval).as_unit(unit_name),
            "baseload": baseload,
            "out_of_hours_share": share,
            "load_factor": load_factor,
            "coverage": out["coverage"],
            "unit": unit_col,
            "power_unit": power,
        },
        index=out.index,
    )
    result.attrs = {
        **out.attrs,
        "baseload_quantile": BASELOAD_QUANTILE,
        "schedule": schedule,
        "holidays": holidays if holidays is None or isinstance(holidays, str) else list(holidays),
    }
    return result
