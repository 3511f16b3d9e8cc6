"""``to_excel``: report tables as a workbook to forward (units in headers, local times)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..analysis.units import VALUE_COLUMNS
from ..timeargs import TzLike, frame_tz

PROVENANCE = "Provenance"
FORMATS = {"time": "yyyy-mm-dd hh:mm", "number": "#,##0.00", "share": "0.0%"}
_POWER = ("peak_demand", "baseload")
_MONEY = ("energy_cost", "standing_charge", "total")
_SHARES = ("coverage", "out_of_hours_share", "load_factor")
_BAD_SHEET = re.compile(r"[\[\]:*?/\\]")


def _single(frame: pd.DataFrame, column: str) -> str | None:
    """Return the one value of a text column (None when absent, empty or mixed)."""
    if column not in frame.columns:
        return None
    values = frame[column].dropna().astype(str).unique()
    return str(values[0]) if len(values) == 1 else None


def _unit_of(frame: pd.DataFrame, column: str) -> str | None:
    """Return a column's unit: ``attrs["units"][column]``, else the one unit/currency."""
    given = frame.attrs.get("units")
    if isinstance(given, Mapping) and column in given:
        return str(given[column])
    by = (
        "unit"
        if column in VALUE_COLUMNS and column not in _POWER
        else "power_unit"
        if column in _POWER
        else "currency"
        if column in _MONEY
        else None
    )
    if by is None or by not in frame.columns:
        return None
    return _single(frame, by) or f"see {by}"  # mixed units: each row's is in that column


def _sheet_table(frame: pd.DataFrame, tz: Any) -> tuple[pd.DataFrame, dict[str, str]]:
    """Turn a frame into plain cells and each header's kind (for number formats).

    The index becomes columns, times local wall clock, timedeltas minutes; units go
    into the headers.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"to_excel takes DataFrames, got {type(frame).__name__}")
    flat = frame.reset_index() if frame.index.name or frame.index.names[0] else frame.copy()
    flat.attrs = frame.attrs
    cells: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    zone = str(tz)
    for col in flat.columns:
        s = flat[col]
        name = str(col)
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            header = f"{name} ({zone})"
            cells[header] = s.dt.tz_convert(tz).dt.tz_localize(None)
            kinds[header] = "time"
        elif s.dtype.kind == "M":
            header = f"{name} (UTC)" if name not in ("date",) else name
            cells[header] = s
            kinds[header] = "time"
        elif s.dtype.kind == "m":
            header = f"{name} [min]"
            cells[header] = s.dt.total_seconds() / 60
            kinds[header] = "number"
        elif s.dtype.kind == "b":
            cells[name] = s
            kinds[name] = "text"
        elif s.dtype.kind in "iuf":
            unit = _unit_of(flat, name)
            header = f"{name} [{unit}]" if unit else name
            cells[header] = s
            kinds[header] = "share" if name in _SHARES or name.endswith("share") else "number"
        else:
            cells[name] = s.astype(object).where(s.notna(), None)
            kinds[name] = "text"
    return pd.DataFrame(cells), kinds


def _provenance(
    frames: Mapping[str, pd.DataFrame], tz: Any, given: Mapping[str, Any]
) -> pd.DataFrame:
    from ..study.source import versions

    attrs: dict[str, Any] = {}
    for frame in frames.values():
        for key in ("org_id", "organization", "start", "end", "study"):
            if key in frame.attrs and key not in attrs:
                attrs[key] = frame.attrs[key]
    period = None
    if "start" in attrs and "end" in attrs:
        start, end = (pd.Timestamp(attrs[k]).tz_convert(tz) for k in ("start", "end"))
        period = f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} (end exclusive)"
    items: dict[str, Any] = {
        "organization": attrs.get("organization", attrs.get("org_id")),
        "period": period,
        "study": attrs.get("study"),
        "time zone": str(tz),
        "times": f"local wall-clock time in {tz} (Excel has no time zones)",
        "generated at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
    }
    items.update({str(k): v for k, v in given.items()})
    items.update(
        {f"version {k}": v for k, v in versions(("waltero_frames", "pandas", "numpy")).items()}
    )
    items["sheets"] = ", ".join(frames)
    return pd.DataFrame(
        {"item": list(items), "value": ["" if v is None else str(v) for v in items.values()]}
    )


def to_excel(
    frames: Mapping[str, pd.DataFrame],
    path: str | Path,
    *,
    tz: TzLike | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> Path:
    r"""Write report tables to one Excel workbook, a sheet per frame plus ``Provenance``.

    Parameters
    ----------
    frames : mapping of str to DataFrame
        Sheet name → frame (names: at most 31 characters, none of ``[]:*?/\``, not
        ``Provenance``). The index is written as the first column(s).
    path : str or Path
        The ``.xlsx`` file to write (replaced when it exists).
    tz : str, optional
        Zone of the wall-clock times written (Excel cells have no zone); default the
        first frame's ``attrs["tz"]``, else UTC. Headers name it: ``period_start
        (Europe/Berlin)``.
    provenance : mapping, optional
        Items for the ``Provenance`` sheet (``organization``, ``period``, ``study`` …);
        they override what the frames' attrs say. Versions and the generation time are
        always added.

    Returns
    -------
    Path
        ``path``.

    Notes
    -----
    Headers carry units: ``energy [kWh]`` when the frame has one ``unit`` (power
    columns take ``power_unit``, money columns ``currency``), ``energy [see unit]`` when
    its rows differ (each row's unit is in that column), or what ``attrs["units"]``
    (column → unit) says; timedeltas are written in minutes
    (``peak_interval [min]``). Values are written with 16 significant digits (Excel keeps
    15; number formats only change the display), so ``pandas.read_excel`` gives the same
    numbers back to within one unit in the 16th digit.

    Raises
    ------
    ValueError
        A bad sheet name, a value that is not a DataFrame, an unknown zone.

    Examples
    --------
    >>> wf.to_excel({"KPIs": kpis, "Costs": cost}, "reports/monthly.xlsx")  # doctest: +SKIP
    """
    if not isinstance(frames, Mapping) or not frames:
        raise ValueError("frames must be a non-empty mapping of sheet name → DataFrame")
    for name in frames:
        if (
            not isinstance(name, str)
            or not name
            or len(name) > 31
            or _BAD_SHEET.search(name)
            or name == PROVENANCE
        ):
            raise ValueError(
                f"sheet name {name!r}: 1 to 31 characters, none of []:*?/\\, not {PROVENANCE!r}"
            )
    tz = frame_tz(next(iter(frames.values()), None), tz)
    tables = {name: _sheet_table(frame, tz) for name, frame in frames.items()}
    path = Path(path)
    with pd.ExcelWriter(path, engine="openpyxl", datetime_format=FORMATS["time"]) as writer:
        for name, (table, kinds) in tables.items():
            table.to_excel(writer, sheet_name=name, index=False)
            _style(writer.sheets[name], table, kinds)
        prov = _provenance(frames, tz, provenance or {})
        prov.to_excel(writer, sheet_name=PROVENANCE, index=False)
        _style(writer.sheets[PROVENANCE], prov, {"item": "text", "value": "text"}, wide=80)
    return path


def _style(sheet: Any, table: pd.DataFrame, kinds: dict[str, str], wide: int = 60) -> None:
    """Set number formats, column widths and a bold frozen header row."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    for j, col in enumerate(table.columns, start=1):
        letter = get_column_letter(j)
        sheet.cell(row=1, column=j).font = bold
        sheet.column_dimensions[letter].width = min(wide, _width(table[col], kinds[col], col))
        fmt = FORMATS.get(kinds[col])
        if fmt:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=j, max_col=j):
                cell.number_format = fmt
    sheet.freeze_panes = "A2"


def _width(values: pd.Series, kind: str, header: str) -> float:
    """Return a column width that shows the header and typical values."""
    if kind == "time":
        body = 16
    elif kind in ("number", "share"):
        finite = values[np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))]
        body = len(f"{finite.abs().max():,.2f}") + 1 if len(finite) else 6
    else:
        body = (
            int(values.dropna().astype(str).str.len().quantile(0.9)) if values.notna().any() else 4
        )
    return float(max(len(header), body) + 2)
