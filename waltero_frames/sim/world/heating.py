"""Heat and gas meters: consumption driven by the site's outdoor temperature.

Every heat and gas meter has known parameters (``World.heating_truth``). On each local day
``d`` of its organization's time zone it consumes::

    consumption[d] = (base_load + slope[d] * max(0, balance_point - T[d])) * noise[d]

- ``T[d]``: the mean of the site's hourly ``true_temperature`` over the local day
  (23, 24 or 25 hours; sim/world/weather.py);
- ``base_load`` (per day, the device's unit) includes ``dhw``, the domestic hot water a
  device draws per day (0 for devices without); it is what a change-point fit's intercept
  recovers;
- ``slope[d]`` is ``heating_slope`` (per kelvin-day), times ``1 - measure_share`` from
  ``measure_date`` on for the one device with an efficiency measure;
- ``noise[d]`` ~ Gamma(mean 1, sd `NOISE_SD` = 4 %), independent per device and day.

"Consumption on day d" is the sum of the register deltas of the readings stamped inside
``[local 00:00, next local 00:00)`` (a delta belongs to the reading that closes it, as in
Part 1 and ``resample_consumption``); the register's resolution adds at most one
``multiplier`` step at each day boundary. Within a day the consumption is spread over
the readings by the heat load's hourly shape times per-reading Gamma noise, normalised so
the day sums exactly. The first and last (partial) days get the share of the day their
readings cover (``coverage``). The one exception is an injected ``stuck`` episode
(``World.anomalies``: the register does not move, the consumption is lost) and, in the
readings, the ``gap`` episodes (a day without readings hands its consumption to the next
reading).
Electricity and water do not depend on the weather (``generate.rate_shape``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .generate import (
    DAY_SHAPE,
    HEAT_T0_MS,
    HOUR_MS,
    NOISE_SHAPE,
    NORTH,
    T1_MS,
    DeviceSpec,
    Org,
    seasonal_mean,
)
from .weather import WEATHER_START_MS

#: Standard deviation of the daily multiplicative noise.
NOISE_SD = 0.04
#: Share of a device's annual figure that is standing load (losses, circulation).
STANDING_SHARE = 0.10
#: Balance point (°C) per apartment (cycled) and per building meter.
APARTMENT_BALANCE = (15.5, 14.5, 16.5, 15.0, 17.0)
#: Building meters: name -> (balance point °C, hot-water share of the annual figure).
BUILDING_PLAN = {
    "Gas main A": (15.0, 0.20),
    "Gas main B": (14.0, 0.0),
    "Gas boiler house": (16.0, 0.30),
    "Central heat substation": (15.5, 0.25),
    "District heat transfer": (14.5, 0.18),
}
#: Hot-water share of apartments whose index modulo 4 is 0 or 3 (the others draw none).
APARTMENT_DHW = 0.22
#: The efficiency measure: (device_id, first local day, share the heating slope drops by).
MEASURE = ("11111111-1111-1111-1111-111111111144", "2026-01-12", 0.25)
_GRID_MS = 900_000  # every meter cadence is a multiple of 15 min, aligned on HEAT_T0


@dataclass(frozen=True)
class OrgDays:
    """An organization's local calendar and daily temperature (heating span).

    ``day``/``hour``: local day ordinal (days since 1970-01-01 of the local date) and
    local hour on the 15-minute grid from ``HEAT_T0_MS``; per local day from ``first_day``:
    ``mean_temperature``, ``hour_shape`` (sum of the heat shape over the day's hours) and
    ``start_ms`` (UTC instant of local midnight).
    """

    timezone: str
    day: np.ndarray
    hour: np.ndarray
    first_day: int
    mean_temperature: np.ndarray
    hour_shape: np.ndarray
    start_ms: np.ndarray


def _local(ms: np.ndarray, tz: str) -> tuple[np.ndarray, np.ndarray]:
    idx = pd.DatetimeIndex(pd.to_datetime(ms, unit="ms", utc=True)).tz_convert(tz)
    wall = idx.tz_localize(None).as_unit("s").asi8  # local wall clock, s
    day = np.floor_divide(wall, 86_400)
    hour = np.asarray(idx.hour, dtype=np.int64)
    return day, hour


def org_days(org: Org, true_temperature: np.ndarray) -> OrgDays:
    """Build an organization's calendar and daily mean temperature for the heating span."""
    grid = np.arange(HEAT_T0_MS, T1_MS, _GRID_MS, dtype=np.int64)
    day, hour = _local(grid, org.timezone)
    hours = WEATHER_START_MS + HOUR_MS * np.arange(true_temperature.size, dtype=np.int64)
    w_day, w_hour = _local(hours, org.timezone)
    first = int(day[0])
    keep = (w_day >= first) & (w_day <= int(day[-1]))
    pos = w_day[keep] - first
    n = int(pos.max()) + 1
    count = np.bincount(pos, minlength=n)
    mean = np.bincount(pos, weights=true_temperature[keep], minlength=n) / count
    shape = np.bincount(pos, weights=DAY_SHAPE["heat"][w_hour[keep]], minlength=n)
    starts = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(starts, pos, hours[keep])
    return OrgDays(org.timezone, day, hour, first, mean, shape, starts)


def parameters(spec: DeviceSpec) -> dict:
    """Return the device's known parameters: base load, slope, balance point, hot water, measure.

    Derived from the layout: the annual figure of `generate.fleet` split into standing
    load (`STANDING_SHARE`), hot water (``dhw``) and heating, the heating part scaled by
    the heating degree days of the northern reference climate at the balance point.
    """
    if spec.residential:
        apt = (int(spec.device_id[-2:]) - 1) // 4
        balance = APARTMENT_BALANCE[apt % len(APARTMENT_BALANCE)]
        dhw_share = APARTMENT_DHW if apt % 4 in (0, 3) else 0.0
    else:
        balance, dhw_share = BUILDING_PLAN[str(spec.name)]
    doy = np.arange(365) + 0.5
    hdd = float(np.maximum(0.0, balance - seasonal_mean(doy, NORTH)).sum())
    slope = spec.annual * (1.0 - STANDING_SHARE - dhw_share) / hdd
    dhw = spec.annual * dhw_share / 365.25
    base = spec.annual * STANDING_SHARE / 365.25 + dhw
    device, date, share = MEASURE
    measured = spec.device_id == device
    return {
        "base_load": float(f"{base:.4g}"),
        "dhw": float(f"{dhw:.4g}"),
        "heating_slope": float(f"{slope:.4g}"),
        "balance_point": balance,
        "measure_date": pd.Timestamp(date) if measured else pd.NaT,
        "measure_share": share if measured else 0.0,
    }


def increments(
    spec: DeviceSpec, ts: np.ndarray, days: OrgDays, rng: np.random.Generator
) -> tuple[np.ndarray, dict]:
    """Consumption per reading (delta closed by each reading; 0 for the first) and the days.

    Returns ``(inc, truth)``; ``truth`` holds per covered local day ``period_start_ms``,
    ``mean_temperature``, ``expected`` (the formula), ``noise`` and ``coverage``.
    """
    p = parameters(spec)
    step = spec.cadence_s * 1000
    pos = (ts - HEAT_T0_MS) // _GRID_MS
    d = days.day[pos] - days.first_day
    shape = DAY_SHAPE[spec.meter_type][days.hour[pos]]
    k = NOISE_SHAPE[spec.meter_type]
    weight = shape * rng.gamma(k, 1.0 / k, size=ts.size)
    weight[0] = shape[0] = 0.0  # the first reading closes no delta
    lo, hi = int(d[0]), int(d[-1]) + 1
    local = d - lo
    n = hi - lo
    temp = days.mean_temperature[lo:hi]
    slope = np.full(n, p["heating_slope"])
    if p["measure_share"]:
        start = pd.Timestamp(p["measure_date"]).value // (86_400 * 10**9) - days.first_day
        slope[np.arange(lo, hi) >= start] *= 1.0 - p["measure_share"]
    expected = p["base_load"] + slope * np.maximum(0.0, p["balance_point"] - temp)
    noise = rng.gamma(1.0 / NOISE_SD**2, NOISE_SD**2, size=n)
    full = days.hour_shape[lo:hi] * (3_600_000 / step)
    coverage = np.bincount(local, weights=shape, minlength=n) / full
    coverage = np.where(np.isclose(coverage, 1.0, rtol=1e-9, atol=0.0), 1.0, coverage)
    total = np.bincount(local, weights=weight, minlength=n)
    day_energy = expected * noise * coverage
    with np.errstate(invalid="ignore", divide="ignore"):
        inc = np.where(weight > 0, day_energy[local] * weight / total[local], 0.0)
    truth = {
        "period_start_ms": days.start_ms[lo:hi],
        "mean_temperature": temp,
        "expected": expected,
        "noise": noise,
        "coverage": coverage,
    }
    return inc, truth


def truth_frames(
    specs: list[DeviceSpec], tz: dict[str, str], day_truth: dict
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Build the ``(heating_truth, heating_days)`` frames of the heat and gas meters."""
    rows = []
    for s in specs:
        if s.device_id not in day_truth:
            continue
        p = parameters(s)
        when = p["measure_date"]
        rows.append(
            {
                "device_id": s.device_id,
                "organization_id": s.organization_id,
                "meter_type": s.meter_type,
                "unit": s.unit,
                **p,
                "measure_start": pd.NaT
                if when is pd.NaT
                else pd.Timestamp(when).tz_localize(tz[s.organization_id]).tz_convert("UTC"),
                "noise_sd": NOISE_SD,
                "first_reading": pd.Timestamp(s.start_ms, unit="ms", tz="UTC"),
            }
        )
    params = pd.DataFrame(rows).set_index("device_id")
    params["measure_start"] = pd.to_datetime(params["measure_start"], utc=True)
    for col in ("organization_id", "meter_type", "unit"):
        params[col] = params[col].astype(str)
    parts = []
    for dev, t in day_truth.items():
        frame = pd.DataFrame({k: v for k, v in t.items() if k != "period_start_ms"})
        frame.insert(0, "device_id", dev)
        frame.index = pd.DatetimeIndex(
            pd.to_datetime(t["period_start_ms"], unit="ms", utc=True), name="period_start"
        )
        parts.append(frame)
    days = pd.concat(parts)
    days["device_id"] = days["device_id"].astype(str)
    days["consumption"] = days["expected"] * days["noise"] * days["coverage"]
    return params, days


__all__ = [
    "MEASURE",
    "NOISE_SD",
    "OrgDays",
    "increments",
    "org_days",
    "parameters",
    "truth_frames",
]
