"""One thin function per API call: build the path and query, return the parsed JSON.

No pandas here and no policy beyond the call itself: paging, windows and frames live in
``paging``, ``fetch`` and ``frames``. Every id that goes into a path is checked to be
UUID-shaped first, so nothing like ``../`` or ``?`` can reach a URL path. Part 1 is pinned
to ``/v3/`` (the unversioned path follows a moving default).

>>> check_id("00000000-0000-0000-0000-000000000001", "org")
'00000000-0000-0000-0000-000000000001'
>>> check_id("../admin", "org")
Traceback (most recent call last):
...
ValueError: org='../admin' is not a UUID (expected 8-4-4-4-12 hex digits)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..selection import check_id  # the one id rule (also behind wf's devices= arguments)
from ..timeargs import api_timestamp

if TYPE_CHECKING:  # pragma: no cover
    from ..transport.client import Client

__all__ = [
    "CHANGES",
    "DAILY_CONSUMPTION",
    "DEVICE",
    "DEVICES",
    "FIELDS",
    "ME",
    "TELEMETRY",
    "changes_page",
    "check_id",
    "daily_consumption",
    "device",
    "device_fields",
    "devices_page",
    "me",
    "telemetry",
]

# Path templates (also the ``source`` recorded in frames' attrs)
ME = "/api/auth/me"
DAILY_CONSUMPTION = (
    "/api/organizations/{org}/applications/metering/v3/data/device-daily-consumption"
)
DEVICES = "/api/organizations/{org}/devices"
DEVICE = "/api/devices/{device}"
FIELDS = "/api/devices/{device}/fields"
TELEMETRY = "/api/devices/{device}/telemetry"
CHANGES = "/api/organizations/{org}/data-audit/changes"

DEVICES_PAGE_LIMIT = 100  # the API's cap
CHANGES_PAGE_LIMIT = 200  # the API's cap


def me(client: Client) -> dict[str, Any]:
    """``GET /api/auth/me``."""
    return client.get_json(ME)


def daily_consumption(
    client: Client, org: str, start: pd.Timestamp, end: pd.Timestamp, resolution: str
) -> list[dict[str, Any]]:
    """``GET …/metering/v3/data/device-daily-consumption`` (always v3)."""
    path = DAILY_CONSUMPTION.format(org=check_id(org, "org"))
    params = {
        "startDate": api_timestamp(start),
        "endDate": api_timestamp(end),
        "resolution": resolution,
    }
    return client.get_json(path, params)


def devices_page(client: Client, org: str, limit: int, offset: int) -> dict[str, Any]:
    """``GET /api/organizations/{org}/devices?limit&offset`` (one page)."""
    path = DEVICES.format(org=check_id(org, "org"))
    return client.get_json(path, {"limit": int(limit), "offset": int(offset)})


def device(client: Client, device_id: str) -> Any:
    """``GET /api/devices/{id}`` → its ``data`` object (validated by the parser)."""
    body = client.get_json(DEVICE.format(device=check_id(device_id, "device")))
    return body.get("data") if isinstance(body, dict) else body


def device_fields(client: Client, device_id: str) -> dict[str, list[str]]:
    """``GET /api/devices/{id}/fields`` → ``{group: [field, ...]}``."""
    return client.get_json(FIELDS.format(device=check_id(device_id, "device")))


def telemetry(
    client: Client,
    device_id: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    fields: Sequence[str],
) -> dict[str, Any]:
    """``GET /api/devices/{id}/telemetry`` for one window of at most 31 days."""
    params = {
        "startDate": api_timestamp(start),
        "endDate": api_timestamp(end),
        "fields": ",".join(fields),
    }
    return client.get_json(TELEMETRY.format(device=check_id(device_id, "device")), params)


def changes_page(
    client: Client, org: str, since: pd.Timestamp, cursor: str | None, limit: int
) -> dict[str, Any]:
    """``GET /api/organizations/{org}/data-audit/changes`` (one page; never cached)."""
    params: dict[str, Any] = {"since": api_timestamp(since), "limit": int(limit)}
    if cursor is not None:
        params["cursor"] = cursor
    return client.get_json(CHANGES.format(org=check_id(org, "org")), params)
