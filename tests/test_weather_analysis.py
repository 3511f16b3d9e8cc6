"""Degree days, baselines, predictions, CUSUM and normalisation against hand computations
and independent least-squares fits (numpy.linalg.lstsq per device)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import waltero_frames as wf


def hourly(start: str, values, tz: str) -> pd.Series:
    """Hourly temperature from a local start (one value per real hour)."""
    idx = pd.date_range(pd.Timestamp(start, tz=tz), periods=len(values), freq="h")
    return pd.Series(np.asarray(values, dtype=float), index=idx.tz_convert("UTC"))


# ------------------------------------------------------------------ degree days
@pytest.mark.parametrize(
    ("tz", "day", "hours"),
    [
        ("Europe/Berlin", "2026-03-29", 23),
        ("Europe/Berlin", "2026-10-25", 25),
        ("Australia/Sydney", "2026-04-05", 25),
        ("Australia/Sydney", "2026-10-04", 23),
    ],
)
def test_degree_days_on_dst_days_equal_a_hand_computation(tz, day, hours):
    # the DST day and the day after, hour k of the DST day at 2 + k/2 °C
    values = [2 + k / 2 for k in range(hours)] + [20.0] * 24
    t = hourly(day, values, tz)
    dd = wf.degree_days(t, tz=tz)
    start = pd.Timestamp(day, tz=tz)
    assert list(dd.index) == [start, start + pd.Timedelta(hours=hours)]
    mean = 2 + (hours - 1) / 4  # mean of 2, 2.5, ... over the day's real hours
    assert dd["mean_temperature"].iloc[0] == pytest.approx(mean)
    assert dd["degree_days"].iloc[0] == pytest.approx(15.5 - mean)
    assert dd["coverage"].tolist() == [1.0, 1.0]
    assert dd["degree_days"].iloc[1] == 0.0  # 20 °C: above the base
    # min/max: Tmax = 2 + (hours-1)/2 < 15.5 → B − (Tmax + Tmin)/2
    mm = wf.degree_days(t, tz=tz, method="min_max")
    tmax = 2 + (hours - 1) / 2
    assert mm["degree_days"].iloc[0] == pytest.approx(15.5 - (2 + tmax) / 2)
    cool = wf.degree_days(t, tz=tz, kind="cooling", base=18)
    assert cool["degree_days"].tolist() == pytest.approx([0.0, 2.0])


@pytest.mark.parametrize(
    ("tmin", "tmax", "heating", "cooling"),
    [
        (2.0, 10.0, 15.5 - 6.0, 0.0),  # all below the base
        (10.0, 18.0, (15.5 - 10) / 2 - (18 - 15.5) / 4, (18 - 15.5) / 4),  # mostly below
        (14.0, 24.0, (15.5 - 14) / 4, (24 - 15.5) / 2 - (15.5 - 14) / 4),  # mostly above
        (16.0, 25.0, 0.0, 20.5 - 15.5),  # all above
    ],
)
def test_met_office_equations(tmin, tmax, heating, cooling):
    values = np.full(24, (tmin + tmax) / 2)
    values[4], values[15] = tmin, tmax
    t = hourly("2026-01-05", values, "UTC")
    h = wf.degree_days(t, method="min_max")
    c = wf.degree_days(t, method="min_max", kind="cooling")
    assert h["degree_days"].iloc[0] == pytest.approx(heating)
    assert c["degree_days"].iloc[0] == pytest.approx(cooling)
    assert h["mean_temperature"].iloc[0] == pytest.approx((tmin + tmax) / 2)


def test_low_coverage_days_are_nan_and_longer_periods_sum_days():
    values = np.full(24 * 14, 5.5)  # 10 degree days a day, Mon 2026-01-05 .. Sun 01-18
    values[24 * 2 : 24 * 2 + 5] = np.nan  # Wednesday: 19 of 24 hours (79 %)
    values[24 * 3 : 24 * 3 + 4] = np.nan  # Thursday: 20 of 24 hours (83 %)
    t = hourly("2026-01-05", values, "Europe/Berlin")
    t.attrs["tz"] = "Europe/Berlin"  # the default zone of the frame
    daily = wf.degree_days(t)
    assert daily.attrs["tz"] == "Europe/Berlin"
    assert np.isnan(daily["degree_days"].iloc[2]) and daily["coverage"].iloc[2] == 19 / 24
    assert daily["degree_days"].iloc[3] == 10.0
    weekly = wf.degree_days(t, freq="W")
    assert weekly["degree_days"].tolist() == [60.0, 70.0]
    assert weekly["coverage"].tolist() == pytest.approx([6 / 7, 1.0])
    monthly = wf.degree_days(t, freq="month")
    assert monthly.index[0] == pd.Timestamp("2026-01-01", tz="Europe/Berlin")
    assert monthly["degree_days"].iloc[0] == 130.0
    assert monthly["coverage"].iloc[0] == pytest.approx(13 / 31)  # days of January
    assert monthly["mean_temperature"].iloc[0] == 5.5


def test_frame_input_and_empty_layout():
    t = hourly("2026-01-05", np.full(24, 0.5), "UTC").to_frame("temperature")
    assert wf.degree_days(t)["degree_days"].tolist() == [15.0]
    empty = wf.degree_days(t.iloc[:0])
    assert list(empty.columns) == ["degree_days", "mean_temperature", "coverage"]
    assert empty.index.name == "period_start" and str(empty.index.tz) == "UTC"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"base": 41}, "base=41"),
        ({"base": -31}, "base=-31"),
        ({"kind": "heat"}, "kind='heat'"),
        ({"method": "median"}, "method='median'"),
        ({"freq": "h"}, "freq='h'"),
        ({"tz": "Nowhere/Land"}, "Nowhere/Land"),
    ],
)
def test_degree_day_arguments(kwargs, match):
    t = hourly("2026-01-05", np.zeros(24), "UTC")
    with pytest.raises(ValueError, match=match):
        wf.degree_days(t, **kwargs)


def test_naive_index_is_refused():
    t = pd.Series(1.0, index=pd.date_range("2026-01-05", periods=24, freq="h"))
    with pytest.raises(ValueError, match="naive"):
        wf.degree_days(t)


# ------------------------------------------------------------------ baselines
TZ = "Europe/Berlin"
N_DAYS = 400


@pytest.fixture(scope="module")
def weather_and_truth():
    """Hourly temperature (seasonal + AR(1) weather + daily cycle) and devices of known
    parameters: heating, cooling, heating_cooling and flat ones, with 4 % noise."""
    rng = np.random.default_rng(7)
    n_hours = N_DAYS * 24 + 3
    hours = pd.date_range(pd.Timestamp("2025-01-01", tz=TZ), periods=n_hours, freq="h")
    doy = np.arange(n_hours) / 24
    anomaly = np.zeros(N_DAYS + 1)
    for i in range(1, N_DAYS + 1):
        anomaly[i] = 0.8 * anomaly[i - 1] + rng.normal(0, 2.0)
    t = 10 - 9 * np.cos(2 * np.pi * (doy - 15) / 365.25) + anomaly[(doy).astype(int)]
    t += 3 * np.sin(2 * np.pi * (doy - 0.375))
    temp = pd.Series(t, index=hours.tz_convert("UTC"))
    temp.attrs["tz"] = TZ
    per_day = wf.degree_days(temp)  # local days
    days = per_day.index[:N_DAYS]
    mean_t = per_day["mean_temperature"].to_numpy()[:N_DAYS]
    truth = pd.DataFrame(
        {
            "model": ["heating", "heating", "cooling", "heating_cooling", "intercept"],
            "base_load": [50.0, 8.0, 20.0, 30.0, 12.0],
            "heating_slope": [12.0, 1.5, np.nan, 4.0, np.nan],
            "heating_balance_point": [16.0, 13.5, np.nan, 12.0, np.nan],
            "cooling_slope": [np.nan, np.nan, 6.0, 5.0, np.nan],
            "cooling_balance_point": [np.nan, np.nan, 15.0, 17.0, np.nan],
        },
        index=pd.Index(["a-heat", "b-heat", "c-cool", "d-both", "e-flat"], name="device_id"),
    )

    def term(slope, excess):
        return 0.0 if np.isnan(slope) else slope * np.maximum(0.0, excess)

    expected = np.stack(
        [
            r.base_load
            + np.zeros(N_DAYS)
            + term(r.heating_slope, r.heating_balance_point - mean_t)
            + term(r.cooling_slope, mean_t - r.cooling_balance_point)
            for r in truth.itertuples()
        ]
    )
    use = expected * (1 + rng.normal(0, 0.04, expected.shape))
    daily = pd.DataFrame(
        {
            "device_id": pd.array(np.tile(truth.index.to_numpy(), N_DAYS), dtype="str"),
            "consumption": use.T.reshape(-1),
            "coverage": 1.0,
        },
        index=pd.DatetimeIndex(np.repeat(days, len(truth)), name="period_start"),
    )
    daily.attrs = {"tz": TZ, "freq": "D"}
    return temp, daily, truth, mean_t


def lstsq(y, mean_t, hbp=np.nan, cbp=np.nan):
    """An independent fit: numpy least squares on the design the balance points make."""
    cols = [np.ones_like(mean_t)]
    if hbp == hbp:
        cols.append(np.maximum(0, hbp - mean_t))
    if cbp == cbp:
        cols.append(np.maximum(0, mean_t - cbp))
    x = np.stack(cols, axis=1)
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    return coef, x, resid


def test_auto_recovers_known_models(weather_and_truth):
    temp, daily, truth, mean_t = weather_and_truth
    models = wf.fit_baseline(daily, temp)
    assert models.attrs["tz"] == TZ
    assert models["model"].tolist() == truth["model"].tolist()
    for col in ("heating_balance_point", "cooling_balance_point"):
        err = (models[col] - truth[col]).abs().dropna()
        assert (err <= 1.0).all(), col
    for col in ("base_load", "heating_slope", "cooling_slope"):
        rel = (models[col] / truth[col] - 1).abs().dropna()
        assert (rel <= 0.05).all(), col
    assert models["valid"].all() and (models["reason"] == "").all()
    assert models["n_days"].tolist() == [N_DAYS] * 5 and (models["n_excluded"] == 0).all()


def test_parameters_and_statistics_equal_an_independent_least_squares_fit(weather_and_truth):
    temp, daily, truth, mean_t = weather_and_truth
    models = wf.fit_baseline(daily, temp)
    for device, m in models.iterrows():
        y = daily.loc[daily["device_id"] == device, "consumption"].to_numpy()
        coef, x, resid = lstsq(y, mean_t, m.heating_balance_point, m.cooling_balance_point)
        got = [m.base_load] + [v for v in (m.heating_slope, m.cooling_slope) if v == v]
        assert got == pytest.approx(coef, rel=1e-9), device
        p = x.shape[1]
        sse = float(resid @ resid)
        assert m.sigma == pytest.approx(np.sqrt(sse / (len(y) - p)))
        assert m.cv_rmse == pytest.approx(np.sqrt(sse / (len(y) - p)) / y.mean())
        if p > 1:
            assert m.r2 == pytest.approx(1 - sse / ((y - y.mean()) ** 2).sum())
        assert abs(m.nmbe) < 1e-9
        cov = np.linalg.inv(x.T @ x) * sse / (len(y) - p)
        assert m.cov_bb == pytest.approx(cov[0, 0])


def test_named_model_and_invalid_fits_are_labelled_not_raised(weather_and_truth):
    temp, daily, truth, mean_t = weather_and_truth
    flat = daily[daily["device_id"] == "e-flat"]
    heating = wf.fit_baseline(flat, temp, model="heating")
    assert heating["model"].tolist() == ["heating"]
    assert not heating["valid"].iloc[0]
    assert "heating slope" in heating["reason"].iloc[0]
    few = wf.fit_baseline(daily[daily.index < daily.index[0] + pd.Timedelta(days=60)], temp)
    assert not few["valid"].any()
    assert few["reason"].str.contains("n_days 60 < 180").all()
    intercept = wf.fit_baseline(daily, temp, model="intercept")
    assert (intercept["model"] == "intercept").all() and intercept["heating_slope"].isna().all()
    assert intercept.loc["e-flat", "valid"] and not intercept.loc["a-heat", "valid"]
    assert "cv_rmse" in intercept.loc["a-heat", "reason"]


def test_low_coverage_days_are_excluded_and_counted(weather_and_truth):
    temp, daily, truth, mean_t = weather_and_truth
    d = daily.copy()
    d.iloc[:15, d.columns.get_loc("coverage")] = 0.5  # 3 days of every device
    d.iloc[15, d.columns.get_loc("consumption")] = np.nan  # one more day of a-heat
    gap = temp.copy()
    day = d.index[50]
    gap[(gap.index >= day) & (gap.index < day + pd.Timedelta(hours=6))] = np.nan  # day 10: 75 %
    models = wf.fit_baseline(d, gap)
    assert models["n_excluded"].tolist() == [5, 4, 4, 4, 4]
    assert models["n_days"].tolist() == [N_DAYS - 5] + [N_DAYS - 4] * 4


def test_predict_interval_equals_the_ols_prediction_interval(weather_and_truth):
    from scipy import stats

    temp, daily, truth, mean_t = weather_and_truth
    models = wf.fit_baseline(daily, temp)
    future = temp[temp.index >= temp.index[-1] - pd.Timedelta(days=20)]
    pred = wf.predict_baseline(models, future)
    assert list(pred.columns[:4]) == ["device_id", "expected", "lower", "upper"]
    assert pred.index.name == "period_start"
    m = models.loc["d-both"]
    y = daily.loc[daily["device_id"] == "d-both", "consumption"].to_numpy()
    coef, x, resid = lstsq(y, mean_t, m.heating_balance_point, m.cooling_balance_point)
    s2 = resid @ resid / (len(y) - 3)
    row = pred[pred["device_id"] == "d-both"].iloc[5]
    t0 = row.mean_temperature
    x0 = np.array([1, max(0, m.heating_balance_point - t0), max(0, t0 - m.cooling_balance_point)])
    half = stats.t.isf(0.025, len(y) - 3) * np.sqrt(s2 * (1 + x0 @ np.linalg.inv(x.T @ x) @ x0))
    assert row.expected == pytest.approx(x0 @ coef)
    assert (row.lower, row.upper) == pytest.approx((x0 @ coef - half, x0 @ coef + half))


def test_cusum_is_the_running_sum_of_differences():
    idx = pd.DatetimeIndex(
        np.repeat(pd.date_range("2026-01-05", periods=3, freq="D", tz="UTC"), 2),
        name="period_start",
    )
    daily = pd.DataFrame(
        {"device_id": ["a", "b"] * 3, "consumption": [10.0, 1.0, 12.0, np.nan, 9.0, 3.0]},
        index=idx,
    )
    expected = pd.DataFrame(
        {"device_id": ["b", "a"] * 3, "expected": [2.0, 10.0, 2.0, 10.0, 2.0, 10.0]},
        index=idx,
    )
    out = wf.cusum(daily, expected)
    assert list(out.columns) == ["device_id", "actual", "expected", "difference", "cusum"]
    a = out[out["device_id"] == "a"]
    b = out[out["device_id"] == "b"]
    assert a["difference"].tolist() == [0.0, 2.0, -1.0] and a["cusum"].tolist() == [0, 2, 1]
    assert b["cusum"].iloc[0] == -1 and np.isnan(b["cusum"].iloc[1]) and b["cusum"].iloc[2] == 0


def test_normalise_uses_the_reference_weather_of_the_same_local_day():
    models = pd.DataFrame(
        {
            "base_load": [5.0],
            "heating_slope": [2.0],
            "heating_balance_point": [15.0],
            "cooling_slope": [np.nan],
            "cooling_balance_point": [np.nan],
        },
        index=pd.Index(["m"], name="device_id"),
    )
    models.attrs["tz"] = TZ
    days = pd.date_range(pd.Timestamp("2024-02-28", tz=TZ), periods=3, freq="D")  # leap year
    daily = pd.DataFrame(
        {"device_id": "m", "consumption": [30.0, 31.0, 32.0]},
        index=days.tz_convert("UTC").rename("period_start"),
    )
    daily.attrs["tz"] = TZ
    actual_t = hourly("2024-02-28", np.full(72, 5.0), TZ)  # expected 25 every day
    ref_t = hourly("2023-02-28", [3.0] * 24 + [9.0] * 24, TZ)  # 28 Feb, 1 Mar 2023
    out = wf.normalise(daily, models, ref_t, temperature=actual_t)
    assert out["expected"].tolist() == [25.0, 25.0, 25.0]
    # 28 Feb → 3 °C (29 ref), 29 Feb uses 28 Feb (29), 1 Mar → 9 °C (17)
    assert out["expected_reference"].tolist() == [29.0, 29.0, 17.0]
    assert out["normalised"].tolist() == [34.0, 35.0, 24.0]
    assert list(out.columns) == [
        "device_id",
        "actual",
        "expected",
        "expected_reference",
        "normalised",
    ]


def test_normalise_defaults_to_the_fitted_temperatures(weather_and_truth):
    temp, daily, truth, mean_t = weather_and_truth
    models = wf.fit_baseline(daily, temp)
    year = pd.Timestamp("2026-01-01", tz=TZ)
    same = temp[temp.index < year]  # reference = this year's own weather
    d = daily[daily.index < year]
    out = wf.normalise(d, models, same)
    assert np.allclose(out["normalised"], out["actual"])
    # two reference years: the expected values of each local month and day are averaged
    both = wf.normalise(d, models, temp)
    jan2 = both.index == pd.Timestamp("2025-01-02", tz=TZ)
    pred = wf.predict_baseline(models, temp)
    days = pred.index.tz_convert(TZ)
    on_jan2 = pred[(days.month == 1) & (days.day == 2)]
    want = on_jan2.groupby("device_id")["expected"].mean()
    got = both[jan2].set_index("device_id")["expected_reference"]
    pd.testing.assert_series_equal(got, want.loc[got.index], check_names=False)


def test_bad_baseline_input(weather_and_truth):
    temp, daily, truth, mean_t = weather_and_truth
    naive = temp.tz_localize(None)
    with pytest.raises(ValueError, match="naive"):
        wf.fit_baseline(daily, naive)
    with pytest.raises(ValueError, match="does not cover"):
        wf.fit_baseline(daily, temp[temp.index < temp.index[0] + pd.Timedelta(days=200)])
    with pytest.raises(ValueError, match="model='linear'"):
        wf.fit_baseline(daily, temp, model="linear")
    with pytest.raises(ValueError, match=r"heating_range\[1\]=45"):
        wf.fit_baseline(daily, temp, heating_range=(10, 45))
    weekly = daily.copy()
    weekly.attrs["freq"] = "W"
    with pytest.raises(ValueError, match="freq='W'"):
        wf.fit_baseline(weekly, temp)
    hourly_rows = daily.iloc[:5].copy()
    hourly_rows.index = hourly_rows.index + pd.Timedelta(hours=3)
    hourly_rows.attrs = {"tz": TZ}
    with pytest.raises(ValueError, match="not daily"):
        wf.fit_baseline(hourly_rows, temp)
    with pytest.raises(ValueError, match="naive"):
        wf.predict_baseline(wf.fit_baseline(daily, temp), naive)


def test_empty_daily_input_gives_the_empty_table(weather_and_truth):
    temp, daily, truth, mean_t = weather_and_truth
    models = wf.fit_baseline(daily.iloc[:0], temp)
    assert len(models) == 0 and models.index.name == "device_id"
    assert list(models.columns[:6]) == [
        "model",
        "base_load",
        "heating_slope",
        "heating_balance_point",
        "cooling_slope",
        "cooling_balance_point",
    ]
    assert len(wf.predict_baseline(models, temp)) == 0
