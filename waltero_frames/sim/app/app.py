"""The simulator's FastAPI application.

:func:`create_app` wires the routers (``app_auth``, ``app_data``, ``app_admin``) to one
:class:`~waltero_frames.sim.app.state.SimState`, maps every error to the contract's body
``{"code", "message"}`` (FastAPI's 422 becomes ``400 BAD_REQUEST``), and wraps the app in
:class:`GatewayMiddleware`: base-path prefix, latency, fault injection and the request log.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ..config import SimConfig
from . import admin as app_admin
from . import auth as app_auth
from . import data as app_data
from . import weather as app_weather
from .common import ApiError, JSONBytes, error_response
from .state import SimState, redact_query

ADMIN_PREFIX = "/_sim/"
_STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
}


class ConnectionDropped(Exception):
    """Raised after the status line to make the server cut the connection (fault "drop")."""


class _HideDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped)


logging.getLogger("uvicorn.error").addFilter(_HideDrops())


def _error_body(status: int, message: str) -> JSONBytes:
    return error_response(ApiError(status, _STATUS_CODES.get(status, "BAD_REQUEST"), message))


async def _send_error(send: Any, status: int, message: str, headers: dict | None = None) -> None:
    body = _error_body(status, message).body
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
            + [(k.lower().encode(), str(v).encode()) for k, v in (headers or {}).items()],
        }
    )
    await send({"type": "http.response.body", "body": body})


class GatewayMiddleware:
    """What sits in front of the API: prefix, latency, faults, and the request log.

    The admin endpoints (``/_sim/...``, always at the root) bypass all of it. The weather
    route (``/v1/archive``) is served at the root whatever the prefix, and is 404 under
    it; latency, faults and the log apply to it as to the API.
    """

    def __init__(self, app: Any, state: SimState, routes: Sequence[Any] = ()) -> None:
        self.app = app
        self.state = state
        self.routes = list(routes)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        state, cfg = self.state, self.state.config
        t = time.time()
        t0 = time.perf_counter()
        path = scope["path"]
        api_path = path
        status: Any = None
        scope = dict(scope)
        try:
            if cfg.prefix and path not in app_weather.ROOT_PATHS:
                stripped = path[len(cfg.prefix) :] or "/"
                if (
                    path == cfg.prefix or path.startswith(cfg.prefix + "/")
                ) and stripped not in app_weather.ROOT_PATHS:
                    api_path = stripped
                    scope["root_path"] = scope.get("root_path", "") + cfg.prefix
                else:
                    status = 404
                    await _send_error(send, 404, f"no route {path} (API served under {cfg.prefix})")
                    return
            state.sync_clock()
            if cfg.latency:
                await asyncio.sleep(cfg.latency)
            rule = self._fault(scope["method"], api_path)
            if rule is not None:
                status = rule["status"]
                if status == "drop":
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 200,
                            "headers": [
                                (b"content-type", b"application/json"),
                                (b"content-length", b"4096"),
                            ],
                        }
                    )
                    await send({"type": "http.response.body", "body": b'{"da', "more_body": True})
                    raise ConnectionDropped(api_path)
                await _send_error(send, 500, "injected fault")
                return

            async def send_capture(message: dict) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            await self.app(scope, receive, send_capture)
        finally:
            route = scope.get("route") or self._route_for(scope)
            query = dict(
                parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            )
            state.record(
                scope["method"],
                api_path,
                redact_query(query),
                status if status is not None else "error",
                getattr(route, "name", None),
                t,
                (time.perf_counter() - t0) * 1000,
            )

    def _route_for(self, scope: dict) -> Any:
        """Return the route a request would have reached (for requests answered before routing)."""
        for route in self.routes:
            if route.matches(scope)[0] == Match.FULL:
                return route
        return None

    def _fault(self, method: str, api_path: str) -> dict | None:
        for rule in self.state.config.fail:
            if rule["times"] == 0:
                continue
            if rule.get("method") not in (None, method):
                continue
            if re.search(rule["path"], api_path):
                if rule["times"] is not None:
                    rule["times"] -= 1
                return rule
        return None


def create_app(world: Any, config: SimConfig | None = None) -> tuple[Any, SimState]:
    """Return the ASGI app serving ``world`` and the state that drives it.

    Parameters
    ----------
    world : World
        Ground truth to serve.
    config : SimConfig, optional
        Knobs (defaults per the contract).

    Returns
    -------
    (asgi_app, state)

    Examples
    --------
    >>> from waltero_frames.sim.world.model import World         # doctest: +SKIP
    >>> app, state = create_app(World(seed=0))               # doctest: +SKIP
    """
    state = SimState(world, config or SimConfig())
    api = FastAPI(
        title="Waltero metering API (simulator)",
        version="3",
        description="The bundled simulator of the Waltero metering API (see CONTRACT.md).",
        docs_url="/docs",
        redoc_url=None,
        redirect_slashes=False,  # a gateway answers 404, never a redirect (tokens in history)
    )
    api.state.sim = state
    api.include_router(app_auth.router)
    api.include_router(app_data.router)
    api.include_router(app_admin.router)
    api.include_router(app_weather.router)

    @api.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONBytes:
        return error_response(exc)

    @api.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONBytes:
        # Never echo the offending input (it may be a password): location and reason only.
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "path"))
            parts.append(f"{loc}: {err.get('msg', 'invalid')}")
        return _error_body(400, "; ".join(parts) or "invalid request")

    @api.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONBytes:
        return _error_body(exc.status_code, str(exc.detail))

    @api.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONBytes:
        return _error_body(500, "internal error")

    routers = (app_auth.router, app_data.router, app_weather.router)
    routes = [r for router in routers for r in router.routes]
    return GatewayMiddleware(api, state, routes), state
