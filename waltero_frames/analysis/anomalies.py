"""Data-quality flags on telemetry readings, and the episode table built from them.

Each flag is one documented rule with tunable thresholds (``DEFAULTS``), in the spirit
of SaQC's flag columns, pecos' event table and utility VEE (validation, estimation,
editing) rule sets. The defaults were checked against the simulator's injected anomalies
(``bench/anomaly_recovery.py``: precision and recall 1.0 for every kind on seeds 0–3).
All rules are per device and vectorized over many devices at once (devices are taken in
blocks of about ``BLOCK_ROWS`` readings to bound memory).

``spike``
    A digit misread: a big register jump that *comes back*. On a cumulative register a
    misread shows as a pair of opposite steps, so instead of a Hampel filter on values
    (window 5–12, 3–6 MADs) the robust scale is taken on the steps: a step is big when
    it exceeds ``spike_factor`` × the device's 95th percentile step (at least one
    register unit); a big step followed by the device's next big step of the opposite
    sign that cancels it to within ``spike_return`` of its size, within
    ``spike_max_hours``, marks the readings from the first jump up to the return as
    misread (one reading, or a whole episode of them). A real surge (or a meter swap)
    never comes back and is not a spike.
``negative``
    A negative step that is neither a rollover nor part of a spike (e.g. a meter swap
    or backflow; CONTRACT §4).
``rollover``
    The register wrapped (CONTRACT §4 rule, see :func:`readings_to_consumption`).
``gap``
    No register reading for longer than ``gap_factor`` × the device's usual (median)
    reading interval; set on the first reading after the hole.
``stuck``
    The register did not move over a run lasting at least ``stuck_hours[meter_type]``
    *and* at least ``stuck_units`` register units' worth of time at the device's mean
    rate (a coarse register on a small flat legitimately stands still for hours; the
    field-notes' 1 h / 48 h / 720 h rules assume fine resolution). All readings of the
    run are flagged.
``night_flow``
    Water meters only: a leak is a *constant* flow, so it sets a flat, non-zero floor
    under the night's consumption. Per local night window ``[night_start, night_end)``
    h, the **minimum night flow** is the lowest hourly flow (i2O's minimum night flow:
    the lowest rolling mean of the night; hourly bins of the steps that lie wholly in
    the window, so a step across a gap is not night flow). A night is *leak-like* when
    that floor is above zero in every observed hour (AquaCUE's "flow in every hour")
    and at least ``night_floor`` × the night's mean flow: the night's flow is mostly
    the constant floor. A household that sleeps has hours of zero; a building's main
    inlet never rests (other flats draw water) but its draw is intermittent, with
    hours far below its night mean. A run of ``night_nights`` consecutive nights is a
    leak when at least ``night_share`` of its observed nights (at least half of them
    observed) are leak-like and its floors add up to at least ``night_min_units``
    register units (a coarse register cannot show a small flow). The readings of each
    night cycle (``night_start`` to ``night_start`` next day) of such runs whose own
    night is leak-like, next to another leak-like night, are flagged (a leak runs on;
    a lone leak-like night is chance). The rule needs no history before the leak: a leak
    already running on the first night of the frame is flagged from that night on
    (the earlier rule compared night flow to the device's median daily flow, which a
    leak covering the whole frame raises as well, so it flagged nothing).
``low_battery``
    ``battery.level`` below ``low_battery_level`` % or ``battery.voltage`` below
    ``low_battery_v`` V (a 3.6 V lithium cell near its end), with hysteresis: the flag
    holds until the level is back above ``low_battery_level + low_battery_release_level``
    (voltage above ``low_battery_v + low_battery_release_v``), so noise around the
    threshold does not split one episode into dozens.
``weak_signal``
    ``connection.rssi`` below ``weak_rssi`` dBm (the "poor coverage" band of NB-IoT /
    LoRa radios starts around -105 to -110 dBm), held until the RSSI is
    ``weak_release_db`` above it.
``multiplier_mismatch``
    ``meter.value.processed`` differs from ``meter.value.raw`` × multiplier by more
    than ``mismatch_atol`` + ``mismatch_rtol`` × |value| (processed is rounded to 6
    decimals).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..timeargs import TzLike, check_tz, frame_tz
from ._frames import (
    DEVICE,
    PROCESSED,
    RAW,
    device_codes,
    frame_times,
    local_wall_ns,
    make_links,
    per_device_str,
    to_ns,
    usual_interval_ns,
)
from .consumption import compute_deltas

RULES = (
    "spike",
    "negative",
    "rollover",
    "gap",
    "stuck",
    "night_flow",
    "low_battery",
    "weak_signal",
    "multiplier_mismatch",
)
METER_RULES = ("spike", "negative", "rollover", "gap", "stuck", "night_flow", "multiplier_mismatch")
WATER = ("water_cold", "water_hot")

#: Default thresholds; per-meter-type ones are mappings ("" = unknown type).
DEFAULTS: dict[str, Any] = {
    "spike_factor": 10.0,
    "spike_return": 0.2,
    "spike_max_hours": 14 * 24.0,
    "gap_factor": 3.0,
    "stuck_hours": {
        "electricity": 24.0,
        "gas": 48.0,
        "heat": 48.0,
        "water_cold": 72.0,
        "water_hot": 72.0,
        "": 72.0,
    },
    "stuck_units": 30.0,
    "night_start": 1,
    "night_end": 5,
    "night_nights": 7,
    "night_floor": 0.5,
    "night_share": 0.8,
    "night_min_units": 5.0,
    "low_battery_level": 20.0,
    "low_battery_v": 3.1,
    "low_battery_release_level": 5.0,
    "low_battery_release_v": 0.05,
    "weak_rssi": -105.0,
    "weak_release_db": 5.0,
    "mismatch_atol": 1.5e-6,
    "mismatch_rtol": 1e-9,
}

DETAIL = {
    "spike": "register jump that comes back (digit misread)",
    "negative": "register went backwards (not a rollover)",
    "rollover": "register rolled over",
    "gap": "no readings",
    "stuck": "register did not move",
    "night_flow": "continuous night flow (possible leak)",
    "low_battery": "battery low",
    "weak_signal": "weak radio signal",
    "multiplier_mismatch": "processed != raw x multiplier",
}


#: Allowed range (inclusive) and integrality of each threshold; unlisted ones need any
#: finite number. Checked up front so a typo is a ValueError naming it, not a numpy error
#: deep inside (or, worse, silently meaningless flags).
_POSITIVE = 1e-12  # lower bound standing for "> 0"
LIMITS: dict[str, tuple[float, float, bool]] = {
    "spike_factor": (_POSITIVE, np.inf, False),
    "spike_return": (0.0, np.inf, False),
    "spike_max_hours": (_POSITIVE, np.inf, False),
    "gap_factor": (_POSITIVE, np.inf, False),
    "stuck_hours": (_POSITIVE, np.inf, False),
    "stuck_units": (0.0, np.inf, False),
    "night_start": (0, 23, True),
    "night_end": (1, 24, True),
    "night_nights": (1, 366, True),
    "night_floor": (0.0, 1.0, False),
    "night_share": (0.0, 1.0, False),
    "night_min_units": (0.0, np.inf, False),
    "low_battery_level": (0.0, 100.0, False),
    "low_battery_v": (_POSITIVE, np.inf, False),
    "low_battery_release_level": (0.0, 100.0, False),
    "low_battery_release_v": (0.0, np.inf, False),
    "weak_release_db": (0.0, np.inf, False),
    "mismatch_atol": (0.0, np.inf, False),
    "mismatch_rtol": (0.0, np.inf, False),
}


def _threshold(key: str, value: Any, name: str | None = None) -> float:
    lo, hi, integer = LIMITS.get(key, (-np.inf, np.inf, False))
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    ok = ok and bool(np.isfinite(value)) and lo <= value <= hi
    if ok and integer and value != int(value):
        ok = False
    if not ok:
        kind = "a whole number" if integer else "a number"
        where = "> 0" if lo == _POSITIVE and hi == np.inf else f"in [{lo:g}, {hi:g}]"
        raise ValueError(f"threshold {name or key}={value!r}: expected {kind} {where}")
    return int(value) if integer else float(value)


def _thresholds(overrides: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown threshold(s) {unknown}; known: {sorted(DEFAULTS)}")
    out = dict(DEFAULTS)
    for key, value in overrides.items():
        if isinstance(DEFAULTS[key], Mapping):
            given = value if isinstance(value, Mapping) else dict.fromkeys(DEFAULTS[key], value)
            stray = sorted(set(given) - set(DEFAULTS[key]), key=str)
            if stray:
                raise ValueError(
                    f"threshold {key}: unknown meter type(s) {stray}; known: "
                    f"{sorted(DEFAULTS[key])}"
                )
            checked = {k: _threshold(key, v, f"{key}[{k!r}]") for k, v in given.items()}
            out[key] = {**DEFAULTS[key], **checked}
        else:
            out[key] = _threshold(key, value)
    if out["night_end"] <= out["night_start"]:
        raise ValueError(
            f"night_end={out['night_end']!r} must be after night_start={out['night_start']!r} "
            "(hours of the local night)"
        )
    return out


def _col(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return frame[name].to_numpy(dtype=float, na_value=np.nan)


def _spikes(step: np.ndarray, codes: np.ndarray, ts: np.ndarray, first: np.ndarray, unit, th):
    """(spike rows, return rows) in sorted order; ``unit`` is one register unit."""
    n = len(step)
    mag = np.abs(step.astype(float))
    mag[first] = 0.0
    q95 = pd.Series(mag).groupby(codes).quantile(0.95)
    scale = np.zeros(int(codes.max()) + 1 if n else 0)
    scale[q95.index.to_numpy()] = q95.to_numpy()
    floor = np.maximum(scale[codes], unit)
    big = np.flatnonzero(mag > th["spike_factor"] * floor)
    spike = np.zeros(n, dtype=bool)
    back = np.zeros(n, dtype=bool)
    if len(big) < 2:
        return spike, back
    a, b = big[:-1], big[1:]
    s_a, s_b = step[a].astype(float), step[b].astype(float)
    pair = (
        (codes[a] == codes[b])
        & (np.sign(s_a) == -np.sign(s_b))
        & (np.abs(s_a + s_b) <= th["spike_return"] * np.abs(s_a))
        & ((ts[b] - ts[a]) <= th["spike_max_hours"] * 3.6e12)
    )
    a, b = a[pair], b[pair]
    mark = np.zeros(n + 1, dtype=np.int64)
    np.add.at(mark, a, 1)
    np.add.at(mark, b, -1)
    spike = np.cumsum(mark[:n]) > 0
    back[b] = True
    return spike, back


def _runs_of(mask: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (inclusive) indices of runs of True within one device."""
    n = len(mask)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    new_dev = np.ones(n, dtype=bool)
    new_dev[1:] = codes[1:] != codes[:-1]
    prev = np.zeros(n, dtype=bool)
    prev[1:] = mask[:-1]
    starts = np.flatnonzero(mask & (~prev | new_dev))
    nxt = np.zeros(n, dtype=bool)
    nxt[:-1] = mask[1:] & ~new_dev[1:]
    ends = np.flatnonzero(mask & ~nxt)
    return starts, ends


def flag_anomalies(
    readings: pd.DataFrame,
    *,
    meter_type: Any = None,
    tz: TzLike | None = None,
    multiplier: Any = None,
    register_digits: Any = None,
    **thresholds: Any,
) -> pd.DataFrame:
    """Flag data-quality anomalies, one bool column per rule (see the module docstring).

    Parameters
    ----------
    readings : DataFrame
        ``telemetry`` layout (index ``timestamp`` UTC, ``device_id``, field columns,
        optional ``value``), any row order, several devices at once.
    meter_type : str or mapping by device_id, optional
        Default: the ``meter_type`` column, else ``attrs["meter_type"]``, else a
        ``attrs["devices"]`` frame; unknown types get the ``""`` defaults and no
        night-flow rule.
    tz : str, optional
        Time zone of the night window (default ``attrs["tz"]`` or ``"UTC"``).
    multiplier, register_digits
        As in :func:`readings_to_consumption`.
    **thresholds
        Overrides of ``DEFAULTS`` (unknown names raise ValueError); per-meter-type
        thresholds take a scalar (all types) or a mapping by meter type.

    Returns
    -------
    DataFrame
        The input rows in their order with all input columns, plus bool columns
        ``spike``, ``negative``, ``rollover``, ``gap``, ``stuck``, ``night_flow``,
        ``low_battery``, ``weak_signal``, ``multiplier_mismatch`` and ``any_flag``.
        Rules on the register are False on rows without a register value.
        ``attrs["thresholds"]`` records the thresholds used.

    Raises
    ------
    ValueError
        An unknown threshold name or time zone, a malformed frame, or a multiplier /
        register size that the register rules need but cannot find.

    See Also
    --------
    anomaly_events : the flagged readings as a table of episodes.

    Examples
    --------
    >>> import pandas as pd
    >>> ts = pd.date_range("2026-01-01", periods=200, freq="h", tz="UTC", name="timestamp")
    >>> raw = pd.Series(range(10, 210)).where(lambda s: s.index != 150, 5160)  # misread
    >>> r = pd.DataFrame({"device_id": "m1", "meter_type": "electricity",
    ...                   "meter.value.raw": raw.to_numpy()}, index=ts)
    >>> f = flag_anomalies(r, multiplier=1, register_digits=5)
    >>> f.index[f["spike"]].tolist(), bool(f["negative"].any())
    ([Timestamp('2026-01-07 06:00:00+0000', tz='UTC')], False)
    """
    th = _thresholds(thresholds)
    if tz is not None:
        tz = check_tz(tz)
    times = frame_times(readings, "readings")
    if DEVICE not in readings.columns:
        raise ValueError("readings need a 'device_id' column")
    has_register = RAW in readings.columns or PROCESSED in readings.columns
    aux = [c for c in ("battery.level", "battery.voltage", "connection.rssi") if c in readings]
    if not has_register and not aux:
        # e.g. a readings_to_consumption frame: every flag would be silently False
        raise ValueError(
            f"readings need a {RAW!r} or {PROCESSED!r} column (or battery/connection fields); "
            f"got columns {list(readings.columns)}: pass the wf.telemetry frame"
        )
    n_all = len(readings)
    flags = {rule: np.zeros(n_all, dtype=bool) for rule in RULES}
    if not n_all:
        has_register = False
    shared = None
    if has_register:
        codes, devices, shared = _register_rules(
            readings, flags, th, meter_type, tz, multiplier, register_digits
        )
    elif n_all:
        codes, devices = device_codes(readings[DEVICE], "readings")
    if n_all and aux:
        if shared is None:  # register rows were not all rows: sort all rows once
            shared = make_links(codes, to_ns(times), devices)
        order, starts, ends = shared.order, shared.starts, shared.ends
        level = _col(readings, "battery.level")
        volts = _col(readings, "battery.voltage")
        low = (level < th["low_battery_level"]) | (volts < th["low_battery_v"])
        fine = ~(level < th["low_battery_level"] + th["low_battery_release_level"]) & ~(
            volts < th["low_battery_v"] + th["low_battery_release_v"]
        )
        seen = np.isfinite(level) | np.isfinite(volts)
        flags["low_battery"] = _latched(order, starts, ends, codes, low, fine & seen, seen)
        rssi = _col(readings, "connection.rssi")
        weak = rssi < th["weak_rssi"]
        strong = rssi >= th["weak_rssi"] + th["weak_release_db"]
        flags["weak_signal"] = _latched(order, starts, ends, codes, weak, strong, np.isfinite(rssi))
    out = readings.copy(deep=False)
    for rule in RULES:
        out[rule] = flags[rule]
    out["any_flag"] = np.logical_or.reduce([flags[r] for r in RULES])
    out.attrs = {**readings.attrs, "thresholds": th}
    return out


#: Rows per block: every rule is per device, so devices are processed in blocks of
#: about this many rows (each block vectorized over its devices) to bound memory.
BLOCK_ROWS = 1 << 18


def _blocks(starts: np.ndarray, ends: np.ndarray, size: int | None = None):
    """Slices ``[a, b)`` of a (device, time)-sorted order, cut at device boundaries."""
    size = size or BLOCK_ROWS
    n = int(ends[-1]) if len(ends) else 0
    cuts: np.ndarray | list[int] = (
        np.unique(ends[np.searchsorted(ends, np.arange(size, n, size))]) if n > size else []
    )
    a = 0
    for b in [*(int(c) for c in cuts if 0 < c < n), n]:
        if b > a:
            yield a, b
        a = b


def _register_rules(readings, flags, th, meter_type, tz, multiplier, register_digits):
    deltas, keep, _ = compute_deltas(
        readings, multiplier=multiplier, register_digits=register_digits
    )
    links = deltas.links
    links.prev = links.ids = None  # not needed here: free them
    devices, ndev = links.devices, len(links.devices)
    if len(links.ts) == 0:
        return deltas.codes_all, devices, None
    kept_rows = None if keep.all() else np.flatnonzero(keep)
    raw_field = deltas.field == RAW
    mult = deltas.multiplier
    known = mult is not None
    # one register unit in the step's units, and in display units
    unit_step = np.ones(ndev) if raw_field else np.nan_to_num(mult if known else 1e-6, nan=1e-6)
    unit_disp = np.nan_to_num(mult, nan=1e-6) if known else np.full(ndev, 1e-6)
    types = per_device_str(meter_type, "meter_type", readings, deltas.codes_all, devices)
    stuck_h = pd.Series(types).map(th["stuck_hours"]).fillna(th["stuck_hours"][""]).to_numpy(float)
    water = np.isin(types, WATER)
    zone = frame_tz(readings, tz) if water.any() else None

    for a, b in _blocks(links.starts, links.ends):
        idx = links.order[a:b]  # register rows of whole devices, (device, time) order
        codes, ts = links.codes[idx], links.ts[idx]
        n = len(idx)
        first = np.ones(n, dtype=bool)
        first[1:] = codes[1:] != codes[:-1]
        step = deltas.step[idx].astype(float)
        step[first] = 0.0
        spike, back = _spikes(step, codes, ts, first, unit_step[codes], th)
        negative = deltas.negative[idx] & ~spike & ~back
        gaps = np.zeros(n, dtype=np.int64)
        gaps[1:] = np.diff(ts)
        gaps[first] = 0
        usual = usual_interval_ns(codes, gaps, ~first, ndev, ts)
        gap = ~first & (gaps > th["gap_factor"] * usual[codes])
        del gaps
        stuck = _stuck(step, codes, ts, first, spike | back, stuck_h, th)
        night = np.zeros(n, dtype=bool)
        if water[codes].any():
            flow = deltas.consumption[idx]
            flow[first | spike | back] = 0.0
            c0, c1 = int(codes[0]), int(codes[-1])  # a block holds consecutive codes
            local = (codes - c0).astype(np.intp)
            night = _night_flow(
                ts, local, c1 - c0 + 1, flow, first, water[c0 : c1 + 1], unit_disp[codes], zone, th
            )
        rows = idx if kept_rows is None else kept_rows[idx]
        for rule, arr in (
            ("spike", spike),
            ("negative", negative),
            ("rollover", deltas.rollover[idx]),
            ("gap", gap),
            ("stuck", stuck),
            ("night_flow", night),
        ):
            flags[rule][rows] = arr

    if RAW in readings.columns and PROCESSED in readings.columns and known:
        raw = _col(readings, RAW)
        proc = _col(readings, PROCESSED)
        step = BLOCK_ROWS
        for a in range(0, len(raw), step):
            sl = slice(a, a + step)
            expect = raw[sl] * mult[deltas.codes_all[sl]]
            bad = np.abs(proc[sl] - expect) > th["mismatch_atol"] + th["mismatch_rtol"] * np.abs(
                expect
            )
            flags["multiplier_mismatch"][sl] = bad & np.isfinite(proc[sl]) & np.isfinite(expect)
    shared = links if kept_rows is None else None
    return deltas.codes_all, devices, shared


def _stuck(step, codes, ts, first, jumps, stuck_h, th) -> np.ndarray:
    """Find runs of zero steps lasting long enough for the device's mean rate."""
    n, ndev = len(step), len(stuck_h)
    moving = np.where(jumps | first, 0.0, np.maximum(step, 0.0))
    total_units = np.bincount(codes, weights=moving, minlength=ndev)
    del moving
    span_h = np.zeros(ndev)
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], n) - 1
    span_h[codes[starts]] = (ts[ends] - ts[starts]) / 3.6e12
    with np.errstate(divide="ignore", invalid="ignore"):
        hours_per_unit = np.where(total_units > 0, span_h / total_units, np.inf)
    limit_h = np.maximum(stuck_h, th["stuck_units"] * hours_per_unit)
    s, e = _runs_of((step == 0) & ~first, codes)
    long = (ts[e] - ts[s - 1]) / 3.6e12 >= limit_h[codes[s]] if len(s) else np.zeros(0, bool)
    mark = np.zeros(n + 1, dtype=np.int32)
    np.add.at(mark, s[long], 1)
    np.add.at(mark, e[long] + 1, -1)
    return np.cumsum(mark[:n]) > 0


def _latched(order, starts, ends, codes, enter, leave, relevant) -> np.ndarray:
    """Apply hysteresis on the ``relevant`` rows of each device in time order.

    ``order``: all rows in (device, time) order. True from a row where ``enter`` holds until the next
    row where ``leave`` holds; rows in the band between (neither) keep the state.
    """
    out = np.zeros(len(enter), dtype=bool)
    for a, b in _blocks(starts, ends):
        block = order[a:b]
        rows = block[relevant[block]]
        if not len(rows):
            continue
        e, c = enter[rows], codes[rows]
        pos = np.arange(len(rows), dtype=np.int32)
        new_dev = np.ones(len(rows), dtype=bool)
        new_dev[1:] = c[1:] != c[:-1]
        dev_start = np.maximum.accumulate(np.where(new_dev, pos, 0))
        last = np.maximum.accumulate(np.where(e | leave[rows], pos, -1))
        out[rows] = (last >= dev_start) & e[np.maximum(last, 0)]
    return out


def _night_flow(ts, codes, ndev, cons, first, water, unit, tz, th) -> np.ndarray:
    """Return the night-flow rule on (device, time)-sorted register rows.

    ``cons``: display units per step, ``unit``: one register unit in display units, per
    row; ``water``: per device. See the module docstring for the rule.
    """
    n = len(ts)
    wall = local_wall_ns(ts, tz)
    hour_ns, day_ns = 3_600 * 10**9, 86_400 * 10**9
    # a "night cycle" runs from night_start on one local day to night_start the next;
    # a step counts as night flow when its whole interval lies inside the window
    wall -= th["night_start"] * hour_ns
    cycle = wall // day_ns
    wall -= cycle * day_ns  # now: the offset of the step's end into its cycle
    nh = int(th["night_end"] - th["night_start"])
    same_cycle = np.zeros(n, dtype=bool)
    same_cycle[1:] = cycle[1:] == cycle[:-1]
    dt_ns = np.zeros(n, dtype=np.int64)
    dt_ns[1:] = np.diff(ts)
    ok = ~first & water[codes] & np.isfinite(cons)
    nightly = ok & same_cycle & (wall <= nh * hour_ns)
    # hour of the night the step starts in: hourly bins for the minimum night flow
    hour = np.clip((wall - dt_ns) // hour_ns, 0, nh - 1)
    del wall, same_cycle
    d0 = int(cycle.min())
    k = (cycle - d0).astype(np.int64)
    ndays = int(k.max()) + 1
    cell = (codes.astype(np.int64) * ndays + k) * nh + hour
    size = ndev * ndays * nh
    shape = (ndev, ndays, nh)
    cell, step, hours = cell[nightly], cons[nightly], dt_ns[nightly] / hour_ns
    bin_flow = np.bincount(cell, weights=step, minlength=size).reshape(shape)
    bin_hours = np.bincount(cell, weights=hours, minlength=size).reshape(shape)
    seen = bin_hours > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(seen, bin_flow / bin_hours, np.inf)
        floor = rate.min(axis=2)  # minimum night flow (display units per hour)
        night_hours = bin_hours.sum(axis=2)
        mean = bin_flow.sum(axis=2) / night_hours
    observed = (night_hours >= 0.5 * nh) & water[:, None]
    leaklike = observed & (floor > 0) & (floor >= th["night_floor"] * mean)
    per_dev_unit = np.ones(ndev)
    per_dev_unit[codes] = unit
    with np.errstate(invalid="ignore"):  # inf * 0 where a night has no hour observed
        floor_units = np.where(leaklike, floor * night_hours / per_dev_unit[:, None], 0.0)
    nights = int(th["night_nights"])

    def rolling(x: np.ndarray) -> np.ndarray:
        c = np.concatenate([np.zeros((ndev, 1)), np.cumsum(x, axis=1)], axis=1)
        out = np.zeros((ndev, ndays))
        if ndays >= nights:
            out[:, nights - 1 :] = c[:, nights:] - c[:, :-nights]
        return out

    n_obs, n_leak = rolling(observed.astype(float)), rolling(leaklike.astype(float))
    leaky = (
        (n_obs >= 0.5 * nights)
        & (n_leak >= th["night_share"] * n_obs)
        & (n_leak > 0)
        & (rolling(floor_units) >= th["night_min_units"])
    )
    # a leaky run ending on night j covers nights j-nights+1 .. j; of those, the nights
    # that are leak-like themselves, next to another leak-like night, are flagged (a
    # leak runs on: a lone leak-like night beside a leak's run is chance)
    hit = np.concatenate([np.zeros((ndev, 1)), np.cumsum(leaky, axis=1)], axis=1)
    idx = np.arange(ndays)
    covered = hit[:, np.minimum(idx + nights, ndays)] - hit[:, idx] > 0
    neighbour = np.zeros_like(leaklike)
    neighbour[:, 1:] |= leaklike[:, :-1]
    neighbour[:, :-1] |= leaklike[:, 1:]
    covered &= neighbour
    night_of_row = codes.astype(np.int64) * ndays + k
    return (covered & leaklike).reshape(-1)[night_of_row]


def anomaly_events(flags: pd.DataFrame, rules: Any = None) -> pd.DataFrame:
    """Episodes of consecutive flagged readings (pecos-style event table).

    A run of consecutive flagged readings of one device under one rule, counted among
    the rows the rule looks at (register rows for register rules, battery rows for
    ``low_battery``, radio rows for ``weak_signal``), is one episode. For ``gap`` the
    episode starts at the last reading before the hole.

    Parameters
    ----------
    flags : DataFrame
        Output of :func:`flag_anomalies`.
    rules : list of str, optional
        Rules to report (default: all).

    Returns
    -------
    DataFrame
        Columns ``device_id``, ``rule``, ``start``, ``end`` (UTC), ``n_readings``,
        ``detail``; sorted by ``start`` then ``device_id``.

    Raises
    ------
    ValueError
        An unknown rule, or a frame without the flag columns.

    Examples
    --------
    >>> import pandas as pd
    >>> ts = pd.date_range("2026-01-01", periods=200, freq="h", tz="UTC", name="timestamp")
    >>> raw = pd.Series(range(200)).where(lambda s: ~s.index.isin([80, 81]), 5000)
    >>> r = pd.DataFrame({"device_id": "m1", "meter.value.raw": raw.to_numpy()}, index=ts)
    >>> ev = anomaly_events(flag_anomalies(r, multiplier=1, register_digits=5))
    >>> ev[["rule", "n_readings"]].values.tolist()
    [['spike', 2]]
    """
    rules = list(RULES if rules is None else rules)
    bad = [r for r in rules if r not in RULES]
    if bad:
        raise ValueError(f"unknown rule(s) {bad}; known: {list(RULES)}")
    missing = [r for r in rules if r not in flags.columns]
    if missing:
        raise ValueError(f"flags frame lacks column(s) {missing}: pass flag_anomalies() output")
    ts_all = to_ns(frame_times(flags, "flags"))
    codes_all, devices = device_codes(flags[DEVICE], "flags")
    by_device = make_links(codes_all, ts_all, devices).order  # (device, time) order
    parts = []
    for rule in rules:
        if rule in METER_RULES:
            cols = [RAW, PROCESSED]
        elif rule == "low_battery":
            cols = ["battery.level", "battery.voltage"]
        else:
            cols = ["connection.rssi"]
        relevant = np.zeros(len(flags), dtype=bool)
        for c in cols:
            relevant |= np.isfinite(_col(flags, c))
        order = by_device[relevant[by_device]]
        codes, ts = codes_all[order], ts_all[order]
        mask = flags[rule].to_numpy(dtype=bool)[order]
        s, e = _runs_of(mask, codes)
        if not len(s):
            continue
        start = ts[s].copy()
        if rule == "gap":
            has_prev = (s > 0) & (codes[np.maximum(s - 1, 0)] == codes[s])
            start[has_prev] = ts[s[has_prev] - 1]
        parts.append(
            pd.DataFrame(
                {
                    DEVICE: np.asarray(devices, dtype=object)[codes[s]],
                    "rule": rule,
                    "start": pd.to_datetime(start, unit="ns", utc=True),
                    "end": pd.to_datetime(ts[e], unit="ns", utc=True),
                    "n_readings": (e - s + 1).astype(np.int64),
                    "detail": DETAIL[rule],
                }
            )
        )
    if not parts:
        out = pd.DataFrame(
            {
                DEVICE: pd.array([], dtype="str"),
                "rule": pd.array([], dtype="str"),
                "start": pd.DatetimeIndex([], tz="UTC"),
                "end": pd.DatetimeIndex([], tz="UTC"),
                "n_readings": np.zeros(0, dtype=np.int64),
                "detail": pd.array([], dtype="str"),
            }
        )
        return out
    out = pd.concat(parts, ignore_index=True)
    for c in (DEVICE, "rule", "detail"):
        out[c] = out[c].astype("str")
    return out.sort_values(["start", DEVICE, "rule"], kind="stable").reset_index(drop=True)
