"""Time arguments: every accepted form, the DST edges, and every refusal (ValueError)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pandas as pd
import pytest

from waltero_frames.timeargs import api_timestamp, check_tz, time_range, to_utc

UTC = pd.Timestamp


@pytest.mark.parametrize(
    ("value", "tz", "expected"),
    [
        # naive strings are read in tz
        ("2026-05-19", "Europe/Berlin", "2026-05-18T22:00Z"),
        ("2026-05-19T00:00", "UTC", "2026-05-19T00:00Z"),
        ("2026-01-15 06:30", "America/New_York", "2026-01-15T11:30Z"),
        # aware strings are converted; tz is ignored for them
        ("2026-05-18T22:00:00.000Z", "Asia/Tokyo", "2026-05-18T22:00Z"),
        ("2026-05-19T00:00+02:00", "UTC", "2026-05-18T22:00Z"),
        # date objects mean local midnight
        (dt.date(2026, 5, 19), "Europe/Berlin", "2026-05-18T22:00Z"),
        (dt.date(2026, 1, 19), "Europe/Berlin", "2026-01-18T23:00Z"),
        # naive and aware datetimes
        (dt.datetime(2026, 5, 19, 12), "Europe/Berlin", "2026-05-19T10:00Z"),
        (
            dt.datetime(2026, 5, 19, 12, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
            "Europe/Berlin",
            "2026-05-19T17:00Z",
        ),
        (
            dt.datetime(2026, 5, 19, 12, tzinfo=zoneinfo.ZoneInfo("Asia/Kolkata")),
            "UTC",
            "2026-05-19T06:30Z",
        ),
        # pandas Timestamps, naive and aware
        (pd.Timestamp("2026-05-19 00:00"), "Europe/Berlin", "2026-05-18T22:00Z"),
        (pd.Timestamp("2026-05-19 00:00", tz="Europe/Berlin"), "UTC", "2026-05-18T22:00Z"),
        # a tzinfo object is a valid tz
        ("2026-05-19", zoneinfo.ZoneInfo("Europe/Berlin"), "2026-05-18T22:00Z"),
        # DST: the spring-forward day in Berlin starts at 23:00Z, the fall-back day at 22:00Z
        ("2026-03-29", "Europe/Berlin", "2026-03-28T23:00Z"),
        ("2026-03-30", "Europe/Berlin", "2026-03-29T22:00Z"),
        ("2026-10-25", "Europe/Berlin", "2026-10-24T22:00Z"),
        ("2026-10-26", "Europe/Berlin", "2026-10-25T23:00Z"),
        # a zone whose DST change skips midnight: a date means the first instant that exists
        (dt.date(2026, 3, 8), "America/Havana", "2026-03-08T05:00Z"),
        # ... and one whose midnight happens twice (01:00 CDT -> 00:00 CST): the first one
        (dt.date(2026, 11, 1), "America/Havana", "2026-11-01T04:00Z"),
    ],
)
def test_to_utc_accepts(value, tz, expected):
    got = to_utc(value, tz)
    assert got == pd.Timestamp(expected)
    assert str(got.tz) == "UTC"


def test_now_and_today_follow_tz():
    before = pd.Timestamp.now(tz="UTC")
    now = to_utc("now", "Asia/Tokyo")
    assert before <= now <= pd.Timestamp.now(tz="UTC")
    today = to_utc("today", "Asia/Tokyo")
    local_today = before.tz_convert("Asia/Tokyo").normalize()
    assert today in {
        local_today.tz_convert("UTC"),
        (local_today + pd.Timedelta(days=1)).tz_convert("UTC"),
    }


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("garbage", "'garbage'"),
        ("", "''"),
        ("2026-13-45", "'2026-13-45'"),
        (5, "start=5"),
        (None, "start=None"),
        (True, "start=True"),
        (1.5e9, "start=1500000000.0"),
        # a local time skipped by DST and one that happens twice
        ("2026-03-29 02:30", "'2026-03-29 02:30'"),
        ("2026-10-25 02:30", "'2026-10-25 02:30'"),
    ],
)
def test_to_utc_refuses_with_the_value_named(value, fragment):
    with pytest.raises(ValueError, match="start") as info:
        to_utc(value, "Europe/Berlin", name="start")
    assert fragment in str(info.value)


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", "utc+2", None, 3])
def test_unknown_tz_is_named(tz):
    with pytest.raises(ValueError, match="time zone") as info:
        check_tz(tz)
    assert repr(tz) in str(info.value)
    with pytest.raises(ValueError, match="time zone"):
        to_utc("2026-05-19", tz)


def test_check_tz_accepts_names_and_tzinfo():
    assert check_tz("utc") == "UTC"
    assert check_tz("Europe/Berlin") == "Europe/Berlin"
    zone = zoneinfo.ZoneInfo("Asia/Tokyo")
    assert check_tz(zone) is zone


def test_time_range_converts_and_orders():
    s, e = time_range("2026-05-19", "2026-05-26", "Europe/Berlin")
    assert (s, e) == (UTC("2026-05-18T22:00Z"), UTC("2026-05-25T22:00Z"))
    # naive end and aware start mix fine
    s, e = time_range("2026-05-18T22:00Z", "2026-05-19 02:00", "Europe/Berlin")
    assert e - s == pd.Timedelta(hours=2)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-05-19", "2026-05-19"),
        ("2026-05-20", "2026-05-19"),
        # equal instants written differently are still empty
        ("2026-05-19T00:00+02:00", "2026-05-18T22:00Z"),
    ],
)
def test_time_range_refuses_empty_or_reversed(start, end):
    with pytest.raises(ValueError, match="must be after") as info:
        time_range(start, end)
    assert repr(end) in str(info.value) and repr(start) in str(info.value)


@pytest.mark.parametrize(
    ("ts", "text"),
    [
        (pd.Timestamp("2026-05-18T22:00Z"), "2026-05-18T22:00:00.000Z"),
        (pd.Timestamp("2026-05-18T22:00:00.123Z"), "2026-05-18T22:00:00.123Z"),
        (pd.Timestamp("2026-05-19T00:00+02:00"), "2026-05-18T22:00:00.000Z"),
        (pd.Timestamp("2026-05-18T22:00:00.123001Z"), "2026-05-18T22:00:00.124Z"),
        (pd.Timestamp("2026-12-31T23:59:59.9999Z"), "2027-01-01T00:00:00.000Z"),
        (pd.Timestamp("2026-05-18 22:00"), "2026-05-18T22:00:00.000Z"),
    ],
)
def test_api_timestamp(ts, text):
    assert api_timestamp(ts) == text
