"""Shared machinery of ``load_kpis``, ``costs`` and ``emissions``.

Per-reading arrays placed in the local periods of :func:`resample_consumption` (same
bounds, same output rows), and the local wall-clock calendar (``"HH:MM"`` windows,
weekdays, holidays).

The placement rule is Part 1's, stated once: a consumption delta belongs to the reading
that ends its interval, and that reading's timestamp ``t`` is placed in the half-open
local window ``[start, end)`` containing it — periods, opening hours and time-of-use
windows alike (a reading at 08:00 is in a window opening at 08:00).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from ..timeargs import Period, check_period, frame_tz
from ._frames import DEVICE, device_codes, frame_times, local_wall_ns, to_ns
from .resample import _intervals, locate, period_boundaries, resample_consumption

MINUTE_NS = 60 * 10**9
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS
MINUTES_PER_DAY = 1440
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def parse_hhmm(value: Any, what: str, *, end: bool = False) -> int:
    """Minutes after local midnight of ``"HH:MM"`` (``"24:00"`` only as an end)."""
    text = value if isinstance(value, str) else None
    try:
        hh, mm = text.strip().split(":")  # type: ignore[union-attr]
        h, m = int(hh), int(mm)
    except (AttributeError, ValueError):
        h = m = -1
    minutes = h * 60 + m
    if not (0 <= m < 60 and 0 <= minutes <= (MINUTES_PER_DAY if end else MINUTES_PER_DAY - 1)):
        raise ValueError(f"{what}: {value!r} is not a local time 'HH:MM' (00:00 to 24:00)")
    return minutes


def day_segments(start: int, end: int) -> list[tuple[int, int, int]]:
    """Split a local window ``[start, end)`` in minutes into ``(day offset, from, to)``.

    A window whose end is not after its start crosses midnight into the next day.
    """
    if end > start:
        return [(0, start, end)]
    return [(0, start, MINUTES_PER_DAY), (1, 0, end)] if end else [(0, start, MINUTES_PER_DAY)]


def schedule_table(schedule: Any) -> np.ndarray:
    """Tabulate a weekly schedule: bool ``[7, 1440]``, open at (weekday Mon=0, minute).

    ``schedule``: ``{"Mon": [("08:00", "18:00"), …], …}``; days not listed are closed; a
    window ending at or before its start runs past midnight into the next day.
    """
    if not isinstance(schedule, dict):
        raise ValueError(
            f"schedule must be a dict such as {{'Mon': [('08:00', '18:00')]}}, got {schedule!r}"
        )
    table = np.zeros((7, MINUTES_PER_DAY), dtype=bool)
    for day, windows in schedule.items():
        if day not in WEEKDAYS:
            raise ValueError(f"schedule: unknown weekday {day!r}; use one of {list(WEEKDAYS)}")
        if isinstance(windows, tuple) and len(windows) == 2 and isinstance(windows[0], str):
            windows = [windows]
        for window in windows:
            if not (isinstance(window, tuple | list) and len(window) == 2):
                raise ValueError(f"schedule[{day!r}]: {window!r} is not a ('HH:MM', 'HH:MM') pair")
            start = parse_hhmm(window[0], f"schedule[{day!r}]")
            end = parse_hhmm(window[1], f"schedule[{day!r}]", end=True)
            for shift, lo, hi in day_segments(start, end):
                table[(WEEKDAYS.index(day) + shift) % 7, lo:hi] = True
    return table


def holiday_days(holidays: Any, years: Iterable[int]) -> np.ndarray:
    """Return the local dates (days since 1970-01-01) of closed days.

    ``holidays``: a country code such as ``"DE"`` or ``"DE-BE"`` (the ``holidays``
    package), or a list of dates.
    """
    if holidays is None:
        return np.zeros(0, dtype=np.int64)
    if isinstance(holidays, str):
        country, _, subdiv = holidays.partition("-")
        try:
            import holidays as holidays_lib
        except ImportError as exc:  # pragma: no cover - an extra
            raise ImportError("holidays='…' needs the 'holidays' package (extra 'energy')") from exc
        try:
            found = holidays_lib.country_holidays(
                country.upper(), subdiv=subdiv.upper() or None, years=list(years)
            )
        except NotImplementedError as exc:
            raise ValueError(
                f"holidays={holidays!r}: unknown country or subdivision ({exc})"
            ) from None
        dates: list[Any] = list(found)
    else:
        try:
            dates = list(holidays)
        except TypeError:
            raise ValueError(
                f"holidays must be a country code such as 'DE' or 'DE-BE', or a list of dates; "
                f"got {holidays!r}"
            ) from None
    out = []
    for value in dates:
        day = None
        if isinstance(value, str | dt.date | np.datetime64):  # Timestamp is a date too
            with contextlib.suppress(ValueError, TypeError):
                day = pd.Timestamp(value)
        if day is None or day is pd.NaT:
            raise ValueError(f"holidays: {value!r} is not a date")
        out.append((day.tz_localize(None).normalize() - pd.Timestamp(0)).days)
    return np.unique(np.asarray(out, dtype=np.int64))


@dataclass
class Placed:
    """A consumption frame's readings placed in local periods.

    ``out`` is :func:`resample_consumption`'s frame (method ``"attribute"``): its rows
    are the output rows of every helper here. Per-reading arrays are in input order.
    """

    out: pd.DataFrame
    codes: np.ndarray  # device code per reading
    devices: pd.Index  # sorted device ids (code order)
    ts: np.ndarray  # int64 ns UTC
    dt: np.ndarray  # int64 ns since the device's previous reading (0 on first rows)
    first: np.ndarray  # bool: the device's first reading (no delta)
    bounds: np.ndarray  # period starts (UTC ns)
    tz: Any
    freq: Period
    out_key: np.ndarray  # dense (period, device) key of each output row
    cons: np.ndarray  # the consumption column (float64, NaN on first readings)

    @property
    def n_dev(self) -> int:
        return len(self.devices)

    @property
    def n_keys(self) -> int:
        return (len(self.bounds) - 1) * self.n_dev

    def keys(self, rows: Any = slice(None), times: np.ndarray | None = None) -> np.ndarray:
        """Dense (period, device) key of readings ``rows`` (or of instants ``times``)."""
        t = self.ts[rows] if times is None else times
        key = locate(self.bounds, t)
        key *= self.n_dev
        key += self.codes[rows]
        return key

    def to_rows(self, dense: np.ndarray) -> np.ndarray:
        """Values by dense key → values by output row."""
        return dense[self.out_key]

    def values(self, rows: Any = slice(None)) -> np.ndarray:
        """Return the deltas of ``rows`` as float64 (a first reading's NaN counts as 0)."""
        v = self.cons[rows]
        return np.where(np.isnan(v), 0.0, v)

    def calendar(self, rows: Any = slice(None)) -> tuple[np.ndarray, np.ndarray]:
        """Local date (days since 1970-01-01) and minute of the local day of ``rows``."""
        wall = self.wall(rows)
        day = wall // DAY_NS
        wall -= day * DAY_NS
        wall //= MINUTE_NS
        return day, wall

    def wall(self, rows: Any = slice(None), times: np.ndarray | None = None) -> np.ndarray:
        """Local wall-clock time (int64 ns, as if UTC) of readings ``rows`` (or ``times``)."""
        return local_wall_ns(self.ts[rows] if times is None else times, self.tz)


def place(consumption: pd.DataFrame, freq: Period, tz: Any, what: str = "consumption") -> Placed:
    """Validate a ``readings_to_consumption`` frame and place its readings in periods."""
    freq = check_period(freq, "freq")
    tz = frame_tz(consumption, tz)
    times = frame_times(consumption, what)
    for col in (DEVICE, "consumption"):
        if col not in consumption.columns:
            raise ValueError(
                f"{what} frame needs a {col!r} column (readings_to_consumption output)"
            )
    out = resample_consumption(consumption, freq, tz=tz, method="attribute")
    if len(consumption) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Placed(
            out, empty, pd.Index([], dtype=object), empty, empty, empty.astype(bool),
            np.zeros(2, dtype=np.int64), tz, freq, empty, np.zeros(0),
        )  # fmt: skip
    codes, devices = device_codes(consumption[DEVICE], what)
    ts = to_ns(times)
    dt_ns, first = _intervals(consumption, codes, ts, devices)
    bounds = period_boundaries(int(ts.min()), int(ts.max()), freq, tz)
    out_codes, out_devices = device_codes(out[DEVICE], what)
    remap = devices.get_indexer(out_devices)  # the same ids: identity, stated not assumed
    out_key = locate(bounds, to_ns(cast(pd.DatetimeIndex, out.index))) * len(devices)
    out_key += remap[out_codes]
    cons = consumption["consumption"].to_numpy(dtype=float, na_value=np.nan)
    return Placed(out, codes, devices, ts, dt_ns, first, bounds, tz, freq, out_key, cons)


def chunks(n: int, size: int = 2_000_000) -> Iterable[slice]:
    """Row slices of at most ``size`` rows (bounds the temporaries of per-row passes)."""
    for lo in range(0, n, size):
        yield slice(lo, min(n, lo + size))
