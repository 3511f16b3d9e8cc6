"""apply_changes / diff_readings: last-wins, conflicts, new rows, round trip, World truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import waltero_frames as wf

RAW, PROC = "meter.value.raw", "meter.value.processed"


def frame(rows):
    """rows: (iso ts, device, raw, battery) → telemetry frame with value = raw × 0.01."""
    idx = pd.DatetimeIndex(pd.to_datetime([r[0] for r in rows], utc=True), name="timestamp")
    raw = np.array([r[2] for r in rows], dtype=float)
    return pd.DataFrame(
        {
            "device_id": pd.array([r[1] for r in rows], dtype="str"),
            RAW: raw,
            "battery.voltage": [r[3] for r in rows],
            "value": np.round(raw * 0.01, 6),
        },
        index=idx,
    )


def changes(rows):
    """rows: (change_id, changed_at, device, field, ts, previous, new)."""
    return pd.DataFrame(
        {
            "change_id": [r[0] for r in rows],
            "device_id": [r[2] for r in rows],
            "field": [r[3] for r in rows],
            "timestamp": pd.to_datetime([r[4] for r in rows], utc=True),
            "previous_value": [r[5] for r in rows],
            "new_value": [r[6] for r in rows],
            "actor": "user",
        },
        index=pd.DatetimeIndex(pd.to_datetime([r[1] for r in rows], utc=True), name="changed_at"),
    )


BASE = frame(
    [
        ("2026-05-20T05:00Z", "a", 1000, 3.6),
        ("2026-05-20T06:00Z", "a", 1500, np.nan),
        ("2026-05-20T06:00Z", "b", 70, 3.5),
        ("2026-05-20T07:00Z", "a", 1010, 3.6),
    ]
)


def test_last_change_wins_by_changed_at_then_id_and_value_recomputed():
    log = changes(
        [  # given out of order on purpose
            ("chg_3", "2026-05-26T00:00Z", "a", RAW, "2026-05-20T06:00Z", 1400, 1005),
            ("chg_1", "2026-05-25T00:00Z", "a", RAW, "2026-05-20T06:00Z", 1500, 1600),
            ("chg_2", "2026-05-26T00:00Z", "a", RAW, "2026-05-20T06:00Z", 1600, 1400),
        ]
    )
    out = wf.apply_changes(BASE, log)
    row = out[(out["device_id"] == "a") & (out.index == "2026-05-20T06:00Z")]
    assert row[RAW].tolist() == [1005.0]
    assert row["value"].tolist() == [10.05]
    assert len(out.attrs["conflicts"]) == 0  # the chain 1500→1600→1400→1005 is consistent
    pd.testing.assert_frame_equal(out.iloc[[0, 2, 3]], BASE.iloc[[0, 2, 3]])


def test_conflicts_reported_not_hidden():
    log = changes(
        [
            ("chg_1", "2026-05-25T00:00Z", "a", RAW, "2026-05-20T06:00Z", 1499, 1005),
            ("chg_2", "2026-05-25T00:00Z", "b", RAW, "2026-05-20T06:00Z", 70, 71),
        ]
    )
    out = wf.apply_changes(BASE, log)
    conf = out.attrs["conflicts"]
    assert conf["change_id"].tolist() == ["chg_1"]
    assert conf["expected_previous"].tolist() == [1500.0]
    assert conf.index.name == "changed_at"
    assert out[RAW].tolist() == [1000, 1005, 71, 1010]  # applied anyway


def test_change_for_missing_reading_adds_a_row_and_new_field_a_column():
    log = changes(
        [
            ("chg_1", "2026-05-25T00:00Z", "a", RAW, "2026-05-19T06:00Z", np.nan, 900),
            (
                "chg_2",
                "2026-05-25T00:00Z",
                "b",
                "meta.temperature",
                "2026-05-20T06:00Z",
                np.nan,
                21.5,
            ),
        ]
    )
    out = wf.apply_changes(BASE, log)
    assert len(out) == 5 and out.index.is_monotonic_increasing
    first = out.iloc[0]
    assert first["device_id"] == "a" and first[RAW] == 900 and first["value"] == 9.0
    assert np.isnan(first["battery.voltage"])
    assert out["meta.temperature"].notna().sum() == 1
    pd.testing.assert_frame_equal(
        BASE,
        frame(
            [
                ("2026-05-20T05:00Z", "a", 1000, 3.6),
                ("2026-05-20T06:00Z", "a", 1500, np.nan),
                ("2026-05-20T06:00Z", "b", 70, 3.5),
                ("2026-05-20T07:00Z", "a", 1010, 3.6),
            ]
        ),
    )


def test_unknown_multiplier_for_a_new_device_raises():
    log = changes([("chg_1", "2026-05-25T00:00Z", "zzz", RAW, "2026-05-19T06:00Z", np.nan, 9)])
    with pytest.raises(ValueError, match="zzz"):
        wf.apply_changes(BASE, log)
    out = wf.apply_changes(BASE, log, multiplier={"zzz": 0.5})
    assert out.loc[out["device_id"] == "zzz", "value"].tolist() == [4.5]


def test_diff_layout_and_round_trip_with_added_and_removed_rows():
    new = BASE.copy()
    new.iloc[1, new.columns.get_loc(RAW)] = 1005.0
    new.iloc[1, new.columns.get_loc("value")] = 10.05
    new = new.drop(new.index[[3]])
    new = pd.concat([new, frame([("2026-05-21T00:00Z", "c", 5, 3.0)])])
    d = wf.diff_readings(BASE, new)
    assert d.index.name == "changed_at" and d.index.isna().all()
    assert list(d.columns) == [
        "change_id",
        "device_id",
        "field",
        "timestamp",
        "previous_value",
        "new_value",
        "actor",
    ]
    assert d["change_id"].isna().all() and d["actor"].isna().all()
    expected = pd.DataFrame(
        {
            "device_id": ["a", "a", "a", "c", "c"],
            "field": [RAW, "battery.voltage", RAW, "battery.voltage", RAW],
            "previous_value": [1500.0, 3.6, 1010.0, np.nan, np.nan],
            "new_value": [1005.0, np.nan, np.nan, 3.0, 5.0],
        }
    )
    got = d[["device_id", "field", "previous_value", "new_value"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    back = wf.apply_changes(BASE, d, multiplier=0.01)
    pd.testing.assert_frame_equal(back, new.sort_index(kind="stable"), check_like=True)
    assert len(wf.diff_readings(new, new)) == 0


keys = st.lists(
    st.tuples(st.integers(0, 30), st.sampled_from(["a", "b", "c"])),
    min_size=0,
    max_size=25,
    unique=True,
)


@settings(max_examples=60, deadline=None)
@given(old_keys=keys, new_keys=keys, data=st.data())
def test_property_apply_diff_round_trip(old_keys, new_keys, data):
    def build(ks):
        rows = []
        for h, dev in sorted(ks):
            raw = data.draw(st.integers(0, 10**6))
            volt = data.draw(st.one_of(st.just(np.nan), st.floats(2.5, 3.7)))
            rows.append(
                (pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(hours=h), dev, raw, volt)
            )
        f = frame(rows) if rows else frame([("2026-01-01", "a", 0, 1.0)]).iloc[:0]
        return f.sort_index(kind="stable")

    old, new = build(old_keys), build(new_keys)
    new = (
        new.iloc[np.lexsort((new["device_id"].to_numpy(dtype=object), new.index.asi8))]
        if len(new)
        else new
    )
    back = wf.apply_changes(old, wf.diff_readings(old, new), multiplier=0.01)
    back.attrs = {}
    pd.testing.assert_frame_equal(back, new, check_like=True, check_index_type=False)


def test_world_changelog_replays_to_the_corrected_series():
    from waltero_frames.sim.world.model import World

    world = World.for_seed(0)
    dev = "11111111-1111-1111-1111-111111111110"  # misread, wrong user fix, then system fix
    window = ("2026-07-03T00:00Z", "2026-07-04T00:00Z")
    recorded = world.telemetry_truth([dev], *window, fields=[RAW, PROC], as_of="2026-07-05T00:00Z")
    final = world.telemetry_truth([dev], *window, fields=[RAW, PROC])
    log = world.changes()
    log = log[log["device_id"] == dev].set_index("changed_at")
    assert len(log) == 4  # two corrections × (raw, processed)
    out = wf.apply_changes(recorded, log)
    pd.testing.assert_frame_equal(
        out.drop(columns="value"), final.drop(columns="value"), check_like=True
    )
    np.testing.assert_allclose(out["value"], final["value"], rtol=0, atol=1e-9)
    assert len(out.attrs["conflicts"]) == 0
    # replaying the same log on the corrected frame: the frame had diverged from the
    # first change's previous_value → reported
    again = wf.apply_changes(final, log)
    assert set(again.attrs["conflicts"]["field"]) == {RAW, PROC}
    pd.testing.assert_frame_equal(
        again.drop(columns="value"), final.drop(columns="value"), check_like=True
    )


def test_text_fields_diff_and_apply():
    old = BASE.assign(**{"meta.firmware": ["1.8.2", "1.8.2", "2.3.1", "1.8.2"]})
    new = old.assign(**{"meta.firmware": ["1.8.2", "1.9.0", "2.3.1", None]})
    d = wf.diff_readings(old, new)
    assert d["field"].tolist() == ["meta.firmware", "meta.firmware"]
    assert d["new_value"].tolist()[0] == "1.9.0" and pd.isna(d["new_value"].tolist()[1])
    back = wf.apply_changes(old, d)
    assert back["meta.firmware"].tolist()[:2] == ["1.8.2", "1.9.0"]
    assert pd.isna(back["meta.firmware"].iloc[3])


def test_only_readings_emptied_by_changes_are_removed():
    odd = frame([("2026-05-20T08:00Z", "a", np.nan, np.nan)])  # a row without values
    base = pd.concat([BASE, odd])
    log = changes(
        [
            ("chg_1", "2026-05-25T00:00Z", "b", RAW, "2026-05-20T06:00Z", 70, np.nan),
            (
                "chg_2",
                "2026-05-25T00:00Z",
                "b",
                "battery.voltage",
                "2026-05-20T06:00Z",
                3.5,
                np.nan,
            ),
        ]
    )
    out = wf.apply_changes(base, log, multiplier=0.01)
    assert len(out) == 4  # b@06:00 emptied and removed; the untouched empty row stays
    assert "b" not in set(out["device_id"]) and out.index[-1] == pd.Timestamp("2026-05-20T08:00Z")
    assert len(out.attrs["conflicts"]) == 0
