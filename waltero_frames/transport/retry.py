"""The one retry policy, built from two tenacity loops around a single send.

- **429**: retried with full-jitter exponential backoff (``uniform(0, min(cap, base·2^n))``),
  never shorter than ``Retry-After`` when the server sends one; bounded by
  ``rate_limit_attempts`` and ``rate_limit_max_wait`` seconds in total. If it persists the
  last 429 response is returned (the client raises ``RateLimited``).
- **500 / 5xx, dropped connections, timeouts**: retried once after a short jittered pause;
  a second failure returns that response (→ ``ServerError``) or re-raises the connection error.
- **Other 4xx**: returned at once, never retried (401 is the auth layer's business).

urllib3's ``Retry`` shares one counter across statuses and fires its first retry at once
(field-notes), so "500 once, 429 many times" is written as two nested tenacity loops.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    stop_before_delay,
)

from ..contract import Tenant, Verdict, differs, ok, probe, unknown
from ..errors import safe_url

__all__ = ["RetryPolicy", "retry_after_seconds"]

# a connection dropped mid-body surfaces as ChunkedEncodingError
logger = logging.getLogger("waltero_frames.retry")

TRANSIENT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


def retry_after_seconds(response: requests.Response) -> float | None:
    """Return the ``Retry-After`` header in seconds (integer or decimal), or ``None``."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:  # an HTTP date: not used by this API; fall back to backoff
        return None
    return seconds if seconds >= 0 else None


def _is_429(response: requests.Response) -> bool:
    return response.status_code == 429


def _is_5xx(response: requests.Response) -> bool:
    return response.status_code >= 500


#: Waits at least this long (s) are logged as warnings: a notebook shows why it pauses.
LONG_WAIT = 5.0


def _log_retry(level: int) -> Callable[[RetryCallState], None]:
    """Return a ``before_sleep`` hook that says what is retried, why and after how long.

    tenacity's own ``before_sleep_log`` names the wrapped callable (here a whole
    ``Retrying`` object, printed as a screen of settings) instead of the request.
    """

    def log(state: RetryCallState) -> None:
        outcome = state.outcome
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        if outcome is not None and outcome.failed:
            exc = outcome.exception()
            why, url = type(exc).__name__, getattr(getattr(exc, "request", None), "url", None)
        else:
            response = outcome.result() if outcome is not None else None
            why = f"HTTP {getattr(response, 'status_code', '?')}"
            url = getattr(response, "url", None)
        logger.log(
            max(level, logging.WARNING) if wait >= LONG_WAIT else level,
            "retrying %s in %.2f s after %s (attempt %d)",
            safe_url(url) or "the request",
            wait,
            why,
            state.attempt_number,
        )

    return log


def _last_result(state: RetryCallState) -> requests.Response:
    """When a loop gives up, hand back its last response (or re-raise its error)."""
    assert state.outcome is not None
    return state.outcome.result()


@dataclass(frozen=True)
class RetryPolicy:
    """Settings of the retry policy (see the module docstring).

    Parameters
    ----------
    rate_limit_attempts : int
        Most sends of one request while it keeps getting 429.
    rate_limit_max_wait : float
        Most seconds spent waiting on 429s for one request.
    backoff_base, backoff_cap : float
        Full-jitter backoff: attempt ``n`` waits ``uniform(0, min(cap, base * 2**n))``.
    server_error_attempts : int
        Sends of one request on 5xx/connection errors (2 = retried once).
    server_error_pause : float
        Upper bound of the jittered pause before that retry.
    """

    rate_limit_attempts: int = 10
    rate_limit_max_wait: float = 120.0
    backoff_base: float = 0.25
    backoff_cap: float = 8.0
    server_error_attempts: int = 2
    server_error_pause: float = 0.5
    sleep: Callable[[float], None] | None = None

    def _wait_429(self, state: RetryCallState) -> float:
        n = state.attempt_number - 1
        jitter = random.uniform(0.0, min(self.backoff_cap, self.backoff_base * 2**n))
        response = state.outcome.result() if state.outcome is not None else None
        floor = retry_after_seconds(response) if response is not None else None
        return max(jitter, floor or 0.0)

    def _wait_5xx(self, state: RetryCallState) -> float:
        return random.uniform(0.0, self.server_error_pause)

    def call(self, send: Callable[[], requests.Response]) -> requests.Response:
        """Run ``send()`` under the policy; return the final response.

        Raises
        ------
        requests.ConnectionError, requests.Timeout
            When the connection failed on the last allowed attempt.
        """
        extra: dict[str, Any] = {"sleep": self.sleep} if self.sleep is not None else {}
        rate_limited = Retrying(
            retry=retry_if_result(_is_429),
            wait=self._wait_429,
            # stop *before* a sleep that would pass the budget: a Retry-After of an hour
            # gives RateLimited now instead of an hour's silent wait
            stop=stop_after_attempt(self.rate_limit_attempts)
            | stop_before_delay(self.rate_limit_max_wait),
            retry_error_callback=_last_result,
            reraise=True,
            before_sleep=_log_retry(logging.INFO),  # long waits are visible
            **extra,
        )
        server_errors = Retrying(
            retry=retry_if_result(_is_5xx) | retry_if_exception_type(TRANSIENT_ERRORS),
            wait=self._wait_5xx,
            stop=stop_after_attempt(self.server_error_attempts),
            retry_error_callback=_last_result,
            reraise=True,
            before_sleep=_log_retry(logging.WARNING),
            **extra,
        )
        return server_errors(rate_limited, send)


# ---------------------------------------------------------------- contract probe
@probe(
    "rate_limit",
    "a throttled call answers 429 with Retry-After: <integer seconds>",
    order=90,
)
def _probe_rate_limit(tenant: Tenant) -> Verdict:
    """Send cheap calls back to back until the first 429, within the doctor's budget."""
    sent = 0
    first = None
    started = None
    while tenant.budget > 0:
        answer = tenant.get("/api/auth/me", fresh=True)
        started = started if started is not None else answer.seconds
        sent += 1
        if answer.status == 429:
            first = answer
            break
    if first is None:
        return unknown(f"no 429 after {sent} calls back to back: the limit is above that burst")
    header = {k.lower(): v for k, v in first.headers.items()}.get("retry-after")
    if header is None:
        return differs(
            f"the first 429 came after {sent} calls, without Retry-After",
            "exponential backoff with jitter, learned pace",
            handled=True,
        )
    if not header.strip().isdigit():
        return differs(
            f"the first 429 came after {sent} calls, Retry-After: {header[:20]!r}",
            "an HTTP-date or decimal Retry-After is read, else backoff",
            handled=True,
        )
    return ok(f"the first 429 came after {sent} calls back to back, Retry-After: {header} s")
