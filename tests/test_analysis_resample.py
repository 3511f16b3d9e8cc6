"""resample_consumption: DST days, partial periods, coverage, methods, conservation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import waltero_frames as wf


def consumption(stamps, device="m1", values=None):
    """A consumption frame: one reading per stamp, 1.0 per reading (NaN first)."""
    idx = pd.DatetimeIndex(pd.to_datetime(stamps, utc=True), name="timestamp")
    vals = np.ones(len(idx)) if values is None else np.asarray(values, dtype=float)
    vals = vals.copy()
    vals[0] = np.nan
    return pd.DataFrame(
        {"device_id": pd.array([device] * len(idx), dtype="str"), "consumption": vals}, index=idx
    )


def hourly(start, end):
    return pd.date_range(start, end, freq="h", tz="UTC")


@pytest.mark.parametrize(
    ("tz", "day", "utc_start", "hours"),
    [
        ("Europe/Berlin", "2026-03-29", "2026-03-28T23:00Z", 23),  # clocks go forward
        ("Europe/Berlin", "2026-10-25", "2026-10-24T22:00Z", 25),  # clocks go back
        ("Australia/Sydney", "2026-04-05", "2026-04-04T13:00Z", 25),  # southern autumn: back
        ("Australia/Sydney", "2026-10-04", "2026-10-03T14:00Z", 23),  # southern spring: forward
    ],
)
def test_dst_days_have_their_real_length(tz, day, utc_start, hours):
    # one unit per hourly reading, readings well before and after the day
    c = consumption(
        hourly(
            pd.Timestamp(utc_start) - pd.Timedelta("2D"),
            pd.Timestamp(utc_start) + pd.Timedelta("3D"),
        )
    )
    for method in ("attribute", "interpolate"):
        d = wf.resample_consumption(c, "D", tz=tz, method=method)
        row = d.loc[pd.Timestamp(utc_start)]
        assert row["consumption"] == pytest.approx(hours)
        assert row["coverage"] == 1.0
        assert row["n_readings"] == hours
        local = d.index.tz_convert(tz)
        assert (local.hour == 0).all() and (local.minute == 0).all()
        assert str(pd.Timestamp(utc_start).tz_convert(tz).date()) == day
    h = wf.resample_consumption(c, "h", tz=tz)
    day_rows = h[h.index.tz_convert(tz).normalize() == pd.Timestamp(day, tz=tz)]
    assert len(day_rows) == hours and (day_rows["consumption"] == 1.0).all()


def test_partial_first_and_last_periods_and_coverage():
    # hourly from 06:00Z on Jan 5 to 12:00Z on Jan 7: first day covers 18 h, last 12 h
    c = consumption(hourly("2026-01-05T06:00Z", "2026-01-07T12:00Z"))
    d = wf.resample_consumption(c, "D")
    assert d.index.tolist() == list(pd.date_range("2026-01-05", periods=3, freq="D", tz="UTC"))
    np.testing.assert_allclose(d["coverage"], [0.75, 1.0, 0.5])
    # attribute: first reading contributes 0 (Part 1's rule), 17 deltas on day 1
    np.testing.assert_allclose(d["consumption"], [17, 24, 13])
    assert d["n_readings"].tolist() == [18, 24, 13]


def test_gap_attribute_vs_interpolate():
    c = consumption(["2026-01-01T12:00Z", "2026-01-03T12:00Z"], values=[np.nan, 48.0])
    att = wf.resample_consumption(c, "D", method="attribute")
    np.testing.assert_allclose(att["consumption"], [0.0, np.nan, 48.0])
    assert att["n_readings"].tolist() == [1, 0, 1]
    itp = wf.resample_consumption(c, "D", method="interpolate")
    np.testing.assert_allclose(itp["consumption"], [12.0, 24.0, 12.0])
    np.testing.assert_allclose(itp["coverage"], [0.5, 1.0, 0.5])
    tight = wf.resample_consumption(c, "D", max_gap="6h")
    np.testing.assert_allclose(tight["coverage"], [0.0, 0.0, 0.0])


def test_gap_reduces_coverage_with_default_max_gap():
    stamps = hourly("2026-01-01T00:00Z", "2026-01-05T00:00Z")
    stamps = stamps[(stamps <= "2026-01-02T06:00Z") | (stamps >= "2026-01-04T00:00Z")]  # 42 h hole
    d = wf.resample_consumption(consumption(stamps), "D")
    # Jan 2: covered 00:00–06:00 only (the 42 h interval is > 3 × the 1 h cadence)
    np.testing.assert_allclose(d["coverage"].iloc[:4], [1.0, 0.25, 0.0, 1.0])
    assert d["n_readings"].iloc[:4].tolist() == [24, 7, 0, 24]
    np.testing.assert_allclose(d["consumption"].iloc[:4], [23, 7, np.nan, 24])
    itp = wf.resample_consumption(consumption(stamps), "D", method="interpolate")
    # the hole's one unit is spread: 18/42 on Jan 2, 24/42 on Jan 3, 0 on Jan 4
    np.testing.assert_allclose(itp["consumption"].iloc[:4], [24, 6 + 18 / 42, 24 / 42, 24])


def test_weeks_months_years_in_local_time():
    c = consumption(hourly("2026-03-01T00:00Z", "2026-04-15T00:00Z"))
    w = wf.resample_consumption(c, "W", tz="Europe/Berlin")
    local = w.index.tz_convert("Europe/Berlin")
    assert (local.day_of_week == 0).all() and (local.hour == 0).all()
    # the week of the DST change (Mon 2026-03-23) has 167 hours
    assert w.loc[pd.Timestamp("2026-03-22T23:00Z"), "consumption"] == 167
    m = wf.resample_consumption(c, "MS", tz="Europe/Berlin")
    assert m.index.tolist() == [
        pd.Timestamp("2026-02-28T23:00Z"), pd.Timestamp("2026-03-31T22:00Z"),
    ]  # fmt: skip
    # March in Berlin: 31 × 24 − 1 hours; the first reading (00:00Z) is the first of March
    assert m["consumption"].iloc[0] == 31 * 24 - 1 - 1 - 1
    y = wf.resample_consumption(c, "YS", tz="Australia/Sydney")
    assert y.index.tolist() == [pd.Timestamp("2025-12-31T13:00Z")]
    assert y["consumption"].iloc[0] == len(c) - 1


def test_several_devices_interleaved_and_sorted_output():
    a = consumption(hourly("2026-01-01T00:00Z", "2026-01-02T23:00Z"), device="a")
    b = consumption(
        hourly("2026-01-02T00:00Z", "2026-01-03T23:00Z"), device="b", values=np.full(48, 2.0)
    )
    both = pd.concat([b, a]).sample(frac=1.0, random_state=1)
    d = wf.resample_consumption(both, "D")
    assert list(zip(d.index.day, d["device_id"], strict=True)) == [
        (1, "a"),
        (2, "a"),
        (2, "b"),
        (3, "b"),
    ]
    np.testing.assert_allclose(d["consumption"], [23, 24, 46, 48])


def test_empty_single_and_bad_arguments():
    c = consumption(["2026-01-01T05:00Z"])
    empty = wf.resample_consumption(c.iloc[:0], "D")
    assert empty.index.name == "period_start" and len(empty) == 0
    assert empty.dtypes.astype(str).to_dict() == {
        "device_id": "str", "consumption": "float64", "n_readings": "int64", "coverage": "float64",
    }  # fmt: skip
    one = wf.resample_consumption(c, "D", method="interpolate")
    assert one["consumption"].tolist() == [0.0] and one["coverage"].tolist() == [0.0]
    assert wf.resample_consumption(c, "D")["consumption"].tolist() == [0.0]
    with pytest.raises(ValueError, match="'M'"):
        wf.resample_consumption(c, "M")
    with pytest.raises(ValueError, match="Mars/Olympus"):
        wf.resample_consumption(c, tz="Mars/Olympus")
    with pytest.raises(ValueError, match="'sum'"):
        wf.resample_consumption(c, method="sum")
    before = c.copy(deep=True)
    wf.resample_consumption(c, "h", tz="Asia/Kolkata")
    pd.testing.assert_frame_equal(c, before)


def test_half_hour_zone_hours():
    c = consumption(hourly("2026-01-01T00:00Z", "2026-01-01T06:00Z"))
    h = wf.resample_consumption(c, "h", tz="Asia/Kolkata", method="interpolate")
    assert (h.index.minute == 30).all()
    assert h["consumption"].sum() == pytest.approx(6.0)


ZONES = [
    "UTC",
    "Europe/Berlin",
    "Australia/Sydney",
    "Asia/Kolkata",
    "America/New_York",
    "Asia/Kathmandu",
]


@settings(max_examples=60, deadline=None)
@given(
    freq=st.sampled_from(["h", "D", "W", "MS", "YS"]),
    tz=st.sampled_from(ZONES),
    method=st.sampled_from(["attribute", "interpolate"]),
    offsets=st.lists(st.integers(0, 400 * 86_400), min_size=1, max_size=40),
    devices=st.lists(st.sampled_from(["a", "b", "c"]), min_size=40, max_size=40),
    values=st.lists(st.floats(-5, 100, allow_nan=False), min_size=40, max_size=40),
)
def test_property_resampling_conserves_totals(freq, tz, method, offsets, devices, values):
    if freq == "h" and max(offsets) - min(offsets) > 40 * 86_400:
        offsets = [o % (40 * 86_400) for o in offsets]
    n = len(offsets)
    idx = pd.DatetimeIndex(
        pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(offsets, unit="s"), name="timestamp"
    )
    c = pd.DataFrame(
        {"device_id": pd.array(devices[:n], dtype="str"), "consumption": values[:n]}, index=idx
    )
    d = wf.resample_consumption(c, freq, tz=tz, method=method)
    for dev, grp in c.groupby("device_id"):
        got = d[d["device_id"] == dev]
        assert np.nansum(got["consumption"]) == pytest.approx(grp["consumption"].sum(), abs=1e-6)
        assert got["n_readings"].sum() == len(grp)
    assert ((d["coverage"] >= 0) & (d["coverage"] <= 1)).all()
    assert d.index.is_monotonic_increasing


@pytest.fixture(scope="module")
def demo():
    from waltero_frames.sim.world.generate import DEMO_ORG
    from waltero_frames.sim.world.model import World

    world = World.for_seed(0)
    devs = world.devices[world.devices["organization_id"] == DEMO_ORG]
    readings = world.telemetry_truth(
        list(devs.index),
        "2026-02-20T00:00Z",
        "2026-09-10T00:00Z",
        fields=["meter.value.raw", "meter.value.processed"],
    )
    return world, DEMO_ORG, devs, readings


def part1(world, org, start, end, resolution):
    rows = [r for r in world.daily_consumption_rows(org, start, end, resolution) if "date" in r]
    out = pd.DataFrame(rows)
    out["period_start"] = pd.to_datetime(out["date"], utc=True)
    return out.set_index(["deviceId", "period_start"])["consumption"]


@pytest.mark.parametrize(
    ("freq", "resolution", "start", "end"),
    [
        ("D", "day", "2026-03-01T00:00Z", "2026-09-01T00:00Z"),
        ("W", "week", "2026-03-02T00:00Z", "2026-08-31T00:00Z"),
        ("MS", "month", "2026-03-01T00:00Z", "2026-09-01T00:00Z"),
    ],
)
def test_utc_periods_reproduce_part1(demo, freq, resolution, start, end):
    world, org, devs, readings = demo
    truth = part1(world, org, start, end, resolution)
    kw = {"multiplier": devs["multiplier"], "register_digits": devs["register_digits"]}
    for source in ("processed", "raw"):
        c = wf.readings_to_consumption(readings, source=source, **kw)
        d = wf.resample_consumption(c, freq)
        d = d[(d.index >= start) & (d.index < end)]
        ours = d.set_index(["device_id", d.index])["consumption"]
        ours.index.names = ["deviceId", "period_start"]
        # Part 1's null rows (no reading in the period) are our NaN rows
        assert set(ours.dropna().index) == set(truth.index)
        ours = ours.dropna().reindex(truth.index)
        if source == "processed":  # Part 1 sums processed deltas: identical to 6 decimals
            np.testing.assert_array_equal(np.round(ours.to_numpy(), 6) + 0.0, truth.to_numpy())
        else:  # raw × multiplier equals it except where processed was wrong (mismatch)
            mismatch = world.anomalies.loc[
                world.anomalies["kind"] == "multiplier_mismatch", "device_id"
            ]
            keep = ~truth.index.get_level_values(0).isin(mismatch)
            np.testing.assert_allclose(ours[keep], truth[keep], rtol=0, atol=1.5e-6)
            assert (~keep).sum() > 0


def test_interval_column_and_linking_give_the_same_periods():
    stamps = hourly("2026-03-27T00:00Z", "2026-04-02T00:00Z")
    stamps = stamps[(stamps < "2026-03-29T05:00Z") | (stamps > "2026-03-30T13:00Z")]
    rng = np.random.default_rng(5)
    frames = []
    for k, dev in enumerate(["a", "b"]):
        idx = pd.DatetimeIndex(stamps + pd.Timedelta(minutes=30 * k), name="timestamp")
        raw = np.cumsum(rng.integers(0, 9, size=len(idx)))
        frames.append(pd.DataFrame({"device_id": dev, "meter.value.raw": raw}, index=idx))
    readings = pd.concat(frames).sort_index(kind="stable")
    c = wf.readings_to_consumption(readings, multiplier=0.5)
    assert "interval" in c.columns
    for freq in ("h", "D", "W"):
        for method in ("attribute", "interpolate"):
            with_col = wf.resample_consumption(c, freq, tz="Europe/Berlin", method=method)
            linked = wf.resample_consumption(
                c.drop(columns="interval"), freq, tz="Europe/Berlin", method=method
            )
            pd.testing.assert_frame_equal(with_col, linked, check_exact=False, rtol=1e-12)


def test_locate_matches_binary_search_on_large_arrays():
    from waltero_frames.analysis.resample import locate, period_boundaries

    rng = np.random.default_rng(2)
    lo, hi = pd.Timestamp("2025-06-01", tz="UTC").value, pd.Timestamp("2027-02-01", tz="UTC").value
    ts = np.sort(rng.integers(lo, hi, 50_000))
    for freq in ("h", "D", "W", "MS", "YS"):
        for tz in ("Europe/Berlin", "Australia/Sydney", "Asia/Kathmandu"):
            bounds = period_boundaries(int(ts.min()), int(ts.max()), freq, tz)
            expected = np.searchsorted(bounds, ts, side="right") - 1
            np.testing.assert_array_equal(locate(bounds, ts), expected)
            np.testing.assert_array_equal(locate(bounds, ts[::-1]), expected[::-1])


def test_cut_consumption_frame_keeps_its_first_deltas_in_place():
    c = wf.readings_to_consumption(
        pd.DataFrame(
            {"device_id": "m", "meter.value.raw": np.arange(0, 96 * 2, 2)},
            index=pd.DatetimeIndex(
                hourly("2026-01-01T00:00Z", "2026-01-04T23:00Z"), name="timestamp"
            ),
        ),
        multiplier=1.0,
    )
    cut = c[c.index >= "2026-01-02T12:00Z"]
    for method in ("attribute", "interpolate"):
        d = wf.resample_consumption(cut, "D", method=method)
        assert d.index[0] == pd.Timestamp("2026-01-02", tz="UTC")
        assert d["consumption"].sum() == pytest.approx(cut["consumption"].sum())
        linked = wf.resample_consumption(cut.drop(columns="interval"), "D", method=method)
        pd.testing.assert_frame_equal(d, linked)
    # interpolate: the cut's first delta (11:00→12:00) stays on Jan 2 (2 + 12 × 2), nothing
    # leaks earlier; Jan 4 ends at its last reading (23 intervals)
    d = wf.resample_consumption(cut, "D", method="interpolate")
    np.testing.assert_allclose(d["consumption"], [2 + 2 * 12, 2 * 24, 2 * 23])


def test_locate_with_shared_clocks():
    from waltero_frames.analysis.resample import locate, period_boundaries

    ts = np.repeat(
        pd.date_range("2026-03-01", periods=2000, freq="h", tz="UTC").as_unit("ns").asi8, 30
    )
    bounds = period_boundaries(int(ts.min()), int(ts.max()), "D", "Europe/Berlin")
    np.testing.assert_array_equal(locate(bounds, ts), np.searchsorted(bounds, ts, side="right") - 1)


@pytest.mark.slow
@pytest.mark.parametrize("org_index", [0, 1])
@pytest.mark.parametrize(
    ("freq", "resolution"), [("D", "day"), ("W", "week"), ("MS", "month"), ("YS", "year")]
)
def test_whole_year_every_org_reproduces_part1(org_index, freq, resolution):
    from waltero_frames.sim.world.model import World

    world = World.for_seed(0)
    org = world.orgs.index[org_index]
    devs = world.devices[world.devices["organization_id"] == org]
    readings = world.telemetry_truth(
        list(devs.index), "2025-12-01T00:00Z", "2026-12-01T00:00Z", fields=["meter.value.processed"]
    )
    c = wf.readings_to_consumption(
        readings, multiplier=devs["multiplier"], register_digits=devs["register_digits"]
    )
    d = wf.resample_consumption(c, freq)
    start, end = "2025-12-01T00:00Z", "2026-12-01T00:00Z"
    truth = part1(world, org, start, end, resolution)
    ours = d.set_index(["device_id", d.index])["consumption"].dropna()
    ours.index.names = ["deviceId", "period_start"]
    # Part 1 cuts periods at the range; ours runs from each device's first reading, so
    # compare the periods that lie inside the range
    inside = truth.index.get_level_values(1) >= pd.Timestamp(start)
    if resolution in ("week", "year"):
        inside &= truth.index.get_level_values(1) > pd.Timestamp(start) - pd.Timedelta("1D")
    ours = ours.reindex(truth.index[inside])
    if resolution == "year":  # ~35 000 float additions (misreads of ±1e3 included): 1e-6
        np.testing.assert_allclose(ours.to_numpy(), truth[inside].to_numpy(), rtol=1e-12, atol=1e-6)
    else:
        np.testing.assert_array_equal(np.round(ours.to_numpy(), 6) + 0.0, truth[inside].to_numpy())
