"""The ``WalteroError`` family: one exception class per API error code.

Every error carries ``status`` (HTTP status or ``None``), ``code`` (the API's error code),
``message`` and ``url``: the request URL with any secret (user info, token-like query
parameters) removed. Nothing here ever holds a token or a password.

>>> err = error_from_response(404, {"code": "NOT_FOUND", "message": "no such device"},
...                           "https://api.example.com/api/devices/x?access_token=abc")
>>> type(err).__name__, err.status, err.url
('NotFound', 404, 'https://api.example.com/api/devices/x?access_token=REDACTED')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "BadRequest",
    "CacheMiss",
    "FetchFailed",
    "Forbidden",
    "NotFound",
    "RateLimited",
    "ServerError",
    "SyncError",
    "Unauthenticated",
    "UnexpectedResponse",
    "WalteroError",
    "error_from_response",
    "safe_url",
]

_SECRET_PARAM = re.compile(r"token|password|passwd|secret|api[_-]?key|auth", re.IGNORECASE)


def safe_url(url: str | None) -> str | None:
    """Return ``url`` without user info and with token-like query values redacted.

    >>> safe_url("https://u:p@host/path?since=x&token=abc")
    'https://host/path?since=x&token=REDACTED'
    """
    if url is None:
        return None
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    query = urlencode(
        [
            (k, "REDACTED" if _SECRET_PARAM.search(k) else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe=":,",
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class WalteroError(Exception):
    """Base class of every error raised for a Waltero API call.

    Parameters
    ----------
    message : str
        Human-readable description (the API's ``message`` when there is one).
    status : int, optional
        HTTP status of the failing response.
    code : str, optional
        The API's error code (``"NOT_FOUND"``, ...).
    url : str, optional
        The request URL; secrets are stripped before it is stored.
    """

    default_code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        url: str | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.code = code or self.default_code
        self.url = safe_url(url)
        super().__init__(message)

    def __str__(self) -> str:
        head = " ".join(str(p) for p in (self.status, self.code) if p is not None)
        tail = f" ({self.url})" if self.url else ""
        return f"{head}: {self.message}{tail}" if head else f"{self.message}{tail}"

    def __reduce__(self) -> tuple[Any, ...]:
        # keyword-only constructor: make the exceptions picklable (thread/process pools)
        return (
            _rebuild,
            (type(self), self.message, self.status, self.code, self.url),
        )


def _rebuild(cls: type[WalteroError], message: str, status: Any, code: Any, url: Any) -> Any:
    return cls(message, status=status, code=code, url=url)


class BadRequest(WalteroError):
    """400 ``BAD_REQUEST``: malformed parameters the server refused."""

    default_code = "BAD_REQUEST"


class Unauthenticated(WalteroError):
    """401 ``UNAUTHENTICATED``: wrong credentials, or a token refused even after re-login."""

    default_code = "UNAUTHENTICATED"


class Forbidden(WalteroError):
    """403 ``FORBIDDEN``: the user cannot read this organization or device."""

    default_code = "FORBIDDEN"


class NotFound(WalteroError):
    """404 ``NOT_FOUND``: unknown organization or device id (or no access)."""

    default_code = "NOT_FOUND"


class RateLimited(WalteroError):
    """429 ``RATE_LIMITED`` that persisted past the retry budget."""

    default_code = "RATE_LIMITED"


class ServerError(WalteroError):
    """500 ``INTERNAL_ERROR`` (or a dropped connection) that persisted after one retry."""

    default_code = "INTERNAL_ERROR"


class CacheMiss(WalteroError):
    """An offline client was asked for a call its cache does not hold.

    The message names the missing call (method, path and query), never a secret.
    """

    default_code = "CACHE_MISS"


class UnexpectedResponse(WalteroError):
    """A response whose shape breaks the contract (a missing key, a wrong type).

    Raised instead of guessing, so a changed API never yields silently wrong numbers.
    """

    default_code = "UNEXPECTED_RESPONSE"


class SyncError(WalteroError, RuntimeError):
    """A mirror sync cannot go on safely.

    For example changelog paging that makes no progress, or a fetched window that would
    leave a gap in a device's coverage. Everything committed before stays; the next sync
    resumes from there. Also a
    ``RuntimeError``, as it was before it joined the ``WalteroError`` family.
    """

    default_code = "SYNC_FAILED"


class FetchFailed(WalteroError):
    """Some devices of a multi-device fetch failed; the others completed.

    Attributes
    ----------
    failures : dict
        ``device_id -> exception`` for every failed device.
    partial : pandas.DataFrame or None
        The frame assembled from the devices that succeeded, so no data is lost.
    """

    default_code = "FETCH_FAILED"

    def __init__(
        self,
        message: str,
        *,
        failures: Mapping[str, BaseException] | None = None,
        partial: Any = None,
    ) -> None:
        super().__init__(message)
        self.failures = dict(failures or {})
        self.partial = partial

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_fetch_failed, (self.message, self.failures, self.partial))


def _rebuild_fetch_failed(message: str, failures: Any, partial: Any) -> FetchFailed:
    return FetchFailed(message, failures=failures, partial=partial)


_BY_CODE: dict[str, type[WalteroError]] = {
    cls.default_code: cls
    for cls in (BadRequest, Unauthenticated, Forbidden, NotFound, RateLimited, ServerError)
}
_BY_STATUS: dict[int, type[WalteroError]] = {
    400: BadRequest,
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    429: RateLimited,
}


def error_from_response(status: int, body: Any, url: str | None) -> WalteroError:
    """Build the matching ``WalteroError`` subclass from an error response.

    The class follows the body's ``code`` when it is a known one, else the HTTP status
    (any 5xx → ``ServerError``; other statuses → ``WalteroError``).

    Parameters
    ----------
    status : int
        HTTP status.
    body : Any
        The decoded JSON body (``{"code": ..., "message": ...}``) or anything else.
    url : str or None
        Request URL (secrets are removed).
    """
    code = message = None
    if isinstance(body, Mapping):
        code = body.get("code") if isinstance(body.get("code"), str) else None
        message = body.get("message") if isinstance(body.get("message"), str) else None
        if message is None and isinstance(body.get("reason"), str):  # Open-Meteo's errors
            message = body["reason"]
    cls = _BY_CODE.get(code or "") or _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else WalteroError
    return cls(message or f"HTTP {status}", status=status, code=code, url=url)
