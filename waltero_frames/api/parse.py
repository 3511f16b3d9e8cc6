"""JSON → tidy frames: one ``parse_*`` function per payload shape, no network.

Parsing is vectorized: each function gathers plain Python lists of column values (one
pass over the JSON the decoder already built) and lets numpy/pandas do the rest; no
per-row dicts or per-row frames. Layouts follow ``design/public-api.md``; every function
returns the same columns and dtypes for any input, empty included. Timestamps are
``datetime64[us, UTC]`` (pandas' default unit).

>>> rows = [{"deviceId": "d1", "deviceName": "Kitchen", "serialNumber": "S1",
...          "date": "2026-05-19", "consumption": 0.412},
...         {"deviceId": "d1", "deviceName": "Kitchen", "serialNumber": "S1",
...          "consumption": None}]
>>> df = parse_daily_consumption(rows, "2026-05-18T22:00Z", "2026-05-25T22:00Z")
>>> df.index[0], df["consumption"].iloc[0], bool(df["partial"].iloc[0])
(Timestamp('2026-05-19 00:00:00+0000', tz='UTC'), np.float64(0.412), False)
>>> int(df.attrs["missing_periods"]["d1"])
1
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any, NamedTuple, cast

import numpy as np
import pandas as pd

from .._attrs import for_attrs
from ..columns import (
    CHANGE_COLUMNS,
    DEFAULT_FIELDS,
    DETAIL_COLUMNS,
    DEVICE_COLUMNS,
    LABEL_SOURCES,
    RAW_FIELD,
    TEXT_FIELDS,
)
from ..contract import Answer, Tenant, Verdict, differs, ok, probe, unknown
from ..errors import UnexpectedResponse
from ..timeargs import Period, to_utc
from . import endpoints as ep

__all__ = [
    "DEFAULT_FIELDS",
    "RESOLUTIONS",
    "device_labels",
    "parse_changes",
    "parse_daily_consumption",
    "parse_devices",
    "parse_fields",
    "parse_organizations",
    "parse_telemetry",
    "telemetry_part",
]

TS_DTYPE = "datetime64[us, UTC]"
STR_DTYPE = pd.StringDtype(na_value=np.nan)  # pandas' default ``str`` dtype

# Part 1 resolution → length of its UTC calendar period (the API's ``date`` is its first day)
RESOLUTIONS: dict[Period, pd.DateOffset] = {
    "day": pd.DateOffset(days=1),
    "week": pd.DateOffset(weeks=1),
    "month": pd.DateOffset(months=1),
    "year": pd.DateOffset(years=1),
}

_DEVICE_NUMERIC = {"multiplier", "register_digits"}


# ---------------------------------------------------------------- small column helpers
def _strings(values: Sequence[Any] | np.ndarray) -> pd.arrays.ArrowStringArray | Any:
    """Return a ``str`` column; ``None``/missing → NaN; non-strings are written as text."""
    return pd.array(
        [v if isinstance(v, str) or v is None else str(v) for v in values], dtype=STR_DTYPE
    )


def _take_strings(categories: Sequence[str], codes: np.ndarray) -> Any:
    """``categories[codes]`` as a ``str`` column, built once per category (cheap ids)."""
    cats = pd.array(list(categories), dtype=STR_DTYPE)
    return cats.take(codes) if len(codes) else pd.array([], dtype=STR_DTYPE)


def _timestamps(values: Sequence[Any]) -> pd.DatetimeIndex:
    """ISO-8601 instants (``...Z`` or any offset) → UTC ``DatetimeIndex``; None → NaT."""
    try:
        out = pd.to_datetime(list(values), format="ISO8601", utc=True)
    except (ValueError, TypeError) as exc:
        raise UnexpectedResponse(f"unparsable timestamp in response: {exc}") from exc
    return pd.DatetimeIndex(out).as_unit("us")


def _numbers_or_text(values: Sequence[Any]) -> np.ndarray | Any:
    """float64 when every value is numeric/None (None → NaN); else a ``str`` column.

    Firmware versions and other text fields stay text; numbers are never parsed from strings.
    """
    # A field's values share one JSON type: look at the first non-null one instead of all.
    first = next((v for v in values if v is not None), None)
    if isinstance(first, str):
        return _strings(values)
    try:
        return np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        if any(isinstance(v, str) for v in values):  # mixed: keep every value, as text
            return _strings(values)
        raise UnexpectedResponse("non-numeric value in a numeric field") from None


def _own_type_values(values: Sequence[Any]) -> np.ndarray:
    """Changelog values, each kept as its own JSON type.

    One changelog page mixes fields (registers, voltages, firmware text), so the
    one-type-per-field rule of :func:`_numbers_or_text` does not hold there: float64 when
    every value is a number or None, else an object column holding floats and strings as
    they came (text such as firmware ``"1.8"`` is never read as a number).
    """
    values = list(values)
    if not any(isinstance(v, str) for v in values):
        try:
            return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        except (TypeError, ValueError):
            raise UnexpectedResponse("non-numeric value in a changelog value") from None
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        if v is None:
            out[i] = np.nan
        elif isinstance(v, str):
            out[i] = v
        elif isinstance(v, int | float) and not isinstance(v, bool):
            out[i] = float(v)
        else:
            raise UnexpectedResponse(f"changelog value of unexpected type: {v!r}")
    return out


def _ceil_us(value: Any, name: str) -> int:
    """Epoch microseconds of ``ceil_us(value)``: ``t_us >= that`` ⇔ ``t >= value``."""
    ts = to_utc(value, name=name)
    if ts.unit == "ns":
        return -(-ts.value // 1000)
    # coarser units are whole µs; ``.value`` (ns) would overflow past 2262
    return int(ts.as_unit("us").asm8.view("i8"))


def _column(items: Sequence[Mapping[str, Any]], key: str) -> list[Any]:
    return [item.get(key) for item in items]


def _require_list(payload: Any, what: str) -> list[Any]:
    if not isinstance(payload, list):
        raise UnexpectedResponse(
            f"{what}: expected a bare JSON array of rows (the contract's assumed shape), "
            f"got {type(payload).__name__}"
            + (f" with keys {sorted(payload)[:5]}" if isinstance(payload, dict) else "")
        )
    return payload


def _require_dicts(items: list[Any], what: str) -> list[Mapping[str, Any]]:
    if not all(isinstance(i, Mapping) for i in items):
        raise UnexpectedResponse(f"{what}: expected JSON objects in the array")
    return items


# ---------------------------------------------------------------- organizations, devices
def parse_organizations(me: Mapping[str, Any]) -> pd.DataFrame:
    """``/api/auth/me`` JSON → index ``organization_id``; columns ``name``, ``timezone``.

    Organizations come from ``accessible_organizations``; memberships listed only under
    ``user.organizations`` are added with a NaN timezone. Duplicates keep their first row.

    >>> parse_organizations({"accessible_organizations": [
    ...     {"organization_id": "o1", "name": "Demo", "timezone": "Europe/Berlin"}]}).loc["o1"].tolist()
    ['Demo', 'Europe/Berlin']
    """
    if not isinstance(me, Mapping):
        raise UnexpectedResponse("/api/auth/me: expected a JSON object")
    items = list(me.get("accessible_organizations") or [])
    user = me.get("user")
    if isinstance(user, Mapping):
        items += list(user.get("organizations") or [])
    items = _require_dicts(items, "/api/auth/me organizations")
    ids = _column(items, "organization_id")
    if any(not isinstance(i, str) for i in ids):
        raise UnexpectedResponse("/api/auth/me: an organization without organization_id")
    df = pd.DataFrame(
        {
            "name": _strings(_column(items, "name")),
            "timezone": _strings(_column(items, "timezone")),
        },
        index=pd.Index(_strings(ids), name="organization_id"),
    )
    return df[~df.index.duplicated(keep="first")]


def parse_devices(items: Sequence[Mapping[str, Any]], *, details: bool = False) -> pd.DataFrame:
    """Device objects (list pages or ``/api/devices/{id}`` ``data``) → device frame.

    Index ``device_id``; columns ``name``, ``external_id``, ``serial_number``,
    ``meter_type``, with ``details=True`` ``unit``, ``multiplier`` (float64),
    ``register_digits`` (float64), ``variant``, and last ``label`` (:func:`device_labels`).
    Rows keep the API's order; an id seen twice (offset paging over a changing list)
    keeps its first row.

    >>> parse_devices([{"id": "d1", "name": "", "external_id": "E1",
    ...                 "serial_number": "S1", "meter_type": "water_hot"}]).loc["d1", "label"]
    'E1'
    """
    items = _require_dicts(_require_list(list(items), "devices"), "devices")
    ids = _column(items, "id")
    if any(not isinstance(i, str) for i in ids):
        raise UnexpectedResponse("devices: an item without a string 'id'")
    columns = DEVICE_COLUMNS + (DETAIL_COLUMNS if details else ())
    data = {
        c: (
            _numbers_or_text(_column(items, c))
            if c in _DEVICE_NUMERIC
            else _strings(_column(items, c))
        )
        for c in columns
    }
    for c in _DEVICE_NUMERIC & set(columns):
        if not isinstance(data[c], np.ndarray):
            raise UnexpectedResponse(f"devices: non-numeric {c!r}")
    df = pd.DataFrame(data, index=pd.Index(_strings(ids), name="device_id"))
    df = df[~df.index.duplicated(keep="first")]
    df["label"] = device_labels(df)
    return df


def device_labels(devices: pd.DataFrame) -> pd.Series:
    """Return each device's display label: name, else external id, else serial number.

    Empty or blank strings count as missing, like absent values; a device with none of
    the three is labelled with its id, so every device has a label.

    Parameters
    ----------
    devices : DataFrame
        Index ``device_id``; any of the columns ``name``, ``external_id``,
        ``serial_number``.

    Returns
    -------
    Series
        ``str`` labels on the same index (empty frames included).

    Examples
    --------
    >>> devs = pd.DataFrame({"name": ["Hot", "", None], "external_id": ["E1", "E2", None],
    ...                      "serial_number": ["S1", "S2", "S3"]},
    ...                     index=pd.Index(["d1", "d2", "d3"], name="device_id"))
    >>> device_labels(devs).tolist()
    ['Hot', 'E2', 'S3']
    """
    ids = pd.Series(devices.index.astype(str), index=devices.index, dtype=STR_DTYPE)
    label: pd.Series = pd.Series(np.nan, index=devices.index, dtype=STR_DTYPE)
    for col in LABEL_SOURCES:
        if col in devices.columns:
            values = devices[col].astype(STR_DTYPE)
            given = values.str.strip().str.len().fillna(0).to_numpy() > 0
            label = label.where(label.notna().to_numpy() | ~given, values)
    return label.fillna(ids).rename("label")


def parse_fields(payloads: Iterable[tuple[str, Mapping[str, Sequence[str]]]]) -> pd.DataFrame:
    """``(device_id, /fields JSON)`` pairs → one row per (device, field).

    Columns ``device_id``, ``group``, ``field``; rows by device, then the API's order.

    >>> parse_fields([("d1", {"meter": ["meter.value.raw"], "battery": ["battery.voltage"]})])
      device_id    group            field
    0        d1    meter  meter.value.raw
    1        d1  battery  battery.voltage
    """
    dev: list[str] = []
    group: list[str] = []
    field: list[str] = []
    for device_id, groups in payloads:
        if not isinstance(groups, Mapping):
            raise UnexpectedResponse(f"/api/devices/{device_id}/fields: expected a JSON object")
        for g, names in groups.items():
            if not isinstance(names, list):
                raise UnexpectedResponse(f"/api/devices/{device_id}/fields: {g!r} is not a list")
            dev += [device_id] * len(names)
            group += [g] * len(names)
            field += names
    return pd.DataFrame(
        {"device_id": _strings(dev), "group": _strings(group), "field": _strings(field)}
    )


# ---------------------------------------------------------------- Part 1
def parse_daily_consumption(
    rows: Any,
    start: Any,
    end: Any,
    resolution: str = "day",
    *,
    external_ids: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Parse Part 1 v3 rows into the ``daily_consumption`` layout.

    Index ``period_start``; columns ``device_id``, ``device_name``, ``serial_number``,
    ``consumption``, ``partial``.

    Parameters
    ----------
    rows : list of dict
        The bare JSON array the v3 endpoint returns.
    start, end : pandas.Timestamp or str
        The requested UTC range ``[start, end)``; a period the range cuts is ``partial``.
    resolution : {"day", "week", "month", "year"}
        The requested resolution (period length from ``date``, the period's first UTC day).
    external_ids : mapping, optional
        ``device_id -> external_id``, used when ``deviceName`` is empty or missing
        (before the serial number and, last, the device id).

    Returns
    -------
    pandas.DataFrame
        Sorted by ``period_start`` then ``device_id``. Rows with null consumption cannot
        be dated: they are dropped and counted in ``attrs["missing_periods"]`` (a Series
        ``device_id -> count`` over every device in the response, zeros included).

    Raises
    ------
    UnexpectedResponse
        Not an array (e.g. the unversioned v4 shape), or a non-null consumption without a date.
    """
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution={resolution!r}: expected one of {sorted(RESOLUTIONS)}")
    rows = _require_dicts(
        _require_list(rows, "device-daily-consumption"), "device-daily-consumption"
    )
    start, end = to_utc(start, name="start"), to_utc(end, name="end")
    ids = _column(rows, "deviceId")
    if any(not isinstance(i, str) for i in ids):
        raise UnexpectedResponse("device-daily-consumption: a row without a string 'deviceId'")
    consumption = _numbers_or_text(_column(rows, "consumption"))
    if not isinstance(consumption, np.ndarray):
        raise UnexpectedResponse("device-daily-consumption: non-numeric 'consumption'")
    dates = _column(rows, "date")
    undated = np.array([d is None for d in dates], dtype=bool)
    missing = np.isnan(consumption)
    if (undated & ~missing).any():
        bad = np.flatnonzero(undated & ~missing)[0]
        raise UnexpectedResponse(
            f"device-daily-consumption: device {ids[bad]} has consumption "
            f"{consumption[bad]} without a date; refusing to guess its period"
        )
    keep = ~missing
    id_arr = np.array(ids, dtype=object)
    counted = pd.Series(missing.astype(np.int64), index=pd.Index(_strings(ids), name="device_id"))
    missing_periods = counted.groupby(level=0, sort=True).sum().rename("missing_periods")

    kept = np.flatnonzero(keep)
    try:
        period = pd.DatetimeIndex(
            pd.to_datetime([dates[i] for i in kept], format="%Y-%m-%d", utc=True),
            name="period_start",
        ).as_unit("us")
    except (ValueError, TypeError) as exc:
        raise UnexpectedResponse(
            f"device-daily-consumption: 'date' is not YYYY-MM-DD: {exc}"
        ) from None
    period_end = period + RESOLUTIONS[resolution]
    names = _device_names(
        [rows[i].get("deviceName") for i in kept],
        id_arr[kept],
        [rows[i].get("serialNumber") for i in kept],
        external_ids,
    )
    df = pd.DataFrame(
        {
            "device_id": _strings(id_arr[kept]),
            "device_name": _strings(names),
            "serial_number": _strings([rows[i].get("serialNumber") for i in kept]),
            "consumption": consumption[kept],
            "partial": np.asarray((period < start) | (period_end > end), dtype=bool),
        },
        index=period,
    )
    df = _sort_by_time_then_device(df)
    df.attrs["missing_periods"] = for_attrs(missing_periods)  # concat-safe (see _attrs)
    return df


def _device_names(
    names: Sequence[Any],
    ids: Sequence[str] | np.ndarray,
    serials: Sequence[Any],
    external_ids: Mapping[str, Any] | None,
) -> list[str]:
    """``deviceName`` or, when empty/missing, external id → serial number → device id."""
    ext = external_ids or {}

    def first(*candidates: Any) -> str:
        return next(c for c in candidates if isinstance(c, str) and c.strip())

    return [
        n if isinstance(n, str) and n.strip() else first(ext.get(i), s, i)
        for n, i, s in zip(names, ids, serials, strict=True)
    ]


def _sort_by_time_then_device(df: pd.DataFrame) -> pd.DataFrame:
    order = np.lexsort(
        (df["device_id"].to_numpy(dtype=object), cast(pd.DatetimeIndex, df.index).asi8)
    )
    return df.iloc[order]


# ---------------------------------------------------------------- Part 2 telemetry
class TelemetryPart(NamedTuple):
    """One telemetry response reduced to arrays: see :func:`telemetry_part`."""

    device_id: str
    fields: dict[str, tuple[np.ndarray, list[Any]]]  # name -> (stamps in µs, values)


def telemetry_part(device_id: str, payload: Any) -> TelemetryPart:
    """One telemetry response → its stamps (int64 µs since the epoch, UTC) and values.

    Checked like :func:`parse_telemetry` checks a payload. ``fetch.telemetry`` reduces each
    window as it arrives, so a window's decoded point dicts (~290 bytes a point) are freed
    at once instead of living until the last window is in; :func:`parse_telemetry` takes
    the parts in place of the payloads.

    >>> part = telemetry_part("d1", {"deviceId": "d1", "fields": {"battery.voltage": [
    ...     {"ts": "2026-05-01T00:00:00.000Z", "value": 3.61}]}})
    >>> part.fields["battery.voltage"][0], part.fields["battery.voltage"][1]
    (array([1777593600000000]), [3.61])
    """
    series = payload.get("fields") if isinstance(payload, Mapping) else None
    if not isinstance(series, Mapping):
        raise UnexpectedResponse(f"telemetry of {device_id}: no 'fields' object")
    if payload.get("deviceId", device_id) != device_id:
        raise UnexpectedResponse(
            f"telemetry of {device_id} answered for device {payload.get('deviceId')!r}"
        )
    ts_of, value_of = itemgetter("ts"), itemgetter("value")
    out: dict[str, tuple[np.ndarray, list[Any]]] = {}
    parsed: list[tuple[list[Any], np.ndarray]] = []  # fields of one meter share their stamps
    for name, points in series.items():
        try:
            stamps = list(map(ts_of, points))
            values = list(map(value_of, points))
        except (KeyError, TypeError) as exc:
            raise UnexpectedResponse(
                f"telemetry of {device_id}, series {name!r}: points need 'ts' and 'value' (the "
                "contract assumes one series per requested field)"
            ) from exc
        ts = next((t for s, t in parsed if s == stamps), None)
        if ts is None:
            ts = _timestamps(stamps).asi8 if stamps else np.empty(0, dtype=np.int64)
            parsed.append((stamps, ts))
        out[name] = (ts, values)
    return TelemetryPart(device_id, out)


def parse_telemetry(
    payloads: Iterable[tuple[str, Mapping[str, Any] | TelemetryPart]],
    *,
    fields: Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    multipliers: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Telemetry responses → one row per (device, timestamp).

    Parameters
    ----------
    payloads : iterable of (device_id, JSON or TelemetryPart)
        Every window of every device, in any order. Windows may overlap or repeat: a
        reading present twice lands once. A window already reduced by
        :func:`telemetry_part` is taken as it is.
    fields : sequence of str, optional
        The requested fields: each gets a column (NaN where no device returned it), in this
        order; fields returned but not requested are appended.
    start, end : Timestamp, optional
        Keep readings in ``[start, end)`` only (guards the window seams).
    multipliers : mapping, optional
        ``device_id -> multiplier``; required when ``meter.value.raw`` is among the
        columns, to compute ``value = raw × multiplier`` (``processed`` is never multiplied).

    Returns
    -------
    pandas.DataFrame
        Index ``timestamp`` (UTC, ascending, ties by ``device_id``); columns ``device_id``,
        the field columns (float64; text fields as ``str``), and ``value`` when raw is a column.
    """
    want = list(fields) if fields is not None else []
    device_ids: dict[str, int] = {}
    # per field: (device code, count) runs, stamp arrays (µs), values — across payloads
    per_field: dict[str, tuple[list[tuple[int, int]], list[np.ndarray], list[Any]]] = {
        f: ([], [], []) for f in want
    }
    for device_id, payload in payloads:
        part = payload if isinstance(payload, TelemetryPart) else telemetry_part(device_id, payload)
        if part.device_id != device_id:
            raise UnexpectedResponse(
                f"telemetry of {device_id} answered for device {part.device_id!r}"
            )
        code = device_ids.setdefault(device_id, len(device_ids))
        for name, (stamps, values) in part.fields.items():
            codes, stamp_arrays, field_values = per_field.setdefault(name, ([], [], []))
            stamp_arrays.append(stamps)
            field_values += values
            codes.append((code, len(values)))
    names = list(per_field)
    with_value = RAW_FIELD in per_field
    if with_value and multipliers is None:
        raise ValueError("multipliers are required to compute 'value' from meter.value.raw")

    sizes = np.array([len(per_field[f][2]) for f in names], dtype=np.int64)
    arrays = [a for f in names for a in per_field[f][1]]
    ts = np.concatenate(arrays).astype(np.int64, copy=False) if arrays else np.empty(0, np.int64)
    runs = [run for f in names for run in per_field[f][0]]
    dev = np.repeat(
        np.array([c for c, _ in runs], dtype=np.int64),
        np.array([n for _, n in runs], dtype=np.int64),
    )
    # rank devices by id, so sorting by (timestamp, rank) breaks ties by device_id
    sorted_ids = sorted(device_ids)
    rank_of_code = np.empty(len(device_ids), dtype=np.int64)
    rank_of_code[[device_ids[d] for d in sorted_ids]] = np.arange(len(sorted_ids))
    rank = rank_of_code[dev] if len(dev) else dev

    keep = np.ones(len(ts), dtype=bool)
    if start is not None:
        keep &= ts >= _ceil_us(start, "start")
    if end is not None:
        keep &= ts < _ceil_us(end, "end")
    pos = np.flatnonzero(keep)
    order = pos[np.lexsort((rank[pos], ts[pos]))]
    ts_s, rank_s = ts[order], rank[order]
    new_row = np.ones(len(order), dtype=bool)
    new_row[1:] = (ts_s[1:] != ts_s[:-1]) | (rank_s[1:] != rank_s[:-1])
    row_sorted = np.cumsum(new_row) - 1
    row_of = np.full(len(ts), -1, dtype=np.int64)
    row_of[order] = row_sorted
    n_rows = int(new_row.sum())
    row_rank = rank_s[new_row]

    columns: dict[str, Any] = {"device_id": _take_strings(sorted_ids, row_rank)}
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    for i, name in enumerate(names):
        lo, hi = offsets[i], offsets[i + 1]
        got = _numbers_or_text(per_field[name][2])
        if name in TEXT_FIELDS and isinstance(got, np.ndarray) and np.isnan(got).all():
            got = _strings([None] * len(got))
        rows, ok = row_of[lo:hi], keep[lo:hi]
        col: np.ndarray | pd.api.extensions.ExtensionArray
        if isinstance(got, np.ndarray):
            col = np.full(n_rows, np.nan)
            col[rows[ok]] = got[ok]
        else:
            col = pd.array(np.full(n_rows, np.nan, dtype=object), dtype=STR_DTYPE)
            col[rows[ok]] = got[ok]
        columns[name] = col
    if with_value:
        assert multipliers is not None
        missing = [d for d in sorted_ids if multipliers.get(d) is None]
        if missing:
            raise ValueError(f"no multiplier for device(s) {missing}: cannot compute 'value'")
        mult = np.array([float(multipliers[d]) for d in sorted_ids], dtype=np.float64)
        # rounded to 6 decimals like the API's processed value: drops float noise only
        columns["value"] = np.round(columns[RAW_FIELD] * mult[row_rank], 6)
    index = pd.DatetimeIndex(ts_s[new_row].astype("datetime64[us]"), name="timestamp").tz_localize(
        "UTC"
    )
    return pd.DataFrame(columns, index=index)


# ---------------------------------------------------------------- Part 3 changelog


def parse_changes(rows: Iterable[Mapping[str, Any]], *, until: Any = None) -> pd.DataFrame:
    """Changelog rows (all pages) → index ``changed_at``; one row per ``change_id``.

    Columns ``change_id``, ``device_id``, ``field``, ``timestamp`` (UTC), ``previous_value``,
    ``new_value`` (float64; text fields as ``str``), ``actor``. Sorted by (``changed_at``,
    ``change_id``), the API's order; a ``change_id`` seen twice keeps its first row;
    ``until`` (exclusive) drops changes made at or after it.
    """
    rows = _require_dicts(list(rows), "data-audit/changes")
    ids = _column(rows, "id")
    if any(not isinstance(i, str) for i in ids):
        raise UnexpectedResponse("data-audit/changes: a row without a string 'id'")
    data: dict[str, Any] = {}
    for col, key in CHANGE_COLUMNS.items():
        raw = _column(rows, key)
        if col == "timestamp":
            data[col] = _timestamps(raw).array
        elif col in ("previous_value", "new_value"):
            data[col] = _own_type_values(raw)
        else:
            data[col] = _strings(raw)
    changed_at = _timestamps(_column(rows, "changedAt")).rename("changed_at")
    df = pd.DataFrame(data, index=changed_at)
    df = df[~df["change_id"].duplicated(keep="first").to_numpy()]
    if until is not None:
        df = df[cast(pd.DatetimeIndex, df.index).asi8 < _ceil_us(until, "until")]
    stamps = cast(pd.DatetimeIndex, df.index).asi8
    order = np.lexsort((df["change_id"].to_numpy(dtype=object), stamps))
    return df.iloc[order]


# ---------------------------------------------------------------- contract probes
# What the parsers above assume of a tenant, checked by `waltero-frames doctor`.
def _recent_days(days: int) -> tuple[str, str]:
    end = pd.Timestamp.now(tz="UTC").floor("D")
    return _iso(end - pd.Timedelta(days=days)), _iso(end)


def _iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _part1(tenant: Tenant) -> Answer:
    start, end = _recent_days(2)
    path = ep.DAILY_CONSUMPTION.format(org=tenant.org)
    return tenant.get(path, {"startDate": start, "endDate": end, "resolution": "day"})


@probe("organizations", "/api/auth/me lists accessible_organizations with an IANA timezone")
def _probe_organizations(tenant: Tenant) -> Verdict:
    body = tenant.get(ep.ME).body
    orgs = body.get("accessible_organizations") if isinstance(body, Mapping) else None
    if not isinstance(orgs, list):
        return differs(
            "no accessible_organizations list",
            "wf.organizations raises UnexpectedResponse",
            handled=False,
        )
    bad = [o for o in orgs if not isinstance(o, Mapping) or not o.get("timezone")]
    if bad:
        return differs(
            f"{len(bad)} of {len(orgs)} organizations carry no timezone",
            "their timezone is NaN: pass tz= explicitly for local days",
            handled=True,
        )
    return ok(f"{len(orgs)} organizations, each with a timezone")


@probe("part1_shape", "Part 1 (v3) answers a bare JSON array of rows")
def _probe_part1_shape(tenant: Tenant) -> Verdict:
    answer = _part1(tenant)
    if answer.status != 200:
        return unknown(f"Part 1 answered HTTP {answer.status} to a 2-day request")
    body = answer.body
    if isinstance(body, list):
        return ok(f"a bare array ({len(body)} rows for 2 UTC days)")
    keys = sorted(body)[:5] if isinstance(body, Mapping) else type(body).__name__
    return differs(
        f"a JSON {type(body).__name__} with keys {keys}",
        "wf.daily_consumption raises UnexpectedResponse ('expected a bare JSON array')",
        handled=False,
    )


@probe(
    "device_name_fallback",
    "Part 1's deviceName is the device's name, else its external id ('' or absent allowed)",
)
def _probe_device_name(tenant: Tenant) -> Verdict:
    body = _part1(tenant).body
    if isinstance(body, Mapping):  # a wrapped answer is part1_shape's finding, not this one's
        body = next((v for v in body.values() if isinstance(v, list)), None)
    if not isinstance(body, list) or not body:
        return unknown("no Part 1 rows to compare")
    names = {
        d.get("id"): {d.get("name") or d.get("external_id") or "", d.get("name") or ""}
        for d in tenant.devices
    }
    odd = {
        r.get("deviceId")
        for r in body
        if isinstance(r, Mapping)
        and r.get("deviceId") in names
        and (r.get("deviceName") or "") not in names[r.get("deviceId")]
    }
    if odd:
        return differs(
            f"{len(odd)} devices' deviceName is neither their name nor their external id",
            "device_name is shown as the API gives it; wf.devices' label is the name to display",
            handled=True,
        )
    return ok(f"fallback holds for the {len(names)} devices compared")


@probe("telemetry_series", "telemetry answers one series per requested field, sorted by ts")
def _probe_telemetry(tenant: Tenant) -> Verdict:
    if not tenant.devices:
        return unknown("the organization has no device to read")
    wanted = ["meter.value.raw", "meter.value.processed"]
    start, end = _recent_days(7)
    device = tenant.devices[0]["id"]
    answer = tenant.get(
        ep.TELEMETRY.format(device=device),
        {"startDate": start, "endDate": end, "fields": ",".join(wanted)},
    )
    if answer.status != 200:
        return unknown(f"telemetry answered HTTP {answer.status} to a 7-day request")
    series = answer.body.get("fields") if isinstance(answer.body, Mapping) else None
    if not isinstance(series, Mapping):
        return differs("no 'fields' object", _TELEMETRY_UNHANDLED, handled=False)
    extra = sorted(set(series) - set(wanted))
    points = [p for s in series.values() if isinstance(s, list) for p in s]
    shaped = all(isinstance(p, Mapping) and {"ts", "value"} <= set(p) for p in points)
    if extra or not shaped:
        what = f"series {extra} not among the fields asked" if extra else "points without value"
        return differs(what, _TELEMETRY_UNHANDLED, handled=False)
    unsorted = [k for k, s in series.items() if [p["ts"] for p in s] != sorted(p["ts"] for p in s)]
    if unsorted:
        return differs(
            f"series {unsorted} not sorted by ts",
            "readings are sorted after parsing",
            handled=True,
        )
    return ok(f"{len(series)} series for {len(wanted)} fields asked, {len(points)} points")


_TELEMETRY_UNHANDLED = "wf.telemetry raises UnexpectedResponse ('one series per requested field')"
