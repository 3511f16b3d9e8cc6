"""The simulator's weather: the hourly truth (sim/world/weather.py) and the Open-Meteo-
compatible route ``GET /v1/archive`` (sim/app/weather.py), over HTTP against the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import requests

from waltero_frames.sim import DEMO_ORG, HIDDEN_ORG, SOUTH_ORG
from waltero_frames.sim.world.model import World
from waltero_frames.sim.world.weather import EVENTS, ar1

BERLIN = {"latitude": 52.52, "longitude": 13.41}
SYDNEY = {"latitude": -33.87, "longitude": 151.21}


def archive(sim, **params):
    query = {"hourly": "temperature_2m", "timezone": "GMT", **params}
    return requests.get(sim.root_url + "/v1/archive", params=query, timeout=30)


def truth(world, org):
    w = world.weather
    return w[w["organization_id"] == org]


def served_equal(values, expected) -> bool:
    """JSON values (None = null) equal a float array (NaN = missing), exactly."""
    got = np.array([np.nan if v is None else v for v in values], dtype=float)
    return bool(np.array_equal(got, np.asarray(expected, dtype=float), equal_nan=True))


# -- the truth ---------------------------------------------------------------------------


def test_ar1_equals_its_recursion():
    z = np.random.default_rng(5).standard_normal(777)
    phi, sd = 0.75, 3.0
    expected = np.empty(z.size)
    expected[0] = sd * z[0]
    for k in range(1, z.size):
        expected[k] = phi * expected[k - 1] + sd * np.sqrt(1 - phi**2) * z[k]
    np.testing.assert_allclose(ar1(z.copy(), phi, sd), expected, rtol=0, atol=1e-9)


def test_weather_frame_layout_and_determinism():
    world = World.for_seed(0)
    w = world.weather
    assert list(w.columns) == ["organization_id", "temperature", "true_temperature"]
    assert w.index.name == "timestamp" and str(w.index.tz) == "UTC"
    assert set(w["organization_id"]) == {DEMO_ORG, SOUTH_ORG, HIDDEN_ORG}
    berlin = truth(world, DEMO_ORG)
    assert (berlin.index[1:] - berlin.index[:-1] == pd.Timedelta("1h")).all()
    assert berlin.index[0] == pd.Timestamp("2023-12-31T00:00Z")
    assert berlin.index[-1] == pd.Timestamp("2027-01-01T23:00Z")
    # served = truth except at the missing hours; values on the 0.1 °C grid
    served, true = berlin["temperature"], berlin["true_temperature"]
    assert true.notna().all()
    assert served[served.notna()].equals(true[served.notna()])
    assert np.allclose(true * 10, np.round(true * 10))
    again = World.for_seed(0).weather
    other = World.for_seed(1).weather
    assert again.equals(w)
    assert not other["true_temperature"].equals(w["true_temperature"])


def test_missing_hours_include_a_day_under_80_percent():
    world = World.for_seed(0)
    for org, tz in world.sites["timezone"].items():
        w = truth(world, org)
        missing = w["temperature"].isna()
        assert 8 <= missing.sum() <= 15  # 8 single hours + a 7-hour block (may overlap)
        local = missing.copy()
        local.index = local.index.tz_convert(tz)
        per_day = local.groupby(local.index.date).agg(["size", "sum"])
        coverage = 1 - per_day["sum"] / per_day["size"]
        assert (coverage < 0.8).sum() >= 1, org
        span = w.index[missing]
        assert span.min() >= pd.Timestamp("2024-09-01T00:00Z")
        assert span.max() < pd.Timestamp("2026-12-01T00:00Z")


def test_weather_is_seasonal_autocorrelated_with_a_daily_cycle():
    world = World.for_seed(0)
    for org, site in world.sites.iterrows():
        t = truth(world, org)["true_temperature"]
        local = t.copy()
        local.index = local.index.tz_convert(site["timezone"])
        daily = local.resample("D").mean()["2024-01-01":"2026-12-31"]
        months = daily.groupby(daily.index.month).mean()
        winter, summer = (1, 7) if site["latitude"] > 0 else (7, 1)
        assert months[summer] - months[winter] > 9.0, org
        anomaly = daily - daily.rolling(31, center=True, min_periods=1).mean()
        assert 0.5 < anomaly.autocorr(1) < 0.95, org  # AR(1), not white noise
        assert anomaly.std() > 1.5, org
        solar = (t.index.hour + site["longitude"] / 15.0) % 24
        afternoon = t[(solar >= 13) & (solar < 17)].mean()
        night = t[(solar >= 2) & (solar < 6)].mean()
        assert afternoon - night > 4.0, org


def test_cold_snaps_and_warm_spells_stand_out():
    world = World.for_seed(0)
    events = world.weather_events
    orgs = list(world.sites.index)
    assert len(events) == sum(len(v) for v in EVENTS.values())
    for org in orgs:
        kinds = set(events.loc[events["organization_id"] == org, "kind"])
        assert kinds == {"cold_snap", "warm_spell"}, org
    for ev in events.itertuples():
        t = truth(world, ev.organization_id)["true_temperature"]
        middle = ev.start + (ev.end - ev.start) / 2
        core = t[middle - pd.Timedelta("2D") : middle + pd.Timedelta("2D")].mean()
        around = pd.concat(
            [
                t[ev.start - pd.Timedelta("20D") : ev.start],
                t[ev.end : ev.end + pd.Timedelta("20D")],
            ]
        ).mean()
        # the bump's core differs from the weeks around it in the event's direction
        assert np.sign(core - around) == np.sign(ev.delta), ev
        assert abs(core - around) > abs(ev.delta) / 3, ev


# -- the route ---------------------------------------------------------------------------


def test_archive_gmt_year_equals_truth(sim):
    resp = archive(sim, **BERLIN, start_date="2025-01-01", end_date="2025-12-31")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["latitude"] == 52.52 and body["longitude"] == 13.41
    assert body["timezone"] == "GMT" and body["utc_offset_seconds"] == 0
    assert body["hourly_units"] == {"time": "iso8601", "temperature_2m": "°C"}
    w = truth(sim.world, DEMO_ORG)["2025-01-01":"2025-12-31"]
    assert len(w) == 8760
    assert body["hourly"]["time"] == list(w.index.strftime("%Y-%m-%dT%H:%M"))
    assert served_equal(body["hourly"]["temperature_2m"], w["temperature"])
    assert None in body["hourly"]["temperature_2m"] or w["temperature"].notna().all()


def test_archive_nulls_where_truth_is_missing(sim):
    w = truth(sim.world, SOUTH_ORG)
    gap = w.index[w["temperature"].isna()][0]
    day = gap.strftime("%Y-%m-%d")
    body = archive(sim, **SYDNEY, start_date=day, end_date=day).json()
    values = body["hourly"]["temperature_2m"]
    assert values[gap.hour] is None
    assert served_equal(values, w.loc[day, "temperature"])


def test_archive_timezone_is_one_fixed_offset_as_of_now(sim):
    # Open-Meteo applies the offset in force *now* (frozen clock: 2026-12-01, CET) to
    # every hour, even across the spring-forward night: 24 hours a day, no switch.
    body = archive(
        sim, **BERLIN, start_date="2026-03-28", end_date="2026-03-30", timezone="Europe/Berlin"
    ).json()
    assert body["timezone"] == "Europe/Berlin" and body["utc_offset_seconds"] == 3600
    assert body["timezone_abbreviation"] == "CET"
    times = body["hourly"]["time"]
    assert len(times) == 72 and times[0] == "2026-03-28T00:00" and times[-1] == "2026-03-30T23:00"
    utc = pd.to_datetime(times).tz_localize("UTC") - pd.Timedelta("1h")
    expected = truth(sim.world, DEMO_ORG)["temperature"].reindex(utc)
    assert served_equal(body["hourly"]["temperature_2m"], expected)
    # a summer clock: the whole answer moves to CEST
    sim.configure(clock="2026-07-01T00:00:00Z", speed=0)
    body = archive(
        sim, **BERLIN, start_date="2026-01-10", end_date="2026-01-10", timezone="Europe/Berlin"
    ).json()
    assert body["utc_offset_seconds"] == 7200
    utc = pd.date_range("2026-01-09T22:00Z", periods=24, freq="h")
    expected = truth(sim.world, DEMO_ORG)["temperature"].reindex(utc)
    assert served_equal(body["hourly"]["temperature_2m"], expected)


def test_archive_auto_timezone_and_hours_after_now(sim):
    body = archive(
        sim, **SYDNEY, start_date="2026-11-30", end_date="2026-12-01", timezone="auto"
    ).json()
    assert body["timezone"] == "Australia/Sydney" and body["utc_offset_seconds"] == 11 * 3600
    times = body["hourly"]["time"]
    values = body["hourly"]["temperature_2m"]
    # local 2026-12-01T11:00 (+11 h) is the frozen clock's 00:00Z: later hours are null
    k = times.index("2026-12-01T11:00")
    assert all(v is None for v in values[k + 1 :])
    utc = pd.to_datetime(times[: k + 1]).tz_localize("UTC") - pd.Timedelta("11h")
    expected = truth(sim.world, SOUTH_ORG)["temperature"].reindex(utc)
    assert served_equal(values[: k + 1], expected)


def test_archive_unixtime_and_nearest_site(sim):
    body = archive(
        sim,
        latitude=52.4,  # about 15 km from the Berlin site: Berlin answers
        longitude=13.2,
        start_date="2026-02-01",
        end_date="2026-02-01",
        timeformat="unixtime",
    ).json()
    assert (body["latitude"], body["longitude"]) == (52.52, 13.41)
    assert body["hourly_units"]["time"] == "unixtime"
    start = pd.Timestamp("2026-02-01T00:00Z").value // 10**9
    assert body["hourly"]["time"] == [start + 3600 * h for h in range(24)]
    vienna = archive(
        sim, latitude=48.2, longitude=16.4, start_date="2026-02-01", end_date="2026-02-01"
    )
    assert vienna.json()["elevation"] == 171.0  # the hidden org's site: weather is public


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"start_date": "2026-13-01"}, "Invalid date"),
        ({"start_date": "2026-1-5"}, "Invalid date format. Make sure to use 'YYYY-MM-DD'"),
        ({"start_date": "2026-02-30"}, "Invalid date"),
        ({"start_date": None}, "Both 'start_date' and 'end_date' must be set in the url"),
        ({"start_date": "2026-05-02"}, "End-date must be larger or equals than start-date"),
        (
            {"start_date": "2023-12-31"},
            "Parameter 'start_date' is out of allowed range from 2024-01-01 to 2026-12-01",
        ),
        (
            {"end_date": "2026-12-02"},
            "Parameter 'end_date' is out of allowed range from 2024-01-01 to 2026-12-01",
        ),
        ({"latitude": "north"}, "Value of type 'Float' required for key 'latitude'."),
        ({"latitude": None}, "Value of type 'Float' required for key 'latitude'."),
        ({"latitude": "91"}, "Latitude must be in range of -90 to 90°. Given: 91.0."),
        ({"longitude": "-181"}, "Longitude must be in range of -180 to 180°. Given: -181.0."),
        ({"latitude": "0", "longitude": "0"}, "No data is available for this location"),
        ({"timezone": "Mars/Olympus"}, "Invalid timezone"),
        ({"timezone": "Asia/Kolkata"}, "whole-hour UTC offsets only"),
        ({"hourly": "relative_humidity_2m"}, "invalid String value relative_humidity_2m"),
        ({"daily": "temperature_2m_max"}, "no daily variables"),
        ({"timeformat": "rfc"}, "invalid String value rfc"),
    ],
)
def test_archive_bad_requests_answer_like_open_meteo(sim, params, reason):
    query = {**BERLIN, "start_date": "2026-05-01", "end_date": "2026-05-01", **params}
    resp = archive(sim, **{k: v for k, v in query.items() if v is not None})
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert set(body) == {"reason", "error"} and body["error"] is True
    assert reason in body["reason"], body["reason"]


def test_archive_needs_no_token_and_is_logged(sim):
    day = {"start_date": "2026-05-01", "end_date": "2026-05-01"}
    assert archive(sim, **BERLIN, **day).status_code == 200  # no Authorization header
    resp = requests.get(
        sim.root_url + "/v1/archive",
        params={**BERLIN, **day, "hourly": "temperature_2m"},
        headers={"Authorization": "Bearer not-a-waltero-token"},
        timeout=30,
    )
    assert resp.status_code == 200  # a header is not looked at either
    records = [r for r in sim.log if r["path"] == "/v1/archive"]
    assert len(records) == 2
    assert all(r["route"] == "weather_archive" and r["status"] == 200 for r in records)
    assert sim.counters[("weather_archive", 200)] == 2


def test_archive_obeys_fault_rules_and_stays_at_the_root(sim):
    day = {"start_date": "2026-05-01", "end_date": "2026-05-01"}
    sim.configure(fail=[{"status": 500, "path": r"^/v1/archive", "times": 1}])
    assert archive(sim, **BERLIN, **day).status_code == 500
    assert archive(sim, **BERLIN, **day).status_code == 200
    assert [r["status"] for r in sim.log if r["path"] == "/v1/archive"] == [500, 200]
    sim.configure(prefix="/prod")
    assert archive(sim, **BERLIN, **day).status_code == 200  # the root, whatever the prefix
    under = requests.get(sim.base_url + "/v1/archive", params={**BERLIN, **day}, timeout=30)
    assert under.status_code == 404
