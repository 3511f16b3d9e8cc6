"""Matplotlib plots of the public frames, sized for a notebook.

Every function takes one of the public frames (``daily_consumption``, ``telemetry``,
``readings_to_consumption``/``resample_consumption`` output, ``flag_anomalies`` output,
``changes``), draws on ``ax`` (a new figure when ``ax`` is None) and returns the Axes.
Every plot has a title and axis labels with units. Units come from the ``unit`` argument,
else a ``unit`` column, else a ``devices`` frame fetched with ``details=True``, else
``frame.attrs["unit"]``; mixing units in one plot raises ``ValueError``.

Nothing here touches the network and nothing loops over rows: the frames are pivoted
with pandas and drawn in one call per artist family.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..selection import DeviceSelection, device_ids
from ..timeargs import TzLike, frame_tz, to_utc

__all__ = [
    "FLAG_STYLES",
    "carpet",
    "completeness",
    "cusum",
    "daily_bars",
    "energy_signature",
    "load_duration",
    "register",
]

#: Marker style per anomaly flag (``flag_anomalies`` columns) in :func:`register`.
FLAG_STYLES: dict[str, dict] = {
    "spike": {"marker": "^", "color": "tab:red"},
    "negative": {"marker": "v", "color": "tab:purple"},
    "rollover": {"marker": "D", "color": "tab:olive"},
    "gap": {"marker": "|", "color": "tab:gray"},
    "stuck": {"marker": "s", "color": "tab:brown"},
    "night_flow": {"marker": "o", "color": "tab:cyan"},
    "low_battery": {"marker": "P", "color": "tab:orange"},
    "weak_signal": {"marker": "X", "color": "tab:pink"},
    "multiplier_mismatch": {"marker": "*", "color": "black"},
}

_FALLBACK_UNIT = "display units"
_HOUR_NS = 3_600_000_000_000
_DAY_NS = 24 * _HOUR_NS


def _new_axes(ax: Axes | None, figsize: tuple[float, float] = (9.0, 4.0)) -> Axes:
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


#: The frame layout each plot input must have: (the frames that have it, columns it needs).
_LAYOUTS: dict[str, tuple[str, list[str]]] = {
    "consumption": (
        "readings_to_consumption or resample_consumption",
        ["device_id", "consumption"],
    ),
    "periods": (
        "daily_consumption or resample_consumption",
        ["device_id", "consumption"],
    ),
    "telemetry": ("telemetry", ["device_id", "value"]),
    "resampled": (
        "resample_consumption",
        ["device_id", "consumption", "n_readings", "coverage"],
    ),
    "flags": ("flag_anomalies", ["device_id"]),
    "cusum": ("cusum", ["device_id", "cusum"]),
    "models": ("fit_baseline", ["model", "base_load", "heating_balance_point"]),
    "changes": (
        "changes",
        ["device_id", "field", "timestamp", "previous_value", "new_value"],
    ),
}


def _require(frame: pd.DataFrame, layout: str, what: str, *, time_index: bool = True) -> None:
    """Check ``frame`` has ``layout`` (see :data:`_LAYOUTS`) before ``what()`` uses it.

    A ``ValueError`` names the function, the frame it needs, the columns it lacks and the
    columns it got, so passing e.g. a telemetry frame where a consumption one is expected
    says so instead of failing later with a ``KeyError``.
    """
    name, columns = _LAYOUTS[layout]
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{what}() needs a {name} frame; got a {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what}() needs a {name} frame with columns {columns}; got columns "
            f"{list(frame.columns)} (it lacks column(s) {missing})"
        )
    if time_index and (not isinstance(frame.index, pd.DatetimeIndex) or frame.index.tz is None):
        raise ValueError(
            f"{what}() needs a {name} frame with a tz-aware DatetimeIndex (UTC); "
            f"got a {type(frame.index).__name__}"
            + (" without a time zone" if isinstance(frame.index, pd.DatetimeIndex) else "")
        )


def _unit(
    frame: pd.DataFrame,
    unit: str | None,
    devices: pd.DataFrame | None,
    device_ids: Iterable[str],
    what: str,
) -> str:
    """Return the one unit of the plotted devices (see the module docstring)."""
    if unit:
        return unit
    ids = pd.Index(pd.unique(pd.Series(list(device_ids), dtype=object)))
    units: list[str] = []
    if "unit" in frame.columns:
        units = sorted(frame.loc[frame["device_id"].isin(ids), "unit"].dropna().unique())
    elif isinstance(devices, pd.DataFrame) and "unit" in devices.columns:
        units = sorted(devices.loc[devices.index.intersection(ids), "unit"].dropna().unique())
    elif frame.attrs.get("unit"):
        units = [str(frame.attrs["unit"])]
    if len(units) > 1:
        raise ValueError(
            f"{what}: the plotted devices have different units {units}; "
            "select one meter type (or pass unit=) before plotting"
        )
    return units[0] if units else _FALLBACK_UNIT


def _select_device(frame: pd.DataFrame, device: str | None, what: str) -> pd.DataFrame:
    ids = pd.unique(frame["device_id"])
    if device is None:
        if len(ids) > 1:
            raise ValueError(
                f"{what}: the frame holds {len(ids)} devices; pass device= one of "
                f"{list(ids[:5])}{' …' if len(ids) > 5 else ''}"
            )
        return frame
    if device not in set(ids):
        raise ValueError(f"{what}: device {device!r} is not in the frame")
    return frame[frame["device_id"].to_numpy() == device]


def _label(frame: pd.DataFrame, devices: pd.DataFrame | None, device_id: str) -> str:
    """Return a short human label for a device: its ``label`` (``wf.devices``) or name, else serial, else id."""
    for source in (frame, devices):
        if not isinstance(source, pd.DataFrame):
            continue
        for col in ("device_name", "label", "name", "serial_number"):
            if col not in source.columns:
                continue
            if source is frame:
                vals = source.loc[source["device_id"].to_numpy() == device_id, col]
            else:
                vals = source.loc[source.index == device_id, col]
            vals = vals.dropna()
            vals = vals[vals.astype(str).str.len() > 0]
            if len(vals):
                return str(vals.iloc[0])
    return device_id if len(device_id) <= 12 else device_id[:8] + "…"


def _consumption_frame(consumption: pd.DataFrame, device: str | None, what: str) -> pd.DataFrame:
    _require(consumption, "consumption", what)
    if device is not None:
        consumption = _select_device(consumption, device, what)
    return consumption


# --------------------------------------------------------------------------- carpet


def carpet_matrix(consumption: pd.DataFrame, *, tz: TzLike | None = None) -> pd.DataFrame:
    """Consumption summed per local day (rows) and local hour of day (columns 0–23).

    Parameters
    ----------
    consumption : DataFrame
        UTC-indexed frame with ``device_id`` and ``consumption`` columns: the output of
        ``wf.readings_to_consumption`` (each delta sits at its reading's timestamp) or of
        ``wf.resample_consumption(..., "h")``. All its rows are summed.
    tz : str or tzinfo, optional
        IANA time zone of the local days and hours.
        Default: the frame's ``attrs["tz"]`` (set by ``wf.telemetry`` and kept by the
        analysis helpers), else ``"UTC"``; an explicit value wins.

    Returns
    -------
    DataFrame
        Index: local calendar days (naive dates, every day from the first to the last);
        columns: hours 0–23. On a spring-forward day the skipped hour is NaN; on a
        fall-back day the repeated hour holds the sum of both occurrences. A cell with no
        data is NaN.

    Examples
    --------
    >>> m = carpet_matrix(cons, tz="Europe/Berlin")  # doctest: +SKIP
    """
    _require(consumption, "consumption", "carpet_matrix")
    values = consumption["consumption"].to_numpy(dtype=float)
    seen = ~np.isnan(values)
    if not seen.any():
        return pd.DataFrame(columns=range(24), dtype=float)
    # local wall-clock nanoseconds → (day, hour) cell codes; one bincount sums every cell
    index = cast(pd.DatetimeIndex, consumption.index)
    local = index.tz_convert(frame_tz(consumption, tz)).tz_localize(None).as_unit("ns").asi8[seen]
    day = local // _DAY_NS
    first = day.min()
    code = (day - first) * 24 + (local // _HOUR_NS) % 24
    n_cells = int(code.max()) // 24 * 24 + 24
    sums = np.bincount(code, weights=values[seen], minlength=n_cells)
    counts = np.bincount(code, minlength=n_cells)
    grid = np.where(counts > 0, sums, np.nan).reshape(-1, 24)
    days = pd.date_range(pd.Timestamp(int(first) * _DAY_NS), periods=len(grid), freq="D")
    return pd.DataFrame(grid, index=days, columns=range(24))


def carpet(
    consumption: pd.DataFrame,
    *,
    device: str | None = None,
    tz: TzLike | None = None,
    unit: str | None = None,
    devices: pd.DataFrame | None = None,
    ax: Axes | None = None,
    cmap: str = "viridis",
    title: str | None = None,
) -> Axes:
    """Carpet plot (heatmap) of hourly consumption: local day × local hour.

    Parameters
    ----------
    consumption : DataFrame
        ``wf.readings_to_consumption`` output or hourly ``wf.resample_consumption`` output
        (UTC index, ``device_id``, ``consumption``).
    device : str, optional
        Plot this device only; by default all rows are summed (they must share a unit).
    tz : str or tzinfo, optional
        Time zone of the days and hours, usually the organization's. DST days are exact:
        the skipped spring-forward hour is blank, the repeated autumn hour holds both.
        Default: the frame's ``attrs["tz"]`` (set by ``wf.telemetry`` and kept by the
        analysis helpers), else ``"UTC"``; an explicit value wins.
    unit, devices : optional
        The unit of the colour scale, or a ``wf.devices(..., details=True)`` frame to
        look it up (and the device's name for the title).
    ax : Axes, optional
        Draw here instead of a new figure.

    Returns
    -------
    Axes
        With one image whose array is :func:`carpet_matrix` (masked where NaN).

    Examples
    --------
    >>> cons = wf.readings_to_consumption(readings)          # doctest: +SKIP
    >>> wf.plots.carpet(cons, device=dev, tz="Europe/Berlin")  # doctest: +SKIP
    """
    what = "carpet"
    consumption = _consumption_frame(consumption, device, what)
    tz = frame_tz(consumption, tz)
    u = _unit(consumption, unit, devices, consumption["device_id"], what)
    grid = carpet_matrix(consumption, tz=tz)
    ax = _new_axes(ax, (9.0, max(3.0, min(8.0, 0.06 * len(grid) + 2.0))))
    data = np.ma.masked_invalid(grid.to_numpy(dtype=float))
    n_days = len(grid)
    if n_days:
        first = mdates.date2num(grid.index[0])
        image = ax.imshow(
            data,
            aspect="auto",
            interpolation="nearest",
            cmap=cmap,
            origin="upper",
            extent=(0, 24, first + n_days, first),
        )
        ax.yaxis_date()
        ax.yaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
        ax.figure.colorbar(image, ax=ax, label=f"consumption per hour [{u}]")
    ax.set_xlim(0, 24)
    ax.set_xticks(range(0, 25, 3))
    ax.set_xlabel(f"hour of day ({tz})")
    ax.set_ylabel(f"day ({tz})")
    who = _label(consumption, devices, device) if device else "all meters"
    ax.set_title(title or f"Hourly consumption — {who}")
    return ax


# --------------------------------------------------------------------------- daily bars


def daily_bars(
    daily: pd.DataFrame,
    *,
    devices: DeviceSelection | None = None,
    unit: str | None = None,
    top: int = 8,
    tz: TzLike | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Draw grouped bars of consumption per period and meter (Part 1 ``daily_consumption``).

    Parameters
    ----------
    daily : DataFrame
        ``wf.daily_consumption`` output (index ``period_start``; ``device_id``,
        ``consumption``, ``partial``, optionally ``device_name``) or any frame with
        ``device_id`` and ``consumption`` on a UTC period index.
    devices : DataFrame or list of str, optional
        Which meters to draw (ids, or a ``wf.devices`` frame: with ``details=True`` it also
        gives the unit). By default the ``top`` meters by total consumption.
    unit : str, optional
        The meters' display unit; the meters drawn must share one.
    top : int
        How many meters at most when ``devices`` is None.
    tz : str or tzinfo, optional
        Time zone of the period labels. Default: the frame's ``attrs["tz"]`` (the zone a
        ``resample_consumption`` frame was cut in), else ``"UTC"`` (Part 1 periods, whose
        frames carry no zone); an explicit value wins.

    Returns
    -------
    Axes
        One bar per (period, meter) with data; partial periods are hatched.

    Examples
    --------
    >>> daily = wf.daily_consumption(client, org, "2026-05-18", "2026-05-25")  # doctest: +SKIP
    >>> wf.plots.daily_bars(daily[daily.device_id.isin(water)], unit="m3")     # doctest: +SKIP
    """
    what = "daily_bars"
    _require(daily, "periods", what)
    tz = frame_tz(daily, tz)
    if top < 1:
        raise ValueError(f"{what}: top must be >= 1, got {top}")
    ids = None if devices is None else device_ids(devices)
    if ids is None:
        totals = daily.groupby("device_id", sort=False)["consumption"].sum()
        ids = list(totals.sort_values(ascending=False, kind="stable").index[:top])
    frame = daily[daily["device_id"].isin(ids)]
    unit_source = devices if isinstance(devices, pd.DataFrame) else None
    u = _unit(frame, unit, unit_source, ids, what)
    ax = _new_axes(ax)
    periods = pd.DatetimeIndex(frame.index.unique()).sort_values()
    ids = [d for d in ids if d in set(frame["device_id"])]
    width = 0.8 / max(len(ids), 1)
    pos = pd.Series(np.arange(len(periods)), index=periods)
    partial = frame["partial"] if "partial" in frame.columns else pd.Series(False, frame.index)
    for k, dev in enumerate(ids):
        rows = frame["device_id"].to_numpy() == dev
        x = pos.loc[frame.index[rows]].to_numpy() - 0.4 + width * (k + 0.5)
        bars = ax.bar(
            x,
            frame["consumption"].to_numpy()[rows],
            width=width,
            label=_label(frame, unit_source, dev),
        )
        for bar, is_partial in zip(bars, partial.to_numpy()[rows], strict=True):
            if is_partial:
                bar.set_hatch("//")
                bar.set_alpha(0.5)
    local = periods.tz_convert(tz)
    fmt = "%Y-%m-%d" if len(local) and (local == local.normalize()).all() else "%m-%d %H:%M"
    ax.set_xticks(np.arange(len(periods)), [p.strftime(fmt) for p in local])
    ax.tick_params(axis="x", labelrotation=45 if len(periods) > 7 else 0)
    ax.set_xlabel(f"period start ({tz})")
    ax.set_ylabel(f"consumption [{u}]")
    if ids:
        ax.legend(fontsize="small", ncols=2 if len(ids) > 4 else 1)
    if partial.to_numpy().any():
        ax.annotate(
            "hatched: partial period",
            (1, 1.01),
            xycoords="axes fraction",
            ha="right",
            fontsize="small",
        )
    ax.set_title(title or f"Consumption per period — {len(ids)} meter(s)")
    return ax


# --------------------------------------------------------------------------- register


def register(
    readings: pd.DataFrame,
    *,
    device: str | None = None,
    flags: pd.DataFrame | None = None,
    changes: pd.DataFrame | None = None,
    multiplier: float | None = None,
    unit: str | None = None,
    devices: pd.DataFrame | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Cumulative register of one meter, with anomaly markers and corrections.

    Parameters
    ----------
    readings : DataFrame
        ``wf.telemetry`` layout with a ``value`` column (display units).
    device : str, optional
        Required when the frame holds several devices.
    flags : DataFrame, optional
        ``wf.flag_anomalies(readings)`` output: each flag with any hit gets its own marker
        (see :data:`FLAG_STYLES`) at the flagged readings, with its count in the legend.
    changes : DataFrame, optional
        ``wf.changes`` output: each correction of this device's register is drawn as a
        vertical segment from the previous to the new value at the reading's timestamp.
        ``meter.value.processed`` rows are used as they are; ``meter.value.raw`` rows are
        scaled by ``multiplier`` (default: the ``value``/``meter.value.raw`` ratio of the
        readings).
    unit, devices : optional
        The unit of the y axis, or a ``details=True`` devices frame to look it up.

    Returns
    -------
    Axes
        One line (the register), one marker collection per flag hit, one line collection of
        corrections.

    Examples
    --------
    >>> r = wf.telemetry(client, dev, "2026-05-01", "2026-06-01")   # doctest: +SKIP
    >>> wf.plots.register(r, flags=wf.flag_anomalies(r))            # doctest: +SKIP
    """
    what = "register"
    _require(readings, "telemetry", what)
    if flags is not None:
        _require(flags, "flags", what)
    if changes is not None:
        _require(changes, "changes", what, time_index=False)
    own = _select_device(readings, device, what)
    dev = device or (str(own["device_id"].iloc[0]) if len(own) else "")
    u = _unit(own, unit, devices, [dev], what)
    ax = _new_axes(ax)
    series = own["value"].dropna()
    ax.plot(series.index, series.to_numpy(), lw=1.0, color="tab:blue", label="register")
    if flags is not None:
        mine = flags[flags["device_id"].to_numpy() == dev]
        value = mine["value"] if "value" in mine.columns else own["value"].reindex(mine.index)
        for flag, style in FLAG_STYLES.items():
            if flag not in mine.columns:
                continue
            hit = mine[flag].fillna(False).to_numpy(dtype=bool)
            if hit.any():
                ax.scatter(
                    mine.index[hit],
                    value.to_numpy()[hit],
                    s=28,
                    zorder=3,
                    label=f"{flag} ({int(hit.sum())})",
                    **style,
                )
    if changes is not None and len(changes):
        _draw_corrections(ax, own, changes, dev, multiplier)
    ax.set_xlabel("time (UTC)")
    ax.set_ylabel(f"register [{u}]")
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")  # registers read as-is
    ax.legend(fontsize="small", loc="upper left")
    who = _label(own, devices, dev) if dev else "no data"
    ax.set_title(title or f"Register — {who}")
    ax.figure.autofmt_xdate()
    return ax


def _draw_corrections(
    ax: Axes, own: pd.DataFrame, changes: pd.DataFrame, dev: str, multiplier: float | None
) -> None:
    mine = changes[changes["device_id"].to_numpy() == dev]
    processed = mine[mine["field"] == "meter.value.processed"]
    if len(processed):
        rows, scale = processed, 1.0
    else:
        rows = mine[mine["field"] == "meter.value.raw"]
        if multiplier is None and "meter.value.raw" in own.columns:
            ratio = (own["value"] / own["meter.value.raw"]).replace([np.inf, -np.inf], np.nan)
            multiplier = float(ratio.median()) if ratio.notna().any() else 1.0
        scale = multiplier if multiplier is not None else 1.0
    if own.index.size:
        lo, hi = own.index.min(), own.index.max()
        ts = pd.DatetimeIndex(pd.to_datetime(rows["timestamp"], utc=True))
        rows = rows[(ts >= lo) & (ts <= hi)]
    if not len(rows):
        return
    ts = pd.to_datetime(rows["timestamp"], utc=True)
    old = rows["previous_value"].to_numpy(dtype=float) * scale
    new = rows["new_value"].to_numpy(dtype=float) * scale
    ax.vlines(ts, old, new, color="tab:green", lw=2, zorder=2, label=f"corrections ({len(rows)})")
    ax.scatter(ts, new, s=18, color="tab:green", marker="o", zorder=3)


# --------------------------------------------------------------------------- completeness


def completeness_matrix(
    frame: pd.DataFrame,
    *,
    devices: DeviceSelection | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Device × period share of data, in [0, 1].

    Parameters
    ----------
    frame : DataFrame
        ``wf.resample_consumption`` output (its ``coverage`` column is used) or
        ``wf.daily_consumption`` output (1 where a period has a non-null consumption, 0
        where the API had none — those rows were dropped).
    devices : DataFrame or list of str, optional
        Rows to show, in order; devices without any row appear as all zeros.
    start, end : optional
        UTC range of periods (``end`` exclusive); default ``frame.attrs`` start/end, else
        the frame's first and last period. Periods are days.

    Returns
    -------
    DataFrame
        Index ``device_id``; columns the UTC period starts.

    Examples
    --------
    >>> daily = wf.daily_consumption(client, org, "2026-05-18T22:00Z", "2026-05-25T22:00Z")  # doctest: +SKIP
    >>> completeness_matrix(daily, devices=wf.devices(client, org)).mean(axis=1)  # doctest: +SKIP
    """
    _require(frame, "periods", "completeness")
    if "coverage" in frame.columns:
        share = frame["coverage"].to_numpy(dtype=float)
    else:
        share = frame["consumption"].notna().to_numpy(dtype=float)
    grid = (
        pd.DataFrame({"device_id": frame["device_id"].to_numpy(), "p": frame.index, "s": share})
        .groupby(["device_id", "p"])["s"]
        .max()
        .unstack()
    )
    start = start if start is not None else frame.attrs.get("start")
    end = end if end is not None else frame.attrs.get("end")
    start = None if start is None else to_utc(start, name="start")
    end = None if end is None else to_utc(end, name="end")
    if "coverage" in frame.columns:
        # resample_consumption already lists every (local) period; keep its own starts.
        periods = pd.DatetimeIndex(frame.index.unique()).sort_values()
    elif start is not None and end is not None:
        periods = pd.date_range(start.floor("D"), end, freq="D", inclusive="left")
    elif len(frame):
        periods = pd.date_range(frame.index.min(), frame.index.max(), freq="D")
    else:
        periods = pd.DatetimeIndex([], tz="UTC")
    if start is not None:
        periods = periods[periods >= start.floor("D")]
    if end is not None:
        periods = periods[periods < end]
    ids = (None if devices is None else device_ids(devices)) or list(grid.index)
    return grid.reindex(index=pd.Index(ids, name="device_id"), columns=periods).fillna(0.0)


def completeness(
    frame: pd.DataFrame,
    *,
    devices: DeviceSelection | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    tz: TzLike | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Completeness heatmap: device × day share of data (green full, red empty).

    Parameters
    ----------
    frame, devices, start, end
        As in :func:`completeness_matrix`. Devices are labelled with their name when the
        frame or the ``devices`` frame has one.
    tz : str or tzinfo, optional
        Time zone of the day axis. Default: the frame's ``attrs["tz"]`` (the zone a
        ``resample_consumption`` frame was cut in), else ``"UTC"`` (Part 1 days are UTC
        days); an explicit value wins.

    Returns
    -------
    Axes
        With one image whose array is the completeness matrix.

    Examples
    --------
    >>> daily = wf.daily_consumption(client, org, "2026-11-01", "2026-12-01")  # doctest: +SKIP
    >>> wf.plots.completeness(daily, devices=wf.devices(client, org))           # doctest: +SKIP
    """
    grid = completeness_matrix(frame, devices=devices, start=start, end=end)
    tz = frame_tz(frame, tz)
    ax = _new_axes(ax, (9.0, max(3.0, min(12.0, 0.17 * len(grid) + 1.5))))
    n_dev, n_per = grid.shape
    if n_per:
        local = cast(pd.DatetimeIndex, grid.columns).tz_convert(tz).tz_localize(None)
        first = mdates.date2num(local[0])
        step = 1.0 if n_per == 1 else float(np.median(np.diff(mdates.date2num(local))))
        image = ax.imshow(
            grid.to_numpy(),
            aspect="auto",
            interpolation="nearest",
            cmap="RdYlGn",
            vmin=0.0,
            vmax=1.0,
            extent=(first, first + step * n_per, n_dev, 0),
        )
        ax.xaxis_date()
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
        ax.figure.colorbar(image, ax=ax, label="share of period with data [0–1]")
    source = devices if isinstance(devices, pd.DataFrame) else None
    labels = [_label(frame, source, d) for d in grid.index]
    ax.set_yticks(np.arange(n_dev) + 0.5, labels, fontsize=7 if n_dev > 20 else 9)
    ax.set_xlabel(f"day ({tz})")
    ax.set_ylabel("device")
    full = float(grid.to_numpy().mean()) if grid.size else float("nan")
    ax.set_title(title or f"Data completeness — {n_dev} devices, {full:.0%} overall")
    return ax


# --------------------------------------------------------------------------- load duration


def load_duration(
    consumption: pd.DataFrame,
    *,
    by_device: bool = False,
    unit: str | None = None,
    devices: pd.DataFrame | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Load duration curve: consumption per interval sorted from highest to lowest.

    Parameters
    ----------
    consumption : DataFrame
        Regular intervals per device, normally ``wf.resample_consumption(..., "h")``
        output. NaN intervals (no data) are left out.
    by_device : bool
        One curve per device instead of one for the sum of all devices per interval.
    unit, devices : optional
        The unit, or a ``details=True`` devices frame to look it up.

    Returns
    -------
    Axes
        x: share of time in % (0 = the highest interval); y: consumption per interval.

    Examples
    --------
    >>> hourly = wf.resample_consumption(cons, "h")   # doctest: +SKIP
    >>> wf.plots.load_duration(hourly, unit="kWh")    # doctest: +SKIP
    """
    what = "load_duration"
    consumption = _consumption_frame(consumption, None, what)
    u = _unit(consumption, unit, devices, consumption["device_id"], what)
    stamps = pd.DatetimeIndex(consumption.index.unique()).sort_values()
    step = pd.Series(stamps).diff().median() if len(stamps) > 1 else pd.Timedelta("1h")
    ax = _new_axes(ax)
    if by_device:
        groups = {
            _label(consumption, devices, str(d)): g
            for d, g in consumption.groupby("device_id", sort=True)["consumption"]
        }
    else:
        groups = {"all meters": consumption.groupby(level=0)["consumption"].sum(min_count=1)}
    for label, values in groups.items():
        v = np.sort(values.dropna().to_numpy(dtype=float))[::-1]
        share = 100.0 * (np.arange(v.size) + 0.5) / max(v.size, 1)
        ax.plot(share, v, lw=1.2, label=label, drawstyle="steps-mid")
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of time [%]")
    ax.set_ylabel(f"consumption per {_interval_label(step)} [{u}]")
    if len(groups) > 1:
        ax.legend(fontsize="small", ncols=2 if len(groups) > 6 else 1)
    ax.grid(alpha=0.3)
    ax.set_title(title or "Load duration curve")
    return ax


def _interval_label(step: pd.Timedelta) -> str:
    minutes = step.total_seconds() / 60
    if minutes % 1440 == 0:
        return "day" if minutes == 1440 else f"{minutes / 1440:g} days"
    if minutes % 60 == 0:
        return "hour" if minutes == 60 else f"{minutes / 60:g} h"
    return f"{minutes:g} min"


# --------------------------------------------------------------------------- weather


def energy_signature(
    daily: pd.DataFrame,
    temperature: pd.Series | pd.DataFrame,
    models: pd.DataFrame | None = None,
    *,
    device: str | None = None,
    unit: str | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Draw one meter's daily consumption against the day's mean outdoor temperature.

    Parameters
    ----------
    daily : DataFrame
        ``resample_consumption(..., "D")`` output (local days of ``attrs["tz"]``).
    temperature : Series or DataFrame
        Outdoor temperature (``wf.temperature``'s frame or any tz-aware series); each local
        day's mean is the x value (days with under 80 % of their hours are left out).
    models : DataFrame, optional
        ``wf.fit_baseline`` output: the device's change-point line is drawn over the
        points and its balance point(s) marked, with the model in the legend.
    device : str, optional
        The meter to draw (needed when ``daily`` holds several).
    unit : str, optional
        The meter's unit (else a ``unit`` column or ``attrs["unit"]``).

    Returns
    -------
    Axes
        Points: one per day with consumption; line: the fitted model; dashed verticals:
        balance points.

    Raises
    ------
    ValueError
        A frame of the wrong layout, several devices without ``device=``, an unknown device.

    Examples
    --------
    >>> models = wf.fit_baseline(daily, t)                                     # doctest: +SKIP
    >>> wf.plots.energy_signature(daily, t, models, device=heat_meter)        # doctest: +SKIP
    """
    from ..analysis.weather import _day_temperatures, _expected, _times

    what = "energy_signature"
    _require(daily, "periods", what)
    if models is not None:
        _require(models, "models", what, time_index=False)
    frame = _select_device(daily, device, what)
    dev = str(frame["device_id"].iloc[0]) if len(frame) else str(device)
    tz = frame_tz(daily)
    days = _times(frame).as_unit("ns").asi8
    temp = _day_temperatures(temperature, tz, days)
    y = frame["consumption"].to_numpy(dtype=float, na_value=np.nan)
    ok = ~np.isnan(temp) & ~np.isnan(y)
    u = _unit(frame, unit, None, [dev], what)
    ax = _new_axes(ax, (6.5, 4.5))
    ax.scatter(temp[ok], y[ok], s=9, alpha=0.5, color="tab:blue", label="days")
    if models is not None and dev in set(models.index.astype(str)):
        m = models[models.index.astype(str) == dev]
        lo, hi = (np.nanmin(temp[ok]), np.nanmax(temp[ok])) if ok.any() else (0.0, 1.0)
        grid_t = np.linspace(lo, hi, 200)
        line = _expected(m, grid_t)[0]
        row = m.iloc[0]
        label = f"{row['model']} (valid)" if row.get("valid", True) else f"{row['model']}"
        ax.plot(grid_t, line, color="tab:red", lw=2, label=label)
        for col, name in (
            ("heating_balance_point", "heating balance point"),
            ("cooling_balance_point", "cooling balance point"),
        ):
            bp = row.get(col)
            if bp is not None and not np.isnan(bp):
                ax.axvline(bp, color="tab:gray", ls="--", lw=1)
                ax.annotate(
                    f"{name} {bp:.1f} °C",
                    (bp, 1.0),
                    xycoords=("data", "axes fraction"),
                    ha="left",
                    va="top",
                    fontsize="small",
                    rotation=90,
                )
    ax.set_xlabel("daily mean outdoor temperature [°C]")
    ax.set_ylabel(f"consumption per day [{u}]")
    ax.legend(fontsize="small")
    ax.set_title(title or f"Energy signature — {_label(frame, None, dev)}")
    return ax


def cusum(
    frame: pd.DataFrame,
    *,
    devices: DeviceSelection | None = None,
    unit: str | None = None,
    tz: TzLike | None = None,
    mark: str | pd.Timestamp | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Draw the running sum of actual minus expected consumption (``wf.cusum`` output).

    Parameters
    ----------
    frame : DataFrame
        ``wf.cusum`` output (index ``period_start``; ``device_id``, ``cusum``).
    devices : DataFrame, list of str or str, optional
        The meters to draw (default: all in the frame).
    unit : str, optional
        The meters' unit (else a ``unit`` column or ``attrs["unit"]``).
    tz : str, optional
        Zone of the date axis (default ``attrs["tz"]``, else UTC).
    mark : str or Timestamp, optional
        A date to mark with a vertical line (e.g. an efficiency measure).

    Returns
    -------
    Axes
        One line per meter; a falling line means less consumption than the baseline
        expects (savings), a rising one more.

    Raises
    ------
    ValueError
        A frame of the wrong layout, meters with different units.

    Examples
    --------
    >>> c = wf.cusum(daily, wf.predict_baseline(models, t))                 # doctest: +SKIP
    >>> wf.plots.cusum(c, devices=heat_meter, mark="2026-02-01")            # doctest: +SKIP
    """
    what = "cusum"
    _require(frame, "cusum", what)
    ids = (None if devices is None else device_ids(devices)) or device_ids(frame)
    sub = frame[frame["device_id"].astype(str).isin(ids)]
    u = _unit(sub, unit, devices if isinstance(devices, pd.DataFrame) else None, ids, what)
    zone = frame_tz(frame, tz)
    ax = _new_axes(ax)
    # pandas takes an Index as the grouping key; the stubs only list labels
    wide = sub.pivot_table(index=sub.index, columns="device_id", values="cusum", sort=True)  # type: ignore[arg-type]
    local = pd.DatetimeIndex(wide.index).tz_convert(zone).tz_localize(None)
    for dev in [d for d in ids if d in wide.columns]:
        ax.plot(local, wide[dev].to_numpy(), lw=1.5, label=_label(sub, None, dev))
    ax.axhline(0, color="black", lw=0.8)
    if mark is not None:
        when = pd.Timestamp(mark)
        when = when.tz_convert(zone) if when.tz is not None else when.tz_localize(zone)
        # matplotlib converts a Timestamp on a date axis (pandas registers the converter)
        ax.axvline(when.tz_localize(None), color="tab:red", ls="--", lw=1)  # type: ignore[arg-type]
        ax.annotate(
            str(when.date()),
            (when.tz_localize(None), 1.0),
            xycoords=("data", "axes fraction"),
            ha="left",
            va="top",
            fontsize="small",
            color="tab:red",
        )
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    ax.set_xlabel(f"day ({zone})")
    ax.set_ylabel(f"CUSUM of actual − expected [{u}]")
    if len(ids) > 1:
        ax.legend(fontsize="small", ncols=2 if len(ids) > 4 else 1)
    ax.set_title(title or "CUSUM against the weather baseline")
    return ax
