"""Plot functions tested on hand-built frames in the public layouts (Agg backend)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from waltero_frames.notebook import plots

BERLIN = "Europe/Berlin"


def consumption_frame(index, values, device="dev-a"):
    frame = pd.DataFrame(
        {"device_id": device, "consumption": np.asarray(values, dtype=float)},
        index=pd.DatetimeIndex(index, name="timestamp"),
    )
    return frame


# ------------------------------------------------------------------ carpet


def test_carpet_matrix_handles_both_dst_days_in_berlin():
    # 1 unit per UTC hour across both 2026 DST changes in Europe/Berlin.
    idx = pd.date_range("2026-03-27T23:00Z", "2026-03-30T22:00Z", freq="h", inclusive="left")
    idx = idx.append(
        pd.date_range("2026-10-23T22:00Z", "2026-10-26T23:00Z", freq="h", inclusive="left")
    )
    grid = plots.carpet_matrix(consumption_frame(idx, np.ones(len(idx))), tz=BERLIN)
    spring = grid.loc[pd.Timestamp("2026-03-29")]
    assert np.isnan(spring[2])  # 02:00 does not exist that day
    assert spring.drop(2).eq(1.0).all()
    assert spring.sum() == 23.0
    autumn = grid.loc[pd.Timestamp("2026-10-25")]
    assert autumn[2] == 2.0  # 02:00 happens twice: both hours in the cell
    assert autumn.drop(2).eq(1.0).all()
    assert autumn.sum() == 25.0
    ordinary = grid.loc[pd.Timestamp("2026-03-28")]
    assert ordinary.eq(1.0).all()
    # every day between the two stretches is listed (empty rows are NaN)
    assert grid.index[0] == pd.Timestamp("2026-03-28")
    assert grid.index[-1] == pd.Timestamp("2026-10-26")
    assert len(grid) == (pd.Timestamp("2026-10-26") - pd.Timestamp("2026-03-28")).days + 1
    assert grid.loc[pd.Timestamp("2026-06-01")].isna().all()


def test_carpet_matrix_sums_readings_into_the_hour_of_their_timestamp():
    # 15-minute readings of 0.25 each: four readings per local hour.
    idx = pd.date_range("2026-05-18T22:00Z", periods=96, freq="15min")
    grid = plots.carpet_matrix(consumption_frame(idx, np.full(96, 0.25)), tz=BERLIN)
    assert list(grid.index) == [pd.Timestamp("2026-05-19")]
    assert grid.iloc[0].eq(1.0).all()
    # the same readings seen from UTC: two days, split at midnight UTC
    utc = plots.carpet_matrix(consumption_frame(idx, np.full(96, 0.25)), tz="UTC")
    assert list(utc.index) == [pd.Timestamp("2026-05-18"), pd.Timestamp("2026-05-19")]
    assert utc.loc[pd.Timestamp("2026-05-18")].sum() == 2.0
    assert utc.loc[pd.Timestamp("2026-05-19")].sum() == 22.0


def test_carpet_draws_one_masked_image_with_units_and_labels():
    idx = pd.date_range("2026-03-27T23:00Z", "2026-03-30T22:00Z", freq="h", inclusive="left")
    values = np.arange(len(idx), dtype=float)
    frame = pd.concat(
        [consumption_frame(idx, values, "dev-a"), consumption_frame(idx, values, "dev-b")]
    )
    ax = plots.carpet(frame, device="dev-b", tz=BERLIN, unit="kWh")
    assert len(ax.images) == 1
    arr = ax.images[0].get_array()
    assert arr.shape == (3, 24)
    assert arr.mask[1, 2] and not arr.mask[1, 3]  # the skipped spring hour
    assert arr[0, 0] == 0.0 and arr[0, 23] == 23.0
    assert ax.get_xlim() == (0.0, 24.0)
    assert ax.get_xlabel() == "hour of day (Europe/Berlin)"
    assert "Europe/Berlin" in ax.get_ylabel()
    colorbar = ax.figure.axes[-1]
    assert colorbar.get_ylabel() == "consumption per hour [kWh]"
    assert ax.get_title().startswith("Hourly consumption")


def test_carpet_refuses_mixed_units_and_unknown_devices():
    idx = pd.date_range("2026-01-01", periods=4, freq="h", tz="UTC")
    frame = pd.concat(
        [consumption_frame(idx, [1, 1, 1, 1], "a"), consumption_frame(idx, [1] * 4, "b")]
    )
    frame["unit"] = ["m3"] * 4 + ["kWh"] * 4
    with pytest.raises(ValueError, match=r"different units \['kWh', 'm3'\]"):
        plots.carpet(frame)
    with pytest.raises(ValueError, match="'zzz' is not in the frame"):
        plots.carpet(frame, device="zzz")
    with pytest.raises(ValueError, match="lacks column"):
        plots.carpet(frame.drop(columns="consumption"))
    naive = frame.copy()
    naive.index = naive.index.tz_localize(None)
    with pytest.raises(ValueError, match="tz-aware"):
        plots.carpet(naive)


# ------------------------------------------------------------------ daily bars


def daily_frame():
    days = pd.DatetimeIndex(
        ["2026-05-18", "2026-05-18", "2026-05-19", "2026-05-19", "2026-05-20"], tz="UTC"
    )
    return pd.DataFrame(
        {
            "device_id": ["a", "b", "a", "b", "a"],
            "device_name": ["Kitchen", "Bath", "Kitchen", "Bath", "Kitchen"],
            "serial_number": ["S1", "S2", "S1", "S2", "S1"],
            "consumption": [0.1, 2.0, 0.3, 1.0, 0.05],
            "partial": [True, True, False, False, True],
        },
        index=pd.Index(days, name="period_start"),
    )


def test_daily_bars_one_bar_per_row_partial_hatched():
    ax = plots.daily_bars(daily_frame(), unit="m3")
    assert len(ax.patches) == 5
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights == [0.05, 0.1, 0.3, 1.0, 2.0]
    assert sum(1 for p in ax.patches if p.get_hatch() == "//") == 3
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "2026-05-18",
        "2026-05-19",
        "2026-05-20",
    ]
    assert ax.get_ylabel() == "consumption [m3]"
    assert ax.get_xlabel() == "period start (UTC)"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["Bath", "Kitchen"]  # ordered by total, largest first


def test_daily_bars_top_and_units_from_devices_frame():
    devs = pd.DataFrame(
        {"name": ["Kitchen", "Bath"], "unit": ["m3", "kWh"]},
        index=pd.Index(["a", "b"], name="device_id"),
    )
    ax = plots.daily_bars(daily_frame(), top=1)
    assert len(ax.patches) == 2  # only "b", the larger meter
    ax = plots.daily_bars(daily_frame(), devices=devs.loc[["a"]])
    assert ax.get_ylabel() == "consumption [m3]"
    assert len(ax.patches) == 3
    with pytest.raises(ValueError, match="different units"):
        plots.daily_bars(daily_frame(), devices=devs)
    with pytest.raises(ValueError, match="top must be >= 1"):
        plots.daily_bars(daily_frame(), top=0)


def test_daily_bars_labels_local_days_of_a_resampled_frame():
    # local days in Berlin start at 22:00Z in summer; the labels are the local dates
    local = daily_frame()
    local.index = local.index - pd.Timedelta(hours=2)
    ax = plots.daily_bars(local, unit="m3", tz="Europe/Berlin")
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "2026-05-18",
        "2026-05-19",
        "2026-05-20",
    ]
    assert ax.get_xlabel() == "period start (Europe/Berlin)"
    ax = plots.daily_bars(local, unit="m3")  # seen from UTC they are not midnights
    assert ax.get_xticklabels()[0].get_text() == "05-17 22:00"


# ------------------------------------------------------------------ register


def register_frames():
    idx = pd.date_range("2026-05-19T00:00Z", periods=8, freq="h", name="timestamp")
    raw = np.array([1000, 1010, 1020, 9020, 1040, 1050, 1050, 1060], dtype=float)
    readings = pd.DataFrame(
        {
            "device_id": "a",
            "meter.value.raw": raw,
            "meter.value.processed": raw * 0.001,
            "value": raw * 0.001,
        },
        index=idx,
    )
    flags = readings.copy()
    for f in plots.FLAG_STYLES:
        flags[f] = False
    flags.iloc[3, flags.columns.get_loc("spike")] = True
    flags.iloc[4, flags.columns.get_loc("negative")] = True
    flags.iloc[5:7, flags.columns.get_loc("stuck")] = True
    changes = pd.DataFrame(
        {
            "change_id": ["c1", "c2", "c3"],
            "device_id": ["a", "a", "b"],
            "field": ["meter.value.raw", "meter.value.raw", "meter.value.raw"],
            "timestamp": pd.to_datetime(
                ["2026-05-19T03:00Z", "2026-06-30T00:00Z", "2026-05-19T03:00Z"], utc=True
            ),
            "previous_value": [9020.0, 5.0, 1.0],
            "new_value": [1030.0, 6.0, 2.0],
            "actor": ["user", "system", "user"],
        },
        index=pd.DatetimeIndex(["2026-05-25T09:00Z"] * 3, name="changed_at"),
    )
    return readings, flags, changes


def test_register_draws_line_flag_markers_and_corrections():
    readings, flags, changes = register_frames()
    ax = plots.register(readings, flags=flags, changes=changes, unit="m3")
    assert len(ax.lines) == 1
    np.testing.assert_allclose(ax.lines[0].get_ydata(), readings["value"].to_numpy())
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["register", "spike (1)", "negative (1)", "stuck (2)", "corrections (1)"]
    # the only in-range correction of device a: raw 9020 -> 1030, scaled by 0.001
    segments = [c for c in ax.collections if c.get_label().startswith("corrections")][0]
    (seg,) = segments.get_segments()
    np.testing.assert_allclose([seg[0][1], seg[1][1]], [9.02, 1.03])
    assert ax.get_ylabel() == "register [m3]"
    assert ax.get_xlabel() == "time (UTC)"


def test_register_prefers_processed_change_rows_and_needs_a_device():
    readings, _, changes = register_frames()
    processed = changes.iloc[[0]].copy()
    processed["field"] = "meter.value.processed"
    processed[["previous_value", "new_value"]] = [[9.02, 1.03]]
    ax = plots.register(readings, changes=pd.concat([changes, processed]))
    coll = [c for c in ax.collections if c.get_label().startswith("corrections")][0]
    np.testing.assert_allclose(coll.get_segments()[0][:, 1], [9.02, 1.03])
    assert ax.get_ylabel() == "register [display units]"
    two = pd.concat([readings, readings.assign(device_id="b")])
    with pytest.raises(ValueError, match="holds 2 devices"):
        plots.register(two)


# ------------------------------------------------------------------ completeness


def test_completeness_of_part1_frame_counts_dropped_rows_and_missing_devices():
    daily = daily_frame()
    daily.attrs.update(start="2026-05-17T22:00Z", end="2026-05-20T22:00Z")
    grid = plots.completeness_matrix(daily, devices=["a", "b", "c"])
    assert list(grid.index) == ["a", "b", "c"]
    assert list(grid.columns) == list(pd.date_range("2026-05-17", "2026-05-20", freq="D", tz="UTC"))
    expected = np.array([[0, 1, 1, 1], [0, 1, 1, 0], [0, 0, 0, 0]], dtype=float)
    np.testing.assert_array_equal(grid.to_numpy(), expected)
    ax = plots.completeness(daily, devices=["a", "b", "c"])
    np.testing.assert_array_equal(ax.images[0].get_array(), expected)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Kitchen", "Bath", "c"]
    assert ax.figure.axes[-1].get_ylabel() == "share of period with data [0–1]"
    assert "3 devices, 42% overall" in ax.get_title()


def test_completeness_uses_coverage_of_resampled_frames():
    periods = pd.DatetimeIndex(
        ["2026-03-27T23:00Z", "2026-03-28T23:00Z", "2026-03-27T23:00Z"], name="period_start"
    )
    resampled = pd.DataFrame(
        {
            "device_id": ["a", "a", "b"],
            "consumption": [1.0, np.nan, 2.0],
            "n_readings": [96, 0, 24],
            "coverage": [1.0, 0.0, 0.25],
        },
        index=periods,
    )
    grid = plots.completeness_matrix(resampled)
    assert list(grid.columns) == list(pd.DatetimeIndex(periods[:2]))
    np.testing.assert_array_equal(grid.to_numpy(), [[1.0, 0.0], [0.25, 0.0]])
    ax = plots.completeness(resampled, tz="Europe/Berlin")
    assert ax.get_xlabel() == "day (Europe/Berlin)"
    # the image starts at local midnight of 28 March and spans the two local days
    left, right, _, _ = ax.images[0].get_extent()
    assert matplotlib.dates.num2date(left).replace(tzinfo=None) == pd.Timestamp("2026-03-28")
    assert right - left == pytest.approx(2.0)


# ------------------------------------------------------------------ load duration


def test_load_duration_sorts_the_portfolio_sum():
    idx = pd.date_range("2026-01-05", periods=4, freq="h", tz="UTC", name="period_start")
    frame = pd.concat(
        [consumption_frame(idx, [1, 5, np.nan, 2], "a"), consumption_frame(idx, [1, 0, 3, 2], "b")]
    )
    ax = plots.load_duration(frame, unit="kWh")
    assert len(ax.lines) == 1
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [5.0, 4.0, 3.0, 2.0])
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [12.5, 37.5, 62.5, 87.5])
    assert ax.get_xlim() == (0.0, 100.0)
    assert ax.get_ylabel() == "consumption per hour [kWh]"
    assert ax.get_xlabel() == "share of time [%]"
    ax = plots.load_duration(frame, by_device=True, unit="kWh")
    assert len(ax.lines) == 2
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [5.0, 2.0, 1.0])  # NaN left out
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]


def test_load_duration_labels_the_interval():
    idx = pd.date_range("2026-01-05", periods=4, freq="15min", tz="UTC")
    ax = plots.load_duration(consumption_frame(idx, [1, 2, 3, 4]), unit="m3")
    assert ax.get_ylabel() == "consumption per 15 min [m3]"
    days = pd.date_range("2026-01-05", periods=3, freq="D", tz="UTC")
    ax = plots.load_duration(consumption_frame(days, [1, 2, 3]), unit="m3")
    assert ax.get_ylabel() == "consumption per day [m3]"


def test_every_plot_draws_an_empty_frame_with_its_labels():
    empty = consumption_frame(pd.DatetimeIndex([], tz="UTC"), [])
    cases = {
        "carpet": plots.carpet(empty, unit="kWh"),
        "daily_bars": plots.daily_bars(empty.assign(partial=False), unit="kWh"),
        "load_duration": plots.load_duration(empty, unit="kWh"),
        "completeness": plots.completeness(empty),
        "register": plots.register(empty.assign(value=1.0), unit="kWh"),
    }
    for name, ax in cases.items():
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel(), name
        assert not ax.images and not ax.patches, name
    assert "[kWh]" in cases["register"].get_ylabel()


def test_completeness_of_the_guide_week_matches_the_injected_gap(waltero_sim):
    """Part 1 for the guide's week through the client: the one device-day without readings
    is the simulator's injected gap (ground truth), every other cell is full."""
    import waltero_frames as wf

    org = "00000000-0000-0000-0000-000000000001"
    client = wf.Client(
        waltero_sim.base_url, waltero_sim.username, waltero_sim.password, progress=False
    )
    daily = wf.daily_consumption(client, org, "2026-05-18T22:00Z", "2026-05-25T22:00Z")
    world = waltero_sim.world
    devices = world.devices.index[world.devices["organization_id"] == org]
    grid = plots.completeness_matrix(daily, devices=list(devices))
    assert grid.shape == (len(devices), 8)  # 8 UTC days, the first and last partial
    days = grid.columns
    expected = pd.DataFrame(1.0, index=grid.index, columns=days)
    gaps = world.anomalies[
        (world.anomalies["kind"] == "gap") & world.anomalies["device_id"].isin(devices)
    ]
    for gap in gaps.itertuples():
        # a UTC day with no reading at all: [day, day + 1) inside the gap's hole
        hole_start, hole_end = pd.Timestamp(gap.start), pd.Timestamp(gap.end)
        for day in days:
            if day > hole_start and day + pd.Timedelta("1D") <= hole_end:
                expected.loc[gap.device_id, day] = 0.0
    assert (expected == 0).to_numpy().sum() == 1  # the 31 h gap of the main water inlet
    pd.testing.assert_frame_equal(grid, expected, check_names=False, check_freq=False)


# ------------------------------------------------------------------ input layouts


@pytest.mark.parametrize(
    ("plot", "expects"),
    [
        (plots.completeness, "completeness() needs a daily_consumption or resample_consumption"),
        (plots.completeness_matrix, "completeness() needs a daily_consumption or resample_"),
        (plots.daily_bars, "daily_bars() needs a daily_consumption or resample_consumption"),
        (plots.carpet, "carpet() needs a readings_to_consumption or resample_consumption"),
        (plots.carpet_matrix, "carpet_matrix() needs a readings_to_consumption or resample_"),
        (plots.load_duration, "load_duration() needs a readings_to_consumption or resample_"),
    ],
)
def test_consumption_plots_name_the_frame_they_need_when_given_telemetry(plot, expects):
    readings, _, _ = register_frames()  # a telemetry frame: value, no consumption
    with pytest.raises(ValueError) as err:
        plot(readings)
    message = str(err.value)
    assert message.startswith(expects)
    assert "with columns ['device_id', 'consumption']" in message
    assert f"got columns {list(readings.columns)}" in message
    assert "lacks column(s) ['consumption']" in message
    assert plt.get_fignums() == []  # refused before drawing anything


def test_register_names_the_frames_it_needs():
    readings, flags, changes = register_frames()
    cons = consumption_frame(readings.index, np.ones(len(readings)), "a")
    with pytest.raises(ValueError, match=r"^register\(\) needs a telemetry frame with columns "):
        plots.register(cons)
    with pytest.raises(ValueError, match=r"register\(\) needs a flag_anomalies frame"):
        plots.register(readings, flags=flags.drop(columns="device_id"))
    with pytest.raises(ValueError, match=r"needs a changes frame .* lacks column\(s\) \['field'\]"):
        plots.register(readings, changes=changes.drop(columns="field"))
    with pytest.raises(ValueError, match=r"register\(\) needs a telemetry frame; got a dict"):
        plots.register({"value": [1.0]})
    assert plt.get_fignums() == []
    # the valid frames still draw (changes need no time index: theirs is changed_at anyway)
    plots.register(readings, flags=flags, changes=changes.reset_index())


def test_explorer_table_and_plot_need_a_resampled_frame():
    from waltero_frames.notebook import explorer

    daily = daily_frame()  # daily_consumption layout: no n_readings/coverage
    devs = pd.DataFrame({"name": ["Kitchen", "Bath"]}, index=pd.Index(["a", "b"]))
    for fn in (explorer.summary_table, explorer.plot_periods):
        with pytest.raises(ValueError, match=rf"{fn.__name__}\(\) needs a resample_consumption"):
            fn(
                daily,
                devs,
                tz="UTC",
                **({"resolution": "day"} if fn is explorer.plot_periods else {}),
            )
    assert plt.get_fignums() == []
