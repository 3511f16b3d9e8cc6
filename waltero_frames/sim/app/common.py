"""Shared pieces of the simulator's HTTP layer: errors, JSON responses, argument parsing."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
from fastapi.responses import Response

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Instants the server accepts (pandas' nanosecond range holds them with room to spare).
MIN_INSTANT_US = (datetime(1900, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
MAX_INSTANT_US = (datetime(2200, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


class ApiError(Exception):
    """An error answer with the contract's body ``{"code", "message"}``."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BAD_REQUEST", message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", message)


def forbidden(message: str) -> ApiError:
    return ApiError(403, "FORBIDDEN", message)


class JSONBytes(Response):
    """A JSON response rendered by orjson (numpy scalars/arrays allowed, NaN → null)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


def error_response(err: ApiError) -> JSONBytes:
    return JSONBytes(
        {"code": err.code, "message": err.message}, status_code=err.status, headers=err.headers
    )


def parse_instant(value: str, name: str) -> int:
    """Return an ISO-8601 instant with an offset → epoch microseconds; else a 400 naming ``name``."""
    try:
        dt = datetime.fromisoformat(value)
    except (ValueError, TypeError):
        raise bad_request(f"{name} is not an ISO-8601 instant: {value!r}") from None
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise bad_request(f"{name} must carry a UTC offset (e.g. 'Z'): {value!r}")
    try:
        delta = dt - _EPOCH
    except OverflowError:
        raise bad_request(f"{name} is out of range: {value!r}") from None
    us = delta // timedelta(microseconds=1)
    if not MIN_INSTANT_US <= us < MAX_INSTANT_US:
        raise bad_request(f"{name} is out of the supported range 1900-01-01..2199-12-31: {value!r}")
    return us


def parse_range(start: str, end: str) -> tuple[int, int]:
    """``startDate``/``endDate`` → epoch microseconds, ``end > start`` enforced."""
    start_us = parse_instant(start, "startDate")
    end_us = parse_instant(end, "endDate")
    if end_us <= start_us:
        raise bad_request(f"endDate must be after startDate: {end!r} <= {start!r}")
    return start_us, end_us


def us_to_ms_bounds(start_us: int, end_us: int) -> tuple[int, int]:
    """Millisecond bounds ``[lo, hi)`` selecting readings ``start <= ts < end``."""
    return -(-start_us // 1000), -(-end_us // 1000)


def iso_ms(ms: int) -> str:
    """Epoch milliseconds → ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    return str(np.datetime64(int(ms), "ms")) + "Z"


def iso_ms_array(ms: np.ndarray) -> list[str]:
    """Vectorised :func:`iso_ms`."""
    if len(ms) == 0:
        return []
    strs = np.datetime_as_string(np.asarray(ms, dtype="int64").astype("datetime64[ms]"), unit="ms")
    return np.char.add(strs, "Z").tolist()


def retry_after(seconds: float) -> str:
    """Return the integer ``Retry-After`` value for a wait of ``seconds`` (at least 1)."""
    return str(max(1, math.ceil(seconds)))
