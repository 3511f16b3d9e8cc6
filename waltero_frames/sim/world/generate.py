"""Deterministic generation of the simulator's demo fleet and its readings.

The fleet layout (organizations, devices, which device carries which anomaly) is fixed;
the seed drives every random draw (consumption noise, initial registers, radio, battery,
lags). Everything is vectorized per device: no Python loop runs per reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

import numpy as np
import pandas as pd

DEMO_ORG = "00000000-0000-0000-0000-000000000001"
SOUTH_ORG = "00000000-0000-0000-0000-000000000002"
HIDDEN_ORG = "00000000-0000-0000-0000-000000000003"

DEMO_USERNAME = "analyst@example.com"
DEMO_PASSWORD = "waltero-demo"

#: First reading of every device and the (exclusive) end of the generated data.
T0 = pd.Timestamp("2025-12-01T00:00:00Z")
T1 = pd.Timestamp("2026-12-01T00:00:00Z")
#: First reading of the heat and gas meters: two heating seasons before T1.
HEAT_T0 = pd.Timestamp("2024-09-01T00:00:00Z")
MS = 1_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000


def to_ms(ts: pd.Timestamp) -> int:
    """Epoch milliseconds of a tz-aware timestamp."""
    return int(ts.value // 1_000_000)  # .value is ns whatever the unit


T0_MS = to_ms(T0)
T1_MS = to_ms(T1)
HEAT_T0_MS = to_ms(HEAT_T0)
#: Meter types that respond to the outdoor temperature (sim/world/heating.py).
HEATING_TYPES = ("heat", "gas")

RAW = "meter.value.raw"
PROCESSED = "meter.value.processed"
V2_FIELDS = (
    PROCESSED,
    RAW,
    "battery.voltage",
    "battery.level",
    "connection.rssi",
    "connection.snr",
    "meta.temperature",
    "meta.firmware",
)
V1_FIELDS = tuple(f for f in V2_FIELDS if f not in ("battery.level", "connection.snr"))
AUX_FIELDS = V2_FIELDS[2:]
VARIANT_FIELDS = {"W-Sensor v2": V2_FIELDS, "W-Sensor v1": V1_FIELDS}

# Local-hour shapes (mean about 1) per meter type.
_WATER_DAY = [
    0.2,
    0.1,
    0.1,
    0.1,
    0.2,
    0.6,
    1.8,
    2.4,
    1.8,
    1.0,
    0.8,
    0.9,
    1.1,
    0.9,
    0.8,
    0.8,
    1.0,
    1.4,
    1.8,
    1.9,
    1.6,
    1.2,
    0.8,
    0.4,
]
_ELEC_DAY = [
    0.5,
    0.45,
    0.4,
    0.4,
    0.4,
    0.5,
    0.8,
    1.1,
    1.0,
    0.9,
    0.9,
    0.95,
    1.0,
    0.95,
    0.9,
    0.95,
    1.1,
    1.5,
    1.9,
    2.0,
    1.8,
    1.5,
    1.1,
    0.7,
]
_HEAT_DAY = [
    0.6,
    0.55,
    0.5,
    0.5,
    0.6,
    1.0,
    1.4,
    1.5,
    1.3,
    1.1,
    1.0,
    0.95,
    0.95,
    0.95,
    1.0,
    1.05,
    1.15,
    1.3,
    1.4,
    1.4,
    1.3,
    1.1,
    0.9,
    0.7,
]
DAY_SHAPE = {
    "water_cold": np.array(_WATER_DAY),
    "water_hot": np.array(_WATER_DAY),
    "electricity": np.array(_ELEC_DAY),
    "gas": np.array(_HEAT_DAY),
    "heat": np.array(_HEAT_DAY),
}
#: Gamma shape of the per-interval noise (small = bursty).
NOISE_SHAPE = {"water_cold": 0.7, "water_hot": 0.7, "electricity": 3.0, "gas": 4.0, "heat": 6.0}
UNITS = {"water_cold": "m3", "water_hot": "m3", "gas": "m3", "electricity": "kWh"}


@dataclass
class DeviceSpec:
    """One meter of the fixed fleet layout (before seeded draws)."""

    device_id: str
    organization_id: str
    name: str | None
    external_id: str | None
    serial_number: str
    meter_type: str
    unit: str
    multiplier: float
    register_digits: int
    variant: str
    cadence_s: int
    annual: float  # expected consumption per year, display units
    aux_cadence_s: int = 3600
    aux_offset_s: int = 0
    # Pin the register (seed-independent): (ts_ms, raw) = the true raw of the first reading
    # at or after ts_ms; a raw of 10**register_digits puts a rollover there instead (at
    # the first reading at or after ts_ms whose register moved).
    anchor: tuple[int, int] | None = None
    residential: bool = True
    anomalies: dict = field(default_factory=dict)
    start_ms: int = T0_MS  # first reading (HEAT_T0_MS for heat and gas meters)


@dataclass(frozen=True)
class Climate:
    """A site's climate: the seasonal mean and the weather model's parameters (°C, K).

    The seasonal mean is ``mean - amplitude * cos(2 pi (doy - coldest_doy) / 365.25)``;
    daily anomalies are AR(1) with coefficient ``phi`` and standard deviation
    ``anomaly_sd``; the daily cycle's half range is ``diurnal - diurnal_season *
    cos(...)`` (wider in summer). See sim/world/weather.py.
    """

    mean: float
    amplitude: float
    coldest_doy: float
    anomaly_sd: float
    phi: float
    diurnal: float
    diurnal_season: float


NORTH = Climate(9.0, 9.5, 20.0, 3.0, 0.75, 3.2, 1.0)
SOUTH = Climate(18.0, 5.5, 200.0, 2.2, 0.65, 3.5, 0.5)


@dataclass
class Org:
    """One simulated organization."""

    organization_id: str
    name: str
    timezone: str
    readable: bool
    hemisphere: str  # "north" | "south": season of the heating demand
    latitude: float  # the site the weather route serves (data/demo-organization.md)
    longitude: float
    elevation: float
    climate: Climate


ORGS = [
    Org(DEMO_ORG, "Demo Housing", "Europe/Berlin", True, "north", 52.52, 13.41, 38.0, NORTH),
    Org(
        SOUTH_ORG,
        "Harbour View Strata",
        "Australia/Sydney",
        True,
        "south",
        -33.87,
        151.21,
        39.0,
        SOUTH,
    ),
    Org(
        HIDDEN_ORG,
        "Private Utility Tenant",
        "Europe/Vienna",
        False,
        "north",
        48.21,
        16.37,
        171.0,
        NORTH,
    ),
]

USERS = {
    DEMO_USERNAME: {
        "id": "u-0001",
        "name": "Demo Analyst",
        "password": DEMO_PASSWORD,
        "organizations": {DEMO_ORG: "viewer", SOUTH_ORG: "viewer"},
    },
    "operator@example.com": {
        "id": "u-0002",
        "name": "Utility Operator",
        "password": "waltero-operator",
        "organizations": {HIDDEN_ORG: "admin"},
    },
}

# (meter_type, unit, multiplier, register_digits, annual consumption) per apartment slot.
_APT_COLD = [(0.001, 8), (0.01, 7), (0.1, 5), (0.001, 9), (0.01, 6)]
_APT_HOT = [(0.001, 8), (0.01, 7), (0.001, 9)]
_APT_HEAT = [("kWh", 1, 7), ("kWh", 1, 6), ("MWh", 0.001, 6), ("kWh", 10, 5)]
_APT_ELEC = [(0.1, 7), (1, 6), (0.01, 8), (0.01, 9)]


def _device_id(org_index: int, n: int) -> str:
    d = str(org_index + 1)
    return f"{d * 8}-{d * 4}-{d * 4}-{d * 4}-{d * 10}{n:02d}"


class _Ids(TypedDict):
    device_id: str
    organization_id: str
    external_id: str
    serial_number: str


def _identity(org_index: int, org_id: str, n: int) -> _Ids:
    """Return the ids of device ``n`` of an organization: UUID, external id, serial number."""
    return {
        "device_id": _device_id(org_index, n),
        "organization_id": org_id,
        "external_id": f"WS-{org_index + 1}{n:06d}",
        "serial_number": f"ZR-{org_index + 1}{n:04d}",
    }


def _apartment_specs(org_index: int, org_id: str, n_apts: int, first: int) -> list[DeviceSpec]:
    """Four meters per apartment (cold water, hot water, heat, electricity)."""
    specs: list[DeviceSpec] = []
    n = first
    cadences = [1800, 900, 3600]
    for apt in range(n_apts):
        label = f"Apt {apt // 4 + 1}.{apt % 4 + 1:02d}"
        slots: list[tuple[str, str, float, int, float, str]] = []
        mult, dig = _APT_COLD[apt % len(_APT_COLD)]
        slots.append(("water_cold", "m3", mult, dig, 40 + 15 * (apt % 5), "cold water"))
        mult, dig = _APT_HOT[apt % len(_APT_HOT)]
        slots.append(("water_hot", "m3", mult, dig, 18 + 5 * (apt % 4), "hot water"))
        unit, mult, dig = _APT_HEAT[apt % len(_APT_HEAT)]
        annual = 7000.0 + 900 * (apt % 5)
        slots.append(("heat", unit, mult, dig, annual / 1000 if unit == "MWh" else annual, "heat"))
        mult, dig = _APT_ELEC[apt % len(_APT_ELEC)]
        slots.append(("electricity", "kWh", mult, dig, 1800 + 400 * (apt % 6), "electricity"))
        for meter_type, unit, mult, dig, annual, what in slots:
            variant = "W-Sensor v1" if n % 3 == 2 else "W-Sensor v2"
            specs.append(
                DeviceSpec(
                    **_identity(org_index, org_id, n),
                    name=f"{label} {what}",
                    meter_type=meter_type,
                    unit=unit,
                    multiplier=mult,
                    register_digits=dig,
                    variant=variant,
                    cadence_s=cadences[n % 3],
                    annual=float(annual),
                    aux_cadence_s=3600 if variant == "W-Sensor v2" else 7200,
                    aux_offset_s=[0, 0, 7 * 60, 23 * 60][n % 4],
                )
            )
            n += 1
    return specs


def _building_specs(org_index: int, org_id: str, first: int) -> list[DeviceSpec]:
    """Building-level meters: gas mains, central heat, main water, common electricity."""
    rows = [
        ("gas", "m3", 0.01, 8, 32000.0, "Gas main A"),
        ("gas", "m3", 0.001, 9, 21000.0, "Gas main B"),
        ("gas", "m3", 0.1, 7, 9000.0, "Gas boiler house"),
        ("heat", "MWh", 0.001, 7, 320.0, "Central heat substation"),
        ("heat", "kWh", 10, 6, 260000.0, "District heat transfer"),
        ("water_cold", "m3", 0.01, 8, 3500.0, "Main water inlet"),
        ("electricity", "kWh", 1, 7, 28000.0, "Common areas electricity"),
        ("electricity", "kWh", 0.1, 8, 9000.0, "Lift and garage electricity"),
    ]
    specs = []
    for k, (mt, unit, mult, dig, annual, name) in enumerate(rows):
        n = first + k
        specs.append(
            DeviceSpec(
                **_identity(org_index, org_id, n),
                name=name,
                meter_type=mt,
                unit=unit,
                multiplier=mult,
                register_digits=dig,
                variant="W-Sensor v2" if k % 2 == 0 else "W-Sensor v1",
                cadence_s=[900, 3600, 1800][k % 3],
                annual=annual,
                aux_cadence_s=3600 if k % 2 == 0 else 7200,
                aux_offset_s=[0, 41 * 60][k % 2],
                residential=False,
            )
        )
    return specs


def fleet() -> list[DeviceSpec]:
    """Return the fixed fleet layout of all three organizations (anomalies attached later)."""
    demo = _apartment_specs(0, DEMO_ORG, 10, 1) + _building_specs(0, DEMO_ORG, 41)
    south = _apartment_specs(1, SOUTH_ORG, 3, 1) + _building_specs(1, SOUTH_ORG, 13)[:3]
    hidden = _apartment_specs(2, HIDDEN_ORG, 1, 1) + _building_specs(2, HIDDEN_ORG, 5)[:2]
    by_id = {s.device_id: s for s in demo + south + hidden}
    # Empty names: Part 1 falls back to the external id.
    for n in (6, 19, 33):
        by_id[_device_id(0, n)].name = ""
    # Neither name nor external id, spelled "" (Part 1 then sends deviceName "") ...
    by_id[_device_id(0, 27)].name = ""
    by_id[_device_id(0, 27)].external_id = ""
    # ... and missing altogether (Part 1 then omits the deviceName key).
    by_id[_device_id(1, 7)].name = None
    by_id[_device_id(1, 7)].external_id = None
    for spec in by_id.values():
        if spec.meter_type in HEATING_TYPES:  # two heating seasons of history
            spec.start_ms = HEAT_T0_MS
    return demo + south + hidden


def local_calendar(ts_ms: np.ndarray, tz: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local hour (0-23), weekday (Mon=0) and fractional day of year for UTC ms stamps."""
    idx = pd.DatetimeIndex(pd.to_datetime(ts_ms, unit="ms", utc=True)).tz_convert(tz)
    hour = np.asarray(idx.hour, dtype=np.int64)
    dow = np.asarray(idx.day_of_week, dtype=np.int64)
    doy = np.asarray(idx.day_of_year, dtype=np.float64) + hour / 24.0
    return hour, dow, doy


def seasonal_mean(doy: np.ndarray, climate: Climate) -> np.ndarray:
    """Return the climate's seasonal mean temperature in °C at fractional day of year ``doy``.

    The outdoor weather adds day-to-day variability and a daily cycle to it
    (sim/world/weather.py); the sensors' indoor ``meta.temperature`` follows it alone.
    """
    return climate.mean - climate.amplitude * np.cos(
        2 * np.pi * (doy - climate.coldest_doy) / 365.25
    )


def rate_shape(spec: DeviceSpec, hour, dow, doy, hemisphere: str) -> np.ndarray:
    """Relative consumption rate per reading of a water or electricity meter (mean 1).

    Weather-independent: a fixed daily shape, a weekly pattern and a seasonal cosine
    (more hot water and electricity in winter, less cold water). Heat and gas meters
    follow sim/world/heating.py instead.
    """
    daily = DAY_SHAPE[spec.meter_type][hour]
    weekend = dow >= 5
    weekly = np.where(weekend, 1.15, 1.0) if spec.residential else np.where(weekend, 0.8, 1.05)
    winter = np.cos(2 * np.pi * (doy - (200 if hemisphere == "south" else 20)) / 365.25)
    if spec.meter_type in HEATING_TYPES:
        raise ValueError(f"{spec.meter_type} meters follow sim/world/heating.py, not rate_shape")
    if spec.meter_type == "water_hot":
        seasonal = 1.0 + 0.15 * winter
    elif spec.meter_type == "electricity":
        seasonal = 1.0 + 0.2 * winter
    else:
        seasonal = 1.0 - 0.1 * winter
    shape = daily * weekly * seasonal
    return shape / shape.mean()
