"""Units of consumption: energy units, power units, gas volume → energy (``to_unit``)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from .._attrs import for_attrs
from ._frames import DEVICE, device_codes, per_device_str

#: Energy units and their size in kWh.
ENERGY_UNITS = {"Wh": 1e-3, "kWh": 1.0, "MWh": 1e3, "GWh": 1e6}
#: Value columns of the package's frames that are in the device's unit (or its power unit).
VALUE_COLUMNS = ("consumption", "energy", "value", "meter.value.processed", "actual",
                 "expected", "peak_demand", "baseload")  # fmt: skip
MJ_PER_KWH = 3.6


def power_unit(unit: str) -> str:
    """Name the unit of mean power for consumption in ``unit``: kWh → kW, m3 → m3/h.

    >>> power_unit("kWh"), power_unit("MWh"), power_unit("m3")
    ('kW', 'MW', 'm3/h')
    """
    if unit in ENERGY_UNITS:
        return unit[:-1]
    return f"{unit}/h"


def device_units(
    frame: pd.DataFrame, codes: np.ndarray, devices: pd.Index, *, need: bool
) -> np.ndarray:
    """Return each device's unit (``unit`` column, ``attrs["unit"]`` or ``attrs["devices"]``).

    ``""`` where unknown, or a ValueError naming the devices when ``need``.
    """
    units = per_device_str(None, "unit", frame, codes, devices)
    if need:
        missing = devices[units == ""].tolist()
        if missing:
            raise ValueError(
                f"missing units for device(s) {missing[:5]}"
                f"{f' and {len(missing) - 5} more' if len(missing) > 5 else ''}: pass a frame "
                "with a 'unit' column or attrs['devices'] (wf.telemetry of a wf.devices(…, "
                "details=True) frame carries them)"
            )
    return units


def unit_array(units: np.ndarray) -> Any:
    """Return per-row unit strings as a ``str`` array (missing where ``""``: unknown)."""
    return pd.array([u or None for u in units], dtype="str")


def calorific_kwh_per_m3(value: Any) -> float:
    """Read a calorific value as kWh/m3: a number, ``"11.2 kWh/m3"`` or ``"40 MJ/m3"``.

    >>> calorific_kwh_per_m3("36 MJ/m3")
    10.0
    """
    number, unit = value, "kWh/m3"
    if isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9.eE+-]+)\s*(kWh/m3|MJ/m3)?\s*", value)
        if m is None:
            raise ValueError(f"calorific_value={value!r}: expected a number of kWh/m3 or 'N MJ/m3'")
        number, unit = m.group(1), m.group(2) or "kWh/m3"
    kwh = _positive(number, "calorific_value", value)
    return kwh / MJ_PER_KWH if unit == "MJ/m3" else kwh


def _positive(number: Any, name: str, given: Any) -> float:
    """Return ``number`` as a positive finite float, else raise naming ``name=given``."""
    try:
        out = float(number)
    except (TypeError, ValueError):
        out = float("nan")
    if not np.isfinite(out) or out <= 0 or isinstance(given, bool):
        raise ValueError(f"{name}={given!r}: expected a positive number")
    return out


def to_unit(
    frame: pd.DataFrame,
    unit: str,
    *,
    calorific_value: Any = None,
    correction_factor: float = 1.0,
) -> pd.DataFrame:
    """Express a frame's consumption in one energy unit.

    Energy units (Wh, kWh, MWh, GWh) are rescaled; gas volumes in m3 become energy as
    ``m3 × correction_factor × calorific_value`` when ``calorific_value`` is given.
    Devices whose unit is not energy (water in m3, or gas without a calorific value)
    are left as they are: the ``unit`` column says what each row is in.

    Parameters
    ----------
    frame : DataFrame
        A frame with ``device_id`` and value columns in the devices' units:
        ``readings_to_consumption``, ``resample_consumption`` or ``load_kpis`` output
        (columns ``consumption``, ``energy``, ``value``, ``meter.value.processed``,
        ``peak_demand``, ``baseload`` are converted where present; power columns by the
        same factor). Units come from a ``unit`` column, else ``attrs["devices"]``.
    unit : {"Wh", "kWh", "MWh", "GWh"}
        The target energy unit.
    calorific_value : float or str, optional
        Gas calorific value in kWh per m3 (a number), or a string ``"11.2 kWh/m3"`` /
        ``"40.3 MJ/m3"`` (MJ/m3 ÷ 3.6 = kWh/m3). Applies to devices of meter type
        ``gas`` in m3 (or of unknown meter type in m3).
    correction_factor : float, default 1.0
        Volume correction (temperature, pressure, "Zustandszahl") applied to gas m3.

    Returns
    -------
    DataFrame
        A copy with the value columns converted, a ``unit`` column (and ``power_unit``
        when the frame has power columns) naming each row's unit, and
        ``attrs["unit_factors"]`` (device_id → factor applied). ``attrs["devices"]``'s
        ``unit`` column is updated to match.

    Raises
    ------
    ValueError
        An unknown target unit, devices without a unit, a non-positive calorific value
        or correction factor.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"device_id": ["a", "b"], "consumption": [2.0, 0.5],
    ...                   "unit": ["kWh", "MWh"]})
    >>> to_unit(f, "kWh")[["consumption", "unit"]].values.tolist()
    [[2.0, 'kWh'], [500.0, 'kWh']]
    """
    if unit not in ENERGY_UNITS:
        raise ValueError(f"unit must be one of {list(ENERGY_UNITS)}, got {unit!r}")
    if not isinstance(frame, pd.DataFrame) or DEVICE not in frame.columns:
        raise ValueError("to_unit needs a DataFrame with a 'device_id' column")
    correction = _positive(correction_factor, "correction_factor", correction_factor)
    cv = None if calorific_value is None else calorific_kwh_per_m3(calorific_value)
    codes, devices = device_codes(frame[DEVICE], "frame")
    units = device_units(frame, codes, devices, need=True)
    kinds = per_device_str(None, "meter_type", frame, codes, devices)
    factor = np.ones(len(devices))
    new = units.copy()
    energy = np.isin(units, list(ENERGY_UNITS))
    factor[energy] = [ENERGY_UNITS[u] / ENERGY_UNITS[unit] for u in units[energy]]
    new[energy] = unit
    if cv is not None:
        gas = (units == "m3") & np.isin(kinds, ["gas", ""])
        factor[gas] = cv * correction / ENERGY_UNITS[unit]
        new[gas] = unit
    out = frame.copy()
    row_factor = factor[codes]
    for col in VALUE_COLUMNS:
        if col in out.columns:
            out[col] = out[col].to_numpy(dtype=float, na_value=np.nan) * row_factor
    out["unit"] = pd.array(new[codes], dtype="str")
    if "peak_demand" in out.columns or "baseload" in out.columns:
        out["power_unit"] = pd.array([power_unit(u) for u in new[codes]], dtype="str")
    attrs = {k: v for k, v in frame.attrs.items() if k not in ("unit", "units")}
    info = attrs.get("devices")
    if isinstance(info, pd.DataFrame) and "unit" in info.columns:
        info = pd.DataFrame(info).copy()
        by_id = pd.Series(new, index=devices.to_numpy(dtype=object))
        hit = info.index.astype(str).isin(by_id.index)
        info.loc[hit, "unit"] = by_id.reindex(info.index[hit].astype(str)).to_numpy()
        attrs["devices"] = for_attrs(info)
    attrs["unit_factors"] = dict(zip(devices.tolist(), factor.tolist(), strict=True))
    out.attrs = attrs
    return out
