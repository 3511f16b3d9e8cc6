"""flag_anomalies / anomaly_events: every rule on hand-built series with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import waltero_frames as wf
from waltero_frames.analysis.anomalies import RULES, anomaly_events

RAW = "meter.value.raw"


def meter(
    raw, *, device="m1", start="2026-01-05T00:00Z", freq="h", meter_type="electricity", **cols
):
    ts = pd.date_range(start, periods=len(raw), freq=freq, tz="UTC", name="timestamp")
    data = {
        "device_id": pd.array([device] * len(raw), dtype="str"),
        RAW: np.asarray(raw, dtype=float),
    }
    if meter_type is not None:
        data["meter_type"] = meter_type
    data.update(cols)
    return pd.DataFrame(data, index=ts)


def flag(frame, **kw):
    kw.setdefault("multiplier", 1.0)
    kw.setdefault("register_digits", 9)
    return wf.flag_anomalies(frame, **kw)


def ramp(n=200, per_step=10, start=1000):
    return start + per_step * np.arange(n)


def test_single_misread_is_a_spike_and_its_return_not_negative():
    raw = ramp()
    raw[150] += 500_000
    f = flag(meter(raw))
    assert np.flatnonzero(f["spike"]).tolist() == [150]
    assert not f["negative"].any() and not f["rollover"].any()
    assert f["any_flag"].sum() == 1


def test_misread_episode_of_several_readings():
    raw = ramp()
    raw[80:90] += 300_000
    f = flag(meter(raw))
    assert np.flatnonzero(f["spike"]).tolist() == list(range(80, 90))
    ev = anomaly_events(f)
    assert ev[["rule", "n_readings"]].values.tolist() == [["spike", 10]]
    assert ev["start"].iloc[0] == f.index[80] and ev["end"].iloc[0] == f.index[89]


def test_real_surge_is_not_a_spike():
    raw = ramp()
    raw[150:] += 500_000  # the register jumps and keeps its new level
    f = flag(meter(raw))
    assert not f["spike"].any() and not f["negative"].any()


def test_low_misread_and_meter_swap():
    raw = ramp()
    raw[60] -= 900  # reads lower once, comes back
    raw[150:] = 12 + 10 * np.arange(50)  # swap: a new meter starting at 12
    f = flag(meter(raw))
    assert np.flatnonzero(f["spike"]).tolist() == [60]
    assert np.flatnonzero(f["negative"]).tolist() == [150]


def test_rollover_flag():
    raw = (99_000 + 10 * np.arange(200)) % 100_000
    f = flag(meter(raw), register_digits=5)
    assert np.flatnonzero(f["rollover"]).tolist() == [100]
    assert not f["negative"].any() and not f["spike"].any()


def test_gap_flag_and_episode_spans_the_hole():
    raw = ramp(100)
    frame = meter(raw)
    frame = frame.drop(frame.index[40:46])  # 6 readings missing: a 7 h interval
    f = flag(frame)
    assert f.index[f["gap"]].tolist() == [pd.Timestamp("2026-01-06T22:00Z")]
    ev = anomaly_events(f, ["gap"])
    assert ev["start"].tolist() == [pd.Timestamp("2026-01-06T15:00Z")]
    assert ev["end"].tolist() == [pd.Timestamp("2026-01-06T22:00Z")]
    # 3 missing readings: a 4 h interval > 3 × 1 h is a gap; 2 missing (3 h) is not
    assert flag(meter(raw).drop(meter(raw).index[40:43]))["gap"].sum() == 1
    assert flag(meter(raw).drop(meter(raw).index[40:42]))["gap"].sum() == 0
    assert flag(meter(raw).drop(meter(raw).index[40:42]), gap_factor=2.5)["gap"].sum() == 1


def test_stuck_by_meter_type_hours():
    raw = ramp(200).astype(float)
    raw[100:131] = raw[100]  # 30 h without movement (readings 101..130 are zero steps)
    f = flag(meter(raw, meter_type="electricity"))  # electricity: 24 h
    assert np.flatnonzero(f["stuck"]).tolist() == list(range(101, 131))
    assert not flag(meter(raw, meter_type="gas"))["stuck"].any()  # gas: 48 h
    assert flag(meter(raw, meter_type="gas"), stuck_hours={"gas": 30})["stuck"].sum() == 30
    assert flag(meter(raw, meter_type=None), meter_type={"m1": "electricity"})["stuck"].sum() == 30


def test_stuck_needs_enough_time_for_a_coarse_register():
    # one unit every 10 h on average: a 48 h standstill is normal (30 units ≈ 300 h)
    raw = np.repeat(np.arange(100), 10)[:1000].astype(float)
    raw[500:560] = raw[500]
    f = flag(meter(raw, meter_type="electricity"))
    assert not f["stuck"].any()
    assert flag(meter(raw), stuck_units=3)["stuck"].any()


def water_days(days, leak_from=None, leak_to=None, leak=20, tz="Europe/Berlin"):
    ts = pd.date_range("2026-03-01T00:00Z", periods=days * 24, freq="h", tz="UTC")
    local_hour = ts.tz_convert(tz).hour
    use = np.where((local_hour >= 6) & (local_hour < 23), 20, 0)  # nothing at night
    if leak_from is not None:
        inside = (ts >= leak_from) & (ts < leak_to)
        use = use + np.where(inside, leak, 0)
    return meter(np.cumsum(use), start=str(ts[0]), meter_type="water_cold")


def test_night_flow_on_a_leak_in_local_nights():
    frame = water_days(40, "2026-03-15T00:00Z", "2026-03-31T00:00Z")
    f = flag(frame, tz="Europe/Berlin")
    flagged = f.index[f["night_flow"]]
    assert len(flagged)
    local = flagged.tz_convert("Europe/Berlin")
    # whole night cycles (01:00 local to 01:00 next day) inside the leak
    assert local.min() == pd.Timestamp("2026-03-15T01:00", tz="Europe/Berlin")
    assert local.max() < pd.Timestamp("2026-03-31T01:00", tz="Europe/Berlin")
    assert not flag(water_days(40), tz="Europe/Berlin")["night_flow"].any()
    # not a water meter: no night-flow rule
    assert not flag(frame.assign(meter_type="electricity"), tz="Europe/Berlin")["night_flow"].any()


def test_night_flow_needs_enough_register_units_and_a_flat_floor():
    frame = water_days(40, "2026-03-15T00:00Z", "2026-03-31T00:00Z")
    # the floor is 20 units/h: 7 nights x 4 h x 20 units = 560 units in a run
    assert not flag(frame, tz="Europe/Berlin", night_min_units=600)["night_flow"].any()
    assert flag(frame, tz="Europe/Berlin", night_min_units=560)["night_flow"].any()
    # a small leak (5 units/h, 0.35 x the mean hourly use of 340/24) is a flat floor all
    # the same: flagged (the rule compares the night with itself, not with the day)
    small = water_days(40, "2026-03-15T00:00Z", "2026-03-31T00:00Z", leak=5)
    assert flag(small, tz="Europe/Berlin")["night_flow"].any()


def water_hours(use_at_night, days=21, start="2026-03-01T00:00Z", tz="Europe/Berlin"):
    """Hourly water meter: 20 units/h by day, ``use_at_night(day, hour) -> units`` 23-06 h."""
    ts = pd.date_range(start, periods=days * 24, freq="h", tz="UTC")
    local = ts.tz_convert(tz)
    day = (local.normalize() - local[0].normalize()).days
    use = np.where((local.hour >= 6) & (local.hour < 23), 20, 0)
    night = np.array([use_at_night(d, h) for d, h in zip(day, local.hour, strict=True)])
    use = np.where((local.hour >= 6) & (local.hour < 23), use, night)
    return meter(np.cumsum(use), start=str(ts[0]), meter_type="water_cold")


def test_night_flow_an_intermittent_draw_that_never_rests_is_not_a_leak():
    # a building's main inlet: never zero at night, but 2 and 30 units/h alternate (floor
    # 2 = 0.125 x the night mean 16 < night_floor 0.5): not a leak
    inlet = water_hours(lambda d, h: 2 if h % 2 else 30)
    assert not flag(inlet, tz="Europe/Berlin")["night_flow"].any()
    assert flag(inlet, tz="Europe/Berlin", night_floor=0.1)["night_flow"].any()
    # a leak of 6 units/h and a sip at 03:00: floor 6 >= 0.5 x the night mean 6.25
    leak = water_hours(lambda d, h: 6 + (h == 3))
    assert flag(leak, tz="Europe/Berlin")["night_flow"].any()


def test_night_flow_a_leak_running_from_the_first_night_is_flagged_from_that_night():
    """The frame starts inside the leak (no history before it): flagged from its first
    night cycle on (defect 3: the rule compared the night with the median day, which the
    leak raises as much, and flagged nothing)."""
    frame = water_days(14, "2026-03-01T00:00Z", "2026-03-15T00:00Z")  # leak all along
    f = flag(frame, tz="Europe/Berlin")
    local = f.index[f["night_flow"]].tz_convert("Europe/Berlin")
    # the first reading is 01:00 local (UTC+1), the start of the first night cycle
    assert local.min() == pd.Timestamp("2026-03-01T01:00", tz="Europe/Berlin")
    # 14 days from 01:00 local: the last night cycle (Mar 14 01:00 -> Mar 15 00:00 UTC)
    assert local.max() == pd.Timestamp("2026-03-15T00:00", tz="Europe/Berlin")
    assert f["night_flow"].sum() == len(f)  # every reading is in a leaking night cycle
    # one lone leak-like night beside ordinary ones is chance, not a leak
    one = water_hours(lambda d, h: 7 if d == 10 else 0)
    assert not flag(one, tz="Europe/Berlin")["night_flow"].any()


def test_night_flow_on_the_simulator_leak_window_of_notebook_3():
    """Notebook 3 scans the water meters on 1-14 September (Berlin): the leak of ...1133
    is flagged, from the first night its whole night window leaks, and nothing else (not
    the main inlet ...1146, which never rests at night)."""
    from waltero_frames.sim.world.generate import DEMO_ORG
    from waltero_frames.sim.world.model import World

    world = World.for_seed(0)
    devs = world.devices[
        (world.devices["organization_id"] == DEMO_ORG)
        & world.devices["meter_type"].isin(["water_cold", "water_hot"])
    ]
    leak = world.anomalies[world.anomalies["kind"] == "night_flow"].iloc[0]
    assert leak["device_id"].endswith("1133")
    berlin = "Europe/Berlin"
    for first_day in ("2026-09-01", "2026-09-03"):  # the notebook's window; one inside
        start = pd.Timestamp(first_day, tz=berlin)
        readings = world.telemetry_truth(
            list(devs.index), start, start + pd.Timedelta(days=14), ["meter.value.raw"]
        )
        f = wf.flag_anomalies(
            readings,
            meter_type=devs["meter_type"],
            multiplier=devs["multiplier"],
            register_digits=devs["register_digits"],
            tz=berlin,
        )
        events = anomaly_events(f, rules=["night_flow"])
        assert events["device_id"].tolist() == [leak["device_id"]], events
        begin = events["start"].iloc[0].tz_convert(berlin)
        # the leak starts 02:00 local on 1 September, inside that first night window:
        # the first whole leaking night is 2 September; inside the leak, the first night
        assert begin <= max(start, pd.Timestamp("2026-09-02", tz=berlin)) + pd.Timedelta(hours=1)
        assert events["end"].iloc[0] >= leak["end"] - pd.Timedelta(hours=2)


def test_low_battery_with_hysteresis_and_voltage():
    levels = [50, 19, 22, 19, 24, 30, 18]
    frame = meter(ramp(7), **{"battery.level": levels})
    assert flag(frame)["low_battery"].tolist() == [False, True, True, True, True, False, True]
    volts = [3.6, 3.05, 3.12, 3.2, 3.0, np.nan, 3.5]
    frame = meter(ramp(7), **{"battery.voltage": volts})
    assert flag(frame)["low_battery"].tolist() == [False, True, True, False, True, False, False]


def test_weak_signal_with_hysteresis():
    rssi = [-80, -110, -103, -99, -108, np.nan, -70]
    f = flag(meter(ramp(7), **{"connection.rssi": rssi}))
    assert f["weak_signal"].tolist() == [False, True, True, False, True, False, False]


def test_multiplier_mismatch():
    raw = ramp(20)
    processed = np.round(raw * 0.001, 6)
    processed[5:8] = np.round(raw[5:8] * 0.01, 6)
    frame = meter(raw, **{"meter.value.processed": processed})
    f = flag(frame, multiplier=0.001)
    assert np.flatnonzero(f["multiplier_mismatch"]).tolist() == [5, 6, 7]
    # rounding to 6 decimals is not a mismatch
    f = flag(meter(raw, **{"meter.value.processed": np.round(raw * 0.0011, 6)}), multiplier=0.0011)
    assert not f["multiplier_mismatch"].any()


def test_battery_rows_between_meter_rows_and_any_flag():
    m = meter(ramp(200))
    aux = pd.DataFrame(
        {"device_id": pd.array(["m1"] * 3, dtype="str"), "battery.level": [80.0, 10.0, 10.0]},
        index=pd.DatetimeIndex(
            pd.to_datetime(
                ["2026-01-05T00:30Z", "2026-01-05T01:30Z", "2026-01-05T02:30Z"], utc=True
            ),
            name="timestamp",
        ),
    )
    frame = pd.concat([m, aux]).sort_index(kind="stable")
    f = flag(frame)
    assert f["low_battery"].sum() == 2 and not f["gap"].any()
    assert (f["any_flag"] == f[list(RULES)].any(axis=1)).all()


def test_several_devices_unsorted_input_keeps_rows_and_is_not_mutated():
    a = ramp()
    a[150] += 500_000
    b = ramp(per_step=3)
    b[50] += 700_000
    frame = pd.concat([meter(a, device="a"), meter(b, device="b")]).sample(frac=1.0, random_state=3)
    before = frame.copy(deep=True)
    f = flag(frame)
    pd.testing.assert_frame_equal(frame, before)
    pd.testing.assert_index_equal(f.index, frame.index)
    got = sorted(zip(f.loc[f["spike"], "device_id"], f.index[f["spike"]], strict=True))
    assert got == [("a", meter(a).index[150]), ("b", meter(b).index[50])]
    assert list(f.columns[: len(frame.columns)]) == list(frame.columns)
    in_order = anomaly_events(flag(frame.sort_index(kind="stable")))
    pd.testing.assert_frame_equal(anomaly_events(f), in_order)
    assert in_order[["device_id", "rule"]].values.tolist() == [["b", "spike"], ["a", "spike"]]


def test_empty_single_and_bad_thresholds():
    empty = flag(meter(ramp(1)).iloc[:0])
    assert len(empty) == 0
    for rule in (*RULES, "any_flag"):
        assert empty[rule].dtype == bool
    one = flag(meter(ramp(1)))
    assert not one["any_flag"].any()
    with pytest.raises(ValueError, match="spike_facto"):
        flag(meter(ramp(5)), spike_facto=3)
    with pytest.raises(ValueError, match="Mars/Base"):
        flag(water_days(10), tz="Mars/Base")
    with pytest.raises(ValueError, match="Mars/Base"):
        flag(meter(ramp(5)), tz="Mars/Base")  # no water meter: still checked
    ev = anomaly_events(empty)
    assert list(ev.columns) == ["device_id", "rule", "start", "end", "n_readings", "detail"]
    with pytest.raises(ValueError, match="nonsense"):
        anomaly_events(one, ["nonsense"])


@pytest.mark.parametrize(
    "tz",
    [
        "Europe/Berlin",
        "Australia/Sydney",
        "Australia/Lord_Howe",
        "Asia/Kathmandu",
        "America/St_Johns",
        "UTC",
    ],
)
def test_local_wall_clock_table_matches_pandas(tz):
    from waltero_frames.analysis._frames import local_wall_ns

    rng = np.random.default_rng(1)
    lo, hi = pd.Timestamp("2025-01-01", tz="UTC").value, pd.Timestamp("2027-01-01", tz="UTC").value
    ts = np.sort(rng.integers(lo, hi, 20_000))
    ts[:50] = (
        pd.date_range("2026-04-04T14:00Z", periods=50, freq="6min").as_unit("ns").asi8
    )  # DST ends
    expected = (
        pd.DatetimeIndex(ts.view("M8[ns]")).tz_localize("UTC").tz_convert(tz).tz_localize(None).asi8
    )
    np.testing.assert_array_equal(local_wall_ns(ts, tz), expected)


def test_device_blocks_give_the_same_flags(monkeypatch):
    import waltero_frames.analysis.anomalies as an

    parts = []
    for k in range(7):
        raw = ramp(300, per_step=3 + k).astype(float)
        raw[50 + k] += 400_000  # a misread per device
        raw[200:240] = raw[200]  # stuck: 39 zero steps over 39 h
        frame = meter(raw, device=f"d{k}", **{"battery.level": np.linspace(60, 10 + k, 300)})
        parts.append(frame.drop(frame.index[100:106]))  # a gap
    readings = pd.concat(parts).sort_index(kind="stable")
    whole = flag(readings)
    monkeypatch.setattr(an, "BLOCK_ROWS", 500)
    assert len(list(an._blocks(np.arange(0, 7 * 294, 294), np.arange(294, 8 * 294, 294)))) > 1
    pd.testing.assert_frame_equal(flag(readings), whole)
    assert whole["spike"].sum() == 7 and whole["gap"].sum() == 7 and whole["stuck"].sum() == 7 * 39


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    where=st.integers(5, 298),
    width=st.integers(1, 4),
    digit=st.integers(3, 6),
    surge=st.booleans(),
)
def test_property_misread_found_surge_not(seed, where, width, digit, surge):
    """A digit misread (a jump of 10**digit that comes back) is a spike exactly where it
    sits and nothing else; the same jump that stays (a surge) is no spike."""
    rng = np.random.default_rng(seed)
    raw = 10**7 + np.cumsum(rng.poisson(rng.uniform(0.5, 20), 300)).astype(float)
    if surge:
        raw[where:] += 10**digit
    else:
        raw[where : where + width] += 10**digit
    f = flag(meter(raw, meter_type="electricity"))
    if surge:
        assert not f["spike"].any() and not f["negative"].any()
    else:
        end = min(where + width, 300)
        returns = end < 300
        expected = list(range(where, end)) if returns else []
        assert np.flatnonzero(f["spike"]).tolist() == expected
        assert not f["negative"].any() or not returns


def test_world_demo_anomalies_recovered():
    """The simulator's injected anomalies: precision and recall >= 0.9 for every kind
    (episode overlap; see bench/anomaly_recovery.py)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.anomaly_recovery import recovery

    table, info = recovery(0, "all")
    assert set(table.index) == set(RULES) and (table["truth"] > 0).all()
    assert (table["precision"] >= 0.9).all() and (table["recall"] >= 0.9).all(), table


#: Measured (bench/anomaly_recovery.py --inside): 14-day windows starting at each truth
#: episode's first reading / midpoint, demo org, seeds 0-3 summed. Kind -> (windows,
#: found, flagged, true positives) per position. Zero recall rows are events a window
#: cannot see without the reading before its start (see the bench's docstring).
INSIDE_FIGURES = {
    ("gap", "first"): (16, 0, 0, 0),
    ("gap", "middle"): (16, 0, 0, 0),
    ("low_battery", "first"): (4, 4, 5, 5),
    ("low_battery", "middle"): (4, 4, 4, 4),
    ("multiplier_mismatch", "first"): (4, 4, 4, 4),
    ("multiplier_mismatch", "middle"): (4, 4, 4, 4),
    ("negative", "first"): (4, 0, 0, 0),
    ("negative", "middle"): (4, 0, 0, 0),
    ("night_flow", "first"): (4, 4, 4, 4),
    ("night_flow", "middle"): (4, 4, 4, 4),
    ("rollover", "first"): (16, 0, 4, 4),
    ("rollover", "middle"): (16, 0, 4, 4),
    ("spike", "first"): (32, 0, 0, 0),
    ("spike", "middle"): (32, 0, 0, 0),
    ("stuck", "first"): (8, 8, 8, 8),
    ("stuck", "middle"): (8, 8, 8, 8),
    ("weak_signal", "first"): (4, 4, 4, 4),
    ("weak_signal", "middle"): (4, 4, 4, 4),
}


@pytest.mark.slow
def test_windows_starting_inside_episodes_recall_and_precision():
    """Every rule on windows that start inside an episode (no history before it): the
    figures of the recovery bench, seeds 0-3. Every episode that is still visible in such
    a window (a run of readings: night flow, stuck, battery, radio, multiplier) is found
    with precision 1; night_flow was 0 of 4 at the episode's start before the flat-floor
    rule."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.anomaly_recovery import recovery_inside

    table = recovery_inside(seeds=(0, 1, 2, 3), org="demo")
    got = {
        key: (row.windows, row.found, row.flagged, row.tp_ours)
        for key, row in zip(table.index, table.itertuples(), strict=True)
    }
    assert got == INSIDE_FIGURES
    assert (table["precision"] == 1.0).all()
