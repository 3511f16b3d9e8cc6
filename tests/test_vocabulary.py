"""One vocabulary in the public API: the tz default, the period names, device labels."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import waltero_frames as wf
from waltero_frames.analysis import Period, check_period
from waltero_frames.notebook import explorer
from waltero_frames.sim import DEMO_ORG
from waltero_frames.timeargs import PERIOD_ALIASES, PERIODS, frame_tz

SOUTH_ORG = "00000000-0000-0000-0000-000000000002"


def hourly_consumption(start: str, end: str, tz: str | None) -> pd.DataFrame:
    """One unit per hourly reading of one meter (NaN on the first), attrs["tz"] = tz."""
    idx = pd.date_range(start, end, freq="h", tz="UTC", name="timestamp")
    values = np.ones(len(idx))
    values[0] = np.nan
    frame = pd.DataFrame(
        {"device_id": pd.array(["m1"] * len(idx), dtype="str"), "consumption": values}, index=idx
    )
    if tz is not None:
        frame.attrs["tz"] = tz
    return frame


# ---------------------------------------------------------------- tz: one rule
def test_frame_tz_explicit_wins_then_attrs_then_utc():
    berlin = pd.DataFrame()
    berlin.attrs["tz"] = "Europe/Berlin"
    assert frame_tz(berlin) == "Europe/Berlin"
    assert frame_tz(berlin, "Australia/Sydney") == "Australia/Sydney"
    assert frame_tz(pd.DataFrame()) == "UTC"
    assert frame_tz(None) == "UTC"
    zone = dt.timezone(dt.timedelta(hours=2))
    assert frame_tz(berlin, zone) is zone
    with pytest.raises(ValueError, match="Mars/Olympus"):
        frame_tz(berlin, "Mars/Olympus")
    bad = pd.DataFrame()
    bad.attrs["tz"] = "Mars/Olympus"
    with pytest.raises(ValueError, match="Mars/Olympus"):
        frame_tz(bad)


@pytest.mark.parametrize(
    ("day", "utc_start", "hours"),
    [("2026-03-29", "2026-03-28T23:00Z", 23), ("2026-10-25", "2026-10-24T22:00Z", 25)],
)
def test_resample_defaults_to_the_frames_zone(day, utc_start, hours):
    """Defect 1: a Berlin frame resampled without tz= made UTC days and wrote tz='UTC'."""
    start = pd.Timestamp(utc_start)
    cons = hourly_consumption(
        start - pd.Timedelta("2D"), start + pd.Timedelta("3D"), "Europe/Berlin"
    )
    days = wf.resample_consumption(cons, "D")
    assert days.attrs["tz"] == "Europe/Berlin" and days.attrs["freq"] == "day"
    # hand computation: one unit per hourly reading, so a local day holds its length in hours
    got = days.loc[start]
    assert got["consumption"] == hours and got["n_readings"] == hours
    nxt = days.index[days.index.get_loc(start) + 1]
    assert (nxt - start) == pd.Timedelta(hours=hours)
    local = days.index.tz_convert("Europe/Berlin")
    assert (local == local.normalize()).all()  # every period starts at a Berlin midnight
    # an explicit zone wins: UTC days of 24 readings
    utc = wf.resample_consumption(cons, "D", tz="UTC")
    assert utc.attrs["tz"] == "UTC" and (utc.index == utc.index.normalize()).all()
    assert utc.loc[pd.Timestamp(day, tz="UTC"), "consumption"] == 24
    # the same frame without attrs: UTC, as before
    plain = hourly_consumption(start - pd.Timedelta("2D"), start + pd.Timedelta("3D"), None)
    pd.testing.assert_frame_equal(wf.resample_consumption(plain, "D"), utc, check_freq=False)


def test_empty_resample_keeps_dtypes_and_records_the_zone():
    empty = wf.resample_consumption(
        hourly_consumption("2026-01-01", "2026-01-02", "Europe/Berlin").iloc[:0]
    )
    assert empty.attrs["tz"] == "Europe/Berlin" and len(empty) == 0
    assert empty.dtypes.astype(str).to_dict() == {
        "device_id": "str", "consumption": "float64", "n_readings": "int64", "coverage": "float64",
    }  # fmt: skip


def test_telemetry_zone_travels_through_consumption_to_periods(client):
    """readings_to_consumption keeps telemetry's attrs['tz']; the periods are then local."""
    devs = wf.devices(client, DEMO_ORG, details=True)
    meter = devs.index[devs["meter_type"] == "electricity"][0]
    readings = wf.telemetry(
        client, devs.loc[[meter]], "2026-03-27", "2026-03-31", tz="Europe/Berlin"
    )
    assert readings.attrs["tz"] == "Europe/Berlin"
    cons = wf.readings_to_consumption(readings)
    assert cons.attrs["tz"] == "Europe/Berlin"
    days = wf.resample_consumption(cons, "day")
    explicit = wf.resample_consumption(cons, "day", tz="Europe/Berlin")
    pd.testing.assert_frame_equal(days, explicit)
    starts = days.index.tz_convert("Europe/Berlin")
    assert (starts == starts.normalize()).all()
    # 2026-03-29 is the 23-hour Berlin day: its period ends 23 h after it starts
    spring = pd.Timestamp("2026-03-28T23:00Z")
    assert days.index[days.index.get_loc(spring) + 1] - spring == pd.Timedelta(hours=23)


def test_plots_and_explorer_default_to_the_frames_zone():
    cons = hourly_consumption("2026-10-20", "2026-10-30", "Europe/Berlin")
    pd.testing.assert_frame_equal(
        wf.plots.carpet_matrix(cons), wf.plots.carpet_matrix(cons, tz="Europe/Berlin")
    )
    grid = wf.plots.carpet_matrix(cons)
    # the fall-back day: its repeated 02:00 hour holds two readings
    assert grid.loc[pd.Timestamp("2026-10-25"), 2] == 2
    assert not grid.equals(wf.plots.carpet_matrix(cons, tz="UTC"))
    days = wf.resample_consumption(cons, "day")
    devs = pd.DataFrame({"name": ["Meter one"]}, index=pd.Index(["m1"], name="device_id"))
    table = explorer.summary_table(days, devs)
    assert table.equals(explorer.summary_table(days, devs, tz="Europe/Berlin"))
    assert table["period"].iloc[0] == "2026-10-20 00:00"  # a Berlin midnight, as text
    assert table["device"].iloc[0] == "Meter one"
    ax = wf.plots.daily_bars(days, devices=["m1"])
    assert "Europe/Berlin" in ax.get_xlabel()
    ax = wf.plots.completeness(days)
    assert "Europe/Berlin" in ax.get_xlabel()


# ---------------------------------------------------------------- periods: one set of names
def test_period_names_and_aliases():
    assert PERIODS == ("hour", "day", "week", "month", "year")
    assert set(PERIOD_ALIASES) == {"h", "D", "W", "MS", "YS"}
    for name in PERIODS:
        assert check_period(name) == name
    assert [check_period(a) for a in ("h", "D", "W", "MS", "YS")] == list(PERIODS)
    for bad in ("fortnight", "M", "Day", "", None, 7):
        with pytest.raises(ValueError, match=r"freq=.*is not a period: use one of 'hour'"):
            check_period(bad, "freq")
    assert Period.__args__ == PERIODS  # the Literal is the list of names


def test_resample_takes_names_and_aliases_alike():
    cons = hourly_consumption("2026-01-01", "2026-03-05", "Europe/Berlin")
    for name, alias in (
        ("hour", "h"),
        ("day", "D"),
        ("week", "W"),
        ("month", "MS"),
        ("year", "YS"),
    ):
        by_name = wf.resample_consumption(cons, name)
        pd.testing.assert_frame_equal(by_name, wf.resample_consumption(cons, alias))
        assert by_name.attrs["freq"] == name
    with pytest.raises(ValueError, match="'fortnight'"):
        wf.resample_consumption(cons, "fortnight")


def test_daily_consumption_takes_period_names_and_aliases(client):
    args = (client, DEMO_ORG, "2026-05-18T00:00Z", "2026-06-01T00:00Z")
    week = wf.daily_consumption(*args, "week")
    alias = wf.daily_consumption(*args, "W")
    pd.testing.assert_frame_equal(week.reset_index(), alias.reset_index())
    with pytest.raises(ValueError, match="'hour'.*Part 1"):
        wf.daily_consumption(*args, "hour")
    with pytest.raises(ValueError, match="'fortnight'"):
        wf.daily_consumption(*args, "fortnight")


def test_explorer_resolutions_are_period_names():
    assert explorer.RESOLUTIONS == ("hour", "day", "week", "month")
    assert explorer.check_resolution("D") == "day"
    with pytest.raises(ValueError, match="'year'"):
        explorer.check_resolution("year")
    lo, hi = explorer.local_range("2026-05-18", "2026-05-24", "Europe/Berlin")
    assert explorer.period_range(lo, hi, "MS", "Europe/Berlin") == explorer.period_range(
        lo, hi, "month", "Europe/Berlin"
    )


# ---------------------------------------------------------------- device labels
def test_devices_have_a_display_label(client):
    """name, else external id, else serial number; '' counts as missing."""
    demo = wf.devices(client, DEMO_ORG)
    assert demo.columns[-1] == "label" and str(demo["label"].dtype) == "str"
    assert demo["label"].notna().all()
    empty_name = "11111111-1111-1111-1111-111111111127"  # name '' and external id ''
    assert demo.loc[empty_name, "name"] == "" and demo.loc[empty_name, "label"] == "ZR-10027"
    ext = "11111111-1111-1111-1111-111111111119"  # name '', external id WS-1000019
    assert demo.loc[ext, "label"] == "WS-1000019"
    named = demo["name"].fillna("") != ""
    assert (demo.loc[named, "label"] == demo.loc[named, "name"]).all()
    south = wf.devices(client, SOUTH_ORG, details=True)
    none = "22222222-2222-2222-2222-222222222207"  # no name, no external id
    assert pd.isna(south.loc[none, "name"]) and south.loc[none, "label"] == "ZR-20007"
    assert south.columns[-1] == "label"


def test_empty_device_frames_keep_their_dtypes():
    from waltero_frames.api import parse

    for details in (False, True):
        empty = parse.parse_devices([], details=details)
        assert list(empty.columns)[-1] == "label"
        assert str(empty["label"].dtype) == "str" and str(empty["name"].dtype) == "str"
    labels = parse.device_labels(pd.DataFrame(index=pd.Index(["d1"], name="device_id")))
    assert labels.tolist() == ["d1"]  # nothing else: the id


def test_pickers_and_plots_use_the_label():
    devs = pd.DataFrame(
        {
            "name": ["", None],
            "external_id": ["", "E2"],
            "serial_number": ["S1", "S2"],
            "meter_type": ["heat", "heat"],
        },
        index=pd.Index(["d1", "d2"], name="device_id"),
    )
    assert explorer.device_options(devs) == [("S1 · S1 · heat", "d1"), ("E2 · S2 · heat", "d2")]
