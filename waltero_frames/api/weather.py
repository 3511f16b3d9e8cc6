"""Outdoor temperature from an Open-Meteo-compatible historical-weather API.

One thin call (``archive``: one ``GET {base}/v1/archive`` for one date window), one parser
(``parse_archive``: its JSON → an hourly frame) and the public ``temperature`` function
(arguments checked before any request, the range split into windows, the frames joined).

The Waltero API has no weather, so these requests go to another service: the public
Open-Meteo archive by default (``https://archive-api.open-meteo.com``), another base URL
by ``base_url=`` or the ``WALTERO_WEATHER_URL`` setting (the bundled simulator serves the
same route at its root). They never carry a Waltero token or cookie
(:meth:`Client.get_public_json`).

The archive has no hard limit on a request's length, but it bills a request as several
calls past 14 days of data and answers whole days of the ``timezone`` asked (``GMT`` here,
so hours come back as UTC). Ranges are split at UTC calendar years: each request stays
bounded (≤ 8,784 hours), long ranges cost a few calls, and the same year asked again is
the same cached answer.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from ..errors import UnexpectedResponse, safe_url
from ..timeargs import TimeLike, TzLike, check_tz, time_range
from ..transport.client import Client, get_public_json

__all__ = ["ARCHIVE", "DEFAULT_WEATHER_URL", "archive", "parse_archive", "temperature"]

ARCHIVE = "/v1/archive"
DEFAULT_WEATHER_URL = "https://archive-api.open-meteo.com"
VARIABLE = "temperature_2m"
TS_DTYPE = "datetime64[us, UTC]"


def weather_url(base_url: Any = None) -> str:
    """Return the weather base URL: the argument, ``WALTERO_WEATHER_URL``, or Open-Meteo."""
    value = base_url or os.environ.get("WALTERO_WEATHER_URL") or DEFAULT_WEATHER_URL
    if not isinstance(value, str):
        raise ValueError(f"base_url={value!r}: expected an http(s) URL")
    parts = urlsplit(value.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"base_url={safe_url(value)!r}: expected an http(s) URL with a host")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError(f"base_url={safe_url(value)!r}: no credentials, query or fragment")
    return value.strip().rstrip("/")


def archive(
    base_url: str,
    latitude: float,
    longitude: float,
    start_date: dt.date,
    end_date: dt.date,
    *,
    client: Client | None = None,
) -> dict[str, Any]:
    """``GET {base_url}/v1/archive`` for one window of whole UTC days (end inclusive)."""
    params = {
        "latitude": f"{latitude:.6g}",
        "longitude": f"{longitude:.6g}",
        "start_date": start_date.isoformat(),
        "end_date": end_date.isoformat(),
        "hourly": VARIABLE,
        "timezone": "GMT",
    }
    return get_public_json(base_url + ARCHIVE, params, client=client)


def parse_archive(body: Any) -> pd.DataFrame:
    """Parse an archive answer: index ``timestamp`` (UTC), column ``temperature`` (°C).

    ``hourly.time`` holds local times of the answer's zone (``utc_offset_seconds`` from
    UTC; 0 for ``GMT``); nulls become NaN. A shape that breaks the format, or a unit other
    than °C, raises ``UnexpectedResponse``.

    >>> body = {"utc_offset_seconds": 0, "hourly_units": {"temperature_2m": "°C"},
    ...         "hourly": {"time": ["2026-01-05T00:00", "2026-01-05T01:00"],
    ...                    "temperature_2m": [1.5, None]}}
    >>> parse_archive(body)["temperature"].tolist()
    [1.5, nan]
    """
    hourly = body.get("hourly") if isinstance(body, dict) else None
    if not isinstance(hourly, dict):
        raise UnexpectedResponse("weather answer has no 'hourly' object")
    times, values = hourly.get("time"), hourly.get(VARIABLE)
    if not isinstance(times, list) or not isinstance(values, list) or len(times) != len(values):
        raise UnexpectedResponse(f"weather answer: 'hourly.time' and 'hourly.{VARIABLE}' differ")
    unit = (body.get("hourly_units") or {}).get(VARIABLE, "°C")
    if unit not in ("°C", "C", "celsius"):
        raise UnexpectedResponse(f"weather answer in {unit!r}, expected °C")
    offset = body.get("utc_offset_seconds", 0)
    if not isinstance(offset, int | float):
        raise UnexpectedResponse(f"weather answer: utc_offset_seconds={offset!r}")
    try:
        local = pd.to_datetime(times, format="ISO8601")
        temps = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise UnexpectedResponse(f"weather answer: unparsable hourly values ({exc})") from None
    if local.tz is not None:
        local = local.tz_convert("UTC").tz_localize(None)
    utc = (local - pd.Timedelta(seconds=offset)).tz_localize("UTC").as_unit("us")
    return pd.DataFrame({"temperature": temps}, index=pd.DatetimeIndex(utc, name="timestamp"))


def _check_coordinate(name: str, value: Any, limit: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise ValueError(f"{name}={value!r}: expected a number of degrees")
    value = float(value)
    if not -limit <= value <= limit:
        raise ValueError(f"{name}={value!r}: expected -{limit:g}...{limit:g} degrees")
    return value


def _windows(start: pd.Timestamp, end: pd.Timestamp) -> list[tuple[dt.date, dt.date]]:
    """Whole UTC days covering ``[start, end)``, split at calendar years (end inclusive)."""
    first = start.date()
    last = (end - pd.Timedelta(microseconds=1)).date()
    out = []
    for year in range(first.year, last.year + 1):
        out.append((max(first, dt.date(year, 1, 1)), min(last, dt.date(year, 12, 31))))
    return out


def temperature(
    latitude: float,
    longitude: float,
    start: TimeLike,
    end: TimeLike,
    *,
    client: Client | None = None,
    base_url: str | None = None,
    tz: TzLike = "UTC",
) -> pd.DataFrame:
    """Hourly outdoor temperature at a location, from a historical-weather archive.

    Parameters
    ----------
    latitude, longitude : float
        WGS84 degrees (the demo organizations' are in ``data/demo-organization.md``).
    start, end : str, datetime, date or Timestamp
        The range ``[start, end)``; naive values are read in ``tz``.
    client : Client, optional
        Share this client's cache, offline mode and study: the answers are cached,
        replayed offline and recorded like the client's own calls, under its retry policy
        and timeout. No Waltero token, credential or cookie is ever sent to the weather
        service. Without a client the requests go out directly (retry policy, 30 s
        timeout, no cache).
    base_url : str, optional
        Root of an Open-Meteo-compatible API (``{base_url}/v1/archive``). Default:
        ``WALTERO_WEATHER_URL``, else the public archive ``https://archive-api.open-meteo.com``.
    tz : str, default "UTC"
        Zone for naive ``start``/``end``; also written to ``attrs["tz"]``, so degree days
        and baselines use its local days by default.

    Returns
    -------
    DataFrame
        Index ``timestamp`` (UTC, every hour of the range), column ``temperature``
        (float64 °C; NaN where the archive has no value). ``attrs``: ``source``
        (``"{base_url}/v1/archive"``), ``latitude``/``longitude`` (asked),
        ``grid_latitude``/``grid_longitude``/``elevation`` (the archive's grid cell, when
        it says), ``start``, ``end``, ``tz``, ``variable`` (``temperature_2m``),
        ``requests``, ``offline``.

    Raises
    ------
    ValueError
        Bad coordinates, times, ``tz`` or base URL (before any request).
    WalteroError
        The service's errors (``BadRequest`` carries its ``reason``, e.g. a date outside
        the archive), connection failures after retries; ``CacheMiss`` offline.

    Examples
    --------
    >>> import waltero_frames as wf
    >>> with wf.sim.running() as sim:                      # doctest: +SKIP
    ...     t = wf.temperature(52.52, 13.405, "2026-01-01", "2026-02-01",
    ...                        base_url=sim.root_url, tz="Europe/Berlin")
    >>> t["temperature"].describe()                         # doctest: +SKIP
    """
    lat = _check_coordinate("latitude", latitude, 90.0)
    lon = _check_coordinate("longitude", longitude, 180.0)
    zone = check_tz(tz)
    start_utc, end_utc = time_range(start, end, zone)
    base = weather_url(base_url)
    if client is not None and not isinstance(client, Client):
        raise ValueError(f"client={client!r}: expected a waltero_frames.Client or None")
    bodies = [archive(base, lat, lon, a, b, client=client) for a, b in _windows(start_utc, end_utc)]
    parts = [parse_archive(body) for body in bodies]
    joined = pd.concat(parts) if parts else parse_archive({"hourly": {"time": [], VARIABLE: []}})
    joined = joined[~joined.index.duplicated(keep="first")].sort_index()
    hours = pd.date_range(start_utc.ceil("h"), end_utc, freq="h", inclusive="left", tz="UTC")
    out = joined.reindex(pd.DatetimeIndex(hours.as_unit("us"), name="timestamp"))
    out["temperature"] = out["temperature"].astype(np.float64)
    first = bodies[0] if bodies else {}
    out.attrs = {
        "source": base + ARCHIVE,
        "latitude": lat,
        "longitude": lon,
        **{
            f"grid_{k}" if k != "elevation" else k: first[k]
            for k in ("latitude", "longitude", "elevation")
            if isinstance(first.get(k), int | float)
        },
        "start": start_utc,
        "end": end_utc,
        "tz": str(zone),
        "variable": VARIABLE,
        "requests": len(bodies),
        "offline": bool(client is not None and client.offline),
    }
    return out
