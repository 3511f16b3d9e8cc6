"""The time vocabulary of the public API: ``start``, ``end``, ``since``, ``tz``, periods.

Every public function that takes times goes through here, so the rules are stated once:

- **Instants** (:data:`TimeLike`): ``str``, ``datetime.datetime``, ``datetime.date`` or
  ``pandas.Timestamp``; naive values are read in ``tz`` (default ``"UTC"``); aware
  values are converted; the result is a UTC ``pandas.Timestamp``. ``end`` is exclusive,
  ``end <= start`` is refused.
- **Time zone of a frame** (:func:`frame_tz`): a function that takes ``tz=`` and a frame
  defaults to ``tz=None``, meaning the frame's ``attrs["tz"]`` when it has one (the
  fetch functions and the mirror record the zone there), else ``"UTC"``; an explicit
  argument wins.
- **Periods** (:data:`Period`, :func:`check_period`): the calendar periods are named
  ``"hour"``, ``"day"``, ``"week"`` (ISO, from Monday), ``"month"`` and ``"year"``,
  local to ``tz``. The pandas codes used before are accepted as aliases
  (:data:`PERIOD_ALIASES`: ``"h"``, ``"D"``, ``"W"``, ``"MS"``, ``"YS"``). Every function
  with a period argument (``daily_consumption(resolution=)``,
  ``resample_consumption(freq=)``, the explorer) normalises it with :func:`check_period`.

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
from collections.abc import Mapping
from typing import Any, Literal, TypeAlias, get_args

import pandas as pd

__all__ = [
    "PERIODS",
    "PERIOD_ALIASES",
    "Period",
    "TimeLike",
    "TzLike",
    "api_timestamp",
    "check_period",
    "check_tz",
    "frame_tz",
    "time_range",
    "to_utc",
]

#: An instant argument: ``str``, ``datetime``, ``date`` or ``pandas.Timestamp``.
TimeLike: TypeAlias = "str | dt.datetime | dt.date | pd.Timestamp"
#: A time zone argument: an IANA name such as ``"Europe/Berlin"`` or a ``tzinfo``.
TzLike: TypeAlias = "str | dt.tzinfo"

#: The canonical period names (see the module docstring).
Period: TypeAlias = Literal["hour", "day", "week", "month", "year"]
PERIODS: tuple[Period, ...] = get_args(Period)
#: Accepted older spellings (pandas codes of period starts) → canonical period name.
PERIOD_ALIASES: Mapping[str, Period] = {
    "h": "hour",
    "D": "day",
    "W": "week",
    "MS": "month",
    "YS": "year",
}


def check_period(value: Any, name: str = "period") -> Period:
    """Return the canonical name of a period argument (:data:`Period`).

    Parameters
    ----------
    value : str
        A canonical name (``"hour"``, ``"day"``, ``"week"``, ``"month"``, ``"year"``) or
        one of its aliases (:data:`PERIOD_ALIASES`: ``"h"``, ``"D"``, ``"W"``, ``"MS"``,
        ``"YS"``).
    name : str
        Argument name used in the error message (``"freq"``, ``"resolution"`` …).

    Returns
    -------
    str
        The canonical name.

    Raises
    ------
    ValueError
        ``value`` is neither a period name nor an alias; the message names the value
        and the accepted names.

    Examples
    --------
    >>> check_period("D"), check_period("month"), check_period("YS", "freq")
    ('day', 'month', 'year')
    >>> check_period("fortnight", "freq")
    Traceback (most recent call last):
    ...
    ValueError: freq='fortnight' is not a period: use one of 'hour', 'day', 'week', 'month', 'year' (aliases 'h', 'D', 'W', 'MS', 'YS')
    """
    if isinstance(value, str):
        if value in PERIODS:
            return value
        if value in PERIOD_ALIASES:
            return PERIOD_ALIASES[value]
    names = ", ".join(repr(p) for p in PERIODS)
    aliases = ", ".join(repr(a) for a in PERIOD_ALIASES)
    raise ValueError(f"{name}={value!r} is not a period: use one of {names} (aliases {aliases})")


def frame_tz(frame: Any, tz: Any = None) -> str | dt.tzinfo:
    """Return the time zone a function uses for ``frame``: ``tz``, else the frame's, else UTC.

    The one rule behind every ``tz=None`` default: an explicit ``tz`` wins; otherwise the
    frame's ``attrs["tz"]`` (written by ``wf.telemetry``, ``wf.daily_consumption``, the
    mirror and the analysis helpers); otherwise ``"UTC"``.

    Parameters
    ----------
    frame : DataFrame or None
        The frame the function works on (anything without ``attrs`` counts as none).
    tz : str or tzinfo, optional
        The caller's explicit time zone.

    Returns
    -------
    str or tzinfo
        A validated zone (see :func:`check_tz`).

    Raises
    ------
    ValueError
        The chosen zone is not a known IANA name or ``tzinfo``.

    Examples
    --------
    >>> df = pd.DataFrame()
    >>> df.attrs["tz"] = "Europe/Berlin"
    >>> frame_tz(df), frame_tz(df, "UTC"), frame_tz(pd.DataFrame())
    ('Europe/Berlin', 'UTC', 'UTC')
    """
    if tz is None:
        attrs = getattr(frame, "attrs", None)
        tz = attrs.get("tz") if isinstance(attrs, Mapping) else None
    return check_tz("UTC" if tz is None else tz)


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
            ts = (
                ts.tz_localize(zone, ambiguous=True, nonexistent="shift_forward")
                if is_date  # the first instant of the day, even where midnight repeats
                else ts.tz_localize(zone, nonexistent="raise")
            )
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
