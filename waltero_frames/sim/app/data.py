"""Data endpoints: Part 1 (daily consumption), Part 2 (devices, fields, telemetry), Part 3 (changes)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import pandas as pd
from fastapi import APIRouter, Path, Query, Request

from .auth import User, sim_state
from .common import JSONBytes, bad_request, parse_instant, parse_range
from .common import us_to_ms_bounds as ms_bounds

router = APIRouter(prefix="/api")

MAX_TELEMETRY_US = 31 * 86_400 * 10**6
#: Part 1 periods per request (not in the guide; keeps absurd ranges from exhausting memory).
MAX_PERIODS = 3_660
DEVICE_PAGE_MAX = 100
CHANGES_PAGE_MAX = 200
MAX_OFFSET = 10**12

_INSTANT = {"format": "date-time"}
OrgId = Annotated[str, Path(alias="orgId", description="Organization UUID")]
DeviceId = Annotated[str, Path(alias="deviceId", description="Device UUID")]
StartDate = Annotated[
    str,
    Query(
        alias="startDate",
        description="Inclusive start, ISO-8601 with offset",
        examples=["2026-05-18T22:00:00.000Z"],
        json_schema_extra=_INSTANT,
    ),
]
EndDate = Annotated[
    str,
    Query(
        alias="endDate",
        description="Exclusive end, ISO-8601 with offset",
        examples=["2026-05-25T22:00:00.000Z"],
        json_schema_extra=_INSTANT,
    ),
]
Resolution = Annotated[
    str,
    Query(
        description="Period length: day, week, month or year (UTC periods)",
        examples=["day"],
        json_schema_extra={"enum": ["day", "week", "month", "year"]},
    ),
]


def _part1_args(start: str, end: str, resolution: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    start_us, end_us = parse_range(start, end)
    if resolution not in ("day", "week", "month", "year"):
        raise bad_request(f"unsupported resolution {resolution!r}: use day, week, month or year")
    span_days = (end_us - start_us) / 86_400e6
    periods = span_days / {"day": 1, "week": 7, "month": 28, "year": 365}[resolution]
    if periods > MAX_PERIODS:
        raise bad_request(f"range too long: more than {MAX_PERIODS} {resolution} periods")
    lo, hi = ms_bounds(start_us, end_us)  # readings are on whole milliseconds
    return pd.Timestamp(lo, unit="ms", tz="UTC"), pd.Timestamp(hi, unit="ms", tz="UTC")


def _part1_rows(request: Request, user: Any, org_id: str, start, end, resolution: str) -> list:
    """Return the v3 rows both Part 1 paths answer from (the default path reshapes them)."""
    state = sim_state(request)
    state.check_org(user, org_id)
    t0, t1 = _part1_args(start, end, resolution)
    return state.daily_rows(org_id, t0, t1, resolution)


@router.get(
    "/organizations/{orgId}/applications/metering/v3/data/device-daily-consumption",
    name="daily_consumption_v3",
    tags=["metering v3"],
    summary="Consumption per device and UTC period (pinned v3 shape)",
)
async def daily_consumption_v3(
    request: Request,
    user: User,
    org_id: OrgId,
    start: StartDate,
    end: EndDate,
    resolution: Resolution,
) -> JSONBytes:
    rows = _part1_rows(request, user, org_id, start, end, resolution)
    if "part1_wrapped" in sim_state(request).config.deviations:
        return JSONBytes({"data": rows})
    return JSONBytes(rows)


@router.get(
    "/organizations/{orgId}/applications/metering/data/device-daily-consumption",
    name="daily_consumption_default",
    tags=["metering (default version)"],
    summary="Consumption in the vendor's current default shape (v4 here; do not depend on it)",
)
async def daily_consumption_default(
    request: Request,
    user: User,
    org_id: OrgId,
    start: StartDate,
    end: EndDate,
    resolution: Resolution,
) -> JSONBytes:
    rows = _part1_rows(request, user, org_id, start, end, resolution)
    units = sim_state(request).catalog.units
    items = [
        {
            "device": {
                "id": r["deviceId"],
                "displayName": r.get("deviceName"),
                "serial": r.get("serialNumber"),
            },
            "period": {"resolution": resolution, "start": r["date"] + "T00:00:00.000Z"}
            if "date" in r
            else None,
            "consumption": {"value": r["consumption"], "unit": units.get(r["deviceId"])},
        }
        for r in rows
    ]
    return JSONBytes({"apiVersion": "v4", "items": items, "count": len(items)})


@router.get(
    "/organizations/{orgId}/devices",
    name="devices",
    tags=["platform"],
    summary="Devices of an organization (offset pagination, limit capped at 100)",
)
async def devices(
    request: Request,
    user: User,
    org_id: OrgId,
    limit: Annotated[int, Query(ge=1, description="Page size; values over 100 give 100")] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip")] = 0,
    cursor: Annotated[
        str | None, Query(description="Only with the `devices_cursor` deviation")
    ] = None,
) -> JSONBytes:
    state = sim_state(request)
    state.check_org(user, org_id)
    rows = state.catalog.org_devices.get(org_id, [])
    limit = min(limit, DEVICE_PAGE_MAX)
    if "devices_cursor" in state.config.deviations:  # a tenant that pages devices by cursor
        start = int(cursor) if cursor and cursor.isdigit() else 0
        more = start + limit < len(rows)
        return JSONBytes(
            {
                "data": rows[start : start + limit],
                "nextCursor": str(start + limit) if more else None,
            }
        )
    return JSONBytes(
        {
            "data": rows[offset : offset + limit],
            "meta": {"total": len(rows), "limit": limit, "offset": offset},
        }
    )


@router.get("/devices/{deviceId}", name="device", tags=["platform"], summary="One device")
async def device(
    request: Request,
    user: User,
    device_id: DeviceId,
) -> JSONBytes:
    state = sim_state(request)
    state.check_device(user, device_id)
    return JSONBytes({"data": state.catalog.details[device_id]})


@router.get(
    "/devices/{deviceId}/fields",
    name="fields",
    tags=["platform"],
    summary="Telemetry fields the device's variant supports, grouped",
)
async def fields(
    request: Request,
    user: User,
    device_id: DeviceId,
) -> JSONBytes:
    state = sim_state(request)
    state.check_device(user, device_id)
    return JSONBytes(state.catalog.grouped_fields[device_id])


@router.get(
    "/devices/{deviceId}/telemetry",
    name="telemetry",
    tags=["platform"],
    summary="Raw telemetry per field (at most 31 days per call)",
)
async def telemetry(
    request: Request,
    user: User,
    device_id: DeviceId,
    start: StartDate,
    end: EndDate,
    fields: Annotated[
        str,
        Query(
            description="Comma-separated field names (see /fields)",
            examples=["meter.value.processed,meter.value.raw,battery.voltage,connection.rssi"],
        ),
    ],
) -> JSONBytes:
    state = sim_state(request)
    start_us, end_us = parse_range(start, end)
    if end_us - start_us > MAX_TELEMETRY_US:
        raise bad_request("range too long: endDate - startDate must be at most 31 days")
    wanted = list(dict.fromkeys(f.strip() for f in fields.split(",") if f.strip()))
    if not wanted:
        raise bad_request("fields is required: a comma-separated list of field names")
    unknown = [f for f in wanted if f not in state.catalog.all_fields]
    if unknown:
        raise bad_request(f"unknown field(s): {', '.join(unknown)}")
    state.check_device(user, device_id)
    body = state.telemetry_body(device_id, wanted, *ms_bounds(start_us, end_us))
    if "telemetry_merged" in state.config.deviations:
        body = merged_telemetry(body)
    return JSONBytes(body)


@router.get(
    "/organizations/{orgId}/data-audit/changes",
    name="changes",
    tags=["data-audit"],
    summary="Changes to stored readings, ordered by (changedAt, id), cursor-paged",
)
async def changes(
    request: Request,
    user: User,
    org_id: OrgId,
    since: Annotated[
        str,
        Query(
            description="Inclusive lower bound on changedAt (ISO-8601 with offset)",
            examples=["2026-05-25T00:00:00.000Z"],
            json_schema_extra=_INSTANT,
        ),
    ],
    limit: Annotated[int, Query(ge=1, description="Page size; values over 200 give 200")] = 100,
    cursor: Annotated[
        str | None, Query(description="`nextCursor` of the previous page (opaque)")
    ] = None,
) -> JSONBytes:
    state = sim_state(request)
    since_us = parse_instant(since, "since")
    state.check_org(user, org_id)
    deviations = state.config.deviations
    cap = 100 if "changes_cap_100" in deviations else CHANGES_PAGE_MAX
    page, next_cursor = state.changes_page(org_id, since_us, min(limit, cap), cursor)
    key = "next_cursor" if "cursor_renamed" in deviations else "nextCursor"
    return JSONBytes({"data": page, key: next_cursor})


def merged_telemetry(body: bytes) -> bytes:
    """Re-shape a telemetry answer as one series of {ts, <field>: value, ...} (a deviation)."""
    payload = orjson.loads(body)
    merged: dict[str, dict[str, Any]] = {}
    for name, points in payload["fields"].items():
        for point in points:
            merged.setdefault(point["ts"], {"ts": point["ts"]})[name] = point["value"]
    series = [merged[ts] for ts in sorted(merged)]
    return orjson.dumps({"deviceId": payload["deviceId"], "fields": {"values": series}})
