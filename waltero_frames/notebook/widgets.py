"""An ipywidgets explorer: organization, device search, date range and resolution.

The widget is thin: every number, table and figure comes from the plain functions in
:mod:`waltero_frames.notebook.explorer`. Callbacks are ordinary ``observe`` handlers (not
``interact``), and each refresh leaves its outcome on the object — ``periods``,
``table``, ``figure`` and ``error`` — so a test sets a picker's ``.value`` and reads them.
An error in a callback is shown in the widget's status line and kept in ``error``; with
``raise_errors=True`` it is raised to whoever set the value (tests), never swallowed. The
first view is computed in the constructor, where an error always raises (so a notebook
run fails instead of showing a broken widget).

Widget output does not survive an offline HTML export: a report draws its plots in
ordinary cells (``wf.plots``), the explorer is for interactive use.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any, Literal

import ipywidgets as w
import pandas as pd
from IPython.display import display
from matplotlib.figure import Figure

from ..api.fetch import devices as fetch_devices
from ..api.fetch import organizations
from ..timeargs import Period
from . import explorer

__all__ = ["Explorer"]


class Explorer:
    """Explore one device's consumption per local hour/day/week/month.

    Parameters
    ----------
    client : wf.Client
        A logged-in (or lazily logging-in) client.
    org : str, optional
        Organization to open first (default: the first the user can read).
    start, end : date-like, optional
        First and last local day (both included); default the last 7 full days.
    resolution : {"hour", "day", "week", "month"}
    method : {"interpolate", "attribute"}
        How consumption is put into periods (see ``wf.resample_consumption``).
    raise_errors : bool
        Re-raise refresh errors after showing them (for tests and debugging).

    Attributes
    ----------
    org, search, device, start, end, resolution : ipywidgets
        The pickers; setting ``.value`` refreshes the plot and the table.
    periods : DataFrame or None
        The last ``explorer.consumption_per_period`` result.
    table : DataFrame or None
        The last table shown.
    figure : matplotlib Figure or None
        The last figure shown.
    error : Exception or None
        The error of the last refresh (None when it succeeded).

    Examples
    --------
    >>> ex = wf.widgets.Explorer(client, start="2026-05-18", end="2026-05-24")  # doctest: +SKIP
    >>> ex                      # shows the widget in a notebook  # doctest: +SKIP
    >>> ex.search.value = "ZR-881"; ex.table.head()                 # doctest: +SKIP
    """

    def __init__(
        self,
        client: Any,
        *,
        org: str | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        resolution: Period = "day",
        method: Literal["interpolate", "attribute"] = "interpolate",
        raise_errors: bool = False,
    ) -> None:
        resolution = explorer.check_resolution(resolution)
        if method not in ("interpolate", "attribute"):
            raise ValueError(f"unknown method {method!r}; use 'interpolate' or 'attribute'")
        last = pd.Timestamp(end).date() if end is not None else dt.date.today() - dt.timedelta(1)
        first = pd.Timestamp(start).date() if start is not None else last - dt.timedelta(6)
        explorer.local_range(first, last, "UTC")  # bad dates fail here, before any request
        self.client = client
        self.method = method
        self.raise_errors = raise_errors
        self.periods: pd.DataFrame | None = None
        self.table: pd.DataFrame | None = None
        self.figure: Figure | None = None
        self.error: Exception | None = None
        self._orgs = organizations(client)
        if org is not None and org not in self._orgs.index:
            raise ValueError(f"organization {org!r} is not among the user's organizations")
        self._devices: dict[str, pd.DataFrame] = {}
        self._readings: dict[tuple, pd.DataFrame] = {}
        self._hold = True

        self.org = w.Dropdown(
            description="Organization",
            options=list(zip(self._orgs["name"], self._orgs.index, strict=True)),
            value=org or (self._orgs.index[0] if len(self._orgs) else None),
        )
        self.search = w.Text(description="Search", placeholder="name or serial number")
        self.device = w.Select(description="Device", rows=8, layout=w.Layout(width="60%"))
        self.start = w.DatePicker(description="From", value=first)
        self.end = w.DatePicker(description="To", value=last)
        self.resolution = w.ToggleButtons(
            options=list(explorer.RESOLUTIONS), value=resolution, description="Resolution"
        )
        self.status = w.HTML()
        self.plot_output = w.Output()
        self.table_output = w.Output()
        self.widget = w.VBox(
            [
                w.HBox([self.org, self.search]),
                self.device,
                w.HBox([self.start, self.end]),
                self.resolution,
                self.status,
                self.plot_output,
                self.table_output,
            ]
        )
        self.org.observe(self._on_org, names="value")
        self.search.observe(self._on_search, names="value")
        for picker in (self.device, self.start, self.end, self.resolution):
            picker.observe(self._on_pick, names="value")
        self._hold = False
        self._fill_devices()  # the first view: an error here fails the cell, never hidden

    # ------------------------------------------------------------------ display

    def _ipython_display_(self) -> None:
        display(self.widget)

    @property
    def tz(self) -> str:
        """The selected organization's time zone."""
        return str(self._orgs.loc[self.org.value, "timezone"])

    @property
    def devices(self) -> pd.DataFrame:
        """The selected organization's devices (``details=True``), fetched once."""
        org = self.org.value
        if org not in self._devices:
            self._devices[org] = fetch_devices(self.client, org, details=True)
        return self._devices[org]

    # ------------------------------------------------------------------ callbacks

    def _guard(self, step) -> None:
        try:
            step()
        except Exception as exc:
            self.error = exc
            self.status.value = (
                f"<span style='color:#b00020'>{type(exc).__name__}: {html.escape(str(exc))}</span>"
            )
            if self.raise_errors:
                raise
        else:
            self.error = None

    def _on_org(self, _change: dict | None = None) -> None:
        self._guard(self._fill_devices)

    def _on_search(self, _change: dict | None = None) -> None:
        self._guard(self._fill_devices)

    def _on_pick(self, _change: dict | None = None) -> None:
        if not self._hold:
            self._guard(self.refresh)

    def _fill_devices(self) -> None:
        found = explorer.search_devices(self.devices, self.search.value)
        options = explorer.device_options(found)
        keep = self.device.value if self.device.value in found.index else None
        self._hold = True
        try:
            self.device.options = options
            self.device.value = keep or (options[0][1] if options else None)
        finally:
            self._hold = False
        self.refresh()

    # ------------------------------------------------------------------ the work

    def refresh(self) -> None:
        """Recompute the periods, the table and the figure for the current pickers."""
        device = self.device.value
        if device is None:
            self.periods = self.table = self.figure = None
            self.status.value = f"no device matches {self.search.value!r}"
            with self.plot_output:
                self.plot_output.clear_output()
            with self.table_output:
                self.table_output.clear_output()
            return
        tz = self.tz
        lo, hi = explorer.local_range(self.start.value, self.end.value, tz)
        lo, hi = explorer.period_range(lo, hi, self.resolution.value, tz)
        readings = self._fetch(device, lo, hi)
        periods = explorer.consumption_per_period(
            readings,
            self.devices,
            resolution=self.resolution.value,
            tz=tz,
            start=lo,
            end=hi,
            method=self.method,
        )
        table = explorer.summary_table(periods, self.devices, tz=tz)
        figure = Figure(figsize=(9.0, 3.8), layout="constrained")
        explorer.plot_periods(
            periods, self.devices, resolution=self.resolution.value, tz=tz, ax=figure.add_subplot()
        )
        self.periods, self.table, self.figure = periods, table, figure
        self.status.value = (
            f"{len(readings)} readings, {len(periods)} periods "
            f"({self.resolution.value}, {html.escape(tz)})"
        )
        with self.plot_output:
            self.plot_output.clear_output(wait=True)
            display(figure)
        with self.table_output:
            self.table_output.clear_output(wait=True)
            display(table)

    def _fetch(self, device: str, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.DataFrame:
        # One day of margin on each side gives the readings that bound the first and last
        # period (needed to interpolate the register at the boundaries).
        key = (self.org.value, device, lo, hi)
        if key not in self._readings:
            if len(self._readings) >= 16:  # a small memo: the last few selections
                self._readings.pop(next(iter(self._readings)))
            margin = pd.Timedelta(days=1)
            self._readings[key] = explorer.fetch_readings(
                self.client, self.devices, [device], lo - margin, hi + margin
            )
        return self._readings[key]
