"""load_kpis at portfolio scale: 1,000 meters × 1 year of 15-minute consumption (35 M rows).

Figures, side by side in one run:
- ``load_kpis vs per-device groupby.apply``: ``wf.load_kpis(cons, freq="MS",
  tz="Europe/Berlin", schedule=OFFICE)`` (vectorized over all devices) against the same
  KPIs written per device the way a competent analyst would (``groupby("device_id")
  .apply`` with pandas inside each device: ``Series.resample`` on the local-time index
  for energy, 15-minute and hourly mean power with ``resample(closed="right")``, a
  per-month ``max``/``idxmax``/``quantile``, the schedule from the local weekday and
  time). Both give the same energy, peak, peak time, baseload and out-of-hours share
  (checked before timing); timings interleave (best of each). Target: ours >= 5× faster.
  The floor is the bare numpy work (one bincount of energy into fixed-offset months and
  one maximum per device-month, no DST, no baseload).
- ``rss_load_kpis peak / input``: peak resident memory of ``load_kpis`` in a fresh
  process including its input, divided by the input frame's resident size. Target <= 2.5.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.harness import interleaved, result, rss_probe, versus

TZ = "Europe/Berlin"
OFFICE = {d: [("08:00", "18:00")] for d in ("Mon", "Tue", "Wed", "Thu", "Fri")}
QUARTER = pd.Timedelta(minutes=15)


def make_consumption(n_devices: int, days: int = 365, seed: int = 0) -> pd.DataFrame:
    """A ``readings_to_consumption`` frame: 15-minute deltas (time-major, ties by device),
    a daily load shape with noise, categorical device ids, kWh units in attrs."""
    rng = np.random.default_rng(seed)
    n_t = days * 96 + 1
    ids = pd.Index([f"{k:08d}-0000-4000-8000-{k:012d}" for k in range(n_devices)], name="device_id")
    ts = pd.date_range("2025-12-31T23:00Z", periods=n_t, freq="15min").as_unit("ns").asi8
    hour = (ts // 3_600_000_000_000 + 1) % 24
    shape = np.where((hour >= 7) & (hour < 19), 1.0, 0.35)  # (n_t,)
    scale = rng.uniform(0.5, 20.0, n_devices)  # kW
    cons = (shape[:, None] * scale[None, :]) * 0.25
    cons *= rng.gamma(8.0, 1 / 8.0, size=cons.shape)
    cons[0] = np.nan
    codes = np.tile(np.arange(n_devices, dtype=np.int16), n_t)
    interval = np.full(cons.size, QUARTER.value, dtype=np.int64)
    interval[:n_devices] = np.iinfo(np.int64).min  # NaT: first readings
    frame = pd.DataFrame(
        {
            "device_id": pd.Categorical.from_codes(codes, categories=ids),
            "consumption": cons.reshape(-1),
            "rollover": np.zeros(cons.size, dtype=bool),
            "negative": np.zeros(cons.size, dtype=bool),
            "interval": interval.view("m8[ns]"),
        },
        index=pd.DatetimeIndex(
            pd.to_datetime(np.repeat(ts, n_devices), unit="ns", utc=True), name="timestamp"
        ),
    )
    frame.attrs = {
        "tz": TZ,
        "devices": pd.DataFrame({"unit": "kWh", "meter_type": "electricity"}, index=ids),
    }
    return frame


def ours(cons: pd.DataFrame) -> pd.DataFrame:
    import waltero_frames as wf

    return wf.load_kpis(cons, freq="MS", tz=TZ, schedule=OFFICE)


def per_device(cons: pd.DataFrame) -> pd.DataFrame:
    """The same KPIs one device at a time with pandas (a competent analyst's version)."""

    def one(g: pd.DataFrame) -> pd.DataFrame:
        s = g["consumption"]
        local = s.tz_convert(TZ)
        month = local.index.tz_localize(None).to_period("M")
        energy = local.groupby(month).sum(min_count=1)
        dt_h = g["interval"].dt.total_seconds() / 3600
        power = (s / dt_h).where(np.isclose(dt_h, 0.25))  # each delta is a quarter
        by_month = power.groupby(month.to_numpy())
        peak = by_month.max()
        peak_at = by_month.idxmax().map(lambda t: t - QUARTER)
        hourly = s.resample("1h", closed="right", label="right").agg(["sum", "count"])
        hourly = hourly[hourly["count"] == 4]["sum"]
        hour_month = hourly.index.tz_convert(TZ).tz_localize(None).to_period("M")
        baseload = hourly.groupby(hour_month.to_numpy()).quantile(0.1)
        wall = local.index.tz_localize(None)
        minutes = wall.hour * 60 + wall.minute
        open_ = (wall.day_of_week < 5) & (minutes >= 480) & (minutes < 1080)
        outside = local.where(~open_, 0.0).groupby(month).sum() / energy
        return pd.DataFrame(
            {
                "energy": energy,
                "peak_demand": peak,
                "peak_at": peak_at,
                "baseload": baseload,
                "out_of_hours_share": outside,
            }
        )

    return cons.groupby("device_id", observed=True).apply(one)


def floor(cons: pd.DataFrame) -> np.ndarray:
    """The bare numpy work: energy per fixed-offset month and the max per device-month."""
    codes = cons["device_id"].cat.codes.to_numpy()
    n_dev = len(cons["device_id"].cat.categories)
    month = (cons.index.asi8 // 1000 + 3_600_000_000) // (30 * 86_400_000_000)
    key = codes * (month.max() + 1) + month
    v = np.nan_to_num(cons["consumption"].to_numpy())
    energy = np.bincount(key, weights=v)
    peak = np.full(len(energy), -np.inf)
    np.maximum.at(peak, key, v * 4)
    return energy + peak + n_dev


def check_same(a: pd.DataFrame, b: pd.DataFrame) -> int:
    """Ours vs per device: same energy, peaks, peak times, baseload, out-of-hours share."""
    a = a[a.index >= "2025-12-31T23:00Z"]  # the naive version has no partial first period
    local = a.index.tz_convert(TZ).tz_localize(None).to_period("M")
    a = a.set_index(["device_id", local])
    a.index = a.index.set_levels(a.index.levels[0].astype(str), level=0)
    b.index = b.index.set_levels(b.index.levels[0].astype(str), level=0)
    b = b.reindex(a.index)
    for col in ("energy", "peak_demand", "baseload", "out_of_hours_share"):
        np.testing.assert_allclose(a[col], b[col], rtol=1e-9, err_msg=col)
    assert (a["peak_at"].to_numpy() == b["peak_at"].to_numpy()).all()
    return len(a)


def run(quick: bool) -> list[dict]:
    n, days = (10, 60) if quick else (1000, 365)
    cons = make_consumption(n, days)
    span = "1 year" if days == 365 else f"{days} days"
    size = f"{n} devices x {span} of 15-min data = {len(cons) / 1e6:.1f} M rows"
    rows = check_same(ours(cons), per_device(cons))
    t = interleaved(  # best of each: same machine load
        1 if quick else 2,
        ours=(lambda: ours(cons), 1),
        naive=(lambda: per_device(cons), 1),
        floor=(lambda: floor(cons), 1),
    )
    out = [
        versus(
            "load_kpis vs per-device groupby.apply",
            target=">= 5",
            size=size,
            ours=t["ours"],
            naive=t["naive"],
            floor_s=t["floor"],
            periods=rows,
        )
    ]
    got = rss_probe(
        "from bench.bench_kpis import make_consumption, ours",
        f"frame = make_consumption({n}, {days})",
        "out = ours(frame)",
    )
    out.append(
        result(
            "rss_load_kpis peak / input",
            ratio=got["peak_mb"] / got["input_mb"],
            target="<= 2.5",
            size=size,
            input_mb=round(got["input_mb"], 1),
            peak_mb=round(got["peak_mb"], 1),
            input_deep_mb=round(got["deep_mb"], 1),
        )
    )
    return out


if __name__ == "__main__":  # pragma: no cover
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=1))
