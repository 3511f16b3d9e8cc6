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

from waltero_frames.sim.world import model as world_module
from waltero_frames.sim.world.model import (
    DEMO_ORG,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    HIDDEN_ORG,
    SOUTH_ORG,
    World,
)

PROC, RAW = "meter.value.processed", "meter.value.raw"
T0, T1 = pd.Timestamp("2025-12-01T00:00Z"), pd.Timestamp("2026-12-01T00:00Z")
HEAT_T0 = pd.Timestamp("2024-09-01T00:00Z")  # heat and gas meters: two heating seasons
HEATING = ("heat", "gas")
DEVICE_101 = "11111111-1111-1111-1111-111111111101"


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
    start, end = (pd.Timestamp(x) for x in (start, end))
    start, end = (x.tz_localize("UTC") if x.tzinfo is None else x for x in (start, end))
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
    assert World(0)._base is world._base


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
        first = HEAT_T0 if d["meter_type"] in HEATING else T0
        assert ts[0] == first.value // 10**6 and ts[-1] < T1.value // 10**6
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
    types = world.devices["meter_type"]
    for r in rows:  # others: their first reading (0.0); heat/gas: the delta closed at T0
        assert r["date"] == "2025-12-01"
        ts, proc = world.series(r["deviceId"], PROC)
        i = int(np.searchsorted(ts, T0.value // 10**6))
        want = round(proc[i] - proc[i - 1], 6) if types[r["deviceId"]] in HEATING else 0.0
        assert r["consumption"] == pytest.approx(want, abs=1e-6), r
    rows = world.daily_consumption_rows(DEMO_ORG, HEAT_T0, HEAT_T0 + pd.Timedelta(minutes=1), "day")
    heating = {r["deviceId"] for r in rows if "date" in r}
    assert heating == set(
        types.index[types.isin(HEATING) & (world.devices["organization_id"] == DEMO_ORG)]
    )
    assert all(r["consumption"] == 0.0 for r in rows if "date" in r)
    before = world.daily_consumption_rows(DEMO_ORG, "2024-08-29", "2024-09-01", "day")
    assert len(before) == 144 and all(r["consumption"] is None for r in before)


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


# -- anomalies --------------------------------------------------------------------------
KINDS = {"spike", "negative", "rollover", "gap", "stuck", "night_flow", "low_battery",
         "weak_signal", "multiplier_mismatch"}  # fmt: skip


def _ms(ts) -> int:
    return pd.Timestamp(ts).value // 10**6


def test_every_anomaly_kind_present(world):
    an = world.anomalies
    assert list(an.columns) == ["device_id", "kind", "start", "end", "detail"]
    assert set(an["kind"]) == KINDS
    assert (an["start"] <= an["end"]).all()
    assert (an["start"] >= T0).all() and (an["end"] < T1).all()
    assert an["device_id"].isin(world.devices.index).all()


def _kind(world, kind):
    return list(world.anomalies[world.anomalies["kind"] == kind].itertuples())


def test_gaps_have_no_readings_and_span_hours_to_weeks(world):
    gaps = _kind(world, "gap")
    lengths = []
    for g in gaps:
        for field in world.devices.loc[g.device_id, "fields"]:
            ts, _ = world.window(g.device_id, field, g.start, g.end + pd.Timedelta(seconds=1))
            assert ts.size == 0, (g, field)
        ts, _ = world.series(g.device_id, PROC)
        i = int(np.searchsorted(ts, _ms(g.start)))
        lengths.append((ts[i] - ts[i - 1]) / 3_600_000)
    assert min(lengths) <= 12 and max(lengths) >= 14 * 24


def test_stuck_register_does_not_move(world):
    stuck = _kind(world, "stuck")
    assert {world.devices.loc[s.device_id, "meter_type"] for s in stuck} & {"water_hot", "heat"}
    for s in stuck:
        _, raw = world.window(s.device_id, RAW, s.start, s.end + pd.Timedelta(seconds=1))
        assert raw.size > 0 and (raw == raw[0]).all()
        assert (s.end - s.start) >= pd.Timedelta(days=5)
        _, before = world.window(s.device_id, RAW, s.start - pd.Timedelta(days=5), s.start)
        assert before[-1] > before[0]  # it moved before


def test_leak_has_night_flow_every_night(world):
    (leak,) = _kind(world, "night_flow")
    assert world.devices.loc[leak.device_id, "meter_type"].startswith("water")
    tz = world.orgs.loc[world.devices.loc[leak.device_id, "organization_id"], "timezone"]
    ts, p = world.window(leak.device_id, PROC, leak.start - pd.Timedelta(days=20), leak.end)
    local = _utc(ts).tz_convert(tz)
    frame = pd.DataFrame({"d": np.diff(p, prepend=p[0])}, index=local)
    night = frame[(local.hour >= 1) & (local.hour < 5)]
    per_night = night.groupby(night.index.date)["d"].sum()
    during = per_night[per_night.index >= (leak.start + pd.Timedelta(days=1)).date()]
    before = per_night[per_night.index < leak.start.date()]
    assert len(during) >= 10 and (during > 0).all()
    assert during.min() > before.median()


def test_meter_swap_is_negative_not_rollover(world):
    (swap,) = _kind(world, "negative")
    d = world.devices.loc[swap.device_id]
    ts, raw = world.series(swap.device_id, RAW)
    i = int(np.searchsorted(ts, _ms(swap.start)))
    assert raw[i] < raw[i - 1] and raw[i - 1] < 0.9 * 10 ** d["register_digits"]
    assert raw[i] < 0.001 * 10 ** d["register_digits"]
    assert (np.diff(raw[i:]) >= 0).all()  # keeps rising from the new low level
    day = swap.start.floor("D")
    rows = world.daily_consumption_rows(
        d["organization_id"], day, day + pd.Timedelta(days=1), "day"
    )
    assert next(r for r in rows if r["deviceId"] == swap.device_id)["consumption"] < 0


def test_spikes_jump_and_return(world):
    spikes = _kind(world, "spike")
    assert len(spikes) >= 6
    changes = world.changes()
    for s in spikes:
        fixes = changes[(changes["device_id"] == s.device_id) & (changes["timestamp"] >= s.start)]
        as_of = fixes["changed_at"].min() - pd.Timedelta(milliseconds=1) if len(fixes) else None
        ts, raw = world.series(s.device_id, RAW, as_of=as_of)  # as recorded: uncorrected
        i, j = np.searchsorted(ts, [_ms(s.start), _ms(s.end)])
        jump = raw[i] - raw[i - 1]
        assert jump >= 10 ** (world.devices.loc[s.device_id, "register_digits"] - 4)
        back = raw[j + 1] - raw[j]
        assert back < 0 and abs(jump + back) < 0.01 * jump


def test_rollover_rule_and_multipliers(world):
    from waltero_frames.sim.world.anomalies import ROLLOVERS
    from waltero_frames.sim.world.part1 import rollovers

    rolls = _kind(world, "rollover")
    planned = {f"{str(o + 1) * 8}"[:8] + "-" + f"{n:02d}" for o, n in ROLLOVERS}
    assert {r.device_id[:8] + "-" + r.device_id[-2:] for r in rolls} == planned
    assert len(rolls) == len(planned)  # no misread or swap looks like a rollover
    for r in rolls:
        digits = world.devices.loc[r.device_id, "register_digits"]
        ts, raw = world.series(r.device_id, RAW)
        flagged = ts[rollovers(raw, digits)]
        assert _ms(r.start) in flagged.tolist()


def test_battery_signal_and_multiplier_episodes(world):
    (bat,) = _kind(world, "low_battery")
    _, level = world.series(bat.device_id, "battery.level")
    _, volts = world.series(bat.device_id, "battery.voltage")
    assert level[-1] < 20 and level[:100].min() > 80 and volts[-1] < volts[0] - 0.3
    for w in _kind(world, "weak_signal"):
        _, rssi = world.window(w.device_id, "connection.rssi", w.start, w.end)
        assert rssi.mean() < -108
        if "connection.snr" in world.devices.loc[w.device_id, "fields"]:
            _, snr = world.window(w.device_id, "connection.snr", w.start, w.end)
            assert snr.mean() < 0
    (mm,) = _kind(world, "multiplier_mismatch")
    mult = world.devices.loc[mm.device_id, "multiplier"]
    _, raw = world.window(mm.device_id, RAW, mm.start, mm.end + pd.Timedelta(seconds=1))
    _, proc = world.window(mm.device_id, PROC, mm.start, mm.end + pd.Timedelta(seconds=1))
    np.testing.assert_allclose(proc, np.round(raw * mult * 10, 6))


# -- changelog --------------------------------------------------------------------------
def test_changes_ordered_grouped_and_bounded(world):
    ch = world.changes()
    assert list(ch.columns) == [
        "change_id", "device_id", "organization_id", "field", "timestamp", "previous_value",
        "new_value", "actor", "changed_at", "visible_at",
    ]  # fmt: skip
    assert ch["change_id"].str.fullmatch(r"chg_\d{11}").all() and ch["change_id"].is_unique
    keys = list(zip(ch["changed_at"], ch["change_id"], strict=True))
    assert keys == sorted(keys)
    assert (ch["changed_at"] > pd.Timestamp("2026-05-25T00:00Z")).all()
    assert (ch["changed_at"] < T1).all()
    lag = (ch["visible_at"] - ch["changed_at"]).dt.total_seconds()
    assert lag.between(0, 300).all() and lag.nunique() > 3
    assert ch.groupby("changed_at").size().max() > 200
    assert set(ch["actor"]) == {"user", "system"}
    assert ((ch["changed_at"] - ch["timestamp"]) > pd.Timedelta(days=90)).any()
    assert set(ch["organization_id"]) <= {DEMO_ORG, SOUTH_ORG}
    assert len(world.changes(SOUTH_ORG)) > 0
    assert (world.changes(DEMO_ORG)["organization_id"] == DEMO_ORG).all()
    # one row per changed field: every raw row has its processed twin
    raw, proc = ch[ch["field"] == RAW], ch[ch["field"] == PROC]
    assert len(raw) == len(proc)
    twin = proc.set_index(["device_id", "timestamp", "changed_at"])
    for r in raw.itertuples():
        p = twin.loc[(r.device_id, r.timestamp, r.changed_at)]
        mult = world.devices.loc[r.device_id, "multiplier"]
        assert p["new_value"] == round(r.new_value * mult, 6)
    # previous_value chains: the stored value first, then the prior change's new value
    twice = ch[ch["field"] == RAW].groupby(["device_id", "timestamp"]).filter(lambda g: len(g) > 1)
    assert len(twice) == 2
    assert twice["previous_value"].iloc[1] == twice["new_value"].iloc[0]


def test_as_of_before_and_after_corrections(world):
    ch = world.changes()
    raw = ch[ch["field"] == RAW]
    twice = raw.groupby(["device_id", "timestamp"]).filter(lambda g: len(g) > 1)
    first, second = twice.iloc[0], twice.iloc[1]
    dev, when = first["device_id"], first["timestamp"]
    ms = pd.Timestamp(when).value // 10**6

    def value_at(as_of):
        ts, v = world.series(dev, RAW, as_of=as_of)
        return v[np.searchsorted(ts, ms)]

    eps = pd.Timedelta(milliseconds=1)
    assert value_at(first["changed_at"] - eps) == first["previous_value"]
    assert value_at(first["changed_at"]) == first["new_value"]
    assert value_at(second["changed_at"] - eps) == first["new_value"]
    assert value_at(second["changed_at"]) == second["new_value"]
    assert value_at(None) == second["new_value"]
    # Part 1 sees the misread before the correction and the corrected value after
    org = world.devices.loc[dev, "organization_id"]
    rng = (org, when - pd.Timedelta(days=2), when + pd.Timedelta(milliseconds=1), "day")
    before = world.daily_consumption_rows(*rng, as_of=first["changed_at"] - eps)
    after = world.daily_consumption_rows(*rng)
    assert_rows_equal(before, pandas_part1(world, *rng, as_of=first["changed_at"] - eps))
    assert_rows_equal(after, pandas_part1(world, *rng))
    b = [r["consumption"] for r in before if r["deviceId"] == dev]
    a = [r["consumption"] for r in after if r["deviceId"] == dev]
    mult = world.devices.loc[dev, "multiplier"]
    jump = (first["previous_value"] - second["new_value"]) * mult
    assert b[:-1] == a[:-1] and math.isclose(b[-1] - a[-1], jump, abs_tol=1e-5)


def test_bulk_rerecognition_applies_at_once(world):
    ch = world.changes()
    sizes = ch.groupby("changed_at").size()
    at = sizes.idxmax()
    bulk = ch[(ch["changed_at"] == at) & (ch["field"] == RAW)]
    dev = bulk["device_id"].iloc[0]
    lo, hi = bulk["timestamp"].min(), bulk["timestamp"].max() + pd.Timedelta(seconds=1)
    _, old = world.window(dev, RAW, lo, hi, as_of=at - pd.Timedelta(milliseconds=1))
    _, new = world.window(dev, RAW, lo, hi, as_of=at)
    np.testing.assert_array_equal(old, bulk["previous_value"].to_numpy())
    np.testing.assert_array_equal(new, bulk["new_value"].to_numpy())


# -- runtime state: add_change, fork, clock ---------------------------------------------
def test_add_change_emits_raw_and_processed_rows():
    w = World.for_seed(0)
    n = len(w.changes())
    when = "2026-06-01T10:00:00Z"
    ts, raw = w.series(DEVICE_101, RAW)
    old = int(raw[np.searchsorted(ts, _ms(when))])
    rows = w.add_change(DEVICE_101, RAW, when, old + 5, actor="system", lag=42.5)
    assert [r["field"] for r in rows] == [RAW, PROC]
    assert rows[0]["previous_value"] == old and rows[0]["new_value"] == old + 5
    assert rows[1]["new_value"] == round((old + 5) * 0.001, 6)
    assert rows[0]["changed_at"] == w.now() == T1
    assert rows[0]["visible_at"] - rows[0]["changed_at"] == pd.Timedelta(seconds=42.5)
    assert [r["change_id"] for r in rows] == [f"chg_{n + 1:011d}", f"chg_{n + 2:011d}"]
    ch = w.changes()
    assert len(ch) == n + 2 and ch["change_id"].iloc[-1] == f"chg_{n + 2:011d}"
    ts, raw = w.series(DEVICE_101, RAW)
    assert raw[np.searchsorted(ts, _ms(when))] == old + 5
    assert (
        w.series(DEVICE_101, RAW, as_of=T1 - pd.Timedelta(seconds=1))[1][
            np.searchsorted(ts, _ms(when))
        ]
        == old
    )
    day = w.daily_consumption_rows(DEMO_ORG, "2026-06-01", "2026-06-02", "day")
    assert_rows_equal(day, pandas_part1(w, DEMO_ORG, "2026-06-01", "2026-06-02", "day"))
    other = w.add_change(DEVICE_101, "battery.voltage", "2026-06-01T10:00Z", 3.1,
                         changed_at="2026-11-30T12:00Z")  # fmt: skip
    assert len(other) == 1 and other[0]["previous_value"] != 3.1
    ch = w.changes()
    assert ch["change_id"].iloc[-1] == f"chg_{n + 2:011d}"  # ordered by changed_at first
    for bad in [
        dict(field="nope.field"),
        dict(timestamp="2026-06-01T10:00:01Z"),
        dict(actor="robot"),
        dict(lag=301),
        dict(new_value=1.5),
    ]:
        args = {"field": RAW, "timestamp": when, "new_value": 7, **bad}
        kw = {k: args.pop(k) for k in ("actor", "lag") if k in args}
        with pytest.raises(ValueError):
            w.add_change(DEVICE_101, args["field"], args["timestamp"], args["new_value"], **kw)


def test_fork_is_independent():
    base = World.for_seed(0)
    fork = base.fork()
    assert fork._base is base._base  # immutable arrays shared
    fork.add_change(DEVICE_101, RAW, "2026-06-02T10:00Z", 1)
    fork.set_clock("2026-07-01T00:00Z", speed=0)
    assert len(fork.changes()) == len(base.changes()) + 2
    assert base.now() == T1 and fork.now() == pd.Timestamp("2026-07-01T00:00Z")
    again = fork.fork()
    assert len(again.changes()) == len(fork.changes()) and again.now() == fork.now()
    again.add_change(DEVICE_101, RAW, "2026-06-03T10:00Z", 1, changed_at="2026-06-30T00:00Z")
    assert len(fork.changes()) == len(base.changes()) + 2
    assert World.for_seed(0).changes().equals(base.changes())


def test_running_clock_serves_only_the_past():
    w = World.for_seed(0)
    w.set_clock("2026-05-25T09:00:00Z", speed=3600.0)  # an hour per wall second
    t0 = w.now()
    ts, raw = w.series(DEVICE_101, RAW)
    assert ts[-1] <= _ms(w.now())
    assert ts[-1] >= _ms(t0) - 15 * 60_000
    # the 2026-05-25T09:13:22.512Z correction is not applied yet ...
    ch = w.changes()
    fix = ch[(ch["device_id"] == DEVICE_101) & (ch["field"] == RAW)].iloc[0]
    i = np.searchsorted(ts, _ms(fix["timestamp"]))
    assert raw[i] == fix["previous_value"]
    w.set_clock("2026-05-25T09:13:22.512Z", speed=0.0)
    ts, raw = w.series(DEVICE_101, RAW)
    assert raw[i] == fix["new_value"]
    w.set_clock(None)
    assert w.now() == T1
    with pytest.raises(ValueError):
        w.set_clock("not a time")


# -- telemetry_truth and description ----------------------------------------------------
def test_telemetry_truth_layout(world):
    v1 = world.devices[world.devices["variant"] == "W-Sensor v1"].index[0]
    fields = [RAW, PROC, "battery.voltage", "connection.snr", "meta.firmware"]
    frame = world.telemetry_truth([DEVICE_101, v1], "2026-05-18T22:00Z", "2026-05-19T22:00Z",
                                  fields=fields)  # fmt: skip
    assert frame.index.name == "timestamp" and str(frame.index.tz) == "UTC"
    assert list(frame.columns) == ["device_id", *fields, "value"]
    keys = list(zip(frame.index, frame["device_id"], strict=True))
    assert keys == sorted(keys)
    assert frame.index.min() >= pd.Timestamp("2026-05-18T22:00Z")
    assert frame.index.max() < pd.Timestamp("2026-05-19T22:00Z")
    assert frame.loc[frame["device_id"] == v1, "connection.snr"].isna().all()
    has_raw = frame[RAW].notna()
    mult = world.devices.loc[frame["device_id"], "multiplier"].to_numpy()
    np.testing.assert_allclose(frame["value"][has_raw], np.round(frame[RAW] * mult, 6)[has_raw])
    n = sum(world.window(d, RAW, "2026-05-18T22:00Z", "2026-05-19T22:00Z")[0].size
            for d in (DEVICE_101, v1))  # fmt: skip
    assert has_raw.sum() == n
    default = world.telemetry_truth(DEVICE_101, "2026-05-19", "2026-05-20")
    assert list(default.columns) == ["device_id", RAW, PROC, "battery.voltage",
                                     "connection.rssi", "value"]  # fmt: skip
    assert len(default) == 96  # battery/radio on the hour coincide with meter readings


def test_describe_matches_committed_file(world):
    from pathlib import Path

    text = world.describe()
    for dev in world.devices.index:
        assert dev in text
    for kind in KINDS:
        assert kind in text
    assert DEMO_PASSWORD not in text
    committed = Path(__file__).resolve().parents[1] / "data" / "demo-organization.md"
    assert committed.read_text() == text, (
        "regenerate: python -m waltero_frames.sim.world.model describe"
    )


def test_guide_changelog_example_reproduced():
    for seed in (0, 3):
        first = World.for_seed(seed).changes().iloc[0]
        assert first["device_id"] == DEVICE_101 and first["field"] == RAW
        assert first["timestamp"] == pd.Timestamp("2026-05-20T06:00:00Z")
        assert (first["previous_value"], first["new_value"]) == (1284567, 1234567)
        assert first["actor"] == "user"
        assert first["changed_at"] == pd.Timestamp("2026-05-25T09:13:22.512Z")
