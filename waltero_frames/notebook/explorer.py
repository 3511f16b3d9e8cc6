"""What the explorer widget computes, as plain functions (no widgets here).

The widget in :mod:`waltero_frames.notebook.widgets` only wires pickers to these functions, so
everything it shows can be computed, tested and reused without a browser:

- :func:`search_devices` / :func:`device_options` — the searchable device picker;
- :func:`local_range` — the date pickers' dates → the UTC range they mean;
- :func:`period_range` — that range widened to whole hours/days/weeks/months;
- :func:`fetch_readings` — the one network step (``wf.telemetry`` of the register);
- :func:`consumption_per_period` — readings → consumption per local period;
- :func:`summary_table` and :func:`plot_periods` — the table and the plot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal, cast

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..analysis.consumption import readings_to_consumption
from ..analysis.resample import period_boundaries, resample_consumption
from ..api.fetch import telemetry
from ..api.parse import device_labels
from ..timeargs import Period, TzLike, check_period, check_tz, frame_tz, to_utc
from .plots import _require

__all__ = [
    "MAX_DAYS",
    "RESOLUTIONS",
    "check_resolution",
    "consumption_per_period",
    "device_options",
    "fetch_readings",
    "local_range",
    "period_range",
    "plot_periods",
    "search_devices",
    "summary_table",
]

#: The periods the explorer offers (:data:`~waltero_frames.timeargs.Period` names).
RESOLUTIONS: tuple[Period, ...] = ("hour", "day", "week", "month")

#: Longest range the explorer fetches at once (days).
MAX_DAYS = 366

#: Nominal period length in days (bar widths).
_PERIOD_DAYS = {"hour": 1 / 24, "day": 1.0, "week": 7.0, "month": 30.0}

_REGISTER_FIELDS = ["meter.value.raw", "meter.value.processed"]
_SEARCH_COLUMNS = ("name", "serial_number", "external_id")


def check_resolution(resolution: Period) -> Period:
    """Return the canonical name of an explorer resolution (one of :data:`RESOLUTIONS`).

    Aliases are accepted as everywhere (:func:`~waltero_frames.timeargs.check_period`).

    Raises
    ------
    ValueError
        Not a period name, or a period the explorer does not offer (``"year"``).

    Examples
    --------
    >>> check_resolution("D"), check_resolution("week")
    ('day', 'week')
    """
    period = check_period(resolution, "resolution")
    if period not in RESOLUTIONS:
        raise ValueError(
            f"resolution={resolution!r}: the explorer offers {', '.join(map(repr, RESOLUTIONS))}"
        )
    return period


def search_devices(devices: pd.DataFrame, query: str | None) -> pd.DataFrame:
    """Devices whose name, serial number, external id or id contain ``query``.

    Parameters
    ----------
    devices : DataFrame
        ``wf.devices`` output (index ``device_id``).
    query : str or None
        Case-insensitive substring; blank matches everything. Several words must all
        match (in any of the columns).

    Returns
    -------
    DataFrame
        The matching rows, in their original order.

    Examples
    --------
    >>> search_devices(devs, "zr-881")   # doctest: +SKIP
    """
    words = (query or "").lower().split()
    if not words:
        return devices
    haystack = pd.Series(devices.index.astype(str), index=devices.index).str.lower()
    for col in _SEARCH_COLUMNS:
        if col in devices.columns:
            haystack = haystack + "\x00" + devices[col].fillna("").astype(str).str.lower()
    keep = np.ones(len(devices), dtype=bool)
    for word in words:
        keep &= haystack.str.contains(word, regex=False).to_numpy()
    return devices[keep]


def device_options(devices: pd.DataFrame) -> list[tuple[str, str]]:
    """``(label, device_id)`` pairs for a picker: ``"label · serial · meter type"``.

    The device's ``label`` column (``wf.devices``: name, else external id, else serial
    number), computed the same way when the frame has none.

    Examples
    --------
    >>> device_options(devs)[0]   # doctest: +SKIP
    ('Kitchen cold water · ZR-88172 · water_cold', '11111111-…')
    """
    ids = devices.index.astype(str)
    name = devices["label"] if "label" in devices.columns else device_labels(devices)
    label = name.astype(object)
    for col in ("serial_number", "meter_type"):
        if col in devices.columns:
            label = label + " · " + devices[col].fillna("?").astype(str)
    return list(zip(label.tolist(), ids.tolist(), strict=True))


def local_range(
    start: dt.date | str | pd.Timestamp, end: dt.date | str | pd.Timestamp, tz: str
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Return the UTC range covered by the local days ``start`` … ``end`` (both included).

    Parameters
    ----------
    start, end : date-like
        First and last local day, as a date picker gives them.
    tz : str
        The organization's IANA time zone.

    Returns
    -------
    (Timestamp, Timestamp)
        UTC instants: local midnight of ``start`` and local midnight after ``end``
        (exclusive), so DST days are 23 or 25 hours long.

    Raises
    ------
    ValueError
        A missing or unparsable date, ``end`` before ``start``, an unknown time zone, or
        a range longer than :data:`MAX_DAYS`.

    Examples
    --------
    >>> local_range("2026-03-29", "2026-03-29", "Europe/Berlin")
    (Timestamp('2026-03-28 23:00:00+0000', tz='UTC'), Timestamp('2026-03-29 22:00:00+0000', tz='UTC'))
    """
    if start is None or end is None:
        raise ValueError(f"pick both a start and an end date (got start={start}, end={end})")
    try:
        first, last = pd.Timestamp(start), pd.Timestamp(end)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"unparsable date in start={start!r}, end={end!r}") from exc
    first, last = first.tz_localize(None).normalize(), last.tz_localize(None).normalize()
    if last < first:
        raise ValueError(f"end date {last.date()} is before start date {first.date()}")
    days = (last - first).days + 1
    if days > MAX_DAYS:
        raise ValueError(f"range of {days} days is longer than {MAX_DAYS}; pick a shorter one")
    one_day = dt.timedelta(days=1)
    return to_utc(first.date(), tz, name="start"), to_utc(last.date() + one_day, tz, name="end")


def period_range(
    start: pd.Timestamp, end: pd.Timestamp, resolution: Period, tz: TzLike
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``[start, end)`` widened to whole local periods of ``resolution``.

    A month view of one week shows that whole month: the first period starts at or
    before ``start``, the last ends at or after ``end``.

    Parameters
    ----------
    start, end : Timestamp
        UTC instants, as :func:`local_range` returns them.
    resolution : {"hour", "day", "week", "month"}
    tz : str
        The time zone of the periods (weeks start on Monday).

    Returns
    -------
    (Timestamp, Timestamp)
        UTC instants of the first period's start and the last period's end.

    Examples
    --------
    >>> lo, hi = local_range("2026-05-18", "2026-05-24", "Europe/Berlin")
    >>> period_range(lo, hi, "month", "Europe/Berlin")
    (Timestamp('2026-04-30 22:00:00+0000', tz='UTC'), Timestamp('2026-05-31 22:00:00+0000', tz='UTC'))
    """
    period = check_resolution(resolution)
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    if end <= start:
        raise ValueError(f"end {end} is not after start {start}")
    # The periods are the ones resample_consumption uses: stepped on the local wall clock
    # and placed on UTC instants, so a repeated (fall-back) hour is two periods and each
    # instant falls in the one whose UTC span holds it.
    last_ns = end.as_unit("ns").value - 1
    bounds = period_boundaries(start.as_unit("ns").value, last_ns, period, check_tz(tz))
    first = bounds[np.searchsorted(bounds, start.as_unit("ns").value, side="right") - 1]
    last = bounds[np.searchsorted(bounds, last_ns, side="right")]
    return pd.Timestamp(first, unit="ns", tz="UTC"), pd.Timestamp(last, unit="ns", tz="UTC")


def fetch_readings(
    client,
    devices: pd.DataFrame,
    device_ids: Sequence[str],
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> pd.DataFrame:
    """Return the register readings of ``device_ids`` in ``[start, end)`` (one ``wf.telemetry`` call).

    ``devices`` is a ``wf.devices(..., details=True)`` frame: it gives the multipliers, so
    no per-device detail call is made. ``ValueError`` for an id not in ``devices``.

    Examples
    --------
    >>> lo, hi = local_range("2026-05-18", "2026-05-24", "Europe/Berlin")
    >>> readings = fetch_readings(client, devs, [devs.index[0]], lo, hi)  # doctest: +SKIP
    """
    ids = [str(d) for d in device_ids]
    unknown = [d for d in ids if d not in devices.index]
    if unknown:
        raise ValueError(f"device(s) {unknown} are not in the organization's device list")
    return telemetry(client, devices.loc[ids], start, end, fields=_REGISTER_FIELDS)


def consumption_per_period(
    readings: pd.DataFrame,
    devices: pd.DataFrame,
    *,
    resolution: Period,
    tz: TzLike | None = None,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    method: Literal["interpolate", "attribute"] = "interpolate",
) -> pd.DataFrame:
    """Consumption per local period of each device (the explorer's numbers).

    Parameters
    ----------
    readings : DataFrame
        ``wf.telemetry`` output with the register.
    devices : DataFrame
        ``wf.devices(..., details=True)``: multipliers and register sizes (rollovers).
    resolution : {"hour", "day", "week", "month"}
        Local calendar periods in ``tz`` (weeks start on Monday); aliases accepted.
    tz : str or tzinfo, optional
        Default: the readings' ``attrs["tz"]``, else ``"UTC"``.
    start, end : Timestamp, optional
        Keep only periods starting in ``[start, end)`` (the readings just outside the range
        only serve as the boundary values).
    method : {"interpolate", "attribute"}
        Passed to ``wf.resample_consumption``; ``interpolate`` spreads a gap's
        consumption over the periods it spans, ``attribute`` reproduces Part 1's rule.

    Returns
    -------
    DataFrame
        ``wf.resample_consumption`` layout.

    Raises
    ------
    ValueError
        An unknown ``resolution``.
    """
    period = check_resolution(resolution)
    details = devices.reindex(pd.unique(readings["device_id"]))
    kwargs: dict[str, Any] = {}
    if "multiplier" in details.columns:
        kwargs["multiplier"] = details["multiplier"]
    if "register_digits" in details.columns:
        kwargs["register_digits"] = details["register_digits"]
    consumption = readings_to_consumption(readings, **kwargs)
    periods = resample_consumption(consumption, period, tz=tz, method=method)
    keep = np.ones(len(periods), dtype=bool)
    if start is not None:
        keep &= periods.index >= start
    if end is not None:
        keep &= periods.index < end
    return periods[keep]


def summary_table(
    periods: pd.DataFrame, devices: pd.DataFrame, *, tz: TzLike | None = None
) -> pd.DataFrame:
    """Return the explorer's table: one row per device and local period, plus a total per device.

    Returns
    -------
    DataFrame
        Columns ``device``, ``period`` (local start, text), ``consumption``, ``unit``,
        ``n_readings``, ``coverage``; the ``period`` of each device's total row is
        ``"total"``.

    Examples
    --------
    >>> summary_table(periods, devs, tz="Europe/Berlin").tail(1)  # doctest: +SKIP
    """
    _require(periods, "resampled", "summary_table")
    label = {dev: lab for lab, dev in device_options(devices)}
    unit = devices["unit"] if "unit" in devices.columns else pd.Series(dtype=object)
    local = cast(pd.DatetimeIndex, periods.index).tz_convert(frame_tz(periods, tz))
    body = pd.DataFrame(
        {
            "device": periods["device_id"].map(label).fillna(periods["device_id"]).to_numpy(),
            "period": local.strftime("%Y-%m-%d %H:%M"),
            "consumption": periods["consumption"].to_numpy(dtype=float),
            "unit": periods["device_id"].map(unit).to_numpy(),
            "n_readings": periods["n_readings"].to_numpy(),
            "coverage": periods["coverage"].to_numpy(dtype=float).round(3),
        }
    )
    totals = (
        body.groupby("device", sort=False)
        .agg(
            consumption=("consumption", lambda s: s.sum(min_count=1)),
            unit=("unit", "first"),
            n_readings=("n_readings", "sum"),
            coverage=("coverage", "mean"),
        )
        .reset_index()
        .assign(period="total")
    )
    totals["coverage"] = totals["coverage"].round(3)
    return pd.concat([body, totals[body.columns]], ignore_index=True)


def plot_periods(
    periods: pd.DataFrame,
    devices: pd.DataFrame,
    *,
    resolution: Period,
    tz: TzLike | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Bars (≤ 62 periods) or steps of each device's consumption per local period.

    Periods with less than half their duration covered by readings are drawn hatched.
    The devices must share a unit (``ValueError`` otherwise).

    Examples
    --------
    >>> plot_periods(periods, devs, resolution="day", tz="Europe/Berlin")  # doctest: +SKIP
    """
    _require(periods, "resampled", "plot_periods")
    resolution = check_resolution(resolution)
    tz = frame_tz(periods, tz)
    ids = list(pd.unique(periods["device_id"]))
    units: list[str] = []
    if "unit" in devices.columns:
        units = sorted(devices.loc[devices.index.intersection(ids), "unit"].dropna().unique())
    if len(units) > 1:
        raise ValueError(f"the selected devices have different units {units}; pick one type")
    unit = units[0] if units else "display units"
    if ax is None:
        _, ax = plt.subplots(figsize=(9.0, 3.8), layout="constrained")
    label = {dev: lab for lab, dev in device_options(devices)}
    bars_wanted = periods.index.nunique() <= 62
    width = _PERIOD_DAYS[resolution] * 0.8 / max(len(ids), 1)
    for k, dev in enumerate(ids):
        rows = periods[periods["device_id"].to_numpy() == dev]
        x = rows.index.tz_convert(tz).tz_localize(None)
        y = rows["consumption"].to_numpy(dtype=float)
        if bars_wanted:
            x = x + pd.Timedelta(days=width * k)
            bars = ax.bar(x, y, width=width, align="edge", label=label.get(dev, dev))
            for bar, cov in zip(bars, rows["coverage"].to_numpy(dtype=float), strict=True):
                if not cov >= 0.5:
                    bar.set_hatch("//")
        else:
            ax.step(x, y, where="post", label=label.get(dev, dev))
    ax.set_xlabel(f"{resolution} starting ({tz})")
    ax.set_ylabel(f"consumption per {resolution} [{unit}]")
    if ids:
        ax.legend(fontsize="small")
    ax.set_title(f"Consumption per {resolution} — {len(ids)} device(s)")
    ax.figure.autofmt_xdate()
    return ax
