"""Acceptance findings on the analysis helpers, each pinned by a regression test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import waltero_frames as wf

TS = pd.DatetimeIndex(
    ["2026-01-01T00:00Z", "2026-01-01T01:00Z", "2026-01-01T02:00Z"], name="timestamp"
)


def _readings(raw=(99990.0, 99995.0, 3.0)):
    # a 5-digit register wrapping: 99995 -> 3 is a rollover of 8 units
    return pd.DataFrame({"device_id": "m1", "meter.value.raw": list(raw)}, index=TS)


def test_consumption_hand_computed_with_valid_parameters():
    out = wf.readings_to_consumption(_readings(), multiplier=0.1, register_digits=5)
    assert np.isnan(out["consumption"].iloc[0])
    np.testing.assert_allclose(out["consumption"].iloc[1:], [0.5, 0.8])
    assert out["rollover"].tolist() == [False, False, True]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"multiplier": -0.1, "register_digits": 5}, r"multiplier=-0.1 for device 'm1'"),
        ({"multiplier": 0, "register_digits": 5}, r"multiplier=0.0 .*positive"),
        ({"multiplier": {"m1": -1}, "register_digits": 5}, r"multiplier=-1.0"),
        ({"multiplier": 0.1, "register_digits": -3}, r"register_digits=-3.0 .*1 to 18"),
        ({"multiplier": 0.1, "register_digits": 0}, r"register_digits=0.0"),
        ({"multiplier": 0.1, "register_digits": 2.5}, r"register_digits=2.5"),
        ({"multiplier": 0.1, "register_digits": 40}, r"register_digits=40.0"),  # int64 overflow
    ],
)
def test_impossible_device_parameters_are_refused(kwargs, match):
    # were accepted: a negative multiplier gave negative consumption, 2.5 digits were
    # truncated to 2, 40 digits overflowed int64, -3 raised numpy's own message
    with pytest.raises(ValueError, match=match):
        wf.readings_to_consumption(_readings(), **kwargs)


def test_impossible_multiplier_column_is_refused():
    frame = _readings().assign(multiplier=0.0)
    with pytest.raises(ValueError, match=r"multiplier=0.0 for device 'm1'"):
        wf.readings_to_consumption(frame, register_digits=5)


def test_flag_anomalies_refuses_a_frame_without_readings():
    # a readings_to_consumption frame has rollover/negative columns but no register:
    # every flag came back False, overwriting the frame's own True rollover
    cons = wf.readings_to_consumption(_readings(), multiplier=0.1, register_digits=5)
    assert cons["rollover"].any()
    with pytest.raises(ValueError, match=r"meter.value.raw.*wf.telemetry frame"):
        wf.flag_anomalies(cons)
    # battery-only telemetry is still flagged
    volts = pd.DataFrame({"device_id": "m1", "battery.voltage": [3.6, 2.0, 2.0]}, index=TS)
    assert wf.flag_anomalies(volts)["low_battery"].tolist() == [False, True, True]


def test_org_changelog_on_a_device_subset_says_what_to_do():
    # wf.apply_changes(readings, wf.changes(client, org, since)) on a frame of some of the
    # org's devices failed with only "pass multiplier="
    readings = _readings().assign(value=lambda f: f["meter.value.raw"] * 0.1)
    at = pd.DatetimeIndex(["2026-02-01T00:00Z"], name="changed_at")
    log = pd.DataFrame(
        {
            "change_id": ["chg_1"],
            "device_id": ["other"],
            "field": ["meter.value.raw"],
            "timestamp": pd.to_datetime(["2026-01-01T01:00Z"]),
            "previous_value": [5.0],
            "new_value": [6.0],
            "actor": ["user"],
        },
        index=at,
    )
    with pytest.raises(
        ValueError, match=r"not in readings at all.*isin\(readings\['device_id'\]\)"
    ):
        wf.apply_changes(readings, log)
    mine = log[log["device_id"].isin(readings["device_id"])]
    pd.testing.assert_frame_equal(wf.apply_changes(readings, mine), readings)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"spike_factor": "x"}, r"spike_factor='x': expected a number > 0"),  # numpy error
        ({"spike_factor": -1}, r"spike_factor=-1"),  # silently flagged every step
        ({"night_start": 25}, r"night_start=25: expected a whole number in \[0, 23\]"),
        ({"night_start": 1.5}, r"night_start=1.5"),
        ({"gap_factor": None}, r"gap_factor=None"),
        ({"stuck_hours": {"gas": "x"}}, r"stuck_hours\['gas'\]='x'"),
        ({"stuck_hours": {"electric": 2}}, r"unknown meter type\(s\) \['electric'\]"),
        ({"night_nights": 0}, r"night_nights=0"),
        ({"night_start": 4, "night_end": 2}, r"night_end=2 must be after night_start=4"),
        ({"low_battery_v": "3.0"}, r"low_battery_v='3.0'"),
    ],
)
def test_bad_thresholds_name_themselves(kwargs, match):
    with pytest.raises(ValueError, match=match):
        wf.flag_anomalies(_readings(), multiplier=0.1, register_digits=5, **kwargs)


def test_good_thresholds_still_apply():
    r = _readings()
    flags = wf.flag_anomalies(r, multiplier=0.1, register_digits=5, stuck_hours=12, night_end=6)
    assert flags.attrs["thresholds"]["stuck_hours"]["gas"] == 12.0
    assert flags.attrs["thresholds"]["night_end"] == 6
    assert flags["rollover"].tolist() == [False, False, True]


@pytest.mark.parametrize("max_gap", [7200, 0, "-1h", "0s", "abc", True])
def test_max_gap_must_be_a_positive_duration(max_gap):
    # 7200 was read as 7200 ns: every interval "uncovered", coverage silently 0
    cons = wf.readings_to_consumption(_readings(), multiplier=0.1, register_digits=5)
    with pytest.raises(ValueError, match=r"max_gap=.*positive duration"):
        wf.resample_consumption(cons, "h", max_gap=max_gap)
    with pytest.raises(ValueError, match=r"max_gap="):
        wf.resample_consumption(cons.iloc[:0], "h", max_gap=max_gap)


def test_max_gap_as_duration_hand_computed():
    # readings at 00:00, 01:00, 02:00: with max_gap 30 min no interval is covered,
    # with 2 h the hours 00 and 01 are fully covered and hour 02 holds only the last reading
    cons = wf.readings_to_consumption(_readings(), multiplier=0.1, register_digits=5)
    tight = wf.resample_consumption(cons, "h", max_gap="30min")
    loose = wf.resample_consumption(cons, "h", max_gap=pd.Timedelta(hours=2))
    assert tight["coverage"].tolist() == [0.0, 0.0, 0.0]
    assert loose["coverage"].tolist() == [1.0, 1.0, 0.0]
