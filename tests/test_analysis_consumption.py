"""readings_to_consumption: hand-computed deltas, rollovers, negatives, edge cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import waltero_frames as wf

RAW, PROC = "meter.value.raw", "meter.value.processed"


def readings(rows, field=RAW, **extra):
    """rows: (iso timestamp, device_id, register) → a telemetry-layout frame."""
    ts = pd.DatetimeIndex([pd.Timestamp(r[0], tz="UTC") for r in rows], name="timestamp")
    data = {"device_id": pd.array([r[1] for r in rows], dtype="str"), field: [r[2] for r in rows]}
    data.update(extra)
    return pd.DataFrame(data, index=ts)


def hours(n, start="2026-01-01T00:00"):
    return [str(t) for t in pd.date_range(start, periods=n, freq="h")]


@pytest.mark.parametrize(
    ("digits", "mult", "regs", "expected", "rolled"),
    [
        # 5-digit register, 0.001 m3: 99998 → 99999 → (wrap) 00002
        (5, 0.001, [99_998, 99_999, 2], [np.nan, 0.001, 0.003], [False, False, True]),
        # 8-digit register, 0.01 m3: 99 999 950 → 30 is 80 units
        (8, 0.01, [99_999_950, 30, 45], [np.nan, 0.8, 0.15], [False, True, False]),
        # 4-digit heat register counting 10 kWh: 9 990 → 5 is 15 units = 150 kWh
        (4, 10.0, [9_990, 5], [np.nan, 150.0], [False, True]),
        # the band edges: prev exactly 90 % of the range, new just under 10 %
        (5, 1.0, [90_000, 9_999], [np.nan, 19_999.0], [False, True]),
        # prev just under 90 %: not a rollover but a negative step
        (5, 1.0, [89_999, 9_999], [np.nan, -80_000.0], [False, False]),
        # new at exactly 10 %: not a rollover either
        (5, 1.0, [95_000, 10_000], [np.nan, -85_000.0], [False, False]),
    ],
)
def test_rollover_at_register_sizes_and_multipliers(digits, mult, regs, expected, rolled):
    r = readings([(t, "m1", v) for t, v in zip(hours(len(regs)), regs, strict=True)])
    c = wf.readings_to_consumption(r, multiplier=mult, register_digits=digits)
    np.testing.assert_allclose(c["consumption"], expected, rtol=0, atol=1e-9)
    assert c["rollover"].tolist() == rolled
    assert c["negative"].tolist() == [bool(x < 0) for x in np.nan_to_num(expected)]


def test_negative_step_kept_and_marked_not_zeroed():
    r = readings([(t, "m1", v) for t, v in zip(hours(4), [5000, 4990, 4995, 4995], strict=True)])
    c = wf.readings_to_consumption(r, multiplier=0.001, register_digits=8)
    np.testing.assert_allclose(c["consumption"], [np.nan, -0.010, 0.005, 0.0], atol=1e-12)
    assert c["negative"].tolist() == [False, True, False, False]
    assert not c["rollover"].any()


def test_exact_integer_deltas_on_large_registers():
    # 2**53 + small steps are not representable as float deltas of processed values
    regs = [999_999_999_000, 999_999_999_001, 999_999_999_003]
    r = readings([(t, "m1", v) for t, v in zip(hours(3), regs, strict=True)])
    c = wf.readings_to_consumption(r, multiplier=1.0, register_digits=12)
    assert c["consumption"].tolist()[1:] == [1.0, 2.0]


def test_processed_only_unwraps_by_range_times_multiplier():
    r = readings(
        [(t, "m1", v) for t, v in zip(hours(3), [99.998, 99.999, 0.002], strict=True)], field=PROC
    )
    c = wf.readings_to_consumption(r, multiplier=0.001, register_digits=5)
    np.testing.assert_allclose(c["consumption"], [np.nan, 0.001, 0.003], atol=1e-9)
    assert c["rollover"].tolist() == [False, False, True]
    assert c.attrs["register_field"] == PROC
    with pytest.raises(ValueError, match="multiplier"):
        wf.readings_to_consumption(r, register_digits=5)


def test_processed_without_negative_needs_nothing():
    r = readings([(t, "m1", v) for t, v in zip(hours(2), [1.5, 1.75], strict=True)], field=PROC)
    c = wf.readings_to_consumption(r)
    np.testing.assert_allclose(c["consumption"], [np.nan, 0.25])


def test_missing_parameters_raise_naming_the_device():
    r = readings([(t, "dev-A", v) for t, v in zip(hours(2), [10, 5], strict=True)])
    with pytest.raises(ValueError, match="dev-A"):
        wf.readings_to_consumption(r)  # no multiplier anywhere
    with pytest.raises(ValueError, match="register_digits.*dev-A"):
        wf.readings_to_consumption(r, multiplier=1)  # negative step, digits unknown
    ok = readings([(t, "dev-A", v) for t, v in zip(hours(2), [5, 10], strict=True)])
    assert wf.readings_to_consumption(ok, multiplier=1)["consumption"].iloc[1] == 5.0


def test_parameters_from_mapping_columns_attrs_and_value():
    rows = [
        (t, d, v)
        for t, (d, v) in zip(hours(4), [("a", 1), ("b", 10), ("a", 3), ("b", 14)], strict=True)
    ]
    expected = [np.nan, np.nan, 0.02, 4.0]
    by_arg = wf.readings_to_consumption(readings(rows), multiplier={"a": 0.01, "b": 1.0})
    by_col = wf.readings_to_consumption(readings(rows, multiplier=[0.01, 1.0, 0.01, 1.0]))
    r = readings(rows)
    r.attrs["multiplier"] = pd.Series({"a": 0.01, "b": 1.0})
    by_attr = wf.readings_to_consumption(r)
    by_value = wf.readings_to_consumption(readings(rows, value=[0.01, 10.0, 0.03, 14.0]))
    for c in (by_arg, by_col, by_attr, by_value):
        np.testing.assert_allclose(c["consumption"], expected, atol=1e-12)
    with pytest.raises(ValueError, match="multiplier"):
        wf.readings_to_consumption(readings(rows), multiplier="lots")


def test_interleaved_unsorted_devices_and_first_reading_nan():
    rows = [
        ("2026-01-01T02:00", "b", 30),
        ("2026-01-01T00:00", "a", 100),
        ("2026-01-01T01:00", "b", 20),
        ("2026-01-01T01:00", "a", 110),
        ("2026-01-01T02:00", "a", 125),
        ("2026-01-01T00:00", "b", 0),
    ]
    c = wf.readings_to_consumption(readings(rows), multiplier=1.0)
    # output sorted by time, ties by device_id
    assert list(zip(c.index.hour, c["device_id"], strict=True)) == [
        (0, "a"), (0, "b"), (1, "a"), (1, "b"), (2, "a"), (2, "b"),
    ]  # fmt: skip
    np.testing.assert_allclose(c["consumption"], [np.nan, np.nan, 10, 20, 15, 10])
    assert c["interval"].isna().tolist() == [True, True, False, False, False, False]
    assert (c["interval"].dropna() == pd.Timedelta("1h")).all()
    assert c.index.name == "timestamp" and str(c.index.tz) == "UTC"


def test_rows_without_register_are_skipped_and_input_not_mutated():
    r = readings(
        [
            ("2026-01-01T00:00", "a", 1),
            ("2026-01-01T00:30", "a", np.nan),
            ("2026-01-01T01:00", "a", 4),
        ],
        **{"battery.voltage": [np.nan, 3.6, np.nan]},
    )
    before = r.copy(deep=True)
    c = wf.readings_to_consumption(r, multiplier=2.0)
    assert len(c) == 2 and c["consumption"].iloc[1] == 6.0
    pd.testing.assert_frame_equal(r, before)


def test_empty_and_single_reading():
    empty = readings([("2026-01-01", "a", 1)]).iloc[:0]
    c = wf.readings_to_consumption(empty, multiplier=1.0)
    assert len(c) == 0 and c.index.name == "timestamp"
    assert c.dtypes.astype(str).to_dict() == {
        "device_id": "str", "consumption": "float64", "rollover": "bool", "negative": "bool",
        "interval": "timedelta64[ns]",
    }  # fmt: skip
    one = wf.readings_to_consumption(readings([("2026-01-01", "a", 7)]), multiplier=1.0)
    assert one["consumption"].isna().all() and not one["rollover"].any()


def test_categorical_ids_stay_categorical():
    r = readings(
        [
            (t, d, v)
            for t, d, v in [
                ("2026-01-01T00:00", "z", 1),
                ("2026-01-01T00:00", "y", 2),
                ("2026-01-01T01:00", "y", 3),
                ("2026-01-01T01:00", "z", 9),
            ]
        ]
    )
    r["device_id"] = r["device_id"].astype("category")
    c = wf.readings_to_consumption(r, multiplier=1)
    assert isinstance(c["device_id"].dtype, pd.CategoricalDtype)
    assert c["device_id"].astype(str).tolist() == ["y", "z", "y", "z"]
    np.testing.assert_allclose(c["consumption"], [np.nan, np.nan, 1, 8])


def test_max_rate_vetoes_implausible_wrap():
    # 99 990 → 5 within one hour: 15 units wraps plausibly, but at 0.001 m3 / unit and
    # max 0.01 m3/h only a 10-unit step is plausible → a misread, not a rollover
    r = readings([(t, "m1", v) for t, v in zip(hours(2), [99_990, 5], strict=True)])
    c = wf.readings_to_consumption(r, multiplier=0.001, register_digits=5, max_rate=0.01)
    assert c["negative"].iloc[1] and not c["rollover"].iloc[1]
    c = wf.readings_to_consumption(r, multiplier=0.001, register_digits=5, max_rate=1.0)
    assert c["rollover"].iloc[1]


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="integer"):
        wf.readings_to_consumption(readings([("2026-01-01", "a", 1.5)]), multiplier=1)
    with pytest.raises(ValueError, match="meter.value"):
        wf.readings_to_consumption(readings([("2026-01-01", "a", 1)], field="x"))
    naive = readings([("2026-01-01", "a", 1)])
    naive.index = naive.index.tz_localize(None)
    with pytest.raises(ValueError, match="tz-aware"):
        wf.readings_to_consumption(naive, multiplier=1)
    with pytest.raises(ValueError, match="source"):
        wf.readings_to_consumption(readings([("2026-01-01", "a", 1)]), source="magic")


@settings(max_examples=60, deadline=None)
@given(
    digits=st.integers(3, 10),
    mult=st.sampled_from([0.001, 0.01, 0.1, 1.0, 10.0]),
    start_frac=st.floats(0.0, 0.999),
    steps=st.lists(st.floats(0.0, 0.09), min_size=1, max_size=60),
    backs=st.lists(st.integers(0, 59), max_size=3),
)
def test_property_totals_telescope(digits, mult, start_frac, steps, backs):
    """sum of raw deltas == last − first + 10**digits × rollovers, exactly."""
    size = 10**digits
    inc = (np.array(steps) * size).astype(np.int64)
    for b in backs:  # a few small backward steps (misreads), kept as negative
        if b < len(inc):
            inc[b] = -min(3, size // 100)
    true = int(start_frac * size) + np.concatenate([[0], np.cumsum(inc)])
    reg = true % size
    r = readings([(t, "m", int(v)) for t, v in zip(hours(len(reg)), reg, strict=True)])
    c = wf.readings_to_consumption(r, multiplier=mult, register_digits=digits)
    raw_sum = np.nansum(c["consumption"].to_numpy()) / mult
    expected = int(reg[-1]) - int(reg[0]) + size * int(c["rollover"].sum())
    assert raw_sum == pytest.approx(expected, abs=1e-6 * max(1, abs(expected)))
    # every wrap of the true register (it crosses a multiple of 10**digits) is found
    assert int(c["rollover"].sum()) == int((np.diff(true // size) > 0).sum())


def test_previous_reading_links_agree_between_fast_and_sorting_paths():
    from waltero_frames.analysis._frames import _prev_from_order, _prev_in_time_order, make_links

    rng = np.random.default_rng(4)
    codes = rng.integers(0, 37, 5_000).astype(np.int16)
    fast = _prev_in_time_order(codes, 37)
    slow = _prev_from_order(np.argsort(codes, kind="stable"), codes, 37)
    np.testing.assert_array_equal(fast, slow)
    # shuffled (not time-sorted) rows link by time, not by position
    ts = np.sort(rng.integers(0, 10**12, 5_000))
    perm = rng.permutation(5_000)
    links = make_links(codes[perm], ts[perm], pd.Index(range(37)))
    back = np.empty(5_000, dtype=np.int64)
    back[perm] = np.arange(5_000)  # original row → shuffled row
    expected = np.where(slow >= 0, back[np.maximum(slow, 0)], -1)[np.argsort(back)]
    np.testing.assert_array_equal(links.prev, expected)


@pytest.mark.parametrize("module", ["consumption", "resample", "anomalies", "audit"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    mod = importlib.import_module(f"waltero_frames.analysis.{module}")
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_object_ids_shared_or_distinct_objects_give_the_str_result():
    """Large object-dtype id columns take the fast paths (factorize by object identity,
    strings gathered in Arrow): same numbers and ``str`` ids as the same frame with str
    ids, whether rows share each device's id object or every row holds its own, and a
    missing id is still refused."""
    n_dev, hours_n = 40, 400  # 16,000 rows: above the fast paths' size threshold
    ids = np.array([f"dev-{k:03d}" for k in range(n_dev)][::-1], dtype=object)
    rng = np.random.default_rng(3)
    regs = np.cumsum(rng.integers(0, 5, (hours_n, n_dev)), axis=0).reshape(-1)
    ts = np.repeat(pd.date_range("2026-01-01", periods=hours_n, freq="h", tz="UTC"), n_dev)
    shared = ids[np.tile(np.arange(n_dev), hours_n)]  # one object per device
    distinct = np.array([str(s) + "" for s in shared], dtype=object)
    distinct = np.array([s[:4] + s[4:] for s in distinct], dtype=object)  # fresh objects
    assert shared[0] is shared[n_dev] and distinct[0] is not distinct[n_dev]
    index = pd.DatetimeIndex(ts, name="timestamp")
    base = pd.DataFrame({"device_id": pd.array(shared, dtype="str"), RAW: regs}, index=index)
    expect = wf.readings_to_consumption(base, multiplier=0.5, register_digits=8)
    for column in (shared, distinct):
        ids_col = pd.Series(column, index=index, dtype=object)
        frame = pd.DataFrame({"device_id": ids_col, RAW: regs}, index=index)
        assert frame["device_id"].dtype == object
        got = wf.readings_to_consumption(frame, multiplier=0.5, register_digits=8)
        assert got["device_id"].dtype == "str"
        pd.testing.assert_frame_equal(got, expect)
        # the hand rule: each device's deltas are its register steps × 0.5
        one = got[got["device_id"] == "dev-007"]["consumption"].to_numpy()
        col = n_dev - 1 - 7
        steps = np.diff(regs.reshape(hours_n, n_dev)[:, col]) * 0.5
        np.testing.assert_array_equal(one[1:], steps)
    broken = shared.copy()
    broken[12_345] = None
    ids_col = pd.Series(broken, index=index, dtype=object)
    frame = pd.DataFrame({"device_id": ids_col, RAW: regs}, index=index)
    with pytest.raises(ValueError, match="missing device_id"):
        wf.readings_to_consumption(frame, multiplier=0.5, register_digits=8)
