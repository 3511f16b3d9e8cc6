"""Admin endpoints (``/_sim/...``) that drive a simulator running in another process.

Not part of the Waltero API: excluded from the OpenAPI document, never logged, never
faulted, no auth (the server only listens on loopback).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from .auth import sim_state
from .common import JSONBytes, bad_request

router = APIRouter(prefix="/_sim", include_in_schema=False)


@router.get("/health")
async def health() -> JSONBytes:
    return JSONBytes({"ok": True})


@router.get("/config")
async def get_config(request: Request) -> JSONBytes:
    return JSONBytes(sim_state(request).config.to_dict())


@router.post("/config")
async def set_config(request: Request) -> JSONBytes:
    state = sim_state(request)
    knobs = await _json(request)
    try:
        state.config.update(**knobs)
    except (ValueError, TypeError) as exc:
        raise bad_request(str(exc)) from None
    state.sync_clock()
    return JSONBytes(state.config.to_dict())


@router.post("/reset")
async def reset(request: Request) -> JSONBytes:
    sim_state(request).reset()
    return JSONBytes({"ok": True})


@router.post("/corrections")
async def corrections(request: Request) -> JSONBytes:
    body = await _json(request)
    args = {k: body.pop(k, None) for k in ("device_id", "field", "timestamp", "new_value")}
    try:
        out = sim_state(request).add_correction(*args.values(), **body)
    except (ValueError, TypeError, KeyError) as exc:
        raise bad_request(str(exc)) from None
    return JSONBytes({"result": _jsonable(out)})


@router.get("/log")
async def log(request: Request) -> JSONBytes:
    state = sim_state(request)
    return JSONBytes(
        {
            "log": state.log,
            "counters": [[route, status, n] for (route, status), n in state.counters.items()],
        }
    )


@router.get("/now")
async def now(request: Request) -> JSONBytes:
    return JSONBytes({"now_ms": sim_state(request).now_ms()})


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise bad_request("body must be a JSON object") from None
    if not isinstance(body, dict):
        raise bad_request("body must be a JSON object")
    return body


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
