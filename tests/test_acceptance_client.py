"""Acceptance findings on the client, each pinned by a regression test (real HTTP)."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

import waltero_frames as wf
from waltero_frames.sim import DEMO_ORG

DEV = "11111111-1111-1111-1111-111111111101"
ORG2 = "00000000-0000-0000-0000-000000000002"


def test_offline_miss_is_not_retried_as_a_server_error(waltero_sim, tmp_path, caplog, make_client):
    # only-if-cached answers a miss with a synthetic 504; it was retried (a pause and a
    # WARNING line per miss) as if the server had failed
    waltero_sim.config.rate = None
    path = tmp_path / "c.sqlite"
    wf.daily_consumption(make_client(cache=path), DEMO_ORG, "2026-05-01", "2026-05-03")
    sends = []
    offline = wf.Client(waltero_sim.base_url, cache=path, offline=True, progress=False)
    real_get = offline._session.get
    offline._session.get = lambda *a, **k: sends.append(a) or real_get(*a, **k)
    caplog.set_level(logging.DEBUG, logger="waltero_frames")
    with pytest.raises(wf.CacheMiss, match=r"startDate=2026-05-02T00:00:00.000Z"):
        wf.daily_consumption(offline, DEMO_ORG, "2026-05-02", "2026-05-03")
    assert len(sends) == 1
    assert not [r for r in caplog.records if r.name == "waltero_frames.retry"]
    # the cached call still replays
    assert len(wf.daily_consumption(offline, DEMO_ORG, "2026-05-01", "2026-05-03")) > 0


def test_retry_log_names_the_request_and_the_reason(waltero_sim, caplog, make_client):
    waltero_sim.configure(rate=None, fail=[{"status": 500, "path": "telemetry", "times": 1}])
    caplog.set_level(logging.INFO, logger="waltero_frames.retry")
    df = wf.telemetry(make_client(), DEV, "2026-05-01", "2026-05-02")
    assert len(df) == 96  # 15-min cadence: retried once, nothing lost
    (record,) = [r for r in caplog.records if r.name == "waltero_frames.retry"]
    message = record.getMessage()
    assert record.levelno == logging.WARNING
    assert f"/api/devices/{DEV}/telemetry" in message and "after HTTP 500" in message
    assert "Retrying object" not in message and "Bearer" not in message


def test_devices_as_an_array_or_a_frame_with_a_device_id_column(waltero_sim, make_client):
    # an ndarray (devs.index.values) was refused; a reset_index() frame or a daily frame
    # failed with "device=0 is not a UUID"
    waltero_sim.config.rate = None
    client = make_client()
    devs = wf.devices(client, DEMO_ORG, details=True).iloc[:3]
    want = wf.telemetry(client, devs, "2026-05-01", "2026-05-02")
    for given in (devs.index.to_numpy(), devs.reset_index(), want):
        got = wf.telemetry(client, given, "2026-05-01", "2026-05-02")
        pd.testing.assert_frame_equal(got, want)
    assert sorted(wf.fields(client, devs.reset_index())["device_id"].unique()) == sorted(devs.index)
    with pytest.raises(ValueError, match="device=0 is not a UUID"):
        wf.telemetry(client, devs.reset_index(drop=True), "2026-05-01", "2026-05-02")


def test_an_empty_text_field_keeps_its_str_dtype(waltero_sim, make_client):
    # meta.firmware was str with values but float64 in an empty result (.str broke)
    from waltero_frames.api.parse import parse_telemetry

    fw = "meta.firmware"
    empty = parse_telemetry([("d1", {"deviceId": "d1", "fields": {fw: []}})], fields=[fw])
    none = parse_telemetry([("d1", {"deviceId": "d1", "fields": {}})], fields=[fw])
    full = parse_telemetry(
        [
            (
                "d1",
                {
                    "deviceId": "d1",
                    "fields": {fw: [{"ts": "2026-05-01T00:07:00Z", "value": "1.9.0"}]},
                },
            )
        ],
        fields=[fw],
    )
    assert empty[fw].dtype == none[fw].dtype == full[fw].dtype == "str"
    assert full[fw].tolist() == ["1.9.0"]
    waltero_sim.config.rate = None
    client = make_client()
    for start, end in (("2020-01-01", "2020-01-02"), ("2026-05-01", "2026-05-02")):
        df = wf.telemetry(client, DEV, start, end, fields=[fw, "battery.voltage"])
        assert df[fw].dtype == "str" and df["battery.voltage"].dtype == "float64"
    assert df[fw].notna().any() and df[fw].dropna().str.len().gt(0).all()


def test_far_future_bounds_do_not_overflow(waltero_sim, make_client):
    # the [start, end) guard converted bounds through nanoseconds: a range after 2262
    # raised OverflowError instead of the server's 400 (or an empty frame)
    from waltero_frames.api.parse import parse_telemetry

    payload = {"deviceId": "d1", "fields": {"battery.voltage": []}}
    df = parse_telemetry([("d1", payload)], start="2999-01-01T00:00Z", end="2999-02-01T00:00Z")
    assert len(df) == 0 and list(df.columns) == ["device_id", "battery.voltage"]
    waltero_sim.config.rate = None
    with pytest.raises(wf.BadRequest, match="out of the supported range"):
        wf.telemetry(make_client(), DEV, "2999-01-01", "2999-01-02")


def test_retry_after_beyond_the_wait_budget_raises_at_once(waltero_sim, caplog, make_client):
    # the login limit answers Retry-After: 60; with rate_limit_max_wait=2 the client still
    # slept the whole minute (the budget was checked only after each sleep)
    import time

    from waltero_frames.transport.retry import RetryPolicy

    waltero_sim.configure(login_limit=1)
    first = make_client()
    first.me()
    second = make_client(retry=RetryPolicy(rate_limit_max_wait=2.0))
    t0 = time.monotonic()
    with pytest.raises(wf.RateLimited):
        second.me()
    assert time.monotonic() - t0 < 2.0
    assert waltero_sim.counters[("login", 429)] == 1


def test_telemetry_of_ids_names_the_organization_from_the_details(waltero_sim, make_client):
    # attrs["org_id"] was missing for a list of ids although the fetched details name it
    waltero_sim.config.rate = None
    client = make_client()
    ids = ["11111111-1111-1111-1111-111111111101", "11111111-1111-1111-1111-111111111102"]
    assert wf.telemetry(client, ids, "2026-05-01", "2026-05-02").attrs["org_id"] == DEMO_ORG
    other = "22222222-2222-2222-2222-222222222201"  # another organization: no single org
    mixed = wf.telemetry(client, [*ids, other], "2026-05-01", "2026-05-02")
    assert "org_id" not in mixed.attrs
    # a frame without attrs: the demo device's multiplier is in it, only the other
    # device's details are fetched, so they cannot speak for both
    frame = pd.concat(
        [wf.devices(client, DEMO_ORG, details=True).iloc[:1], wf.devices(client, ORG2).iloc[:1]]
    )
    assert frame.attrs == {}
    assert "org_id" not in wf.telemetry(client, frame, "2026-05-01", "2026-05-02").attrs


def test_flags_read_local_nights_in_the_zone_of_the_fetch(waltero_sim, make_client):
    # flag_anomalies takes its night window from attrs["tz"], which telemetry never set:
    # a Sydney study got UTC nights (Sydney daytime) and daily use flagged as night flow
    waltero_sim.config.rate = None
    client = make_client()
    water = ["22222222-2222-2222-2222-222222222201", "22222222-2222-2222-2222-222222222210"]
    r = wf.telemetry(client, water, "2026-06-01", "2026-06-15", tz="Australia/Sydney")
    assert r.attrs["tz"] == "Australia/Sydney"
    kinds = pd.Series("water_cold", index=water)
    # "flow in every hour" alone (night_floor=0): Sydney's nights rest, its days do not
    assert not wf.flag_anomalies(r, meter_type=kinds, night_floor=0.0)["night_flow"].any()
    trap = wf.flag_anomalies(r, meter_type=kinds, tz="UTC", night_floor=0.0)
    assert trap["night_flow"].any()  # UTC "nights" are Sydney's busy days
    assert not wf.flag_anomalies(r, meter_type=kinds)["night_flow"].any()
    utc = wf.telemetry(client, water, "2026-06-01", "2026-06-15")
    assert utc.attrs["tz"] == "UTC"


def test_a_cache_backend_or_session_file_serves_one_principal(waltero_sim, tmp_path, make_client):
    # only a path was checked: a requests-cache backend (or a user's CachedSession) let
    # a second user read the first one's cached answers
    from requests_cache import CachedSession, SQLiteCache

    def json_backend(path):
        return SQLiteCache(str(path), serializer="json")

    waltero_sim.config.rate = None
    path = tmp_path / "study.sqlite"
    wf.organizations(make_client(cache=json_backend(path)))
    for cache in (json_backend(path), SQLiteCache(str(path)), CachedSession(str(path))):
        with pytest.raises(ValueError, match="holds answers for 'analyst@example.com'"):
            wf.Client(waltero_sim.base_url, "operator@example.com", "x", cache=cache)
    session, closed = CachedSession(str(path)), []
    session.close = lambda: closed.append(True)
    with pytest.raises(ValueError):
        wf.Client(waltero_sim.base_url, "operator@example.com", "x", cache=session)
    assert closed == []  # the caller's session is the caller's to close
    # the same user, and offline replays, still open it
    make_client(cache=json_backend(path))
    wf.Client(waltero_sim.base_url, cache=json_backend(path), offline=True)
