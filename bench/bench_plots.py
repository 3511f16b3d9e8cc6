"""Plot data preparation on a big frame: the carpet matrix (local day × hour, DST-exact).

``plots.carpet_matrix`` on hourly consumption of many devices for a year (one frame, summed
per local day and hour in Europe/Berlin), against

- naive: a Python loop over the rows (``tz_convert`` per timestamp, dict accumulation),
  the way one writes it without pandas — timed on a slice and scaled per row;
- floor: the minimal vectorised work on the same input — one ``tz_convert`` of the index
  and one ``np.bincount`` on (day, hour) codes.

Ratios: ``naive / ours`` (target >= 50) and ``ours / floor`` (target <= 2).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from bench.harness import best_time, result
from waltero_frames.notebook import plots

TZ = "Europe/Berlin"


def make_frame(n_devices: int) -> pd.DataFrame:
    hours = pd.date_range("2025-12-31T23:00Z", "2026-12-31T23:00Z", freq="h", inclusive="left")
    rng = np.random.default_rng(0)
    idx = np.tile(hours.asi8, n_devices)
    return pd.DataFrame(
        {
            "device_id": pd.Categorical.from_codes(
                np.repeat(np.arange(n_devices), len(hours)), [f"d{i:04d}" for i in range(n_devices)]
            ),
            "consumption": rng.gamma(2.0, 0.5, size=len(idx)),
        },
        index=pd.DatetimeIndex(pd.to_datetime(idx, utc=True), name="period_start"),
    )


def naive(frame: pd.DataFrame) -> dict:
    cells: dict = {}
    for ts, value in zip(frame.index, frame["consumption"].to_numpy(), strict=True):
        local = ts.tz_convert(TZ)
        key = (local.date(), local.hour)
        cells[key] = cells.get(key, 0.0) + value
    return cells


def floor(frame: pd.DataFrame) -> np.ndarray:
    local = frame.index.tz_convert(TZ).tz_localize(None)
    ns = local.asi8 if local.unit == "ns" else local.as_unit("ns").asi8
    day = ns // 86_400_000_000_000
    code = (day - day.min()) * 24 + (ns // 3_600_000_000_000) % 24
    return np.bincount(code, weights=frame["consumption"].to_numpy())


def run(quick: bool) -> list[dict]:
    n_devices = 50 if quick else 1000
    frame = make_frame(n_devices)
    rows = len(frame)
    grid = plots.carpet_matrix(frame, tz=TZ)
    # same totals three ways: the benchmark compares equal work
    np.testing.assert_allclose(np.nansum(grid.to_numpy()), frame["consumption"].sum(), rtol=1e-9)
    np.testing.assert_allclose(floor(frame).sum(), frame["consumption"].sum(), rtol=1e-9)
    ours = best_time(lambda: plots.carpet_matrix(frame, tz=TZ), repeat=3)
    fl = best_time(lambda: floor(frame), repeat=3)
    sample = frame.iloc[: min(rows, 20_000)]
    t0 = time.perf_counter()
    naive(sample)
    naive_per_row = (time.perf_counter() - t0) / len(sample)
    naive_total = naive_per_row * rows
    size = f"{n_devices} devices x 8760 h = {rows:,} rows"
    return [
        result(
            "carpet_matrix vs naive row loop",
            ratio=naive_total / ours,
            target=">= 50",
            size=size,
            ours_s=round(ours, 3),
            naive_s_extrapolated=round(naive_total, 1),
        ),
        result(
            "carpet_matrix vs floor (tz_convert + bincount)",
            ratio=ours / fl,
            target="<= 2",
            size=size,
            ours_s=round(ours, 3),
            floor_s=round(fl, 3),
            ours_mrows_per_s=round(rows / ours / 1e6, 1),
        ),
    ]
