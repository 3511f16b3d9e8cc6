"""Portfolios bigger than memory: the readings dataset and the Dask adapters.

Layer: beside ``mirror``/``notebook``; may import ``analysis``, ``api.parse`` (the
telemetry layout's names and dtypes), ``timeargs`` and ``selection``. Dask, distributed and pyarrow are
the optional ``scale`` extra, imported on first use only.

- :mod:`.dataset` — the readings dataset on disk: ``write_readings``, ``scan_readings``
  (and the writer ``Mirror.export_parquet`` uses), see ``docs/scale.md``.
- :mod:`.partitions` — the helpers on a Dask frame: one ``map_partitions`` over
  device-whole partitions calling the in-memory functions; ``repartition_by_device``.
"""

from __future__ import annotations

from .dataset import scan_readings, write_readings
from .partitions import (
    anomaly_events,
    flag_anomalies,
    load_kpis,
    readings_to_consumption,
    repartition_by_device,
    resample_consumption,
)

__all__ = [
    "anomaly_events",
    "flag_anomalies",
    "load_kpis",
    "readings_to_consumption",
    "repartition_by_device",
    "resample_consumption",
    "scan_readings",
    "write_readings",
]
