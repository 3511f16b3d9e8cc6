"""Numbers over real HTTP against the simulator, checked against the World's ground truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import waltero_frames as wf
from waltero_frames.sim import DEMO_ORG

START, END = "2026-05-18T22:00:00.000Z", "2026-05-25T22:00:00.000Z"


def _expected_name(row, world):
    name = row.get("deviceName")
    if isinstance(name, str) and name.strip():
        return name
    ext = world.devices.loc[row["deviceId"], "external_id"]
    return ext if isinstance(ext, str) and ext.strip() else row["serialNumber"]


def test_daily_consumption_equals_ground_truth(client, waltero_sim):
    world = waltero_sim.world
    df = wf.daily_consumption(client, DEMO_ORG, START, END)
    rows = world.daily_consumption_rows(DEMO_ORG, START, END, "day")
    dated = sorted(
        (r for r in rows if r["consumption"] is not None), key=lambda r: (r["date"], r["deviceId"])
    )
    assert len(df) == len(dated) > 0
    assert df.index.tolist() == [pd.Timestamp(r["date"], tz="UTC") for r in dated]
    assert df["device_id"].tolist() == [r["deviceId"] for r in dated]
    assert df["consumption"].tolist() == [r["consumption"] for r in dated]
    assert df["serial_number"].tolist() == [r["serialNumber"] for r in dated]
    assert df["device_name"].tolist() == [_expected_name(r, world) for r in dated]
    # 22:00Z → 22:00Z cuts exactly the first and the last UTC day
    partial_days = {pd.Timestamp("2026-05-18", tz="UTC"), pd.Timestamp("2026-05-25", tz="UTC")}
    assert df["partial"].tolist() == [ts in partial_days for ts in df.index]
    nulls = pd.Series([r["deviceId"] for r in rows if r["consumption"] is None], dtype=object)
    missing = df.attrs["missing_periods"]
    assert missing.sum() == len(nulls) > 0
    assert missing[missing > 0].to_dict() == nulls.value_counts().to_dict()
    assert df.attrs["org_id"] == DEMO_ORG and df.attrs["source"].endswith(
        "/v3/data/device-daily-consumption"
    )
    assert df.attrs["start"] == pd.Timestamp(START) and df.attrs["end"] == pd.Timestamp(END)
    # every name fallback the World exercises was resolved to something non-empty
    assert df["device_name"].str.strip().ne("").all()


@pytest.mark.parametrize(
    ("resolution", "start", "end", "tz"),
    [
        ("month", "2026-01-01", "2026-07-01", "Europe/Berlin"),  # 23:00Z / 22:00Z bounds
        ("week", "2026-03-04", "2026-04-22", "UTC"),  # Wednesdays: first and last week cut
    ],
)
def test_daily_consumption_other_resolutions(client, waltero_sim, resolution, start, end, tz):
    df = wf.daily_consumption(client, DEMO_ORG, start, end, resolution, tz=tz)
    s = pd.Timestamp(start).tz_localize(tz).tz_convert("UTC")
    e = pd.Timestamp(end).tz_localize(tz).tz_convert("UTC")
    rows = waltero_sim.world.daily_consumption_rows(DEMO_ORG, s, e, resolution)
    truth = {
        (r["deviceId"], r["date"]): r["consumption"] for r in rows if r["consumption"] is not None
    }
    got = {
        (d, ts.strftime("%Y-%m-%d")): c
        for ts, d, c in zip(df.index, df["device_id"], df["consumption"], strict=True)
    }
    assert got == truth
    first, last = df.index.min(), df.index.max()
    assert df.loc[df.index == first, "partial"].all() and df.loc[df.index == last, "partial"].all()
    assert not df.loc[(df.index != first) & (df.index != last), "partial"].any()
    if resolution == "month":
        assert first == pd.Timestamp("2025-12-01", tz="UTC")  # Berlin's Jan 1 starts Dec 31 23:00Z
    else:
        assert (df.index.day_of_week == 0).all()  # ISO weeks start on Monday


def test_telemetry_value_equals_truth_across_windows(client, waltero_sim):
    world = waltero_sim.world
    rolled = world.anomalies[world.anomalies.kind == "rollover"]
    demo = world.devices[world.devices.organization_id == DEMO_ORG]
    ids = sorted(set(demo.index[:5]) | set(rolled.device_id[rolled.device_id.isin(demo.index)][:1]))
    start, end = "2026-04-20T00:00Z", "2026-06-10T00:00Z"  # 51 days: two windows
    df = wf.telemetry(client, ids, start, end)
    truth = world.telemetry_truth(ids, start, end)
    assert len(df) == len(truth) > 10_000
    pd.testing.assert_frame_equal(df, truth, check_exact=True)
    assert not df.reset_index().duplicated(["timestamp", "device_id"]).any()
    # one detail call per device, memoized: a second fetch adds only telemetry calls
    before = waltero_sim.counters[("device", 200)]
    wf.telemetry(client, ids, "2026-06-10", "2026-06-11")
    assert waltero_sim.counters[("device", 200)] == before == len(ids)


def test_telemetry_day_sums_equal_part1(client, waltero_sim):
    """Register deltas of telemetry, summed per UTC day, are the Part 1 numbers."""
    world = waltero_sim.world
    rolled = world.anomalies[world.anomalies.kind == "rollover"]
    demo = world.devices[world.devices.organization_id == DEMO_ORG]
    roll = rolled[rolled.device_id.isin(demo.index)].iloc[0]
    day0 = pd.Timestamp(roll.start).floor("D") - pd.Timedelta(days=2)
    start, end = day0 + pd.Timedelta(hours=6), day0 + pd.Timedelta(days=5, hours=6)  # cut days too
    ids = sorted({roll.device_id, *demo.index[:6]})
    devs = wf.devices(client, DEMO_ORG, details=True).loc[ids]
    tel = wf.telemetry(
        client,
        devs,
        start - pd.Timedelta(days=10),
        end,
        ["meter.value.raw", "meter.value.processed"],
    )
    assert tel.attrs["org_id"] == DEMO_ORG  # carried over from the devices frame
    part1 = wf.daily_consumption(client, DEMO_ORG, start, end)
    part1 = part1[part1["device_id"].isin(ids)]

    expected = {}
    for dev in ids:
        g = tel[tel["device_id"] == dev].dropna(subset=["meter.value.processed"])
        ts, proc, raw = (
            g.index,
            g["meter.value.processed"].to_numpy(),
            g["meter.value.raw"].to_numpy(),
        )
        assert ts[0] < start  # the delta of the first reading in range has its predecessor
        top = 10.0 ** devs.loc[dev, "register_digits"]
        delta = np.diff(proc)
        wrapped = (np.diff(raw) < 0) & (raw[:-1] >= 0.9 * top) & (raw[1:] < 0.1 * top)
        delta = np.where(wrapped, delta + top * devs.loc[dev, "multiplier"], delta)
        at = ts[1:]
        inside = (at >= start) & (at < end)
        sums = pd.Series(delta[inside], index=at[inside].floor("D")).groupby(level=0).sum()
        expected.update({(dev, day): total for day, total in sums.items()})
        if dev == roll.device_id:
            assert wrapped[inside].any(), "the rollover lies inside the compared range"
    got = {
        (d, ts): c
        for ts, d, c in zip(part1.index, part1["device_id"], part1["consumption"], strict=True)
    }
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=2e-6), key


def test_devices_and_organizations_equal_truth(client, waltero_sim):
    world = waltero_sim.world
    orgs = wf.organizations(client)
    readable = world.orgs[world.orgs.readable]
    assert orgs.index.tolist() == readable.index.tolist()
    assert orgs["name"].tolist() == readable["name"].tolist()
    assert orgs["timezone"].tolist() == readable["timezone"].tolist()

    devs = wf.devices(client, DEMO_ORG, details=True)
    truth = world.devices[world.devices.organization_id == DEMO_ORG]
    assert sorted(devs.index) == sorted(truth.index) and len(devs) == 48
    truth = truth.loc[devs.index]
    for col in ["serial_number", "meter_type", "unit", "variant"]:
        assert devs[col].tolist() == truth[col].tolist(), col
    for col in ["name", "external_id"]:
        assert devs[col].fillna("").tolist() == truth[col].fillna("").tolist(), col
    np.testing.assert_array_equal(devs["multiplier"], truth["multiplier"].astype(float))
    np.testing.assert_array_equal(devs["register_digits"], truth["register_digits"].astype(float))
    plain = wf.devices(client, DEMO_ORG)
    assert list(plain.columns) == ["name", "external_id", "serial_number", "meter_type", "label"]
    assert plain.index.tolist() == devs.index.tolist()


def test_changes_follow_cursor_to_the_end(client, waltero_sim):
    world = waltero_sim.world
    df = wf.changes(client, DEMO_ORG, "2026-01-01")
    truth = world.changes(DEMO_ORG)
    truth = truth[truth.visible_at <= world.now()].sort_values(["changed_at", "change_id"])
    assert len(df) == len(truth) > 200  # more than one page of 200
    assert df["change_id"].tolist() == truth["change_id"].tolist()
    assert df["change_id"].is_unique
    np.testing.assert_array_equal(df["new_value"], truth["new_value"].astype(float))
    assert (df.index == pd.DatetimeIndex(truth["changed_at"])).all()
    assert waltero_sim.counters[("changes", 200)] == -(-len(df) // 200)
    # since is inclusive, until exclusive
    cut = df.index[len(df) // 2]
    pages_before = waltero_sim.counters[("changes", 200)]
    early = wf.changes(client, DEMO_ORG, df.index[0], until=df.index[5])
    assert early["change_id"].tolist() == df.loc[df.index < df.index[5], "change_id"].tolist()
    assert waltero_sim.counters[("changes", 200)] == pages_before + 1  # stopped after page 1
    later = wf.changes(client, DEMO_ORG, cut, until=df.index[-1])
    assert later.index.min() == cut and (later.index < df.index[-1]).all()
    assert (
        later["change_id"].tolist()
        == df.loc[(df.index >= cut) & (df.index < df.index[-1]), "change_id"].tolist()
    )


def test_fields_per_device(client, waltero_sim):
    world = waltero_sim.world
    ids = list(world.devices[world.devices.organization_id == DEMO_ORG].index[:4])
    df = wf.fields(client, ids)
    for dev in ids:
        assert set(df.loc[df.device_id == dev, "field"]) == set(world.devices.loc[dev, "fields"])
    assert set(df["group"]) <= {"meter", "battery", "connection", "meta"}


def test_empty_results_keep_the_layout(client, waltero_sim):
    ids = list(waltero_sim.world.devices.index[:2])
    full = wf.telemetry(client, ids, "2026-06-01T00:00Z", "2026-06-01T01:00Z")
    empty = wf.telemetry(client, ids, "2019-01-01", "2019-01-02")  # before any reading
    assert empty.empty and list(empty.columns) == list(full.columns)
    pd.testing.assert_series_equal(empty.dtypes, full.dtypes)
    assert empty.index.name == "timestamp" and str(empty.index.dtype) == "datetime64[us, UTC]"
    later = wf.changes(client, DEMO_ORG, "2030-01-01")
    assert later.empty and later.index.name == "changed_at"
    assert list(later.columns) == [
        "change_id",
        "device_id",
        "field",
        "timestamp",
        "previous_value",
        "new_value",
        "actor",
    ]


@pytest.mark.parametrize(("day", "hours"), [("2026-03-29", 23), ("2026-10-25", 25)])
def test_local_dst_day_as_range(client, waltero_sim, day, hours):
    """A Berlin DST day is 23 or 25 h: two cut UTC days, numbers as the truth for that range."""
    end = (pd.Timestamp(day) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    df = wf.daily_consumption(client, DEMO_ORG, day, end, tz="Europe/Berlin")
    start_utc, end_utc = df.attrs["start"], df.attrs["end"]
    assert end_utc - start_utc == pd.Timedelta(hours=hours)
    assert sorted(set(df.index)) == [
        pd.Timestamp(day, tz="UTC") - pd.Timedelta(days=1),
        pd.Timestamp(day, tz="UTC"),
    ]
    assert df["partial"].all()  # both UTC days are cut by the local day
    rows = waltero_sim.world.daily_consumption_rows(DEMO_ORG, start_utc, end_utc, "day")
    truth = {
        (r["deviceId"], r["date"]): r["consumption"] for r in rows if r["consumption"] is not None
    }
    got = {
        (d, t.strftime("%Y-%m-%d")): c
        for t, d, c in zip(df.index, df["device_id"], df["consumption"], strict=True)
    }
    assert got == truth
    tel = wf.telemetry(
        client, df["device_id"].iloc[0], day, end, ["meter.value.raw"], tz="Europe/Berlin"
    )
    assert tel.index.min() >= start_utc and tel.index.max() < end_utc


@pytest.mark.slow
def test_whole_org_seven_months_equals_truth(client, waltero_sim):
    """Exhaustive: every demo device over 7 months (7 windows each), all default fields."""
    world = waltero_sim.world
    ids = sorted(world.devices[world.devices.organization_id == DEMO_ORG].index)
    start, end = "2026-04-01T00:00Z", "2026-11-01T00:00Z"
    df = wf.telemetry(client, wf.devices(client, DEMO_ORG, details=True), start, end)
    pd.testing.assert_frame_equal(df, world.telemetry_truth(ids, start, end), check_exact=True)
    for resolution in ("day", "week", "month", "year"):
        part1 = wf.daily_consumption(client, DEMO_ORG, start, end, resolution)
        rows = world.daily_consumption_rows(DEMO_ORG, start, end, resolution)
        assert len(part1) + int(part1.attrs["missing_periods"].sum()) == len(rows)
        assert part1["consumption"].sum() == pytest.approx(
            sum(r["consumption"] for r in rows if r["consumption"] is not None), rel=1e-12
        )
