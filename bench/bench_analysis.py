"""Analysis helpers at portfolio scale: 1,000 meters × 1 year hourly (8.76 M readings).

Figures, side by side in one run:
- ``consumption+resample_D``: ``readings_to_consumption`` + ``resample_consumption("D",
  tz="Europe/Berlin")`` (ours, vectorized over all devices) against the same rules written
  per device the way a competent analyst would (``groupby("device_id").apply`` with numpy
  inside each device and ``Series.resample("D")`` on the local-time index), and against a
  floor (the bare numpy work: one diff and one bincount into fixed-offset days, no
  validation, no DST, no ordering). Both real versions are checked to give the same
  numbers (consumption, n_readings, coverage) before timing; the timings interleave
  (three rounds, best of each) so both see the same machine load. Target: ours >= 5×
  faster than the per-device version. The same pair again with plain object-dtype
  ``device_id`` (issue 14: >= 3×).
- ``flag_anomalies``: seconds per million readings (all nine rules).
- ``rss_*``: peak resident memory of each step in a fresh process
  (``bench.harness.rss_probe``), *including* its input, divided by the input
  frame's resident size (RSS growth while building it). Target <= 2.5.
Input frames are generated in-process (gamma increments, ~2 % of registers start near
the top so they roll over, battery and radio columns); ``device_id`` is categorical
(ids stay cheap: strings only at the edges).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from bench.harness import best_time, interleaved, result, rss_probe, versus

TZ = "Europe/Berlin"
RAW, PROC = "meter.value.raw", "meter.value.processed"


def make_readings(n_devices: int, hours: int = 8760, seed: int = 0):
    """A telemetry frame (time-major, ties by device) and its devices table."""
    rng = np.random.default_rng(seed)
    ids = pd.Index([f"{k:08d}-0000-4000-8000-{k:012d}" for k in range(n_devices)], name="device_id")
    mult = rng.choice([0.001, 0.01, 0.1, 1.0], n_devices)
    digits = rng.choice([6, 7, 8], n_devices)
    devices = pd.DataFrame({"multiplier": mult, "register_digits": digits}, index=ids)
    devices["meter_type"] = rng.choice(
        ["water_cold", "water_hot", "electricity", "heat", "gas"], n_devices
    )
    size = 10**digits
    start = (rng.uniform(0.05, 0.5, n_devices) * size).astype(np.int64)
    near_top = rng.random(n_devices) < 0.02
    start[near_top] = size[near_top] - 500
    inc = rng.poisson(3.0, size=(hours, n_devices)).astype(np.int64)
    raw = (start + np.cumsum(inc, axis=0)) % size  # (hours, devices), time-major
    del inc
    raw = raw.reshape(-1).astype(float)
    codes = np.tile(np.arange(n_devices, dtype=np.int16), hours)
    ts = np.repeat(
        pd.date_range("2026-01-01", periods=hours, freq="h", tz="UTC").as_unit("ns").asi8, n_devices
    )
    m_row = mult[codes]
    frame = pd.DataFrame(
        {
            "device_id": pd.Categorical.from_codes(codes, categories=ids),
            RAW: raw,
            PROC: np.round(raw * m_row, 6),
            "battery.voltage": np.round(3.6 - rng.random(raw.size) * 0.05, 3),
            "connection.rssi": np.round(-80.0 - rng.random(raw.size) * 10.0),
        },
        index=pd.DatetimeIndex(pd.to_datetime(ts, unit="ns", utc=True), name="timestamp"),
    )
    frame["value"] = np.round(raw * m_row, 6)
    return frame, devices


def ours(readings: pd.DataFrame, devices: pd.DataFrame) -> pd.DataFrame:
    import waltero_frames as wf

    c = wf.readings_to_consumption(
        readings, multiplier=devices["multiplier"], register_digits=devices["register_digits"]
    )
    return wf.resample_consumption(c, "D", tz=TZ)


def per_device(readings: pd.DataFrame, devices: pd.DataFrame) -> pd.DataFrame:
    """The same rules, one device at a time (groupby.apply, numpy inside): deltas with
    the rollover rule, local-day sums and counts with ``Series.resample``, coverage by
    interpolating the cumulative covered time (intervals <= 3 x the median) at the
    local-day edges."""
    mult = devices["multiplier"]
    size = 10 ** devices["register_digits"]

    def one(g: pd.DataFrame) -> pd.DataFrame:
        dev = g.name
        g = g.sort_index()
        t = g.index.as_unit("ns").asi8
        raw = g[RAW].to_numpy(dtype=np.int64)
        step = np.diff(raw)
        span = int(size[dev])
        wrap = (step < 0) & (raw[:-1] >= 0.9 * span) & (raw[1:] < 0.1 * span)
        step = step + wrap * span
        cons = pd.Series(
            np.concatenate([[0.0], step * float(mult[dev])]), index=g.index.tz_convert(TZ)
        )
        daily = cons.resample("D").agg(["sum", "count"])
        edges = daily.index.append(daily.index[-1:] + pd.offsets.Day(1))
        edges = edges.tz_convert("UTC").as_unit("ns").asi8
        dt = np.diff(t)
        covered = np.concatenate([[0], np.cumsum(np.where(dt <= 3 * np.median(dt), dt, 0))])
        at = np.interp(edges.astype(float), t.astype(float), covered.astype(float))
        daily["coverage"] = np.diff(at) / np.diff(edges)
        daily.index = daily.index.tz_convert("UTC")
        daily.loc[daily["count"] == 0, "sum"] = np.nan
        return daily.rename(columns={"sum": "consumption", "count": "n_readings"})

    out = readings.groupby("device_id", observed=True, group_keys=True)[[RAW]].apply(one)
    return out


def floor(readings: pd.DataFrame, devices: pd.DataFrame) -> np.ndarray:
    """The bare numpy work: diff per device, bincount into fixed-offset (UTC+1) days."""
    codes = readings["device_id"].cat.codes.to_numpy()
    n_dev = len(readings["device_id"].cat.categories)
    raw = readings[RAW].to_numpy().reshape(-1, n_dev)
    step = np.diff(raw, axis=0) * devices["multiplier"].to_numpy()
    day = (readings.index.asi8.reshape(-1, n_dev)[1:] // 1000 + 3_600_000_000) // 86_400_000_000
    day = day - day.min()
    return np.bincount(
        (codes.reshape(-1, n_dev)[1:] * (day.max() + 1) + day).ravel(), weights=step.ravel()
    )


def check_same(a: pd.DataFrame, b: pd.DataFrame) -> int:
    """Ours vs per-device: same periods, consumption and reading counts."""
    ours_s = a.set_index(["device_id", a.index])
    ours_s.index = ours_s.index.set_names(["device_id", "period_start"])
    ref = b.copy()
    ref.index = ref.index.set_names(["device_id", "period_start"])
    ours_s.index = ours_s.index.set_levels(ours_s.index.levels[0].astype(str), level=0)
    ref.index = ref.index.set_levels(ref.index.levels[0].astype(str), level=0)
    ref.index = ref.index.set_levels(ref.index.levels[1].as_unit("ns"), level=1)
    ours_s.index = ours_s.index.set_levels(ours_s.index.levels[1].as_unit("ns"), level=1)
    ref = ref.reindex(ours_s.index)
    np.testing.assert_allclose(ours_s["consumption"], ref["consumption"], rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(ours_s["n_readings"], ref["n_readings"])
    np.testing.assert_allclose(ours_s["coverage"], ref["coverage"], rtol=0, atol=1e-6)
    assert len(a) == len(b)
    return len(a)


SETUP = """
readings, devices = make_readings({n})
kw = dict(multiplier=devices["multiplier"], register_digits=devices["register_digits"])
if "{step}" == "resample":
    frame = wf.readings_to_consumption(readings, **kw)
    del readings
else:
    frame = readings
"""
STEP = """
if "{step}" == "consumption":
    out = wf.readings_to_consumption(frame, **kw)
elif "{step}" == "resample":
    out = wf.resample_consumption(frame, "D", tz=TZ)
else:
    out = wf.flag_anomalies(frame, meter_type=devices["meter_type"], tz=TZ, **kw)
"""
IMPORTS = "from bench.bench_analysis import make_readings, TZ\nimport waltero_frames as wf"


def run(quick: bool) -> list[dict]:
    n = 50 if quick else 1000
    readings, devices = make_readings(n)
    size = f"{n} devices x 8760 h = {len(readings) / 1e6:.2f} M readings"
    a = ours(readings, devices)
    b = per_device(readings, devices)
    rows = check_same(a, b)
    # plain object-dtype ids (issue 14): each device's rows share its id object, as
    # np.repeat/np.tile, a scalar per device frame or Categorical.astype(object) give them
    plain = readings.assign(device_id=readings["device_id"].astype(object))
    check_same(ours(plain, devices), per_device(plain, devices))
    t = interleaved(
        3,
        ours=(lambda: ours(readings, devices), 2),
        naive=(lambda: per_device(readings, devices), 1),
        floor=(lambda: floor(readings, devices), 1),
        ours_obj=(lambda: ours(plain, devices), 2),
        naive_obj=(lambda: per_device(plain, devices), 1),
    )
    out = [
        versus(
            "consumption+resample_D vs per-device groupby.apply",
            target=">= 5",
            size=size,
            ours=t["ours"],
            naive=t["naive"],
            floor_s=t["floor"],
            periods=rows,
        ),
        versus(
            "consumption+resample_D, object device ids, vs per-device groupby.apply",
            target=">= 3",
            size=size,
            ours=t["ours_obj"],
            naive=t["naive_obj"],
            ours_over_categorical=round(t["ours_obj"] / t["ours"], 2),
        ),
    ]
    import waltero_frames as wf

    kw = {"multiplier": devices["multiplier"], "register_digits": devices["register_digits"]}
    t_flag = best_time(
        lambda: wf.flag_anomalies(readings, meter_type=devices["meter_type"], tz=TZ, **kw), repeat=2
    )
    per_m = t_flag / (len(readings) / 1e6)
    out.append(
        result(
            "flag_anomalies s per million readings",
            ratio=per_m,
            target="<= 1",
            size=size,
            total_s=round(t_flag, 3),
        )
    )
    for step in ("consumption", "resample", "flag_anomalies"):
        got = rss_probe(IMPORTS, SETUP.format(n=n, step=step), STEP.format(step=step))
        out.append(
            result(
                f"rss_{step} peak / input",
                ratio=got["peak_mb"] / got["input_mb"],
                target="<= 2.5",
                size=size,
                input_mb=round(got["input_mb"], 1),
                peak_mb=round(got["peak_mb"], 1),
                input_deep_mb=round(got["deep_mb"], 1),
            )
        )
    from bench.anomaly_recovery import recovery

    table, info = recovery(0, "demo")
    worst = float(table[["precision", "recall"]].min().min())
    out.append(
        result(
            "anomaly recovery: min precision/recall over kinds (demo org)",
            ratio=worst,
            target=">= 0.9",
            size=f"{info['readings']} readings, {int(table['truth'].sum())} injected episodes",
            table=json.dumps(table[["truth", "flagged", "precision", "recall"]].to_dict("index")),
        )
    )
    return out
