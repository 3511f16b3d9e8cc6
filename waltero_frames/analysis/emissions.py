"""CO2e of consumption from a table of emission factors by meter type, unit and year."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._attrs import for_attrs
from ..timeargs import Period, TzLike
from ._frames import DEVICE, per_device_str
from ._periodic import chunks, place
from .units import ENERGY_UNITS, device_units, unit_array

FACTOR_COLUMNS = ("meter_type", "unit", "kg_co2e_per_unit", "year", "source", "basis")
BASES = ("location", "market")


def check_factors(factors: pd.DataFrame) -> pd.DataFrame:
    """Validate a factor table (ValueError naming the row); one basis, unique keys."""
    if not isinstance(factors, pd.DataFrame):
        raise ValueError(f"factors must be a DataFrame, got {type(factors).__name__}")
    missing = [c for c in FACTOR_COLUMNS if c not in factors.columns]
    if missing:
        raise ValueError(f"factors lack column(s) {missing}; expected {list(FACTOR_COLUMNS)}")
    f = factors.loc[:, list(FACTOR_COLUMNS)].copy()
    for label, row in f.iterrows():  # a factor table has a handful of rows
        what = f"factors row {label!r}"
        if row["basis"] not in BASES:
            raise ValueError(f"{what}: basis {row['basis']!r} is not one of {list(BASES)}")
        if not isinstance(row["unit"], str) or not row["unit"]:
            raise ValueError(f"{what}: missing unit")
        if not isinstance(row["meter_type"], str) or not row["meter_type"]:
            raise ValueError(f"{what}: missing meter_type")
        try:
            ok = float(row["year"]) == int(row["year"]) and np.isfinite(
                float(row["kg_co2e_per_unit"])
            )
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(
                f"{what}: year {row['year']!r} / kg_co2e_per_unit "
                f"{row['kg_co2e_per_unit']!r} are not numbers"
            )
    f["year"] = f["year"].astype(int)
    f["kg_co2e_per_unit"] = f["kg_co2e_per_unit"].astype(float)
    if f["basis"].nunique() > 1:
        raise ValueError(
            "factors mix location- and market-based rows: pass one basis, e.g. "
            "factors[factors['basis'] == 'location']"
        )
    dup = f.duplicated(["meter_type", "year"], keep=False)
    if dup.any():
        raise ValueError(
            f"factors rows {f.index[dup].tolist()}: more than one factor for one meter type "
            "and year"
        )
    return f


def _per_unit(factor: float, table_unit: str, device_unit: str) -> float:
    """Express a factor per ``device_unit`` (energy units convert; others must match)."""
    if table_unit == device_unit:
        return factor
    if table_unit in ENERGY_UNITS and device_unit in ENERGY_UNITS:
        return factor * ENERGY_UNITS[device_unit] / ENERGY_UNITS[table_unit]
    return float("nan")


def emissions(
    consumption: pd.DataFrame,
    factors: pd.DataFrame,
    *,
    freq: Period = "month",
    tz: TzLike | None = None,
) -> pd.DataFrame:
    """Greenhouse-gas emissions (kg CO2e) per device and local period.

    Each delta is multiplied by the factor of its meter type for the local calendar year
    of its reading — factors that change at a year boundary apply from the first reading
    of the new year. A factor given per kWh applies to Wh/MWh meters scaled; other units
    must match the device's (gas per m3 for m3 meters, or convert with :func:`to_unit`).

    Parameters
    ----------
    consumption : DataFrame
        Output of :func:`readings_to_consumption`; meter types and units from
        ``attrs["devices"]`` or ``meter_type`` / ``unit`` columns.
    factors : DataFrame
        Columns ``meter_type``, ``unit``, ``kg_co2e_per_unit``, ``year``, ``source``,
        ``basis`` (``"location"`` or ``"market"``; one basis per call). One row per meter
        type and year. ``data/emission-factors-example.csv`` is an example (not
        authoritative figures).
    freq : {"hour", "day", "week", "month", "year"}, default "month"
        The periods of :func:`resample_consumption`.
    tz : str, optional
        Zone of the periods and calendar years; default ``attrs["tz"]``, else UTC.

    Returns
    -------
    DataFrame
        Index ``period_start`` (the rows of ``resample_consumption``); columns
        ``device_id``, ``kg_co2e`` (NaN when a reading of the period has no factor for
        its year, never 0), ``reason`` ("" or why ``kg_co2e`` is missing), ``energy``,
        ``coverage``, ``unit`` (the device's). ``attrs``: ``factor_sources`` (sorted), ``factor_years``,
        ``basis`` and ``factors`` (the rows used).

    Raises
    ------
    ValueError
        Devices without a unit or meter type, a malformed factor table (the message
        names the row), mixed bases, unknown ``freq`` or zone.

    Examples
    --------
    >>> import pandas as pd
    >>> ts = pd.date_range("2025-12-31 22:00", periods=5, freq="h", tz="UTC", name="timestamp")
    >>> c = pd.DataFrame({"device_id": "m1", "consumption": 10.0, "unit": "kWh",
    ...                   "meter_type": "electricity"}, index=ts)
    >>> f = pd.DataFrame({"meter_type": "electricity", "unit": "kWh",
    ...                   "kg_co2e_per_unit": [0.4, 0.3], "year": [2025, 2026],
    ...                   "source": "example", "basis": "location"})
    >>> emissions(c, f, freq="YS", tz="UTC")["kg_co2e"].round(2).tolist()
    [8.0, 9.0]
    """
    table = check_factors(factors)
    p = place(consumption, freq, tz)
    out = p.out
    n = len(out)
    kg = np.full(n, np.nan)
    reason = np.full(n, "", dtype=object)
    row_units = np.full(n, "", dtype=object)
    used = table.iloc[:0]
    if n:
        units = device_units(consumption, p.codes, p.devices, need=True)
        kinds = per_device_str(None, "meter_type", consumption, p.codes, p.devices)
        unknown = p.devices[kinds == ""].tolist()
        if unknown:
            raise ValueError(
                f"meter type unknown for device(s) {unknown[:5]}: pass attrs['devices']"
            )
        years = [pd.Timestamp(int(b), tz="UTC").tz_convert(p.tz).year for b in p.bounds[[0, -1]]]
        y0 = years[0]
        n_years = years[1] - y0 + 1
        factor = np.full((p.n_dev, n_years), np.nan)
        rows_used = np.zeros(len(table), dtype=bool)
        for i, (kind, unit, f, year) in enumerate(
            table[["meter_type", "unit", "kg_co2e_per_unit", "year"]].itertuples(index=False)
        ):
            if not y0 <= year < y0 + n_years:
                continue
            for d in np.flatnonzero(kinds == kind):  # devices × factor rows: small
                factor[d, year - y0] = _per_unit(f, unit, units[d])
                rows_used[i] |= bool(np.isfinite(factor[d, year - y0]))
        kg_d = np.zeros(p.n_keys)
        lacking = np.zeros(p.n_keys)
        for rows in chunks(len(p.ts)):
            day, _ = p.calendar(rows)
            year = day.astype("M8[D]").astype("M8[Y]").astype(np.int64) + 1970 - y0
            f = factor[p.codes[rows], year]
            key = p.keys(rows)
            known = np.isfinite(f)
            kg_d += np.bincount(key[known], weights=p.values(rows)[known] * f[known],
                                minlength=p.n_keys)  # fmt: skip
            lacking += np.bincount(key[~known & ~p.first[rows]], minlength=p.n_keys)
        kg = p.to_rows(kg_d)
        missing = p.to_rows(lacking) > 0
        kg[missing | np.isnan(out["consumption"].to_numpy())] = np.nan
        out_dev = p.out_key % p.n_dev
        reason[missing] = [
            f"no {k} factor per {u} for a year of the period"
            for k, u in zip(kinds[out_dev][missing], units[out_dev][missing], strict=True)
        ]
        used = table[rows_used]
        row_units = units[out_dev]
    result = pd.DataFrame(
        {
            DEVICE: out[DEVICE],
            "kg_co2e": kg,
            "reason": pd.array(reason, dtype="str"),
            "energy": out["consumption"],
            "coverage": out["coverage"],
            "unit": unit_array(row_units),
        },
        index=out.index,
    )
    result.attrs = {
        **out.attrs,
        "factor_sources": sorted(used["source"].astype(str).unique().tolist()),
        "factor_years": sorted(used["year"].unique().tolist()),
        "basis": str(table["basis"].iloc[0]) if len(table) else None,
        "factors": for_attrs(used.reset_index(drop=True)),
    }
    return result
