"""Frames whose attrs carry a Series/DataFrame still concatenate (pandas compares attrs)."""

import pandas as pd

import waltero_frames as wf
from waltero_frames._attrs import AttrFrame, AttrSeries, for_attrs
from waltero_frames.api.parse import parse_daily_consumption

START, MID, END = (pd.Timestamp(s, tz="UTC") for s in ("2026-05-01", "2026-05-02", "2026-05-03"))


def _daily(date: str, missing: int) -> pd.DataFrame:
    rows = [
        {"deviceId": "d1", "deviceName": "A", "serialNumber": "S", "date": date, "consumption": 1.5}
    ]
    rows += [
        {"deviceId": "d2", "deviceName": "B", "serialNumber": "T", "consumption": None}
    ] * missing
    day = pd.Timestamp(date, tz="UTC")
    return parse_daily_consumption(
        rows, start=day, end=day + pd.Timedelta(days=1), resolution="day"
    )


def test_concat_of_daily_frames_keeps_equal_and_drops_differing_attrs():
    a, b = _daily("2026-05-01", 1), _daily("2026-05-02", 1)
    both = pd.concat([a, b])
    assert both["consumption"].tolist() == [1.5, 1.5]
    # equal attrs are kept whole (pandas keeps all attrs or none; fetched frames differ in
    # start/end/fetched_at, so their concatenation carries none) ...
    assert both.attrs["missing_periods"].to_dict() == {"d1": 0, "d2": 1}
    # ... differing ones are dropped instead of raising "truth value ... ambiguous"
    c = _daily("2026-05-03", 2)
    assert "missing_periods" not in pd.concat([a, c]).attrs


def test_attr_objects_stay_pandas_objects():
    s = for_attrs(pd.Series([1, 2], index=["x", "y"], name="n"))
    assert isinstance(s, AttrSeries) and isinstance(s, pd.Series)
    assert (s == 1).tolist() == [True, False]  # elementwise against scalars and plain objects
    assert (s == pd.Series([1, 3], index=["x", "y"])).tolist() == [True, False]
    assert (s == s.copy()) is True and (s != s.copy()) is False
    f = for_attrs(pd.DataFrame({"a": [1.0]}))
    assert isinstance(f, AttrFrame) and (f == f.copy()) is True
    assert isinstance(f["a"], AttrSeries)
    # deep copies (pandas copies attrs on most operations) keep the type
    frame = pd.DataFrame({"v": [1]})
    frame.attrs["s"] = s
    assert isinstance(frame.copy().attrs["s"], AttrSeries)


def test_live_daily_frames_concatenate(waltero_sim):
    client = wf.Client(
        waltero_sim.base_url, waltero_sim.username, waltero_sim.password, progress=False
    )
    org = "00000000-0000-0000-0000-000000000001"
    a = wf.daily_consumption(client, org, "2026-05-18", "2026-05-20")
    b = wf.daily_consumption(client, org, "2026-05-20", "2026-05-26")
    whole = wf.daily_consumption(client, org, "2026-05-18", "2026-05-26")
    both = pd.concat([a, b])
    pd.testing.assert_frame_equal(both, whole)
    assert both.attrs == {}  # different provenance: dropped, never raised on


def test_apply_changes_outputs_concatenate():
    idx = pd.DatetimeIndex(["2026-05-20T06:00Z"], name="timestamp")
    readings = pd.DataFrame(
        {"device_id": ["d1"], "meter.value.raw": [1284567.0], "value": [1284.567]}, index=idx
    )
    changes = pd.DataFrame(
        {
            "change_id": ["chg_1"],
            "device_id": ["d1"],
            "field": ["meter.value.raw"],
            "timestamp": idx,
            "previous_value": [1.0],  # does not match: a conflict
            "new_value": [1234567.0],
            "actor": ["user"],
        },
        index=pd.DatetimeIndex(["2026-05-25T09:13Z"], name="changed_at"),
    )
    out = wf.apply_changes(readings, changes, multiplier=0.001)
    assert len(out.attrs["conflicts"]) == 1
    both = pd.concat([out, out.copy()])
    assert both["value"].tolist() == [1234.567, 1234.567]
    assert len(both.attrs["conflicts"]) == 1


def test_to_parquet_keeps_data_and_provenance(waltero_sim, tmp_path):
    client = wf.Client(
        waltero_sim.base_url, waltero_sim.username, waltero_sim.password, progress=False
    )
    org = "00000000-0000-0000-0000-000000000001"
    daily = wf.daily_consumption(client, org, "2026-05-18T22:00Z", "2026-05-25T22:00Z")
    assert daily.attrs["missing_periods"].sum() > 0  # the guide week has a gap
    path = tmp_path / "daily.parquet"
    wf.to_parquet(daily, path)
    back = pd.read_parquet(path)
    pd.testing.assert_frame_equal(back, daily, check_index_type=False, check_freq=False)
    assert back.attrs["start"] == "2026-05-18T22:00:00+00:00"
    assert back.attrs["missing_periods"] == {
        k: int(v) for k, v in daily.attrs["missing_periods"].items()
    }
    assert daily.attrs["start"] == pd.Timestamp("2026-05-18T22:00Z")  # input untouched
    readings = wf.telemetry(
        client, "11111111-1111-1111-1111-111111111101", "2026-05-19", "2026-05-20"
    )
    wf.to_parquet(readings, tmp_path / "t.parquet")
    back = pd.read_parquet(tmp_path / "t.parquet")
    assert back.attrs["devices"][0]["device_id"] == "11111111-1111-1111-1111-111111111101"
    pd.testing.assert_frame_equal(back, readings, check_index_type=False, check_freq=False)
