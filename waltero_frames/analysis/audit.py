"""The data-audit changelog on telemetry frames: apply changes, diff two frames."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._attrs import for_attrs
from ..columns import CHANGE_COLUMNS as _CHANGE_API_KEYS
from ._frames import (
    DEVICE,
    RAW,
    VALUE,
    device_codes,
    frame_times,
    multipliers,
    per_device,
    to_ns,
)

CHANGE_COLUMNS = list(_CHANGE_API_KEYS)  # the changes layout, as wf.changes builds it


def _fields(frame: pd.DataFrame) -> list[str]:
    """Return the API field columns: the dotted names (``meter.value.raw``, ``battery.voltage``…)."""
    return [c for c in frame.columns if isinstance(c, str) and "." in c]


def _keys(frame: pd.DataFrame, what: str) -> pd.MultiIndex:
    times = frame_times(frame, what)
    if DEVICE not in frame.columns:
        raise ValueError(f"{what} needs a 'device_id' column")
    keys = pd.MultiIndex.from_arrays(
        [frame[DEVICE].astype(str).to_numpy(dtype=object), to_ns(times)], names=[DEVICE, "ts"]
    )
    if keys.has_duplicates:
        dup = keys[keys.duplicated()][0]
        raise ValueError(f"{what} has several rows for device {dup[0]!r} at one timestamp")
    return keys


#: Relative tolerance of the "same value" rule (see :func:`same_values`).
SAME_RTOL = 1e-9
_NUMERIC = {"floating", "integer", "mixed-integer-float", "decimal", "empty"}


def _numbers(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``arr`` as float64 (NaN where not a number) and the mask of its numbers."""
    if arr.dtype.kind in "iuf":
        out = arr.astype(np.float64)
        return out, ~np.isnan(out)
    kind = pd.api.types.infer_dtype(arr, skipna=True)
    if kind in _NUMERIC:  # numbers and missing values only: one C-speed conversion
        missing = pd.isna(arr)
        return np.where(missing, np.nan, arr).astype(np.float64), ~missing
    if kind == "string":
        return np.full(arr.shape, np.nan), np.zeros(arr.shape, dtype=bool)
    is_number = np.frompyfunc(
        lambda v: isinstance(v, int | float | np.number) and not isinstance(v, bool) and v == v,
        1,
        1,
    )(arr).astype(bool)  # a mix (a changelog page with text and numeric fields)
    out = np.full(arr.shape, np.nan)
    out[is_number] = arr[is_number].astype(np.float64)
    return out, is_number


def _array(values: Any) -> np.ndarray:
    """Return a numpy array of ``values``; lists and text arrays as objects (never '<U')."""
    arr = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
    return arr.astype(object) if arr.dtype.kind in "US" else arr


def same_values(a: Any, b: Any) -> np.ndarray:
    """Return where ``a`` and ``b`` hold the same value, elementwise: the one rule for conflicts.

    ``apply_changes`` (is ``previous_value`` what the frame held?), ``diff_readings`` and
    the mirror's change outcomes (``applied``/``current``/``conflict``) all judge with it.

    - Missing equals missing (``None``, NaN, ``pd.NA``) and nothing else.
    - Two numbers are the same when ``|a - b| <= 1e-9 × |b|`` (``SAME_RTOL``; no absolute
      tolerance): a value read back through JSON, SQLite or a multiplication differs by
      about 1e-16 relative and stays the same value; a real correction of a register or a
      voltage differs by far more than 1e-9. ``5`` and ``5.0`` are the same.
    - Anything else (text such as ``meta.firmware``) must be equal exactly; a number is
      never the same as a text, even ``1.8`` and ``"1.8"``.

    Parameters
    ----------
    a, b : array-like
        Equal-length 1-d arrays (any dtype, object arrays mixing numbers and text too).

    Returns
    -------
    numpy.ndarray
        Boolean, one per element.

    Examples
    --------
    >>> same_values([1.0, 1.0, None, "1.8", 2.0], [1.0 + 1e-12, 1.0 + 1e-6, np.nan, "1.8", "2"])
    array([ True, False,  True,  True, False])
    """
    a, b = _array(a), _array(b)
    if a.shape != b.shape:
        raise ValueError(f"same_values: shapes differ ({a.shape} and {b.shape})")
    a_na, b_na = pd.isna(a), pd.isna(b)
    af, a_num = _numbers(a)
    bf, b_num = _numbers(b)
    eq = np.zeros(a.shape, dtype=bool)
    both = a_num & b_num
    eq[both] = np.isclose(af[both], bf[both], rtol=SAME_RTOL, atol=0.0)
    other = ~a_na & ~b_na & ~a_num & ~b_num
    if other.any():
        left = pd.Series(a[other], dtype=object)
        eq[other] = left.eq(pd.Series(b[other], dtype=object)).to_numpy(dtype=bool)
    return (a_na & b_na) | eq


def _changes_frame(changes: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(changes, pd.DataFrame):
        raise ValueError(f"changes must be a DataFrame, got {type(changes).__name__}")
    need = [c for c in ("device_id", "field", "timestamp", "new_value") if c not in changes.columns]
    if need:
        raise ValueError(
            f"changes frame lacks column(s) {need} (use wf.changes() or diff_readings())"
        )
    ch = changes.copy()
    if "changed_at" not in ch.columns:
        ch["changed_at"] = ch.index if isinstance(ch.index, pd.DatetimeIndex) else pd.NaT
    ch = ch.reset_index(drop=True)
    for col in ("change_id", "previous_value", "actor"):
        if col not in ch.columns:
            ch[col] = np.nan
    ch["timestamp"] = pd.to_datetime(ch["timestamp"], utc=True)
    ch["changed_at"] = pd.to_datetime(ch["changed_at"], utc=True)
    ch["_pos"] = np.arange(len(ch))
    ch["_cid"] = ch["change_id"].astype(object).where(ch["change_id"].notna(), None)
    # the log's order: (changed_at, change_id); undated rows (a diff) keep their order, last
    return ch.sort_values(["changed_at", "_cid", "_pos"], na_position="last", kind="stable")


def apply_changes(
    readings: pd.DataFrame, changes: pd.DataFrame, *, multiplier: Any = None
) -> pd.DataFrame:
    """Apply a data-audit changelog to a telemetry frame (returns a copy).

    For every (device, field, timestamp) the last change by (``changed_at``,
    ``change_id``) wins (changes without ``changed_at``, as from :func:`diff_readings`,
    count in their given order after dated ones). A change for a reading that is not in
    the frame **adds the row** (what a mirror wants: corrections can target readings far
    outside the fetched window); a change to a field the frame lacks adds the column. A
    row left with no field value at all (every field NaN) is removed. ``value`` is
    recomputed as ``meter.value.raw`` × multiplier on rows whose raw register changed.

    Parameters
    ----------
    readings : DataFrame
        ``telemetry`` layout (index ``timestamp``, ``device_id``, field columns).
    changes : DataFrame
        ``changes`` layout (index ``changed_at``; ``change_id``, ``device_id``,
        ``field``, ``timestamp``, ``previous_value``, ``new_value``, ``actor``).
    multiplier : float or mapping by device_id, optional
        For recomputing ``value``; default as in :func:`readings_to_consumption`
        (columns, attrs, else ``value`` / raw of the frame itself).

    Returns
    -------
    DataFrame
        The corrected frame, same columns (plus any new field column), sorted by time
        then device. ``attrs["conflicts"]`` lists the changes whose ``previous_value``
        did not match the value they replaced (the frame's value for the first change of
        a reading — NaN when the frame lacks it —, the preceding change's ``new_value``
        for later ones), with that value in ``expected_previous``: the frame had
        diverged from the log. They are still applied (the log is authoritative), but
        reported, not hidden. Without a ``previous_value`` column nothing is reported.

    Raises
    ------
    ValueError
        Malformed frames, or a raw change on a device whose multiplier is unknown.

    Examples
    --------
    >>> import pandas as pd
    >>> ts = pd.DatetimeIndex(["2026-05-20T06:00Z"], name="timestamp")
    >>> r = pd.DataFrame({"device_id": "m1", "meter.value.raw": [1284567.0],
    ...                   "value": [1284.567]}, index=ts)
    >>> ch = pd.DataFrame({"change_id": ["chg_1"], "device_id": ["m1"],
    ...     "field": ["meter.value.raw"], "timestamp": ts, "previous_value": [1284567.0],
    ...     "new_value": [1234567.0], "actor": ["user"]},
    ...     index=pd.DatetimeIndex(["2026-05-25T09:13Z"], name="changed_at"))
    >>> out = apply_changes(r, ch)
    >>> out["value"].tolist(), len(out.attrs["conflicts"])
    ([1234.567], 0)
    """
    keys = _keys(readings, "readings")
    ch = _changes_frame(changes)
    out = readings.copy(deep=False)  # changed columns are replaced, never written into
    out.attrs = dict(readings.attrs)
    if len(ch) == 0:
        out.attrs["conflicts"] = for_attrs(_conflicts_empty(ch))
        return out
    ch_dev = ch["device_id"].astype(str).to_numpy(dtype=object)
    ch_ts = to_ns(pd.DatetimeIndex(ch["timestamp"]))
    ch_keys = pd.MultiIndex.from_arrays([ch_dev, ch_ts], names=[DEVICE, "ts"])
    pos = keys.get_indexer(ch_keys)

    # new readings become rows (all fields NaN until their changes land)
    new_keys = ch_keys[pos < 0].unique()
    if len(new_keys):
        add = pd.DataFrame(
            {DEVICE: new_keys.get_level_values(0)},
            index=pd.DatetimeIndex(
                pd.to_datetime(new_keys.get_level_values(1), unit="ns", utc=True), name="timestamp"
            ).as_unit(frame_times(readings, "readings").unit),
        )
        out = pd.concat([out, add])
        out[DEVICE] = out[DEVICE].astype(readings[DEVICE].dtype if len(readings) else "str")
        keys = keys.append(new_keys)
        pos = keys.get_indexer(ch_keys)
    for field in ch["field"].astype(str).unique():
        if field not in out.columns:
            out[field] = np.nan

    # the value each change replaced: the frame's for the first change of a reading,
    # the previous change's new_value for the next ones
    field_arr = ch["field"].astype(str).to_numpy(dtype=object)
    group = pd.MultiIndex.from_arrays([field_arr, pos]).factorize()[0]
    new_vals = ch["new_value"].to_numpy(dtype=object)
    expected = np.empty(len(ch), dtype=object)
    first_of_group = ~pd.Series(group).duplicated().to_numpy()
    for field in np.unique(field_arr):
        sel = field_arr == field
        expected[sel] = out[field].to_numpy()[pos[sel]].astype(object)
    prev_in_group = pd.Series(new_vals).groupby(group).shift(1).to_numpy(dtype=object)
    expected[~first_of_group] = prev_in_group[~first_of_group]
    previous = ch["previous_value"].to_numpy(dtype=object)
    conflict = ~same_values(previous, expected)
    if "previous_value" not in changes.columns:  # the log does not say: nothing to check
        conflict[:] = False

    last = ~pd.Series(group).duplicated(keep="last").to_numpy()
    raw_changed = np.zeros(len(out), dtype=bool)
    for field in np.unique(field_arr):
        sel = last & (field_arr == field)
        col = out[field].to_numpy(copy=True)
        vals = new_vals[sel]
        if col.dtype.kind == "f":
            vals = pd.to_numeric(pd.Series(vals), errors="coerce").to_numpy(dtype=float)
        elif col.dtype.kind in "iub":
            col = col.astype(float)
            vals = pd.to_numeric(pd.Series(vals), errors="coerce").to_numpy(dtype=float)
        else:
            col = col.astype(object)
        col[pos[sel]] = vals
        out[field] = col
        if field == RAW:
            raw_changed[pos[sel]] = True

    if VALUE in out.columns and raw_changed.any():
        codes, devices = device_codes(out[DEVICE], "readings")
        if multiplier is not None:
            given = per_device(multiplier, "multiplier", out, codes, devices)
            assert given is not None  # an explicit multiplier always provides one
            mult = given
        else:
            r_codes, r_devices = device_codes(readings[DEVICE], "readings")
            got = multipliers(readings, None, r_codes, r_devices) if len(readings) else None
            mult = np.full(len(devices), np.nan)
            if got is not None:
                mult = pd.Series(got, index=r_devices).reindex(devices).to_numpy(dtype=float)
        m_row = mult[codes]
        unknown = raw_changed & ~np.isfinite(m_row)
        if unknown.any():
            bad = sorted(set(out[DEVICE].astype(str).to_numpy()[unknown]))
            absent = sorted(set(bad) - set(readings[DEVICE].astype(str)))
            hint = (
                f"; {len(absent)} of them are not in readings at all (an organization's "
                "changelog?): keep your devices' changes, "
                "changes[changes['device_id'].isin(readings['device_id'])], "
                "or pass multiplier= to add their rows"
                if absent
                else ""
            )
            raise ValueError(
                f"no multiplier to recompute 'value' for device(s) {bad[:5]}; pass multiplier="
                + hint
            )
        value = out[VALUE].to_numpy(dtype=float, copy=True)
        raw = out[RAW].to_numpy(dtype=float, na_value=np.nan)
        value[raw_changed] = np.round(raw[raw_changed] * m_row[raw_changed], 6)
        out[VALUE] = value

    fields = _fields(out)
    if fields:  # readings the changes emptied of every field are gone
        touched = np.zeros(len(out), dtype=bool)
        touched[pos] = True
        empty = touched & out[fields].isna().all(axis=1).to_numpy()
        out = out[~empty]
    times = to_ns(frame_times(out, "readings"))
    codes, _ = device_codes(out[DEVICE], "readings") if len(out) else (np.zeros(0, int), None)
    order = np.lexsort((codes, times))
    out = out.iloc[order]
    out.index.name = "timestamp"
    conflicts = ch.loc[conflict, [c for c in CHANGE_COLUMNS if c in ch.columns] + ["changed_at"]]
    conflicts = conflicts.assign(expected_previous=expected[conflict]).set_index("changed_at")
    out.attrs["conflicts"] = for_attrs(conflicts)  # concat-safe (see waltero_frames._attrs)
    return out


def _conflicts_empty(ch: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in CHANGE_COLUMNS if c in ch.columns]
    return ch.iloc[:0][cols + ["changed_at"]].assign(expected_previous=[]).set_index("changed_at")


def diff_readings(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Return the changes that turn telemetry frame ``old`` into ``new``.

    Readings are matched on (``device_id``, ``timestamp``); every API field column
    (dotted name) of either frame is compared, NaN equal to NaN. A reading only in
    ``new`` gives changes from NaN, one only in ``old`` changes to NaN. ``value`` is
    derived, not diffed (:func:`apply_changes` recomputes it).

    Parameters
    ----------
    old, new : DataFrame
        ``telemetry`` frames.

    Returns
    -------
    DataFrame
        ``changes`` layout: index ``changed_at`` (NaT), columns ``change_id`` (NaN),
        ``device_id``, ``field``, ``timestamp``, ``previous_value``, ``new_value``
        (float64 when every diffed field is numeric, else object), ``actor`` (NaN);
        ordered by (timestamp, device_id, field). ``apply_changes(old, diff)`` equals
        ``new``.

    Raises
    ------
    ValueError
        A malformed frame, or one with several rows for a device at one timestamp.

    Examples
    --------
    >>> import pandas as pd
    >>> ts = pd.DatetimeIndex(["2026-01-01T00:00Z"], name="timestamp")
    >>> a = pd.DataFrame({"device_id": "m1", "meter.value.raw": [5.0]}, index=ts)
    >>> b = a.assign(**{"meter.value.raw": [7.0]})
    >>> diff_readings(a, b)[["field", "previous_value", "new_value"]].values.tolist()
    [['meter.value.raw', 5.0, 7.0]]
    """
    k_old, k_new = _keys(old, "old"), _keys(new, "new")
    fields = list(dict.fromkeys(_fields(old) + _fields(new)))
    union = k_old.union(k_new, sort=False)
    i_old, i_new = k_old.get_indexer(union), k_new.get_indexer(union)
    parts = []
    numeric = True
    for field in fields:
        a = _take(old, field, i_old)
        b = _take(new, field, i_new)
        numeric &= a.dtype.kind in "fiub" and b.dtype.kind in "fiub"
        diff = ~same_values(a, b)
        if diff.any():
            parts.append((field, np.flatnonzero(diff), a[diff], b[diff]))
    rows = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    field_col = (
        np.concatenate([np.full(len(p[1]), p[0], dtype=object) for p in parts])
        if parts
        else np.zeros(0, dtype=object)
    )
    dtype = float if numeric else object
    prev = (
        np.concatenate([p[2].astype(dtype) for p in parts]) if parts else np.zeros(0, dtype=dtype)
    )
    nxt = np.concatenate([p[3].astype(dtype) for p in parts]) if parts else np.zeros(0, dtype=dtype)
    dev = union.get_level_values(0).to_numpy(dtype=object)[rows]
    ts = union.get_level_values(1).to_numpy(dtype=np.int64)[rows]
    out = pd.DataFrame(
        {
            "change_id": np.full(len(rows), np.nan, dtype=object),
            "device_id": pd.array(dev, dtype="str"),
            "field": pd.array(field_col, dtype="str"),
            "timestamp": pd.to_datetime(ts, unit="ns", utc=True),
            "previous_value": prev,
            "new_value": nxt,
            "actor": np.full(len(rows), np.nan, dtype=object),
        },
        index=pd.DatetimeIndex(
            np.full(len(rows), np.datetime64("NaT"), dtype="datetime64[ns]"),
            tz="UTC",
            name="changed_at",
        ),
    )
    order = np.lexsort((field_col.astype(str), dev.astype(str), ts))
    return out.iloc[order]


def _take(frame: pd.DataFrame, field: str, idx: np.ndarray) -> np.ndarray:
    """Column ``field`` of ``frame`` at positions ``idx`` (-1 or a missing column: NaN)."""
    if field not in frame.columns:
        return np.full(len(idx), np.nan)
    col = frame[field].to_numpy()
    if col.dtype.kind in "iub":
        col = col.astype(float)
    if col.dtype.kind != "f":
        col = col.astype(object)
    out = col[np.maximum(idx, 0)] if len(col) else np.full(len(idx), np.nan, dtype=col.dtype)
    if (idx < 0).any():
        out = out.astype(object) if out.dtype == object else out.copy()
        out[idx < 0] = np.nan
    return out
