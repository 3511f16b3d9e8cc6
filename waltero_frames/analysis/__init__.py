"""Pure helpers on the package's frames (no network), vectorized over all devices.

Analysis layer: frame → frame, above ``api`` in the data flow but independent of it.
May import ``timeargs``, ``errors``, ``selection``, ``columns`` and ``_attrs``; never
``api``, ``transport``, ``mirror``, ``study``, ``scale``, ``notebook`` or ``sim``.
``mirror`` and ``notebook`` import it, never the reverse.

- :mod:`.consumption` — ``readings_to_consumption``: register readings → deltas.
- :mod:`.resample` — ``resample_consumption``: deltas → local calendar periods.
- :mod:`.anomalies` — ``flag_anomalies`` and ``anomaly_events``: quality flags.
- :mod:`.audit` — ``apply_changes`` and ``diff_readings``: the data-audit changelog.
- :mod:`.kpis` — ``load_kpis``: energy, peak demand, baseload, out-of-hours use.
- :mod:`.costs` — ``costs``: tariffs (validity, time-of-use, standing charges) → money.
- :mod:`.emissions` — ``emissions``: factor table by meter type and year → kg CO2e.
- :mod:`.units` — ``to_unit``: energy units and gas m3 → kWh; power units.
- :mod:`._periodic` — readings placed in local periods and the wall-clock calendar.
- :mod:`._frames` — the shared machinery (device codes, previous-reading links).

The period names every helper takes (``freq=``) and the ``tz=None`` rule live in
:mod:`waltero_frames.timeargs` (below the API layer, which needs them too) and are
re-exported here: ``from waltero_frames.analysis import Period, check_period, frame_tz``.
"""

from ..timeargs import PERIODS, Period, TzLike, check_period, frame_tz

__all__ = ["PERIODS", "Period", "TzLike", "check_period", "frame_tz"]
