"""Readings between the telemetry layout and the store's long rows (codes, epoch ms).

``to_long``: one device's ``wf.telemetry`` frame → field codes, times, values.
``to_wide``: the store's long rows → the public ``telemetry`` layout (index ``timestamp``
UTC, ties by ``device_id``; field columns; ``value`` = raw × multiplier, 6 decimals).
Both are vectorized over the rows.

``columns``: the field columns of a ``Mirror.readings`` frame — one rule for every input,
empty results included (public-api.md: an empty result has the same columns and dtypes).
Without ``fields``: the contract's field catalog (``CATALOG``, every field a known variant
reports, in a fixed order), then any other field the selected devices declare or the
mirror holds, by name. With ``fields``: exactly those, in that order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import pandas as pd

from ..columns import FIELD_CATALOG, RAW_FIELD, TEXT_FIELDS

__all__ = ["CATALOG", "RAW", "columns", "to_long", "to_wide"]

RAW = RAW_FIELD
#: Every field of the contract's ``/fields`` groups, in column order.
CATALOG = FIELD_CATALOG


def columns(fields: Sequence[str] | None, declared: Sequence[str] = ()) -> list[str]:
    """Return the field columns of a readings frame.

    ``fields`` given: exactly those (already validated), in that order. Otherwise
    ``CATALOG`` followed by the ``declared`` names outside it, sorted (a variant the
    contract does not list keeps its fields).

    >>> columns(None, ["meter.value.raw", "meta.humidity"])[-2:]
    ['meta.temperature', 'meta.humidity']
    >>> columns(["battery.voltage"])
    ['battery.voltage']
    """
    if fields is not None:
        return list(fields)
    return [*CATALOG, *sorted(set(declared) - set(CATALOG))]


def to_long(frame: pd.DataFrame, field_code: dict[str, int]) -> tuple[np.ndarray, ...]:
    """Return a telemetry frame (one device) → parallel arrays field code, ts ms, value."""
    cols = [c for c in frame.columns if c not in ("device_id", "value")]
    index = cast(pd.DatetimeIndex, frame.index)
    ts = (
        np.asarray(index.as_unit("ms").asi8, dtype=np.int64)
        if len(frame)
        else np.empty(0, np.int64)
    )
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


def to_wide(
    long: pd.DataFrame,
    held: pd.DataFrame | None,
    field_names: dict[int, str],
    fields: Sequence[str],
) -> pd.DataFrame:
    """Turn long readings (codes) into the telemetry layout.

    Exactly the field columns ``fields`` (in that order; NaN where nothing is held) and ``value`` when
    ``meter.value.raw`` is one of them. Rows whose fields are all outside ``fields`` are
    not rows of the frame.
    """
    wanted = {name: k for k, name in enumerate(fields)}
    code_of = {c: n for c, n in field_names.items() if n in wanted}
    if len(long):
        keep = np.isin(long["field"].to_numpy(dtype=np.int64), np.fromiter(code_of, np.int64))
        long = long.loc[keep]
    n_rows = 0
    if len(long):
        dev = long["device"].to_numpy(dtype=np.int64)
        fld = long["field"].to_numpy(dtype=np.int64)
        ts = long["ts"].to_numpy(dtype=np.int64)
        values = long["value"].to_numpy(dtype=object)
        # Rows are (timestamp, device) pairs ordered by time, then device id (the API's order).
        assert held is not None
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
        device_col = pd.array(ids[by_id][row_rank], dtype="str")
        stamps = ts_s[new_row].astype("datetime64[ms]").astype("datetime64[us]")
    else:
        device_col = pd.array([], dtype="str")
        stamps = np.empty(0, dtype="datetime64[us]")
    out: dict[str, Any] = {"device_id": device_col}
    held_codes = {n: c for c, n in code_of.items()}
    for name in fields:
        code = held_codes.get(name)
        got = values[fld == code] if n_rows and code is not None else np.empty(0, dtype=object)
        text = name in TEXT_FIELDS or (len(got) > 0 and isinstance(got[0], str))
        if text:  # a field's values share one type: text stays text, even when empty
            col = np.full(n_rows, np.nan, dtype=object)
            if len(got):
                col[row[fld == code]] = got
            out[name] = pd.array(col, dtype="str")
        else:
            col = np.full(n_rows, np.nan)
            if len(got):
                col[row[fld == code]] = got.astype(np.float64)
            out[name] = col
    if RAW in wanted:
        mult = (
            held["multiplier"].to_numpy(dtype=np.float64)[by_id][row_rank]
            if n_rows and held is not None
            else np.empty(0)
        )
        out["value"] = np.round(out[RAW] * mult, 6)
    index = pd.DatetimeIndex(stamps, name="timestamp").tz_localize("UTC")
    return pd.DataFrame(out, index=index)
