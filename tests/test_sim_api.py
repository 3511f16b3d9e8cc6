"""The simulator's HTTP API, row by row of CONTRACT.md, over real HTTP on 127.0.0.1.

Expectations come from the contract text, hand computation, or the World's ground truth
(``telemetry_truth``, ``daily_consumption_rows``, ``changes``), never from the server's
own code paths.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import statistics
import subprocess
import sys
import time

import jwt
import numpy as np
import pandas as pd
import pytest
import requests

from waltero_frames.sim import DEMO_DEVICE, DEMO_ORG, HIDDEN_ORG, SOUTH_ORG, SimConfig, running

RAW, PROCESSED = "meter.value.raw", "meter.value.processed"
GUIDE_FIELDS = [PROCESSED, RAW, "battery.voltage", "connection.rssi"]
WEEK = ("2026-05-18T22:00:00.000Z", "2026-05-25T22:00:00.000Z")
PART1 = f"/api/organizations/{DEMO_ORG}/applications/metering/v3/data/device-daily-consumption"
UNKNOWN_UUID = "99999999-9999-9999-9999-999999999999"
HIDDEN_DEVICE = "33333333-3333-3333-3333-333333333301"
V1_DEVICE = "11111111-1111-1111-1111-111111111103"  # n % 3 == 2 -> W-Sensor v1 (n=3? see test)
ROLLOVER_DEVICE = "11111111-1111-1111-1111-111111111113"  # 5 digits x 0.01, wraps 2026-03-05


class Api:
    """A keep-alive session against the simulator with a bearer token."""

    def __init__(self, sim, username=None, password=None):
        self.sim = sim
        self.s = requests.Session()
        r = self.s.post(
            sim.url("/api/auth/login"),
            json={"username": username or sim.username, "password": password or sim.password},
        )
        assert r.status_code == 200, r.text
        self.token = r.json()["token"]
        self.s.headers["Authorization"] = f"Bearer {self.token}"

    def get(self, path, **params):
        return self.s.get(self.sim.url(path), params=params, timeout=30)


@pytest.fixture
def api(sim):
    return Api(sim)


def assert_error(resp, status, code, *, contains=None):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"code", "message"}, body
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    if contains:
        assert contains in body["message"], body["message"]


def b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


# -- auth --------------------------------------------------------------------------------
def test_login_issues_hs256_jwt_with_exp(sim):
    t0 = time.time()
    r = requests.post(
        sim.url("/api/auth/login"), json={"username": sim.username, "password": sim.password}
    )
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"token", "accessToken", "refreshToken", "user"}
    assert body["user"]["email"] == sim.username
    header = jwt.get_unverified_header(body["token"])
    assert header["alg"] == "HS256"
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert isinstance(claims["exp"], int)
    assert t0 + 86400 <= claims["exp"] <= time.time() + 86400 + 1
    assert body["accessToken"].count(".") == 2
    assert body["refreshToken"] and body["refreshToken"] != body["token"]


@pytest.mark.parametrize(
    "payload",
    [
        {"username": "analyst@example.com", "password": "wrong"},
        {"username": "nobody@example.com", "password": "waltero-demo"},
    ],
)
def test_login_wrong_credentials_401(sim, payload):
    assert_error(requests.post(sim.url("/api/auth/login"), json=payload), 401, "UNAUTHENTICATED")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {"username": "analyst@example.com"}},
        {"json": {"password": "waltero-demo"}},
        {"json": {}},
        {"json": {"username": "", "password": ""}},
        {"data": "not json", "headers": {"Content-Type": "application/json"}},
        {"json": ["analyst@example.com", "waltero-demo"]},
    ],
)
def test_login_missing_fields_400(sim, kwargs):
    resp = requests.post(sim.url("/api/auth/login"), **kwargs)
    assert_error(resp, 400, "BAD_REQUEST")
    assert "waltero-demo" not in resp.text  # the body never echoes a password


def test_me_shape(api):
    body = api.get("/api/auth/me").json()
    user = body["user"]
    assert user["email"] == "analyst@example.com" and user["id"] and user["name"]
    assert user["organizations"][0] == {
        "organization_id": DEMO_ORG,
        "name": "Demo Housing",
        "role": "viewer",
    }
    acc = {o["organization_id"]: o for o in body["accessible_organizations"]}
    assert set(acc) == {DEMO_ORG, SOUTH_ORG}  # not the hidden third org
    assert acc[DEMO_ORG] == {
        "organization_id": DEMO_ORG,
        "name": "Demo Housing",
        "timezone": "Europe/Berlin",
    }
    assert acc[SOUTH_ORG]["timezone"] == "Australia/Sydney"


def _forge(claims: dict, *, header: dict | None = None, key: bytes | None = None) -> str:
    if key is not None:
        return jwt.encode(claims, key, algorithm="HS256")
    head = b64(header or {"alg": "none", "typ": "JWT"})
    return f"{head}.{b64(claims)}."


def test_tokens_verified_like_a_gateway(api):
    good = api.token
    claims = jwt.decode(good, options={"verify_signature": False})
    head, payload, sig = good.split(".")
    tampered_claims = {**claims, "sub": "u-0002"}
    candidates = {
        "alg none": _forge(claims),
        "alg none, no dot": _forge(claims).rstrip("."),
        "foreign key": _forge(claims, key=os.urandom(32)),
        "tampered payload": f"{head}.{b64(tampered_claims)}.{sig}",
        "signature stripped": f"{head}.{payload}.",
        "garbage": "not-a-jwt",
        "HS256 header, none sig": _forge(claims, header={"alg": "HS256", "typ": "JWT"}),
    }
    for what, token in candidates.items():
        resp = requests.get(
            api.sim.url("/api/auth/me"), headers={"Authorization": f"Bearer {token}"}
        )
        assert resp.status_code == 401, what
        assert resp.json()["code"] == "UNAUTHENTICATED", what
    for headers in ({}, {"Authorization": good}, {"Authorization": f"Basic {good}"}):
        assert_error(
            requests.get(api.sim.url("/api/auth/me"), headers=headers), 401, "UNAUTHENTICATED"
        )
    assert api.get("/api/auth/me").status_code == 200


def test_token_of_another_simulator_instance_is_foreign(sim):
    with running(rate=None) as other:
        foreign = Api(other).token
    resp = requests.get(sim.url("/api/auth/me"), headers={"Authorization": f"Bearer {foreign}"})
    assert_error(resp, 401, "UNAUTHENTICATED")


def test_token_expiry_ttl_one_second(sim):
    sim.configure(token_ttl=1)
    api = Api(sim)
    exp = jwt.decode(api.token, options={"verify_signature": False})["exp"]
    assert exp - time.time() <= 2.0
    assert api.get("/api/auth/me").status_code == 200
    # the JWT's exp is wall-clock epoch seconds (as a gateway's): no simulated clock to drive
    time.sleep(max(0.0, exp - time.time()) + 0.05)
    assert_error(api.get("/api/auth/me"), 401, "UNAUTHENTICATED", contains="expired")
    assert_error(api.get("/api/devices/" + DEMO_DEVICE), 401, "UNAUTHENTICATED")
    assert Api(sim).get("/api/auth/me").status_code == 200  # re-login works


# -- Part 1 ------------------------------------------------------------------------------
def test_part1_v3_equals_world_rows(api):
    resp = api.get(PART1, startDate=WEEK[0], endDate=WEEK[1], resolution="day")
    assert resp.status_code == 200
    rows = resp.json()
    assert isinstance(rows, list)
    assert rows == api.sim.world.daily_consumption_rows(DEMO_ORG, *WEEK, "day")
    dated = [r for r in rows if "date" in r]
    nulls = [r for r in rows if "date" not in r]
    assert all(r["consumption"] is None for r in nulls)
    assert all(set(r) <= {"deviceId", "deviceName", "serialNumber", "consumption"} for r in nulls)
    assert {r["date"] for r in dated} == {f"2026-05-{d}" for d in range(18, 26)}  # partial ends


def test_part1_names_fall_back_and_may_be_missing(api):
    rows = api.get(PART1, startDate=WEEK[0], endDate=WEEK[1], resolution="week").json()
    devices = api.sim.world.devices
    by_dev = {r["deviceId"]: r for r in rows}
    for dev, row in by_dev.items():
        name, ext = devices.loc[dev, "name"], devices.loc[dev, "external_id"]
        if name:
            assert row["deviceName"] == name
        elif ext is not None:
            assert row["deviceName"] == ext  # "" name -> external id, or "" when both are ""
    assert any(r["deviceName"] == "" for r in by_dev.values())
    south = api.get(
        PART1.replace(DEMO_ORG, SOUTH_ORG), startDate=WEEK[0], endDate=WEEK[1], resolution="month"
    ).json()
    assert any("deviceName" not in r for r in south)


def test_part1_accepts_any_offset(api):
    z = api.get(PART1, startDate=WEEK[0], endDate=WEEK[1], resolution="day").json()
    off = api.get(
        PART1,
        startDate="2026-05-19T00:00:00+02:00",
        endDate="2026-05-25T17:00:00-05:00",
        resolution="day",
    ).json()
    assert off == z


@pytest.mark.parametrize("resolution", ["week", "month", "year"])
def test_part1_other_resolutions_equal_world(api, resolution):
    start, end = "2026-02-10T00:00:00.000Z", "2026-04-03T12:00:00.000Z"
    rows = api.get(PART1, startDate=start, endDate=end, resolution=resolution).json()
    assert rows == api.sim.world.daily_consumption_rows(DEMO_ORG, start, end, resolution)
    first = {"week": "2026-02-09", "month": "2026-02-01", "year": "2026-01-01"}[resolution]
    assert min(r["date"] for r in rows if "date" in r) == first  # partial first period


def _hand_daily(api, device, start, end, digits, mult):
    """Part 1 by hand from Part 2 readings: processed deltas, rollover unwrapped, by UTC day."""
    t0 = pd.Timestamp(start) - pd.Timedelta(days=2)  # the reading before startDate
    body = api.get(
        f"/api/devices/{device}/telemetry",
        startDate=t0.isoformat(),
        endDate=end,
        fields=f"{RAW},{PROCESSED}",
    ).json()["fields"]
    ts = pd.to_datetime([p["ts"] for p in body[PROCESSED]], utc=True)
    proc = np.array([p["value"] for p in body[PROCESSED]])
    raw = np.array([p["value"] for p in body[RAW]])
    size = 10**digits
    d_raw = np.diff(raw)
    wrap = (d_raw < 0) & (raw[:-1] >= 0.9 * size) & (raw[1:] < 0.1 * size)
    delta = np.diff(proc) + np.where(wrap, size * mult, 0.0)
    when = ts[1:]
    keep = when >= pd.Timestamp(start)
    s = pd.Series(delta[keep], index=when[keep])
    return s.groupby(s.index.floor("D")).sum(), int(wrap[keep].sum())


@pytest.mark.parametrize(
    "device,start,end",
    [
        (DEMO_DEVICE, WEEK[0], WEEK[1]),
        (ROLLOVER_DEVICE, "2026-03-03T22:00:00.000Z", "2026-03-07T05:30:00.000Z"),
    ],
)
def test_part1_sums_equal_part2_deltas(api, device, start, end):
    detail = api.get(f"/api/devices/{device}").json()["data"]
    expected, wraps = _hand_daily(
        api, device, start, end, detail["register_digits"], detail["multiplier"]
    )
    if device == ROLLOVER_DEVICE:
        assert wraps == 1  # the range really contains the rollover
    rows = api.get(PART1, startDate=start, endDate=end, resolution="day").json()
    got = {r["date"]: r["consumption"] for r in rows if r["deviceId"] == device and "date" in r}
    assert sorted(got) == [d.strftime("%Y-%m-%d") for d in expected.index]
    for day, value in expected.items():
        assert got[day.strftime("%Y-%m-%d")] == pytest.approx(value, abs=2e-6)


@pytest.mark.parametrize(
    "params,needle",
    [
        ({"startDate": WEEK[0], "endDate": WEEK[1], "resolution": "hour"}, "resolution"),
        ({"startDate": WEEK[0], "endDate": WEEK[1], "resolution": "DAY"}, "resolution"),
        ({"startDate": "2026-05-18T22:00:00", "endDate": WEEK[1], "resolution": "day"}, "offset"),
        ({"startDate": "2026-05-18", "endDate": WEEK[1], "resolution": "day"}, "offset"),
        ({"startDate": "yesterday", "endDate": WEEK[1], "resolution": "day"}, "startDate"),
        ({"startDate": WEEK[0], "endDate": "2026-13-01T00:00:00Z", "resolution": "day"}, "endDate"),
        ({"startDate": WEEK[1], "endDate": WEEK[0], "resolution": "day"}, "after"),
        ({"startDate": WEEK[0], "endDate": WEEK[0], "resolution": "day"}, "after"),
        ({"endDate": WEEK[1], "resolution": "day"}, "startDate"),
        ({"startDate": WEEK[0], "endDate": WEEK[1]}, "resolution"),
    ],
)
def test_part1_bad_requests(api, params, needle):
    assert_error(api.get(PART1, **params), 400, "BAD_REQUEST", contains=needle)


def test_unversioned_path_answers_another_shape(api):
    path = PART1.replace("/metering/v3/", "/metering/")
    resp = api.get(path, startDate=WEEK[0], endDate=WEEK[1], resolution="day")
    assert resp.status_code == 200
    body = resp.json()
    assert isinstance(body, dict) and body["apiVersion"] == "v4"  # not the v3 bare array
    v3 = api.get(PART1, startDate=WEEK[0], endDate=WEEK[1], resolution="day").json()
    assert len(body["items"]) == len(v3)
    assert "deviceId" not in body["items"][0]


# -- org scoping ---------------------------------------------------------------------------
ORG_PATHS = [
    "/api/organizations/{org}/devices",
    "/api/organizations/{org}/applications/metering/v3/data/device-daily-consumption"
    "?startDate=2026-05-18T22:00:00Z&endDate=2026-05-19T22:00:00Z&resolution=day",
    "/api/organizations/{org}/data-audit/changes?since=2026-01-01T00:00:00Z",
]
DEVICE_PATHS = [
    "/api/devices/{dev}",
    "/api/devices/{dev}/fields",
    "/api/devices/{dev}/telemetry?startDate=2026-05-18T22:00:00Z&endDate=2026-05-19T22:00:00Z"
    "&fields=meter.value.raw",
]


@pytest.mark.parametrize("template", ORG_PATHS + DEVICE_PATHS)
def test_org_scoping_403_and_404(api, template):
    for ident, status, code in [
        (HIDDEN_ORG if "{org}" in template else HIDDEN_DEVICE, 403, "FORBIDDEN"),
        (UNKNOWN_UUID, 404, "NOT_FOUND"),
        ("not-a-uuid", 404, "NOT_FOUND"),
        ("11111111-1111-1111-1111-11111111110Z", 404, "NOT_FOUND"),
    ]:
        resp = api.s.get(api.sim.url(template.format(org=ident, dev=ident)))
        assert_error(resp, status, code)


def test_other_user_reads_only_its_org(sim):
    operator = Api(sim, "operator@example.com", "waltero-operator")
    assert operator.get(f"/api/organizations/{HIDDEN_ORG}/devices").status_code == 200
    assert_error(operator.get(f"/api/organizations/{DEMO_ORG}/devices"), 403, "FORBIDDEN")
    assert_error(operator.get(f"/api/devices/{DEMO_DEVICE}"), 403, "FORBIDDEN")
    me = operator.get("/api/auth/me").json()
    assert [o["organization_id"] for o in me["accessible_organizations"]] == [HIDDEN_ORG]


# -- devices -------------------------------------------------------------------------------
def _org_ids(sim, org):
    d = sim.world.devices
    return list(d.index[d["organization_id"] == org])


def test_devices_pagination_edges(api):
    path = f"/api/organizations/{DEMO_ORG}/devices"
    expected = _org_ids(api.sim, DEMO_ORG)
    total = len(expected)
    assert total == 48
    body = api.get(path, limit=1000).json()
    assert body["meta"] == {"total": total, "limit": 100, "offset": 0}  # capped at 100
    assert [d["id"] for d in body["data"]] == expected
    body = api.get(path).json()
    assert body["meta"]["limit"] == 100 and len(body["data"]) == total
    # exact multiple: 48 = 3 x 16
    pages, offset = [], 0
    while True:
        page = api.get(path, limit=16, offset=offset).json()
        assert page["meta"] == {"total": total, "limit": 16, "offset": offset}
        pages.append(page["data"])
        offset += len(page["data"])
        if offset >= page["meta"]["total"]:
            break
    assert [len(p) for p in pages] == [16, 16, 16]
    assert [d["id"] for p in pages for d in p] == expected
    # a ragged last page and an offset past the end
    assert len(api.get(path, limit=20, offset=40).json()["data"]) == 8
    past = api.get(path, limit=10, offset=500).json()
    assert past == {"data": [], "meta": {"total": total, "limit": 10, "offset": 500}}
    assert len(api.get(path, limit=1, offset=47).json()["data"]) == 1


def test_devices_rows_match_world(api):
    data = api.get(f"/api/organizations/{DEMO_ORG}/devices").json()["data"]
    world = api.sim.world.devices
    for item in data:
        assert set(item) == {"id", "name", "external_id", "serial_number", "meter_type"}
        row = world.loc[item["id"]]
        assert item["name"] == row["name"]
        assert item["serial_number"] == row["serial_number"]
        assert item["meter_type"] == row["meter_type"]
        assert item["meter_type"] in {"water_cold", "water_hot", "gas", "electricity", "heat"}


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": -5}, {"offset": -1}, {"limit": "ten"}, {"offset": "1.5"}]
)
def test_devices_bad_paging_400(api, params):
    resp = api.get(f"/api/organizations/{DEMO_ORG}/devices", **params)
    assert_error(resp, 400, "BAD_REQUEST")


def test_device_detail_matches_world(api):
    for dev, row in api.sim.world.devices.iterrows():
        if row["organization_id"] == HIDDEN_ORG:
            continue
        data = api.get(f"/api/devices/{dev}").json()["data"]
        assert data["id"] == dev
        assert data["organization_id"] == row["organization_id"]
        assert data["multiplier"] == row["multiplier"]
        assert data["register_digits"] == row["register_digits"]
        assert data["unit"] == row["unit"] and data["variant"] == row["variant"]
        assert data["external_id"] == row["external_id"]


def test_fields_per_variant(api):
    devices = api.sim.world.devices
    v1 = devices.index[devices["variant"] == "W-Sensor v1"][0]
    v2 = DEMO_DEVICE
    assert devices.loc[v2, "variant"] == "W-Sensor v2"
    assert api.get(f"/api/devices/{v2}/fields").json() == {
        "meter": [PROCESSED, RAW],
        "battery": ["battery.voltage", "battery.level"],
        "connection": ["connection.rssi", "connection.snr"],
        "meta": ["meta.temperature", "meta.firmware"],
    }
    old = api.get(f"/api/devices/{v1}/fields").json()
    assert old["battery"] == ["battery.voltage"] and old["connection"] == ["connection.rssi"]


# -- telemetry -----------------------------------------------------------------------------
def _points(body, field):
    pts = body["fields"][field]
    return pd.to_datetime([p["ts"] for p in pts], utc=True), np.array([p["value"] for p in pts])


def test_telemetry_equals_world_truth(api):
    body = api.get(
        f"/api/devices/{DEMO_DEVICE}/telemetry",
        startDate=WEEK[0],
        endDate=WEEK[1],
        fields=",".join(GUIDE_FIELDS),
    ).json()
    assert body["deviceId"] == DEMO_DEVICE
    assert sorted(body["fields"]) == sorted(GUIDE_FIELDS)
    truth = api.sim.world.telemetry_truth([DEMO_DEVICE], *WEEK, fields=GUIDE_FIELDS)
    for field in GUIDE_FIELDS:
        ts, values = _points(body, field)
        col = truth[field].dropna()
        assert list(ts) == list(col.index), field
        np.testing.assert_array_equal(values, col.to_numpy(), err_msg=field)
        assert ts.is_monotonic_increasing
    raw_pts = body["fields"][RAW]
    assert all(isinstance(p["value"], int) for p in raw_pts)  # the integer register
    assert all(p["ts"].endswith(".000Z") for p in raw_pts)
    # processed is already in display units: raw x multiplier, never multiplied again
    _, raw = _points(body, RAW)
    _, proc = _points(body, PROCESSED)
    np.testing.assert_allclose(proc, np.round(raw * 0.001, 6))


def test_telemetry_bounds_inclusive_exclusive(api):
    start, end = "2026-05-19T00:00:00.000Z", "2026-05-19T01:00:00.000Z"
    body = api.get(
        f"/api/devices/{DEMO_DEVICE}/telemetry", startDate=start, endDate=end, fields=RAW
    ).json()
    ts, _ = _points(body, RAW)
    assert ts[0] == pd.Timestamp(start)  # a reading exactly at startDate is in
    assert ts[-1] < pd.Timestamp(end)  # ... and one exactly at endDate is out
    assert (
        pd.Timestamp(end)
        in api.sim.world.telemetry_truth(
            DEMO_DEVICE, start, "2026-05-19T02:00Z", fields=[RAW]
        ).index
    )


def test_telemetry_31_day_cap(api):
    path = f"/api/devices/{DEMO_DEVICE}/telemetry"
    ok = api.get(
        path, startDate="2026-05-01T00:00:00.000Z", endDate="2026-06-01T00:00:00.000Z", fields=RAW
    )
    assert ok.status_code == 200
    assert len(ok.json()["fields"][RAW]) == 31 * 96  # 15-min readings, no gaps on this meter
    over = api.get(
        path, startDate="2026-05-01T00:00:00.000Z", endDate="2026-06-01T00:00:00.001Z", fields=RAW
    )
    assert_error(over, 400, "BAD_REQUEST", contains="range too long")


@pytest.mark.parametrize(
    "fields,needle",
    [
        ("meter.value.raw,meter.value.bogus", "meter.value.bogus"),
        ("", "fields"),
        (",,", "fields"),
        (None, "fields"),
    ],
)
def test_telemetry_field_errors(api, fields, needle):
    params = {"startDate": WEEK[0], "endDate": WEEK[1]}
    if fields is not None:
        params["fields"] = fields
    resp = api.get(f"/api/devices/{DEMO_DEVICE}/telemetry", **params)
    assert_error(resp, 400, "BAD_REQUEST", contains=needle)


def test_telemetry_unsupported_field_absent(api):
    devices = api.sim.world.devices
    v1 = devices.index[devices["variant"] == "W-Sensor v1"][0]
    body = api.get(
        f"/api/devices/{v1}/telemetry",
        startDate=WEEK[0],
        endDate=WEEK[1],
        fields="connection.snr,battery.level,connection.rssi",
    ).json()
    assert list(body["fields"]) == ["connection.rssi"]


# -- changelog -----------------------------------------------------------------------------
CHANGES = f"/api/organizations/{DEMO_ORG}/data-audit/changes"


def _visible(sim, org=DEMO_ORG):
    c = sim.world.changes(org)
    return c[c["visible_at"] <= sim.world.now()]


def _page_all(api, since, limit, org=DEMO_ORG):
    rows, cursor, pages = [], None, 0
    while True:
        params = {"since": since, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        body = api.get(f"/api/organizations/{org}/data-audit/changes", **params).json()
        assert set(body) == {"data", "nextCursor"}
        rows += body["data"]
        pages += 1
        cursor = body["nextCursor"]
        if cursor is None:
            return rows, pages
        assert pages < 100, "cursor paging does not end"


def test_changes_guide_call_shape(api):
    body = api.get(CHANGES, since="2026-05-25T00:00:00.000Z", limit=200).json()
    row = body["data"][0]
    assert set(row) == {
        "id",
        "deviceId",
        "field",
        "timestamp",
        "previousValue",
        "newValue",
        "actor",
        "changedAt",
    }
    # the contract's own example row (ids are the World's), and its processed twin
    assert row == {
        "id": "chg_00000000001",
        "deviceId": DEMO_DEVICE,
        "field": RAW,
        "timestamp": "2026-05-20T06:00:00.000Z",
        "previousValue": 1284567,
        "newValue": 1234567,
        "actor": "user",
        "changedAt": "2026-05-25T09:13:22.512Z",
    }
    twin = body["data"][1]
    assert (twin["field"], twin["previousValue"], twin["newValue"]) == (
        PROCESSED,
        1284.567,
        1234.567,
    )
    assert isinstance(row["newValue"], int) and isinstance(twin["newValue"], float)
    assert len(body["data"]) == 200 and body["nextCursor"]  # capped; more to come


def test_changes_full_listing_equals_world(api):
    rows, pages = _page_all(api, "2025-01-01T00:00:00Z", 200)
    truth = _visible(api.sim)
    assert [r["id"] for r in rows] == truth["change_id"].tolist()
    assert pages == -(-len(truth) // 200)
    keys = [(r["changedAt"], r["id"]) for r in rows]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert {r["actor"] for r in rows} == {"user", "system"}


def test_changes_bulk_page_through_one_changed_at(api):
    truth = _visible(api.sim)
    counts = truth.groupby("changed_at").size()
    bulk_at = counts.idxmax()
    assert counts.max() > 200
    since = bulk_at.isoformat().replace("+00:00", "Z")
    for limit in (200, 37):
        rows, _ = _page_all(api, since, limit)
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids))  # none repeated
        want = truth[truth["changed_at"] >= bulk_at]["change_id"].tolist()
        assert ids == want  # none lost, in (changedAt, id) order
    # moving `since` to the last changedAt instead of following the cursor makes no progress
    first = api.get(CHANGES, since=since, limit=200).json()["data"]
    again = api.get(CHANGES, since=first[-1]["changedAt"], limit=200).json()["data"]
    assert again == first


def test_changes_since_inclusive_and_limits(api):
    truth = _visible(api.sim)
    at = truth.iloc[5]
    since = at["changed_at"].isoformat()
    rows = api.get(CHANGES, since=since, limit=3).json()["data"]
    assert rows[0]["changedAt"] == at["changed_at"].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    assert rows[0]["id"] == truth[truth["changed_at"] >= at["changed_at"]]["change_id"].iloc[0]
    just_after = (at["changed_at"] + pd.Timedelta(milliseconds=1)).isoformat()
    after = api.get(CHANGES, since=just_after, limit=200).json()["data"]
    assert all(r["changedAt"] > rows[0]["changedAt"] for r in after)
    assert len(api.get(CHANGES, since="2025-01-01T00:00:00Z", limit=5000).json()["data"]) == 200
    # exact fit: a page holding every remaining row ends the listing
    tail = truth[truth["changed_at"] >= pd.Timestamp("2026-10-07T00:00:00Z")]
    body = api.get(CHANGES, since="2026-10-07T00:00:00Z", limit=len(tail)).json()
    assert len(body["data"]) == len(tail) and body["nextCursor"] is None
    body = api.get(CHANGES, since="2026-10-07T00:00:00Z", limit=len(tail) - 1).json()
    assert body["nextCursor"] is not None
    assert api.get(CHANGES, since="2030-01-01T00:00:00Z").json() == {"data": [], "nextCursor": None}


def test_changes_bad_requests(api):
    cursor = api.get(CHANGES, since="2025-01-01T00:00:00Z", limit=2).json()["nextCursor"]
    south = f"/api/organizations/{SOUTH_ORG}/data-audit/changes"
    cases = [
        (CHANGES, {"since": "2025-01-01T00:00:00Z", "cursor": "garbage!"}, "cursor"),
        (CHANGES, {"since": "2025-01-01T00:00:00Z", "cursor": b64(["x", 1])}, "cursor"),
        (CHANGES, {"since": "2025-01-01T00:00:00Z", "cursor": b64({"a": 1})}, "cursor"),
        (CHANGES, {"since": "2025-01-01T00:00:00Z", "cursor": cursor[:-3]}, "cursor"),
        (south, {"since": "2025-01-01T00:00:00Z", "cursor": cursor}, "cursor"),
        (CHANGES, {"since": "2025-01-01T00:00:00"}, "since"),
        (CHANGES, {"since": "soon"}, "since"),
        (CHANGES, {}, "since"),
        (CHANGES, {"since": "2025-01-01T00:00:00Z", "limit": 0}, "limit"),
    ]
    for path, params, needle in cases:
        assert_error(api.get(path, **params), 400, "BAD_REQUEST", contains=needle)


def test_changes_replication_lag(api):
    sim = api.sim
    chg = sim.world.changes(DEMO_ORG).iloc[0]  # changed 09:13:22.512, visible ~50 s later
    lag = chg["visible_at"] - chg["changed_at"]
    assert lag > pd.Timedelta(seconds=10)
    since = chg["changed_at"].isoformat()

    def listed(clock):
        sim.configure(clock=clock.isoformat(), speed=0)
        return [r["id"] for r in api.get(CHANGES, since=since, limit=5).json()["data"]]

    assert chg["change_id"] not in listed(chg["changed_at"] + lag / 2)
    assert chg["change_id"] in listed(chg["visible_at"])
    sim.configure(replication_lag=0)  # lag lifted: visible from changedAt on
    assert chg["change_id"] in listed(chg["changed_at"])
    assert chg["change_id"] not in listed(chg["changed_at"] - pd.Timedelta(milliseconds=1))


def test_runtime_correction_with_lag_then_reset(api):
    sim = api.sim
    now = sim.world.now()
    ts = pd.Timestamp("2026-06-10T12:00:00Z")
    before = sim.world.telemetry_truth(DEMO_DEVICE, ts, ts + pd.Timedelta(minutes=1), fields=[RAW])
    new_raw = int(before[RAW].iloc[0]) - 7
    rows = sim.add_correction(
        DEMO_DEVICE, RAW, ts, new_raw, changed_at=now - pd.Timedelta(seconds=60), lag=120
    )
    assert [r["field"] for r in rows] == [RAW, PROCESSED]
    since = (now - pd.Timedelta(minutes=5)).isoformat()
    assert api.get(CHANGES, since=since).json()["data"] == []  # visible only at now + 60 s
    sim.configure(replication_lag=30)
    listed = api.get(CHANGES, since=since).json()["data"]
    assert [(r["field"], r["newValue"]) for r in listed] == [
        (RAW, new_raw),
        (PROCESSED, round(new_raw * 0.001, 6)),
    ]
    assert listed[0]["previousValue"] == int(before[RAW].iloc[0])
    # the corrected reading is what telemetry serves now
    tele = api.get(
        f"/api/devices/{DEMO_DEVICE}/telemetry",
        startDate=ts.isoformat(),
        endDate=(ts + pd.Timedelta(minutes=1)).isoformat(),
        fields=RAW,
    ).json()
    assert tele["fields"][RAW][0]["value"] == new_raw
    sim.reset()
    sim.configure(rate=None)
    assert api.get(CHANGES, since=since).json()["data"] == []
    assert sim.config.replication_lag == 300


# -- limits, faults, log ---------------------------------------------------------------------
def test_rate_limit_429_with_and_without_retry_after(sim):
    sim.configure(rate=1.0, burst=2)
    api = Api(sim)
    assert [api.get("/api/auth/me").status_code for _ in range(2)] == [200, 200]
    limited = api.get("/api/auth/me")
    assert_error(limited, 429, "RATE_LIMITED")
    assert limited.headers["Retry-After"] == "1"  # integer seconds
    other = Api(sim)  # the bucket is per token
    assert other.get("/api/auth/me").status_code == 200
    sim.configure(retry_after_header=False)
    limited = api.get("/api/auth/me")
    assert limited.status_code == 429 and "Retry-After" not in limited.headers
    time.sleep(1.05)  # the token buckets refill in wall-clock (monotonic) time, not the sim's
    assert api.get("/api/auth/me").status_code == 200  # refilled at `rate`
    sim.configure(rate=None)
    assert all(api.get("/api/auth/me").status_code == 200 for _ in range(30))


def test_default_rate_limit_is_10_per_s_burst_20(waltero_sim):
    assert waltero_sim.config.rate == 10 and waltero_sim.config.burst == 20
    api = Api(waltero_sim)
    t0 = time.monotonic()
    codes = [api.get("/api/auth/me").status_code for _ in range(60)]
    elapsed = time.monotonic() - t0
    assert codes[:20] == [200] * 20  # the full burst
    assert set(codes) == {200, 429}
    # token-bucket bound: at most burst + rate x elapsed calls pass
    assert codes.count(200) <= 20 + 10 * elapsed + 1


def test_login_limit_per_username(waltero_sim):
    sim = waltero_sim
    url = sim.url("/api/auth/login")
    good = {"username": sim.username, "password": sim.password}
    codes = [requests.post(url, json=good).status_code for _ in range(4)]
    codes.append(requests.post(url, json={**good, "password": "x"}).status_code)  # counts too
    assert codes == [200, 200, 200, 200, 401]
    blocked = requests.post(url, json=good)
    assert_error(blocked, 429, "RATE_LIMITED")
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    other = {"username": "operator@example.com", "password": "waltero-operator"}
    assert requests.post(url, json=other).status_code == 200
    sim.configure(login_limit=None)
    assert requests.post(url, json=good).status_code == 200


def test_fault_500_then_recovers(api):
    api.sim.configure(fail=[{"status": 500, "path": r"/api/auth/me$", "times": 2}])
    codes = [api.get("/api/auth/me").status_code for _ in range(3)]
    assert codes == [500, 500, 200]
    api.sim.configure(fail=[{"status": 500, "path": "/devices", "times": 1}])
    assert_error(api.get(f"/api/devices/{DEMO_DEVICE}"), 500, "INTERNAL_ERROR")
    assert api.get(f"/api/devices/{DEMO_DEVICE}").status_code == 200
    assert api.sim.counters[("device", 200)] == 1
    assert api.sim.counters[("device", 500)] == 1  # named although answered before routing
    assert api.sim.counters[("me", 500)] == 2


def test_fault_drop_cuts_the_connection(api):
    api.sim.configure(fail=[{"status": "drop", "path": "/telemetry", "times": 1}])
    with pytest.raises(
        (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)
    ):
        api.get(
            f"/api/devices/{DEMO_DEVICE}/telemetry", startDate=WEEK[0], endDate=WEEK[1], fields=RAW
        )
    ok = api.get(
        f"/api/devices/{DEMO_DEVICE}/telemetry", startDate=WEEK[0], endDate=WEEK[1], fields=RAW
    )
    assert ok.status_code == 200
    assert [r["status"] for r in api.sim.log if r["path"].endswith("/telemetry")] == ["drop", 200]


def test_fault_method_filter_and_login_path(sim):
    sim.configure(fail=[{"status": 500, "path": "/auth/login", "method": "POST", "times": None}])
    for _ in range(3):
        resp = requests.post(
            sim.url("/api/auth/login"), json={"username": sim.username, "password": sim.password}
        )
        assert_error(resp, 500, "INTERNAL_ERROR")
    sim.configure(fail=[])
    assert Api(sim).token


def test_latency_knob(api):
    api.sim.configure(latency=0.25)
    t0 = time.perf_counter()
    assert api.get("/api/auth/me").status_code == 200
    assert time.perf_counter() - t0 >= 0.25


@pytest.mark.parametrize(
    "bad",
    [
        {"rate": -1},
        {"burst": 0},
        {"fail": [{"status": 404}]},
        {"fail": [{"path": "("}]},
        {"clock": "2026-06-01T00:00:00"},
        {"prefix": "prod"},
        {"speed": -1},
        {"nope": 1},
        {"latency": float("nan")},
    ],
)
def test_bad_knobs_raise_value_error(sim, bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name if name != "fail" else "fault"):
        sim.configure(**bad)
    assert sim.config.rate is None  # nothing half-applied
    with pytest.raises((ValueError, TypeError)):
        SimConfig(**bad)
    with pytest.raises(ValueError, match=name if name != "fail" else "fault"):
        running(**bad).__enter__()


def test_request_log_has_no_secrets(sim):
    api = Api(sim)
    api.get("/api/auth/me")
    api.s.get(sim.url("/api/auth/me"), params={"token": api.token, "password": sim.password})
    requests.post(sim.url("/api/auth/login"), json={"username": sim.username, "password": "bad"})
    text = json.dumps(sim.log)
    assert sim.password not in text and api.token not in text and 'bad"' not in text
    assert api.token.split(".")[2] not in text
    assert "Authorization" not in text and "Bearer" not in text
    rec = sim.log[1]
    assert set(rec) >= {"method", "path", "query", "status", "t"}
    assert rec["method"] == "GET" and rec["path"] == "/api/auth/me" and rec["status"] == 200
    assert sim.log[2]["query"] == {"token": "***", "password": "***"}
    assert sim.counters[("login", 200)] == 1 and sim.counters[("login", 401)] == 1
    assert sim.counters[("me", 200)] == 2
    assert "waltero-demo" not in repr(sim) and "waltero-demo" not in repr(sim.config)


def test_reset_restores_everything(sim):
    n_changes = len(sim.world.changes())
    sim.configure(latency=0.01, fail=[{"status": 500, "path": "nothing-matches"}], token_ttl=5,
                  clock="2026-06-01T00:00:00Z", speed=0)  # fmt: skip
    sim.add_correction(DEMO_DEVICE, RAW, "2026-05-20T06:15:00Z", 1234568)
    assert len(sim.world.changes()) == n_changes + 2  # raw and processed rows
    api = Api(sim)
    api.get("/api/auth/me")
    sim.reset()
    assert sim.config == SimConfig()  # the session's start values are the defaults
    assert sim.log == [] and not sim.counters
    assert len(sim.world.changes()) == n_changes  # runtime corrections gone
    assert sim.world.now() == pd.Timestamp("2026-12-01T00:00:00Z")  # clock frozen again
    assert api.get("/api/auth/me").status_code == 200  # tokens stay valid across a reset


def test_prefix_serves_under_base_path(sim):
    sim.configure(prefix="/prod")
    assert sim.base_url.endswith("/prod")
    api = Api(sim)  # logs in at {base}/api/auth/login
    assert api.get("/api/auth/me").status_code == 200
    resp = requests.get(
        sim.root_url + "/api/auth/me", headers={"Authorization": f"Bearer {api.token}"}
    )
    assert_error(resp, 404, "NOT_FOUND")
    doc = requests.get(sim.url("/openapi.json")).json()
    assert doc["servers"][0]["url"] == "/prod"
    assert sim.log[-1]["path"] == "/openapi.json"


def test_openapi_document_has_real_parameters(sim):
    doc = requests.get(sim.url("/openapi.json")).json()
    paths = doc["paths"]
    assert not any(p.startswith("/_sim") for p in paths)
    assert set(paths) >= {
        "/api/auth/login",
        "/api/auth/me",
        "/api/organizations/{orgId}/devices",
        "/api/devices/{deviceId}",
        "/api/devices/{deviceId}/fields",
        "/api/devices/{deviceId}/telemetry",
        "/api/organizations/{orgId}/data-audit/changes",
        "/api/organizations/{orgId}/applications/metering/v3/data/device-daily-consumption",
        "/api/organizations/{orgId}/applications/metering/data/device-daily-consumption",
    }
    params = {p["name"]: p for p in paths["/api/devices/{deviceId}/telemetry"]["get"]["parameters"]}
    assert {n for n, p in params.items() if p["required"]} == {
        "deviceId",
        "startDate",
        "endDate",
        "fields",
    }
    devs = paths["/api/organizations/{orgId}/devices"]["get"]["parameters"]
    limit = next(p for p in devs if p["name"] == "limit")
    assert limit["schema"]["type"] == "integer" and limit["schema"]["minimum"] == 1
    assert "bearer" in json.dumps(doc["components"]["securitySchemes"]).lower()


def test_keep_alive_small_calls_have_no_nagle_stall(api):
    api.get("/api/auth/me")
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        api.get("/api/auth/me")
        times.append(time.perf_counter() - t0)
    assert statistics.median(times) < 0.03  # a Nagle/delayed-ACK stall costs ~40 ms each


def test_clock_runs_on(sim):
    sim.config.clock = "2026-07-01T00:00:00Z"  # attribute writes count at once, too
    sim.config.speed = 0
    assert sim.world.now() == pd.Timestamp("2026-07-01T00:00:00Z")
    sim.configure(clock="2026-06-01T00:00:00Z", speed=3600)  # one simulated hour per second
    t0 = sim.world.now()
    assert pd.Timestamp("2026-06-01T00:00:00Z") <= t0 < pd.Timestamp("2026-06-01T01:00:00Z")
    api = Api(sim)
    body = api.get(
        f"/api/devices/{DEMO_DEVICE}/telemetry",
        startDate="2026-05-31T00:00:00Z",
        endDate="2026-06-02T00:00:00Z",
        fields=RAW,
    ).json()
    last = pd.Timestamp(body["fields"][RAW][-1]["ts"])
    assert last <= sim.world.now() and last >= t0 - pd.Timedelta(minutes=15)
    time.sleep(0.3)  # what is tested is the clock running on with wall time at `speed`
    assert sim.world.now() - t0 >= pd.Timedelta(minutes=15)


def test_one_telemetry_answer_is_one_snapshot_of_a_running_clock(sim):
    # at ~2 simulated weeks per wall second a 15-min reading arrives every ~60 µs of
    # wall time: fields read at different instants would end at different readings
    sim.configure(clock="2026-06-01T00:00:00Z", speed=1_200_000)
    api = Api(sim)
    fields = f"{RAW},meter.value.processed"
    for _ in range(30):
        body = api.get(
            f"/api/devices/{DEMO_DEVICE}/telemetry",
            startDate="2026-05-20T00:00:00Z",
            endDate="2026-06-20T00:00:00Z",
            fields=fields,
        ).json()["fields"]
        raw_ts = [p["ts"] for p in body[RAW]]
        assert raw_ts == [p["ts"] for p in body["meter.value.processed"]]


# -- starters ------------------------------------------------------------------------------
def test_subprocess_server_same_api(tmp_path):
    with running(seed=0, process=True, rate=None, prefix="/prod") as sim:
        assert sim.base_url.endswith("/prod")
        api = Api(sim)
        assert api.get("/api/auth/me").status_code == 200
        sim.configure(fail=[{"status": 500, "path": "/me", "times": 1}])
        assert sim.config.fail[0]["times"] == 1
        assert api.get("/api/auth/me").status_code == 500
        sim.config.latency = 0.0  # attribute writes go through the admin endpoint
        with pytest.raises(ValueError, match="burst"):
            sim.configure(burst=0)
        ts = "2026-06-10T12:00:00Z"
        raw = int(
            sim.world.telemetry_truth(DEMO_DEVICE, ts, "2026-06-10T12:01Z", fields=[RAW])[RAW].iloc[
                0
            ]
        )
        sim.add_correction(DEMO_DEVICE, RAW, ts, raw + 3, lag=0)
        got = api.get(
            f"/api/devices/{DEMO_DEVICE}/telemetry",
            startDate=ts,
            endDate="2026-06-10T12:01:00Z",
            fields=RAW,
        ).json()
        assert got["fields"][RAW][0]["value"] == raw + 3
        assert (
            sim.world.series(DEMO_DEVICE, RAW)[1][
                np.searchsorted(
                    sim.world.series(DEMO_DEVICE, RAW)[0], pd.Timestamp(ts).value // 10**6
                )
            ]
            == raw + 3
        )  # the local ground truth carries the same correction
        assert sim.counters[("me", 500)] == 1
        assert [r["route"] for r in sim.log][:2] == ["login", "me"]
        sim.reset()
        assert sim.log == [] and sim.config.rate is None and sim.config.fail == []
        proc = sim._proc
    assert proc.returncode == 0  # SIGTERM: clean exit


def test_cli_prints_env_lines_and_stops_on_sigint():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "waltero_frames.sim.cli",
            "serve",
            "--port",
            "0",
            "--rate",
            "none",
            "--prefix",
            "/prod",
            "--seed",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [proc.stdout.readline().strip() for _ in range(3)]
        assert lines[0].startswith("WALTERO_BASE_URL=http://127.0.0.1:")
        assert lines[0].endswith("/prod")
        assert lines[1] == "WALTERO_USERNAME=analyst@example.com"
        assert lines[2] == "WALTERO_PASSWORD=waltero-demo"
        base = lines[0].split("=", 1)[1]
        r = requests.post(
            base + "/api/auth/login",
            json={"username": "analyst@example.com", "password": "waltero-demo"},
        )
        assert r.status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_plugin_import_is_cheap_and_package_exports():
    code = (
        "import sys, waltero_frames.sim.pytest_plugin\n"
        "assert 'fastapi' not in sys.modules and 'uvicorn' not in sys.modules\n"
        "import waltero_frames.sim as s\n"
        "assert {'running', 'SimConfig', 'World', 'DEMO_ORG', 'DEMO_DEVICE', 'DEMO_USERNAME',"
        " 'DEMO_PASSWORD'} <= set(s.__all__)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_sub_millisecond_bounds(api):
    """Readings sit on whole ms: a start 0.5 ms after a reading excludes it (start inclusive)."""
    reading = "2026-05-19T00:00:00.000Z"
    half_ms = "2026-05-19T00:00:00.0005Z"
    end = "2026-05-19T00:30:00.000Z"
    tele = api.get(
        f"/api/devices/{DEMO_DEVICE}/telemetry", startDate=half_ms, endDate=end, fields=RAW
    ).json()["fields"][RAW]
    assert [p["ts"] for p in tele] == ["2026-05-19T00:15:00.000Z"]
    rows = api.get(PART1, startDate=half_ms, endDate=end, resolution="day").json()
    assert rows == api.sim.world.daily_consumption_rows(
        DEMO_ORG, "2026-05-19T00:00:00.001Z", end, "day"
    )
    assert rows != api.sim.world.daily_consumption_rows(DEMO_ORG, reading, end, "day")


# -- every device, every field, against the World ------------------------------------------
def _readable_devices(sim):
    d = sim.world.devices
    return [
        (dev, tuple(d.loc[dev, "fields"])) for dev in d.index[d["organization_id"] != HIDDEN_ORG]
    ]


def _assert_telemetry_matches_truth(api, device, fields, start, end):
    body = api.get(
        f"/api/devices/{device}/telemetry", startDate=start, endDate=end, fields=",".join(fields)
    ).json()
    truth = api.sim.world.telemetry_truth([device], start, end, fields=list(fields))
    assert sorted(body["fields"]) == sorted(fields), device
    for field in fields:
        col = truth[field].dropna()
        pts = body["fields"][field]
        assert [p["ts"] for p in pts] == [
            t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z" for t in col.index
        ], (device, field)
        got = [p["value"] for p in pts]
        if field == "meta.firmware":
            assert got == col.tolist(), (device, field)
        else:
            np.testing.assert_array_equal(np.asarray(got, float), col.to_numpy(float))


def test_every_device_and_field_equals_truth_for_the_guide_week(api):
    devices = _readable_devices(api.sim)
    assert len(devices) > 40
    for device, fields in devices:
        _assert_telemetry_matches_truth(api, device, fields, *WEEK)


@pytest.mark.slow
def test_every_device_and_field_equals_truth_all_year(api):
    months = pd.date_range("2025-12-01", "2026-12-01", freq="MS", tz="UTC")
    for device, fields in _readable_devices(api.sim):
        for a, b in zip(months[:-1], months[1:], strict=True):
            _assert_telemetry_matches_truth(api, device, fields, a.isoformat(), b.isoformat())


@pytest.mark.slow
@pytest.mark.parametrize("org", [DEMO_ORG, SOUTH_ORG])
@pytest.mark.parametrize("resolution", ["day", "week", "month", "year"])
def test_part1_whole_year_equals_world(api, org, resolution):
    start, end = "2025-11-30T22:00:00.000Z", "2026-12-01T00:00:00.000Z"
    path = PART1.replace(DEMO_ORG, org)
    rows = api.get(path, startDate=start, endDate=end, resolution=resolution).json()
    assert rows == api.sim.world.daily_consumption_rows(org, start, end, resolution)


def test_subprocess_server_exits_when_its_parent_dies():
    # A parent that starts a process=True server and is killed without stopping it.
    code = (
        "import sys, time\n"
        "from waltero_frames.sim import start\n"
        "sim = start(process=True)\n"
        "print(sim._proc.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return  # gone
        with open(f"/proc/{child}/stat") as fh:
            if fh.read().split()[2] == "Z":  # exited, awaiting its (dead) parent's reaper
                return
        time.sleep(0.2)
    os.kill(child, signal.SIGKILL)
    pytest.fail("the orphaned simulator kept running")


def test_no_redirects_for_trailing_slashes(api):
    resp = api.s.get(api.sim.url("/api/auth/me/"), allow_redirects=False)
    assert_error(resp, 404, "NOT_FOUND")
    resp = api.s.post(api.sim.url("/api/auth/me"))
    assert resp.status_code == 405 and set(resp.json()) == {"code", "message"}


def test_assigning_a_knob_validates_and_normalises_it(waltero_sim):
    waltero_sim.config.fail = [{"status": 500, "path": "/api/auth/me"}]
    assert waltero_sim.config.fail == [{"status": 500, "path": "/api/auth/me", "times": None}]
    with pytest.raises(ValueError, match="rate"):
        waltero_sim.config.rate = -1
    assert waltero_sim.config.rate == 10.0  # unchanged by the refused assignment
    token = requests.post(
        waltero_sim.url("/api/auth/login"),
        json={"username": waltero_sim.username, "password": waltero_sim.password},
        timeout=10,
    ).json()["token"]
    r = requests.get(
        waltero_sim.url("/api/auth/me"), headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert r.status_code == 500 and r.json()["code"] == "INTERNAL_ERROR"
