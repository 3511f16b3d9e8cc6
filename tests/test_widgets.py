"""The explorer: its plain compute functions, then the widget's callbacks driven by .value."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from waltero_frames.notebook import explorer


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
    # Havana's clocks go back at 01:00 to midnight: the day starts at the first midnight
    lo, hi = explorer.local_range("2026-11-01", "2026-11-01", "America/Havana")
    assert (lo, hi) == (pd.Timestamp("2026-11-01T04:00Z"), pd.Timestamp("2026-11-02T05:00Z"))


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


@pytest.mark.parametrize(
    ("resolution", "first", "last"),
    [
        ("hour", "2026-05-17T22:00Z", "2026-05-24T22:00Z"),
        ("day", "2026-05-17T22:00Z", "2026-05-24T22:00Z"),
        ("week", "2026-05-17T22:00Z", "2026-05-24T22:00Z"),  # 18 May is a Monday
        ("month", "2026-04-30T22:00Z", "2026-05-31T22:00Z"),
    ],
)
def test_period_range_widens_to_whole_local_periods(resolution, first, last):
    lo, hi = explorer.local_range("2026-05-18", "2026-05-24", "Europe/Berlin")
    got = explorer.period_range(lo, hi, resolution, "Europe/Berlin")
    assert got == (pd.Timestamp(first), pd.Timestamp(last))


def test_period_range_across_dst_and_mid_week():
    # Wed 25 Mar … Tue 31 Mar 2026 in Berlin: two ISO weeks, the second has the 23-hour day
    lo, hi = explorer.local_range("2026-03-25", "2026-03-31", "Europe/Berlin")
    first, last = explorer.period_range(lo, hi, "week", "Europe/Berlin")
    assert first == pd.Timestamp("2026-03-22T23:00Z")  # Monday 23 March, CET
    assert last == pd.Timestamp("2026-04-05T22:00Z")  # Monday 6 April, CEST
    assert (last - first) == pd.Timedelta(days=14) - pd.Timedelta(hours=1)
    with pytest.raises(ValueError, match="resolution='year': the explorer offers"):
        explorer.period_range(lo, hi, "year", "UTC")


@pytest.mark.parametrize(
    ("tz", "start", "end", "resolution", "first", "last"),
    [
        # Berlin fall-back night: 02:00-03:00 local happens twice (CEST 00:00Z, CET 01:00Z)
        (
            "Europe/Berlin",
            "2026-10-25T00:30Z",
            "2026-10-25T00:45Z",
            "hour",
            "2026-10-25T00:00Z",
            "2026-10-25T01:00Z",
        ),  # first 02:xx (CEST)
        (
            "Europe/Berlin",
            "2026-10-25T01:30Z",
            "2026-10-25T01:45Z",
            "hour",
            "2026-10-25T01:00Z",
            "2026-10-25T02:00Z",
        ),  # second 02:xx (CET)
        (
            "Europe/Berlin",
            "2026-10-25T00:30Z",
            "2026-10-25T01:45Z",
            "hour",
            "2026-10-25T00:00Z",
            "2026-10-25T02:00Z",
        ),  # both repeated hours
        (
            "Europe/Berlin",
            "2026-10-25T00:30Z",
            "2026-10-25T00:45Z",
            "day",
            "2026-10-24T22:00Z",
            "2026-10-25T23:00Z",
        ),  # the 25-hour day
        # Berlin spring-forward night: 02:00-03:00 local does not exist (01:00Z)
        (
            "Europe/Berlin",
            "2026-03-29T00:30Z",
            "2026-03-29T01:30Z",
            "hour",
            "2026-03-29T00:00Z",
            "2026-03-29T02:00Z",
        ),  # 01:30 CET … 03:30 CEST
        (
            "Europe/Berlin",
            "2026-03-29T00:59Z",
            "2026-03-29T01:01Z",
            "hour",
            "2026-03-29T00:00Z",
            "2026-03-29T02:00Z",
        ),  # 01:00 CET hour, then 03:00 CEST
        (
            "Europe/Berlin",
            "2026-03-29T05:00Z",
            "2026-03-29T06:00Z",
            "day",
            "2026-03-28T23:00Z",
            "2026-03-29T22:00Z",
        ),  # the 23-hour day
        # Sydney fall-back night (5 April 2026): 02:00-03:00 local twice (AEDT 15:00Z, AEST 16:00Z)
        (
            "Australia/Sydney",
            "2026-04-04T15:10Z",
            "2026-04-04T15:20Z",
            "hour",
            "2026-04-04T15:00Z",
            "2026-04-04T16:00Z",
        ),
        (
            "Australia/Sydney",
            "2026-04-04T16:10Z",
            "2026-04-04T16:20Z",
            "hour",
            "2026-04-04T16:00Z",
            "2026-04-04T17:00Z",
        ),
        (
            "Australia/Sydney",
            "2026-04-04T15:10Z",
            "2026-04-04T15:20Z",
            "day",
            "2026-04-04T13:00Z",
            "2026-04-05T14:00Z",
        ),  # AEDT midnight … AEST midnight: 25 h
    ],
)
def test_period_range_on_dst_nights_covers_the_requested_instants(
    tz, start, end, resolution, first, last
):
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    got = explorer.period_range(lo, hi, resolution, tz)
    assert got == (pd.Timestamp(first), pd.Timestamp(last))
    assert got[0] <= lo and got[1] >= hi


def test_period_range_rejects_an_unknown_zone_and_an_empty_range():
    lo = pd.Timestamp("2026-05-18T00:00Z")
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        explorer.period_range(lo, lo + pd.Timedelta(hours=1), "hour", "Mars/Olympus")
    with pytest.raises(ValueError, match="is not after start"):
        explorer.period_range(lo, lo, "hour", "UTC")


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
    with pytest.raises(ValueError, match="resolution='fortnight' is not a period"):
        explorer.consumption_per_period(
            register_readings(), device_frame(), resolution="fortnight", tz="UTC"
        )


# ------------------------------------------------------------------ the widget, on the simulator

DEMO_ORG = "00000000-0000-0000-0000-000000000001"
GUIDE_DEVICE = "11111111-1111-1111-1111-111111111101"


def truth_local_days(world, device, first_day, n_days, tz):
    """Independent expectation: processed deltas summed by the local day of the later reading."""
    ts, values = world.series(device, "meter.value.processed")
    when = pd.DatetimeIndex(pd.to_datetime(ts[1:], unit="ms", utc=True)).tz_convert(tz)
    deltas = pd.Series(np.diff(values), index=when.tz_localize(None).normalize())
    days = pd.date_range(first_day, periods=n_days, freq="D")
    return deltas.groupby(level=0).sum().reindex(days).round(6)


@pytest.fixture(scope="module")
def shared_explorer(waltero_sim_server):
    """One Explorer for the module (its device list costs one detail call per meter)."""
    import waltero_frames as wf
    from waltero_frames.notebook.widgets import Explorer

    sim = waltero_sim_server
    client = wf.Client(sim.base_url, sim.username, sim.password, progress=False)
    explorer_ = Explorer(
        client,
        org=DEMO_ORG,
        start="2026-05-18",
        end="2026-05-24",
        method="attribute",
        raise_errors=True,
    )
    return explorer_, sim.world


@pytest.fixture
def explorer_widget(shared_explorer, waltero_sim):
    """The shared Explorer, pickers back to the guide's week, raising errors."""
    ex, world = shared_explorer
    ex.raise_errors = True
    ex._hold = True
    ex.start.value = pd.Timestamp("2026-05-18").date()
    ex.end.value = pd.Timestamp("2026-05-24").date()
    ex.resolution.value = "day"
    ex._hold = False
    ex.search.value = ""
    return ex, world


def test_explorer_search_drives_table_and_plot(explorer_widget):
    ex, world = explorer_widget
    assert ex.tz == "Europe/Berlin"
    assert len(ex.device.options) == len(world.devices[world.devices.organization_id == DEMO_ORG])
    ex.search.value = "zr-10001"
    assert [v for _, v in ex.device.options] == [GUIDE_DEVICE]
    assert ex.device.value == GUIDE_DEVICE and ex.error is None
    expected = truth_local_days(world, GUIDE_DEVICE, "2026-05-18", 7, "Europe/Berlin")
    got = ex.periods.set_index(ex.periods.index.tz_convert("Europe/Berlin").tz_localize(None))
    np.testing.assert_allclose(got["consumption"].to_numpy(), expected.to_numpy(), atol=1e-9)
    body = ex.table[ex.table["period"] != "total"]
    assert len(body) == 7 and body["period"].iloc[0] == "2026-05-18 00:00"
    total = ex.table.loc[ex.table["period"] == "total", "consumption"].iloc[0]
    assert total == pytest.approx(expected.sum(), abs=1e-9)
    ax = ex.figure.axes[0]
    assert len(ax.patches) == 7
    assert ax.get_ylabel() == "consumption per day [m3]"
    assert "7 periods" in ex.status.value


def test_explorer_resolution_and_range_changes_recompute(explorer_widget):
    ex, world = explorer_widget
    ex.search.value = "Apt 1.01 cold"
    day_total = ex.periods["consumption"].sum()
    ex.resolution.value = "hour"
    assert len(ex.periods) == 7 * 24
    assert ex.periods["consumption"].sum() == pytest.approx(day_total, abs=1e-9)
    assert ex.figure.axes[0].get_ylabel() == "consumption per hour [m3]"
    ex.resolution.value = "week"  # the ISO week of 18–24 May, Monday to Sunday
    assert len(ex.periods) == 1
    assert ex.periods["consumption"].iloc[0] == pytest.approx(day_total, abs=1e-9)
    ex.resolution.value = "month"  # the whole of May, though only a week was picked
    may = truth_local_days(world, GUIDE_DEVICE, "2026-05-01", 31, "Europe/Berlin")
    assert list(ex.periods.index) == [pd.Timestamp("2026-04-30T22:00Z")]
    assert ex.periods["consumption"].iloc[0] == pytest.approx(may.sum(), abs=1e-9)
    ex.resolution.value = "day"
    ex.end.value = pd.Timestamp("2026-05-18").date()  # one day
    expected = truth_local_days(world, GUIDE_DEVICE, "2026-05-18", 1, "Europe/Berlin")
    assert ex.periods["consumption"].to_list() == pytest.approx(expected.to_list(), abs=1e-9)


def test_explorer_callback_errors_are_raised_and_shown(explorer_widget):
    ex, _ = explorer_widget
    with pytest.raises(ValueError, match="is before start date"):
        ex.end.value = pd.Timestamp("2026-05-01").date()
    assert isinstance(ex.error, ValueError)
    assert "is before start date" in ex.status.value
    ex.raise_errors = False  # as in a notebook: shown in the widget, kept on .error
    ex.start.value = pd.Timestamp("2026-06-01").date()
    assert isinstance(ex.error, ValueError) and "ValueError" in ex.status.value
    ex.start.value = pd.Timestamp("2026-04-25").date()
    assert ex.error is None and len(ex.periods) == 7
    ex.search.value = "no such meter anywhere"
    assert ex.device.value is None and ex.table is None
    assert "no device matches" in ex.status.value


def test_explorer_rejects_bad_arguments_before_any_request(waltero_sim):
    import waltero_frames as wf
    from waltero_frames.notebook.widgets import Explorer

    client = wf.Client(waltero_sim.base_url, waltero_sim.username, waltero_sim.password)
    waltero_sim.reset()
    with pytest.raises(ValueError, match="end date 2026-05-18 is before start date 2026-05-20"):
        Explorer(client, start="2026-05-20", end="2026-05-18")
    with pytest.raises(ValueError, match="resolution='fortnight' is not a period"):
        Explorer(client, resolution="fortnight")
    with pytest.raises(ValueError, match="unknown method 'guess'"):
        Explorer(client, method="guess")
    assert waltero_sim.log == []  # nothing was sent
