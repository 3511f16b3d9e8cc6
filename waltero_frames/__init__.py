"""waltero_frames: the Waltero metering API as tidy pandas DataFrames.

>>> import waltero_frames as wf
>>> with wf.sim.running() as sim:                      # doctest: +SKIP
...     client = wf.Client(sim.base_url, sim.username, sim.password)
...     daily = wf.daily_consumption(client, "00000000-0000-0000-0000-000000000001",
...                                  "2026-05-18T22:00Z", "2026-05-25T22:00Z")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._attrs import to_parquet
from .analysis.audit import apply_changes, diff_readings
from .analysis.costs import costs
from .analysis.emissions import emissions
from .analysis.units import to_unit
from .analysis.weather import cusum, degree_days, fit_baseline, normalise, predict_baseline
from .api.fetch import changes, daily_consumption, devices, fields, organizations, telemetry
from .api.weather import temperature
from .errors import (
    BadRequest,
    CacheMiss,
    FetchFailed,
    Forbidden,
    NotFound,
    RateLimited,
    ServerError,
    SyncError,
    Unauthenticated,
    UnexpectedResponse,
    WalteroError,
)
from .mirror import Mirror
from .notebook.excel import to_excel
from .scale import (  # the helpers that also take Dask frames (scale/partitions.py)
    anomaly_events,
    flag_anomalies,
    load_kpis,
    readings_to_consumption,
    repartition_by_device,
    resample_consumption,
    scan_readings,
    write_readings,
)
from .study import Study, StudyIntegrityError, StudyMismatch, StudyWarning
from .transport.client import Client

if TYPE_CHECKING:  # pragma: no cover
    from . import sim as sim
    from .notebook import plots as plots
    from .notebook import widgets as widgets

__version__ = "0.1.0"

_LAZY = {"sim": ".sim", "plots": ".notebook.plots", "widgets": ".notebook.widgets"}


def __getattr__(name: str) -> Any:
    # The simulator needs the optional `sim` extra; plots/widgets import matplotlib and
    # ipywidgets. Import them on first use so `import waltero_frames` stays light.
    if name in _LAZY:
        return importlib.import_module(_LAZY[name], __name__)
    raise AttributeError(f"module 'waltero_frames' has no attribute {name!r}")


__all__ = [
    "BadRequest",
    "CacheMiss",
    "Client",
    "FetchFailed",
    "Forbidden",
    "Mirror",
    "NotFound",
    "RateLimited",
    "ServerError",
    "Study",
    "StudyIntegrityError",
    "StudyMismatch",
    "StudyWarning",
    "SyncError",
    "Unauthenticated",
    "UnexpectedResponse",
    "WalteroError",
    "anomaly_events",
    "apply_changes",
    "changes",
    "costs",
    "cusum",
    "daily_consumption",
    "degree_days",
    "devices",
    "diff_readings",
    "emissions",
    "fields",
    "fit_baseline",
    "flag_anomalies",
    "load_kpis",
    "normalise",
    "organizations",
    "predict_baseline",
    "readings_to_consumption",
    "repartition_by_device",
    "resample_consumption",
    "scan_readings",
    "telemetry",
    "temperature",
    "to_excel",
    "to_parquet",
    "to_unit",
    "write_readings",
]
