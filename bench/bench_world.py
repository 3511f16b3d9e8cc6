"""Simulator World benchmarks (the ground truth every test and the server lean on).

1. ``world_telemetry_window``: one telemetry answer's data: 31 days of a 15-min meter,
   4 fields, as of now (changes applied). Ours: ``World.window`` (binary search + the
   few changes inside the window). Naive: mask the whole year and filter the whole
   changes frame per call. Floor: bare ``searchsorted`` slices of the stored arrays.
2. ``world_part1_year``: Part 1 day rows of the demo organization for the whole year.
   Ours: ``daily_consumption_rows`` (searchsorted + telescoped sums per period).
   Naive: a per-reading Python loop accumulating deltas per day. Floor: fetch the
   series and ``bincount`` deltas by day, no rows built.
3. ``world_generate``: generating a seed from scratch (target < 3 s).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.harness import best_time, result
from waltero_frames.sim.world import model as world_module
from waltero_frames.sim.world.model import DEMO_ORG, World

RAW, PROC = "meter.value.raw", "meter.value.processed"
FIELDS = (RAW, PROC, "battery.voltage", "connection.rssi")
DEVICE = "11111111-1111-1111-1111-111111111101"  # 15-min meter
START, END = pd.Timestamp("2026-05-01T00:00Z"), pd.Timestamp("2026-06-01T00:00Z")
DAY_MS = 86_400_000


def _naive_window(world: World, device: str, field: str):
    ts, values = world._base.series[device][field]
    lo, hi = START.value // 10**6, END.value // 10**6
    keep = (ts >= lo) & (ts < hi)
    ts, values = ts[keep], values[keep].copy()
    ch = world.changes()
    ch = ch[(ch["device_id"] == device) & (ch["field"] == field)]
    for row in ch.itertuples():
        hit = np.flatnonzero(ts == row.timestamp.value // 10**6)
        values[hit] = row.new_value
    return ts, values


def _floor_window(world: World, device: str, field: str):
    ts, values = world._base.series[device][field]
    i0, i1 = np.searchsorted(ts, [START.value // 10**6, END.value // 10**6])
    return ts[i0:i1], values[i0:i1]


def _naive_part1(world: World, devices) -> dict:
    out = {}
    for dev in devices:
        ts, p = world.series(dev, PROC)
        _, raw = world.series(dev, RAW)
        digits = int(world.devices.loc[dev, "register_digits"])
        wrap = 10**digits * float(world.devices.loc[dev, "multiplier"])
        sums: dict = {}
        for i in range(len(ts)):
            delta = 0.0
            if i:
                delta = p[i] - p[i - 1]
                if (
                    raw[i] < raw[i - 1]
                    and raw[i - 1] >= 0.9 * 10**digits
                    and raw[i] < 0.1 * 10**digits
                ):
                    delta += wrap
            day = int(ts[i]) // DAY_MS
            sums[day] = sums.get(day, 0.0) + delta
        out[dev] = {d: round(v, 6) for d, v in sums.items()}
    return out


def _floor_part1(world: World, devices) -> None:
    for dev in devices:
        ts, p = world.series(dev, PROC)
        days = ts // DAY_MS
        np.bincount(days - days[0], weights=np.diff(p, prepend=p[0]))


def run(quick: bool) -> list[dict]:
    world = World.for_seed(0)
    repeat = 3 if quick else 7

    def ours():
        for f in FIELDS:
            world.window(DEVICE, f, START, END)

    t_ours = best_time(ours, repeat)
    t_naive = best_time(lambda: [_naive_window(world, DEVICE, f) for f in FIELDS], repeat)
    t_floor = best_time(lambda: [_floor_window(world, DEVICE, f) for f in FIELDS], repeat)
    n = sum(world.window(DEVICE, f, START, END)[0].size for f in FIELDS)
    rows = [
        result(
            "world_telemetry_window",
            ratio=t_naive / t_ours,
            target=">= 5",
            size=f"31 days x 4 fields, {n} values",
            ours_ms=round(t_ours * 1e3, 3),
            naive_ms=round(t_naive * 1e3, 3),
            floor_ms=round(t_floor * 1e3, 3),
        )
    ]

    demo = world.devices.index[world.devices["organization_id"] == DEMO_ORG]
    t0, t1 = "2025-12-01T00:00Z", "2026-12-01T00:00Z"
    t_ours = best_time(lambda: world.daily_consumption_rows(DEMO_ORG, t0, t1, "day"), repeat)
    sample = list(demo[:6]) if quick else list(demo)
    t_naive = best_time(lambda: _naive_part1(world, sample), 1) * len(demo) / len(sample)
    t_floor = best_time(lambda: _floor_part1(world, demo), repeat)
    rows.append(
        result(
            "world_part1_year",
            ratio=t_naive / t_ours,
            target=">= 5",
            size=f"{len(demo)} devices x 365 days",
            ours_ms=round(t_ours * 1e3, 1),
            naive_ms=round(t_naive * 1e3, 1),
            naive_scaled_from=f"{len(sample)} devices",
            floor_ms=round(t_floor * 1e3, 1),
        )
    )

    t_gen = best_time(lambda: world_module._generate.__wrapped__(0), 1 if quick else 3)
    rows.append(
        result(
            "world_generate",
            ratio=t_gen / 3.0,
            target="<= 1",
            size=f"{len(world.devices)} devices, 1 year",
            seconds=round(t_gen, 3),
        )
    )
    return rows
