"""JSON → frame, offline on small fixtures written from CONTRACT.md (hand-computed expectations)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from waltero_frames.api.parse import (
    DEFAULT_FIELDS,
    parse_changes,
    parse_daily_consumption,
    parse_devices,
    parse_fields,
    parse_organizations,
    parse_telemetry,
)
from waltero_frames.errors import UnexpectedResponse

FIX = Path(__file__).parent / "fixtures"
D1 = "11111111-1111-1111-1111-000000000001"
D2 = "22222222-2222-2222-2222-000000000002"
D3 = "33333333-3333-3333-3333-000000000003"
D4 = "44444444-4444-4444-4444-000000000004"
D5 = "55555555-5555-5555-5555-000000000005"
DA = "00000000-aaaa-aaaa-aaaa-000000000000"
TS = "datetime64[us, UTC]"


def load(name: str):
    return json.loads((FIX / name).read_text())


def utc(*stamps: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex([pd.Timestamp(s) for s in stamps]).as_unit("us")


# ---------------------------------------------------------------- Part 1
def test_daily_rows_partial_names_and_missing():
    df = parse_daily_consumption(
        load("daily_v3_day.json"),
        pd.Timestamp("2026-05-18T22:00Z"),
        pd.Timestamp("2026-05-25T22:00Z"),
    )
    assert df.index.name == "period_start"
    assert list(df.columns) == [
        "device_id",
        "device_name",
        "serial_number",
        "consumption",
        "partial",
    ]
    expected_index = utc(
        "2026-05-18T00:00Z",
        "2026-05-18T00:00Z",
        "2026-05-19T00:00Z",
        "2026-05-19T00:00Z",
        "2026-05-19T00:00Z",
        "2026-05-20T00:00Z",
        "2026-05-25T00:00Z",
    )
    pd.testing.assert_index_equal(df.index, expected_index.rename("period_start"))
    assert df["device_id"].tolist() == [D1, D2, D1, D3, D4, D1, D1]
    assert df["consumption"].tolist() == [0.104, 0.01, 0.412, 1.5, -0.25, 0.0, 0.3]
    # the guide's 22:00Z → 22:00Z range cuts the first and the last UTC day
    assert df["partial"].tolist() == [True, True, False, False, False, False, True]
    # empty name → serial number; missing name → serial number (no external ids known)
    assert df["device_name"].tolist() == [
        "Kitchen cold water",
        "Hot water bath",
        "Kitchen cold water",
        "ZR-90001",
        "ZR-90002",
        "Kitchen cold water",
        "Kitchen cold water",
    ]
    missing = df.attrs["missing_periods"]
    assert missing.to_dict() == {D1: 0, D2: 1, D3: 0, D4: 0, D5: 2}
    assert missing.index.name == "device_id" and missing.dtype == np.int64
    assert str(df.index.dtype) == TS
    assert df.dtypes.to_dict() == {
        "device_id": "str",
        "device_name": "str",
        "serial_number": "str",
        "consumption": np.float64,
        "partial": bool,
    }


def test_daily_name_falls_back_to_external_id_first():
    df = parse_daily_consumption(
        load("daily_v3_day.json"),
        "2026-05-18T22:00Z",
        "2026-05-25T22:00Z",
        external_ids={D3: "WS-0000003", D4: None},
    )
    names = dict(zip(df["device_id"], df["device_name"], strict=True))
    assert names[D3] == "WS-0000003"
    assert names[D4] == "ZR-90002"


@pytest.mark.parametrize(
    ("resolution", "dates", "start", "end", "partial"),
    [
        # ISO weeks from Monday: 2026-05-18 is a Monday
        (
            "week",
            ["2026-05-11", "2026-05-18", "2026-05-25"],
            "2026-05-13",
            "2026-05-27",
            [True, False, True],
        ),
        ("week", ["2026-05-18"], "2026-05-18", "2026-05-25", [False]),
        ("month", ["2026-02-01", "2026-03-01"], "2026-02-01", "2026-03-31", [False, True]),
        ("month", ["2026-02-01"], "2026-01-31T23:00Z", "2026-03-01", [False]),
        ("year", ["2024-01-01", "2025-01-01"], "2024-01-01", "2025-06-01", [False, True]),
        ("day", ["2026-03-29"], "2026-03-29", "2026-03-30", [False]),
    ],
)
def test_partial_periods_per_resolution(resolution, dates, start, end, partial):
    rows = [
        {"deviceId": D1, "deviceName": "a", "serialNumber": "s", "date": d, "consumption": 1.0}
        for d in dates
    ]
    df = parse_daily_consumption(
        rows, pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC"), resolution
    )
    assert df["partial"].tolist() == partial
    pd.testing.assert_index_equal(
        df.index, utc(*[f"{d}T00:00Z" for d in dates]).rename("period_start")
    )


def test_daily_empty_and_all_null_keep_the_layout():
    full = parse_daily_consumption(
        load("daily_v3_day.json"), "2026-05-18T22:00Z", "2026-05-25T22:00Z"
    )
    for rows in (
        [],
        [{"deviceId": D5, "deviceName": "x", "serialNumber": "s", "consumption": None}],
    ):
        df = parse_daily_consumption(rows, "2026-05-18T22:00Z", "2026-05-25T22:00Z")
        assert df.empty
        pd.testing.assert_series_equal(df.dtypes, full.dtypes)
        assert df.index.name == "period_start" and str(df.index.dtype) == TS
    assert df.attrs["missing_periods"].to_dict() == {D5: 1}


def test_daily_refuses_other_shapes():
    with pytest.raises(UnexpectedResponse, match="expected a bare JSON array"):
        parse_daily_consumption(load("daily_v4_unversioned.json"), "2026-05-18", "2026-05-19")
    undated = [{"deviceId": D1, "deviceName": "a", "serialNumber": "s", "consumption": 2.0}]
    with pytest.raises(UnexpectedResponse, match=D1):
        parse_daily_consumption(undated, "2026-05-18", "2026-05-19")
    with pytest.raises(UnexpectedResponse, match="YYYY-MM-DD"):
        parse_daily_consumption(
            [
                {
                    "deviceId": D1,
                    "deviceName": "a",
                    "serialNumber": "s",
                    "date": "19/05/2026",
                    "consumption": 1.0,
                }
            ],
            "2026-05-18",
            "2026-05-25",
        )
    with pytest.raises(ValueError, match="'fortnight'"):
        parse_daily_consumption([], "2026-05-18", "2026-05-19", "fortnight")


# ---------------------------------------------------------------- Part 2
MULT = {D1: 0.001, DA: 0.1}


def telemetry_payloads():
    return [
        (D1, load("telemetry_window0.json")),
        (DA, load("telemetry_other.json")),
        (D1, load("telemetry_window1.json")),
    ]


def test_telemetry_merges_clocks_windows_and_devices():
    df = parse_telemetry(telemetry_payloads(), fields=DEFAULT_FIELDS, multipliers=MULT)
    assert df.index.name == "timestamp" and str(df.index.dtype) == TS
    assert list(df.columns) == ["device_id", *DEFAULT_FIELDS, "meta.firmware", "value"]
    pd.testing.assert_index_equal(
        df.index,
        utc(
            "2026-05-18T22:00Z",
            "2026-05-18T22:07Z",
            "2026-05-18T22:15Z",
            "2026-05-18T22:15Z",
            "2026-05-18T22:30Z",  # present in both windows: one row
            "2026-05-18T22:45Z",
            "2026-05-18T23:07Z",
        ).rename("timestamp"),
    )
    # ties sorted by device_id: DA < D1
    assert df["device_id"].tolist() == [D1, D1, DA, D1, D1, D1, D1]
    nan = np.nan
    np.testing.assert_array_equal(
        df["meter.value.raw"], [1234567, nan, 985, 1234571, 1234580, 1234600, nan]
    )
    np.testing.assert_array_equal(
        df["meter.value.processed"], [1234.567, nan, 98.5, 1234.571, 1234.58, 1234.6, nan]
    )
    np.testing.assert_array_equal(df["battery.voltage"], [nan, 3.58, nan, nan, nan, nan, 3.57])
    np.testing.assert_array_equal(df["connection.rssi"], [nan, nan, nan, nan, nan, -97, nan])
    assert df["meta.firmware"].tolist()[2] == "2.4.1" and df["meta.firmware"].isna().sum() == 6
    # value = raw × multiplier of its own device; processed is untouched
    raw = np.array([1234567, nan, 985, 1234571, 1234580, 1234600, nan])
    mult = np.array([0.001, 0.001, 0.1, 0.001, 0.001, 0.001, 0.001])
    np.testing.assert_array_equal(df["value"].to_numpy(), np.round(raw * mult, 6))
    assert df["value"].iloc[0] == 1234.567  # float noise of 1234567 * 0.001 rounded away
    np.testing.assert_allclose(
        df["value"].dropna(), df["meter.value.processed"].dropna(), rtol=1e-12
    )
    assert df.dtypes["device_id"] == "str" and df.dtypes["meta.firmware"] == "str"
    assert (df.dtypes[list(DEFAULT_FIELDS) + ["value"]] == np.float64).all()


def test_telemetry_order_of_payloads_does_not_matter():
    a = parse_telemetry(telemetry_payloads(), fields=DEFAULT_FIELDS, multipliers=MULT)
    b = parse_telemetry(telemetry_payloads()[::-1], fields=DEFAULT_FIELDS, multipliers=MULT)
    pd.testing.assert_frame_equal(a, b)


def test_telemetry_range_filter_guards_the_seams():
    df = parse_telemetry(
        telemetry_payloads(),
        fields=DEFAULT_FIELDS,
        multipliers=MULT,
        start=pd.Timestamp("2026-05-18T22:07Z"),
        end=pd.Timestamp("2026-05-18T22:45Z"),
    )
    assert df.index.min() == pd.Timestamp("2026-05-18T22:07Z")
    assert df.index.max() == pd.Timestamp("2026-05-18T22:30Z")
    assert len(df) == 4


def test_telemetry_requested_fields_always_have_columns():
    only = {
        "deviceId": D1,
        "fields": {"battery.voltage": [{"ts": "2026-05-18T22:00:00.000Z", "value": 3.6}]},
    }
    df = parse_telemetry([(D1, only)], fields=["battery.voltage", "connection.snr"], multipliers={})
    assert list(df.columns) == ["device_id", "battery.voltage", "connection.snr"]
    assert df["connection.snr"].isna().all() and df["connection.snr"].dtype == np.float64


def test_telemetry_empty_has_the_layout():
    full = parse_telemetry(telemetry_payloads(), fields=DEFAULT_FIELDS, multipliers=MULT).drop(
        columns="meta.firmware"
    )
    for payloads in ([], [(D1, {"deviceId": D1, "fields": {}})]):
        df = parse_telemetry(payloads, fields=DEFAULT_FIELDS, multipliers=MULT)
        assert df.empty and df.index.name == "timestamp"
        pd.testing.assert_series_equal(df.dtypes, full.dtypes)
        assert str(df.index.dtype) == TS


def test_telemetry_refuses_bad_payloads():
    with pytest.raises(UnexpectedResponse, match="no 'fields'"):
        parse_telemetry([(D1, {"deviceId": D1})], fields=DEFAULT_FIELDS, multipliers=MULT)
    bad = {
        "deviceId": D1,
        "fields": {"meter.value.raw": [{"time": "2026-05-18T22:00:00.000Z", "value": 1}]},
    }
    with pytest.raises(UnexpectedResponse, match="'ts' and 'value'"):
        parse_telemetry([(D1, bad)], fields=DEFAULT_FIELDS, multipliers=MULT)
    with pytest.raises(UnexpectedResponse, match="answered for device"):
        parse_telemetry(
            [(D1, load("telemetry_other.json"))], fields=DEFAULT_FIELDS, multipliers=MULT
        )
    with pytest.raises(ValueError, match="multipliers"):
        parse_telemetry(telemetry_payloads(), fields=DEFAULT_FIELDS)
    with pytest.raises(ValueError, match=DA):
        parse_telemetry(telemetry_payloads(), fields=DEFAULT_FIELDS, multipliers={D1: 0.001})


# ---------------------------------------------------------------- devices, orgs, fields
def test_devices_pages_dedupe_and_details():
    items = load("devices_page0.json")["data"] + load("devices_page1.json")["data"]
    df = parse_devices(items)
    assert df.index.name == "device_id" and df.index.tolist() == [D1, D2, D3]
    assert list(df.columns) == ["name", "external_id", "serial_number", "meter_type", "label"]
    assert df.loc[D3, "external_id"] is np.nan or pd.isna(df.loc[D3, "external_id"])
    assert (df.dtypes == "str").all()
    det = parse_devices([load("device_detail.json")["data"]], details=True)
    assert det.loc[D1].to_dict() == {
        "name": "Kitchen cold water",
        "external_id": "WS-0000731",
        "serial_number": "ZR-88172",
        "meter_type": "water_cold",
        "unit": "m3",
        "multiplier": 0.001,
        "register_digits": 8.0,
        "variant": "W-Sensor v2",
        "label": "Kitchen cold water",
    }
    assert det.dtypes["multiplier"] == np.float64 and det.dtypes["register_digits"] == np.float64
    empty = parse_devices([], details=True)
    pd.testing.assert_series_equal(empty.dtypes, det.dtypes)
    with pytest.raises(UnexpectedResponse):
        parse_devices([{"name": "no id"}])


def test_organizations_from_me():
    df = parse_organizations(load("me.json"))
    assert df.index.name == "organization_id"
    assert df.index.tolist() == [
        "00000000-0000-0000-0000-000000000001",
        "00000000-0000-0000-0000-000000000002",
        "00000000-0000-0000-0000-000000000009",
    ]
    assert df["timezone"].tolist()[:2] == ["Europe/Berlin", "America/New_York"]
    assert pd.isna(df["timezone"].iloc[2]) and df["name"].iloc[2] == "Legacy Co"
    assert parse_organizations({}).empty


def test_fields_rows():
    df = parse_fields([(D1, load("fields.json")), (D2, {"meter": ["meter.value.raw"]})])
    assert list(df.columns) == ["device_id", "group", "field"]
    assert len(df) == 9
    assert df[df.device_id == D2].values.tolist() == [[D2, "meter", "meter.value.raw"]]
    assert df.groupby("group").size().to_dict() == {
        "battery": 2,
        "connection": 2,
        "meta": 2,
        "meter": 3,
    }


# ---------------------------------------------------------------- Part 3
def test_changes_dedupe_sort_until():
    rows = load("changes_page0.json")["data"] + load("changes_page1.json")["data"]
    df = parse_changes(rows)
    assert df.index.name == "changed_at" and str(df.index.dtype) == TS
    assert list(df.columns) == [
        "change_id",
        "device_id",
        "field",
        "timestamp",
        "previous_value",
        "new_value",
        "actor",
    ]
    # deduped by id, sorted by (changed_at, change_id)
    assert df["change_id"].tolist() == [
        "chg_00000000009",
        "chg_00000000017",
        "chg_00000000018",
        "chg_00000000020",
    ]
    assert df["new_value"].tolist() == [7, 1234567, 1234.567, 9]
    assert df["timestamp"].iloc[0] == pd.Timestamp("2026-02-01T00:00Z")
    assert str(df["timestamp"].dtype) == TS
    cut = parse_changes(rows, until=pd.Timestamp("2026-05-26T00:00Z"))
    assert cut["change_id"].tolist() == ["chg_00000000009", "chg_00000000017", "chg_00000000018"]
    empty = parse_changes([])
    pd.testing.assert_series_equal(empty.dtypes, df.dtypes)


def test_changes_page_mixing_fields_keeps_each_value_type():
    # one changelog page mixes a register, a voltage and firmware text: numbers stay
    # numbers and text stays text, whatever comes first ("1.8" is a version, not 1.8)
    base = {
        "deviceId": D1,
        "timestamp": "2026-05-20T06:00:00.000Z",
        "actor": "system",
        "changedAt": "2026-05-25T09:13:22.512Z",
    }
    rows = [
        {
            **base,
            "id": "chg_1",
            "field": "meta.firmware",
            "previousValue": "1.8",
            "newValue": "2.3.1",
        },
        {
            **base,
            "id": "chg_2",
            "field": "meter.value.raw",
            "previousValue": 1284567,
            "newValue": 1234567,
        },
        {
            **base,
            "id": "chg_3",
            "field": "battery.voltage",
            "previousValue": None,
            "newValue": 3.58,
        },
    ]
    for order in (rows, rows[::-1]):
        df = parse_changes(order).set_index("change_id")
        assert df.loc["chg_1", "previous_value"] == "1.8"
        assert df.loc["chg_1", "new_value"] == "2.3.1"
        assert df.loc["chg_2", "new_value"] == 1234567.0
        assert isinstance(df.loc["chg_2", "new_value"], float)
        assert pd.isna(df.loc["chg_3", "previous_value"])
    numeric = parse_changes(rows[1:])
    assert numeric["new_value"].dtype == np.float64
