"""Readings between the telemetry layout and the store's long rows (codes, epoch ms).

``to_long``: one device's ``wf.telemetry`` frame → field codes, times, values.
``to_wide``: the store's long rows → the public ``telemetry`` layout (index ``timestamp``
UTC, ties by ``device_id``; field columns; ``value`` = raw × multiplier, 6 decimals).
Both are vectorized over the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["FIRST_FIELDS", "RAW", "device_ids", "to_long", "to_wide"]

RAW = "meter.value.raw"
#: Column order of the field columns: these first, then the others by name.
FIRST_FIELDS = ("meter.value.raw", "meter.value.processed", "battery.voltage", "connection.rssi")


def to_long(frame: pd.DataFrame, field_code: dict[str, int]) -> tuple[np.ndarray, ...]:
    """A telemetry frame (one device) → parallel arrays field code, ts ms, value."""
    cols = [c for c in frame.columns if c not in ("device_id", "value")]
    ts = np.asarray(frame.index.as_unit("ms").asi8, dtype=np.int64) if len(frame) else None
    f_parts, t_parts, v_parts = [], [], []
    for col in cols:
        values = frame[col]
        ok = values.notna().to_numpy()
        if not ok.any():
            continue
        f_parts.append(np.full(int(ok.sum()), field_code[col], dtype=np.int64))
        t_parts.append(ts[ok])
        v_parts.append(values.to_numpy(dtype=object)[ok])
    if not f_parts:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0, dtype=object)
    return np.concatenate(f_parts), np.concatenate(t_parts), np.concatenate(v_parts)


def device_ids(devices: Any) -> list[str]:
    if isinstance(devices, str):
        return [devices]
    if isinstance(devices, pd.DataFrame):
        return [str(d) for d in devices.index]
    if isinstance(devices, Sequence | pd.Index | pd.Series | np.ndarray):
        ids = [str(d) for d in devices]
        if not ids:
            raise ValueError("devices: an empty list")
        return ids
    raise ValueError(f"devices={devices!r}: expected an id, a list of ids or a devices frame")


def to_wide(
    long: pd.DataFrame, held: pd.DataFrame | None, field_names: dict[int, str]
) -> pd.DataFrame:
    """Long readings (codes) → the telemetry layout."""
    if long.empty:
        names = ["meter.value.raw", "meter.value.processed"]
        frame = pd.DataFrame(
            {
                "device_id": pd.Series([], dtype="str"),
                **{n: pd.Series([], dtype="float64") for n in names},
                "value": pd.Series([], dtype="float64"),
            },
            index=pd.DatetimeIndex([], tz="UTC", name="timestamp").as_unit("us"),
        )
        return frame
    dev = long["device"].to_numpy(dtype=np.int64)
    fld = long["field"].to_numpy(dtype=np.int64)
    ts = long["ts"].to_numpy(dtype=np.int64)
    values = long["value"].to_numpy(dtype=object)
    # Rows are (timestamp, device) pairs ordered by time, then device id (the API's order).
    codes = held["device"].to_numpy(dtype=np.int64)
    ids = held.index.to_numpy(dtype=object)
    by_id = np.argsort(ids.astype(str), kind="stable")
    rank_of = np.zeros(int(codes.max()) + 1, dtype=np.int64)
    rank_of[codes[by_id]] = np.arange(len(codes))
    rank = rank_of[dev]
    order = np.lexsort((rank, ts))
    ts_s, rank_s = ts[order], rank[order]
    new_row = np.ones(len(order), dtype=bool)
    new_row[1:] = (ts_s[1:] != ts_s[:-1]) | (rank_s[1:] != rank_s[:-1])
    row = np.empty(len(order), dtype=np.int64)
    row[order] = np.cumsum(new_row) - 1
    n_rows = int(new_row.sum())
    row_rank = rank_s[new_row]
    names = {c: field_names[c] for c in np.unique(fld).tolist()}
    ordered = sorted(
        names,
        key=lambda c: (
            FIRST_FIELDS.index(names[c]) if names[c] in FIRST_FIELDS else len(FIRST_FIELDS),
            names[c],
        ),
    )
    columns: dict[str, Any] = {"device_id": pd.array(ids[by_id][row_rank], dtype="str")}
    for code in ordered:
        mask = fld == code
        got = values[mask]
        if isinstance(got[0], str):  # a field's values share one type: text stays text
            col = np.full(n_rows, np.nan, dtype=object)
            col[row[mask]] = got
            columns[names[code]] = pd.array(col, dtype="str")
        else:
            col = np.full(n_rows, np.nan)
            col[row[mask]] = got.astype(np.float64)
            columns[names[code]] = col
    if RAW in columns:
        mult = held["multiplier"].to_numpy(dtype=np.float64)[by_id][row_rank]
        columns["value"] = np.round(columns[RAW] * mult, 6)
    stamps = ts_s[new_row].astype("datetime64[ms]").astype("datetime64[us]")
    index = pd.DatetimeIndex(stamps, name="timestamp").tz_localize("UTC")
    return pd.DataFrame(columns, index=index)
