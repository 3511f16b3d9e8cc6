"""Parsing and validation of the time arguments ``start``, ``end``, ``since`` and ``tz``.

Every public function that takes times goes through here, so the rules are stated once:
values may be ``str``, ``datetime.datetime``, ``datetime.date`` or ``pandas.Timestamp``;
naive values are read in ``tz`` (default ``"UTC"``); aware values are converted; the
result is a UTC ``pandas.Timestamp``. ``end`` is exclusive, ``end <= start`` is refused.
Anything wrong raises ``ValueError`` naming the bad value, before any request is made.

>>> start, end = time_range("2026-05-19", "2026-05-26", tz="Europe/Berlin")
>>> start, end
(Timestamp('2026-05-18 22:00:00+0000', tz='UTC'), Timestamp('2026-05-25 22:00:00+0000', tz='UTC'))
>>> api_timestamp(start)
'2026-05-18T22:00:00.000Z'
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any, TypeAlias

import pandas as pd

__all__ = ["TimeLike", "api_timestamp", "check_tz", "time_range", "to_utc"]

TimeLike: TypeAlias = "str | dt.datetime | dt.date | pd.Timestamp"


def check_tz(tz: Any) -> str | dt.tzinfo:
    """Validate a time zone argument (an IANA name or a ``tzinfo``).

    Raises
    ------
    ValueError
        If ``tz`` is not a known IANA time zone name or a ``tzinfo``.

    >>> check_tz("Europe/Berlin")
    'Europe/Berlin'
    """
    if isinstance(tz, dt.tzinfo):
        return tz
    if not isinstance(tz, str) or not tz:
        raise ValueError(f"unknown time zone {tz!r}: expected an IANA name such as 'Europe/Berlin'")
    if tz.upper() == "UTC":
        return "UTC"
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(
            f"unknown time zone {tz!r}: expected an IANA name such as 'Europe/Berlin'"
        ) from exc
    return tz


def to_utc(value: Any, tz: Any = "UTC", *, name: str = "time") -> pd.Timestamp:
    """Read one time argument as a UTC ``Timestamp``.

    Parameters
    ----------
    value : str, datetime, date or Timestamp
        Naive values (and dates, which mean local midnight) are read in ``tz``.
    tz : str or tzinfo, default "UTC"
        Zone for naive values.
    name : str
        Argument name used in error messages.

    Returns
    -------
    pandas.Timestamp
        tz-aware, UTC.

    Raises
    ------
    ValueError
        Unparsable value, unsupported type, unknown ``tz``, or a naive local time that
        does not exist or is ambiguous in ``tz`` (a DST change).

    >>> to_utc("2026-03-29 01:30", "Europe/Berlin", name="start")
    Timestamp('2026-03-29 00:30:00+0000', tz='UTC')
    """
    zone = check_tz(tz)
    is_date = isinstance(value, dt.date) and not isinstance(value, dt.datetime)
    if isinstance(value, bool) or not isinstance(value, str | dt.date | pd.Timestamp):
        raise ValueError(
            f"{name}={value!r}: expected a str, datetime, date or pandas.Timestamp, "
            f"not {type(value).__name__}"
        )
    if isinstance(value, str) and value.strip().lower() in {"now", "today"}:
        # pandas reads these in the machine's zone; give them their meaning in ``tz``
        now = pd.Timestamp.now(tz="UTC")
        if value.strip().lower() == "now":
            return now
        value, is_date = now.tz_convert(zone).date(), True
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"{name}={value!r} is not a parsable date/time") from exc
    if ts is pd.NaT or pd.isna(ts):
        raise ValueError(f"{name}={value!r} is not a parsable date/time")
    if ts.tzinfo is None:
        try:
            # A date means the start of the local day, even where midnight is skipped.
            ts = ts.tz_localize(zone, nonexistent="shift_forward" if is_date else "raise")
        except (ValueError, TypeError) as exc:  # Nonexistent/AmbiguousTimeError subclass these
            raise ValueError(
                f"{name}={value!r} does not name one instant in {zone!s} (DST change): "
                "pass it with a UTC offset"
            ) from exc
    return ts.tz_convert("UTC")


def time_range(start: Any, end: Any, tz: Any = "UTC") -> tuple[pd.Timestamp, pd.Timestamp]:
    """Validate a ``[start, end)`` pair and return it in UTC.

    Raises
    ------
    ValueError
        Either bound is invalid (see ``to_utc``) or ``end <= start``.

    >>> time_range("2026-05-19T00:00Z", "2026-05-19T00:00Z")
    Traceback (most recent call last):
    ...
    ValueError: end='2026-05-19T00:00Z' must be after start='2026-05-19T00:00Z' (end is exclusive)
    """
    s = to_utc(start, tz, name="start")
    e = to_utc(end, tz, name="end")
    if e <= s:
        raise ValueError(f"end={end!r} must be after start={start!r} (end is exclusive)")
    return s, e


def api_timestamp(ts: pd.Timestamp) -> str:
    """Format a UTC instant the way the API writes it: milliseconds and ``Z``.

    Sub-millisecond parts are rounded *up*: readings carry millisecond times, so a
    reading is at or after ``t`` exactly when it is at or after ``ceil_ms(t)`` — the
    half-open range keeps its meaning.

    >>> api_timestamp(pd.Timestamp("2026-05-18 22:00:00.0004", tz="UTC"))
    '2026-05-18T22:00:00.001Z'
    """
    ts = to_utc(ts, name="ts").ceil("ms")
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
