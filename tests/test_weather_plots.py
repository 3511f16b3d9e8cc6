"""wf.plots.energy_signature and wf.plots.cusum on hand-built frames (Agg backend)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import waltero_frames as wf
from waltero_frames.notebook import plots

TZ = "Europe/Berlin"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def signature_inputs():
    days = pd.date_range(pd.Timestamp("2026-01-01", tz=TZ), periods=60, freq="D")
    mean_t = np.linspace(-5, 25, 60)
    hourly = pd.Series(
        np.repeat(mean_t, 24),
        index=pd.date_range(pd.Timestamp("2026-01-01", tz=TZ), periods=60 * 24, freq="h"),
    )
    use = 10 + 3 * np.maximum(0, 15 - mean_t)
    daily = pd.DataFrame(
        {"device_id": "heat-1", "consumption": use},
        index=days.tz_convert("UTC").rename("period_start"),
    )
    daily.attrs = {"tz": TZ, "freq": "D", "unit": "kWh"}
    models = pd.DataFrame(
        {
            "model": ["heating"],
            "base_load": [10.0],
            "heating_slope": [3.0],
            "heating_balance_point": [15.0],
            "cooling_slope": [np.nan],
            "cooling_balance_point": [np.nan],
            "valid": [True],
        },
        index=pd.Index(["heat-1"], name="device_id"),
    )
    models.attrs["tz"] = TZ
    return daily, hourly, models, mean_t, use


def test_energy_signature_points_line_and_balance_point(signature_inputs):
    daily, hourly, models, mean_t, use = signature_inputs
    ax = plots.energy_signature(daily, hourly, models)
    points = ax.collections[0].get_offsets()
    assert np.allclose(points[:, 0], mean_t) and np.allclose(points[:, 1], use)
    line = ax.lines[0]
    x, y = line.get_xdata(), line.get_ydata()
    assert np.allclose(y, 10 + 3 * np.maximum(0, 15 - x))  # the model drawn exactly
    assert any(np.allclose(v.get_xdata(), 15.0) for v in ax.lines[1:])  # balance point
    assert "kWh" in ax.get_ylabel() and "°C" in ax.get_xlabel()
    assert wf.plots.energy_signature is plots.energy_signature


def test_energy_signature_needs_one_device_and_a_daily_frame(signature_inputs):
    daily, hourly, models, *_ = signature_inputs
    two = pd.concat([daily, daily.assign(device_id="heat-2")])
    with pytest.raises(ValueError, match="pass device="):
        plots.energy_signature(two, hourly)
    with pytest.raises(ValueError, match="lacks column"):
        plots.energy_signature(daily.rename(columns={"consumption": "x"}), hourly)


def test_cusum_plot_draws_each_meter_and_marks_the_date():
    idx = pd.DatetimeIndex(
        np.repeat(pd.date_range("2026-01-05", periods=3, freq="D", tz="UTC"), 2),
        name="period_start",
    )
    frame = pd.DataFrame(
        {"device_id": ["a", "b"] * 3, "cusum": [0.0, 1.0, 2.0, 2.0, 1.0, 4.0]}, index=idx
    )
    ax = plots.cusum(frame, mark="2026-01-06", unit="kWh")
    drawn = {line.get_label(): line.get_ydata().tolist() for line in ax.lines[:2]}
    assert drawn == {"a": [0.0, 2.0, 1.0], "b": [1.0, 2.0, 4.0]}
    assert "kWh" in ax.get_ylabel()
    with pytest.raises(ValueError, match="cusum"):
        plots.cusum(frame.drop(columns="cusum"))
