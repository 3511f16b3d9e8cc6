"""Fetch → helpers with no extra arguments: telemetry carries what the helpers need.

`wf.telemetry` keeps each device's meter type, unit, multiplier and register size in
``attrs["devices"]``, so `readings_to_consumption` and `flag_anomalies` find them there.
Numbers are checked against the simulator's Part 1 answer (ground truth).
"""

import numpy as np
import pandas as pd

import waltero_frames as wf

ORG = "00000000-0000-0000-0000-000000000001"
ROLLOVER_DEVICE = "11111111-1111-1111-1111-111111111113"  # 5-digit register, wraps 2026-03-05
GUIDE_DEVICE = "11111111-1111-1111-1111-111111111101"


def test_helpers_need_no_arguments_after_telemetry(waltero_sim, make_client):
    client = make_client()
    devs = [GUIDE_DEVICE, ROLLOVER_DEVICE]
    readings = wf.telemetry(client, devs, "2026-03-03", "2026-03-08")
    info = readings.attrs["devices"]
    truth = waltero_sim.world.devices.loc[devs]
    assert info["meter_type"].tolist() == truth["meter_type"].tolist()
    assert info["multiplier"].tolist() == truth["multiplier"].astype(float).tolist()
    assert info["register_digits"].tolist() == truth["register_digits"].astype(float).tolist()

    cons = wf.readings_to_consumption(readings)
    assert cons["rollover"].sum() == 1
    assert cons.loc[cons["rollover"], "device_id"].tolist() == [ROLLOVER_DEVICE]
    days = wf.resample_consumption(cons, "D")
    part1 = wf.daily_consumption(client, ORG, "2026-03-03", "2026-03-08")
    part1 = part1[part1["device_id"].isin(devs)]
    # the first UTC day lacks the delta from the reading before the range: compare the rest
    got = days.reset_index().set_index(["period_start", "device_id"])["consumption"]
    want = part1.reset_index().set_index(["period_start", "device_id"])["consumption"]
    common = want.index[want.index.get_level_values(0) > pd.Timestamp("2026-03-03", tz="UTC")]
    np.testing.assert_allclose(got.loc[common].to_numpy(), want.loc[common].to_numpy(), rtol=1e-9)

    flags = wf.flag_anomalies(readings)
    explicit = wf.flag_anomalies(
        readings,
        meter_type=truth["meter_type"],
        multiplier=truth["multiplier"],
        register_digits=truth["register_digits"],
    )
    pd.testing.assert_frame_equal(flags, explicit)
    assert flags.loc[flags["device_id"] == ROLLOVER_DEVICE, "rollover"].sum() == 1


def test_device_info_comes_from_a_details_frame_without_detail_calls(waltero_sim, make_client):
    client = make_client()
    fleet = wf.devices(client, ORG, details=True)
    detail_calls = sum(r["route"] == "device" and r["status"] == 200 for r in waltero_sim.log)
    assert detail_calls == len(fleet)  # wf.devices(details=True) itself
    devices = fleet.iloc[:3]
    readings = wf.telemetry(client, devices, "2026-05-18", "2026-05-19")
    assert (
        sum(r["route"] == "device" and r["status"] == 200 for r in waltero_sim.log) == detail_calls
    )
    info = readings.attrs["devices"]
    assert list(info.index) == list(devices.index)
    assert info["unit"].tolist() == devices["unit"].tolist()
    # frames whose attrs hold the device table still concatenate
    assert len(pd.concat([readings, readings.copy()])) == 2 * len(readings)
