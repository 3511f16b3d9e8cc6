"""The mirror's readings and their coverage: one transaction per fetched device-window.

Every commit writes the readings together with the state saying the work is done (the
device's coverage, the ``windows`` row), so a process killed at any instant leaves either
all of a window or none of it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ..errors import SyncError
from .db import StoreBase, now_ms, py_values

__all__ = ["Committed", "ReadingsStore"]


class Committed(NamedTuple):
    """What one committed window added: readings (device-timestamp rows) and field values."""

    readings: int
    values: int


class ReadingsStore(StoreBase):
    """Readings (codes, epoch ms) and per-device coverage (``device_state``, ``windows``)."""

    # -- readings ---------------------------------------------------------------------------
    def _upsert_readings(self, con: sqlite3.Connection, org: int, device, field, ts, value) -> None:
        con.executemany(
            "INSERT INTO readings(org, device, field, ts, value) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(org, device, field, ts) DO UPDATE SET value=excluded.value "
            "WHERE readings.value IS NOT excluded.value",
            zip(
                [org] * len(ts),
                py_values(device),
                py_values(field),
                py_values(ts),
                py_values(value),
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
    ) -> Committed:
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
        Committed
            ``(readings, values)``: readings ((device, timestamp) rows, any field) that were
            not in the mirror before, and field values added. A window that brings the
            battery value of a timestamp whose meter value was held adds a value, not a
            reading.

        Raises
        ------
        SyncError
            The window neither starts inside the coverage nor ends at its start (a gap).
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
        return Committed(rows_added, after - before)

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
