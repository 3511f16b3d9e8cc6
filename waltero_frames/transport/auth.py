"""Bearer tokens: lazy login, reuse until the JWT ``exp``, single-flight re-login.

A ``TokenStore`` holds one token and a generation counter. ``get()`` returns a valid
token, logging in (under a lock, once) when there is none or it is about to expire.
After a 401 a caller calls ``invalidate(generation)`` with the generation it used: only
the first caller of a generation drops the token, so a dozen threads hitting expiry
together cause one login.

Secrets are wrapped in ``Secret`` so a repr, a traceback with locals or a debugger shows
``'***'`` instead of them; every secret is also registered with the masking log filter.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["SecretFilter", "Secret", "TokenStore", "jwt_expiry", "install_log_filter"]

_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_LIVE_SECRETS: weakref.WeakSet[Secret] = weakref.WeakSet()


class Secret:
    """A string that never shows itself in ``repr``/``str``; ``.reveal()`` returns it."""

    __slots__ = ("__weakref__", "_value")

    def __init__(self, value: str) -> None:
        self._value = value
        if value:
            _LIVE_SECRETS.add(self)

    def reveal(self) -> str:
        """Return the secret itself (only where it is sent)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("secrets are not picklable")


def mask(text: str) -> str:
    """Replace every live secret and any ``Bearer <token>`` in ``text`` with ``***``."""
    text = _BEARER.sub(r"\1***", text)
    for secret in list(_LIVE_SECRETS):
        value = secret.reveal()
        if value and value in text:
            text = text.replace(value, "***")
    return text


class SecretFilter(logging.Filter):
    """Logging filter that masks tokens and passwords in a record's message.

    Installed on the loggers that can see requests (``urllib3``, ``requests_cache``,
    ``http.client`` — where the usual debug recipe sends ``http.client``'s header dump —
    and ours). It formats the message once, masks it and drops the args.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact secrets from a log record; always keep the record."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to logging to report
            return True
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


_FILTERED_LOGGERS = (
    "waltero_frames",
    "waltero_frames.retry",
    "http.client",
    "urllib3",
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.util.retry",
    "requests_cache",
    "requests_cache.session",
    "requests_cache.policy.actions",
    "requests_cache.backends.base",
    "requests_cache.backends.sqlite",
)
_filter = SecretFilter()


def install_log_filter() -> None:
    """Attach the masking filter to every logger that can see a request (idempotent).

    Filters attached to a logger only see records logged on it, so each known logger
    gets one.
    """
    for name in _FILTERED_LOGGERS:
        logger = logging.getLogger(name)
        if _filter not in logger.filters:
            logger.addFilter(_filter)


def jwt_expiry(token: str) -> float | None:
    """Return the ``exp`` claim (epoch seconds) of a JWT, read without verifying it; else ``None``.

    >>> payload = base64.urlsafe_b64encode(b'{"exp": 1700000000}').rstrip(b"=").decode()
    >>> jwt_expiry(f"h.{payload}.s")
    1700000000.0
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    body = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(body))
        return float(claims["exp"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        return None


class TokenStore:
    """Holds the bearer token; logs in lazily and at most once per expiry.

    Parameters
    ----------
    login : callable
        ``login() -> str`` performs the login request and returns the token.
    clock : callable
        Epoch seconds (``time.time``); settable for tests.
    """

    def __init__(self, login: Callable[[], str], *, clock: Callable[[], float] = time.time) -> None:
        self._login = login
        self._clock = clock
        self._lock = threading.Lock()
        # (token, generation, refresh_at) swapped as one tuple, so readers never mix them
        self._current: tuple[Secret, int, float] | None = None
        self.generation = 0
        self.logins = 0

    def get(self) -> tuple[str, int]:
        """Return ``(token, generation)``, logging in first when needed."""
        current = self._current
        if current is not None and self._clock() < current[2]:
            return current[0].reveal(), current[1]
        with self._lock:
            current = self._current
            if current is None or self._clock() >= current[2]:
                raw = self._login()
                now = self._clock()
                exp = jwt_expiry(raw)
                # refresh a little before exp: 10 % of the lifetime, at most 60 s
                lifetime = (exp - now) if exp is not None else 3600.0
                refresh_at = now + lifetime - min(60.0, 0.1 * max(lifetime, 0.0))
                self.generation += 1
                self.logins += 1
                current = self._current = (Secret(raw), self.generation, refresh_at)
            return current[0].reveal(), current[1]

    def invalidate(self, generation: int) -> None:
        """Forget the token of ``generation`` after a 401 (no-op if already replaced)."""
        with self._lock:
            if self._current is not None and self._current[1] == generation:
                self._current = None

    def clear(self) -> None:
        """Forget the current token."""
        with self._lock:
            self._current = None
