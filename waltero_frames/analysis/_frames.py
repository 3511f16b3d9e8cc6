"""Shared machinery of the analysis helpers.

Ids as integer codes, (device, time) order, per-device parameters, and the
ordering/dtype conventions of the public frames.

Everything here is vectorized over all devices at once: a frame's ``device_id`` becomes
small integer codes (in sorted device-id order, so code order == id order), each row is
linked to its device's previous reading (one compiled pass over time-sorted rows, else a
stable sort), and per-device quantities are arrays indexed by code.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping
from typing import Any, cast

import numpy as np
import pandas as pd

from ..columns import RAW_FIELD

RAW = RAW_FIELD
PROCESSED = "meter.value.processed"
VALUE = "value"
DEVICE = "device_id"
TIMESTAMP = "timestamp"


def frame_times(frame: pd.DataFrame, what: str) -> pd.DatetimeIndex:
    """Return the UTC timestamps of ``frame`` (its index, or a ``timestamp`` column)."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
    if isinstance(frame.index, pd.DatetimeIndex):
        idx = frame.index
    elif TIMESTAMP in frame.columns:
        idx = pd.DatetimeIndex(frame[TIMESTAMP])
    else:
        raise ValueError(
            f"{what} needs a DatetimeIndex named 'timestamp' (or a 'timestamp' column)"
        )
    if idx.tz is None:
        raise ValueError(f"{what} timestamps must be tz-aware UTC, got naive values")
    if idx.hasnans:
        raise ValueError(f"{what} has missing (NaT) timestamps")
    return idx


def to_ns(idx: pd.DatetimeIndex) -> np.ndarray:
    """int64 nanoseconds since the epoch (UTC) of a tz-aware index."""
    idx = idx.tz_convert("UTC")
    return np.asarray(idx.asi8 if idx.unit == "ns" else idx.as_unit("ns").asi8)  # no copy


def device_codes(values: Any, what: str) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (int16 when they fit) and the sorted unique device ids (strings)."""
    if isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):
        cat = (
            cast(pd.Categorical, values.array)
            if isinstance(values, pd.Series)
            else pd.Categorical(values)
        )
        if (cat.codes < 0).any():
            raise ValueError(f"{what} has missing device_id values")
        cats = pd.Index(cat.categories.astype(str))
        if cats.is_monotonic_increasing:  # already in id order: the codes are ours
            codes = cat.codes
            uniques = pd.Index(cats.to_numpy(dtype=object), dtype=object, name=DEVICE)
        else:
            perm = np.argsort(cats.to_numpy(dtype=object), kind="stable")
            rank = np.empty(len(perm), dtype=np.int64)
            rank[perm] = np.arange(len(perm))
            codes = rank[cat.codes]
            uniques = pd.Index(cats.to_numpy(dtype=object)[perm], dtype=object, name=DEVICE)
    else:
        codes, uniques = _factorize(values)
        if (codes < 0).any():
            raise ValueError(f"{what} has missing device_id values")
        uniques = pd.Index(np.asarray(uniques, dtype=object), dtype=object, name=DEVICE)
    small = np.int16 if len(uniques) < np.iinfo(np.int16).max else np.int32
    return codes.astype(small, copy=False), uniques


def _factorize(values: Any) -> tuple[np.ndarray, Any]:
    """Factorize like ``pd.factorize(values, sort=True)``, faster for object ids.

    Hashing millions of Python strings is the slow part of factorizing an object
    column (about 150 ns a row). A column of device ids repeats a few objects (each
    device's id object, shared by its rows) more often than it holds distinct ones, so
    the rows are first factorized by object identity (their addresses: integer hashing),
    then the few distinct objects by value. Same codes and uniques as ``pd.factorize``.
    """
    if getattr(values, "dtype", None) != np.dtype(object) or len(values) < 10_000:
        return pd.factorize(values, sort=True)
    arr = np.ascontiguousarray(np.asarray(values, dtype=object))
    n = len(arr)
    # the object pointers, read in place (``arr`` stays referenced while they are used)
    addr = np.ctypeslib.as_array((ctypes.c_ssize_t * n).from_address(arr.ctypes.data))
    sample = np.linspace(0, n - 1, 2_000).astype(np.intp)
    if len(pd.unique(addr[sample])) > len(pd.unique(arr[sample])):
        return pd.factorize(arr, sort=True)  # equal ids in distinct objects: hash strings
    by_obj, objs = pd.factorize(addr)
    first = np.empty(len(objs), dtype=np.intp)
    first[by_obj[::-1]] = np.arange(n - 1, -1, -1)  # the last write wins: the first row
    codes, uniques = pd.factorize(arr[first], sort=True)
    return codes[by_obj], uniques


def device_column(codes: np.ndarray, uniques: pd.Index, like: Any, rows: Any = None) -> Any:
    """Return a device_id column for output rows: categorical in, categorical out; else strings.

    ``rows``: when the output rows are input rows (positions into ``like``, or ``slice``
    for all of them), the strings are taken from the input instead of rebuilt.
    """
    if isinstance(getattr(like, "dtype", None), pd.CategoricalDtype):
        return pd.Categorical.from_codes(codes, categories=uniques.astype(str))
    if rows is not None and like.dtype == "str":
        return like.array if isinstance(rows, slice) else like.array.take(rows)
    return str_array(codes, uniques)


def str_array(codes: np.ndarray, uniques: pd.Index) -> Any:
    """Gather ``uniques[codes]`` into a pandas ``str`` array.

    The strings are gathered in Arrow: building the array from millions of Python
    string objects costs about ten times more.
    """
    dtype = pd.api.types.pandas_dtype("str")
    if len(codes) < 10_000 or getattr(dtype, "storage", None) != "pyarrow":
        return pd.array(uniques.to_numpy(dtype=object)[codes], dtype="str")
    import pyarrow as pa  # the storage of pandas' str dtype here

    table = pa.array(uniques.to_numpy(dtype=object).astype(str), type=pa.large_string())
    taken = table.take(pa.array(codes, type=pa.int32()))
    return pd.arrays.ArrowStringArray(taken, dtype=dtype)  # type: ignore[call-arg]  # stubs lag pandas 3


def per_device(
    value: Any,
    name: str,
    frame: pd.DataFrame,
    codes: np.ndarray,
    devices: pd.Index,
    *,
    attr_keys: tuple[str, ...] = (),
) -> np.ndarray | None:
    """Return a per-device float parameter (indexed by code), or None when nothing provides it.

    Looked up in order: the argument (scalar, or mapping/Series keyed by device_id), the
    frame's column ``name`` (first non-missing value per device), ``frame.attrs`` under
    ``attr_keys`` (scalar or mapping), or a ``frame.attrs["devices"]`` frame's column.
    Devices the source does not cover get NaN.
    """
    if value is None:
        if name in frame.columns:
            col = pd.Series(np.asarray(frame[name], dtype=float))
            got = col.groupby(codes).first()
            out = np.full(len(devices), np.nan)
            out[got.index.to_numpy()] = got.to_numpy()
            return _valid(name, out, devices)
        for key in attr_keys:
            if key in frame.attrs and frame.attrs[key] is not None:
                value = frame.attrs[key]
                break
        else:
            info = frame.attrs.get("devices")
            if isinstance(info, pd.DataFrame) and name in info.columns:
                value = info[name]
            else:
                return None
    if isinstance(value, pd.DataFrame):
        raise ValueError(f"{name} must be a scalar or a mapping/Series keyed by device_id")
    if isinstance(value, Mapping | pd.Series):
        series = pd.Series(value) if not isinstance(value, pd.Series) else value
        series = pd.to_numeric(series, errors="raise").astype(float)
        series.index = series.index.astype(str)
        arr = series.reindex(devices.to_numpy(dtype=object)).to_numpy(dtype=float)
        return _valid(name, arr, devices)
    try:
        scalar = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a number or a mapping by device_id, got {value!r}"
        ) from None
    return _valid(name, np.full(len(devices), scalar), devices)


# What a known per-device parameter may be (NaN = unknown is always allowed): a zero or
# negative multiplier, or a fractional/huge register size, would give wrong numbers.
_RULES = {
    "multiplier": ("a positive number", lambda v: v > 0),
    "register_digits": (
        "a whole number of digits from 1 to 18",
        lambda v: (v >= 1) & (v <= 18) & (v == np.round(v)),
    ),
}


def _valid(name: str, values: np.ndarray, devices: pd.Index) -> np.ndarray:
    rule = _RULES.get(name)
    if rule is None:
        return values
    what, ok = rule
    with np.errstate(invalid="ignore"):
        bad = ~np.isnan(values) & ~(np.isfinite(values) & ok(values))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}={float(values[i])!r} for device {devices[i]!r}: expected {what}")
    return values


def per_device_str(
    value: Any, name: str, frame: pd.DataFrame, codes: np.ndarray, devices: pd.Index
) -> np.ndarray:
    """Like :func:`per_device` for a string attribute (e.g. ``meter_type``); '' = unknown."""
    out = np.full(len(devices), "", dtype=object)
    if value is None and name in frame.columns:
        col = pd.Series(frame[name].astype(object).to_numpy())
        got = col.groupby(codes).first()
        out[got.index.to_numpy()] = got.astype(str).to_numpy()
        return out
    if value is None:
        value = frame.attrs.get(name, frame.attrs.get(name + "s"))
        info = frame.attrs.get("devices")
        if value is None and isinstance(info, pd.DataFrame) and name in info.columns:
            value = info[name]
        if value is None:
            return out
    if isinstance(value, Mapping | pd.Series):
        series = pd.Series(value) if not isinstance(value, pd.Series) else value
        series.index = series.index.astype(str)
        got = series.reindex(devices.to_numpy(dtype=object))
        return np.where(got.isna(), "", got.astype(object)).astype(object)
    if isinstance(value, str):
        out[:] = value
        return out
    raise ValueError(f"{name} must be a string or a mapping by device_id, got {value!r}")


def missing_devices(param: np.ndarray | None, need: np.ndarray, devices: pd.Index) -> list[str]:
    """Device ids (by code mask ``need``) for which ``param`` is missing."""
    if param is None:
        return list(devices[need])
    return list(devices[need & ~np.isfinite(param)])


class Links:
    """Each row's previous reading of the same device, rows kept in input order.

    ``prev[i]`` is the row of the device's reading just before row ``i`` in time (-1 on
    its first reading); ``order`` lists rows in (device, time) order (computed on first
    use), ``starts[d]:ends[d]`` being device code ``d``'s slice of it.
    """

    def __init__(self, codes, ts, devices, prev, order, public_order, ids=None):
        self.codes, self.ts, self.devices = codes, ts, devices
        self.prev, self._order, self.public_order = prev, order, public_order
        self.ids = codes.astype(np.intp) if ids is None else ids  # codes as gather indices
        counts = np.bincount(self.ids, minlength=len(devices))
        self.ends = np.cumsum(counts)
        self.starts = self.ends - counts

    @property
    def order(self) -> np.ndarray:
        if self._order is None:  # rows are in time order: a stable sort by device
            self._order = np.argsort(self.codes, kind="stable")
        return self._order


def _prev_in_time_order(codes: np.ndarray, n_devices: int, ids=None) -> np.ndarray:
    """For rows already in time order: the previous row of the same device (-1: none).

    One pass in pandas' compiled groupby shift; falls back to a stable radix sort by
    device if that (internal) routine is unavailable.
    """
    try:
        from pandas._libs.groupby import group_shift_indexer

        prev = np.empty(len(codes), dtype=np.int64)
        group_shift_indexer(prev, codes.astype(np.intp) if ids is None else ids, n_devices, 1)
        return prev
    except (ImportError, TypeError, ValueError):  # pragma: no cover - pandas internals moved
        return _prev_from_order(np.argsort(codes, kind="stable"), codes, n_devices)


def _prev_from_order(order: np.ndarray, codes: np.ndarray, n_devices: int) -> np.ndarray:
    prev = np.empty(len(codes), dtype=np.int64)
    if len(codes):
        prev[order[1:]] = order[:-1]
        counts = np.bincount(codes, minlength=n_devices)
        starts = np.cumsum(counts) - counts
        prev[order[starts[counts > 0]]] = -1
    return prev


def make_links(codes: np.ndarray, ts: np.ndarray, devices: pd.Index) -> Links:
    """Link each row to its device's previous reading.

    One pass if rows are time-sorted, else a stable sort by time then device.
    """
    n = len(ts)
    ts_sorted = n < 2 or bool((ts[1:] >= ts[:-1]).all())
    if ts_sorted:
        public = n < 2 or bool(((ts[1:] > ts[:-1]) | (codes[1:] >= codes[:-1])).all())
        ids = codes.astype(np.intp)
        prev = _prev_in_time_order(codes, len(devices), ids)
        return Links(codes, ts, devices, prev, None, public, ids)
    by_time = np.argsort(ts, kind="stable")
    order = by_time[np.argsort(codes[by_time], kind="stable")]
    return Links(codes, ts, devices, _prev_from_order(order, codes, len(devices)), order, False)


#: A device's usual interval is the median of about this many of its intervals at most.
USUAL_SAMPLE = 256


def usual_interval_ns(
    codes: np.ndarray, gaps: np.ndarray, has_prev: np.ndarray, n_devices: int, ts: np.ndarray
) -> np.ndarray:
    """Each device's usual reading interval: the median gap between its readings (ns).

    ``ts`` are the readings' instants (int64 ns). A device with more than
    ``USUAL_SAMPLE`` intervals takes the median of a sample of one to two times that
    many: the intervals whose end instant hashes to 0 modulo 2**k. The sample
    depends on the device's own readings only, never on the other devices or the row
    order, so a frame cut into partitions of whole devices (``wf.scan_readings``) gives
    every device the usual interval of the whole frame. NaN for devices with fewer than
    two readings.
    """
    out = np.full(n_devices, np.nan)
    count = np.bincount(codes, minlength=n_devices)
    count -= np.bincount(codes[~has_prev], minlength=n_devices)  # intervals per device
    if len(count) and count.max() > USUAL_SAMPLE:
        # sample 1 in 2**k intervals (2**k <= count / USUAL_SAMPLE) by a hash of their
        # end instant (Fibonacci hashing, wrapping by design): depends on the row alone
        bits = np.floor(np.log2(np.maximum(count, 1) / USUAL_SAMPLE)).clip(0, 62)
        mask = (np.uint64(1) << bits.astype(np.uint64)) - np.uint64(1)
        key = ts.view(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        key >>= np.uint64(32)
        held = mask[count > 0]
        key &= held[0] if (held == held[0]).all() else mask[codes]  # one mask: no gather
        chosen = has_prev & (key == 0)
        del key
        got = np.bincount(codes[chosen], minlength=n_devices)
        if ((got == 0) & (count > 0)).any():  # (never seen) none chosen: take them all
            chosen |= has_prev & ((got == 0) & (count > 0))[codes]
        idx = np.flatnonzero(chosen)
    else:
        idx = np.flatnonzero(has_prev)
    if not len(idx):
        return out
    med = pd.Series(gaps[idx].astype(float)).groupby(codes[idx]).median()
    out[med.index.to_numpy()] = med.to_numpy()
    return out


def multipliers(
    frame: pd.DataFrame, value: Any, codes: np.ndarray, devices: pd.Index
) -> np.ndarray | None:
    """Each device's multiplier: argument, ``multiplier`` column, attrs, else ``value``/raw.

    The last fallback reads the multiplier back from a telemetry frame's ``value`` column
    (documented as ``meter.value.raw`` × multiplier): the first row of each device with a
    non-zero raw register, rounded to 12 significant digits.
    """
    got = per_device(
        value, "multiplier", frame, codes, devices, attr_keys=("multiplier", "multipliers")
    )
    if got is not None or VALUE not in frame.columns or RAW not in frame.columns:
        return got
    raw = frame[RAW].to_numpy(dtype=float, na_value=np.nan)
    val = frame[VALUE].to_numpy(dtype=float, na_value=np.nan)
    ok = np.isfinite(raw) & np.isfinite(val) & (raw != 0)
    ratio = pd.Series(val[ok] / raw[ok]).groupby(codes[ok]).first()
    out = np.full(len(devices), np.nan)
    out[ratio.index.to_numpy()] = np.char.mod("%.12g", ratio.to_numpy()).astype(float)
    return out


def local_wall_ns(ts: np.ndarray, tz: Any) -> np.ndarray:
    """Local wall-clock time (int64 ns, as if UTC) of UTC instants ``ts`` in ``tz``.

    UTC offsets only change at instants that are multiples of 15 minutes (true of every
    zone since 1970), so the offset is looked up per 15-minute bucket from a small
    table instead of converting every instant.
    """
    if len(ts) == 0 or tz == "UTC":
        return ts.copy()
    quarter = 15 * 60 * 10**9
    bucket = ts // quarter
    b0, b1 = int(bucket.min()), int(bucket.max())
    if b1 - b0 > 2_000_000:  # > 57 years: convert directly
        idx = pd.DatetimeIndex(ts.view("M8[ns]")).tz_localize("UTC").tz_convert(tz)
        return idx.tz_localize(None).as_unit("ns").asi8.copy()
    grid = np.arange(b0, b1 + 1, dtype=np.int64) * quarter
    local = pd.DatetimeIndex(grid.view("M8[ns]")).tz_localize("UTC").tz_convert(tz)
    offset = local.tz_localize(None).as_unit("ns").asi8 - grid
    bucket -= b0
    out = offset[bucket]
    out += ts
    return out
