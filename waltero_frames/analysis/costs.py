"""What the energy cost: tariffs with validity, time-of-use windows and standing charges."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..timeargs import Period, TzLike
from ._frames import DEVICE, per_device_str
from ._periodic import (
    DAY_NS,
    MINUTES_PER_DAY,
    Placed,
    chunks,
    day_segments,
    parse_hhmm,
    place,
)
from .resample import locate, period_boundaries
from .units import device_units, unit_array

TARIFF_COLUMNS = ("valid_from", "valid_to", "price", "tou_start", "tou_end",
                  "standing_charge", "currency")  # fmt: skip
#: Combined (group, local day) sort key: days since 1970 stay far below this.
_DAYS = 10**7


def _blank(value: Any) -> bool:
    """Tell an empty cell: None, NaN, NA, NaT or a blank string."""
    if isinstance(value, str):
        return not value.strip()
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and np.isnan(value))
    )


def _day(value: Any, what: str) -> int:
    """Read a local date (``"2026-01-01"``, date, Timestamp) as days since 1970-01-01."""
    try:
        ts: pd.Timestamp | None = pd.Timestamp(value)
    except (TypeError, ValueError):
        ts = None
    if ts is None or ts is pd.NaT or ts != ts.normalize():
        raise ValueError(f"{what}: {value!r} is not a local date such as '2026-01-01'")
    return (ts.tz_localize(None) - pd.Timestamp(0)).days


def _number(value: Any, what: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = float("nan")
    if not np.isfinite(out) or isinstance(value, bool):
        raise ValueError(f"{what}: {value!r} is not a number")
    return out


@dataclass
class Tariffs:
    """A validated tariff table: one entry per (key, validity) in ``starts`` order."""

    keys: list[tuple[str, str]]  # ("device_id" | "meter_type", value) per group
    group: np.ndarray  # group of each validity
    start: np.ndarray  # combined sort key group * _DAYS + first local day
    end_day: np.ndarray  # first local day after the validity (exclusive)
    price: np.ndarray  # [validity, minute of the local day]
    standing: np.ndarray  # per local day
    currency: list[str]  # per group
    unit: list[str]  # per group ("" when the table has no unit column)


def check_tariffs(tariffs: pd.DataFrame) -> Tariffs:
    """Validate a tariff table (ValueError naming the row) and index it for lookups."""
    if not isinstance(tariffs, pd.DataFrame):
        raise ValueError(f"tariffs must be a DataFrame, got {type(tariffs).__name__}")
    if "meter_type" not in tariffs.columns and DEVICE not in tariffs.columns:
        raise ValueError("tariffs need a 'meter_type' or a 'device_id' column")
    missing = [c for c in ("valid_from", "price", "standing_charge", "currency")
               if c not in tariffs.columns]  # fmt: skip
    if missing:
        raise ValueError(f"tariffs lack column(s) {missing}; expected {list(TARIFF_COLUMNS)}")
    rows: dict[tuple, list[tuple[Any, dict]]] = {}
    for label, row in tariffs.iterrows():  # a tariff table has a handful of rows
        what = f"tariffs row {label!r}"
        dev, kind = row.get(DEVICE), row.get("meter_type")
        if not _blank(dev):
            key = (DEVICE, str(dev))
        elif not _blank(kind):
            key = ("meter_type", str(kind))
        else:
            raise ValueError(f"{what}: names neither a meter_type nor a device_id")
        lo = _day(row["valid_from"], f"{what} valid_from")
        to = row.get("valid_to")
        hi = np.iinfo(np.int32).max if _blank(to) else _day(to, f"{what} valid_to")
        if hi <= lo:
            raise ValueError(f"{what}: valid_to {to!r} is not after valid_from (exclusive end)")
        start, end = row.get("tou_start"), row.get("tou_end")
        if _blank(start) != _blank(end):
            raise ValueError(f"{what}: give both tou_start and tou_end, or neither (whole day)")
        window = (0, MINUTES_PER_DAY) if _blank(start) else (
            parse_hhmm(start, f"{what} tou_start"), parse_hhmm(end, f"{what} tou_end", end=True)
        )  # fmt: skip
        currency = row["currency"]
        if _blank(currency):
            raise ValueError(f"{what}: currency is empty")
        standing = row["standing_charge"]
        entry = {
            "price": _number(row["price"], f"{what} price"),
            "window": window,
            "standing": None if _blank(standing) else _number(standing, f"{what} standing_charge"),
            "currency": str(currency),
            "unit": "" if _blank(row.get("unit")) else str(row.get("unit")),
        }
        rows.setdefault((key, lo, hi), []).append((label, entry))
    keys = sorted({k for k, _, _ in rows})
    validities: list[tuple[Any, ...]] = []
    for (key, lo, hi), entries in sorted(
        rows.items(), key=lambda kv: (keys.index(kv[0][0]), kv[0][1])
    ):
        labels = [label for label, _ in entries]
        count = np.zeros(MINUTES_PER_DAY, dtype=np.int64)
        price = np.full(MINUTES_PER_DAY, np.nan)
        for label, e in entries:
            start, end = e["window"]
            for _, a, b in day_segments(start, end):  # a window may run past midnight
                overlap = np.flatnonzero(count[a:b])
                if len(overlap):
                    raise ValueError(
                        f"tariffs rows {labels} ({key[0]} {key[1]!r}): time-of-use windows overlap "
                        f"at {_hhmm(a + overlap[0])} (row {label!r})"
                    )
                count[a:b] += 1
                price[a:b] = e["price"]
        gap = np.flatnonzero(count == 0)
        if len(gap):
            raise ValueError(
                f"tariffs rows {labels} ({key[0]} {key[1]!r}, valid from "
                f"{_date(lo)}): the time-of-use windows do not cover the day; nothing from "
                f"{_hhmm(gap[0])}"
            )
        standing = {e["standing"] for _, e in entries if e["standing"] is not None}
        if len(standing) != 1:
            raise ValueError(
                f"tariffs rows {labels} ({key[0]} {key[1]!r}): standing_charge must be one "
                f"number per validity (0 for none), got {sorted(standing) or 'none'}"
            )
        validities.append((key, lo, hi, price, standing.pop(), labels, entries))
    for (k1, _, hi1, *_, l1, _), (k2, lo2, _, *_, l2, _) in zip(
        validities, validities[1:], strict=False
    ):
        if k1 == k2 and lo2 < hi1:
            raise ValueError(
                f"tariffs rows {l1} and {l2} ({k1[0]} {k1[1]!r}): validities overlap from "
                f"{_date(lo2)}"
            )
    currency, unit = [], []
    for key in keys:
        chosen = [e for k, *_, es in validities if k == key for _, e in es]
        found = sorted({e["currency"] for e in chosen})
        if len(found) > 1:
            raise ValueError(f"tariffs for {key[0]} {key[1]!r} mix currencies {found}")
        currency.append(found[0])
        units = sorted({e["unit"] for e in chosen})
        if len(units) > 1:
            raise ValueError(f"tariffs for {key[0]} {key[1]!r} mix units {units}")
        unit.append(units[0])
    group = np.array([keys.index(v[0]) for v in validities], dtype=np.int64)
    return Tariffs(
        keys=keys,
        group=group,
        start=group * _DAYS + np.array([v[1] for v in validities], dtype=np.int64),
        end_day=np.array([v[2] for v in validities], dtype=np.int64),
        price=np.array([v[3] for v in validities]).reshape(len(validities), MINUTES_PER_DAY),
        standing=np.array([v[4] for v in validities], dtype=float),
        currency=currency,
        unit=unit,
    )


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _date(day: int) -> str:
    return str((pd.Timestamp(0) + pd.Timedelta(days=int(day))).date())


def _validity(t: Tariffs, group: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Index of the validity of each (group, local day), -1 where none applies."""
    if not len(t.start):
        return np.full(len(day), -1)
    want = group * _DAYS + day
    v = np.searchsorted(t.start, want, side="right") - 1
    vc = np.maximum(v, 0)
    hit = (v >= 0) & (group >= 0) & (t.group[vc] == group) & (day < t.end_day[vc])
    return np.where(hit, v, -1)


def _device_groups(p: Placed, consumption: pd.DataFrame, t: Tariffs) -> tuple[np.ndarray, ...]:
    """Tariff group of each device (-1: none; its own rows win over its meter type's)."""
    kinds = per_device_str(None, "meter_type", consumption, p.codes, p.devices)
    lookup = {k: i for i, k in enumerate(t.keys)}
    ids = p.devices.to_numpy(dtype=object)
    group = np.array(
        [lookup.get((DEVICE, d), lookup.get(("meter_type", m), -1)) for d, m in zip(ids, kinds, strict=True)],
        dtype=np.int64,
    )  # fmt: skip
    return group, kinds


def costs(
    consumption: pd.DataFrame,
    tariffs: pd.DataFrame,
    *,
    freq: Period = "month",
    tz: TzLike | None = None,
) -> pd.DataFrame:
    """Energy cost, standing charges and total per device and local period.

    Parameters
    ----------
    consumption : DataFrame
        Output of :func:`readings_to_consumption`; meter types come from
        ``attrs["devices"]`` or a ``meter_type`` column (needed for meter-type tariffs).
    tariffs : DataFrame
        One row per tariff (and time-of-use window):

        - ``meter_type`` or ``device_id`` (a device's own rows win over its type's);
        - ``valid_from``, ``valid_to``: local dates, ``valid_to`` exclusive, empty = open;
        - ``price``: per unit of the consumption (per kWh for kWh meters: convert
          MWh meters first with :func:`to_unit`); an optional ``unit`` column is checked
          against the devices' units;
        - ``tou_start``, ``tou_end``: ``"HH:MM"`` local wall-clock window (may cross
          midnight; both empty = the whole day). The rows of one key and validity must
          cover the day without overlap;
        - ``standing_charge``: per local day (the same number on every time-of-use row
          of a validity; it is charged once);
        - ``currency``.
    freq : {"hour", "day", "week", "month", "year"}, default "month"
        The periods of :func:`resample_consumption`.
    tz : str, optional
        Zone of the periods, validities and windows; default ``attrs["tz"]``, else UTC.

    Returns
    -------
    DataFrame
        Index ``period_start`` (the rows of ``resample_consumption``); columns
        ``device_id``, ``energy_cost`` (each delta at the price in force at its reading's
        local time), ``standing_charge`` (per local day from the device's first to its
        last reading, once per day and device; with ``freq="h"`` in the hour the day
        starts), ``total``, ``currency``, ``partial`` (bool: some readings or days of the
        period have no tariff), ``reason`` (why a cost is partial or missing; "" when
        complete), ``energy``, ``coverage`` (as ``resample_consumption``) and ``unit`` (the
        device's unit, missing when unknown). A device
        without any tariff gets NaN costs and a reason, never 0; a period without
        readings gets a NaN energy cost.

    Raises
    ------
    ValueError
        Malformed tariffs (the message names the row): overlapping validities of one
        meter type or device, time-of-use windows that leave part of the day uncovered
        or overlap, times that are not ``"HH:MM"``, a tariff unit that differs from a
        device's unit; unknown ``freq`` or zone; a malformed frame.

    Examples
    --------
    >>> import pandas as pd
    >>> ts = pd.date_range("2026-06-01", periods=25, freq="h", tz="UTC", name="timestamp")
    >>> c = pd.DataFrame({"device_id": "m1", "consumption": 1.0, "meter_type": "electricity"},
    ...                  index=ts)
    >>> tariffs = pd.DataFrame({"meter_type": "electricity", "valid_from": "2026-01-01",
    ...     "valid_to": None, "price": [0.30, 0.20], "tou_start": ["06:00", "22:00"],
    ...     "tou_end": ["22:00", "06:00"], "standing_charge": 0.5, "currency": "EUR"})
    >>> costs(c, tariffs, freq="D", tz="UTC")[["energy_cost", "standing_charge"]].iloc[0].round(2).tolist()
    [6.4, 0.5]
    """
    t = check_tariffs(tariffs)
    p = place(consumption, freq, tz)
    out = p.out
    n = len(out)
    energy_cost = np.full(n, np.nan)
    standing = np.full(n, np.nan)
    partial = np.zeros(n, dtype=bool)
    reason = np.full(n, "", dtype=object)
    currency = np.full(n, None, dtype=object)
    row_units = np.full(n, "", dtype=object)
    if n:
        group, kinds = _device_groups(p, consumption, t)
        units = device_units(consumption, p.codes, p.devices, need=False)
        for d in np.flatnonzero(group >= 0).tolist():
            want = t.unit[group[d]]
            if want and units[d] and want != units[d]:
                raise ValueError(
                    f"tariffs for {t.keys[group[d]][0]} {t.keys[group[d]][1]!r} are per "
                    f"{want}, device {p.devices[d]!r} reads {units[d]}: convert with to_unit"
                )
        cost_d = np.zeros(p.n_keys)
        unpriced = np.zeros(p.n_keys)
        for rows in chunks(len(p.ts)):
            day, minute = p.calendar(rows)
            v = _validity(t, group[p.codes[rows]], day)
            key = p.keys(rows)
            priced = v >= 0
            price = t.price[v[priced], minute[priced]]
            cost_d += np.bincount(
                key[priced], weights=p.values(rows)[priced] * price, minlength=p.n_keys
            )
            counted = ~priced & ~p.first[rows]
            unpriced += np.bincount(key[counted], minlength=p.n_keys)
        # standing charges: every local day from a device's first to its last reading
        t_first = np.full(p.n_dev, np.iinfo(np.int64).max)
        t_last = np.full(p.n_dev, np.iinfo(np.int64).min)
        np.minimum.at(t_first, p.codes[p.first], p.ts[p.first])
        np.maximum.at(t_last, p.codes, p.ts)
        days = period_boundaries(int(p.ts.min()), int(p.ts.max()), "day", p.tz)
        d0, d1 = locate(days, t_first), locate(days, t_last)
        n_days = d1 - d0 + 1
        dev = np.repeat(np.arange(p.n_dev), n_days)
        day_k = np.arange(int(n_days.sum())) - np.repeat(np.cumsum(n_days) - n_days - d0, n_days)
        local_day = p.wall(times=days[day_k]) // DAY_NS
        v = _validity(t, group[dev], local_day)
        key = locate(p.bounds, days[day_k]) * p.n_dev + dev
        billed = v >= 0
        stand_d = np.bincount(key[billed], weights=t.standing[v[billed]], minlength=p.n_keys)
        unbilled = np.bincount(key[~billed & (group[dev] >= 0)], minlength=p.n_keys)
        out_dev = p.out_key % p.n_dev
        has = group[out_dev] >= 0
        energy_cost = np.where(has, p.to_rows(cost_d), np.nan)
        energy_cost[np.isnan(out["consumption"].to_numpy())] = np.nan
        standing = np.where(has, p.to_rows(stand_d), np.nan)
        gaps = (p.to_rows(unpriced) > 0) | (p.to_rows(unbilled) > 0)
        partial = ~has | gaps
        kind_row = kinds[out_dev]
        reason[~has] = [f"no tariff for meter type {k!r}" if k else "no tariff (meter type unknown)"
                        for k in kind_row[~has]]  # fmt: skip
        reason[has & gaps] = "no tariff for part of the period"
        reason[has & ~gaps & np.isnan(energy_cost)] = "no readings in the period"
        currency[has] = np.array(t.currency, dtype=object)[group[out_dev][has]]
        row_units = units[out_dev]
    result = pd.DataFrame(
        {
            DEVICE: out[DEVICE],
            "energy_cost": energy_cost,
            "standing_charge": standing,
            "total": energy_cost + standing,
            "currency": pd.array(currency, dtype="str"),
            "partial": partial,
            "reason": pd.array(reason, dtype="str"),
            "energy": out["consumption"],
            "coverage": out["coverage"],
            "unit": unit_array(row_units),
        },
        index=out.index,
    )
    result.attrs = {**out.attrs, "tariffs": len(tariffs)}
    return result
