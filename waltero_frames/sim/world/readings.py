"""Readings of one device: meter register and the battery/radio/meta fields.

`generate_device` turns a `DeviceSpec` (with its injected anomalies in `spec.anomalies`)
into arrays, vectorized with numpy. The meter register is integer; `processed` is
``round(raw * multiplier, 6)`` except inside a `multiplier_mismatch` episode.
The series stored here are *as recorded* (misreads included); corrections are
changelog rows applied on top by the World.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .generate import (
    AUX_FIELDS,
    HEATING_TYPES,
    NOISE_SHAPE,
    PROCESSED,
    RAW,
    T1_MS,
    VARIANT_FIELDS,
    DeviceSpec,
    Org,
    local_calendar,
    rate_shape,
    seasonal_mean,
)
from .heating import OrgDays, increments


@dataclass
class DeviceReadings:
    """Generated arrays of one device (timestamps are epoch ms, UTC)."""

    meter_ts: np.ndarray
    raw_true: np.ndarray  # the register as it really stood (no misreads)
    series: dict  # field -> (ts_ms, values) as recorded
    heating_days: dict | None = None  # heat and gas meters: per-day truth (heating.py)


def _in_windows(ts: np.ndarray, windows) -> np.ndarray:
    mask = np.zeros(ts.shape, dtype=bool)
    for start, end in windows:
        mask |= (ts >= start) & (ts < end)
    return mask


def meter_register(
    spec: DeviceSpec, org: Org, rng: np.random.Generator, days: OrgDays | None = None
):
    """Timestamps, true and as-recorded integer register of a meter, and its heating days.

    Heat and gas meters (``days`` given: the organization's calendar and temperature)
    follow `heating.increments`; the others `generate.rate_shape`. The last item is the
    per-day truth of a heat or gas meter, else None.
    """
    step = spec.cadence_s * 1000
    ts = np.arange(spec.start_ms, T1_MS, step, dtype=np.int64)
    dt_h = spec.cadence_s / 3600.0
    heating_days = None
    if spec.meter_type in HEATING_TYPES:
        if days is None:
            raise ValueError(f"{spec.device_id}: a {spec.meter_type} meter needs its org's days")
        inc, heating_days = increments(spec, ts, days, rng)
    else:
        hour, dow, doy = local_calendar(ts, org.timezone)
        shape = rate_shape(spec, hour, dow, doy, org.hemisphere)
        k = NOISE_SHAPE[spec.meter_type]
        noise = rng.gamma(k, 1.0 / k, size=ts.size)
        occupancy = rng.uniform(0.8, 1.2)
        per_hour = spec.annual / 8766.0 * occupancy
        inc = per_hour * dt_h * shape * noise
    an = spec.anomalies
    for start, end in an.get("vacation", ()):  # heating meters follow heating.py alone
        if spec.meter_type not in HEATING_TYPES:
            inc[(ts >= start) & (ts < end)] *= 0.04
    if "night_flow" in an:
        start, end, flow = an["night_flow"]
        inc[(ts >= start) & (ts < end)] += flow * dt_h
    if "stuck" in an:
        start, end = an["stuck"]
        inc[(ts > start) & (ts <= end)] = 0.0
    inc[0] = 0.0
    units = np.floor(np.cumsum(inc) / spec.multiplier + rng.uniform(0, 1)).astype(np.int64)
    size = 10**spec.register_digits
    units -= units[0]
    start_raw = int(rng.uniform(0.02, 0.4) * size)
    if spec.anchor is not None:
        when, value = spec.anchor
        i = int(np.searchsorted(ts, when))
        if value == size:  # rollover: first reading from `when` on where the register moved
            i += int(np.argmax(units[i:] > units[i - 1]))
        start_raw = value - int(units[i])
    raw = start_raw + units
    if "swap" in an:
        swap_ts, new_raw = an["swap"]
        i = int(np.searchsorted(ts, swap_ts))
        raw[i:] = new_raw + raw[i:] - raw[i]
    raw_true = raw % size
    recorded = raw_true.copy()
    for when, offset in an.get("misreads", ()):
        i = int(np.searchsorted(ts, when))
        recorded[i] += offset
    if "misread_episode" in an:
        start, end, offset = an["misread_episode"]
        recorded[(ts >= start) & (ts < end)] += offset
    return ts, raw_true, recorded, heating_days


def processed_values(spec: DeviceSpec, ts: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Return the processed register in display units (wrong multiplier inside a mismatch episode)."""
    mult = np.full(ts.shape, float(spec.multiplier))
    if "multiplier_mismatch" in spec.anomalies:
        start, end, wrong = spec.anomalies["multiplier_mismatch"]
        mult[(ts >= start) & (ts < end)] = wrong
    return np.round(raw * mult, 6)


def aux_series(spec: DeviceSpec, org: Org, rng: np.random.Generator) -> dict:
    """Battery, radio and meta fields on the device's own (hourly or slower) clock."""
    step = spec.aux_cadence_s * 1000
    ts = np.arange(spec.start_ms + spec.aux_offset_s * 1000, T1_MS, step, dtype=np.int64)
    n = ts.size
    _, _, doy = local_calendar(ts, org.timezone)
    t_out = seasonal_mean(doy, org.climate)
    indoor = 12.0 + 0.35 * t_out + rng.normal(0.0, 0.4, n)
    an = spec.anomalies
    frac = (ts - spec.start_ms) / (T1_MS - spec.start_ms)
    volts = 3.62 - 0.05 * frac + 0.004 * (indoor - 15.0) + rng.normal(0.0, 0.006, n)
    if "battery_decline" in an:
        start = an["battery_decline"]
        late = np.clip((ts - start) / (T1_MS - start), 0.0, 1.0)
        volts -= 0.55 * late**1.5
    level = np.clip(np.round((volts - 3.0) / 0.62 * 100.0), 0, 100).astype(np.int64)
    rssi_base, snr_base = rng.uniform(-92.0, -68.0), rng.uniform(4.0, 12.0)
    rssi = rssi_base + rng.normal(0.0, 2.5, n)
    snr = snr_base + rng.normal(0.0, 1.2, n)
    if "weak_signal" in an:
        start, end = an["weak_signal"]
        inside = (ts >= start) & (ts < end)
        rssi[inside] = -116.0 + rng.normal(0.0, 2.0, inside.sum())
        snr[inside] = -6.0 + rng.normal(0.0, 1.5, inside.sum())
    upgrade = spec.start_ms + int(rng.uniform(0.3, 0.7) * (T1_MS - spec.start_ms))
    old, new = ("1.8.2", "1.9.0") if spec.variant == "W-Sensor v1" else ("2.3.1", "2.4.0")
    firmware = np.where(ts < upgrade, old, new).astype(object)
    values = {
        "battery.voltage": np.round(volts, 3),
        "battery.level": level,
        "connection.rssi": np.round(rssi).astype(np.int64),
        "connection.snr": np.round(snr, 1),
        "meta.temperature": np.round(indoor, 2),
        "meta.firmware": firmware,
    }
    return {f: (ts, values[f]) for f in AUX_FIELDS if f in VARIANT_FIELDS[spec.variant]}


def generate_device(
    spec: DeviceSpec, org: Org, rng: np.random.Generator, days: OrgDays | None = None
) -> DeviceReadings:
    """All series of one device, gaps removed, misreads in place."""
    ts, raw_true, recorded, heating_days = meter_register(spec, org, rng, days)
    processed = processed_values(spec, ts, recorded)
    series = {RAW: (ts, recorded), PROCESSED: (ts, processed)}
    series.update(aux_series(spec, org, rng))
    gaps = spec.anomalies.get("gaps", ())
    if gaps:
        for name, (t, v) in list(series.items()):
            keep = ~_in_windows(t, gaps)
            series[name] = (t[keep], v[keep])
        keep = ~_in_windows(ts, gaps)
        ts, raw_true = ts[keep], raw_true[keep]
    for t, v in series.values():
        t.setflags(write=False)
        v.setflags(write=False)
    return DeviceReadings(meter_ts=ts, raw_true=raw_true, series=series, heating_days=heating_days)
