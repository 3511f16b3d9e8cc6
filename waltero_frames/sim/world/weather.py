"""Outdoor temperature at the demo organizations' sites: hourly, °C, deterministic per seed.

The ground truth the weather route (``GET /v1/archive``, sim/app/weather.py) serves and the
heat and gas meters respond to (sim/world/heating.py). Per site, on an hourly UTC grid::

    T(t) = seasonal(t) + anomaly(t) + events(t) + cycle(t) + jitter(t)   (rounded to 0.1 °C)

- ``seasonal``: the site's climate normal (`generate.seasonal_mean`);
- ``anomaly``: day-to-day variability, an AR(1) series of daily anomalies (coefficient
  ``phi``, stationary standard deviation ``anomaly_sd``), one value per local solar day
  at solar noon, linearly interpolated in between;
- ``events``: the fixed cold snaps and warm spells of `EVENTS`, each a ``sin**2`` bump of
  ``delta`` kelvin over ``[start, end)`` (``World.weather_events``);
- ``cycle``: the daily cycle, warmest at 15:00 local solar time (UTC + longitude / 15),
  half range ``diurnal - diurnal_season * cos(season)`` (wider in summer);
- ``jitter``: independent hourly noise, N(0, 0.3 K).

A few hours per site are *missing*: the route answers ``null`` there and
``World.weather["temperature"]`` is NaN, while ``true_temperature`` keeps the value the
buildings felt. Everything is vectorized; randomness comes from the stream
``[seed, 2_000_000, org_index]`` (no other series draws from it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .generate import DAY_MS, HEAT_T0_MS, HOUR_MS, T1_MS, Org, seasonal_mean, to_ms

#: Hourly grid of the generated weather (UTC, end exclusive): whole local days
#: 2024-01-01 .. 2026-12-31 in any UTC offset from -12 h to +14 h.
WEATHER_START = pd.Timestamp("2023-12-31T00:00Z")
WEATHER_END = pd.Timestamp("2027-01-02T00:00Z")
WEATHER_START_MS = to_ms(WEATHER_START)
WEATHER_END_MS = to_ms(WEATHER_END)
#: First and last local day the route accepts (the last one is also capped at the
#: simulated clock's UTC date).
FIRST_DAY = "2024-01-01"
LAST_DAY = "2026-12-31"
JITTER_SD = 0.3
#: Missing hours per site: isolated single hours, plus one block long enough to push
#: its local day under 80 % coverage.
MISSING_SINGLE_HOURS = 8
MISSING_BLOCK_HOURS = 7

#: Cold snaps and warm spells: organization index -> (kind, start, end, delta in K).
EVENTS = {
    0: [
        ("cold_snap", "2025-01-08", "2025-01-20", -8.0),
        ("warm_spell", "2025-11-02", "2025-11-12", 5.0),
        ("warm_spell", "2026-07-18", "2026-07-28", 6.0),
        ("cold_snap", "2026-11-14", "2026-11-26", -7.0),
    ],
    1: [
        ("cold_snap", "2025-07-01", "2025-07-11", -6.0),
        ("warm_spell", "2026-01-10", "2026-01-20", 6.0),
        ("cold_snap", "2026-06-20", "2026-06-30", -6.0),
    ],
    2: [
        ("cold_snap", "2025-02-03", "2025-02-14", -8.0),
        ("warm_spell", "2026-08-01", "2026-08-10", 6.0),
    ],
}


@dataclass(frozen=True)
class SiteWeather:
    """One site's hourly series on the grid ``WEATHER_START_MS + k * HOUR_MS``."""

    true_temperature: np.ndarray  # °C, complete
    served: np.ndarray  # °C, NaN at the missing hours


def hours() -> np.ndarray:
    """Return the grid's UTC instants in epoch ms."""
    return np.arange(WEATHER_START_MS, WEATHER_END_MS, HOUR_MS, dtype=np.int64)


def ar1(z: np.ndarray, phi: float, sd: float) -> np.ndarray:
    """Return a stationary AR(1) series ``a[k] = phi * a[k-1] + e[k]`` from N(0, 1) draws ``z``.

    ``a[0] = sd * z[0]`` and ``e[k] = sd * sqrt(1 - phi**2) * z[k]`` keep the standard
    deviation at ``sd``. The recursion runs as a prefix scan in log2(n) vectorized passes
    (after the pass with shift ``s``, ``a[k]`` sums ``phi**j * e[k - j]`` for ``j < 2 s``).
    """
    a = sd * np.sqrt(1.0 - phi * phi) * z
    a[0] = sd * z[0]
    shift = 1
    while shift < a.size:
        a[shift:] = a[shift:] + phi**shift * a[:-shift]
        shift *= 2
    return a


def _events(ms: np.ndarray, org_index: int) -> np.ndarray:
    out = np.zeros(ms.shape)
    for _, start, end, delta in EVENTS.get(org_index, ()):
        a, b = to_ms(pd.Timestamp(start, tz="UTC")), to_ms(pd.Timestamp(end, tz="UTC"))
        inside = (ms >= a) & (ms < b)
        out[inside] += delta * np.sin(np.pi * (ms[inside] - a) / (b - a)) ** 2
    return out


def site_weather(org: Org, org_index: int, seed: int) -> SiteWeather:
    """Generate the hourly temperature of one site (the model: the module docstring)."""
    rng = np.random.default_rng([seed, 2_000_000, org_index])
    c = org.climate
    ms = hours()
    days = (ms - WEATHER_START_MS) / DAY_MS  # fractional days since 2023-12-31T00Z
    doy = days  # 2024-01-01T00Z is day of year 1.0; continuous after (period 365.25)
    solar_hours = (ms / HOUR_MS + org.longitude / 15.0) % 24.0
    # daily anomalies at local solar noon, one per solar day (plus margins), interpolated
    n_days = int(np.ceil(days[-1])) + 3
    anomaly_days = ar1(rng.standard_normal(n_days), c.phi, c.anomaly_sd)
    noon = np.arange(-1, n_days - 1) + (12.0 - org.longitude / 15.0) / 24.0
    anomaly = np.interp(days, noon, anomaly_days)
    season = np.cos(2 * np.pi * (doy - c.coldest_doy) / 365.25)
    half_range = c.diurnal - c.diurnal_season * season
    cycle = half_range * np.cos(2 * np.pi * (solar_hours - 15.0) / 24.0)
    jitter = rng.normal(0.0, JITTER_SD, ms.size)
    temp = seasonal_mean(doy, c) + anomaly + _events(ms, org_index) + cycle + jitter
    temp = np.round(temp, 1) + 0.0  # + 0.0: no "-0.0"
    served = temp.copy()
    served[missing_hours(rng)] = np.nan
    temp.setflags(write=False)
    served.setflags(write=False)
    return SiteWeather(temp, served)


def missing_hours(rng: np.random.Generator) -> np.ndarray:
    """Grid positions of the missing hours, inside the heat meters' span [HEAT_T0, T1)."""
    lo = (HEAT_T0_MS - WEATHER_START_MS) // HOUR_MS
    hi = (T1_MS - WEATHER_START_MS) // HOUR_MS
    single = rng.integers(lo, hi - 24, size=MISSING_SINGLE_HOURS)
    block = rng.integers(lo, hi - 24) + np.arange(MISSING_BLOCK_HOURS)
    return np.unique(np.concatenate([single, block]))


def weather_frame(orgs: list[Org], sites: dict[str, SiteWeather]) -> pd.DataFrame:
    """Build the long truth frame.

    Index ``timestamp`` (UTC, hourly), columns ``organization_id``, ``temperature`` (as
    served, NaN where missing) and ``true_temperature``.
    """
    ms = hours()
    index = pd.DatetimeIndex(pd.to_datetime(np.tile(ms, len(orgs)), unit="ms", utc=True))
    frame = pd.DataFrame(
        {
            "organization_id": np.repeat([o.organization_id for o in orgs], ms.size),
            "temperature": np.concatenate([sites[o.organization_id].served for o in orgs]),
            "true_temperature": np.concatenate(
                [sites[o.organization_id].true_temperature for o in orgs]
            ),
        },
        index=index.rename("timestamp"),
    )
    frame["organization_id"] = frame["organization_id"].astype(str)
    return frame


def events_frame(orgs: list[Org]) -> pd.DataFrame:
    """List the cold snaps and warm spells.

    Columns ``organization_id``, ``kind``, ``start``, ``end`` (UTC, end exclusive),
    ``delta`` (K at the peak, the middle of the window).
    """
    rows = [
        (o.organization_id, kind, pd.Timestamp(a, tz="UTC"), pd.Timestamp(b, tz="UTC"), delta)
        for k, o in enumerate(orgs)
        for kind, a, b, delta in EVENTS.get(k, ())
    ]
    frame = pd.DataFrame(rows, columns=["organization_id", "kind", "start", "end", "delta"])
    for col in ("organization_id", "kind"):
        frame[col] = frame[col].astype(str)
    return frame


def sites_frame(orgs: list[Org]) -> pd.DataFrame:
    """Tabulate the demo sites' coordinates.

    Index ``organization_id``; ``latitude``, ``longitude``, ``elevation`` (m) and
    ``timezone``.
    """
    return pd.DataFrame(
        {
            "latitude": [o.latitude for o in orgs],
            "longitude": [o.longitude for o in orgs],
            "elevation": [o.elevation for o in orgs],
            "timezone": [o.timezone for o in orgs],
        },
        index=pd.Index([o.organization_id for o in orgs], name="organization_id"),
    )


__all__ = [
    "EVENTS",
    "FIRST_DAY",
    "LAST_DAY",
    "WEATHER_END",
    "WEATHER_START",
    "SiteWeather",
    "ar1",
    "events_frame",
    "site_weather",
    "sites_frame",
    "weather_frame",
]
