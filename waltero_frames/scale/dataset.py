"""The readings dataset: telemetry frames as Parquet, bucketed by device, then by time.

Layout under the dataset folder (``docs/scale.md``)::

    _readings.json                          format, version, bucket count, field
                                            columns, and per device: org_id, bucket,
                                            tz, meter_type, unit, multiplier,
                                            register_digits
    org=<org id>/bucket=<0000>/part-<token>.parquet

A device's bucket is a fixed hash of its id (``bucket_of``), so its whole history sits
in one folder of one organization; each bucket holds one file whose rows are sorted by
``device_id`` then ``timestamp`` (row groups carry min/max statistics, so reading one
device skips the others' row groups). Columns: ``timestamp`` (UTC, microseconds),
``device_id``, the field columns (float64; ``meta.firmware`` text) and ``value``
(``meter.value.raw`` × multiplier, 6 decimals) — the telemetry layout with its index
as a column. DuckDB, Polars, Spark and ``pyarrow.dataset`` read the folder as a hive
partitioned dataset (``org`` and ``bucket`` columns).

Writing merges into a bucket: the rows of the written devices replace stored rows with
the same (device, timestamp) and add the others, so writing month after month builds
the history, and writing the same frame twice changes nothing. Memory is bounded by one
bucket plus the frame written (the mirror's export writes one bucket at a time).
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from .._attrs import for_attrs
from ..analysis._frames import (
    DEVICE,
    RAW,
    VALUE,
    device_codes,
    frame_times,
    multipliers,
    per_device,
    per_device_str,
)
from ..api.parse import STR_DTYPE
from ..columns import INFO_COLUMNS, TEXT_FIELDS
from ..selection import device_ids
from ..timeargs import frame_tz, to_utc

__all__ = ["Dataset", "bucket_of", "scan_readings", "write_readings"]

FORMAT = "waltero_frames.readings"
VERSION = 1
META = "_readings.json"
#: Rows per Parquet row group (the unit a device filter can skip).
ROW_GROUP = 128_000
#: A new dataset gets about this many devices per bucket (a power of two of buckets).
DEVICES_PER_BUCKET = 20
INSTALL = "pip install 'waltero_frames[scale]'"
_NO_ORG = "none"  # the org folder of devices written without an organization id


def _pyarrow() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.dataset
        import pyarrow.parquet
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"the readings dataset needs pyarrow: {INSTALL}") from exc
    return pa


def bucket_of(device_ids: Iterable[str], buckets: int) -> np.ndarray:
    """Return the bucket of each device id: a fixed hash (BLAKE2b, 8 bytes) modulo ``buckets``.

    The same on every machine and Python version (unlike ``hash``), so a dataset
    written anywhere is read the same everywhere.

    >>> bucket_of(["00000000-0000-0000-0000-000000000001"], 64).tolist()
    [38]
    """
    return np.array(
        [
            int.from_bytes(hashlib.blake2b(str(d).encode(), digest_size=8).digest(), "little")
            % buckets
            for d in device_ids
        ],
        dtype=np.int64,
    )


def default_buckets(n_devices: int) -> int:
    """Return the bucket count of a new dataset: a power of two, ~20 devices a bucket, 8..4096."""
    want = max(1, -(-n_devices // DEVICES_PER_BUCKET))
    return int(min(4096, max(8, 1 << (want - 1).bit_length())))


class Dataset:
    """A readings dataset folder: its metadata and bucket files (internal).

    ``Dataset.open(path)`` reads an existing dataset (``ValueError`` if ``path`` is not
    one); ``Dataset.open(path, create=n_devices)`` also creates an empty one.
    """

    def __init__(self, path: Path, meta: dict) -> None:
        self.path = path
        self.meta = meta

    @classmethod
    def open(cls, path: Any, *, create: int | None = None, buckets: int | None = None) -> Dataset:
        """Open the dataset at ``path``; ``create`` (a device count) creates a missing one."""
        root = Path(path)
        meta_file = root / META
        if meta_file.is_file():
            try:
                meta = json.loads(meta_file.read_text())
            except (OSError, ValueError) as exc:
                raise ValueError(f"{str(root)!r} is not a readings dataset: {exc}") from None
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise ValueError(
                    f"{str(root)!r} is not a readings dataset ({META} of another kind)"
                )
            if meta.get("version") != VERSION:
                raise ValueError(
                    f"{str(root)!r}: readings dataset version {meta.get('version')!r}, "
                    f"this waltero_frames reads version {VERSION}"
                )
            if buckets is not None and buckets != meta["buckets"]:
                raise ValueError(
                    f"buckets={buckets!r}: the dataset at {str(root)!r} has "
                    f"{meta['buckets']} buckets (fixed when it was created)"
                )
            # on disk a list of records (SQL engines unnest it), here keyed by device id
            meta["devices"] = {r["device_id"]: r for r in meta.get("devices", [])}
            return cls(root, meta)
        if create is None or (root.exists() and (not root.is_dir() or any(root.iterdir()))):
            what = "does not exist" if not root.exists() else f"has no {META}"
            raise ValueError(
                f"{str(root)!r} is not a readings dataset ({what}); write one with "
                "wf.write_readings(frame, path) or Mirror.export_parquet(path, org)"
            )
        if buckets is not None and (
            isinstance(buckets, bool) or not isinstance(buckets, int) or not 1 <= buckets <= 65536
        ):
            raise ValueError(f"buckets={buckets!r}: expected a whole number from 1 to 65536")
        n = default_buckets(create) if buckets is None else buckets
        return cls(
            root, {"format": FORMAT, "version": VERSION, "buckets": n, "fields": [], "devices": {}}
        )

    @property
    def buckets(self) -> int:
        """Return the bucket count (fixed when the dataset was created)."""
        return int(self.meta["buckets"])

    def devices(self) -> pd.DataFrame:
        """Return the per-device metadata: index ``device_id``; org_id, bucket, tz and INFO_COLUMNS."""
        cols = ["org_id", "bucket", "tz", *INFO_COLUMNS]  # device_id is the index
        rows = self.meta["devices"]
        df = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=cols)
        df.index = pd.Index(list(rows), dtype="str", name=DEVICE)
        for col in ("multiplier", "register_digits"):
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
        df["bucket"] = df["bucket"].astype("int64")
        return df

    def bucket_dir(self, org_id: str | None, bucket: int) -> Path:
        """Return the folder of one organization's bucket."""
        return self.path / f"org={org_id or _NO_ORG}" / f"bucket={bucket:04d}"

    def save(self) -> None:
        """Write the metadata file (atomically: a new file renamed over the old)."""
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / f".{META}.{uuid.uuid4().hex}"
        records = [{**r, "device_id": d} for d, r in sorted(self.meta["devices"].items())]
        tmp.write_text(json.dumps({**self.meta, "devices": records}, indent=1, sort_keys=True))
        os.replace(tmp, self.path / META)

    # ------------------------------------------------------------------ writing
    def register(self, info: pd.DataFrame) -> None:
        """Add or update devices (index device_id; org_id, tz, INFO_COLUMNS; NaN = unknown).

        A device keeps its organization: writing it under another one is refused.
        """
        known = self.meta["devices"]
        new = [d for d in info.index if d not in known]
        got = dict(zip(new, bucket_of(new, self.buckets).tolist(), strict=True))
        for device_id, row in info.iterrows():  # per device (thousands), not per reading
            old = known.get(device_id)
            if old is not None and old.get("org_id") != row["org_id"]:
                raise ValueError(
                    f"device {device_id!r} is stored under org {old.get('org_id')!r}, "
                    f"written with org {row['org_id']!r}"
                )
            entry = dict(old) if old is not None else {"bucket": got[device_id]}
            for col in ("org_id", "tz", *INFO_COLUMNS):
                value = row.get(col)
                if value is not None and not (isinstance(value, float) and np.isnan(value)):
                    entry[col] = value.item() if isinstance(value, np.generic) else value
                else:
                    entry.setdefault(col, None)
            known[str(device_id)] = entry

    def write_bucket(self, org_id: str | None, bucket: int, frame: pd.DataFrame) -> None:
        """Merge ``frame`` (telemetry layout, devices of this org and bucket) into its file."""
        pa = _pyarrow()
        import pyarrow.parquet as pq

        fields = [c for c in frame.columns if c not in (DEVICE, VALUE)]
        self.meta["fields"] += [f for f in fields if f not in self.meta["fields"]]
        folder = self.bucket_dir(org_id, bucket)
        old_files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
        new = frame.reset_index()
        new.attrs = {}  # provenance lives in the dataset's metadata, not in each file
        new[DEVICE] = new[DEVICE].astype(STR_DTYPE)
        if old_files:
            schema = self.schema()
            import pyarrow.dataset as ds

            old = ds.dataset([str(f) for f in old_files], schema=schema, format="parquet")
            old_frame = old.to_table(columns=self.columns()).to_pandas()
            both = pd.concat([new, old_frame], ignore_index=True)  # new rows first: they win
            both = both.loc[:, [c for c in self.columns() if c in both.columns]]
            new = both.loc[~both.duplicated([DEVICE, "timestamp"], keep="first")]
        codes, _ = device_codes(new[DEVICE], "readings")
        ts = new["timestamp"].to_numpy(dtype="datetime64[us]").view(np.int64)
        order = np.lexsort((ts, codes))  # device, then time
        new = new.iloc[order]
        table = pa.Table.from_pandas(new, preserve_index=False)
        table = table.cast(self.schema([c for c in self.columns() if c in new.columns]))
        table = table.replace_schema_metadata(
            {b"waltero_frames": json.dumps({"format": FORMAT, "org_id": org_id, "bucket": bucket})}
        )
        folder.mkdir(parents=True, exist_ok=True)
        name = f"part-{uuid.uuid4().hex[:12]}.parquet"
        tmp = folder / f".{name}.tmp"
        pq.write_table(table, tmp, row_group_size=ROW_GROUP, compression="zstd")
        os.replace(tmp, folder / name)
        for f in old_files:
            f.unlink()

    def columns(self) -> list[str]:
        """Return the file columns: timestamp, device_id, the fields, value."""
        return ["timestamp", DEVICE, *self.meta["fields"], VALUE]

    def schema(self, columns: Sequence[str] | None = None) -> Any:
        """Return the Arrow schema of the file columns (``columns``: a subset, in that order)."""
        pa = _pyarrow()

        def kind(col: str) -> Any:
            if col == "timestamp":
                return pa.timestamp("us", tz="UTC")
            if col == DEVICE or col in TEXT_FIELDS:
                return pa.large_string()
            return pa.float64()

        return pa.schema([(c, kind(c)) for c in (self.columns() if columns is None else columns)])

    def files(self, org_id: str | None, bucket: int) -> list[str]:
        """Return the Parquet files of one organization's bucket."""
        folder = self.bucket_dir(org_id, bucket)
        return sorted(str(f) for f in folder.glob("*.parquet")) if folder.is_dir() else []


def device_info(frame: pd.DataFrame, org_id: str | None, tz: str) -> pd.DataFrame:
    """Return what the helpers need per device of a telemetry frame (the helpers' own lookup).

    Multiplier, register size, meter type and unit come from the frame's columns or
    ``attrs`` exactly as ``readings_to_consumption``/``flag_anomalies`` would find them
    (the multiplier finally from ``value / meter.value.raw``); NaN/'' where unknown.
    """
    codes, ids = device_codes(frame[DEVICE], "readings")
    info = pd.DataFrame(index=pd.Index(ids.to_numpy(dtype=object), name=DEVICE))
    info["org_id"] = org_id
    info["tz"] = tz
    mult = multipliers(frame, None, codes, ids)
    info["multiplier"] = np.full(len(ids), np.nan) if mult is None else mult
    digits = per_device(None, "register_digits", frame, codes, ids, attr_keys=("register_digits",))
    info["register_digits"] = np.full(len(ids), np.nan) if digits is None else digits
    for col in ("meter_type", "unit"):
        got = per_device_str(None, col, frame, codes, ids)
        info[col] = [g or None for g in got]
    return info


def write_frame(ds: Dataset, frame: pd.DataFrame, org_id: str | None, tz: str) -> int:
    """Write a telemetry frame into ``ds`` bucket by bucket; return the rows written."""
    if len(frame) == 0:
        return 0
    info = device_info(frame, org_id, tz)
    ds.register(info)
    codes, ids = device_codes(frame[DEVICE], "readings")
    per_code = np.array([ds.meta["devices"][d]["bucket"] for d in ids], dtype=np.int64)
    row_bucket = per_code[codes]
    order = np.argsort(row_bucket, kind="stable")
    bounds = np.searchsorted(row_bucket[order], np.arange(ds.buckets + 1))
    columns = [c for c in frame.columns if c not in (DEVICE, VALUE)]
    out = frame.loc[:, [DEVICE, *columns]]
    if VALUE in frame.columns:
        out[VALUE] = frame[VALUE]
    elif RAW in frame.columns:  # the telemetry layout's value, from the stored multiplier
        mult = info["multiplier"].to_numpy(dtype=float)[codes]
        out[VALUE] = np.round(frame[RAW].to_numpy(dtype=float) * mult, 6)
    for b in np.flatnonzero(np.diff(bounds)):  # buckets with rows (per bucket, not per row)
        rows = order[bounds[b] : bounds[b + 1]]
        ds.write_bucket(org_id, int(b), out.iloc[rows])
    ds.save()
    return len(frame)


def write_readings(readings: pd.DataFrame, path: Any, *, buckets: int | None = None) -> Path:
    """Write a telemetry frame (with its ``attrs``) into a readings dataset.

    Rows are merged into the dataset: a (device, timestamp) already stored is replaced,
    new ones are added, so a history can be written window after window (and
    ``Mirror.export_parquet`` writes the same layout). The per-device metadata the
    helpers need (time zone, meter type, unit, multiplier, register size) is stored
    with the dataset and comes back in ``scan_readings(...)``'s ``attrs``.

    Parameters
    ----------
    readings : pandas.DataFrame
        A ``wf.telemetry`` / ``Mirror.readings`` frame: index ``timestamp`` (UTC),
        ``device_id`` and field columns (``value`` too when present). The organization
        is ``attrs["org_id"]`` (none: devices filed under ``org=none``), the time zone
        ``attrs["tz"]`` (default UTC), the device details ``attrs["devices"]`` or
        columns, as the helpers read them.
    path : str or path-like
        The dataset folder: created when missing (an empty folder is fine); any other
        existing folder must be a readings dataset.
    buckets : int, optional
        Bucket count of a **new** dataset (default: a power of two giving about 20
        devices a bucket, at least 8). An existing dataset keeps its own.

    Returns
    -------
    pathlib.Path
        The dataset folder.

    Raises
    ------
    ValueError
        Not a telemetry frame (no UTC ``timestamp`` index, no ``device_id``, missing
        ids), ``path`` an existing folder that is not a readings dataset, a device
        written under another organization than before, a bad ``buckets``.

    Examples
    --------
    >>> df = wf.telemetry(client, devs, "2026-01-01", "2026-02-01", tz="Europe/Berlin")  # doctest: +SKIP
    >>> wf.write_readings(df, "readings/")                                     # doctest: +SKIP
    >>> wf.scan_readings("readings/").npartitions                              # doctest: +SKIP
    """
    frame_times(readings, "readings")
    if not isinstance(readings.index, pd.DatetimeIndex):
        raise ValueError("readings need the telemetry layout: a DatetimeIndex named 'timestamp'")
    if DEVICE not in readings.columns:
        raise ValueError("readings need a 'device_id' column (the telemetry layout)")
    if not [c for c in readings.columns if c not in (DEVICE, VALUE)]:
        raise ValueError("readings have no field columns (e.g. 'meter.value.raw')")
    org_id = readings.attrs.get("org_id")
    if org_id is not None and not isinstance(org_id, str):
        raise ValueError(f"attrs['org_id']={org_id!r}: expected an organization id string")
    tz = str(frame_tz(readings))
    ds = Dataset.open(path, create=int(readings[DEVICE].nunique()), buckets=buckets)
    frame = readings.copy(deep=False)
    frame.index = (
        cast(pd.DatetimeIndex, frame.index).tz_convert("UTC").as_unit("us").rename("timestamp")
    )
    write_frame(ds, frame, org_id, tz)
    if not (ds.path / META).exists():
        ds.save()
    return ds.path


# ---------------------------------------------------------------------- scanning
def read_part(task: dict) -> pd.DataFrame:
    """Read one partition (one org and bucket): the telemetry layout, time-sorted.

    Runs on the workers: everything it needs is in ``task`` (files, devices, bounds,
    columns, attrs), so it pickles to any process or machine that sees the files.
    """
    import pyarrow.dataset as ds

    schema = task["schema"]
    fields, attrs = task["fields"], task["attrs"]
    cols = ["timestamp", DEVICE, *[f for f in fields if f in schema.names]]
    if task["value"]:
        cols.append(VALUE)
    expr = None
    if task["devices"] is not None:
        expr = ds.field(DEVICE).isin(task["devices"])
    for op, bound in (("ge", task["start"]), ("lt", task["end"])):
        if bound is not None:
            t = pd.Timestamp(bound, unit="us", tz="UTC")
            cond = ds.field("timestamp") >= t if op == "ge" else ds.field("timestamp") < t
            expr = cond if expr is None else expr & cond
    table = (
        ds.dataset(task["files"], schema=schema, format="parquet").to_table(
            columns=cols, filter=expr
        )
        if task["files"]
        else schema.empty_table().select(cols)
    )
    df = table.to_pandas()
    return telemetry_frame(df, fields, task["value"], attrs)


def telemetry_frame(
    df: pd.DataFrame, fields: Sequence[str], value: bool, attrs: dict
) -> pd.DataFrame:
    """File rows (device-major or any order) → the telemetry layout, time then device."""
    ts = df["timestamp"].to_numpy(dtype="datetime64[us]").view(np.int64)
    codes, _ = device_codes(df[DEVICE], "readings") if len(df) else (np.zeros(0, np.int16), None)
    major = len(df) < 2 or bool(
        ((codes[1:] > codes[:-1]) | ((codes[1:] == codes[:-1]) & (ts[1:] >= ts[:-1]))).all()
    )
    # device-major runs, each time-sorted: a stable merge by time keeps ties in device order
    order = np.argsort(ts, kind="stable") if major else np.lexsort((codes, ts))
    out: dict[str, Any] = {DEVICE: pd.array(df[DEVICE].to_numpy()[order], dtype="str")}
    for f in fields:
        if f in df.columns:
            out[f] = df[f].to_numpy()[order]
            if f in TEXT_FIELDS:
                out[f] = pd.array(out[f], dtype="str")
        else:
            out[f] = (
                pd.array(np.full(len(df), np.nan, dtype=object), dtype="str")
                if f in TEXT_FIELDS
                else np.full(len(df), np.nan)
            )
    if value:
        out[VALUE] = df[VALUE].to_numpy(dtype=float)[order]
    index = pd.DatetimeIndex(ts[order].view("M8[us]"), name="timestamp").tz_localize("UTC")
    frame = pd.DataFrame(out, index=index)
    frame.attrs = dict(attrs)
    return frame


def _bound(value: Any, name: str) -> int | None:
    return None if value is None else to_utc(value, "UTC", name=name).value // 1000  # µs


def scan_readings(
    path: Any,
    org: str | None = None,
    devices: Any = None,
    start: Any = None,
    end: Any = None,
    fields: Any = None,
) -> Any:
    """Read a readings dataset lazily as a Dask DataFrame in the telemetry layout.

    Parameters
    ----------
    path : str or path-like
        A dataset written by :func:`write_readings` or ``Mirror.export_parquet`` (on a
        cluster: a path every worker sees, e.g. a shared mount).
    org : str, optional
        Only this organization's devices.
    devices : str, list of str or DataFrame, optional
        Device ids (a ``wf.devices`` frame: its index), as in ``wf.telemetry``; default
        every device (of ``org``).
    start, end : str, datetime, date or Timestamp, optional
        ``[start, end)``, as in ``wf.telemetry`` (naive values are UTC); default
        everything stored.
    fields : str or list of str, optional
        The field columns, in this order (NaN where a device has none); default every
        field column of the dataset. ``value`` comes with ``meter.value.raw``.

    Returns
    -------
    dask.dataframe.DataFrame
        One partition per (organization, bucket) holding selected devices: each holds
        whole devices, rows time-sorted (ties by ``device_id``), so the helpers
        (``wf.readings_to_consumption`` …) run on it partition by partition. Each
        partition's ``attrs`` (and the Dask frame's meta) carry ``org_id``, ``tz``, ``devices``
        (meter_type, unit, multiplier, register_digits by device_id), ``fields``,
        ``start``, ``end`` and ``source``.

    Raises
    ------
    ValueError
        ``path`` is not a readings dataset; unknown ``org``/devices; bad times or
        fields; selected devices in different time zones (pass ``org=`` or
        ``devices=`` to choose one zone).
    ImportError
        Without the ``scale`` extra (dask, pyarrow): says what to install.

    Examples
    --------
    >>> ddf = wf.scan_readings("readings/", org=org, start="2026-01-01")  # doctest: +SKIP
    >>> daily = wf.resample_consumption(wf.readings_to_consumption(ddf), "D")  # doctest: +SKIP
    >>> daily.compute()                                                  # doctest: +SKIP
    """
    try:
        import dask.dataframe as dd
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"scan_readings needs Dask: {INSTALL}") from exc
    _pyarrow()
    ds = Dataset.open(path)
    info = ds.devices()
    lo, hi = _bound(start, "start"), _bound(end, "end")
    if lo is not None and hi is not None and hi <= lo:
        raise ValueError(f"end={end!r} must be after start={start!r} (end is exclusive)")
    if org is not None:
        if not isinstance(org, str) or not org:
            raise ValueError(f"org={org!r}: expected an organization id string")
        if not (info["org_id"] == org).any():
            held = sorted({str(o) for o in info["org_id"].dropna()})
            raise ValueError(f"org={org!r} is not in the dataset (it holds {held[:5]})")
        info = info[info["org_id"] == org]
    chosen = None
    if devices is not None:
        chosen = device_ids(devices)
        unknown = [d for d in chosen if d not in info.index]
        if unknown:
            raise ValueError(
                f"devices not in the dataset{'' if org is None else ' for org ' + repr(org)}: {unknown[:5]}"
            )
        info = info.loc[chosen]
    if fields is None:
        field_list = list(ds.meta["fields"])
    else:
        field_list = [fields] if isinstance(fields, str) else list(fields)
        bad = [f for f in field_list if not isinstance(f, str) or not f or "," in f or " " in f]
        if bad or not field_list:
            raise ValueError(f"fields={fields!r}: expected field names such as 'meter.value.raw'")
        field_list = list(dict.fromkeys(field_list))
    zones = sorted({str(z) for z in info["tz"].fillna("UTC")})
    if len(zones) > 1:
        raise ValueError(
            f"the selected devices are in different time zones {zones}: the helpers read one "
            "zone per call; pass org= (or devices=) to scan one zone at a time"
        )
    orgs = sorted({str(o) for o in info["org_id"].dropna()})
    attrs = {
        **(
            {"org_id": orgs[0]}
            if len(orgs) == 1 and len(info["org_id"].dropna()) == len(info)
            else {}
        ),
        "tz": zones[0] if zones else "UTC",
        "devices": for_attrs(info.loc[:, list(INFO_COLUMNS)]),
        "fields": field_list,
        "start": None if lo is None else pd.Timestamp(lo, unit="us", tz="UTC"),
        "end": None if hi is None else pd.Timestamp(hi, unit="us", tz="UTC"),
        "source": f"readings:{ds.path}",
    }
    value = RAW in field_list
    schema = ds.schema()
    tasks = []
    for key, group in info.groupby(["org_id", "bucket"], dropna=False, sort=True):
        org_id, bucket = cast(tuple[Any, Any], key)
        org_key = None if pd.isna(org_id) else str(org_id)
        files = ds.files(org_key, int(bucket))
        if not files:
            continue
        whole = chosen is None  # every device of the bucket (and org) is selected
        tasks.append(
            {
                "files": files,
                "devices": None if whole else sorted(group.index),
                "start": lo,
                "end": hi,
                "fields": field_list,
                "value": value,
                "schema": schema,
                "attrs": attrs,
            }
        )
    empty = {
        "files": [],
        "devices": None,
        "start": None,
        "end": None,
        "fields": field_list,
        "value": value,
        "schema": schema,
        "attrs": attrs,
    }
    meta = read_part(empty)
    import dask

    from .partitions import mark_device_whole

    # the telemetry layout's ``str`` columns stay ``str`` (Dask would make them
    # ``string[pyarrow]``, whose missing value is NA, not NaN)
    with dask.config.set({"dataframe.convert-string": False}):
        ddf = dd.from_map(
            read_part, tasks or [empty], meta=meta, enforce_metadata=False, label="scan-readings"
        )
    return mark_device_whole(ddf)
