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
4. ``world_weather_year``: one answer of the weather route (``GET /v1/archive``) for a
   year of hourly temperature, JSON bytes included. Ours: ``archive_body`` (one slice of the
   site's array, day strings x 24 hour suffixes). Naive: select the org's rows of the long
   ``World.weather`` frame with pandas, ``strftime`` every hour. Floor: the bare slice
   serialized (no time strings).
"""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd

from bench.harness import best_time, result
from waltero_frames.sim.app.state import SimState
from waltero_frames.sim.app.weather import archive_body
from waltero_frames.sim.config import SimConfig
from waltero_frames.sim.world import model as world_module
from waltero_frames.sim.world.model import DEMO_ORG, World
from waltero_frames.sim.world.weather import WEATHER_START_MS

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
            size=f"{len(world.devices)} devices, 1 year (heat and gas 2.25 years), weather",
            seconds=round(t_gen, 3),
        )
    )
    rows.append(_weather_year(world, repeat))
    return rows


def _weather_year(world: World, repeat: int) -> dict:
    state = SimState(world, SimConfig())
    query = {
        "latitude": "52.52",
        "longitude": "13.41",
        "start_date": "2025-01-01",
        "end_date": "2025-12-31",
        "hourly": "temperature_2m",
        "timezone": "GMT",
    }
    opt = orjson.OPT_SERIALIZE_NUMPY

    def ours():
        return orjson.dumps(archive_body(state, query), option=opt)

    def naive():
        w = world.weather
        t = w.loc[w["organization_id"] == DEMO_ORG, "temperature"]
        t = t[pd.Timestamp("2025-01-01T00:00Z") : pd.Timestamp("2025-12-31T23:00Z")]
        values = [None if v != v else v for v in t.tolist()]
        times = list(t.index.strftime("%Y-%m-%dT%H:%M"))
        return orjson.dumps({"hourly": {"time": times, "temperature_2m": values}})

    def floor():
        first = (pd.Timestamp("2025-01-01T00:00Z").value // 10**6 - WEATHER_START_MS) // 3_600_000
        return orjson.dumps(state_slice[first : first + 8760], option=opt)

    state_slice = world._base.served_weather[DEMO_ORG]
    assert orjson.loads(ours())["hourly"] == orjson.loads(naive())["hourly"]
    t_ours, t_naive, t_floor = (best_time(f, repeat) for f in (ours, naive, floor))
    return result(
        "world_weather_year",
        ratio=t_naive / t_ours,
        target=">= 10",
        size="8760 hours, one site",
        ours_ms=round(t_ours * 1e3, 2),
        naive_ms=round(t_naive * 1e3, 2),
        floor_ms=round(t_floor * 1e3, 2),
    )
