"""costs and emissions against hand computations: a time-of-use night window across
midnight in a DST month, standing charges once per local day, tariffs changing within
a month, missing tariffs and factors (NaN with a reason), factors changing at a year
boundary; malformed tables refused with the row named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import waltero_frames as wf


def hourly(start, end, kwh=1.0, device="m1", meter_type="electricity", unit="kWh", tz=None):
    """An hourly meter reading ``kwh`` per hour over [start, end] (UTC); first: no delta."""
    idx = pd.date_range(start, end, freq="h", tz="UTC", name="timestamp")
    values = np.full(len(idx), kwh)
    values[0] = np.nan
    frame = pd.DataFrame(
        {"device_id": device, "consumption": values, "meter_type": meter_type, "unit": unit},
        index=idx,
    )
    frame.attrs["tz"] = tz
    return frame


def tariff(**over):
    rows = {
        "meter_type": "electricity",
        "valid_from": "2026-01-01",
        "valid_to": None,
        "price": [0.30, 0.20],
        "tou_start": ["06:00", "22:00"],
        "tou_end": ["22:00", "06:00"],
        "standing_charge": 0.40,
        "currency": "EUR",
    }
    rows.update(over)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- costs
@pytest.mark.parametrize(
    ("month_start", "next_start", "night_readings", "day_readings"),
    [
        # October 2026 in Berlin: 31 days, the 25th has 25 hours; the repeated 02:00
        # is night time twice: 31 × 8 + 1 night readings, 31 × 16 day readings
        ("2026-09-30T22:00Z", "2026-10-31T23:00Z", 31 * 8 + 1, 31 * 16),
        # March 2026: the 29th has 23 hours; 02:00 does not exist: one night reading less
        ("2026-02-28T23:00Z", "2026-03-31T22:00Z", 31 * 8 - 1, 31 * 16),
    ],
)
def test_cost_of_a_dst_month_with_a_night_window_across_midnight(
    month_start, next_start, night_readings, day_readings
):
    start, end = pd.Timestamp(month_start), pd.Timestamp(next_start)
    c = hourly(start - pd.Timedelta(days=1), end + pd.Timedelta(days=1), tz="Europe/Berlin")
    got = wf.costs(c, tariff()).loc[start]
    assert got["energy"] == night_readings + day_readings  # every local hour read once
    assert got["energy_cost"] == pytest.approx(night_readings * 0.20 + day_readings * 0.30)
    assert got["standing_charge"] == pytest.approx(31 * 0.40)  # once per day, not per row
    assert got["total"] == pytest.approx(got["energy_cost"] + 31 * 0.40)
    assert (got["currency"], got["partial"], got["reason"]) == ("EUR", False, "")


def test_tariff_change_within_a_month_and_a_gap_in_validity():
    tz = "Europe/Berlin"
    c = hourly("2026-05-31T00:00Z", "2026-07-02T00:00Z", tz=tz)
    table = pd.DataFrame(
        {
            "meter_type": "electricity",
            "valid_from": ["2026-01-01", "2026-06-11", "2026-06-21"],
            "valid_to": ["2026-06-10", "2026-06-21", None],  # 10 June: no tariff
            "price": [0.30, 0.40, 0.50],
            "tou_start": None,
            "tou_end": None,
            "standing_charge": [0.40, 0.50, 0.60],
            "currency": "EUR",
        }
    )
    june = pd.Timestamp("2026-05-31T22:00Z")
    got = wf.costs(c, table).loc[june]
    assert got["energy_cost"] == pytest.approx(9 * 24 * 0.30 + 10 * 24 * 0.40 + 10 * 24 * 0.50)
    assert got["standing_charge"] == pytest.approx(9 * 0.40 + 10 * 0.50 + 10 * 0.60)
    assert got["partial"] and got["reason"] == "no tariff for part of the period"


def test_device_without_a_tariff_gets_nan_and_a_reason_never_zero():
    tz = "Europe/Berlin"
    elec = hourly("2026-05-31T00:00Z", "2026-07-02T00:00Z", tz=tz)
    gas = hourly("2026-05-31T00:00Z", "2026-07-02T00:00Z", device="g1", meter_type="gas", unit="m3")
    both = pd.concat([elec, gas]).sort_index(kind="stable")
    both.attrs["tz"] = tz
    out = wf.costs(both, tariff())
    g = out[out["device_id"] == "g1"]
    assert g["energy_cost"].isna().all() and g["total"].isna().all()
    assert g["standing_charge"].isna().all() and g["partial"].all()
    assert set(g["reason"]) == {"no tariff for meter type 'gas'"}
    assert set(g["unit"]) == {"m3"} and set(out["unit"]) == {"kWh", "m3"}  # each row's unit
    e = out[out["device_id"] == "m1"]
    assert e["energy_cost"].notna().all() and not e["partial"].any()
    # a device's own rows win over its meter type's
    own = pd.concat([tariff(), tariff(meter_type=None, device_id="m1", price=[1.0, 1.0])])
    june = wf.costs(both, own).loc[pd.Timestamp("2026-05-31T22:00Z")].set_index("device_id")
    assert june.loc["m1", "energy_cost"] == pytest.approx(30 * 24 * 1.0)


@pytest.mark.parametrize(
    ("table", "match"),
    [
        (
            pd.concat(
                [tariff(valid_to="2026-07-01"), tariff(valid_from="2026-06-15")], ignore_index=True
            ),
            r"rows \[0, 1\] and \[2, 3\].*overlap from 2026-06-15",
        ),
        (tariff(tou_end=["20:00", "06:00"]), r"do not cover the day; nothing from 20:00"),
        (tariff(tou_start=["05:00", "22:00"]), r"windows overlap at 05:00"),
        (tariff(tou_start=["6am", "22:00"]), r"row 0 tou_start: '6am'"),
        (tariff(price=["cheap", 0.2]), r"row 0 price: 'cheap'"),
        (tariff(standing_charge=[0.4, 0.5]), r"standing_charge must be one number"),
        (tariff(valid_from="2026-13-01"), r"valid_from: '2026-13-01'"),
        (tariff(currency=["EUR", ""]), r"row 1: currency is empty"),
        (tariff().drop(columns="currency"), r"lack column\(s\) \['currency'\]"),
        (tariff(unit="MWh"), r"per MWh, device 'm1' reads kWh"),
    ],
)
def test_malformed_tariffs_name_the_row(table, match):
    c = hourly("2026-06-01T00:00Z", "2026-06-03T00:00Z", tz="UTC")
    with pytest.raises(ValueError, match=match):
        wf.costs(c, table)


# ---------------------------------------------------------------- emissions
FACTORS = pd.DataFrame(
    {
        "meter_type": ["electricity", "electricity", "gas"],
        "unit": ["kWh", "kWh", "kWh"],
        "kg_co2e_per_unit": [0.40, 0.30, 0.20],
        "year": [2025, 2026, 2026],
        "source": ["grid 2025 (example)", "grid 2026 (example)", "gas (example)"],
        "basis": "location",
    }
)


def test_emissions_with_factors_changing_at_the_year_boundary():
    """ISO week Mon 29 Dec 2025 - Sun 4 Jan 2026 in Berlin: 72 hours of 2025 at 0.40,
    96 hours of 2026 at 0.30 (a reading at local midnight is the new year's)."""
    tz = "Europe/Berlin"
    c = hourly("2025-12-20T00:00Z", "2026-01-10T00:00Z", kwh=2.0, tz=tz)
    week = wf.emissions(c, FACTORS, freq="W").loc[pd.Timestamp("2025-12-28T23:00Z")]
    assert week["kg_co2e"] == pytest.approx(72 * 2.0 * 0.40 + 96 * 2.0 * 0.30)
    months = wf.emissions(c, FACTORS)  # MS
    dec = months.loc[pd.Timestamp("2025-11-30T23:00Z")]
    jan = months.loc[pd.Timestamp("2025-12-31T23:00Z")]
    assert dec["kg_co2e"] == pytest.approx(dec["energy"] * 0.40)
    assert jan["kg_co2e"] == pytest.approx(jan["energy"] * 0.30)
    assert months.attrs["factor_sources"] == ["grid 2025 (example)", "grid 2026 (example)"]
    assert months.attrs["factor_years"] == [2025, 2026] and months.attrs["basis"] == "location"
    # MWh meters take the per-kWh factor scaled
    mwh = hourly("2026-01-01T00:00Z", "2026-01-03T00:00Z", kwh=0.002, unit="MWh", tz=tz)
    got = wf.emissions(mwh, FACTORS, freq="D").iloc[1]
    assert got["kg_co2e"] == pytest.approx(24 * 2.0 * 0.30)
    assert got["unit"] == "MWh"  # energy stays in the device's unit


def test_missing_factor_or_unit_gives_nan_with_reason():
    tz = "Europe/Berlin"
    c = hourly("2024-12-30T00:00Z", "2025-01-03T00:00Z", tz=tz)  # no 2024 factor
    got = wf.emissions(c, FACTORS, freq="YS")
    assert np.isnan(got["kg_co2e"].iloc[0])
    assert got["reason"].iloc[0] == "no electricity factor per kWh for a year of the period"
    assert got["kg_co2e"].iloc[1] == pytest.approx(got["energy"].iloc[1] * 0.40)
    gas_m3 = hourly("2026-01-01T00:00Z", "2026-01-03T00:00Z", meter_type="gas", unit="m3", tz=tz)
    assert wf.emissions(gas_m3, FACTORS, freq="D")["kg_co2e"].isna().all()  # kWh factor, m3
    with pytest.raises(ValueError, match="missing units for device"):
        wf.emissions(c.drop(columns="unit"), FACTORS)
    with pytest.raises(ValueError, match="mix location- and market-based"):
        wf.emissions(c, FACTORS.assign(basis=["location", "market", "location"]))
    with pytest.raises(ValueError, match=r"factors rows \[0, 1\]"):
        wf.emissions(c, FACTORS.assign(year=[2025, 2025, 2026]))
    with pytest.raises(ValueError, match="basis 'grid'"):
        wf.emissions(c, FACTORS.assign(basis="grid"))


def test_example_factor_table_in_data_is_labelled_as_an_example():
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "data" / "emission-factors-example.csv"
    text = path.read_text()
    assert "EXAMPLE" in text and "not authoritative" in text
    table = pd.read_csv(path, comment="#")
    c = hourly("2026-01-01T00:00Z", "2026-01-03T00:00Z", tz="Europe/Berlin")
    got = wf.emissions(c, table[table["basis"] == "location"], freq="D")
    assert got["kg_co2e"].notna().all()
