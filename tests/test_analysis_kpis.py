"""load_kpis and to_unit against hand computations: DST months in Berlin and Sydney,
a month with public holidays, meters faster and slower than the peak window, gaps,
units; and against a per-device pandas reference on the simulator's data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import waltero_frames as wf


def steady(start, end, freq="15min", kw=1.0, device="m1", unit="kWh", tz=None):
    """A consumption frame of a steady ``kw`` load read every ``freq`` over [start, end]
    (UTC); the first reading has no delta."""
    idx = pd.date_range(start, end, freq=freq, tz="UTC", name="timestamp")
    step = pd.Timedelta(pd.tseries.frequencies.to_offset(freq)) / pd.Timedelta(hours=1)
    values = np.full(len(idx), kw * step)
    values[0] = np.nan
    interval = np.r_[np.datetime64("NaT"), np.diff(idx.to_numpy())].astype("m8[ns]")
    frame = pd.DataFrame(
        {"device_id": device, "consumption": values, "interval": interval, "unit": unit},
        index=idx,
    )
    frame.attrs["tz"] = tz
    return frame


def bump(frame, at_utc, kwh):
    """Add ``kwh`` to the delta read at ``at_utc``."""
    frame.loc[pd.Timestamp(at_utc), "consumption"] += kwh
    return frame


def row(kpis, period_start_utc):
    return kpis.loc[pd.Timestamp(period_start_utc)]


# ---------------------------------------------------------------- peaks in DST months
@pytest.mark.parametrize(
    ("tz", "month_start_utc", "next_start_utc", "peak_reading_utc", "note"),
    [
        # Berlin, March: the peak in the first quarter after clocks go forward
        # (03:00-03:15 CEST = 01:00-01:15 UTC on 29 March)
        ("Europe/Berlin", "2026-02-28T23:00Z", "2026-03-31T22:00Z", "2026-03-29T01:15Z", "23 h"),
        # Berlin, October: the peak in the *second* 02:00-02:15 (CET, 01:00-01:15 UTC)
        ("Europe/Berlin", "2026-09-30T22:00Z", "2026-10-31T23:00Z", "2026-10-25T01:15Z", "25 h"),
        # Sydney, March (AEDT all month): the peak in the month's first local quarter
        ("Australia/Sydney", "2026-02-28T13:00Z", "2026-03-31T13:00Z", "2026-02-28T13:15Z", "1st"),
        # Sydney, October: the peak just after clocks go forward (03:00 AEDT = 16:00 UTC)
        ("Australia/Sydney", "2026-09-30T14:00Z", "2026-10-31T13:00Z", "2026-10-03T16:15Z", "23 h"),
    ],
)
def test_peak_demand_and_time_in_dst_months(
    tz, month_start_utc, next_start_utc, peak_reading_utc, note
):
    start = pd.Timestamp(month_start_utc) - pd.Timedelta(days=2)
    end = pd.Timestamp(next_start_utc) + pd.Timedelta(days=2)
    c = steady(start, end, tz=tz)  # 1 kW: 0.25 kWh per quarter
    bump(c, peak_reading_utc, 1.75)  # 2 kWh in one quarter: 8 kW
    # a smaller bump in the other occurrence of a repeated hour / earlier in the month
    other = pd.Timestamp(peak_reading_utc) - pd.Timedelta(hours=1)
    if other <= pd.Timestamp(month_start_utc):
        other += pd.Timedelta(hours=2)
    bump(c, other, 1.0)  # 5 kW
    k = wf.load_kpis(c)  # tz from attrs
    got = row(k, month_start_utc)
    assert got["peak_demand"] == pytest.approx(8.0)
    assert got["peak_at"] == pd.Timestamp(peak_reading_utc) - pd.Timedelta(minutes=15)
    assert got["peak_interval"] == pd.Timedelta(minutes=15)
    hours = (pd.Timestamp(next_start_utc) - pd.Timestamp(month_start_utc)) / pd.Timedelta("1h")
    assert got["energy"] == pytest.approx(hours * 1.0 + 2.75)
    assert got["baseload"] == pytest.approx(1.0)
    assert got["coverage"] == 1.0
    assert got["load_factor"] == pytest.approx((hours + 2.75) / hours / 8.0)
    assert (got["unit"], got["power_unit"]) == ("kWh", "kW")
    # the periods are resample_consumption's
    r = wf.resample_consumption(c, "MS", tz=tz)
    pd.testing.assert_index_equal(k.index, r.index)
    np.testing.assert_array_equal(k["energy"].to_numpy(), r["consumption"].to_numpy())


@pytest.mark.parametrize(
    ("tz", "day_start_utc", "hours"),
    [
        ("Europe/Berlin", "2026-03-28T23:00Z", 23),
        ("Europe/Berlin", "2026-10-24T22:00Z", 25),
        ("Australia/Sydney", "2026-04-04T13:00Z", 25),
        ("Australia/Sydney", "2026-10-03T14:00Z", 23),
    ],
)
def test_dst_days_energy_and_hourly_meter_peak(tz, day_start_utc, hours):
    """An hourly meter: its peak is over its own hour; a DST day is 23 h / 25 h long."""
    t0 = pd.Timestamp(day_start_utc)
    c = steady(t0 - pd.Timedelta(days=1), t0 + pd.Timedelta(days=2), freq="h", kw=2.0)
    peak_reading = t0 + pd.Timedelta(hours=hours - 1)  # the day's last hour
    bump(c, peak_reading, 3.0)  # 5 kWh in that hour: 5 kW
    k = wf.load_kpis(c, freq="D", tz=tz)
    got = row(k, t0)
    assert got["energy"] == pytest.approx(2.0 * hours + 3.0)
    assert got["peak_interval"] == pd.Timedelta(hours=1)
    assert got["peak_demand"] == pytest.approx(5.0)
    assert got["peak_at"] == peak_reading - pd.Timedelta(hours=1)
    assert got["baseload"] == pytest.approx(2.0)


def test_meter_faster_than_the_window_sums_into_quarters():
    c = steady("2026-06-01T00:00Z", "2026-06-02T00:00Z", freq="5min", kw=0.6, tz="UTC")
    for t in ("2026-06-01T10:20Z", "2026-06-01T10:25Z", "2026-06-01T10:30Z"):
        bump(c, t, 0.45)  # 0.5 kWh in each 5 min of (10:15, 10:30]: 6 kW over the quarter
    bump(c, "2026-06-01T12:05Z", 1.0)  # 12.6 kW for 5 min, but 4.6 kW over its quarter
    got = wf.load_kpis(c, freq="D").iloc[0]
    assert got["peak_interval"] == pd.Timedelta(minutes=15)
    assert got["peak_demand"] == pytest.approx(6.0)
    assert got["peak_at"] == pd.Timestamp("2026-06-01T10:15Z")


def test_gaps_give_no_peak_and_no_zero():
    """A delta across a gap is not a 15-minute power: no fake peak from it."""
    c = steady("2026-06-01T00:00Z", "2026-06-03T00:00Z", kw=1.0, tz="UTC")
    gap = (c.index > "2026-06-01T06:00Z") & (c.index < "2026-06-01T12:00Z")
    kept = c[~gap].copy()
    kept.loc["2026-06-01T12:00Z", "consumption"] = 6.0  # the gap's 6 h in one delta
    kept["interval"] = np.r_[np.datetime64("NaT"), np.diff(kept.index.to_numpy())]
    got = wf.load_kpis(kept, freq="D").iloc[0]
    assert got["peak_demand"] == pytest.approx(1.0)
    assert got["baseload"] == pytest.approx(1.0)
    assert got["coverage"] == pytest.approx(18 / 24)
    # a device whose only readings are far apart has no peak at all (NaN, not 0)
    sparse = steady("2026-06-01T00:00Z", "2026-06-03T00:00Z", freq="12h", device="m2")
    sparse["interval"] = pd.NaT  # no interval column: linked here
    got = wf.load_kpis(sparse.drop(columns="interval"), freq="D", tz="UTC")
    assert got["peak_interval"].iloc[0] == pd.Timedelta(hours=12)
    assert got["peak_demand"].iloc[0] == pytest.approx(1.0)


# ---------------------------------------------------------------- out of hours, holidays
OFFICE = {d: [("08:00", "18:00")] for d in ("Mon", "Tue", "Wed", "Thu", "Fri")}


def test_out_of_hours_share_over_a_month_with_public_holidays():
    """May 2026 in Berlin: 21 weekdays, of which 1 May, 14 May (Ascension) and 25 May
    (Whit Monday) are public holidays: 18 open days of 40 quarters (08:00-17:45)."""
    tz = "Europe/Berlin"
    start, end = pd.Timestamp("2026-04-30T22:00Z"), pd.Timestamp("2026-05-31T22:00Z")
    c = steady(start - pd.Timedelta(days=1), end + pd.Timedelta(days=1), tz=tz)
    bump(c, "2026-05-14T08:00Z", 10.0)  # 10:00 CEST on Ascension day: closed
    bump(c, "2026-05-13T08:00Z", 5.0)  # 10:00 CEST on a Wednesday: open
    quarters = 31 * 96
    total = quarters * 0.25 + 15.0
    open_energy = 18 * 40 * 0.25 + 5.0
    k = wf.load_kpis(c, schedule=OFFICE, holidays="DE-BE")
    got = row(k, start)
    assert got["energy"] == pytest.approx(total)
    assert got["out_of_hours_share"] == pytest.approx(1 - open_energy / total)
    # the same holidays as a list of dates; without them 3 more open days
    dates = ["2026-05-01", "2026-05-14", "2026-05-25"]
    as_list = row(wf.load_kpis(c, schedule=OFFICE, holidays=dates), start)
    assert as_list["out_of_hours_share"] == pytest.approx(got["out_of_hours_share"])
    plain = row(wf.load_kpis(c, schedule=OFFICE), start)
    assert plain["out_of_hours_share"] == pytest.approx(1 - (21 * 10 + 15.0) / total)
    assert np.isnan(row(wf.load_kpis(c), start)["out_of_hours_share"])


def test_schedule_on_a_25_hour_day_and_across_midnight():
    """25 Oct 2026 in Berlin: a night shift 22:00-06:00 on Saturday runs into Sunday;
    the repeated 02:00 hour is in it twice (wall clock), 8 h of quarters become 9 h."""
    tz = "Europe/Berlin"
    day = pd.Timestamp("2026-10-24T22:00Z")  # Sunday 25 Oct, local midnight
    c = steady(day - pd.Timedelta(days=2), day + pd.Timedelta(days=2), tz=tz)
    k = wf.load_kpis(c, freq="D", schedule={"Sat": [("22:00", "06:00")]})
    sunday = row(k, day)
    assert sunday["energy"] == pytest.approx(25.0)
    assert sunday["out_of_hours_share"] == pytest.approx(1 - 7 * 4 / 100)  # 00:00-06:00 = 7 h
    saturday = row(k, day - pd.Timedelta(hours=24))
    assert saturday["out_of_hours_share"] == pytest.approx(1 - 2 / 24)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"schedule": {"Monday": [("08:00", "18:00")]}}, "unknown weekday 'Monday'"),
        ({"schedule": {"Mon": [("8am", "18:00")]}}, "'8am'"),
        ({"schedule": {"Mon": [("08:00", "25:00")]}}, "'25:00'"),
        ({"schedule": OFFICE, "holidays": "XX"}, "holidays='XX'"),
        ({"schedule": OFFICE, "holidays": "DE-ZZ"}, "holidays='DE-ZZ'"),
        ({"schedule": OFFICE, "holidays": ["2026-05-01", "someday"]}, "'someday'"),
        ({"holidays": "DE"}, "needs schedule"),
        ({"freq": "M"}, "freq='M' is not a period"),
        ({"tz": "Mars/Olympus"}, "Mars/Olympus"),
    ],
)
def test_bad_input_names_the_value(kwargs, match):
    c = steady("2026-06-01T00:00Z", "2026-06-02T00:00Z")
    with pytest.raises(ValueError, match=match):
        wf.load_kpis(c, **kwargs)


def test_empty_frame_keeps_the_layout():
    c = steady("2026-06-01T00:00Z", "2026-06-02T00:00Z").iloc[:0]
    k = wf.load_kpis(c)
    assert list(k.columns)[:9] == [
        "device_id", "energy", "peak_demand", "peak_at", "peak_interval", "baseload",
        "out_of_hours_share", "load_factor", "coverage",
    ]  # fmt: skip
    assert len(k) == 0 and k.index.name == "period_start"


# ---------------------------------------------------------------- units
def test_to_unit_energy_units_and_gas():
    idx = pd.DatetimeIndex(["2026-01-01T00:00Z"] * 4, name="timestamp")
    f = pd.DataFrame(
        {
            "device_id": ["heat-mwh", "heat-kwh", "gas", "water"],
            "consumption": [0.5, 20.0, 10.0, 3.0],
            "unit": ["MWh", "kWh", "m3", "m3"],
            "meter_type": ["heat", "heat", "gas", "water_cold"],
        },
        index=idx,
    )
    kwh = wf.to_unit(f, "kWh", calorific_value="40 MJ/m3", correction_factor=0.95)
    assert kwh["consumption"].tolist() == pytest.approx([500.0, 20.0, 10 * 0.95 * 40 / 3.6, 3.0])
    assert kwh["unit"].tolist() == ["kWh", "kWh", "kWh", "m3"]  # water stays in m3
    no_cv = wf.to_unit(f, "MWh")
    assert no_cv["consumption"].tolist() == pytest.approx([0.5, 0.02, 10.0, 3.0])
    assert no_cv["unit"].tolist() == ["MWh", "MWh", "m3", "m3"]
    assert wf.to_unit(f, "kWh", calorific_value=11.0)["consumption"].iloc[2] == pytest.approx(110.0)
    with pytest.raises(ValueError, match="missing units for device"):
        wf.to_unit(f.drop(columns="unit"), "kWh")
    with pytest.raises(ValueError, match="'kW'"):
        wf.to_unit(f, "kW")
    with pytest.raises(ValueError, match="calorific_value=-1"):
        wf.to_unit(f, "kWh", calorific_value=-1)


def test_to_unit_converts_kpis_power_columns():
    c = steady("2026-06-01T00:00Z", "2026-06-02T00:00Z", unit="MWh", kw=0.002, tz="UTC")
    k = wf.to_unit(wf.load_kpis(c, freq="D"), "kWh")
    assert k["energy"].iloc[0] == pytest.approx(47.5)  # 95 quarters: the first has no delta
    assert k["peak_demand"].iloc[0] == pytest.approx(2.0)
    assert (k["unit"].iloc[0], k["power_unit"].iloc[0]) == ("kWh", "kW")


# ---------------------------------------------------------------- simulator data
def test_demo_kpis_match_a_per_device_pandas_computation(waltero_sim):
    """A month of the demo org over HTTP: peaks, baseload and energy per device equal a
    plain per-device pandas computation on the same deltas (local months, 23 h day)."""
    client = wf.Client(waltero_sim.base_url, waltero_sim.username, waltero_sim.password)
    org = "00000000-0000-0000-0000-000000000001"
    devs = wf.devices(client, org, details=True)
    devs = devs[devs["meter_type"].isin(["electricity", "heat"])].iloc[:6]
    tz = "Europe/Berlin"
    readings = wf.telemetry(
        client, devs, "2026-03-01", "2026-04-01", fields=["meter.value.raw"], tz=tz
    )
    cons = wf.readings_to_consumption(readings)
    k = wf.load_kpis(cons)
    march = k[k.index == pd.Timestamp("2026-02-28T23:00Z")].set_index("device_id")
    assert len(march) == len(devs)
    for dev, g in cons.groupby("device_id"):
        s = g["consumption"].iloc[1:]
        dt_h = g["interval"].iloc[1:].dt.total_seconds() / 3600
        usual = dt_h.median()
        w = max(0.25, usual)
        power = (s / dt_h)[np.isclose(dt_h, usual)]  # every delta of these meters: its own window
        if usual < 0.25:
            pytest.skip("demo meters read every 15 min or slower")
        expect = march.loc[dev]
        assert expect["peak_demand"] == pytest.approx(power.max(), rel=1e-12)
        assert expect["peak_at"] == power.idxmax() - pd.Timedelta(hours=w)
        hourly = s.resample("1h", closed="right", label="right").sum()
        hourly = hourly[hourly.index <= g.index.max()]
        if usual <= 1:
            base = np.quantile(hourly.iloc[1:].to_numpy(), 0.1)  # the first hour is partial
            assert expect["baseload"] == pytest.approx(base, rel=1e-9)
        assert expect["unit"] in ("kWh", "MWh")
