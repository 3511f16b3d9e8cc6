"""The explorer: its plain compute functions, then the widget's callbacks driven by .value."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from waltero_frames import explorer


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def device_frame():
    return pd.DataFrame(
        {
            "name": ["Kitchen cold water", "", "Boiler gas"],
            "external_id": ["WS-0000731", "WS-0000732", "GS-01"],
            "serial_number": ["ZR-88172", "ZR-88190", "GX-1"],
            "meter_type": ["water_cold", "water_hot", "gas"],
            "unit": ["m3", "m3", "m3"],
            "multiplier": [0.001, 0.001, 0.01],
            "register_digits": [8, 8, 6],
            "variant": ["W-Sensor v2", "W-Sensor v1", "W-Sensor v2"],
        },
        index=pd.Index(["d1", "d2", "d3"], name="device_id"),
    )


def test_search_devices_by_name_serial_or_external_id():
    devs = device_frame()
    assert list(explorer.search_devices(devs, "").index) == ["d1", "d2", "d3"]
    assert list(explorer.search_devices(devs, None).index) == ["d1", "d2", "d3"]
    assert list(explorer.search_devices(devs, "kitchen").index) == ["d1"]
    assert list(explorer.search_devices(devs, "zr-88").index) == ["d1", "d2"]
    assert list(explorer.search_devices(devs, "ws-0000732").index) == ["d2"]
    assert list(explorer.search_devices(devs, "ZR cold").index) == ["d1"]  # all words
    assert list(explorer.search_devices(devs, "d3").index) == ["d3"]  # the id itself
    assert explorer.search_devices(devs, "nothing-like-this").empty
    assert list(explorer.search_devices(devs, "(").index) == []  # not a regex


def test_device_options_fall_back_to_external_id():
    assert explorer.device_options(device_frame()) == [
        ("Kitchen cold water · ZR-88172 · water_cold", "d1"),
        ("WS-0000732 · ZR-88190 · water_hot", "d2"),
        ("Boiler gas · GX-1 · gas", "d3"),
    ]


def test_local_range_covers_whole_local_days_dst_included():
    lo, hi = explorer.local_range("2026-03-29", "2026-03-29", "Europe/Berlin")
    assert (lo, hi) == (pd.Timestamp("2026-03-28T23:00Z"), pd.Timestamp("2026-03-29T22:00Z"))
    assert hi - lo == pd.Timedelta(hours=23)
    lo, hi = explorer.local_range("2026-10-25", "2026-10-25", "Europe/Berlin")
    assert hi - lo == pd.Timedelta(hours=25)
    lo, hi = explorer.local_range("2026-05-18", "2026-05-24", "UTC")
    assert (lo, hi) == (pd.Timestamp("2026-05-18T00:00Z"), pd.Timestamp("2026-05-25T00:00Z"))


@pytest.mark.parametrize(
    ("start", "end", "tz", "message"),
    [
        ("2026-05-20", "2026-05-19", "UTC", "end date 2026-05-19 is before start date 2026-05-20"),
        ("2025-01-01", "2026-05-19", "UTC", "range of 504 days is longer than 366"),
        ("2026-05-18", "2026-05-19", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("yesterday-ish", "2026-05-19", "UTC", "unparsable date"),
        (None, "2026-05-19", "UTC", "pick both a start and an end date"),
    ],
)
def test_local_range_rejects_bad_input(start, end, tz, message):
    with pytest.raises(ValueError, match=message):
        explorer.local_range(start, end, tz)


def periods_frame():
    idx = pd.DatetimeIndex(
        ["2026-05-17T22:00Z", "2026-05-18T22:00Z", "2026-05-17T22:00Z", "2026-05-18T22:00Z"],
        name="period_start",
    )
    return pd.DataFrame(
        {
            "device_id": ["d1", "d1", "d3", "d3"],
            "consumption": [0.25, 0.5, 1.0, np.nan],
            "n_readings": [96, 40, 24, 0],
            "coverage": [1.0, 0.4166667, 1.0, 0.0],
        },
        index=idx,
    )


def test_summary_table_rows_and_totals():
    table = explorer.summary_table(periods_frame(), device_frame(), tz="Europe/Berlin")
    assert list(table.columns) == [
        "device",
        "period",
        "consumption",
        "unit",
        "n_readings",
        "coverage",
    ]
    assert table["period"].tolist()[:4] == [
        "2026-05-18 00:00",
        "2026-05-19 00:00",
        "2026-05-18 00:00",
        "2026-05-19 00:00",
    ]
    totals = table[table["period"] == "total"].set_index("device")
    kitchen = "Kitchen cold water · ZR-88172 · water_cold"
    assert totals.loc[kitchen, "consumption"] == 0.75
    assert totals.loc[kitchen, "n_readings"] == 136
    assert totals.loc[kitchen, "coverage"] == pytest.approx(0.708, abs=1e-3)
    assert totals.loc["Boiler gas · GX-1 · gas", "consumption"] == 1.0
    assert (table["unit"] == "m3").all()


def test_plot_periods_bars_with_units_and_low_coverage_hatched():
    ax = explorer.plot_periods(
        periods_frame(), device_frame(), resolution="day", tz="Europe/Berlin"
    )
    assert len(ax.patches) == 4
    assert [p.get_hatch() for p in ax.patches] == [None, "//", None, "//"]
    assert ax.get_ylabel() == "consumption per day [m3]"
    assert ax.get_xlabel() == "day starting (Europe/Berlin)"
    assert len(ax.get_legend().get_texts()) == 2
    mixed = device_frame()
    mixed.loc["d3", "unit"] = "kWh"
    with pytest.raises(ValueError, match=r"different units \['kWh', 'm3'\]"):
        explorer.plot_periods(periods_frame(), mixed, resolution="day", tz="UTC")


def register_readings():
    # d1: 15-minute readings, +10 raw (0.01 m3) each, across the spring DST change.
    idx = pd.date_range("2026-03-27T23:00Z", "2026-03-30T22:00Z", freq="15min", name="timestamp")
    raw = 1000 + 10 * np.arange(len(idx))
    return pd.DataFrame(
        {
            "device_id": "d1",
            "meter.value.raw": raw.astype(float),
            "meter.value.processed": raw * 0.001,
            "value": raw * 0.001,
        },
        index=idx,
    )


def test_consumption_per_period_local_days_both_methods():
    lo, hi = explorer.local_range("2026-03-28", "2026-03-30", "Europe/Berlin")
    args = dict(resolution="day", tz="Europe/Berlin", start=lo, end=hi)
    inter = explorer.consumption_per_period(register_readings(), device_frame(), **args)
    assert list(inter.index) == list(
        pd.DatetimeIndex(["2026-03-27T23:00Z", "2026-03-28T23:00Z", "2026-03-29T22:00Z"])
    )
    # 96, 92 (the 23-hour day) and 96 quarter hours of 0.01 m3
    np.testing.assert_allclose(inter["consumption"], [0.96, 0.92, 0.96])
    attr = explorer.consumption_per_period(
        register_readings(), device_frame(), method="attribute", **args
    )
    # attribute: the very first reading has no delta, so the first day misses one
    np.testing.assert_allclose(attr["consumption"], [0.95, 0.92, 0.96])
    hourly = explorer.consumption_per_period(
        register_readings(), device_frame(), resolution="hour", tz="Europe/Berlin", start=lo, end=hi
    )
    assert len(hourly) == 24 + 23 + 24
    np.testing.assert_allclose(hourly["consumption"], 0.04)
    with pytest.raises(ValueError, match="unknown resolution 'fortnight'"):
        explorer.consumption_per_period(
            register_readings(), device_frame(), resolution="fortnight", tz="UTC"
        )
