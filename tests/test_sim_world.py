"""The simulator's World: fleet, readings, Part 1 ground truth, anomalies, changelog.

Part 1 is checked against an independent pandas computation of the deltas of
``series()`` (diff, rollover rule, groupby period), for every device and period of the
demo year.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from waltero_frames.sim import world as world_module
from waltero_frames.sim.world import (
    DEMO_ORG,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    HIDDEN_ORG,
    SOUTH_ORG,
    World,
)

PROC, RAW = "meter.value.processed", "meter.value.raw"
T0, T1 = pd.Timestamp("2025-12-01T00:00Z"), pd.Timestamp("2026-12-01T00:00Z")
DEVICE_101 = "11111111-1111-1111-1111-111111111101"


@pytest.fixture(scope="module")
def world() -> World:
    return World.for_seed(0)


def _utc(ms) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(np.asarray(ms), unit="ms", utc=True))


# -- an independent Part 1 (pandas) -----------------------------------------------------
def _period_key(t: pd.Series, resolution: str) -> pd.Series:
    day = t.dt.floor("D")
    if resolution == "day":
        return day
    if resolution == "week":
        return day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    naive = day.dt.tz_localize(None)
    if resolution == "month":
        return (naive - pd.to_timedelta(naive.dt.day - 1, unit="D")).dt.tz_localize("UTC")
    return (naive - pd.to_timedelta(naive.dt.day_of_year - 1, unit="D")).dt.tz_localize("UTC")


def _period_starts(start: pd.Timestamp, end: pd.Timestamp, resolution: str) -> list:
    last = end - pd.Timedelta(milliseconds=1)
    keys = _period_key(pd.Series([start, last]), resolution)
    freq = {"day": "D", "week": "7D", "month": "MS", "year": "YS"}[resolution]
    return list(pd.date_range(keys.iloc[0], keys.iloc[1], freq=freq))


def pandas_part1(world: World, org: str, start, end, resolution: str, as_of=None) -> list:
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    starts = _period_starts(start, end, resolution)
    rows = []
    for dev, d in world.devices[world.devices["organization_id"] == org].iterrows():
        ts, p = world.series(dev, PROC, as_of)
        _, raw = world.series(dev, RAW, as_of)
        df = pd.DataFrame({"t": _utc(ts), "p": p, "raw": raw.astype(float)})
        size = 10 ** d["register_digits"]
        prev = df["raw"].shift()
        roll = (df["raw"] < prev) & (prev >= 0.9 * size) & (df["raw"] < 0.1 * size)
        delta = df["p"].diff().fillna(0.0) + roll * (size * d["multiplier"])
        sel = (df["t"] >= start) & (df["t"] < end)
        sums = delta[sel].groupby(_period_key(df["t"][sel], resolution)).sum()
        head = {"deviceId": dev}
        name = d["name"] or d["external_id"]
        if name is not None:
            head["deviceName"] = name
        head["serialNumber"] = d["serial_number"]
        for s in starts:
            if s in sums.index:
                rows.append({**head, "date": s.strftime("%Y-%m-%d"), "consumption": sums[s]})
            else:
                rows.append({**head, "consumption": None})
    return rows


def assert_rows_equal(got: list, want: list) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert {k: v for k, v in g.items() if k != "consumption"} == {
            k: v for k, v in w.items() if k != "consumption"
        }
        if w["consumption"] is None:
            assert g["consumption"] is None and "date" not in g
        else:
            assert isinstance(g["consumption"], float)
            assert g["consumption"] == round(g["consumption"], 6)
            assert math.isclose(g["consumption"], w["consumption"], abs_tol=1.5e-6), (g, w)


# -- determinism and fleet --------------------------------------------------------------
def test_deterministic_per_seed(world):
    fresh = World(world_module._generate.__wrapped__(0))
    pd.testing.assert_frame_equal(fresh.devices, world.devices)
    pd.testing.assert_frame_equal(fresh.changes(), world.changes())
    pd.testing.assert_frame_equal(fresh.anomalies, world.anomalies)
    for dev in world.devices.index:
        for field in world.devices.loc[dev, "fields"]:
            a, b = fresh.series(dev, field), world.series(dev, field)
            np.testing.assert_array_equal(a[0], b[0])
            np.testing.assert_array_equal(a[1], b[1])
    other = World.for_seed(1)
    pd.testing.assert_frame_equal(other.devices, world.devices)  # layout is fixed
    assert not np.array_equal(other.series(DEVICE_101, RAW)[1], world.series(DEVICE_101, RAW)[1])
    assert World.for_seed(0)._base is world._base  # cached per seed


def test_orgs_and_users(world):
    orgs = world.orgs
    assert orgs.loc[DEMO_ORG, "name"] == "Demo Housing"
    assert orgs.loc[DEMO_ORG, "timezone"] == "Europe/Berlin"
    assert orgs.loc[SOUTH_ORG, "timezone"] == "Australia/Sydney"
    assert orgs["readable"].to_dict() == {DEMO_ORG: True, SOUTH_ORG: True, HIDDEN_ORG: False}
    user = world.users[DEMO_USERNAME]
    assert (DEMO_USERNAME, DEMO_PASSWORD) == ("analyst@example.com", "waltero-demo")
    assert user["password"] == DEMO_PASSWORD
    assert set(user["organizations"]) == {DEMO_ORG, SOUTH_ORG}


def test_fleet_requirements(world):
    dev = world.devices
    demo = dev[dev["organization_id"] == DEMO_ORG]
    assert len(demo) >= 40
    assert 0 < (dev["organization_id"] == SOUTH_ORG).sum() < len(demo)
    assert 0 < (dev["organization_id"] == HIDDEN_ORG).sum() < len(demo)
    assert set(demo["meter_type"]) == {"water_cold", "water_hot", "gas", "electricity", "heat"}
    units = demo.groupby("meter_type")["unit"].agg(set).to_dict()
    assert units == {
        "water_cold": {"m3"},
        "water_hot": {"m3"},
        "gas": {"m3"},
        "electricity": {"kWh"},
        "heat": {"kWh", "MWh"},
    }
    assert {0.001, 0.01, 0.1, 1.0, 10.0} <= set(demo["multiplier"])
    assert set(demo["register_digits"]) == {5, 6, 7, 8, 9}
    assert set(demo["variant"]) == {"W-Sensor v1", "W-Sensor v2"}
    v1 = dev[dev["variant"] == "W-Sensor v1"]["fields"].iloc[0]
    v2 = dev[dev["variant"] == "W-Sensor v2"]["fields"].iloc[0]
    assert set(v2) - set(v1) == {"connection.snr", "battery.level"}
    assert {PROC, RAW, "battery.voltage", "connection.rssi"} <= set(dev.loc[DEVICE_101, "fields"])
    assert set(dev["cadence_s"]) == {900, 1800, 3600}
    assert (demo["name"] == "").sum() >= 3
    assert dev["device_id" if "device_id" in dev else "serial_number"].is_unique
    assert (
        dev.index.is_unique and dev["external_id"].dropna().replace("", np.nan).dropna().is_unique
    )


def test_series_values_and_types(world):
    mismatch = world.anomalies[world.anomalies["kind"] == "multiplier_mismatch"]
    for dev, d in world.devices.iterrows():
        ts, raw = world.series(dev, RAW)
        ts_p, proc = world.series(dev, PROC)
        np.testing.assert_array_equal(ts, ts_p)
        assert ts[0] == T0.value // 10**6 and ts[-1] < T1.value // 10**6
        steps = np.diff(ts)
        assert (steps % (d["cadence_s"] * 1000) == 0).all() and (steps > 0).all()
        assert raw.dtype == np.int64 and proc.dtype == np.float64
        assert (raw >= 0).all() and (raw < 10 ** d["register_digits"]).all()
        expected = np.round(raw * d["multiplier"], 6)
        odd = _utc(ts[proc != expected])
        episodes = mismatch[mismatch["device_id"] == dev]
        inside = np.zeros(len(odd), dtype=bool)
        for e in episodes.itertuples():
            inside |= (odd >= e.start) & (odd <= e.end)
        assert inside.all(), (dev, odd[~inside][:3])
        aux = {f: world.series(dev, f) for f in d["fields"] if not f.startswith("meter.")}
        assert aux["battery.voltage"][1].dtype == np.float64
        assert aux["connection.rssi"][1].dtype == np.int64
        assert aux["meta.temperature"][1].dtype == np.float64
        assert isinstance(aux["meta.firmware"][1][0], str)
        if "battery.level" in aux:
            assert aux["battery.level"][1].dtype == np.int64
            assert aux["connection.snr"][1].dtype == np.float64
        assert np.diff(aux["battery.voltage"][0]).min() >= 3_600_000


# -- Part 1 -----------------------------------------------------------------------------
@pytest.mark.parametrize("resolution", ["day", "week", "month", "year"])
def test_part1_full_year_matches_pandas(world, resolution):
    for org in world.orgs.index:
        got = world.daily_consumption_rows(org, T0, T1, resolution)
        assert_rows_equal(got, pandas_part1(world, org, T0, T1, resolution))


def test_part1_guide_week_partial_days_and_null_rows(world):
    start, end = "2026-05-18T22:00:00.000Z", "2026-05-25T22:00:00.000Z"
    got = world.daily_consumption_rows(DEMO_ORG, start, end, "day")
    assert_rows_equal(got, pandas_part1(world, DEMO_ORG, start, end, "day"))
    dates = {r["date"] for r in got if "date" in r}
    assert min(dates) == "2026-05-18" and max(dates) == "2026-05-25"  # cut first/last days
    gap_device = "11111111-1111-1111-1111-111111111146"
    nulls = [r for r in got if r["consumption"] is None]
    assert nulls and {r["deviceId"] for r in nulls} == {gap_device}
    assert all("date" not in r for r in nulls)
    # The cut first day holds only the 22:00-24:00 deltas: pandas on those readings.
    ts, p = world.series(DEVICE_101, PROC)
    sel = (ts >= pd.Timestamp(start).value // 10**6) & (
        ts < pd.Timestamp("2026-05-19").value // 10**6
    )
    first = np.flatnonzero(sel)
    hand = p[first[-1]] - p[first[0] - 1]
    row = next(r for r in got if r["deviceId"] == DEVICE_101)
    assert row["date"] == "2026-05-18" and math.isclose(row["consumption"], hand, abs_tol=1e-6)


def test_part1_random_ranges_match_pandas(world):
    rng = np.random.default_rng(7)
    span = (T1 - T0).total_seconds()
    for _ in range(12):
        a, b = np.sort(rng.uniform(-0.02, 1.02, 2)) * span
        start = T0 + pd.Timedelta(seconds=round(a / 60) * 60)
        end = max(T0 + pd.Timedelta(seconds=round(b / 60) * 60), start + pd.Timedelta(minutes=1))
        resolution = ["day", "week", "month", "year"][int(rng.integers(4))]
        org = [DEMO_ORG, SOUTH_ORG][int(rng.integers(2))]
        got = world.daily_consumption_rows(org, start, end, resolution)
        assert_rows_equal(got, pandas_part1(world, org, start, end, resolution))


def test_part1_first_reading_and_before_data(world):
    rows = world.daily_consumption_rows(DEMO_ORG, T0, T0 + pd.Timedelta(minutes=1), "day")
    assert len(rows) == 48
    assert all(r["date"] == "2025-12-01" and r["consumption"] == 0.0 for r in rows)
    before = world.daily_consumption_rows(DEMO_ORG, "2025-11-29", "2025-12-01", "day")
    assert len(before) == 96 and all(r["consumption"] is None for r in before)


def test_part1_device_names(world):
    rows = world.daily_consumption_rows(DEMO_ORG, "2026-01-05", "2026-01-06", "day")
    by_id = {r["deviceId"]: r for r in rows}
    dev = world.devices
    for d, info in dev[dev["organization_id"] == DEMO_ORG].iterrows():
        expected = info["name"] or info["external_id"]
        assert by_id[d]["deviceName"] == expected
    empty = dev[(dev["name"] == "") & (dev["external_id"] != "")].index
    assert len(empty) >= 3 and all(by_id[d]["deviceName"].startswith("WS-") for d in empty)
    assert "" in {r["deviceName"] for r in rows}
    south = world.daily_consumption_rows(SOUTH_ORG, "2026-01-05", "2026-01-06", "day")
    assert sum("deviceName" not in r for r in south) == 1


def test_part1_rollovers_unwrapped(world):
    rolls = world.anomalies[world.anomalies["kind"] == "rollover"]
    assert len(rolls) >= 4
    assert len(set(world.devices.loc[rolls["device_id"], "multiplier"])) >= 4
    for r in rolls.itertuples():
        org = world.devices.loc[r.device_id, "organization_id"]
        day = r.start.floor("D")
        rows = world.daily_consumption_rows(org, day, day + pd.Timedelta(days=1), "day")
        value = next(x["consumption"] for x in rows if x["deviceId"] == r.device_id)
        ts, p = world.series(r.device_id, PROC)
        i = int(np.searchsorted(ts, r.start.value // 10**6))
        assert p[i] < p[i - 1]  # the register did wrap ...
        assert 0 <= value < 0.05 * world.series(r.device_id, PROC)[1].max()  # ... Part 1 did not


def test_part1_dst_days_are_utc_days(world):
    for org, day in [(DEMO_ORG, "2026-03-29"), (DEMO_ORG, "2026-10-25"),
                     (SOUTH_ORG, "2026-04-05"), (SOUTH_ORG, "2026-10-04")]:  # fmt: skip
        start = pd.Timestamp(day, tz="UTC")
        rows = world.daily_consumption_rows(org, start, start + pd.Timedelta(days=1), "day")
        assert {r["date"] for r in rows if "date" in r} == {day}
        for r in rows:
            if r["consumption"] is None:
                continue
            cadence = world.devices.loc[r["deviceId"], "cadence_s"]
            ts, _ = world.window(r["deviceId"], PROC, start, start + pd.Timedelta(days=1))
            assert ts.size == 86400 // cadence  # 24 h of readings, not 23 or 25


def test_part1_bad_arguments(world):
    with pytest.raises(ValueError, match="fortnight"):
        world.daily_consumption_rows(DEMO_ORG, T0, T1, "fortnight")
    with pytest.raises(ValueError, match="nope"):
        world.daily_consumption_rows("nope", T0, T1, "day")
    with pytest.raises(ValueError, match="after"):
        world.daily_consumption_rows(DEMO_ORG, T1, T0, "day")
