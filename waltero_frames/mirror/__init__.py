"""Replication of an organization's readings into a local SQLite store (``wf.Mirror``).

Layer: above ``api`` and ``transport`` (beside ``study``, ``scale`` and ``notebook``);
imports ``api`` (endpoints, paging, parse), ``transport`` (the CLI's client), ``errors``,
``timeargs``, ``selection``, ``_attrs`` and ``_concurrency``; nothing below imports it.

See ``docs/mirror.md`` for the schema and the sync algorithm.
"""

from __future__ import annotations

from ..errors import SyncError
from .store import Store
from .sync import Mirror, SyncReport

__all__ = ["Mirror", "Store", "SyncError", "SyncReport"]
