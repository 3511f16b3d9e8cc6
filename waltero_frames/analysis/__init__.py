"""Pure helpers on the package's frames (no network), vectorized over all devices.

- :mod:`.consumption` — ``readings_to_consumption``: register readings → deltas.
- :mod:`.resample` — ``resample_consumption``: deltas → local calendar periods.
- :mod:`.anomalies` — ``flag_anomalies`` and ``anomaly_events``: quality flags.
- :mod:`.audit` — ``apply_changes`` and ``diff_readings``: the data-audit changelog.
- :mod:`._frames` — the shared machinery (device codes, previous-reading links).
"""
