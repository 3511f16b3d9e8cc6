"""Mirror benchmarks.

1. ``mirror_apply_changes``: apply 100,000 changes (pages of 200, as a sync does) to a
   mirror of 10 M readings built directly through the store API. Target < 30 s; side by
   side: the naive way (one SELECT/UPDATE/INSERT and one commit per change, measured on a
   sample and scaled) and the floor (one ``executemany`` UPDATE of the same rows by key in
   one transaction, no bookkeeping).
2. ``mirror_readings``: ``Mirror.readings`` of a store-built mirror (ours vs
   ``read_sql`` + ``pivot_table`` vs the bare SQLite fetch).
3. ``mirror_incremental_no_news``: a second sync of the demo organization right after the
   first, against the simulator over real HTTP: the requests it makes, counted from the
   simulator's log (target: a handful), next to the naive way (re-download the range: the
   first sync's requests) and the floor (one changelog page), and its wall time.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.harness import result
from waltero_frames.mirror.store import Store

RAW = "meter.value.raw"
PROC = "meter.value.processed"
#: Organization id of the store-built mirrors (``Mirror.readings`` takes UUIDs only).
BENCH_ORG = "00000000-0000-0000-0000-0000000be4c0"
STEP_MS = 900_000
T0_MS = int(pd.Timestamp("2025-01-01T00:00Z").value // 1_000_000)


def build_mirror(path: Path, n_devices: int, n_ts: int) -> tuple[Store, int, np.ndarray]:
    """A mirror of ``n_devices × 2 fields × n_ts`` readings, written through the store API."""
    store = Store(path)
    org = store.org_code(BENCH_ORG)
    ids = [f"dev-{i:05d}" for i in range(n_devices)]
    store.upsert_devices(
        org,
        pd.DataFrame(
            {"multiplier": 0.001, "fields": [(RAW, PROC)] * n_devices},
            index=pd.Index(ids, name="device_id"),
        ),
    )
    codes = store.device_codes(ids)
    raw_c, proc_c = store.field_codes([RAW, PROC])
    ts = T0_MS + STEP_MS * np.arange(n_ts, dtype=np.int64)
    raw = np.arange(n_ts, dtype=np.int64) * 7 + 1_000
    for code in codes:
        field = np.repeat(np.array([raw_c, proc_c]), n_ts)
        store.insert_readings(
            org,
            np.full(2 * n_ts, code),
            field,
            np.concatenate([ts, ts]),
            np.concatenate([raw.astype(float), raw * 0.001]),
        )
        store.set_coverage(org, int(code), int(ts[0]), int(ts[-1]) + 1, int(ts[-1]))
    return store, org, codes


def make_changes(n: int, n_devices: int, n_ts: int, seed: int = 0) -> pd.DataFrame:
    """``n`` raw-register changes in the ``changes`` layout: mostly matching the mirror,
    5 % conflicts, 2 % a second correction of an already corrected reading; 50 changes share
    each ``changed_at``."""
    rng = np.random.default_rng(seed)
    dev = rng.integers(0, n_devices, n)
    k = rng.integers(0, n_ts, n)
    again = rng.random(n) < 0.02
    dev[again] = np.roll(dev, 1)[again]
    k[again] = np.roll(k, 1)[again]
    prev = (k * 7 + 1_000).astype(float)
    prev[rng.random(n) < 0.05] += 3
    new = prev + rng.integers(1, 100, n)
    at = T0_MS + STEP_MS * n_ts + 1_000 * (np.arange(n) // 50)
    return pd.DataFrame(
        {
            "change_id": [f"chg_{i:011d}" for i in range(n)],
            "device_id": [f"dev-{d:05d}" for d in dev],
            "field": RAW,
            "timestamp": pd.to_datetime(T0_MS + STEP_MS * k, unit="ms", utc=True),
            "previous_value": prev,
            "new_value": new,
            "actor": "system",
        },
        index=pd.DatetimeIndex(pd.to_datetime(at, unit="ms", utc=True), name="changed_at"),
    )


def apply_in_pages(store: Store, org: int, changes: pd.DataFrame, page: int = 200) -> dict:
    totals: dict[str, int] = {}
    for lo in range(0, len(changes), page):
        for k, v in store.apply_changes(org, changes.iloc[lo : lo + page]).items():
            totals[k] = totals.get(k, 0) + v
    return totals


def naive_apply(path: Path, org: int, changes: pd.DataFrame, codes: dict, raw_c: int) -> None:
    """One change at a time: look it up, read the reading, write it, record it, commit."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE IF NOT EXISTS naive_changes (change_id TEXT PRIMARY KEY)")
    ts = (changes["timestamp"].astype("int64") // 1_000_000).tolist()
    for cid, dev, t, new in zip(
        changes["change_id"], changes["device_id"], ts, changes["new_value"], strict=True
    ):
        con.execute("BEGIN")
        if con.execute("SELECT 1 FROM naive_changes WHERE change_id=?", (cid,)).fetchone():
            con.execute("COMMIT")
            continue
        key = (org, codes[dev], raw_c, t)
        con.execute(
            "SELECT value FROM readings WHERE org=? AND device=? AND field=? AND ts=?", key
        ).fetchone()
        con.execute(
            "UPDATE readings SET value=? WHERE org=? AND device=? AND field=? AND ts=?",
            (float(new), *key),
        )
        con.execute("INSERT INTO naive_changes VALUES (?)", (cid,))
        con.execute("COMMIT")
    con.close()


def floor_apply(path: Path, org: int, changes: pd.DataFrame, codes: dict, raw_c: int) -> None:
    """The least work possible: one executemany UPDATE by key in one transaction."""
    con = sqlite3.connect(path, isolation_level=None)
    ts = (changes["timestamp"].astype("int64") // 1_000_000).tolist()
    rows = [
        (float(v), org, codes[d], raw_c, t)
        for v, d, t in zip(changes["new_value"], changes["device_id"], ts, strict=True)
    ]
    con.execute("BEGIN")
    con.executemany(
        "UPDATE readings SET value=? WHERE org=? AND device=? AND field=? AND ts=?", rows
    )
    con.execute("COMMIT")
    con.close()


def bench_apply_changes(quick: bool) -> dict:
    n_devices, n_ts, n_changes = (20, 5_000, 5_000) if quick else (100, 50_000, 100_000)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite"
        t0 = time.perf_counter()
        store, org, codes = build_mirror(path, n_devices, n_ts)
        build_s = time.perf_counter() - t0
        n_readings = store.scalar("SELECT count(*) FROM readings")
        changes = make_changes(n_changes, n_devices, n_ts)
        t0 = time.perf_counter()
        totals = apply_in_pages(store, org, changes)
        ours = time.perf_counter() - t0
        applied_rows = store.scalar("SELECT count(*) FROM changes")
        (raw_c,) = store.field_codes([RAW])
        store.close()
        code_of = {f"dev-{i:05d}": int(c) for i, c in enumerate(codes)}
        sample = changes.iloc[: min(2_000, n_changes)]
        t0 = time.perf_counter()
        naive_apply(path, org, sample, code_of, int(raw_c))
        naive = (time.perf_counter() - t0) * n_changes / len(sample)
        t0 = time.perf_counter()
        floor_apply(path, org, changes, code_of, int(raw_c))
        floor = time.perf_counter() - t0
    return result(
        "mirror_apply_changes",
        ratio=ours / 30.0,
        target="<= 1",
        size=f"{n_changes:,} changes onto {n_readings:,} readings",
        seconds=round(ours, 2),
        target_seconds=30,
        naive_seconds_scaled=round(naive, 2),
        floor_seconds=round(floor, 2),
        vs_naive=round(naive / ours, 2),
        vs_floor=round(ours / floor, 2),
        changes_recorded=applied_rows,
        conflicts=totals.get("conflict", 0),
        superseded=totals.get("superseded", 0),
        build_seconds=round(build_s, 1),
    )


def bench_readings(quick: bool) -> dict:
    """``Mirror.readings`` (SQLite → the telemetry layout) next to the naive way
    (``pandas.read_sql`` + ``pivot_table``) and the floor (the SQLite fetch alone)."""
    import waltero_frames as wf

    n_devices, n_ts = (10, 10_000) if quick else (40, 50_000)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite"
        store, org, _ = build_mirror(path, n_devices, n_ts)
        store.close()
        mirror = wf.Mirror(path)
        t0 = time.perf_counter()
        frame = mirror.readings(BENCH_ORG)
        ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        mirror.store.read_readings(org)
        floor = time.perf_counter() - t0
        con = sqlite3.connect(path)
        t0 = time.perf_counter()
        naive = pd.read_sql("SELECT device, field, ts, value FROM readings", con).pivot_table(
            index=["ts", "device"], columns="field", values="value", aggfunc="first"
        )
        naive_s = time.perf_counter() - t0
        con.close()
        mirror.close()
    assert len(naive) == len(frame)
    return result(
        "mirror_readings",
        ratio=ours / floor,
        target="<= 2",
        size=f"{n_devices * n_ts:,} readings ({2 * n_devices * n_ts:,} values) -> "
        f"{len(frame):,} rows",
        seconds=round(ours, 2),
        naive_seconds=round(naive_s, 2),
        floor_seconds=round(floor, 2),
        vs_naive=round(naive_s / ours, 2),
    )


def bench_incremental_no_news(quick: bool) -> dict:
    """Two syncs in a row with ``end=None`` against a simulator whose clock runs in real
    time (when the real date lies inside the demo data; otherwise both syncs end at the
    data's end): the second one has (almost) nothing new."""
    import waltero_frames as wf
    from waltero_frames.sim import DEMO_ORG
    from waltero_frames.sim.world.generate import T1

    days = 2 if quick else 14
    now = pd.Timestamp.now(tz="UTC")
    live = now < T1 - pd.Timedelta(days=1)
    knobs = {"rate": None, "login_limit": None}
    if live:
        knobs.update(clock=now.isoformat(), speed=1.0)
    end = None if live else T1
    start = (now if live else T1) - pd.Timedelta(days=days)
    with wf.sim.running(**knobs) as sim, tempfile.TemporaryDirectory() as tmp:
        client = wf.Client(sim.base_url, sim.username, sim.password, progress=False)
        mirror = wf.Mirror(Path(tmp) / "m.sqlite")
        n0 = len(sim.log)
        t0 = time.perf_counter()
        first = mirror.sync(client, DEMO_ORG, start, end)
        first_s = time.perf_counter() - t0
        first_requests = len(sim.log) - n0
        n0 = len(sim.log)
        t0 = time.perf_counter()
        second = mirror.sync(client, DEMO_ORG, None, end)
        second_s = time.perf_counter() - t0
        paths = [r["path"].rsplit("/", 1)[-1] for r in sim.log[n0:]]
        mirror.close()
        client.close()
    requests = len(paths)
    return result(
        "mirror_incremental_no_news",
        ratio=requests,
        target="<= 6",
        size=f"demo org, {first.devices} devices, {days} days, end={'now' if live else 'T1'}",
        requests=requests,
        naive_requests=first_requests,  # a stateless re-download of the range
        floor_requests=1,  # one changelog page
        request_paths=",".join(paths),
        first_sync_requests=first_requests,
        first_sync_seconds=round(first_s, 2),
        incremental_seconds=round(second_s, 3),
        incremental_readings_added=second.readings_added,
        first_readings_added=first.readings_added,
        first_values_added=first.values_added,
    )


def run(quick: bool) -> list[dict]:
    return [bench_apply_changes(quick), bench_readings(quick), bench_incremental_no_news(quick)]
