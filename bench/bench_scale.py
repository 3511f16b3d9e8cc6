"""Portfolios bigger than memory (issue 14): the readings dataset on Dask, the mirror export.

1. ``scale local-day consumption``: a synthetic readings dataset of 5,000 meters read
   every 15 minutes for 41,000 quarter-hours (~14 months; registers of 6–8 digits, some
   starting near the top so they roll over; 2 % of readings missing and a 1–3 day outage
   on one meter in ten: ~200 M readings) is written in the dataset layout, then
   ``resample_consumption(readings_to_consumption(scan_readings(...)), "D")`` (local
   days, Europe/Berlin) runs on a ``LocalCluster`` of two single-threaded worker
   processes. Peak RSS of all processes (scheduler, workers, client: sampled every
   0.1 s, summed) must stay <= 3 GiB; readings per second per core are reported.
2. ``scale cost per reading``: the same at 500 meters (~20 M readings); the cost per
   reading at 200 M divided by the cost at 20 M must be <= 1.3 (no super-linear part).
3. ``mirror export``: ``Mirror.export_parquet`` of a store-built mirror of 50 M readings
   (1,000 meters × 50,000 quarter-hours, raw register) in a fresh process: its peak RSS
   divided by the peak at 5 M readings (100 meters) — bounded memory means about 1
   (target <= 1.5); MB/s of SQLite read and Parquet write reported.

Quick (CI smoke): 40 meters × 2 weeks on the threaded scheduler, 20 × 2,000 mirror,
in this process (the peak figures then include the generation: they mean nothing).
The data are generated under a temporary folder and deleted afterwards.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.harness import result, run_isolated

TZ = "Europe/Berlin"
ORG = "00000000-0000-0000-0000-00000005ca1e"
RAW = "meter.value.raw"
T0 = pd.Timestamp("2025-10-01T00:00Z")
STEP = pd.Timedelta(minutes=15)


def meter_ids(n: int) -> list[str]:
    return [f"{k:08x}-5ca1-4e00-8000-{k:012x}" for k in range(n)]


def make_dataset(path: Path, n_meters: int, n_slots: int, seed: int = 0) -> int:
    """Write a synthetic readings dataset bucket by bucket; return the readings written."""
    from waltero_frames.analysis._frames import str_array
    from waltero_frames.scale.dataset import Dataset

    rng = np.random.default_rng(seed)
    ids = meter_ids(n_meters)
    ds = Dataset.open(path, create=n_meters)
    digits = rng.choice([6, 7, 8], n_meters)
    info = pd.DataFrame(
        {
            "org_id": ORG,
            "tz": TZ,
            "meter_type": rng.choice(["water_cold", "electricity", "heat", "gas"], n_meters),
            "unit": "m3",
            "multiplier": rng.choice([0.001, 0.01, 0.1, 1.0], n_meters),
            "register_digits": digits.astype(float),
        },
        index=pd.Index(ids, name="device_id"),
    )
    ds.register(info)
    bucket = np.array([ds.meta["devices"][d]["bucket"] for d in ids])
    slots = T0.value // 1000 + np.arange(n_slots, dtype=np.int64) * (STEP.value // 1000)
    total = 0
    for b in np.unique(bucket):
        members = np.flatnonzero(bucket == b)
        k = len(members)
        size = 10 ** digits[members]
        start = (rng.uniform(0.05, 0.5, k) * size).astype(np.int64)
        near_top = rng.random(k) < 0.05
        start[near_top] = size[near_top] - 2_000
        inc = rng.poisson(2.0, size=(k, n_slots)).astype(np.int64)
        raw = (start[:, None] + np.cumsum(inc, axis=1)) % size[:, None]
        del inc
        keep = rng.random((k, n_slots)) >= 0.02
        for row in np.flatnonzero(rng.random(k) < 0.1):  # an outage of 1-3 days
            at = int(rng.integers(0, max(1, n_slots - 300)))
            keep[row, at : at + int(rng.integers(96, 289))] = False
        codes = np.repeat(np.arange(k, dtype=np.int16), n_slots)[keep.ravel()]
        ts = np.tile(slots, k)[keep.ravel()]
        regs = raw.ravel()[keep.ravel()].astype(float)
        del raw
        mult = info["multiplier"].to_numpy()[members][codes]
        frame = pd.DataFrame(
            {
                "device_id": str_array(codes, pd.Index(np.asarray(ids, dtype=object)[members])),
                RAW: regs,
                "value": np.round(regs * mult, 6),
            },
            index=pd.DatetimeIndex(ts.view("M8[us]"), name="timestamp").tz_localize("UTC"),
        )
        ds.write_bucket(ORG, int(b), frame)
        total += len(frame)
    ds.save()
    return total


def compute(path: str, tz: str, workers: int) -> dict:
    """Local-day consumption of every device of the dataset; wall time and peak RSS.

    The RSS of this process and all its children (the cluster's scheduler and worker
    processes) is summed every 0.1 s; the peak of the sum is reported.
    """
    import os

    import psutil

    import waltero_frames as wf

    peak = [0]
    stop = threading.Event()
    me = psutil.Process(os.getpid())

    def sample() -> None:
        while not stop.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):  # a process that just ended
                    total += proc.memory_info().rss
            peak[0] = max(peak[0], total)
            stop.wait(0.1)

    threading.Thread(target=sample, daemon=True).start()
    cluster = client = None
    if workers:
        from dask.distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            memory_limit=0,
        )
        client = Client(cluster)
    try:
        t0 = time.perf_counter()
        ddf = wf.scan_readings(path, fields=[RAW])
        days = wf.resample_consumption(wf.readings_to_consumption(ddf), "D", tz=tz)
        out = days.compute() if client else days.compute(scheduler="threads", num_workers=2)
        seconds = time.perf_counter() - t0
    finally:
        stop.set()
        if client is not None:
            client.close()
            cluster.close()
    return {
        "seconds": seconds,
        "periods": len(out),
        "devices": int(out["device_id"].nunique()),
        "peak_all_mb": peak[0] / 2**20,
        "partitions": ddf.npartitions,
    }


ISOLATED = """
import json
from bench.bench_scale import {fn}
print(json.dumps({fn}(*{args!r})))
"""


def isolated(fn: str, *args: object, quick: bool) -> dict:
    """Run ``fn(*args)`` of this module in a fresh process (full runs) or here (quick)."""
    if quick:
        return globals()[fn](*args)
    return run_isolated(ISOLATED.format(fn=fn, args=args), timeout=3600)


def build_store(path: Path, n_devices: int, n_ts: int) -> int:
    """A mirror of ``n_devices × n_ts`` raw readings written through the store API."""
    from waltero_frames.mirror.store import Store

    store = Store(path)
    org = store.org_code(ORG)
    ids = meter_ids(n_devices)
    store.upsert_devices(
        org,
        pd.DataFrame(
            {"multiplier": 0.001, "register_digits": 8, "meter_type": "water_cold",
             "fields": [(RAW,)] * n_devices},
            index=pd.Index(ids, name="device_id"),
        ),
    )  # fmt: skip
    store.set_org_timezone(org, TZ)
    codes = store.device_codes(ids)
    (raw_c,) = store.field_codes([RAW])
    ts = T0.value // 1_000_000 + (STEP.value // 1_000_000) * np.arange(n_ts, dtype=np.int64)
    raw = (np.arange(n_ts, dtype=np.int64) * 3 + 1_000).astype(float)
    for code in codes:
        store.insert_readings(org, np.full(n_ts, code), np.full(n_ts, raw_c), ts, raw)
    store.close()
    return n_devices * n_ts


def export(db: str, out: str, org: str) -> dict:
    """``Mirror.export_parquet`` of one organization: wall time and peak RSS (MiB)."""
    import resource

    import waltero_frames as wf

    t0 = time.perf_counter()
    with wf.Mirror(db) as mirror:
        mirror.export_parquet(out, org)
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def export_run(tmp: Path, n_devices: int, n_ts: int, quick: bool) -> dict:
    db = tmp / f"mirror-{n_devices}.sqlite"
    n = build_store(db, n_devices, n_ts)
    out = tmp / f"export-{n_devices}"
    got = isolated("export", str(db), str(out), ORG, quick=quick)
    got["readings"] = n
    got["db_mb"] = db.stat().st_size / 2**20
    got["parquet_mb"] = sum(f.stat().st_size for f in out.rglob("*.parquet")) / 2**20
    db.unlink()
    shutil.rmtree(out)
    return got


def run(quick: bool) -> list[dict]:
    tmp = Path(tempfile.mkdtemp(prefix="bench_scale_", dir="/tmp"))
    out = []
    try:
        sizes = [(40, 1_344), (4, 1_344)] if quick else [(5_000, 41_000), (500, 41_000)]
        workers = 0 if quick else 2
        runs = []
        for n_meters, n_slots in sizes:
            path = tmp / f"ds-{n_meters}"
            t0 = time.perf_counter()
            n = make_dataset(path, n_meters, n_slots)
            gen_s = time.perf_counter() - t0
            disk = sum(f.stat().st_size for f in path.rglob("*.parquet")) / 2**20
            got = isolated("compute", str(path), TZ, workers, quick=quick)
            shutil.rmtree(path)
            got.update(readings=n, meters=n_meters, generate_s=round(gen_s, 1), disk_mb=disk)
            runs.append(got)
        big, small = runs
        cores = 2
        size = f"{big['meters']:,} meters x {sizes[0][1]:,} quarter-hours = {big['readings'] / 1e6:.1f} M readings"
        out.append(
            result(
                "scale local-day consumption: peak RSS of all processes (GiB)",
                ratio=big["peak_all_mb"] / 1024,
                target="<= 3",
                size=size,
                seconds=round(big["seconds"], 1),
                readings_per_s_per_core=round(big["readings"] / big["seconds"] / cores),
                workers=f"{workers} processes x 1 thread" if workers else "threads (quick)",
                partitions=big["partitions"],
                periods=big["periods"],
                dataset_mb=round(big["disk_mb"]),
                generate_s=big["generate_s"],
            )
        )
        per_big = big["seconds"] / big["readings"]
        per_small = small["seconds"] / small["readings"]
        out.append(
            result(
                "scale cost per reading 200 M / 20 M",
                ratio=per_big / per_small,
                target="<= 1.3",
                size=f"{big['readings'] / 1e6:.1f} M vs {small['readings'] / 1e6:.1f} M readings",
                big_s=round(big["seconds"], 1),
                small_s=round(small["seconds"], 1),
                small_peak_all_mb=round(small["peak_all_mb"]),
            )
        )
        (bd, bt), (sd, st) = (
            ((20, 2_000), (4, 2_000)) if quick else ((1_000, 50_000), (100, 50_000))
        )
        big_x = export_run(tmp, bd, bt, quick)
        small_x = export_run(tmp, sd, st, quick)
        out.append(
            result(
                "mirror export peak RSS 50 M / 5 M readings",
                ratio=big_x["peak_mb"] / small_x["peak_mb"],
                target="<= 1.5",
                size=f"{big_x['readings'] / 1e6:.1f} M vs {small_x['readings'] / 1e6:.1f} M readings",
                peak_mb=round(big_x["peak_mb"]),
                small_peak_mb=round(small_x["peak_mb"]),
                seconds=round(big_x["seconds"], 1),
                readings_per_s=round(big_x["readings"] / big_x["seconds"]),
                sqlite_mb=round(big_x["db_mb"]),
                parquet_mb=round(big_x["parquet_mb"]),
            )
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


if __name__ == "__main__":  # pragma: no cover - manual run of one size
    import sys

    print(json.dumps(run("--quick" in sys.argv), indent=1))
