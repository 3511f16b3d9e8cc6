"""Change-point baselines at portfolio scale: 1,000 devices x 2 years of days.

Figures, side by side in one run:
- ``baseline fit s``: ``wf.fit_baseline(daily, temperature, model="auto")`` (all devices at
  once: closed-form OLS for every balance-point candidate from matrix products over a
  devices x days matrix). Issue 12's target: under 1 s.
- ``baseline fit vs per-device lstsq``: the same search written per device, the way it is
  usually written: for each device, one ``numpy.linalg.lstsq`` per candidate model and
  balance point(s) on the same grid, then the same selection (CalTRACK qualification, BIC
  counting the balance points; ours then also refines each device's balance points to
  0.1 K and checks the weather term day to day). The loop is linear in the devices, so it is timed on a
  sample of devices and scaled; both sides are checked to choose the same model and
  balance points for the sample before timing. ``floor``: the bare matrix products our
  fit needs (the grid sums), no selection, no statistics, no frame.
Input: hourly temperature with a seasonal cycle, AR(1) weather and a daily cycle; devices
with heating, cooling, both or no weather response and 4 % noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.harness import best_time, result

TZ = "Europe/Berlin"


def make_inputs(n_devices: int, n_days: int = 730, seed: int = 0):
    """Hourly temperature and a daily consumption frame (resample_consumption's layout)."""
    rng = np.random.default_rng(seed)
    hours = pd.date_range(pd.Timestamp("2024-09-01", tz=TZ), periods=(n_days + 1) * 24, freq="h")
    doy = np.arange(len(hours)) / 24
    anomaly = np.zeros(n_days + 2)
    for i in range(1, len(anomaly)):
        anomaly[i] = 0.8 * anomaly[i - 1] + rng.normal(0, 2.0)
    t = 10 - 9 * np.cos(2 * np.pi * (doy + 245 - 15) / 365.25) + anomaly[doy.astype(int)]
    t += 3 * np.sin(2 * np.pi * (doy - 0.375))
    temp = pd.Series(np.round(t, 1), index=hours.tz_convert("UTC"))
    temp.attrs["tz"] = TZ
    import waltero_frames as wf

    per_day = wf.degree_days(temp)
    days, mean_t = per_day.index[:n_days], per_day["mean_temperature"].to_numpy()[:n_days]
    kind = rng.integers(0, 4, n_devices)  # 0 heating, 1 cooling, 2 both, 3 none
    base = rng.uniform(5, 50, n_devices)[:, None]
    hs = np.where((kind == 0) | (kind == 2), rng.uniform(1, 10, n_devices), 0.0)[:, None]
    cs = np.where((kind == 1) | (kind == 2), rng.uniform(1, 10, n_devices), 0.0)[:, None]
    hb = rng.uniform(12, 18, n_devices)[:, None]
    cb = rng.uniform(19, 24, n_devices)[:, None]
    y = base + hs * np.maximum(0, hb - mean_t) + cs * np.maximum(0, mean_t - cb)
    y *= 1 + rng.normal(0, 0.04, y.shape)
    ids = np.array([f"{k:08d}-0000-4000-8000-{k:012d}" for k in range(n_devices)], dtype=object)
    daily = pd.DataFrame(
        {
            "device_id": pd.array(np.tile(ids, n_days), dtype="str"),
            "consumption": y.T.reshape(-1),
            "coverage": 1.0,
        },
        index=pd.DatetimeIndex(np.repeat(days, n_devices), name="period_start"),
    )
    daily.attrs = {"tz": TZ, "freq": "D"}
    return temp, daily, mean_t, y


def naive_fit(y: np.ndarray, t: np.ndarray, grid: np.ndarray) -> tuple[str, float, float]:
    """One device: lstsq per candidate, CalTRACK qualification, BIC counting balance points."""
    from scipy import stats

    n = len(y)
    sst = ((y - y.mean()) ** 2).sum()
    best = ("intercept", np.nan, np.nan, n * np.log(sst / n) + np.log(n))
    designs = []
    for h in grid:
        designs.append(("heating", h, np.nan, [np.maximum(0, h - t)]))
    for c in grid:
        designs.append(("cooling", np.nan, c, [np.maximum(0, t - c)]))
    for h in grid:
        for c in grid[grid >= h]:
            designs.append(("heating_cooling", h, c, [np.maximum(0, h - t), np.maximum(0, t - c)]))
    for name, h, c, cols in designs:
        if any((x > 0).sum() < 10 for x in cols):
            continue
        x = np.column_stack([np.ones(n), *cols])
        coef, _, rank, _ = np.linalg.lstsq(x, y, rcond=None)
        if rank < x.shape[1]:
            continue
        resid = y - x @ coef
        sse = resid @ resid
        dof = n - x.shape[1]
        se = np.sqrt(np.diag(np.linalg.inv(x.T @ x)) * sse / dof)
        t_stat = coef[1:] / se[1:]
        if (coef[1:] <= 0).any() or (t_stat <= stats.t.isf(0.05, dof)).any():
            continue
        score = n * np.log(sse / n) + (2 * len(cols) + 1) * np.log(n)
        if score < best[3]:
            best = (name, h, c, score)
    return best[0], best[1], best[2]


def run(quick: bool = False) -> list[dict]:
    """Time ours, the per-device loop (sampled and scaled) and the floor."""
    import waltero_frames as wf
    from waltero_frames.analysis.weather import _grid

    n_devices = 50 if quick else 1000
    sample = 1 if quick else 12
    temp, daily, mean_t, y = make_inputs(n_devices)
    size = f"{n_devices} devices x 730 days"
    models = wf.fit_baseline(daily, temp, resolution=None)  # the grid, as the loop searches
    grid = _grid(0.0, 30.0, 0.5)
    for k in range(sample):
        name, h, c = naive_fit(y[k], mean_t, grid)
        got = models.iloc[k]
        same_h = (
            np.isnan(h) and np.isnan(got.heating_balance_point)
        ) or h == got.heating_balance_point
        same_c = (
            np.isnan(c) and np.isnan(got.cooling_balance_point)
        ) or c == got.cooling_balance_point
        if name != got.model or not (same_h and same_c):
            raise AssertionError(f"device {k}: naive {name, h, c} != ours {got.model}")
    t_ours = best_time(lambda: wf.fit_baseline(daily, temp), repeat=3)
    t_sample = best_time(lambda: [naive_fit(y[k], mean_t, grid) for k in range(sample)], repeat=1)
    t_naive = t_sample / sample * n_devices
    mask = np.ones_like(y)
    x = np.maximum(0.0, grid[None, :] - mean_t[:, None])

    def floor() -> None:
        for _ in range(2):  # heating and cooling grids
            _ = (mask @ x, mask @ (x * x), y @ x, mask @ (x > 0).astype(float))

    t_floor = best_time(floor, repeat=3)
    return [
        result(
            "baseline fit s (auto, all devices)",
            ratio=t_ours,
            target="< 1",
            size=size,
            seconds=round(t_ours, 3),
            valid=int(models["valid"].sum()),
        ),
        result(
            "baseline fit vs per-device lstsq loop",
            ratio=t_naive / t_ours,
            target=">= 5",
            size=size,
            ours_s=round(t_ours, 3),
            naive_s=round(t_naive, 1),
            naive_sampled_devices=sample,
            floor_s=round(t_floor, 4),
            ours_vs_floor=round(t_ours / t_floor, 1),
        ),
    ]


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(quick=True), indent=2))
