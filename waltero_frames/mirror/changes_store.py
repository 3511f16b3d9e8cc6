"""The mirror's changes, changelog watermark and run log.

Each page of changes commits together with the watermark it reaches, so a process killed
at any instant leaves either all of a page or none of it; each change is processed
exactly once (its id is the key of ``changes``).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import numpy as np
import pandas as pd

from .db import StoreBase, now_ms, py_values, to_ms
from .resolve import resolve
from .schema import OUTCOMES

__all__ = ["ChangesStore"]


class ChangesStore(StoreBase):
    """Changes with their outcomes, the sync state (phase, watermark) and ``sync_runs``."""

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
            "previous_value": py_values(df["previous_value"].to_numpy(dtype=object)[order]),
            "new_value": py_values(df["new_value"].to_numpy(dtype=object)[order]),
            "actor": py_values(df["actor"].to_numpy(dtype=object)[order])
            if "actor" in df
            else None,
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

    # -- reading back ---------------------------------------------------------------------
    def changes_frame(self, org: int) -> pd.DataFrame:
        """Return every change processed for ``org`` with its outcome (``Mirror.changes``).

        Columns ``change_id``, ``device_id``, ``field``, ``timestamp``, ``previous_value``,
        ``new_value``, ``mirror_value``, ``outcome``, ``actor``; index ``changed_at``.
        """
        df = self.frame(
            "SELECT c.change_id, d.device_id, f.name AS field, c.ts, c.previous_value, "
            "c.new_value, c.mirror_value, c.outcome, c.actor, c.changed_at FROM changes c "
            "JOIN devices d USING (device) JOIN fields f USING (field) WHERE c.org=? "
            "ORDER BY c.changed_at, c.change_id",
            (org,),
        )
        df["timestamp"] = pd.to_datetime(df.pop("ts").astype("int64"), unit="ms", utc=True)
        at = pd.to_datetime(df.pop("changed_at").astype("int64"), unit="ms", utc=True)
        return df.set_index(pd.DatetimeIndex(at, name="changed_at"))

    def runs_frame(self) -> pd.DataFrame:
        """Return the log of sync runs, index ``run`` (``Mirror.runs``)."""
        df = self.frame(
            "SELECT r.run, o.org_id, r.started_at, r.finished_at, r.status, r.start, r.end, "
            "r.readings_added, r.values_added, r.changes_applied, r.conflicts, r.watermark, r.error "
            "FROM sync_runs r JOIN orgs o USING (org) ORDER BY r.run"
        )
        for col in ("started_at", "finished_at", "start", "end", "watermark"):
            df[col] = pd.to_datetime(df[col], unit="ms", utc=True)
        return df.set_index("run")
