"""Replication of an organization's readings into a local SQLite store (``wf.Mirror``).

See ``docs/mirror.md`` for the schema and the sync algorithm.
"""

from __future__ import annotations

from ..errors import SyncError
from .store import Store
from .sync import Mirror, SyncReport

__all__ = ["Mirror", "Store", "SyncError", "SyncReport"]
