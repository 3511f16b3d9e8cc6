"""The Open-Meteo-compatible weather route, served at the app root (not under the prefix).

``GET /v1/archive?latitude=&longitude=&start_date=&end_date=&hourly=temperature_2m
&timezone=GMT`` answers like Open-Meteo's historical-weather (archive) API, from
``World.weather``:

- the site of the organization nearest to the coordinates answers, within
  `MAX_DISTANCE_KM`; farther away is a 400 ``No data is available for this location``;
  ``latitude``/``longitude`` in the answer are the site's (as the real API answers with
  its grid cell's);
- ``start_date`` and ``end_date`` are local days of ``timezone``, both inclusive, within
  2024-01-01 .. the simulated clock's UTC date (at most 2026-12-31); hours after the
  simulated clock are ``null`` (not yet available), as are the injected missing hours;
- ``timezone`` (default ``GMT``; ``auto`` = the site's zone) is applied the way the real
  API does: one UTC offset for the whole answer, the one in force *now* (the simulated
  clock), no daylight-saving switches inside it; ``hourly.time`` holds local times
  ``YYYY-MM-DDTHH:MM`` from 00:00 of ``start_date`` (``timeformat=unixtime``: epoch
  seconds, UTC);
- errors are Open-Meteo's: HTTP 400 ``{"reason": ..., "error": true}``.

No token is needed and none is looked at (no rate limit either); the gateway's latency,
fault rules and request log apply as to every other route.
"""

from __future__ import annotations

import math
import re
import time
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from fastapi import APIRouter, Request

from ..world.weather import FIRST_DAY, LAST_DAY
from .auth import sim_state
from .common import JSONBytes

router = APIRouter(tags=["weather (Open-Meteo compatible)"])

#: Paths served at the app root whatever the API prefix.
ROOT_PATHS = ("/v1/archive",)
#: Coordinates farther than this from every site get a 400.
MAX_DISTANCE_KM = 100.0
VARIABLES = ("temperature_2m",)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EPOCH = datetime(1970, 1, 1)
_HOURS = [f"T{h:02d}:00" for h in range(24)]


class WeatherError(Exception):
    """An Open-Meteo error answer (HTTP 400, ``{"reason", "error": true}``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _coordinate(query: Any, key: str, limit: int) -> float:
    text = query.get(key)
    if text is None or text == "":
        raise WeatherError(f"Value of type 'Float' required for key '{key}'.")
    if "," in text:
        raise WeatherError(f"Parameter '{key}': the simulator serves one location per request")
    try:
        value = float(text)
    except ValueError:
        raise WeatherError(f"Value of type 'Float' required for key '{key}'.") from None
    if math.isnan(value) or not -limit <= value <= limit:
        name = key.capitalize()
        raise WeatherError(f"{name} must be in range of -{limit} to {limit}°. Given: {value}.")
    return value


def _date(query: Any, key: str) -> date:
    text = query.get(key)
    if not _DATE_RE.match(text):
        raise WeatherError("Invalid date format. Make sure to use 'YYYY-MM-DD'")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise WeatherError("Invalid date") from None


def _distance_km(lat1: float, lon1: float, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance (haversine, Earth radius 6371 km)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(h))


def nearest_site(
    sites: dict[str, dict[str, Any]], latitude: float, longitude: float
) -> tuple[str, float]:
    """``(organization_id, distance_km)`` of the site nearest to the coordinates."""
    ids = list(sites)
    lat = np.array([sites[o]["latitude"] for o in ids])
    lon = np.array([sites[o]["longitude"] for o in ids])
    dist = _distance_km(latitude, longitude, lat, lon)
    k = int(np.argmin(dist))
    return ids[k], float(dist[k])


def _timezone(name: str, site_tz: str) -> tuple[str, ZoneInfo | None]:
    if name in ("GMT", "UTC"):
        return name, None
    ident = site_tz if name == "auto" else name
    try:
        return ident, ZoneInfo(ident)
    except (ZoneInfoNotFoundError, ValueError):
        raise WeatherError("Invalid timezone") from None


def archive_body(state: Any, query: Any) -> dict[str, Any]:
    """Build the JSON body of one archive request (raises `WeatherError`)."""
    t0 = time.perf_counter()
    world = state.world
    latitude = _coordinate(query, "latitude", 90)
    longitude = _coordinate(query, "longitude", 180)
    if query.get("start_date") is None or query.get("end_date") is None:
        raise WeatherError("Both 'start_date' and 'end_date' must be set in the url")
    start, end = _date(query, "start_date"), _date(query, "end_date")
    hourly = [v for v in query.get("hourly", "").split(",") if v]
    for name in hourly:
        if name not in VARIABLES:
            raise WeatherError(
                f"Cannot initialize ArchiveVariable from invalid String value {name}. "
                "(the simulator serves temperature_2m)"
            )
    if query.get("daily"):
        raise WeatherError("The simulator serves hourly temperature_2m only, no daily variables")
    timeformat = query.get("timeformat", "iso8601")
    if timeformat not in ("iso8601", "unixtime"):
        raise WeatherError(f"Cannot initialize Timeformat from invalid String value {timeformat}.")
    org_id, distance = nearest_site(state.weather_sites, latitude, longitude)
    if distance > MAX_DISTANCE_KM:
        raise WeatherError(
            "No data is available for this location (the simulator serves weather within "
            f"{MAX_DISTANCE_KM:g} km of its organizations' sites)"
        )
    site = state.weather_sites[org_id]
    now = world.now()
    last = min(date.fromisoformat(LAST_DAY), now.date())
    first = date.fromisoformat(FIRST_DAY)
    for key, day in (("start_date", start), ("end_date", end)):
        if not first <= day <= last:
            raise WeatherError(f"Parameter '{key}' is out of allowed range from {first} to {last}")
    if end < start:
        raise WeatherError("End-date must be larger or equals than start-date")
    tz_name, zone = _timezone(query.get("timezone", "GMT"), str(site["timezone"]))
    now_dt = now.to_pydatetime()
    if zone is None:
        offset_s, abbreviation = 0, tz_name
    else:
        local_now = now_dt.astimezone(zone)
        offset_s = int(local_now.utcoffset().total_seconds())
        abbreviation = local_now.tzname() or tz_name
    if offset_s % 3600:
        raise WeatherError("The simulator serves time zones with whole-hour UTC offsets only")
    n_hours = 24 * ((end - start).days + 1)
    local_start_s = (datetime(start.year, start.month, start.day) - _EPOCH) // timedelta(seconds=1)
    start_ms = (local_start_s - offset_s) * 1000
    values = world.hourly_temperature(org_id, start_ms, n_hours)
    utc_ms = start_ms + 3_600_000 * np.arange(n_hours, dtype=np.int64)
    values[utc_ms > now.value // 1_000_000] = np.nan  # not yet available
    body: dict[str, Any] = {
        "latitude": float(site["latitude"]),
        "longitude": float(site["longitude"]),
        "generationtime_ms": 0.0,
        "utc_offset_seconds": offset_s,
        "timezone": tz_name,
        "timezone_abbreviation": abbreviation,
        "elevation": float(site["elevation"]),
    }
    if hourly:
        if timeformat == "unixtime":
            times: list = (utc_ms // 1000).tolist()
        else:  # local days from start_date, 24 whole hours each (one fixed offset)
            first_day = np.datetime64(start, "D")
            days = np.datetime_as_string(first_day + np.arange(n_hours // 24)).tolist()
            times = [day + hour for day in days for hour in _HOURS]
        body["hourly_units"] = {"time": timeformat, "temperature_2m": "°C"}
        body["hourly"] = {"time": times, "temperature_2m": values}  # NaN -> null
    body["generationtime_ms"] = (time.perf_counter() - t0) * 1000
    return body


@router.get(
    "/v1/archive",
    name="weather_archive",
    include_in_schema=False,  # another vendor's API: not in the Waltero API's /openapi.json
    summary="Hourly outdoor temperature near a demo organization (Open-Meteo archive shape)",
)
async def archive(request: Request) -> JSONBytes:
    try:
        body = archive_body(sim_state(request), request.query_params)
    except WeatherError as err:
        return JSONBytes({"reason": err.reason, "error": True}, status_code=400)
    return JSONBytes(body)
