"""Weather normalisation: degree days, change-point baselines, expected consumption, CUSUM.

Every function here takes plain frames (no network): outdoor temperature as any Series or
frame with a tz-aware index (``wf.temperature``'s output, a building's own sensor, a
meteostat series), and daily consumption as :func:`resample_consumption` writes it.

Days are always **local** days: the time zone is the ``tz`` argument, else the frame's
``attrs["tz"]``, else UTC (the package's rule). A local day is 23 h or 25 h long on a
DST change; its temperature coverage is measured against that real length.

The baseline models are the change-point ("energy signature") forms of CalTRACK's daily
methods (as in opendsm's daily model with smoothing off)::

    intercept        E = base_load
    heating          E = base_load + heating_slope * max(0, heating_balance_point - T)
    cooling          E = base_load + cooling_slope * max(0, T - cooling_balance_point)
    heating_cooling  both terms, heating_balance_point <= cooling_balance_point

with ``T`` the day's mean outdoor temperature. Balance points are searched on a grid;
for each candidate the ordinary-least-squares fit has a closed form in a few sums, so all
devices are fitted at once (matrix products over a devices x days matrix), not one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..timeargs import Period, TzLike, check_period, frame_tz
from ._frames import DEVICE, device_codes, device_column, to_ns
from .resample import locate, period_boundaries

__all__ = [
    "BASELINE_MODELS",
    "cusum",
    "daily_temperature",
    "degree_days",
    "fit_baseline",
    "normalise",
    "predict_baseline",
]

KINDS = ("heating", "cooling")
DD_METHODS = ("mean", "min_max")
BASELINE_MODELS = ("intercept", "heating", "cooling", "heating_cooling")
BASE_LIMITS = (-30.0, 40.0)
#: A local day needs this share of its hours with a temperature to count.
MIN_DAY_COVERAGE = 0.8
#: Validity limits (see ``fit_baseline``'s docstring for their sources).
MAX_CV_RMSE = 0.25
MAX_NMBE = 0.005 / 100
MAX_P_VALUE = 0.1
MIN_DEGREE_DAY_DAYS = 10
#: Days in the running mean of the day-to-day check, and the share of the fitted weather
#: term the day-to-day weather must confirm (one-sided 95 % lower bound).
DAY_TO_DAY_WINDOW = 15
MIN_WEATHER_RESPONSE = 0.5
_TEMPERATURE_COLUMNS = ("temperature", "mean_temperature")
_MODEL_COLUMNS = (
    "model",
    "base_load",
    "heating_slope",
    "heating_balance_point",
    "cooling_slope",
    "cooling_balance_point",
    "n_days",
    "n_excluded",
    "r2",
    "cv_rmse",
    "nmbe",
    "valid",
    "reason",
    "sigma",
    "dof",
)
_COV = ("cov_bb", "cov_bh", "cov_bc", "cov_hh", "cov_hc", "cov_cc")


# ------------------------------------------------------------------ input checks
def _times(obj: Any) -> pd.DatetimeIndex:
    """Return the (already checked) DatetimeIndex of a frame or series, in UTC."""
    return pd.DatetimeIndex(obj.index).tz_convert("UTC")


def _check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}={value!r}: expected one of {list(choices)}")
    return value


def _check_base(name: str, value: Any) -> float:
    lo, hi = BASE_LIMITS
    try:
        base = float(value)
    except (TypeError, ValueError):
        base = float("nan")
    if isinstance(value, bool) or not (lo <= base <= hi):
        raise ValueError(f"{name}={value!r}: expected a temperature in {lo:g}...{hi:g} °C")
    return base


def _check_range(name: str, value: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r}: expected (low, high) in °C") from None
    _check_base(f"{name}[0]", lo)
    _check_base(f"{name}[1]", hi)
    if hi < lo:
        raise ValueError(f"{name}={value!r}: low must not exceed high")
    return lo, hi


def _check_freq(freq: Any) -> Period:
    """Return the period of ``freq`` (days or longer: degree days are daily sums)."""
    period = check_period(freq, "freq")
    if period == "hour":
        raise ValueError(f"freq={freq!r}: degree days need 'day', 'week', 'month' or 'year'")
    return period


def _temperature_series(temperature: Any) -> pd.Series:
    """Temperature as a float Series on a tz-aware, sorted DatetimeIndex."""
    if isinstance(temperature, pd.DataFrame):
        column = next((c for c in _TEMPERATURE_COLUMNS if c in temperature.columns), None)
        if column is None:
            numeric = temperature.select_dtypes("number").columns
            if len(numeric) != 1:
                raise ValueError(
                    "temperature frame needs a 'temperature' column (or exactly one numeric "
                    f"column), got columns {list(temperature.columns)}"
                )
            column = numeric[0]
        series = temperature[column]
    elif isinstance(temperature, pd.Series):
        series = temperature
    else:
        raise ValueError(
            f"temperature must be a pandas Series or DataFrame, got {type(temperature).__name__}"
        )
    index = series.index
    if not isinstance(index, pd.DatetimeIndex):
        raise ValueError("temperature needs a DatetimeIndex (tz-aware)")
    if index.tz is None:
        raise ValueError(
            "temperature index has no time zone (naive): localize it, e.g. "
            "series.tz_localize('Europe/Berlin')"
        )
    if index.hasnans:
        raise ValueError("temperature index has missing (NaT) timestamps")
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    out = pd.Series(values, index=index.tz_convert("UTC"), name="temperature")
    out.attrs = dict(getattr(temperature, "attrs", {}) or {})
    if not out.index.is_monotonic_increasing:
        out = out.sort_index(kind="stable")
    return out


def daily_temperature(temperature: Any, tz: TzLike | None = None) -> pd.DataFrame:
    """Hourly (or any-frequency) temperature → one row per local day.

    Parameters
    ----------
    temperature : Series or DataFrame
        Tz-aware index; a frame's ``temperature`` column (or its only numeric column).
    tz : str, optional
        Zone of the local days (default: ``attrs["tz"]``, else UTC).

    Returns
    -------
    DataFrame
        Index ``period_start`` (UTC instant of each local midnight, from the day of the
        first sample to the day of the last); columns ``mean_temperature``, ``min``,
        ``max`` (of the day's samples) and ``coverage``: the share of the day's real
        length (23/24/25 h) covered by samples with a value, each sample counting for the
        series' usual spacing (1 h for hourly data). Values are not masked here.

    Raises
    ------
    ValueError
        Not a Series/frame, a naive index, or an unknown ``tz``.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2026-03-29", periods=23, freq="h", tz="Europe/Berlin")
    >>> d = daily_temperature(pd.Series(5.0, index=idx), tz="Europe/Berlin")
    >>> float(d["coverage"].iloc[0])   # 23 hourly values on a 23-hour day
    1.0
    """
    series = _temperature_series(temperature)
    tz = frame_tz(series, tz)
    unit = _times(series).unit
    if len(series) == 0:
        idx = pd.DatetimeIndex([], dtype=f"datetime64[{unit}, UTC]", name="period_start")
        empty = np.zeros(0)
        return pd.DataFrame(
            {"mean_temperature": empty, "min": empty, "max": empty, "coverage": empty}, index=idx
        )
    ts = to_ns(_times(series))
    values = series.to_numpy()
    bounds = period_boundaries(int(ts[0]), int(ts[-1]), "day", tz)
    day = locate(bounds, ts)
    first, last = int(day[0]), int(day[-1])
    n_days = last - first + 1
    day -= first
    steps = np.diff(np.unique(ts))
    spacing = float(np.median(steps)) if len(steps) else 3600e9
    ok = ~np.isnan(values)
    count = np.bincount(day[ok], minlength=n_days).astype(float)
    total = np.bincount(day[ok], weights=values[ok], minlength=n_days)
    low = np.full(n_days, np.inf)
    high = np.full(n_days, -np.inf)
    np.minimum.at(low, day[ok], values[ok])
    np.maximum.at(high, day[ok], values[ok])
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    none = count == 0
    low[none] = high[none] = np.nan
    length = np.diff(bounds[first : last + 2]).astype(float)
    coverage = np.clip(count * spacing / length, 0.0, 1.0)
    index = pd.DatetimeIndex(
        pd.to_datetime(bounds[first : last + 1], unit="ns", utc=True), name="period_start"
    ).as_unit(unit)
    out = pd.DataFrame(
        {"mean_temperature": mean, "min": low, "max": high, "coverage": coverage}, index=index
    )
    out.attrs = {"tz": str(tz)}
    return out


# ------------------------------------------------------------------ degree days
def _met_office(tmin: np.ndarray, tmax: np.ndarray, base: float, kind: str) -> np.ndarray:
    """Compute degree days by the UK Met Office equations from daily minimum and maximum."""
    if kind == "cooling":  # mirror image: cooling above base = heating below -base
        tmin, tmax, base = -tmax, -tmin, -base
    above = tmax - base
    below = base - tmin
    with np.errstate(invalid="ignore"):
        return np.where(
            tmax <= base,
            base - (tmax + tmin) / 2,
            np.where(
                tmin >= base,
                0.0,
                np.where(above < below, below / 2 - above / 4, below / 4),
            ),
        )


def degree_days(
    temperature: Any,
    *,
    base: float = 15.5,
    kind: str = "heating",
    freq: Period = "day",
    tz: TzLike | None = None,
    method: str = "mean",
) -> pd.DataFrame:
    """Heating or cooling degree days per local day, week, month or year.

    Parameters
    ----------
    temperature : Series or DataFrame
        Outdoor temperature in °C on a tz-aware index (hourly, as :func:`temperature`
        returns, or any regular spacing); a frame's ``temperature`` column is used.
    base : float, default 15.5
        Base temperature in °C (15.5 °C is the UK convention), within −30…40 °C.
    kind : {"heating", "cooling"}
        Heating: ``max(0, base − T)``; cooling: ``max(0, T − base)``.
    freq : {"day", "week", "month", "year"}, default "day"
        Local days, ISO weeks (from Monday), months or years
        (:data:`~waltero_frames.timeargs.Period`; the aliases "D", "W", "MS", "YS" are
        accepted too).
    tz : str, optional
        Zone of the local days. Default: ``temperature.attrs["tz"]``, else UTC.
    method : {"mean", "min_max"}
        ``"mean"``: from the mean of the day's temperatures. ``"min_max"``: the UK Met
        Office equations on the day's minimum and maximum; ``mean_temperature`` is then
        ``(min + max) / 2``.

    Returns
    -------
    DataFrame
        Index ``period_start`` (UTC instant of each local period start, as
        :func:`resample_consumption`); columns ``degree_days`` (K·day), ``mean_temperature``
        (°C) and ``coverage``. For days, ``coverage`` is the share of the local day's real
        length (23 h / 25 h on DST changes) with a temperature; below 80 % the day's
        ``degree_days`` and ``mean_temperature`` are NaN, never 0. Longer periods sum the
        daily values that exist and average their mean temperatures; their ``coverage`` is
        the share of the period's days with a value (NaN sums when no day has one).

    Raises
    ------
    ValueError
        A naive index, an unknown ``kind``, ``method``, ``freq`` or ``tz``, or ``base``
        outside −30…40 °C.

    See Also
    --------
    fit_baseline : daily consumption against the same daily mean temperatures.

    Notes
    -----
    Met Office equations (heating; cooling mirrors them), with B the base:
    ``Tmax <= B``: ``B − (Tmax + Tmin)/2``; ``Tmin < B < Tmax`` and ``Tmax − B < B − Tmin``:
    ``(B − Tmin)/2 − (Tmax − B)/4``; ``Tmin < B < Tmax`` otherwise: ``(B − Tmin)/4``;
    ``Tmin >= B``: 0.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2026-01-05", periods=48, freq="h", tz="UTC")
    >>> t = pd.Series([10.0] * 24 + [20.0] * 24, index=idx)
    >>> degree_days(t)["degree_days"].tolist()
    [5.5, 0.0]
    """
    base = _check_base("base", base)
    kind = _check_choice("kind", kind, KINDS)
    method = _check_choice("method", method, DD_METHODS)
    freq = _check_freq(freq)
    series = _temperature_series(temperature)
    tz = frame_tz(series, tz)
    days = daily_temperature(series, tz)
    low, high = days["min"].to_numpy(), days["max"].to_numpy()
    if method == "mean":
        mean = days["mean_temperature"].to_numpy()
        dd = np.maximum(0.0, base - mean) if kind == "heating" else np.maximum(0.0, mean - base)
    else:
        mean = (low + high) / 2
        dd = _met_office(low, high, base, kind)
    coverage = days["coverage"].to_numpy()
    short = ~(coverage >= MIN_DAY_COVERAGE)
    dd = np.where(short, np.nan, dd)
    mean = np.where(short, np.nan, mean)
    attrs = {
        **series.attrs,
        "tz": str(tz),
        "freq": freq,
        "base": base,
        "kind": kind,
        "method": method,
    }
    if freq == "day" or len(days) == 0:
        out = pd.DataFrame(
            {"degree_days": dd, "mean_temperature": mean, "coverage": coverage}, index=days.index
        )
        out.attrs = attrs
        return out
    day_ns = to_ns(_times(days))
    bounds = period_boundaries(int(day_ns[0]), int(day_ns[-1]), freq, tz)
    period = locate(bounds, day_ns)
    first, last = int(period[0]), int(period[-1])
    n = last - first + 1
    period -= first
    has = ~np.isnan(dd)
    dd_sum = np.bincount(period[has], weights=dd[has], minlength=n)
    t_sum = np.bincount(period[has], weights=mean[has], minlength=n)
    n_has = np.bincount(period[has], minlength=n).astype(float)
    # every local day of each period, including days outside the data
    day_bounds = period_boundaries(int(bounds[first]), int(bounds[last + 1]) - 1, "day", tz)
    day_bounds = day_bounds[(day_bounds >= bounds[first]) & (day_bounds < bounds[last + 1])]
    n_all = np.bincount(locate(bounds, day_bounds) - first, minlength=n).astype(float)
    none = n_has == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        out = pd.DataFrame(
            {
                "degree_days": np.where(none, np.nan, dd_sum),
                "mean_temperature": np.where(none, np.nan, t_sum / n_has),
                "coverage": n_has / n_all,
            },
            index=pd.DatetimeIndex(
                pd.to_datetime(bounds[first : last + 1], unit="ns", utc=True),
                name="period_start",
            ).as_unit(_times(days).unit),
        )
    out.attrs = attrs
    return out


# ------------------------------------------------------------------ daily consumption
def _daily_input(daily: Any) -> tuple[pd.DataFrame, Any]:
    """Check a daily consumption frame; return it and its tz."""
    if not isinstance(daily, pd.DataFrame):
        raise ValueError(f"daily must be a pandas DataFrame, got {type(daily).__name__}")
    for col in (DEVICE, "consumption"):
        if col not in daily.columns:
            raise ValueError(
                f"daily needs a {col!r} column (the output of resample_consumption(..., 'D')), "
                f"got columns {list(daily.columns)}"
            )
    index = daily.index
    if not isinstance(index, pd.DatetimeIndex):
        raise ValueError("daily needs a DatetimeIndex 'period_start' (tz-aware)")
    if index.tz is None:
        raise ValueError("daily index has no time zone (naive): expected UTC period starts")
    tz = frame_tz(daily, None)
    freq = daily.attrs.get("freq")
    if freq is not None and check_period(freq, "daily.attrs['freq']") != "day":
        raise ValueError(f"daily has freq={freq!r}: expected daily input (freq='day')")
    if len(index):
        ns = pd.unique(to_ns(index.tz_convert("UTC")))  # each day once (hashing, no sort)
        starts = period_boundaries(int(ns.min()), int(ns.max()), "day", tz)
        off = ~np.isin(ns, starts)
        if off.any():
            bad = pd.Timestamp(int(ns[np.flatnonzero(off)[0]]), unit="ns", tz="UTC")
            raise ValueError(
                f"daily is not daily in {tz!s}: period_start {bad} is not the start of a "
                "local day (resample with resample_consumption(..., 'D', tz=...))"
            )
    return daily, tz


def _day_temperatures(temperature: Any, tz: Any, days_ns: np.ndarray) -> np.ndarray:
    """Mean temperature of each local day in ``days_ns`` (NaN below 80 % coverage)."""
    per_day = daily_temperature(temperature, tz)
    known = to_ns(_times(per_day))
    mean = per_day["mean_temperature"].to_numpy()
    mean = np.where(per_day["coverage"].to_numpy() >= MIN_DAY_COVERAGE, mean, np.nan)
    pos = np.searchsorted(known, days_ns)
    hit = (pos < len(known)) & (known[np.minimum(pos, len(known) - 1)] == days_ns)
    out = np.full(len(days_ns), np.nan)
    out[hit] = mean[pos[hit]]
    return out


def _check_covers(temperature: Any, days_ns: np.ndarray, tz: Any, what: str) -> None:
    """``ValueError`` when the temperature leaves a day of ``what`` at either end uncovered."""
    if len(days_ns) == 0:
        return
    series = _temperature_series(temperature)
    first_day, last_day = int(days_ns.min()), int(days_ns.max())
    t = to_ns(_times(series)[series.notna().to_numpy()])
    if len(t) and t[0] < _next_day(first_day, tz) and t[-1] >= last_day:
        return

    def show(ns: int) -> str:
        return str(pd.Timestamp(ns, unit="ns", tz="UTC").tz_convert(tz).date())

    span = f"{series.index[0]} .. {series.index[-1]}" if len(t) else "no values"
    raise ValueError(
        f"temperature ({span}) does not cover the {what} "
        f"({show(first_day)} .. {show(last_day)}, local days in {tz!s})"
    )


def _next_day(day_ns: int, tz: Any) -> int:
    bounds = period_boundaries(day_ns, day_ns, "day", tz)
    return int(bounds[np.searchsorted(bounds, day_ns, side="right")])


# ------------------------------------------------------------------ baselines
class _StudentT:
    """Student's t tails from ``scipy.special`` (light to import, unlike scipy.stats)."""

    def __init__(self) -> None:
        try:
            from scipy import special
        except ImportError as exc:  # pragma: no cover - scipy comes with the `energy` extra
            raise ImportError(
                "baselines need scipy (t distribution): pip install 'waltero_frames[energy]'"
            ) from exc
        self._special = special

    def sf(self, t: Any, dof: Any) -> Any:
        """P(T > t)."""
        return self._special.stdtr(dof, -np.asarray(t, dtype=float))

    def isf(self, q: Any, dof: Any) -> Any:
        """Return the t with P(T > t) = q."""
        return self._special.stdtrit(dof, 1 - np.asarray(q, dtype=float))


def _t_dist() -> _StudentT:
    return _StudentT()


def _grid(lo: float, hi: float, step: float) -> np.ndarray:
    return np.round(np.arange(lo, hi + step / 2, step), 6)


def _matrix(
    daily: pd.DataFrame, min_coverage: float
) -> tuple[pd.Index, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """devices, day starts (ns), consumption matrix (NaN = not usable), rows present."""
    codes, devices = device_codes(daily[DEVICE], "daily")
    ns = to_ns(_times(daily))
    pos, days = pd.factorize(ns, sort=True)
    y = daily["consumption"].to_numpy(dtype=float, na_value=np.nan)
    if "coverage" in daily.columns:
        cov = daily["coverage"].to_numpy(dtype=float, na_value=np.nan)
        y = np.where(cov >= min_coverage, y, np.nan)
    matrix = np.full((len(devices), len(days)), np.nan)
    matrix[codes, pos] = y
    present = np.zeros(matrix.shape, dtype=bool)
    present[codes, pos] = True
    return devices, days, matrix, present, codes


class _Sums:
    """Per device and candidate balance point: the sums a one-term OLS fit needs."""

    def __init__(self, mask: np.ndarray, yc: np.ndarray, n: np.ndarray, x: np.ndarray) -> None:
        self.x = x  # days x candidates
        self.s = mask @ x
        self.sxx = mask @ (x * x) - self.s**2 / n[:, None]  # centred
        self.sxy = yc @ x  # yc is centred and 0 off the mask
        self.nonzero = mask @ (x > 0).astype(float)


def _refine(
    y: np.ndarray,
    ok: np.ndarray,
    t_day: np.ndarray,
    h_bp: np.ndarray,
    c_bp: np.ndarray,
    h_range: tuple[float, float],
    c_range: tuple[float, float],
    step: float,
    fine: float,
    min_dd_days: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Refine each device's balance points to ``fine`` within ± one grid step.

    Every device has its own candidates here (its coarse optimum ± offsets), so the
    least-squares sums are taken along the days of devices x days arrays, one offset at a
    time; with two terms, heating is refined with cooling held, then cooling.
    """
    offsets = np.round(np.arange(-step + fine, step - fine / 2, fine), 9)
    t = t_day[None, :]

    def dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", a, b)

    for which in ("heating", "cooling"):
        bp, other = (h_bp, c_bp) if which == "heating" else (c_bp, h_bp)
        rows = np.flatnonzero(~np.isnan(bp))
        if len(rows) == 0:
            continue
        lo, hi = h_range if which == "heating" else c_range
        okr = ok[rows]
        yz = np.where(okr, y[rows], 0.0)
        n = np.maximum(okr.sum(axis=1), 1.0)
        sy = yz.sum(axis=1)
        syy = dot(yz, yz) - sy * sy / n
        # the other term, held at its balance point (none: a zero column)
        held = other[rows][:, None]
        c2 = np.maximum(0.0, (t - held) if which == "heating" else (held - t))
        c2 = np.where(okr & ~np.isnan(held), c2, 0.0)
        s2 = c2.sum(axis=1)
        s22 = dot(c2, c2) - s2 * s2 / n
        s2y = dot(c2, yz) - s2 * sy / n
        two = s22 > 0
        best_bp, best_sse = bp[rows].copy(), np.full(len(rows), np.inf)
        for off in (0.0, *offsets):
            cand = np.clip(bp[rows] + off, lo, hi)
            if which == "heating":  # heating below cooling
                cand = np.where(np.isnan(other[rows]), cand, np.minimum(cand, other[rows]))
            else:
                cand = np.where(np.isnan(other[rows]), cand, np.maximum(cand, other[rows]))
            c1 = cand[:, None] - t if which == "heating" else t - cand[:, None]
            np.maximum(c1, 0.0, out=c1)
            c1[~okr] = 0.0
            s1 = c1.sum(axis=1)
            s11 = dot(c1, c1) - s1 * s1 / n
            s1y = dot(c1, yz) - s1 * sy / n
            s12 = -s1 * s2 / n  # the raw cross sum is 0: the terms never overlap
            with np.errstate(invalid="ignore", divide="ignore"):
                det = s11 * s22 - s12 * s12
                explained = np.where(
                    two,
                    (s22 * s1y**2 - 2 * s12 * s1y * s2y + s11 * s2y**2) / det,
                    s1y**2 / s11,
                )
            sse = np.where(
                ((c1 > 0).sum(axis=1) >= min_dd_days) & (s11 > 0),
                syy - np.nan_to_num(explained, nan=-np.inf),
                np.inf,
            )
            better = sse < best_sse  # ties keep the grid point (offset 0 comes first)
            best_bp = np.where(better, cand, best_bp)
            best_sse = np.where(better, sse, best_sse)
        out = bp.copy()
        out[rows] = np.round(best_bp, 6)
        if which == "heating":
            h_bp = out
        else:
            c_bp = out
    return h_bp, c_bp


def _rolling_mean(values: np.ndarray, ok: np.ndarray, window: int) -> np.ndarray:
    """Centred mean of each row over ``window`` neighbouring days (usable days only)."""
    pad = ((0, 0), (1, 0))
    total = np.cumsum(np.pad(np.where(ok, values, 0.0), pad), axis=1)
    count = np.cumsum(np.pad(ok.astype(float), pad), axis=1)
    pos = np.arange(values.shape[1])
    lo = np.clip(pos - window // 2, 0, values.shape[1])
    hi = np.clip(pos + window // 2 + 1, 0, values.shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return (total[:, hi] - total[:, lo]) / (count[:, hi] - count[:, lo])


def _day_to_day(
    y: np.ndarray, weather: np.ndarray, ok: np.ndarray, has_term: np.ndarray, tdist: Any
) -> tuple[np.ndarray, np.ndarray]:
    """How much of the fitted weather term the day-to-day weather confirms.

    A slow seasonal pattern (lighting, holidays, summer water use) also correlates with
    temperature across a year, and a fit cannot tell it from a weather response. Weather
    also varies from day to day (cold snaps, mild spells) while such patterns do not: the
    departures of consumption from its own 15-day running mean, regressed on the
    departures of the fitted weather term from its running mean, have a coefficient near
    1 for a real weather response and near 0 for a seasonal one. Returns that coefficient
    and its one-sided 95 % lower bound per device (NaN without a weather term).
    """
    gamma = np.full(len(y), np.nan)
    low = np.full(len(y), np.nan)
    rows = np.flatnonzero(has_term)
    if len(rows) == 0:
        return gamma, low
    y, weather, ok = y[rows], weather[rows], ok[rows]
    dy = np.nan_to_num(np.where(ok, y - _rolling_mean(y, ok, DAY_TO_DAY_WINDOW), 0.0))
    dw = np.nan_to_num(np.where(ok, weather - _rolling_mean(weather, ok, DAY_TO_DAY_WINDOW), 0.0))
    n = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        sww = np.einsum("ij,ij->i", dw, dw)
        g = np.einsum("ij,ij->i", dw, dy) / sww
        resid = np.where(ok, dy - g[:, None] * dw, 0.0)
        se = np.sqrt(np.einsum("ij,ij->i", resid, resid) / (n - 1) / sww)
        g_low = g - tdist.isf(0.05, n - 1) * se
    gamma[rows] = np.where(sww > 0, g, np.nan)
    low[rows] = np.where(sww > 0, g_low, np.nan)
    return gamma, low


def _fit_arrays(
    y: np.ndarray,
    temp: np.ndarray,
    model: str,
    heating: np.ndarray,
    cooling: np.ndarray,
    min_dd_days: int,
    step: float = 0.5,
    fine: float | None = None,
) -> dict[str, np.ndarray]:
    """Fit every device (rows of ``y``) at once; return per-device parameter arrays."""
    tdist = _t_dist()
    ok = ~np.isnan(y) & ~np.isnan(temp)[None, :]
    mask = ok.astype(float)
    n = mask.sum(axis=1)
    n_safe = np.maximum(n, 1.0)
    ybar = np.where(ok, y, 0.0).sum(axis=1) / n_safe
    yc = np.where(ok, y - ybar[:, None], 0.0)
    syy = (yc * yc).sum(axis=1)
    t_day = np.where(np.isnan(temp), 0.0, temp)
    n_dev = len(y)
    # critical |t| per model size (CalTRACK qualifies a slope at p < 0.1)
    with np.errstate(invalid="ignore"):
        t_crit = {k: tdist.isf(MAX_P_VALUE / 2, n - 1 - k) for k in (1, 2)}

    # selection score (lower is better): BIC with each balance point counted as a
    # parameter, so a term found by searching a grid must earn its place
    log_n = np.log(np.maximum(n, 2.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        intercept_score = n * np.log(syy / n_safe) + log_n
    best = {
        "sse": syy.copy(),  # intercept-only
        "score": intercept_score,
        "model": np.zeros(n_dev, dtype=np.int8),  # index into BASELINE_MODELS
        "h": np.full(n_dev, -1),
        "c": np.full(n_dev, -1),
    }
    candidates = BASELINE_MODELS[1:] if model == "auto" else (model,)
    if model not in ("auto", "intercept"):
        best["sse"][:] = np.inf
        best["score"][:] = np.inf
    rows = np.arange(n_dev)

    def consider(kind: int, sse: np.ndarray, qualifies: np.ndarray, k: int, hi, ci) -> None:
        # best candidate of this grid per device (least SSE among those allowed) ...
        sse = np.where(qualifies, sse, np.inf)
        if n_dev == 0:
            return
        flat = sse.reshape(n_dev, -1)
        j = np.argmin(flat, axis=1)
        s = flat[rows, j]
        with np.errstate(invalid="ignore", divide="ignore"):
            score = n * np.log(s / n_safe) + (2 * k + 1) * log_n
        score = np.where(np.isfinite(s), score, np.inf)
        # ... replaces the current choice when it scores better
        better = score < best["score"] if model == "auto" else s < best["sse"]
        best["sse"] = np.where(better, s, best["sse"])
        best["score"] = np.where(better, score, best["score"])
        best["model"] = np.where(better, kind, best["model"])
        best["h"] = np.where(better, hi(j) if hi else -1, best["h"])
        best["c"] = np.where(better, ci(j) if ci else -1, best["c"])

    sums = {}
    for name, grid in (("heating", heating), ("cooling", cooling)):
        if not any(name in m for m in candidates):
            continue
        x = np.maximum(0.0, grid[None, :] - t_day[:, None])
        if name == "cooling":
            x = np.maximum(0.0, t_day[:, None] - grid[None, :])
        x[np.isnan(temp)] = 0.0
        sums[name] = _Sums(mask, yc, n_safe, x)
    strict = model == "auto"
    for name in ("heating", "cooling"):
        if name not in candidates:
            continue
        s = sums[name]
        with np.errstate(invalid="ignore", divide="ignore"):
            beta = s.sxy / s.sxx
            sse = syy[:, None] - s.sxy * beta
            t = beta / np.sqrt(sse / (n - 2)[:, None] / s.sxx)
        allowed = (s.nonzero >= min_dd_days) & (s.sxx > 0)
        if strict:
            allowed &= (beta > 0) & (t > t_crit[1][:, None])
        pick = (lambda j: j, None) if name == "heating" else (None, lambda j: j)
        consider(BASELINE_MODELS.index(name), sse, allowed, 1, *pick)
    if "heating_cooling" in candidates:
        h, c = sums["heating"], sums["cooling"]
        for jc in range(len(cooling)):
            shh, shy = h.sxx, h.sxy
            scc, scy = c.sxx[:, jc : jc + 1], c.sxy[:, jc : jc + 1]
            shc = -h.s * c.s[:, jc : jc + 1] / n_safe[:, None]  # raw cross sum is 0
            with np.errstate(invalid="ignore", divide="ignore"):
                det = shh * scc - shc * shc
                bh = (scc * shy - shc * scy) / det
                bc = (shh * scy - shc * shy) / det
                sse = syy[:, None] - bh * shy - bc * scy
                s2 = sse / (n - 3)[:, None]
                th = bh / np.sqrt(s2 * scc / det)
                tc = bc / np.sqrt(s2 * shh / det)
            allowed = (
                (heating[None, :] <= cooling[jc])
                & (h.nonzero >= min_dd_days)
                & (c.nonzero[:, jc : jc + 1] >= min_dd_days)
                & (det > 0)
            )
            if strict:
                allowed &= (bh > 0) & (bc > 0)
                allowed &= (th > t_crit[2][:, None]) & (tc > t_crit[2][:, None])
            consider(3, sse, allowed, 2, lambda j: j, lambda j, jc=jc: np.full(len(j), jc))

    # the chosen model's parameters, from its sums at its balance points
    kind = best["model"]
    hi, ci = best["h"], best["c"]
    uses_h = (kind == 1) | (kind == 3)
    uses_c = (kind == 2) | (kind == 3)
    h_bp = np.where(uses_h, heating[np.maximum(hi, 0)] if len(heating) else np.nan, np.nan)
    c_bp = np.where(uses_c, cooling[np.maximum(ci, 0)] if len(cooling) else np.nan, np.nan)
    if fine is not None and fine < step:
        h_bp, c_bp = _refine(
            y,
            ok,
            t_day,
            h_bp,
            c_bp,
            (heating[0], heating[-1]),
            (cooling[0], cooling[-1]),
            step,
            fine,
            min_dd_days,
        )
    t_row = t_day[None, :]
    xh = np.where(uses_h[:, None], np.maximum(0.0, h_bp[:, None] - t_row), 0.0)
    xc = np.where(uses_c[:, None], np.maximum(0.0, t_row - c_bp[:, None]), 0.0)
    found = np.isfinite(best["sse"]) & (n >= 1)
    # X'X of (1, xh, xc) on each device's usable days; absent terms get an identity row
    xtx = np.zeros((n_dev, 3, 3))
    cols = (mask, mask * xh, mask * xc)
    xs = (np.ones_like(y), xh, xc)
    for a in range(3):
        for b in range(a, 3):
            xtx[:, a, b] = xtx[:, b, a] = np.einsum("ij,ij->i", cols[a], xs[b])
    yz = np.where(ok, y, 0.0)
    xty = np.stack([np.einsum("ij,ij->i", yz, x) for x in xs], axis=1)
    active = np.stack([found, uses_h & found, uses_c & found], axis=1)
    off = ~(active[:, :, None] & active[:, None, :])
    xtx[off] = 0.0
    xtx[:, [0, 1, 2], [0, 1, 2]] += ~active
    xty[~active] = 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        inv = np.linalg.pinv(xtx)
        params = np.einsum("dij,dj->di", inv, xty)
    inv[off] = 0.0
    fitted = params[:, 0:1] + params[:, 1:2] * xh + params[:, 2:3] * xc
    resid = np.where(ok, y - fitted, np.nan)
    k = active.sum(axis=1)
    dof = n - k
    with np.errstate(invalid="ignore", divide="ignore"):
        sse = np.nansum(resid * resid, axis=1)
        sigma = np.sqrt(sse / dof)
        se = sigma[:, None] * np.sqrt(np.diagonal(inv, axis1=1, axis2=2))
        t_stat = params / se
        p = 2 * tdist.sf(np.abs(t_stat), dof[:, None])
        r2 = 1 - sse / syy
        cv = sigma / ybar
        nmbe = np.nansum(resid, axis=1) / (dof * ybar)
    cov = inv * (sigma**2)[:, None, None]
    response, response_low = _day_to_day(
        y, params[:, 1:2] * xh + params[:, 2:3] * xc, ok, uses_h | uses_c, tdist
    )
    return {
        "model": kind,
        "weather_response": response,
        "weather_response_low": response_low,
        "found": found,
        "base_load": np.where(found, params[:, 0], np.nan),
        "heating_slope": np.where(uses_h & found, params[:, 1], np.nan),
        "heating_balance_point": np.where(found, h_bp, np.nan),
        "cooling_slope": np.where(uses_c & found, params[:, 2], np.nan),
        "cooling_balance_point": np.where(found, c_bp, np.nan),
        "p_heating": np.where(uses_h, p[:, 1], np.nan),
        "p_cooling": np.where(uses_c, p[:, 2], np.nan),
        "n_days": n.astype(np.int64),
        "r2": np.where(k > 1, r2, 0.0),
        "cv_rmse": cv,
        "nmbe": nmbe,
        "sigma": sigma,
        "dof": dof,
        "cov": cov,
    }


def _reasons(fit: dict[str, np.ndarray], model: str, min_days: int, max_cv: float) -> np.ndarray:
    """Why each model is invalid ("" when valid), per the limits in ``fit_baseline``."""
    parts: list[np.ndarray] = []

    def add(cond: np.ndarray, texts: Any) -> None:
        parts.append(np.where(cond, texts, ""))

    def fmt(template: str, *values: Any) -> np.ndarray:
        # formats every row; only a few hundred strings for a thousand devices
        cols = [np.broadcast_to(v, len(fit["n_days"])).tolist() for v in values]
        return np.array([template.format(*row) for row in zip(*cols, strict=True)], dtype=object)

    n = fit["n_days"]
    add(~fit["found"] & (n == 0), "no usable days")
    add(~fit["found"] & (n > 0), f"no {model} model fits: too few days with degree days")
    add(fit["found"] & (n < min_days), fmt("n_days {} < {}", n, min_days))
    cv = fit["cv_rmse"]
    add(~(np.abs(cv) <= max_cv) & fit["found"], fmt("cv_rmse {:.3f} > {:.2f}", cv, max_cv))
    nmbe = fit["nmbe"]
    add(
        ~(np.abs(nmbe) <= MAX_NMBE) & fit["found"] & np.isfinite(nmbe),
        fmt("|nmbe| {:.2g} > {:.2g}", np.abs(nmbe), MAX_NMBE),
    )
    low = fit["weather_response_low"]
    add(
        low < MIN_WEATHER_RESPONSE,
        fmt(
            "weather term not confirmed by day-to-day weather (response {:.2f}, "
            "95 % lower bound {:.2f} < {:.1f})",
            fit["weather_response"],
            low,
            MIN_WEATHER_RESPONSE,
        ),
    )
    for term in ("heating", "cooling"):
        slope, p = fit[f"{term}_slope"], fit[f"p_{term}"]
        add(slope <= 0, fmt(f"{term} slope {{:.4g}} <= 0", slope))
        add((slope > 0) & ~(p < MAX_P_VALUE), fmt(f"{term} slope not significant (p={{:.2g}})", p))
    joined = np.array(["; ".join(p for p in row if p) for row in zip(*parts, strict=True)])
    return joined if len(joined) else np.zeros(0, dtype=object)


def fit_baseline(
    daily: pd.DataFrame,
    temperature: Any,
    *,
    model: str = "auto",
    heating_range: tuple[float, float] = (0.0, 30.0),
    cooling_range: tuple[float, float] = (0.0, 30.0),
    step: float = 0.5,
    resolution: float | None = 0.1,
    min_coverage: float = 0.8,
    min_days: int = 180,
    max_cv_rmse: float = MAX_CV_RMSE,
) -> pd.DataFrame:
    """Fit a change-point baseline (energy signature) per device against daily temperature.

    Parameters
    ----------
    daily : DataFrame
        Daily consumption: the output of ``resample_consumption(..., "D")`` (index
        ``period_start``; columns ``device_id``, ``consumption`` and, when present,
        ``coverage``). Its days are local days of ``attrs["tz"]`` (UTC without it).
    temperature : Series or DataFrame
        Outdoor temperature in °C on a tz-aware index (e.g. :func:`temperature`'s hourly
        frame) covering the days of ``daily``. Each local day's mean is used; days with
        temperature for less than 80 % of their hours are excluded.
    model : {"auto", "intercept", "heating", "cooling", "heating_cooling"}
        ``"auto"`` chooses per device as CalTRACK does: among the intercept model and the
        change-point candidates whose slopes are positive and significant (p < 0.1), the
        highest adjusted R². A named model is fitted as asked (best balance point by least
        squares) and judged by ``valid``/``reason``.
    heating_range, cooling_range : (float, float)
        Balance-point search ranges in °C (within −30…40), searched every ``step`` K. The
        defaults span CalTRACK's 30–90 °F (≈ −1…32 °C) where heating and cooling matter.
        A candidate needs at least 10 usable days with non-zero degree days (CalTRACK).
    step : float, default 0.5
        Grid step of the balance-point search (K), for every device at once.
    resolution : float or None, default 0.1
        Each device's balance points are then refined to this resolution within one grid
        step of its best grid point (None: keep the grid point).
    min_coverage : float, default 0.8
        Days whose consumption ``coverage`` is lower are excluded (and counted).
    min_days : int, default 180
        Fewer usable days make the model invalid.
    max_cv_rmse : float, default 0.25
        Validity limit on CV(RMSE) (see Notes).

    Returns
    -------
    DataFrame
        Index ``device_id``; columns ``model`` (one of the four names), ``base_load``
        (consumption per day in the consumption's unit), ``heating_slope`` and
        ``cooling_slope`` (unit per degree-day), ``heating_balance_point`` and
        ``cooling_balance_point`` (°C; NaN for terms the model lacks), ``n_days`` (days
        used), ``n_excluded`` (days of the device left out: missing or low-coverage
        consumption, or temperature below 80 % of the day), ``r2``, ``cv_rmse``, ``nmbe``
        (fractions), ``valid`` and ``reason`` ("" when valid), plus ``sigma`` (residual
        standard error), ``dof``, ``weather_response`` (see Notes; NaN without a weather
        term) and the parameter covariance ``cov_bb`` … ``cov_cc`` (b = base load, h/c =
        heating/cooling slope) used for prediction intervals.
        ``attrs["tz"]`` is the zone of the daily data (the models' days);
        ``attrs["daily_temperature"]`` the daily mean temperatures used.

    Raises
    ------
    ValueError
        Naive indexes, input that is not daily, temperature that does not cover the daily
        data, an unknown ``model``, ranges outside −30…40 °C.

    See Also
    --------
    predict_baseline, cusum, normalise, degree_days

    Notes
    -----
    A poor fit is returned with ``valid=False`` and a reason, never raised. Validity
    follows ASHRAE Guideline 14-2014's criteria for whole-building regression baselines:
    CV(RMSE) at most 20 % (less than 12 months of post-retrofit data), 25 % (12–60
    months; the default here), 30 % (more than 60 months); net determination bias
    (NMBE) at most 0.005 %. Both use ``n − p`` in the denominators as the Guideline
    does. (G14's calibration limits for simulation models, monthly CV(RMSE) 15 % / NMBE
    ±5 % and hourly 30 % / ±10 %, do not apply to a regression baseline.) Each weather
    slope must be positive and significant at p < 0.1 (CalTRACK), i.e. |t| > ≈ 1.65; IPMVP
    asks for the same kind of evidence (a coefficient's t-statistic) before a weather
    term is kept. R² is reported, not required: it rewards weather-dominated loads and
    says nothing of an intercept model.

    A seasonal pattern that is not weather (lighting, holidays, summer water use) also
    correlates with temperature over a year and passes those tests. So a weather term must
    also be confirmed by the day-to-day weather: the departures of consumption from its
    15-day running mean, regressed on the departures of the fitted weather term from its
    running mean, give ``weather_response`` (≈ 1 for a real weather load, ≈ 0 for a
    seasonal one); its one-sided 95 % lower bound must reach 0.5, else the model is
    invalid with the reason "weather term not confirmed by day-to-day weather".

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> days = pd.date_range("2025-01-01", periods=365, freq="D", tz="UTC")
    >>> mean_t = 10 + 10 * np.sin(np.arange(365) / 58.1)
    >>> hourly = pd.Series(np.repeat(mean_t, 24),
    ...                    index=pd.date_range("2025-01-01", periods=365 * 24, freq="h", tz="UTC"))
    >>> noise = np.random.default_rng(0).normal(0, 0.2, 365)
    >>> use = 5 + 2 * np.maximum(0, 15 - mean_t) + noise
    >>> daily = pd.DataFrame({"device_id": "m1", "consumption": use},
    ...                      index=days.rename("period_start"))
    >>> m = fit_baseline(daily, hourly)
    >>> m.loc["m1", "model"], m.loc["m1", "heating_balance_point"], bool(m.loc["m1", "valid"])
    ('heating', np.float64(15.0), True)
    """
    model = _check_choice("model", model, ("auto", *BASELINE_MODELS))
    h_lo, h_hi = _check_range("heating_range", heating_range)
    c_lo, c_hi = _check_range("cooling_range", cooling_range)
    if not (isinstance(step, int | float) and 0 < step <= 10):
        raise ValueError(f"step={step!r}: expected a positive number of kelvin (<= 10)")
    if resolution is not None and not (isinstance(resolution, int | float) and resolution > 0):
        raise ValueError(f"resolution={resolution!r}: expected a positive number of kelvin")
    daily, tz = _daily_input(daily)
    series = _temperature_series(temperature)
    devices, days, y, present, _ = _matrix(daily, min_coverage)
    used_days = days[np.isfinite(y).any(axis=0)]
    _check_covers(series, used_days, tz, "daily consumption")
    temp = _day_temperatures(series, tz, days)
    if len(devices) == 0:  # nothing to fit: the table's layout, no rows
        y = np.zeros((0, len(days)))
    fit = _fit_arrays(
        y,
        temp,
        model,
        _grid(h_lo, h_hi, step),
        _grid(c_lo, c_hi, step),
        MIN_DEGREE_DAY_DAYS,
        float(step),
        None if resolution is None else float(resolution),
    )
    n_excluded = present.sum(axis=1) - fit["n_days"]
    reason = _reasons(fit, model, min_days, max_cv_rmse)
    names = np.array(BASELINE_MODELS, dtype=object)[fit["model"]]
    out = pd.DataFrame(
        {
            "model": pd.array(names, dtype="str"),
            "base_load": fit["base_load"],
            "heating_slope": fit["heating_slope"],
            "heating_balance_point": fit["heating_balance_point"],
            "cooling_slope": fit["cooling_slope"],
            "cooling_balance_point": fit["cooling_balance_point"],
            "n_days": fit["n_days"],
            "n_excluded": n_excluded.astype(np.int64),
            "r2": fit["r2"],
            "cv_rmse": fit["cv_rmse"],
            "nmbe": fit["nmbe"],
            "valid": reason == "",
            "reason": pd.array(reason.astype(object), dtype="str"),
            "sigma": fit["sigma"],
            "dof": fit["dof"],
            "weather_response": fit["weather_response"],
        },
        index=pd.Index(pd.array(devices.to_numpy(dtype=object), dtype="str"), name=DEVICE),
    )
    for (a, b), name in zip(((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)), _COV, strict=True):
        out[name] = fit["cov"][:, a, b] if len(out) else np.zeros(0)
    from .._attrs import for_attrs

    daily_t = pd.Series(temp, index=pd.DatetimeIndex(days.view("M8[ns]"), tz="UTC"))
    out.attrs = {
        "tz": str(tz),
        "unit": daily.attrs.get("unit"),
        "model": model,
        "step": float(step),
        "resolution": resolution,
        "daily_temperature": for_attrs(daily_t.rename("mean_temperature")),
    }
    return out


# ------------------------------------------------------------------ using the models
def _models_input(models: Any) -> tuple[pd.DataFrame, Any]:
    if not isinstance(models, pd.DataFrame):
        raise ValueError(f"models must be fit_baseline's DataFrame, got {type(models).__name__}")
    need = (
        "base_load",
        "heating_slope",
        "heating_balance_point",
        "cooling_slope",
        "cooling_balance_point",
    )
    missing = [c for c in need if c not in models.columns]
    if missing:
        raise ValueError(f"models lacks columns {missing} (expected fit_baseline's output)")
    return models, frame_tz(models, None)


def _expected(models: pd.DataFrame, temp: np.ndarray, level: float | None = None) -> Any:
    """Devices x days expected consumption (and the prediction interval half-width)."""

    def col(name: str) -> np.ndarray:
        if name not in models.columns:
            return np.full(len(models), np.nan)
        return models[name].to_numpy(dtype=float, na_value=np.nan)[:, None]

    t = temp[None, :]
    hs, cs = col("heating_slope"), col("cooling_slope")
    xh = np.where(np.isnan(hs), 0.0, np.maximum(0.0, col("heating_balance_point") - t))
    xc = np.where(np.isnan(cs), 0.0, np.maximum(0.0, t - col("cooling_balance_point")))
    expected = col("base_load") + np.nan_to_num(hs) * xh + np.nan_to_num(cs) * xc
    expected = np.where(np.isnan(t), np.nan, expected)
    if level is None:
        return expected
    cov = {name: np.nan_to_num(col(name)) for name in _COV}
    var_fit = (
        cov["cov_bb"]
        + 2 * xh * cov["cov_bh"]
        + 2 * xc * cov["cov_bc"]
        + xh * xh * cov["cov_hh"]
        + 2 * xh * xc * cov["cov_hc"]
        + xc * xc * cov["cov_cc"]
    )
    with np.errstate(invalid="ignore"):
        quantile = _t_dist().isf((1 - level) / 2, col("dof"))
        half = quantile * np.sqrt(col("sigma") ** 2 + var_fit)
    return expected, half


def _long(
    days: np.ndarray, device_ids: np.ndarray, columns: dict[str, np.ndarray], unit: Any = "us"
) -> pd.DataFrame:
    """Devices x days matrices → rows ordered by day, then device."""
    n_dev, n_days = len(device_ids), len(days)
    index = pd.DatetimeIndex(
        pd.to_datetime(np.repeat(days, n_dev), unit="ns", utc=True), name="period_start"
    ).as_unit(unit)
    data: dict[str, Any] = {
        DEVICE: pd.array(np.tile(device_ids.astype(object), n_days), dtype="str")
    }
    data.update({name: m.T.reshape(-1) for name, m in columns.items()})
    return pd.DataFrame(data, index=index)


def predict_baseline(
    models: pd.DataFrame, temperature: Any, *, level: float = 0.95
) -> pd.DataFrame:
    """Predict daily consumption per device for the temperatures given.

    Parameters
    ----------
    models : DataFrame
        :func:`fit_baseline`'s table (any subset of its rows). Its ``attrs["tz"]`` names
        the local days the models were fitted on, and the days predicted here.
    temperature : Series or DataFrame
        Outdoor temperature (°C, tz-aware index), any period; each local day's mean is
        used (NaN for days with temperature for less than 80 % of their hours).
    level : float, default 0.95
        Coverage of the prediction interval.

    Returns
    -------
    DataFrame
        Index ``period_start`` (UTC instant of each local day, every day of the
        temperature), columns ``device_id``, ``expected``, ``lower``, ``upper`` (the OLS
        prediction interval of one day: t quantile × √(σ² + x₀ᵀ Cov x₀); NaN without the
        covariance columns) and ``mean_temperature``; rows ordered by day, then device.

    Raises
    ------
    ValueError
        Not a models table, a naive temperature index, ``level`` outside (0, 1).

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"base_load": [5.0], "heating_slope": [2.0],
    ...                   "heating_balance_point": [15.0], "cooling_slope": [float("nan")],
    ...                   "cooling_balance_point": [float("nan")]},
    ...                  index=pd.Index(["m1"], name="device_id"))
    >>> t = pd.Series(10.0, index=pd.date_range("2026-01-05", periods=24, freq="h", tz="UTC"))
    >>> predict_baseline(m, t)["expected"].tolist()
    [15.0]
    """
    models, tz = _models_input(models)
    if not (isinstance(level, float) and 0 < level < 1):
        raise ValueError(f"level={level!r}: expected a probability between 0 and 1")
    per_day = daily_temperature(temperature, tz)
    days = to_ns(_times(per_day))
    temp = _day_temperatures(temperature, tz, days)
    expected, half = _expected(models, temp, level)
    ids = models.index.to_numpy(dtype=object)
    out = _long(
        days,
        ids,
        {
            "expected": expected,
            "lower": expected - half,
            "upper": expected + half,
            "mean_temperature": np.broadcast_to(temp, expected.shape),
        },
        _times(per_day).unit,
    )
    out.attrs = {"tz": str(tz), "level": level}
    return out


def _aligned(daily: pd.DataFrame, other: pd.DataFrame, column: str) -> np.ndarray:
    """``other[column]`` for each row of ``daily`` (by period_start and device_id)."""
    key = pd.MultiIndex.from_arrays([_times(other).as_unit("ns"), other[DEVICE].astype(str)])
    values = pd.Series(other[column].to_numpy(dtype=float, na_value=np.nan), index=key)
    if not key.is_unique:
        raise ValueError(f"expected has more than one row per day and device ({column!r})")
    want = pd.MultiIndex.from_arrays([_times(daily).as_unit("ns"), daily[DEVICE].astype(str)])
    return values.reindex(want).to_numpy()


def cusum(daily: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    """Cumulative sum of actual minus expected consumption, per device.

    Parameters
    ----------
    daily : DataFrame
        Daily consumption (``resample_consumption(..., "D")``: ``device_id``,
        ``consumption``).
    expected : DataFrame
        :func:`predict_baseline`'s frame for (at least) the same days.

    Returns
    -------
    DataFrame
        Index ``period_start``; columns ``device_id``, ``actual``, ``expected``,
        ``difference`` (actual − expected) and ``cusum`` (running sum of ``difference``
        per device in time order; a day without a difference adds nothing and its own
        ``cusum`` is NaN). One row per row of ``daily`` that has an expected value;
        ordered by day, then device.

    Raises
    ------
    ValueError
        Frames without the needed columns, naive indexes, input that is not daily.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2026-01-05", periods=3, freq="D", tz="UTC", name="period_start")
    >>> d = pd.DataFrame({"device_id": "m1", "consumption": [10.0, 12.0, 9.0]}, index=idx)
    >>> e = pd.DataFrame({"device_id": "m1", "expected": [10.0, 10.0, 10.0]}, index=idx)
    >>> cusum(d, e)["cusum"].tolist()
    [0.0, 2.0, 1.0]
    """
    daily, _ = _daily_input(daily)
    if not isinstance(expected, pd.DataFrame) or not {DEVICE, "expected"} <= set(expected.columns):
        raise ValueError("expected must be predict_baseline's frame (device_id, expected)")
    if not isinstance(expected.index, pd.DatetimeIndex) or expected.index.tz is None:
        raise ValueError("expected needs a tz-aware DatetimeIndex 'period_start'")
    exp = _aligned(daily, expected, "expected")
    keep = ~np.isnan(exp)
    rows = daily[keep]
    actual = rows["consumption"].to_numpy(dtype=float, na_value=np.nan)
    difference = actual - exp[keep]
    codes, devices = device_codes(rows[DEVICE], "daily")
    order = np.lexsort((to_ns(rows.index.tz_convert("UTC")), codes))
    running = pd.Series(difference[order]).groupby(codes[order]).cumsum().to_numpy()
    total = np.empty(len(rows))
    total[order] = running
    ts = to_ns(rows.index.tz_convert("UTC"))
    final = np.lexsort((codes, ts))
    out = pd.DataFrame(
        {
            DEVICE: device_column(codes[final], devices, rows[DEVICE]),
            "actual": actual[final],
            "expected": exp[keep][final],
            "difference": difference[final],
            "cusum": total[final],
        },
        index=rows.index[final].rename("period_start"),
    )
    out.attrs = {**daily.attrs}
    return out


def normalise(
    daily: pd.DataFrame,
    models: pd.DataFrame,
    reference_temperature: Any,
    *,
    temperature: Any = None,
) -> pd.DataFrame:
    """Re-express daily consumption under a reference period's weather.

    ``normalised = actual − expected(actual weather) + expected(reference weather)``: the
    model removes what this day's weather explains and adds what the reference weather
    would have caused, so two winters compare like for like.

    Parameters
    ----------
    daily : DataFrame
        Daily consumption (``resample_consumption(..., "D")``), local days of the models'
        zone.
    models : DataFrame
        :func:`fit_baseline`'s table (devices of ``daily`` without a model get NaN).
    reference_temperature : Series or DataFrame
        Temperature of the reference period (tz-aware index). Its local days are matched
        to the days of ``daily`` by month and day (a 29 February of ``daily`` uses 28
        February); when it spans several years, the expected values of the same month and
        day are averaged.
    temperature : Series or DataFrame, optional
        The actual temperature of ``daily``'s days. Default: the daily temperatures the
        models were fitted on (``models.attrs["daily_temperature"]``), which must then
        cover ``daily``.

    Returns
    -------
    DataFrame
        Index ``period_start``; columns ``device_id``, ``actual``, ``expected``,
        ``expected_reference`` and ``normalised``; one row per row of ``daily``.

    Raises
    ------
    ValueError
        Naive indexes, input that is not daily, temperature that does not cover it.

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"base_load": [5.0], "heating_slope": [2.0],
    ...                   "heating_balance_point": [15.0], "cooling_slope": [float("nan")],
    ...                   "cooling_balance_point": [float("nan")]},
    ...                  index=pd.Index(["m1"], name="device_id"))
    >>> hours = pd.date_range("2026-01-05", periods=24, freq="h", tz="UTC")
    >>> idx = pd.DatetimeIndex(hours[:1], name="period_start")
    >>> d = pd.DataFrame({"device_id": "m1", "consumption": [16.0]}, index=idx)
    >>> ref = pd.Series(5.0, index=hours - pd.DateOffset(years=1))
    >>> normalise(d, m, ref, temperature=pd.Series(10.0, index=hours))["normalised"].tolist()
    [26.0]
    """
    daily, tz = _daily_input(daily)
    models, _ = _models_input(models)
    if temperature is None:
        temperature = models.attrs.get("daily_temperature")
        if temperature is None:
            raise ValueError("pass temperature=: the models carry no daily temperatures")
    days_all = to_ns(_times(daily))
    days, pos = np.unique(days_all, return_inverse=True)
    _check_covers(temperature, days, tz, "daily consumption")
    temp = _day_temperatures(temperature, tz, days)
    ids = daily[DEVICE].astype(str).to_numpy(dtype=object)
    known = models.index.astype(str)
    row = known.get_indexer(pd.Index(ids))
    expected = _expected(models, temp)
    # reference: expected per device and reference day, averaged per local (month, day)
    ref = daily_temperature(reference_temperature, tz)
    ref_t = _day_temperatures(reference_temperature, tz, to_ns(_times(ref)))
    ref_local = _times(ref).tz_convert(tz)
    ref_key = ref_local.month * 100 + ref_local.day
    ref_exp = _expected(models, ref_t)
    keys, inverse = np.unique(ref_key, return_inverse=True)
    ok = ~np.isnan(ref_exp)
    sums = np.zeros((len(models), len(keys)))
    counts = np.zeros((len(models), len(keys)))
    np.add.at(sums.T, inverse, np.where(ok, ref_exp, 0.0).T)
    np.add.at(counts.T, inverse, ok.T.astype(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        per_key = sums / counts
    local = pd.DatetimeIndex(days.view("M8[ns]"), tz="UTC").tz_convert(tz)
    day_key = np.where((local.month == 2) & (local.day == 29), 228, local.month * 100 + local.day)
    kpos = np.searchsorted(keys, day_key)
    khit = (kpos < len(keys)) & (keys[np.minimum(kpos, len(keys) - 1)] == day_key)
    exp_row = np.full(len(daily), np.nan)
    ref_row = np.full(len(daily), np.nan)
    has = row >= 0
    exp_row[has] = expected[row[has], pos[has]]
    hk = has & khit[pos]
    ref_row[hk] = per_key[row[hk], kpos[pos[hk]]]
    actual = daily["consumption"].to_numpy(dtype=float, na_value=np.nan)
    out = pd.DataFrame(
        {
            DEVICE: daily[DEVICE].to_numpy(),
            "actual": actual,
            "expected": exp_row,
            "expected_reference": ref_row,
            "normalised": actual - exp_row + ref_row,
        },
        index=daily.index.rename("period_start"),
    )
    out.attrs = {**daily.attrs, "tz": str(tz)}
    return out
