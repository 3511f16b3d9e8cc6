"""How one page of new changes meets the mirror: each change's outcome, and the writes.

Rows of a page (at most a few hundred, in (``changed_at``, ``change_id``) order) are
resolved one after the other, because each change is judged against the value the
previous change of the same reading left; the lookups and writes are set-based SQL.
"Held the same value" is ``analysis.audit.same_values``, the rule ``wf.apply_changes``
uses too (numbers within 1e-9 relative, text exactly, missing equals missing).
"""

from __future__ import annotations

import sqlite3
from typing import Any

import numpy as np

from ..analysis.audit import same_values
from .schema import VALUE_SETTING

__all__ = ["resolve"]


def resolve(
    con: sqlite3.Connection, org: int, page: dict[str, Any], rows: list[int]
) -> tuple[list[str], list[Any]]:
    """Outcome and the mirror's value just before, for each new change; writes readings."""
    pages = "(SELECT DISTINCT device, field, ts FROM _page) p"
    current = {
        (d, f, t): v
        for d, f, t, v in con.execute(
            f"SELECT p.device, p.field, p.ts, r.value FROM {pages} CROSS JOIN readings r ON "
            "r.org=? AND r.device=p.device AND r.field=p.field AND r.ts=p.ts",
            (org,),
        )
    }
    coverage = {
        d: (lo, hi)
        for d, lo, hi in con.execute(
            "SELECT s.device, s.cov_start, s.cov_end FROM device_state s "
            "WHERE s.device IN (SELECT DISTINCT device FROM _page)"
        )
    }
    last: dict[tuple, tuple] = {}
    for d, f, t, a, i in con.execute(
        f"SELECT c.device, c.field, c.ts, c.changed_at, c.change_id FROM {pages} "
        "CROSS JOIN changes c ON c.device=p.device AND c.field=p.field AND c.ts=p.ts "
        f"WHERE c.outcome IN ({','.join(repr(o) for o in VALUE_SETTING)})"
    ):
        last[(d, f, t)] = max(last.get((d, f, t), (a, i)), (a, i))
    outcome: list[str] = []
    before: list[Any] = []
    judged: list[int] = []  # rows that set their reading: outcome by the same-value rule
    writes: dict[tuple, Any] = {}
    for k in rows:
        key = (int(page["device"][k]), int(page["field"][k]), int(page["ts"][k]))
        this = (int(page["changed_at"][k]), page["change_id"][k])
        value = current.get(key)
        before.append(value)
        lo_hi = coverage.get(key[0])
        if lo_hi is None or not lo_hi[0] <= key[2] < lo_hi[1]:
            outcome.append("out_of_range")
        elif key in last and this <= last[key]:
            outcome.append("superseded")
        else:
            judged.append(len(outcome))
            outcome.append("conflict")
            current[key] = writes[key] = page["new_value"][k]
            last[key] = this
    if judged:
        # judged against the value just before each change (``before``), all at once
        at = [rows[j] for j in judged]
        held = np.array([before[j] for j in judged], dtype=object)
        prev = np.array([page["previous_value"][k] for k in at], dtype=object)
        new = np.array([page["new_value"][k] for k in at], dtype=object)
        was_prev, was_new = same_values(prev, held), same_values(new, held)
        for j, p, n in zip(judged, was_prev, was_new, strict=True):
            outcome[j] = "applied" if p else "current" if n else "conflict"
    put = [(org, *key, v) for key, v in writes.items() if v is not None]
    con.executemany(
        "INSERT INTO readings(org, device, field, ts, value) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(org, device, field, ts) DO UPDATE SET value=excluded.value",
        put,
    )
    con.executemany(
        "DELETE FROM readings WHERE org=? AND device=? AND field=? AND ts=?",
        [(org, *key) for key, v in writes.items() if v is None],
    )
    return outcome, before
