"""Register readings → consumption per reading (exact deltas, rollovers unwrapped)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from ._frames import (
    DEVICE,
    PROCESSED,
    RAW,
    Links,
    device_codes,
    device_column,
    frame_times,
    make_links,
    missing_devices,
    multipliers,
    per_device,
    to_ns,
)

#: A negative step is a rollover only from the top 10 % of the register range to the
#: bottom 10 % (CONTRACT §4).
ROLLOVER_BAND = 0.1


@dataclass
class Deltas:
    """Per-reading deltas of one register, on the register rows in input order."""

    links: Links
    step: np.ndarray  # register step after unwrapping: raw units (int64) or display units
    consumption: np.ndarray  # display units; NaN on each device's first reading
    rollover: np.ndarray
    negative: np.ndarray
    multiplier: np.ndarray | None  # per device code
    field: str
    codes_all: np.ndarray  # device code of every input row (all rows, input order)


def register_field(readings: pd.DataFrame, source: str | None) -> str:
    """Return the register column to difference: raw when present (exact), else processed."""
    if source not in (None, "raw", "processed"):
        raise ValueError(f"source must be 'raw', 'processed' or None, got {source!r}")
    if source in (None, "raw") and RAW in readings.columns:
        return RAW
    if source == "raw":
        raise ValueError(f"source='raw' but the frame has no {RAW!r} column")
    if PROCESSED in readings.columns:
        return PROCESSED
    raise ValueError(
        f"readings need a {RAW!r} or {PROCESSED!r} column; got columns {list(readings.columns)}"
    )


def compute_deltas(
    readings: pd.DataFrame,
    *,
    multiplier: Any = None,
    register_digits: Any = None,
    source: str | None = None,
    max_rate: Any = None,
) -> tuple[Deltas, np.ndarray, pd.DatetimeIndex]:
    """Return the deltas of the register rows of ``readings``.

    Returns the deltas, the boolean mask of input rows that carry a register reading,
    and the input's timestamps.
    """
    times = frame_times(readings, "readings")
    if DEVICE not in readings.columns:
        raise ValueError("readings need a 'device_id' column")
    field = register_field(readings, source)
    reg_all = readings[field].to_numpy(dtype=float, na_value=np.nan)
    codes_all, devices = device_codes(readings[DEVICE], "readings")
    keep = np.isfinite(reg_all)
    ts_all = to_ns(times)
    if keep.all():
        reg, codes, ts = reg_all, codes_all, ts_all
    else:
        reg, codes, ts = reg_all[keep], codes_all[keep], ts_all[keep]
    links = make_links(codes, ts, devices)
    prev = links.prev
    first = prev < 0
    mult = multipliers(readings, multiplier, codes_all, devices)
    # NaN where nothing provides one; used only past the checks that refuse missing ones
    mult_nan = mult if mult is not None else np.full(len(devices), np.nan)
    present = links.ends > links.starts

    if field == RAW:
        register = reg.astype(np.int64)
        if (register != reg).any():
            bad = reg[register != reg][0]
            raise ValueError(f"{RAW} must hold integer registers, found {bad!r}")
        miss = missing_devices(mult, present, devices)
        if miss:
            raise ValueError(
                f"no multiplier for device(s) {miss[:5]}: pass multiplier=, or a frame with a "
                "'multiplier' column, attrs['multiplier'], or the telemetry 'value' column"
            )
    else:
        register = reg
    step = register[prev]  # prev = -1 on first rows: fixed just below
    np.subtract(register, step, out=step)
    step[first] = 0
    negative = step < 0
    neg_idx = np.flatnonzero(negative)
    prev_reg, cur = register[prev[neg_idx]], register[neg_idx]
    del register, reg  # the big register copies are not needed past this point
    rollover = np.zeros(len(step), dtype=bool)
    if len(neg_idx):
        neg_dev = np.zeros(len(devices), dtype=bool)
        neg_dev[codes[neg_idx]] = True
        digits = per_device(
            register_digits,
            "register_digits",
            readings,
            codes_all,
            devices,
            attr_keys=("register_digits",),
        )
        miss = missing_devices(digits, neg_dev, devices)
        if miss:
            raise ValueError(
                f"register_digits unknown for device(s) {miss[:5]} with negative steps: pass "
                "register_digits=, or a frame with a 'register_digits' column or attrs"
            )
        assert digits is not None  # else every device with a negative step is missing
        dcodes = codes[neg_idx]
        if field == RAW:
            span = (10 ** digits[dcodes].astype(np.int64)).astype(np.int64)
            top = (10 - 10 * ROLLOVER_BAND) * span
            wraps = (prev_reg * 10 >= top) & (cur * 10 < span * (10 * ROLLOVER_BAND))
        else:
            miss = missing_devices(mult, neg_dev, devices)
            if miss:
                raise ValueError(
                    f"no multiplier for device(s) {miss[:5]}: unwrapping a processed register "
                    "needs 10**register_digits × multiplier; pass multiplier="
                )
            span = 10.0 ** digits[dcodes] * mult_nan[dcodes]
            tol = 1e-9 * span
            wraps = (prev_reg >= (1 - ROLLOVER_BAND) * span - tol) & (
                cur < ROLLOVER_BAND * span + tol
            )
        if max_rate is not None:
            rate = per_device(max_rate, "max_rate", readings, codes_all, devices)
            assert rate is not None  # an explicit max_rate always provides one
            scale = mult_nan[dcodes] if field == RAW else 1.0
            hours = (ts[neg_idx] - ts[prev[neg_idx]]) / 3.6e12
            unwrapped = (step[neg_idx] + span) * scale
            wraps &= ~(unwrapped > rate[dcodes] * hours)  # NaN bound (no rate): no veto
        rollover[neg_idx[wraps]] = True
        negative[neg_idx[wraps]] = False
        step[neg_idx[wraps]] += span[wraps].astype(step.dtype)
    if field == RAW:
        consumption = np.take(mult_nan, links.ids)
        consumption *= step
    else:
        consumption = step
    consumption[first] = np.nan
    deltas = Deltas(links, step, consumption, rollover, negative, mult, field, codes_all)
    return deltas, keep, times


def readings_to_consumption(
    readings: pd.DataFrame,
    *,
    multiplier: Any = None,
    register_digits: Any = None,
    source: str | None = None,
    max_rate: Any = None,
) -> pd.DataFrame:
    """Consumption per reading from register readings (a ``telemetry`` frame).

    The delta between a device's consecutive readings is attributed to the later reading.
    With ``meter.value.raw`` present the deltas are exact integer differences of the
    register, then scaled by the multiplier; otherwise ``meter.value.processed`` (already
    in display units) is differenced. A negative step is a **rollover** (unwrapped by
    adding ``10**register_digits`` raw units, i.e. ``10**register_digits × multiplier`` in
    display units) only when the previous reading is in the top 10 % of the register
    range and the new one in the bottom 10 % (CONTRACT §4), and, when ``max_rate`` is
    given, the unwrapped step is plausible for the elapsed time. Any other negative step
    is kept as it is and marked ``negative`` (a misread, backflow or meter swap).

    Parameters
    ----------
    readings : DataFrame
        ``telemetry`` layout: index ``timestamp`` (UTC), ``device_id`` and
        ``meter.value.raw`` and/or ``meter.value.processed``. Rows without a register
        value (e.g. battery-only rows) are skipped. Any row order.
    multiplier, register_digits : float or mapping/Series by device_id, optional
        Default: the frame's ``multiplier``/``register_digits`` columns, else
        ``attrs["multiplier"]``/``attrs["register_digits"]`` (scalar or mapping), else a
        ``attrs["devices"]`` frame; the multiplier finally falls back to
        ``value / meter.value.raw``. ``register_digits`` is needed only when a device has
        a negative step.
    source : {None, "raw", "processed"}
        Which register to difference (default: raw when present).
    max_rate : float or mapping by device_id, optional
        Plausibility bound for rollovers, in display units per hour: a wrap whose
        unwrapped step exceeds ``max_rate × hours elapsed`` is a misread, not a rollover.

    Returns
    -------
    DataFrame
        One row per register reading, index ``timestamp`` (time ascending, ties by
        device_id), columns ``device_id``, ``consumption`` (float64, NaN on each device's
        first reading), ``rollover`` (bool), ``negative`` (bool) and ``interval``
        (timedelta64: time since the device's previous reading, NaT on its first; the
        span the delta covers, used by :func:`resample_consumption`). ``device_id`` stays
        categorical when it was.

    Raises
    ------
    ValueError
        Missing columns, naive timestamps, non-integer raw registers, or a multiplier /
        register size that is needed but unknown (the message names the devices).

    Examples
    --------
    >>> import pandas as pd
    >>> ts = pd.DatetimeIndex(["2026-01-01T00:00Z", "2026-01-01T01:00Z",
    ...                        "2026-01-01T02:00Z"], name="timestamp")
    >>> r = pd.DataFrame({"device_id": "m1", "meter.value.raw": [99_998, 99_999, 2]},
    ...                  index=ts)
    >>> c = readings_to_consumption(r, multiplier=0.001, register_digits=5)
    >>> c["consumption"].round(6).tolist(), c["rollover"].tolist()
    ([nan, 0.001, 0.003], [False, False, True])
    """
    deltas, keep, times = compute_deltas(
        readings,
        multiplier=multiplier,
        register_digits=register_digits,
        source=source,
        max_rate=max_rate,
    )
    links = deltas.links
    cons, roll, neg, codes = deltas.consumption, deltas.rollover, deltas.negative, links.codes
    interval = links.ts[links.prev]
    np.subtract(links.ts, interval, out=interval)
    interval[links.prev < 0] = np.iinfo(np.int64).min  # NaT
    index = times if keep.all() else times[keep]
    rows = slice(None) if keep.all() else np.flatnonzero(keep)  # output row → input row
    if not links.public_order:
        perm = np.lexsort((codes, links.ts))
        cons, roll, neg, codes = cons[perm], roll[perm], neg[perm], codes[perm]
        interval, index = interval[perm], index[perm]
        rows = perm if keep.all() else cast(np.ndarray, rows)[perm]
    out = pd.DataFrame(
        {
            DEVICE: device_column(codes, links.devices, readings[DEVICE], rows),
            "consumption": cons,
            "rollover": roll,
            "negative": neg,
            "interval": interval.view("m8[ns]"),
        },
        index=pd.DatetimeIndex(index, name="timestamp").tz_convert("UTC"),
        copy=False,
    )
    out.attrs = {**readings.attrs, "register_field": deltas.field}
    return out
