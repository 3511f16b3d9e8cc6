"""The mirror's SQLite store: :class:`Store` = its concerns on one connection.

- :mod:`.db` — connection, schema and upgrades, integer codes, devices;
- :mod:`.readings_store` — readings and coverage (one transaction per device-window);
- :mod:`.changes_store` — changes, the changelog watermark and the run log (one
  transaction per page of changes).

Every method that changes data runs in one transaction that also writes the state saying
the work is done, so a process killed at any instant leaves either all of a step or none.

>>> import pandas as pd
>>> store = Store(":memory:")
>>> org = store.org_code("org-1")
>>> store.upsert_devices(org, pd.DataFrame({"multiplier": [0.001]},
...                      index=pd.Index(["dev-a"], name="device_id")))
>>> store.device_codes(["dev-a"]).tolist()
[1]
"""

from __future__ import annotations

from .changes_store import ChangesStore
from .db import to_ms
from .readings_store import ReadingsStore
from .schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "Store", "to_ms"]


class Store(ReadingsStore, ChangesStore):
    """The SQLite file behind :class:`~waltero_frames.mirror.Mirror` (see the module docstring).

    Parameters
    ----------
    path : str or Path
        The database file (created with its folder if missing), or ``":memory:"``.
    """

    def server_clock_floor(self, org: int) -> int | None:
        """Return the latest reading time or ``changedAt`` held for ``org`` (epoch ms).

        A lower bound of the server's clock: both exist on the server only once its clock
        has passed them. ``None`` when the mirror holds neither.
        """
        return self.scalar(
            "SELECT max(x) FROM (SELECT max(last_ts) AS x FROM device_state WHERE org=? "
            "UNION ALL SELECT watermark FROM sync_state WHERE org=?)",
            (org, org),
        )
