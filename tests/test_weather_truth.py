"""Baselines against the simulator's ground truth (issue 12's correctness criteria).

The heat and gas meters of the demo organization respond to the site's outdoor
temperature through known per-device parameters (``World.heating_truth``): local-day
consumption = base load + slope × max(0, balance point − T) with multiplicative noise.
The weather comes over HTTP from the simulator's archive route; the daily consumption is
the organization's local days built from the World's telemetry (the frames the API serves)
with the package's own readings_to_consumption and resample_consumption.
"""

from __future__ import annotations

import pandas as pd
import pytest

import waltero_frames as wf
from waltero_frames._attrs import for_attrs
from waltero_frames.sim import DEMO_ORG

START, END = "2024-09-01", "2026-12-01"


@pytest.fixture(scope="module")
def demo(waltero_sim_server):
    world = waltero_sim_server.world
    tz = world.orgs.loc[DEMO_ORG, "timezone"]
    site = world.sites.loc[DEMO_ORG]
    temperature = wf.temperature(
        site.latitude, site.longitude, START, END, base_url=waltero_sim_server.root_url, tz=tz
    )
    devices = world.devices[world.devices["organization_id"] == DEMO_ORG]
    readings = world.telemetry_truth(
        list(devices.index), pd.Timestamp(START, tz=tz), pd.Timestamp(END, tz=tz)
    )
    readings.attrs["tz"] = tz
    info = ["meter_type", "unit", "multiplier", "register_digits"]
    readings.attrs["devices"] = for_attrs(devices[info])  # as wf.telemetry records them
    consumption = wf.readings_to_consumption(readings)
    daily = wf.resample_consumption(consumption, "D", tz=tz)
    return world, devices, temperature, daily


def weather_meters(world, devices, daily):
    truth = world.heating_truth
    truth = truth[truth["organization_id"] == DEMO_ORG]
    days = daily[daily["coverage"] >= 0.8].groupby("device_id").size()
    return truth[truth.index.isin(days[days >= 270].index)]


def test_heat_and_gas_baselines_recover_the_truth(demo):
    world, devices, temperature, daily = demo
    truth = weather_meters(world, devices, daily)
    assert len(truth) >= 10
    measured = truth.index[truth["measure_share"] > 0]  # its baseline: before the measure
    before = daily.index < truth["measure_start"].min()
    models = wf.fit_baseline(daily[before | ~daily["device_id"].isin(measured)], temperature)
    got = models.loc[truth.index]
    assert got["valid"].all(), got.loc[~got["valid"], "reason"].to_dict()
    assert (got["model"] == "heating").all(), got["model"].to_dict()
    assert ((got["heating_balance_point"] - truth["balance_point"]).abs() <= 1.0).all()
    assert ((got["heating_slope"] / truth["heating_slope"] - 1).abs() <= 0.05).all()
    assert ((got["base_load"] / truth["base_load"] - 1).abs() <= 0.05).all()


def test_electricity_and_water_get_no_accepted_weather_term(demo):
    world, devices, temperature, daily = demo
    other = devices[devices["meter_type"].isin(["electricity", "water_cold", "water_hot"])]
    models = wf.fit_baseline(daily[daily["device_id"].isin(other.index)], temperature)
    weather_term = models["model"] != "intercept"
    assert (~weather_term | ~models["valid"]).all(), models.loc[weather_term, "reason"]


def test_cusum_turns_at_the_efficiency_measure(demo):
    world, devices, temperature, daily = demo
    truth = world.heating_truth
    measured = truth[truth["measure_share"] > 0]
    assert len(measured) == 1
    dev, when = measured.index[0], measured["measure_start"].iloc[0]
    mine = daily[daily["device_id"] == dev]
    models = wf.fit_baseline(mine[mine.index < when], temperature)
    sums = wf.cusum(mine, wf.predict_baseline(models, temperature)).dropna(subset=["cusum"])
    # the baseline year's CUSUM stays within its noise envelope; the turn is the last day
    # the CUSUM is still inside it before leaving it for good (a decision interval)
    cusum = sums["cusum"]
    envelope = cusum[cusum.index < when].abs().max()
    inside = cusum[cusum >= -envelope]
    assert cusum.iloc[-1] < -10 * envelope  # it does leave: the measure saves
    turn = inside.index[-1]
    assert abs(turn - when) <= pd.Timedelta(days=7), (turn, when)
