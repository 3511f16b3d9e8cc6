"""to_excel: a sheet per frame, units in headers, local wall-clock times with the zone
named, a Provenance sheet; pandas.read_excel gives the same numbers back."""

from __future__ import annotations

import numpy as np
import openpyxl
import pandas as pd
import pytest

import waltero_frames as wf


def kpis_and_costs():
    idx = pd.date_range("2026-10-23T22:00Z", "2026-10-27T22:00Z", freq="15min", tz="UTC")
    idx.name = "timestamp"
    rng = np.random.default_rng(0)
    values = rng.gamma(2.0, 0.2, len(idx))
    values[0] = np.nan
    c = pd.DataFrame({"device_id": "m1", "consumption": values, "unit": "kWh",
                      "meter_type": "electricity"}, index=idx)  # fmt: skip
    c.attrs.update(tz="Europe/Berlin", org_id="00000000-0000-0000-0000-000000000001")
    k = wf.load_kpis(c, freq="D")
    tariffs = pd.DataFrame({"meter_type": ["electricity"], "valid_from": "2026-01-01",
                            "valid_to": None, "price": 0.3123456789, "tou_start": None,
                            "tou_end": None, "standing_charge": 0.4, "currency": "EUR"})  # fmt: skip
    return k, wf.costs(c, tariffs, freq="D")


def same(back, ours):
    """Equal to 16 significant digits: the cells hold what Excel keeps (15 digits shown)."""
    np.testing.assert_allclose(back.to_numpy(dtype=float), ours.to_numpy(dtype=float),
                               rtol=1e-15, atol=0)  # fmt: skip


def test_round_trip_gives_the_same_numbers_and_local_times(tmp_path):
    k, cost = kpis_and_costs()
    path = wf.to_excel({"Load KPIs": k, "Costs": cost}, tmp_path / "r.xlsx",
                       provenance={"study": "data/demo.sqlite", "period": "October 2026"})  # fmt: skip
    back = pd.read_excel(path, sheet_name=None)
    assert list(back) == ["Load KPIs", "Costs", "Provenance"]
    kb = back["Load KPIs"]
    assert list(kb.columns) == [
        "period_start (Europe/Berlin)", "device_id", "energy [kWh]", "peak_demand [kW]",
        "peak_at (Europe/Berlin)", "peak_interval [min]", "baseload [kW]",
        "out_of_hours_share", "load_factor", "coverage", "unit", "power_unit",
    ]  # fmt: skip
    for ours, theirs in [("energy", "energy [kWh]"), ("peak_demand", "peak_demand [kW]"),
                         ("baseload", "baseload [kW]"), ("coverage", "coverage"),
                         ("load_factor", "load_factor")]:  # fmt: skip
        same(kb[theirs], k[ours])
    assert (kb["peak_interval [min]"] == 15).all()
    # wall clock of the zone: the 25-hour day starts at local midnight
    local = k.index.tz_convert("Europe/Berlin").tz_localize(None)
    np.testing.assert_array_equal(kb["period_start (Europe/Berlin)"].to_numpy(), local.to_numpy())
    peak_local = k["peak_at"].dt.tz_convert("Europe/Berlin").dt.tz_localize(None)
    np.testing.assert_array_equal(kb["peak_at (Europe/Berlin)"].to_numpy(), peak_local.to_numpy())
    cb = back["Costs"]
    same(cb["energy_cost [EUR]"], cost["energy_cost"])
    same(cb["total [EUR]"], cost["total"])
    assert cb["partial"].tolist() == cost["partial"].tolist()
    prov = back["Provenance"].set_index("item")["value"]
    assert prov["organization"] == "00000000-0000-0000-0000-000000000001"
    assert prov["study"] == "data/demo.sqlite" and prov["period"] == "October 2026"
    assert prov["time zone"] == "Europe/Berlin"
    assert pd.Timestamp(prov["generated at"]).tzinfo is not None
    assert "version waltero_frames" in prov.index and "version pandas" in prov.index


def test_number_formats_widths_and_frozen_header(tmp_path):
    k, _ = kpis_and_costs()
    path = wf.to_excel({"KPIs": k}, tmp_path / "k.xlsx")
    sheet = openpyxl.load_workbook(path)["KPIs"]
    assert sheet.freeze_panes == "A2"
    headers = [c.value for c in sheet[1]]
    col = {h: openpyxl.utils.get_column_letter(i + 1) for i, h in enumerate(headers)}
    assert sheet[f"{col['period_start (Europe/Berlin)']}2"].number_format == "yyyy-mm-dd hh:mm"
    assert sheet[f"{col['coverage']}2"].number_format == "0.0%"
    assert sheet[f"{col['energy [kWh]']}2"].number_format == "#,##0.00"
    assert sheet.column_dimensions[col["peak_at (Europe/Berlin)"]].width >= 16


@pytest.mark.parametrize(
    ("frames", "match"),
    [
        ({"Provenance": pd.DataFrame({"a": [1]})}, "'Provenance'"),
        ({"a/b": pd.DataFrame({"a": [1]})}, "'a/b'"),
        ({"x" * 32: pd.DataFrame({"a": [1]})}, "1 to 31 characters"),
        ({"ok": [1, 2]}, "takes DataFrames"),
        ({}, "non-empty mapping"),
    ],
)
def test_bad_sheets_are_refused(tmp_path, frames, match):
    with pytest.raises(ValueError, match=match):
        wf.to_excel(frames, tmp_path / "x.xlsx")


def test_mixed_units_stay_in_a_unit_column(tmp_path):
    f = pd.DataFrame({"device_id": ["a", "b"], "consumption": [1.5, 2.5], "unit": ["kWh", "m3"]})
    back = pd.read_excel(wf.to_excel({"Mixed": f}, tmp_path / "m.xlsx"), sheet_name="Mixed")
    assert list(back.columns) == ["device_id", "consumption [see unit]", "unit"]
    assert back["consumption [see unit]"].tolist() == [1.5, 2.5]
