"""A study's registered results: exact, JSON-stored encodings and the first differing cells.

``encode`` turns a frame, a series, a scalar or a dict (of those) into plain JSON data
that keeps every bit of the data: floats are written with ``repr`` (round-trips
exactly), times as integers in their unit, each column with its dtype, the index as
columns of its own. A replay encodes its value the same way and compares the two
encodings, so dtype quirks of a storage format cannot produce a false difference and
the stored results need neither pickle nor pyarrow. ``differences`` names the first
differing cells (index label and column) for the mismatch message.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["differences", "encode", "summary"]

_MAX_SHOWN = 5


def _scalar(value: Any, where: str) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)  # 'nan', 'inf': JSON-safe
    if isinstance(value, np.generic):
        return _scalar(value.item(), where)
    if isinstance(value, pd.Timestamp | pd.Timedelta | pd.Period):
        return {"type": type(value).__name__, "value": str(value)}
    if value is pd.NaT or value is pd.NA:
        return None
    raise ValueError(
        f"{where}: {type(value).__name__} values cannot be registered (frames, series, "
        "numbers, strings, booleans, timestamps and dicts or lists of them can)"
    )


def _cell(value: Any, where: str) -> Any:
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bool | int | float | str | np.generic):
        return _scalar(value, where)
    return str(value)


def _column(values: pd.Series | pd.Index, where: str) -> dict[str, Any]:
    dtype = values.dtype
    out: dict[str, Any] = {"dtype": str(dtype)}
    if (
        isinstance(dtype, pd.DatetimeTZDtype)
        or pd.api.types.is_datetime64_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
    ):  # integers in the dtype's unit
        ints, missing = values.array.asi8.tolist(), pd.isna(values).tolist()
        out["values"] = [None if m else v for v, m in zip(ints, missing, strict=True)]
    elif pd.api.types.is_float_dtype(dtype):
        out["values"] = [_scalar(float(v), where) for v in np.asarray(values, dtype="float64")]
    elif pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
        out["values"] = [None if pd.isna(v) else _scalar(v, where) for v in values.tolist()]
    else:  # strings, objects, categories, periods: their values or their text
        out["values"] = [_cell(v, where) for v in values.tolist()]
    return out


def _frame(frame: pd.DataFrame, where: str) -> dict[str, Any]:
    index = frame.index
    levels = [index.get_level_values(i) for i in range(index.nlevels)]
    return {
        "kind": "frame",
        "shape": list(frame.shape),
        "index_names": [None if n is None else str(n) for n in index.names],
        "index": [_column(level, where) for level in levels],
        "columns": [str(c) if not isinstance(c, tuple) else "|".join(map(str, c)) for c in frame],
        "data": [_column(frame.iloc[:, i], where) for i in range(frame.shape[1])],
    }


def encode(value: Any, where: str = "result") -> dict[str, Any]:
    """Encode a frame, series, scalar or dict exactly as JSON data (``where`` names it in errors).

    Raises
    ------
    ValueError
        A value (or a value inside a dict) of another type.
    """
    if isinstance(value, pd.DataFrame):
        return _frame(value, where)
    if isinstance(value, pd.Series):
        encoded = _frame(value.to_frame(name="value" if value.name is None else value.name), where)
        return {**encoded, "kind": "series"}
    if isinstance(value, Mapping):
        return {
            "kind": "dict",
            "value": {str(k): encode(v, f"{where}[{k!r}]") for k, v in value.items()},
        }
    if isinstance(value, list | tuple):
        return {"kind": "list", "value": [encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    return {"kind": "scalar", "value": _scalar(value, where)}


def summary(encoded: dict[str, Any]) -> str:
    """One line describing a stored result (``study info``)."""
    kind = encoded["kind"]
    if kind in ("frame", "series"):
        rows, cols = encoded["shape"]
        return f"{kind} {rows} x {cols}" if kind == "frame" else f"series of {rows}"
    if kind in ("dict", "list"):
        return f"{kind} of {len(encoded['value'])}"
    return f"{encoded['value']!r}"


def _readable(column: dict[str, Any], row: int) -> Any:
    value, dtype = column["values"][row], column["dtype"]
    if value is not None and dtype.startswith(("datetime64", "timedelta64")):
        unit = dtype.split("[")[1].split(",")[0].rstrip("]")
        if dtype.startswith("timedelta64"):
            return str(pd.Timedelta(value, unit=unit))
        tz = dtype.split(", ")[1].rstrip("]") if ", " in dtype else None
        return str(pd.Timestamp(value, unit=unit, tz=tz))
    return value


def _label(encoded: dict[str, Any], row: int) -> str:
    parts = [_readable(col, row) for col in encoded["index"]]
    return repr(parts[0] if len(parts) == 1 else tuple(parts))


def differences(recorded: dict[str, Any], now: dict[str, Any], where: str = "") -> list[str]:
    """List the first differences between two encodings as short sentences (empty: equal)."""
    out: list[str] = []
    _diff(recorded, now, where, out)
    return out[:_MAX_SHOWN]


def _diff(a: dict[str, Any], b: dict[str, Any], where: str, out: list[str]) -> None:
    if len(out) >= _MAX_SHOWN:
        return
    if a.get("kind") != b.get("kind"):
        out.append(f"{where or 'value'}: recorded a {a.get('kind')}, now a {b.get('kind')}")
        return
    kind = a["kind"]
    if kind == "scalar":
        if a["value"] != b["value"]:
            out.append(f"{where or 'value'}: recorded {a['value']!r}, now {b['value']!r}")
        return
    if kind in ("dict", "list"):
        ka, kb = a["value"], b["value"]
        if kind == "list":
            ka, kb = dict(enumerate(ka)), dict(enumerate(kb))
        for key in ka.keys() - kb.keys():
            out.append(f"{where}[{key!r}]: recorded, missing now")
        for key in kb.keys() - ka.keys():
            out.append(f"{where}[{key!r}]: new, not recorded")
        for key in ka.keys() & kb.keys():
            _diff(ka[key], kb[key], f"{where}[{key!r}]", out)
        return
    # frames and series
    if a["columns"] != b["columns"]:
        out.append(f"{where or 'columns'}: recorded columns {a['columns']}, now {b['columns']}")
        return
    if a["shape"] != b["shape"]:
        out.append(f"{where or 'shape'}: recorded shape {a['shape']}, now {b['shape']}")
    for what, cols_a, cols_b, names in (
        ("index", a["index"], b["index"], a["index_names"]),
        ("column", a["data"], b["data"], a["columns"]),
    ):
        for name, ca, cb in zip(names, cols_a, cols_b, strict=False):
            if ca["dtype"] != cb["dtype"]:
                out.append(
                    f"{where}{what} {name!r}: recorded dtype {ca['dtype']}, now {cb['dtype']}"
                )
            for row, (va, vb) in enumerate(zip(ca["values"], cb["values"], strict=False)):
                if va != vb:
                    out.append(
                        f"{where}row {_label(a, row)}, {what} {name!r}: recorded {va!r}, now {vb!r}"
                    )
                    break
            if len(out) >= _MAX_SHOWN:
                return
