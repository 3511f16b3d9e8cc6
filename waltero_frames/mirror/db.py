"""The mirror's SQLite file: connection, schema and upgrades, codes and devices.

The base of the store (see :mod:`.store`): one file, WAL journal, no server. Inside,
devices, fields and organizations are small integer codes and times are epoch
milliseconds (UTC); strings appear only at the edges. The schema is documented in
``docs/mirror.md``; :mod:`.readings_store` and :mod:`.changes_store` add the
transactions of their concern on top of this class.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import pandas as pd

from ..columns import ALL_DEVICE_COLUMNS
from .schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION

__all__ = ["StoreBase", "from_ms", "now_ms", "py_values", "to_ms"]


def now_ms() -> int:
    """Wall-clock epoch milliseconds (for bookkeeping columns only)."""
    return time.time_ns() // 1_000_000


def to_ms(values: Any) -> np.ndarray:
    """Epoch milliseconds (int64) of timestamps: a Series/Index/array of instants.

    >>> to_ms(pd.Series(pd.to_datetime(["1970-01-01T00:00:01.5Z"]))).tolist()
    [1500]
    """
    idx = pd.DatetimeIndex(pd.to_datetime(values, utc=True))
    return np.asarray(idx.as_unit("ms").asi8, dtype=np.int64)


def py_values(values: Any) -> list:
    """Python scalars for sqlite3 (numpy ints/floats -> int/float, NaN -> None)."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iub":
        return arr.tolist()
    if arr.dtype.kind == "f":
        out = arr.astype(object)
        out[np.isnan(arr)] = None
        return out.tolist()
    items = [v.item() if isinstance(v, np.generic) else v for v in arr.astype(object).tolist()]
    return [None if (isinstance(v, float) and v != v) or v is pd.NA else v for v in items]


@overload
def from_ms(ms: int) -> pd.Timestamp: ...
@overload
def from_ms(ms: None) -> None: ...
def from_ms(ms: int | None) -> pd.Timestamp | None:
    """Return the UTC instant of epoch milliseconds (``None`` stays ``None``)."""
    return None if ms is None else pd.Timestamp(int(ms), unit="ms", tz="UTC")


def instant_ms(ts: pd.Timestamp) -> int:
    """Return the epoch ms of one instant (floor; callers ceil first where the bound is inclusive)."""
    return int(pd.Timestamp(ts).value // 1_000_000)


class StoreBase:
    """The SQLite connection, schema, codes and devices behind :class:`.store.Store`.

    Thread-safe: one connection, every use under one lock (SQLite allows one writer
    anyway; the fetches run concurrently, the commits one after the other).

    Parameters
    ----------
    path : str or Path
        The database file (created with its folder if missing), or ``":memory:"``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._con = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=60.0
        )
        con = self._con
        con.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a killed process loses nothing committed; a power cut may
        # lose the last commits but never splits one (data and state share each commit).
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("PRAGMA temp_store=MEMORY")
        con.execute("PRAGMA cache_size=-131072")
        with self.transaction():
            for stmt in SCHEMA.split(";"):
                if stmt.strip():
                    con.execute(stmt)
            con.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
        version = int(self.scalar("SELECT value FROM meta WHERE key='schema_version'"))
        while version in MIGRATIONS and version < SCHEMA_VERSION:
            with self.transaction() as con:
                for stmt in MIGRATIONS[version]:
                    con.execute(stmt)
                con.execute(
                    "UPDATE meta SET value=? WHERE key='schema_version'", (str(version + 1),)
                )
            version += 1
        if version != SCHEMA_VERSION:
            raise ValueError(
                f"{self.path}: mirror schema version {version}, this package reads {SCHEMA_VERSION}"
            )
        self._field_cache: dict[str, int] = {}
        self._device_cache: dict[str, int] = {}

    # -- plumbing -----------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection (the file stays consistent at any point)."""
        with self._lock:
            self._con.close()

    def __repr__(self) -> str:
        return f"Store({self.path!r})"

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (rollback on any exception), under the lock."""
        with self._lock:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                yield self._con
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")

    def scalar(self, sql: str, params: Sequence = ()) -> Any:
        """First column of the first row (``None`` when there is no row)."""
        with self._lock:
            row = self._con.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def query(self, sql: str, params: Sequence = ()) -> list[tuple]:
        """All rows of a read-only query."""
        with self._lock:
            return self._con.execute(sql, params).fetchall()

    def frame(
        self, sql: str, params: Sequence = (), columns: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Return a read-only query as a DataFrame."""
        with self._lock:
            cur = self._con.execute(sql, params)
            rows = cur.fetchall()
            names = columns or [d[0] for d in cur.description]
        return pd.DataFrame.from_records(rows, columns=list(names))

    # -- codes ----------------------------------------------------------------------------
    @overload
    def org_code(self, org_id: str, *, create: Literal[True] = ...) -> int: ...
    @overload
    def org_code(self, org_id: str, *, create: bool) -> int | None: ...
    def org_code(self, org_id: str, *, create: bool = True) -> int | None:
        """Return the integer code of an organization id (created on first use)."""
        code = self.scalar("SELECT org FROM orgs WHERE org_id=?", (org_id,))
        if code is None and create:
            with self.transaction() as con:
                con.execute("INSERT OR IGNORE INTO orgs(org_id) VALUES (?)", (org_id,))
            code = self.scalar("SELECT org FROM orgs WHERE org_id=?", (org_id,))
        return code

    def org_ids(self) -> list[str]:
        """Return the organization ids the mirror knows, in the order they were added."""
        return [o for (o,) in self.query("SELECT org_id FROM orgs ORDER BY org")]

    def org_timezone(self, org: int) -> str | None:
        """Return the organization's IANA zone stored at sync time (None: not known)."""
        return self.scalar("SELECT timezone FROM orgs WHERE org=?", (org,))

    def set_org_timezone(self, org: int, timezone: str) -> None:
        """Store the organization's IANA zone (from ``wf.organizations``)."""
        with self.transaction() as con:
            con.execute("UPDATE orgs SET timezone=? WHERE org=?", (timezone, org))

    def field_codes(self, names: Sequence[str]) -> np.ndarray:
        """Integer codes of field names (created on first use)."""
        missing = [n for n in dict.fromkeys(names) if n not in self._field_cache]
        if missing:
            with self.transaction() as con:
                con.executemany(
                    "INSERT OR IGNORE INTO fields(name) VALUES (?)", [(n,) for n in missing]
                )
            for name, code in self.query("SELECT name, field FROM fields"):
                self._field_cache[name] = code
        return np.asarray([self._field_cache[n] for n in names], dtype=np.int64)

    def field_names(self) -> dict[int, str]:
        """Field code -> name."""
        return dict(self.query("SELECT field, name FROM fields"))

    def upsert_devices(self, org: int, devices: pd.DataFrame) -> None:
        """Insert or update devices (index ``device_id``; any of the ``devices`` columns).

        Columns missing from ``devices`` keep their stored value; a ``fields`` column holds
        sequences of supported field names.
        """
        cols = [c for c in (*ALL_DEVICE_COLUMNS, "fields") if c in devices.columns]
        frame = devices[cols].copy()
        if "fields" in frame:
            frame["fields"] = [
                None if f is None or (isinstance(f, float) and f != f) else json.dumps(list(f))
                for f in frame["fields"]
            ]
        ids = [str(i) for i in devices.index]
        values = [py_values(frame[c].to_numpy(dtype=object)) for c in cols]
        sets = ", ".join(f"{c}=coalesce(excluded.{c}, devices.{c})" for c in cols)
        names = ", ".join(["org", "device_id", *cols])
        marks = ", ".join("?" * (2 + len(cols)))
        sql = (
            f"INSERT INTO devices({names}) VALUES ({marks}) "
            f"ON CONFLICT(device_id) DO UPDATE SET {sets or 'org=excluded.org'}"
        )
        with self.transaction() as con:
            con.executemany(sql, [(org, i, *(v[k] for v in values)) for k, i in enumerate(ids)])

    def device_codes(self, device_ids: Sequence[str], *, org: int | None = None) -> np.ndarray:
        """Integer codes of device ids; unknown ids are registered under ``org`` (or -1)."""
        known = self._device_cache
        unknown = [d for d in dict.fromkeys(device_ids) if d not in known]
        if unknown:
            known.update(self.query("SELECT device_id, device FROM devices"))
            unknown = [d for d in unknown if d not in known]
        if unknown and org is not None:
            with self.transaction() as con:
                con.executemany(
                    "INSERT OR IGNORE INTO devices(org, device_id) VALUES (?, ?)",
                    [(org, d) for d in unknown],
                )
            known.update(self.query("SELECT device_id, device FROM devices"))
        return np.asarray([known.get(d, -1) for d in device_ids], dtype=np.int64)

    def devices(self, org: int) -> pd.DataFrame:
        """Return the stored devices of an organization.

        Index ``device_id``; ``device`` code, details, ``fields`` (tuple or None) and the
        coverage columns of ``device_state``.
        """
        df = self.frame(
            "SELECT d.device_id, d.device, "
            + "".join(f"d.{c}, " for c in ALL_DEVICE_COLUMNS)
            + "d.fields, s.cov_start, s.cov_end, s.last_ts "
            "FROM devices d LEFT JOIN device_state s USING (device) WHERE d.org=? "
            "ORDER BY d.device",
            (org,),
        )
        df["fields"] = pd.Series(
            [None if f is None else tuple(json.loads(f)) for f in df["fields"]],
            index=df.index,
            dtype=object,
        )
        return df.set_index("device_id")
