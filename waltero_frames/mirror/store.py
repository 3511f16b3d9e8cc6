"""The mirror's SQLite store: schema, codes and the transactions that keep it consistent.

One file, WAL journal, no server. Inside, devices, fields and organizations are small
integer codes and times are epoch milliseconds (UTC); strings appear only at the edges
(:meth:`Store.device_codes`, :meth:`Store.read_readings`). The schema is documented in
``docs/mirror.md``.

Every method that changes data runs in one transaction that also writes the state saying
the work is done (a device-window and the device's coverage; a page of changes and the
changes watermark), so a process killed at any instant leaves either all of a page or
none of it.

>>> store = Store(":memory:")
>>> org = store.org_code("org-1")
>>> store.upsert_devices(org, pd.DataFrame({"multiplier": [0.001]},
...                      index=pd.Index(["dev-a"], name="device_id")))
>>> store.device_codes(["dev-a"]).tolist()
[1]
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
from ..errors import SyncError
from .resolve import resolve
from .schema import MIGRATIONS, OUTCOMES, SCHEMA, SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "Store", "to_ms"]


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


def _py(values: Any) -> list:
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


class Store:
    """The SQLite file behind :class:`~waltero_frames.mirror.Mirror`.

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
        values = [_py(frame[c].to_numpy(dtype=object)) for c in cols]
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

    # -- readings ---------------------------------------------------------------------------
    def _upsert_readings(self, con: sqlite3.Connection, org: int, device, field, ts, value) -> None:
        con.executemany(
            "INSERT INTO readings(org, device, field, ts, value) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(org, device, field, ts) DO UPDATE SET value=excluded.value "
            "WHERE readings.value IS NOT excluded.value",
            zip(
                [org] * len(ts),
                _py(device),
                _py(field),
                _py(ts),
                _py(value),
                strict=True,
            ),
        )

    def insert_readings(
        self, org: int, device: np.ndarray, field: np.ndarray, ts: np.ndarray, value: Any
    ) -> None:
        """Bulk upsert of readings given as parallel arrays of codes, ms and values.

        Bookkeeping (coverage) is not touched: this is the raw API used by benchmarks and
        by :meth:`commit_window`.
        """
        with self.transaction() as con:
            self._upsert_readings(con, org, device, field, ts, value)

    def set_coverage(
        self, org: int, device: int, cov_start: int, cov_end: int, last_ts: int | None
    ) -> None:
        """Declare the covered range of one device (used when building a mirror directly)."""
        with self.transaction() as con:
            con.execute(
                "INSERT OR REPLACE INTO device_state(device, org, cov_start, cov_end, last_ts) "
                "VALUES (?, ?, ?, ?, ?)",
                (device, org, cov_start, cov_end, last_ts),
            )

    def ensure_coverage(self, org: int, device: int, at: int) -> None:
        """Start an empty coverage ``[at, at)`` for a device that has none."""
        with self.transaction() as con:
            con.execute(
                "INSERT OR IGNORE INTO device_state(device, org, cov_start, cov_end, last_ts) "
                "VALUES (?, ?, ?, ?, NULL)",
                (device, org, at, at),
            )

    def commit_window(
        self,
        org: int,
        device: int,
        start: int,
        end: int,
        field: np.ndarray,
        ts: np.ndarray,
        value: Any,
        *,
        certified_end: int | None = None,
        run: int | None = None,
    ) -> int:
        """Store one fetched device-window ``[start, end)`` and extend the device's coverage.

        The readings, the coverage and the ``windows`` log row are one transaction.

        Parameters
        ----------
        certified_end : int, optional
            The window is known complete up to here (default ``end``): readings after it may
            still appear on the server. The coverage end moves to it when the window starts
            inside the coverage; a window ending at the coverage start extends it backwards.

        Returns
        -------
        int
            Readings ((device, timestamp) rows, any field) that were not in the mirror
            before; :meth:`commit_window_counts` also gives the field values added.

        Raises
        ------
        SyncError
            The window neither starts inside the coverage nor ends at its start (a gap).
        """
        return self.commit_window_counts(
            org, device, start, end, field, ts, value, certified_end=certified_end, run=run
        )[0]

    def commit_window_counts(
        self,
        org: int,
        device: int,
        start: int,
        end: int,
        field: np.ndarray,
        ts: np.ndarray,
        value: Any,
        *,
        certified_end: int | None = None,
        run: int | None = None,
    ) -> tuple[int, int]:
        """:meth:`commit_window`, returning ``(readings added, field values added)``.

        A reading is one (device, timestamp) row, whatever fields it holds: a window that
        brings the battery value of a timestamp whose meter value was held adds a value,
        not a reading.
        """
        certified = end if certified_end is None else min(int(certified_end), end)
        fields_in = sorted({int(f) for f in np.unique(field)}) if len(field) else []
        count_sql = (
            "SELECT count(*) FROM readings WHERE org=? AND device=? AND field IN "
            f"({','.join('?' * len(fields_in))}) AND ts>=? AND ts<?"
        )
        stamps = np.unique(np.asarray(ts, dtype=np.int64))
        with self.transaction() as con:
            state = con.execute(
                "SELECT cov_start, cov_end, last_ts FROM device_state WHERE device=?", (device,)
            ).fetchone()
            if state is None:
                raise SyncError(f"device code {device} has no coverage row")
            cov_start, cov_end, last_ts = state
            forwards = cov_start <= start <= cov_end
            backwards = start < cov_start <= end
            if not (forwards or backwards):
                raise SyncError(
                    f"window [{start}, {end}) does not touch coverage [{cov_start}, {cov_end})"
                )
            params = (org, device, *fields_in, start, end)
            before = con.execute(count_sql, params).fetchone()[0] if fields_in else 0
            rows_added = 0
            if len(stamps):
                # every field code, so SQLite seeks each (device, field) key range by ts
                codes = [f for (f,) in con.execute("SELECT field FROM fields")]
                held = np.fromiter(
                    (
                        t
                        for (t,) in con.execute(
                            "SELECT DISTINCT ts FROM readings WHERE org=? AND device=? AND "
                            f"field IN ({','.join('?' * len(codes))}) AND ts>=? AND ts<=?",
                            (org, device, *codes, int(stamps[0]), int(stamps[-1])),
                        )
                    ),
                    dtype=np.int64,
                )
                rows_added = int((~np.isin(stamps, held)).sum())
            self._upsert_readings(con, org, np.full(len(ts), device), field, ts, value)
            after = con.execute(count_sql, params).fetchone()[0] if fields_in else 0
            tops = [x for x in (last_ts, int(np.max(ts)) if len(ts) else None) if x is not None]
            new_start = min(cov_start, start) if backwards else cov_start
            new_end = max(cov_end, certified) if forwards or certified >= cov_end else cov_end
            con.execute(
                "UPDATE device_state SET cov_start=?, cov_end=?, last_ts=? WHERE device=?",
                (new_start, new_end, max(tops) if tops else None, device),
            )
            con.execute(
                "INSERT OR REPLACE INTO windows(device, start, end, run, n_readings, n_added, "
                "n_values_added, done_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (device, start, end, run, len(stamps), rows_added, after - before, now_ms()),
            )
        return rows_added, after - before

    def read_readings(
        self,
        org: int,
        start: int | None = None,
        end: int | None = None,
        devices: Sequence[int] | None = None,
    ) -> pd.DataFrame:
        """Long readings ``device, field, ts, value`` (codes and ms), in no particular order.

        ``devices=None`` means every device of ``org``; ``start``/``end`` (ms) bound ``ts``.
        """
        where, params = ["org=?"], [org]
        if devices is not None:
            if not len(devices):
                return pd.DataFrame({"device": [], "field": [], "ts": [], "value": []})
            where.append(f"device IN ({','.join('?' * len(devices))})")
            params += [int(d) for d in devices]
        if start is not None or end is not None:
            # the field list lets SQLite seek each (device, field) range of the key by ts
            fields = [f for (f,) in self.query("SELECT field FROM fields")]
            where.append(f"field IN ({','.join('?' * len(fields))}) AND ts>=? AND ts<?")
            params += [*fields, -(2**62) if start is None else start, 2**62 if end is None else end]
        sql = f"SELECT device, field, ts, value FROM readings WHERE {' AND '.join(where)}"
        return self.frame(sql, params, columns=["device", "field", "ts", "value"])

    # -- changes ----------------------------------------------------------------------------
    def sync_state(self, org: int) -> dict | None:
        """``start``, ``phase``, ``watermark`` (ms or None) and ``ids_at_watermark``."""
        row = self.query(
            "SELECT start, phase, watermark, ids_at_watermark FROM sync_state WHERE org=?", (org,)
        )
        if not row:
            return None
        start, phase, watermark, ids = row[0]
        return {
            "start": start,
            "phase": phase,
            "watermark": watermark,
            "ids_at_watermark": json.loads(ids),
        }

    def init_sync_state(self, org: int, start: int) -> None:
        """Create the org's sync state (phase ``baseline``) if it has none."""
        with self.transaction() as con:
            con.execute(
                "INSERT OR IGNORE INTO sync_state(org, start, phase, watermark) "
                "VALUES (?, ?, 'baseline', NULL)",
                (org, start),
            )

    def set_phase(self, org: int, phase: str) -> None:
        """Set the sync phase (``baseline`` or ``ready``) of an organization."""
        with self.transaction() as con:
            con.execute("UPDATE sync_state SET phase=? WHERE org=?", (phase, org))

    def set_start(self, org: int, start: int) -> None:
        """Move the organization's sync start earlier (never later)."""
        with self.transaction() as con:
            con.execute("UPDATE sync_state SET start=min(start, ?) WHERE org=?", (start, org))

    def apply_changes(
        self,
        org: int,
        changes: pd.DataFrame,
        *,
        run: int | None = None,
        baseline: bool = False,
        page: int = 200,
    ) -> dict[str, int]:
        """Apply changes page by page; each page and the watermark it reaches commit together.

        Parameters
        ----------
        org : int
            Organization code.
        changes : DataFrame
            Columns ``change_id``, ``device_id``, ``field``, ``timestamp``,
            ``previous_value``, ``new_value``, ``actor`` and ``changed_at`` (a column or the
            index), as :func:`waltero_frames.changes` returns them. Processed in
            (``changed_at``, ``change_id``) order.
        baseline : bool
            Record the changes as ``baseline`` (already reflected in telemetry fetched
            afterwards) without touching readings.
        page : int, default 200
            Rows per transaction (a sync passes one API page at a time).

        Returns
        -------
        dict
            Count of new changes per outcome (ids seen before are skipped: each change is
            processed exactly once).
        """
        counts = dict.fromkeys(OUTCOMES, 0)
        if changes.empty:
            return counts
        df = changes.reset_index() if "changed_at" not in changes.columns else changes
        cid = df["change_id"].astype(str).to_numpy(dtype=object)
        at = to_ms(df["changed_at"])
        order = np.lexsort((cid, at))
        order = order[~pd.Index(cid[order]).duplicated(keep="first")]
        cols = {
            "change_id": cid[order],
            "device": self.device_codes(
                df["device_id"].astype(str).to_numpy(dtype=object)[order].tolist(), org=org
            ),
            "field": self.field_codes(df["field"].astype(str).to_numpy(dtype=object)[order]),
            "ts": to_ms(df["timestamp"])[order],
            "previous_value": _py(df["previous_value"].to_numpy(dtype=object)[order]),
            "new_value": _py(df["new_value"].to_numpy(dtype=object)[order]),
            "actor": _py(df["actor"].to_numpy(dtype=object)[order]) if "actor" in df else None,
            "changed_at": at[order],
        }
        n = len(order)
        if cols["actor"] is None:
            cols["actor"] = [None] * n
        for lo in range(0, n, page):
            chunk = {k: v[lo : lo + page] for k, v in cols.items()}
            for outcome, k in self._apply_page(org, chunk, run, baseline).items():
                counts[outcome] += k
        return counts

    def _apply_page(
        self, org: int, page: dict[str, Any], run: int | None, baseline: bool
    ) -> dict[str, int]:
        """One transaction: skip ids seen before, resolve, write readings, record, watermark.

        The rows of a page (at most a few hundred, sorted by (changed_at, change_id)) are
        resolved one after the other, because each change is judged against the value the
        previous change of the same reading left.
        """
        ids = list(page["change_id"])
        dev = page["device"].tolist()
        fld = page["field"].tolist()
        ts = page["ts"].tolist()
        at = page["changed_at"].tolist()
        top = at[-1]
        ids_top = [i for i, a in zip(ids, at, strict=True) if a == top]
        counts: dict[str, int] = {}
        with self.transaction() as con:
            con.execute(
                "CREATE TEMP TABLE IF NOT EXISTS _page (change_id TEXT PRIMARY KEY, "
                "device INTEGER, field INTEGER, ts INTEGER)"
            )
            con.execute("DELETE FROM _page")
            con.executemany(
                "INSERT INTO _page VALUES (?, ?, ?, ?)", zip(ids, dev, fld, ts, strict=True)
            )
            seen = {
                r[0]
                # CROSS JOIN keeps the page as the outer loop: a key lookup per row, never a
                # scan of the (growing) changes table
                for r in con.execute(
                    "SELECT p.change_id FROM _page p CROSS JOIN changes c "
                    "ON c.change_id = p.change_id"
                )
            }
            rows = [k for k in range(len(ids)) if ids[k] not in seen]
            if rows:
                outcome, mirror_value = (
                    (["baseline"] * len(rows), [None] * len(rows))
                    if baseline
                    else resolve(con, org, page, rows)
                )
                at_ms = now_ms()
                con.executemany(
                    "INSERT INTO changes(change_id, org, device, field, ts, previous_value, "
                    "new_value, mirror_value, outcome, actor, changed_at, run, applied_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            ids[k],
                            org,
                            dev[k],
                            fld[k],
                            ts[k],
                            page["previous_value"][k],
                            page["new_value"][k],
                            mirror_value[j],
                            outcome[j],
                            page["actor"][k],
                            at[k],
                            run,
                            at_ms,
                        )  # fmt: skip
                        for j, k in enumerate(rows)
                    ],
                )
                for o in outcome:
                    counts[o] = counts.get(o, 0) + 1
            self._advance_watermark(con, org, top, ids_top)
        return counts

    def _advance_watermark(
        self, con: sqlite3.Connection, org: int, top: int, ids_top: list[str]
    ) -> None:
        row = con.execute(
            "SELECT watermark, ids_at_watermark FROM sync_state WHERE org=?", (org,)
        ).fetchone()
        if row is None:
            con.execute(
                "INSERT INTO sync_state(org, start, phase, watermark, ids_at_watermark) "
                "VALUES (?, ?, 'ready', ?, ?)",
                (org, top, top, json.dumps(sorted(ids_top))),
            )
            return
        watermark, ids = row
        if watermark is None or top > watermark:
            watermark, ids = top, sorted(ids_top)
        elif top == watermark:
            ids = sorted(set(json.loads(ids)) | set(ids_top))
        else:
            return
        con.execute(
            "UPDATE sync_state SET watermark=?, ids_at_watermark=? WHERE org=?",
            (watermark, json.dumps(ids) if not isinstance(ids, str) else ids, org),
        )

    # -- run log ----------------------------------------------------------------------------
    def begin_run(self, org: int, start: int | None, end: int | None) -> int:
        """Record the start of a sync run; return its id."""
        with self.transaction() as con:
            cur = con.execute(
                "INSERT INTO sync_runs(org, started_at, status, start, end) "
                "VALUES (?, ?, 'running', ?, ?)",
                (org, now_ms(), start, end),
            )
            run = cur.lastrowid
            assert run is not None  # an INSERT sets it
            return run

    def finish_run(
        self,
        run: int,
        status: str,
        *,
        readings_added: int = 0,
        values_added: int = 0,
        changes_applied: int = 0,
        conflicts: int = 0,
        watermark: int | None = None,
        error: str | None = None,
    ) -> None:
        """Record how a sync run ended (status, counts, error)."""
        with self.transaction() as con:
            con.execute(
                "UPDATE sync_runs SET finished_at=?, status=?, readings_added=?, "
                "values_added=?, changes_applied=?, conflicts=?, watermark=?, error=? "
                "WHERE run=?",
                (
                    now_ms(),
                    status,
                    readings_added,
                    values_added,
                    changes_applied,
                    conflicts,
                    watermark,
                    error,
                    run,
                ),
            )
