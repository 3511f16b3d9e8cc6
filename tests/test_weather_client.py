"""wf.temperature over real HTTP: an Open-Meteo-shaped loopback service that records the
headers it gets, the Waltero simulator for the client's login, a real SQLite cache."""

from __future__ import annotations

import json
import math
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest

import waltero_frames as wf
from waltero_frames.sim import DEMO_ORG

MISSING = {"2025-12-31T23:00"}  # hours the service answers with null


def truth(stamp: pd.Timestamp) -> float:
    """The service's temperature at an hour (an independent formula)."""
    hours = stamp.value / 3.6e12
    return round(5 + 8 * math.sin(hours / 24 / 58) + 3 * math.sin(hours * 2 * math.pi / 24), 1)


class _Weather(BaseHTTPRequestHandler):
    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        server = self.server
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        server.requests.append({"path": parts.path, "query": query, "headers": dict(self.headers)})
        if server.fail:
            server.fail -= 1
            return self._answer(500, {"error": True, "reason": "busy"})
        if parts.path != "/v1/archive" or query.get("timezone") != "GMT":
            return self._answer(400, {"error": True, "reason": "bad request"})
        try:
            first = pd.Timestamp(query["start_date"], tz="UTC")
            last = pd.Timestamp(query["end_date"], tz="UTC")
        except (KeyError, ValueError):
            return self._answer(400, {"error": True, "reason": "Invalid date"})
        if first.year < 1940:
            return self._answer(400, {"error": True, "reason": "start_date is out of range"})
        hours = pd.date_range(first, last + pd.Timedelta(hours=23), freq="h")
        times = [h.strftime("%Y-%m-%dT%H:%M") for h in hours]
        temps = [None if t in MISSING else truth(h) for t, h in zip(times, hours, strict=True)]
        body = {
            "latitude": 52.5,
            "longitude": 13.375,
            "elevation": 38.0,
            "utc_offset_seconds": 0,
            "timezone": "GMT",
            "hourly_units": {"time": "iso8601", "temperature_2m": "°C"},
            "hourly": {"time": times, "temperature_2m": temps},
        }
        self._answer(200, body)

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Set-Cookie", "weather=1; Path=/")
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def weather():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Weather)
    server.requests = []
    server.fail = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def expected_frame(start: str, end: str) -> pd.Series:
    hours = pd.date_range(start, end, freq="h", inclusive="left", tz="UTC")
    values = [np.nan if h.strftime("%Y-%m-%dT%H:%M") in MISSING else truth(h) for h in hours]
    return pd.Series(values, index=pd.DatetimeIndex(hours.as_unit("us"), name="timestamp"))


def test_hourly_frame_across_a_year_end_is_split_per_year(weather):
    t = wf.temperature(52.52, 13.405, "2025-12-20", "2026-01-10", base_url=weather.url)
    want = expected_frame("2025-12-20", "2026-01-10")
    pd.testing.assert_series_equal(t["temperature"], want, check_names=False)
    assert t.index.name == "timestamp" and str(t.index.dtype) == "datetime64[us, UTC]"
    assert np.isnan(t.loc["2025-12-31T23:00Z", "temperature"])  # null → NaN, never 0
    windows = [(r["query"]["start_date"], r["query"]["end_date"]) for r in weather.requests]
    assert windows == [("2025-12-20", "2025-12-31"), ("2026-01-01", "2026-01-09")]
    q = weather.requests[0]["query"]
    assert (q["hourly"], q["timezone"], q["latitude"], q["longitude"]) == (
        "temperature_2m",
        "GMT",
        "52.52",
        "13.405",
    )
    assert t.attrs["source"] == weather.url + "/v1/archive"
    assert t.attrs["grid_latitude"] == 52.5 and t.attrs["elevation"] == 38.0
    assert t.attrs["requests"] == 2 and t.attrs["tz"] == "UTC"


def test_local_range_and_tz_attrs(weather):
    t = wf.temperature(
        52.52, 13.405, "2026-03-29", "2026-03-30", base_url=weather.url, tz="Europe/Berlin"
    )
    assert len(t) == 23  # the local day of the spring change
    assert t.index[0] == pd.Timestamp("2026-03-28T23:00Z") and t.attrs["tz"] == "Europe/Berlin"
    windows = [(r["query"]["start_date"], r["query"]["end_date"]) for r in weather.requests]
    assert windows == [("2026-03-28", "2026-03-29")]  # whole UTC days around it


def test_setting_names_the_service(weather, monkeypatch):
    monkeypatch.setenv("WALTERO_WEATHER_URL", weather.url + "/")
    t = wf.temperature(0, 0, "2026-01-01", "2026-01-02")
    assert len(t) == 24 and len(weather.requests) == 1


def test_server_error_is_retried_once(weather):
    weather.fail = 1
    t = wf.temperature(0, 0, "2026-01-01", "2026-01-02", base_url=weather.url)
    assert len(weather.requests) == 2 and t["temperature"].notna().all()


def test_service_errors_are_walter_errors_with_the_reason(weather):
    with pytest.raises(wf.BadRequest, match="out of range"):
        wf.temperature(0, 0, "1930-01-01", "1930-01-02", base_url=weather.url)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"latitude": 91}, "latitude=91"),
        ({"longitude": "13"}, "longitude='13'"),
        ({"latitude": True}, "latitude=True"),
        ({"start": "2026-02-01"}, "end="),
        ({"start": "yesterday-ish"}, "start='yesterday-ish'"),
        ({"tz": "Mars/Base"}, "Mars/Base"),
        ({"base_url": "ftp://x"}, "base_url="),
        ({"client": "me"}, "client='me'"),
    ],
)
def test_bad_input_is_refused_before_any_request(weather, kwargs, match):
    args = {
        "latitude": 52.5,
        "longitude": 13.4,
        "start": "2026-01-01",
        "end": "2026-01-02",
        "base_url": weather.url,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        wf.temperature(
            args.pop("latitude"), args.pop("longitude"), args.pop("start"), args.pop("end"), **args
        )
    assert weather.requests == []


def test_through_a_client_no_waltero_secret_reaches_the_weather_service(
    waltero_sim, weather, tmp_path
):
    waltero_sim.config.rate = None
    path = tmp_path / "cache.sqlite"
    client = wf.Client(waltero_sim.base_url, waltero_sim.username, waltero_sim.password, cache=path)
    wf.devices(client, DEMO_ORG)  # logged in: the client holds a token now
    token = client._tokens._current[0].reveal()
    client._session.cookies.set("session", "waltero-cookie", domain="127.0.0.1")
    before = client.requests_sent
    live = wf.temperature(
        52.52, 13.405, "2025-12-30", "2026-01-02", client=client, base_url=weather.url
    )
    assert len(weather.requests) == 2 and client.requests_sent == before  # not paced/authed
    for request in weather.requests:
        headers = {k.lower(): v for k, v in request["headers"].items()}
        assert "authorization" not in headers and "cookie" not in headers
        assert token not in json.dumps(request)
    # the Waltero routes still get the token (the weather transport is mounted per URL)
    wf.organizations(client)
    assert client.requests_sent == before + 1 and waltero_sim.log[-1]["status"] == 200
    again = wf.temperature(
        52.52, 13.405, "2025-12-30", "2026-01-02", client=client, base_url=weather.url
    )
    assert len(weather.requests) == 2  # cached
    pd.testing.assert_frame_equal(again, live)
    client.close()
    with open(path, "rb") as f:
        assert token.encode() not in f.read()
    # offline replay: same frame, not one request anywhere, no credentials needed
    offline = wf.Client(waltero_sim.base_url, cache=path, offline=True)
    log_before = len(waltero_sim.log)
    replay = wf.temperature(
        52.52, 13.405, "2025-12-30", "2026-01-02", client=offline, base_url=weather.url
    )
    pd.testing.assert_frame_equal(replay, live, check_like=True)
    assert replay.attrs["offline"] is True
    assert len(weather.requests) == 2 and len(waltero_sim.log) == log_before
    with pytest.raises(wf.CacheMiss, match="v1/archive"):
        wf.temperature(
            52.52, 13.405, "2024-01-01", "2024-01-02", client=offline, base_url=weather.url
        )
    offline.close()


def test_the_simulators_archive_equals_the_worlds_weather(waltero_sim):
    world = waltero_sim.world
    site = world.sites.loc[DEMO_ORG]
    t = wf.temperature(
        site.latitude,
        site.longitude,
        "2024-12-25",
        "2026-01-03",
        base_url=waltero_sim.root_url,
        tz="Europe/Berlin",
    )
    assert t.attrs["requests"] == 3  # 2024, 2025, 2026
    truth = world.weather[world.weather["organization_id"] == DEMO_ORG]["temperature"]
    want = truth.reindex(t.index)
    np.testing.assert_array_equal(t["temperature"].to_numpy(), want.to_numpy())
    assert t["temperature"].isna().sum() == want.isna().sum() > 0  # the missing hours
    archive_calls = [r for r in waltero_sim.log if r["path"] == "/v1/archive"]
    assert len(archive_calls) == 3 and all(r["status"] == 200 for r in archive_calls)


def test_weather_calls_record_into_a_study_and_replay_offline(sim, tmp_path, monkeypatch):
    site = sim.world.sites.loc[DEMO_ORG]
    args = (site.latitude, site.longitude, "2025-12-20", "2026-01-10")
    path = tmp_path / "weather-study"
    with wf.Study(path) as study:
        client = study.client(
            progress=False, base_url=sim.base_url, username=sim.username, password=sim.password
        )
        live = wf.temperature(*args, client=client, base_url=sim.root_url, tz="Europe/Berlin")
        study.check("degree_days", wf.degree_days(live))
    for var in ("WALTERO_BASE_URL", "WALTERO_USERNAME", "WALTERO_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    before = len(sim.log)
    replay_study = wf.Study(path)
    assert replay_study.mode == "replay"
    offline = replay_study.client()
    replay = wf.temperature(*args, client=offline, base_url=sim.root_url, tz="Europe/Berlin")
    pd.testing.assert_frame_equal(replay, live)
    replay_study.check("degree_days", wf.degree_days(replay))
    assert len(sim.log) == before  # zero requests to the simulator
