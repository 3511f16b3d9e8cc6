"""The World's telemetry windows as a frame in the public `telemetry` layout."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .generate import RAW

TEXT_FIELDS = frozenset({"meta.firmware"})


def telemetry_frame(windows: dict, multipliers: dict, fields: tuple) -> pd.DataFrame:
    """Merge per-field series into one row per (device, timestamp).

    Parameters
    ----------
    windows : dict
        ``device_id -> {field: (ts_ms, values)}`` for the fields each device supports.
    multipliers : dict
        ``device_id -> multiplier``, for ``value = round(raw * multiplier, 6)``.
    fields : tuple
        The requested fields, in column order.

    Returns
    -------
    pandas.DataFrame
        Index ``timestamp`` (UTC), sorted by (timestamp, device_id); columns
        ``device_id``, each requested field some device returned (float64, text fields
        object) and ``value`` when ``meter.value.raw`` was requested.
    """
    present = {f for got in windows.values() for f in got}
    columns = ["device_id", *[f for f in fields if f in present]]
    columns += ["value"] if RAW in fields else []
    stamps_all: list[np.ndarray] = []
    parts: dict[str, list[np.ndarray]] = {c: [] for c in columns}
    for dev, got in windows.items():
        stamps = np.unique(np.concatenate([t for t, _ in got.values()] or [np.array([], "i8")]))
        stamps = stamps.astype(np.int64)
        stamps_all.append(stamps)
        parts["device_id"].append(np.full(stamps.size, dev, dtype=object))
        for f in columns[1:]:
            if f == "value":
                raw = _aligned(stamps, got.get(RAW), float)
                parts[f].append(np.round(raw * multipliers[dev], 6))
            else:
                parts[f].append(_aligned(stamps, got.get(f), object if f in TEXT_FIELDS else float))
    stamps = np.concatenate(stamps_all) if stamps_all else np.array([], dtype=np.int64)
    data = {c: (np.concatenate(v) if v else np.array([], dtype=object)) for c, v in parts.items()}
    frame = pd.DataFrame(data, columns=columns)
    frame["device_id"] = frame["device_id"].astype(str)
    for col in columns[1:]:
        if col not in TEXT_FIELDS:
            frame[col] = frame[col].astype(float)
    frame.index = pd.DatetimeIndex(pd.to_datetime(stamps, unit="ms", utc=True), name="timestamp")
    order = np.lexsort((frame["device_id"].to_numpy(), stamps))
    return frame.iloc[order]


def _aligned(stamps: np.ndarray, series, dtype) -> np.ndarray:
    """Values of ``series`` placed on ``stamps`` (NaN/None where it has no reading)."""
    col = np.full(stamps.size, None if dtype is object else np.nan, dtype=dtype)
    if series is not None:
        ts, values = series
        col[np.searchsorted(stamps, ts)] = values
    return col
