"""Replication of an organization's readings into a local SQLite store (``wf.Mirror``).

Layer: above ``api/`` and ``analysis/`` (beside ``study/`` and ``notebook/``); may import
``api``, ``analysis``, ``scale.dataset`` (``export_parquet`` writes the readings
dataset), ``transport`` and the lowest modules (``errors``, ``timeargs``,
``selection``, ``columns``, ``_concurrency``, ``_attrs``); nothing imports it but the
package root. ``sync`` orchestrates (no SQL), ``backfill`` plans and fetches the telemetry
windows, ``changelog`` reads the changelog, ``resolve`` judges changes, ``layout``
converts frames, ``store`` (over ``db``, ``readings_store``, ``changes_store``) holds
every SQL statement beside ``schema``. See ``docs/mirror.md`` for the schema and the sync
algorithm.
"""

from __future__ import annotations

from ..errors import SyncError
from .store import Store
from .sync import Mirror, SyncReport

__all__ = ["Mirror", "Store", "SyncError", "SyncReport"]
