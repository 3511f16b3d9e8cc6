"""Heat and gas meters respond to the weather through known parameters (sim/world/heating.py).

Checked against independent recomputations: the daily mean temperature from the hourly
truth, the formula from ``World.heating_truth``, the local-day consumption from the
registers, and a plain change-point fit on that consumption.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from waltero_frames.sim.world.model import World

RAW = "meter.value.raw"
HEAT_T0 = pd.Timestamp("2024-09-01T00:00Z")
T0 = pd.Timestamp("2025-12-01T00:00Z")


@pytest.fixture(scope="module")
def world():
    return World.for_seed(0)


def local_days(values: pd.Series, tz: str) -> pd.core.groupby.SeriesGroupBy:
    """Group a UTC-indexed series by local calendar day (keys: UTC instant of local midnight)."""
    local = values.index.tz_convert(tz)
    keys = local.normalize().tz_convert("UTC")
    return values.groupby(keys)


def register_daily(world, device_id: str) -> pd.Series:
    """Local-day consumption from the corrected register: each delta on its closing reading."""
    d = world.devices.loc[device_id]
    ts, raw = world.series(device_id, RAW)
    delta = np.diff(raw.astype(np.int64))
    size = 10 ** int(d["register_digits"])
    delta = np.where(delta < -size // 2, delta + size, delta) * d["multiplier"]
    stamps = pd.DatetimeIndex(pd.to_datetime(ts[1:], unit="ms", utc=True))
    tz = world.orgs.loc[d["organization_id"], "timezone"]
    return local_days(pd.Series(delta, index=stamps), tz).sum()


def daily_temperature(world, org: str, column: str) -> pd.Series:
    w = world.weather
    t = w.loc[w["organization_id"] == org, column]
    g = local_days(t, world.orgs.loc[org, "timezone"])
    mean = g.mean()
    return mean[g.count() >= 0.8 * g.size()]  # days with under 80 % of their hours: dropped


def changepoint_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Least-squares heating change-point model over a 0.05 K grid of balance points."""
    grid = np.arange(8.0, 22.0, 0.05)
    h = np.maximum(0.0, grid[:, None] - x[None, :])
    hc = h - h.mean(axis=1, keepdims=True)
    yc = y - y.mean()
    sxx, sxy = (hc * hc).sum(axis=1), hc @ yc
    with np.errstate(divide="ignore", invalid="ignore"):
        sse = np.where(sxx > 0, (yc @ yc) - sxy**2 / sxx, np.inf)
    k = int(np.argmin(sse))
    slope = sxy[k] / sxx[k]
    return float(grid[k]), float(y.mean() - slope * h[k].mean()), float(slope)


def test_heating_truth_layout(world):
    truth = world.heating_truth
    devs = world.devices
    assert set(truth.index) == set(devs.index[devs["meter_type"].isin(["heat", "gas"])])
    assert {
        "organization_id",
        "meter_type",
        "unit",
        "base_load",
        "dhw",
        "heating_slope",
        "balance_point",
        "measure_date",
        "measure_share",
        "measure_start",
        "noise_sd",
        "first_reading",
    } <= set(truth.columns)
    assert (truth["unit"] == devs.loc[truth.index, "unit"]).all()
    assert (truth["dhw"] > 0).sum() >= 5 and (truth["dhw"] == 0).sum() >= 5
    assert (truth["base_load"] > truth["dhw"]).all() and (truth["heating_slope"] > 0).all()
    assert truth["balance_point"].between(12, 18).all()
    measured = truth[truth["measure_share"] > 0]
    assert len(measured) == 1 and measured["meter_type"].iloc[0] == "heat"
    row = measured.iloc[0]
    tz = world.orgs.loc[row["organization_id"], "timezone"]
    assert row["measure_start"] == pd.Timestamp(row["measure_date"]).tz_localize(tz)
    assert (truth["first_reading"] == HEAT_T0).all()


def test_history_covers_two_heating_seasons_and_others_start_at_t0(world):
    for dev, d in world.devices.iterrows():
        ts, _ = world.series(dev, RAW)
        first = pd.Timestamp(int(ts[0]), unit="ms", tz="UTC")
        assert first == (HEAT_T0 if d["meter_type"] in ("heat", "gas") else T0), dev


def test_heating_days_equal_the_formula(world):
    truth, days = world.heating_truth, world.heating_days
    assert list(days.columns) == [
        "device_id",
        "mean_temperature",
        "expected",
        "noise",
        "coverage",
        "consumption",
    ]
    for org in truth["organization_id"].unique():
        temp = local_days(
            world.weather.loc[world.weather["organization_id"] == org, "true_temperature"],
            world.orgs.loc[org, "timezone"],
        ).mean()
        for dev, p in truth[truth["organization_id"] == org].iterrows():
            d = days[days["device_id"] == dev]
            assert d.index.is_monotonic_increasing and d.index.is_unique
            np.testing.assert_allclose(d["mean_temperature"], temp.reindex(d.index), atol=1e-9)
            slope = np.where(
                d.index
                >= (p["measure_start"] if p["measure_share"] else d.index[-1] + pd.Timedelta("1D")),
                p["heating_slope"] * (1 - p["measure_share"]),
                p["heating_slope"],
            )
            hdd = np.maximum(0.0, p["balance_point"] - d["mean_temperature"])
            np.testing.assert_allclose(d["expected"], p["base_load"] + slope * hdd, rtol=1e-12)
            full = d["coverage"] == 1.0
            assert full.iloc[1:-1].all() and full.sum() == len(d) - 2  # partial edges only
    noise = days["noise"]
    assert abs(noise.mean() - 1) < 0.005 and 0.035 < noise.std() < 0.045
    assert noise.min() > 0.8 and noise.max() < 1.2


def test_register_days_equal_the_truth_within_one_step(world):
    truth, days = world.heating_truth, world.heating_days
    anomalies = world.anomalies
    for dev in truth.index:
        got = register_daily(world, dev)
        want = days.loc[days["device_id"] == dev, "consumption"]
        both = pd.concat([got.rename("got"), want.rename("want")], axis=1, sort=True).dropna()
        assert len(both) >= len(want) - 3
        step = world.devices.loc[dev, "multiplier"]
        off = both[(both["got"] - both["want"]).abs() > step * (1 + 1e-9)]
        # only the injected stuck and gap episodes break the formula
        episodes = anomalies[
            (anomalies["device_id"] == dev) & anomalies["kind"].isin(["stuck", "gap"])
        ]
        for when in off.index:
            near = (episodes["start"] - pd.Timedelta("1D") <= when) & (
                when <= episodes["end"] + pd.Timedelta("1D")
            )
            assert near.any(), (dev, when, off.loc[when].to_dict())


def test_a_changepoint_fit_recovers_the_parameters(world):
    """±1 K, ±5 % from the registers and the served weather (what a client sees)."""
    truth = world.heating_truth
    for org in truth["organization_id"].unique():
        temp = daily_temperature(world, org, "temperature")
        for dev, p in truth[truth["organization_id"] == org].iterrows():
            both = pd.concat(
                [register_daily(world, dev).rename("y"), temp.rename("x")], axis=1, sort=True
            ).dropna()
            both = both.iloc[1:-1]  # the partial first and last day
            before = both[both.index < p["measure_start"]] if p["measure_share"] else both
            assert len(before) >= 270
            bp, base, slope = changepoint_fit(before["x"].to_numpy(), before["y"].to_numpy())
            assert abs(bp - p["balance_point"]) <= 1.0, (dev, bp)
            assert base == pytest.approx(p["base_load"], rel=0.05), dev
            assert slope == pytest.approx(p["heating_slope"], rel=0.05), dev
            if p["measure_share"]:
                after = both[both.index >= p["measure_start"]]
                hdd = np.maximum(0.0, p["balance_point"] - after["x"])
                # with the old balance point and base, the new slope is (1 - share) x slope
                new = ((after["y"] - p["base_load"]) * hdd).sum() / (hdd * hdd).sum()
                assert new == pytest.approx(p["heating_slope"] * (1 - p["measure_share"]), rel=0.07)


def test_a_cold_snap_raises_heat_and_gas_but_not_water_or_electricity(world):
    events = world.weather_events
    snap = events[(events["kind"] == "cold_snap") & (events["start"] > T0)].iloc[0]
    org = snap["organization_id"]
    core = (snap["start"] + pd.Timedelta("3D"), snap["end"] - pd.Timedelta("3D"))
    weeks_before = (snap["start"] - pd.Timedelta("21D"), snap["start"] - pd.Timedelta("7D"))
    devs = world.devices[world.devices["organization_id"] == org]
    others = []
    for dev, d in devs.iterrows():
        daily = register_daily(world, dev)
        ratio = daily[core[0] : core[1]].mean() / daily[weeks_before[0] : weeks_before[1]].mean()
        if d["meter_type"] in ("heat", "gas"):
            assert ratio > 1.1, (dev, ratio)
        else:
            others.append(ratio)
    # water and electricity keep their fixed rate shape: only noise (and register steps)
    assert abs(np.median(others) - 1) < 0.1, others
