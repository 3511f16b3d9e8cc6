"""The simulator's World: deterministic demo data and the ground truth tests compare with.

>>> from waltero_frames.sim.world.model import World, DEMO_ORG
>>> world = World.for_seed(0)
>>> rows = world.daily_consumption_rows(DEMO_ORG, "2026-05-18T22:00Z", "2026-05-25T22:00Z", "day")

Generation is cached per seed; ``World.for_seed`` hands out a fork, so runtime changes
and clock settings of one user never leak into another. Run
``python -m waltero_frames.sim.world.model describe`` for the organizations, the device table
and the injected anomalies (``data/demo-organization.md`` is generated that way).
"""

from __future__ import annotations

import functools
import math
import sys
import time
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

from .anomalies import BaseChanges, anomaly_frame, base_changes, inject_anomalies
from .generate import (
    DEMO_ORG,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    HIDDEN_ORG,
    ORGS,
    PROCESSED,
    RAW,
    SOUTH_ORG,
    T1,
    USERS,
    VARIANT_FIELDS,
    fleet,
    to_ms,
)
from .heating import org_days, truth_frames
from .part1 import RESOLUTIONS, period_consumption
from .readings import generate_device
from .telemetry import telemetry_frame
from .weather import (
    WEATHER_START_MS,
    events_frame,
    site_weather,
    sites_frame,
    weather_frame,
)

__all__ = [
    "DEFAULT_FIELDS",
    "DEMO_ORG",
    "DEMO_PASSWORD",
    "DEMO_USERNAME",
    "HIDDEN_ORG",
    "SOUTH_ORG",
    "World",
]

#: Fields of the public `telemetry` default.
DEFAULT_FIELDS = (RAW, PROCESSED, "battery.voltage", "connection.rssi")
CHANGE_COLUMNS = [
    "change_id",
    "device_id",
    "organization_id",
    "field",
    "timestamp",
    "previous_value",
    "new_value",
    "actor",
    "changed_at",
    "visible_at",
]


def _bound_ms(value, what: str) -> int:
    """Return a range bound in epoch ms, rounded up.

    A reading (whole ms) is at or after the instant exactly when it is at or after this
    bound (the server's rule for sub-ms bounds).
    """
    return -(-_ts(value, what).value // 1_000_000)


def _ts(value, what: str, *, naive_utc: bool = True) -> pd.Timestamp:
    """Return an instant as a UTC Timestamp; naive values are read as UTC (else refused)."""
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what}={value!r} is not a valid instant") from exc
    if ts is pd.NaT:
        raise ValueError(f"{what}={value!r} is not a valid instant")
    if ts.tzinfo is None and not naive_utc:
        raise ValueError(f"{what}={value!r} must carry a UTC offset")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _ms_to_ts(ms) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(np.asarray(ms, dtype=np.int64), unit="ms", utc=True))


@dataclass(frozen=True)
class _Base:
    """Immutable generated state shared by every fork of one seed."""

    seed: int
    orgs: pd.DataFrame
    devices: pd.DataFrame
    series: dict  # device_id -> {field: (ts_ms, values)}
    changes: BaseChanges
    anomalies: pd.DataFrame
    sites: pd.DataFrame
    weather: pd.DataFrame
    weather_events: pd.DataFrame
    served_weather: dict  # organization_id -> hourly °C from WEATHER_START_MS, NaN = missing
    heating_truth: pd.DataFrame
    heating_days: pd.DataFrame


@functools.lru_cache(maxsize=4)
def _generate(seed: int) -> _Base:
    specs = fleet()
    inject_anomalies(specs)
    org_by_id = {o.organization_id: o for o in ORGS}
    sites = {o.organization_id: site_weather(o, k, seed) for k, o in enumerate(ORGS)}
    days = {org: org_days(org_by_id[org], w.true_temperature) for org, w in sites.items()}
    readings = {}
    for k, spec in enumerate(specs):
        rng = np.random.default_rng([seed, k])
        org = spec.organization_id
        readings[spec.device_id] = generate_device(spec, org_by_id[org], rng, days[org])
    orgs = pd.DataFrame(
        {
            "name": [o.name for o in ORGS],
            "timezone": [o.timezone for o in ORGS],
            "readable": [o.readable for o in ORGS],
        },
        index=pd.Index([o.organization_id for o in ORGS], name="organization_id"),
    )
    devices = pd.DataFrame(
        {
            "organization_id": [s.organization_id for s in specs],
            "serial_number": [s.serial_number for s in specs],
            "meter_type": [s.meter_type for s in specs],
            "unit": [s.unit for s in specs],
            "multiplier": [float(s.multiplier) for s in specs],
            "register_digits": [s.register_digits for s in specs],
            "variant": [s.variant for s in specs],
            "fields": [VARIANT_FIELDS[s.variant] for s in specs],
            "cadence_s": [s.cadence_s for s in specs],
        },
        index=pd.Index([s.device_id for s in specs], name="device_id"),
    )
    # object columns keep None (missing) apart from "" (empty)
    for pos, col in ((1, "name"), (2, "external_id")):
        values = pd.Series([getattr(s, col) for s in specs], index=devices.index, dtype=object)
        devices.insert(pos, col, values)
    changes = base_changes(specs, readings, np.random.default_rng([seed, 10**6]))
    anomalies = anomaly_frame(specs, readings)
    series = {dev: r.series for dev, r in readings.items()}
    heating_truth, heating_days = truth_frames(
        specs,
        {o.organization_id: o.timezone for o in ORGS},
        {dev: r.heating_days for dev, r in readings.items() if r.heating_days is not None},
    )
    return _Base(
        seed,
        orgs,
        devices,
        series,
        changes,
        anomalies,
        sites_frame(ORGS),
        weather_frame(ORGS, sites),
        events_frame(ORGS),
        {org: w.served for org, w in sites.items()},
        heating_truth,
        heating_days,
    )


class World:
    """Ground truth of one simulated Waltero tenant (see docs/architecture.md, "World")."""

    users = USERS
    DEMO_USERNAME = DEMO_USERNAME
    DEMO_PASSWORD = DEMO_PASSWORD
    DEMO_ORG = DEMO_ORG

    def __init__(self, seed: int | _Base = 0):
        # World(seed) and World.for_seed(seed) are the same; a _Base is how forks share data
        self._base = seed if isinstance(seed, _Base) else _generate(int(seed))
        self._runtime: list[dict] = []  # change rows added at runtime, in id order
        self._runtime_index: dict[tuple[str, str], list[tuple]] = {}
        self._clock_start: pd.Timestamp | None = None
        self._clock_wall = 0.0
        self._clock_speed = 1.0

    # -- construction -------------------------------------------------------------
    @classmethod
    def for_seed(cls, seed: int = 0) -> World:
        """Return a fresh World for ``seed``; generation (about a second) is cached per seed."""
        return cls(_generate(int(seed)))

    def fork(self) -> World:
        """Return an independent copy of the mutable state (runtime changes, clock)."""
        other = World(self._base)
        other._runtime = [dict(r) for r in self._runtime]
        other._runtime_index = {k: list(v) for k, v in self._runtime_index.items()}
        other._clock_start = self._clock_start
        other._clock_wall = self._clock_wall
        other._clock_speed = self._clock_speed
        return other

    @property
    def seed(self) -> int:
        """Seed the world was generated from."""
        return self._base.seed

    @property
    def orgs(self) -> pd.DataFrame:
        """Organizations (ground truth)."""
        return self._base.orgs

    @property
    def devices(self) -> pd.DataFrame:
        """Devices of every organization (ground truth)."""
        return self._base.devices

    @property
    def anomalies(self) -> pd.DataFrame:
        """Injected anomalies (ground truth)."""
        return self._base.anomalies

    # -- weather ------------------------------------------------------------------
    @property
    def sites(self) -> pd.DataFrame:
        """Locate each organization's site.

        Index ``organization_id``; ``latitude``, ``longitude`` (WGS84 degrees),
        ``elevation`` (m), ``timezone``.
        """
        return self._base.sites

    @property
    def weather(self) -> pd.DataFrame:
        """Hourly outdoor temperature of every site (sim/world/weather.py).

        Index ``timestamp`` (UTC, hourly, 2023-12-31T00Z .. 2027-01-02T00Z exclusive),
        rows grouped by organization; columns ``organization_id``, ``temperature``
        (°C as the weather route serves it, NaN at the injected missing hours) and
        ``true_temperature`` (complete; what the heat and gas meters respond to).
        """
        return self._base.weather

    @property
    def weather_events(self) -> pd.DataFrame:
        """List the cold snaps and warm spells.

        Columns ``organization_id``, ``kind`` (``cold_snap`` | ``warm_spell``), ``start``,
        ``end`` (UTC, end exclusive), ``delta`` (K at the peak).
        """
        return self._base.weather_events

    @property
    def heating_truth(self) -> pd.DataFrame:
        """Known parameters of every heat and gas meter (sim/world/heating.py).

        Index ``device_id``; ``organization_id``, ``meter_type``, ``unit``, ``base_load``
        (per day, in the unit; includes ``dhw``), ``dhw`` (hot water per day, 0 for devices
        without), ``heating_slope`` (unit per kelvin-day), ``balance_point`` (°C),
        ``measure_date`` (local day the efficiency measure starts, NaT for all but one
        device), ``measure_share`` (share the slope drops by from then on, else 0),
        ``measure_start`` (that local midnight in UTC), ``noise_sd`` (daily noise),
        ``first_reading``. Daily consumption on local day d = (``base_load`` + slope ×
        max(0, ``balance_point`` − T[d])) × noise[d].
        """
        return self._base.heating_truth

    @property
    def heating_days(self) -> pd.DataFrame:
        """Per heat or gas meter and local day: the formula's inputs and outputs.

        Index ``period_start`` (UTC instant of local midnight); ``device_id``,
        ``mean_temperature`` (mean of the day's hourly ``true_temperature``), ``expected``
        (the formula without noise), ``noise`` (the day's factor), ``coverage`` (share of the
        day the readings cover: below 1 on the first and last day) and ``consumption`` =
        expected × noise × coverage (before the register's rounding and the ``stuck`` and
        vacation anomalies).
        """
        return self._base.heating_days

    def hourly_temperature(self, org_id: str, start_ms: int, n_hours: int) -> np.ndarray:
        """Return served temperatures (°C, NaN = missing) of ``n_hours`` hours from ``start_ms``.

        ``start_ms`` must lie on a whole UTC hour; hours outside the generated grid are
        NaN. Cost: one slice (what the weather route answers from).
        """
        if org_id not in self._base.served_weather:
            raise ValueError(f"unknown org_id {org_id!r}")
        if start_ms % 3_600_000:
            raise ValueError(f"start_ms={start_ms!r} is not on a whole UTC hour")
        series = self._base.served_weather[org_id]
        out = np.full(int(n_hours), np.nan)
        first = (start_ms - WEATHER_START_MS) // 3_600_000
        lo, hi = max(first, 0), min(first + int(n_hours), series.size)
        if hi > lo:
            out[lo - first : hi - first] = series[lo:hi]
        return out

    # -- clock --------------------------------------------------------------------
    def now(self) -> pd.Timestamp:
        """Return the simulated clock: frozen at 2026-12-01T00:00Z unless `set_clock` started it."""
        if self._clock_start is None:
            return T1
        elapsed = (time.monotonic() - self._clock_wall) * self._clock_speed
        return self._clock_start + pd.Timedelta(seconds=elapsed)

    def set_clock(self, start=None, speed: float = 1.0) -> None:
        """Run the clock on from ``start`` at ``speed`` simulated s per wall s (None freezes it)."""
        if start is None:
            self._clock_start = None
            return
        if not speed >= 0:
            raise ValueError(f"speed={speed!r} must be >= 0")
        self._clock_start = _ts(start, "start")
        self._clock_wall = time.monotonic()
        self._clock_speed = float(speed)

    def _as_of_ms(self, as_of) -> int:
        return to_ms(self.now() if as_of is None else _ts(as_of, "as_of"))

    # -- readings -----------------------------------------------------------------
    def _device(self, device_id: str) -> pd.Series:
        try:
            return cast(pd.Series, self._base.devices.loc[device_id])
        except KeyError:
            raise ValueError(f"unknown device_id {device_id!r}") from None

    def _stored(self, device_id: str, field: str) -> tuple[np.ndarray, np.ndarray]:
        self._device(device_id)
        try:
            return self._base.series[device_id][field]
        except KeyError:
            raise ValueError(f"device {device_id!r} does not support field {field!r}") from None

    def _changes_for(self, device_id: str, field: str, as_of_ms: int) -> list[tuple]:
        """(changed_at_ms, id, ts_ms, new_value) applied by ``as_of``, in log order."""
        rows = self._base.changes.index.get((device_id, field), []) + self._runtime_index.get(
            (device_id, field), []
        )
        return sorted(r for r in rows if r[0] <= as_of_ms)

    def window(self, device_id: str, field: str, start=None, end=None, as_of=None):
        """``(ts_ms, values)`` of one field in ``[start, end)`` as of ``as_of`` (default now).

        Only readings at or before ``as_of`` are returned, with every change whose
        ``changed_at <= as_of`` applied. Cost is independent of the series length
        (binary search plus the few changes that fall inside the window).
        """
        ts, values = self._stored(device_id, field)
        as_of_ms = self._as_of_ms(as_of)
        lo = 0 if start is None else _bound_ms(start, "start")
        hi = as_of_ms + 1 if end is None else min(_bound_ms(end, "end"), as_of_ms + 1)
        i0, i1 = np.searchsorted(ts, [lo, hi], side="left")
        ts, values = ts[i0:i1], values[i0:i1]
        changes = [c for c in self._changes_for(device_id, field, as_of_ms) if lo <= c[2] < hi]
        if changes:
            values = values.copy()
            for _, _, when, new in changes:
                values[np.searchsorted(ts, when)] = new
        return ts, values

    def series(self, device_id: str, field: str, as_of=None) -> tuple[np.ndarray, np.ndarray]:
        """Return the whole series of one field (epoch ms, values), corrected as of ``as_of``."""
        return self.window(device_id, field, None, None, as_of)

    def telemetry_truth(self, device_ids, start, end, fields=None, as_of=None) -> pd.DataFrame:
        """Return the readings in ``[start, end)`` in the public `telemetry` layout.

        Index ``timestamp`` (UTC), sorted by (timestamp, device_id); columns
        ``device_id``, one column per requested field some device supports (float64;
        ``meta.firmware`` object) and ``value`` = ``round(raw * multiplier, 6)`` when
        ``meter.value.raw`` was requested.
        """
        ids = [device_ids] if isinstance(device_ids, str) else list(device_ids)
        fields = tuple(DEFAULT_FIELDS if fields is None else fields)
        start, end = _ts(start, "start"), _ts(end, "end")
        if end <= start:
            raise ValueError(f"end={end} must be after start={start}")
        windows = {}
        for dev in ids:
            supported = self._device(dev)["fields"]
            windows[dev] = {
                f: self.window(dev, f, start, end, as_of) for f in fields if f in supported
            }
        multipliers = {dev: float(self._device(dev)["multiplier"]) for dev in ids}
        return telemetry_frame(windows, multipliers, fields)

    # -- Part 1 -------------------------------------------------------------------
    def daily_consumption_rows(self, org_id: str, start, end, resolution: str, as_of=None):
        """Return the exact Part 1 v3 rows (CONTRACT §3) for every device of ``org_id``.

        Rows are ordered by (deviceId, period). A period without readings gives
        ``{"deviceId", "deviceName", "serialNumber", "consumption": None}`` (no
        ``date``). ``deviceName`` is the name, else the external id; it is ``""`` for
        the device whose name and external id are both ``""`` and the key is missing for
        the device that has neither (``None``).
        """
        if org_id not in self._base.orgs.index:
            raise ValueError(f"unknown org_id {org_id!r}")
        if resolution not in RESOLUTIONS:
            raise ValueError(f"unsupported resolution {resolution!r}; expected {RESOLUTIONS}")
        start_ms, end_ms = _bound_ms(start, "start"), _bound_ms(end, "end")
        if end_ms <= start_ms:
            raise ValueError(f"end={end!r} must be after start={start!r}")
        devices = self._base.devices
        rows: list[dict] = []
        for dev, d in devices[devices["organization_id"] == org_id].iterrows():
            ts, processed = self.series(str(dev), PROCESSED, as_of)
            _, raw = self.series(str(dev), RAW, as_of)
            days, cons = period_consumption(
                ts,
                processed,
                raw,
                d["multiplier"],
                d["register_digits"],
                start_ms,
                end_ms,
                resolution,
            )
            head = {"deviceId": dev}
            name = d["name"] or d["external_id"]
            if name is not None:
                head["deviceName"] = name
            head["serialNumber"] = d["serial_number"]
            dates = np.datetime_as_string(days.astype("datetime64[D]"))
            for date, value in zip(dates.tolist(), cons.tolist(), strict=True):
                if value != value:  # NaN: no reading in the period
                    rows.append({**head, "consumption": None})
                else:
                    rows.append({**head, "date": date, "consumption": value})
        return rows

    # -- changelog ----------------------------------------------------------------
    def changes(self, org_id: str | None = None) -> pd.DataFrame:
        """Every change (generated and runtime), ordered by (changed_at, change_id)."""
        frame = self._base.changes.frame
        if self._runtime:
            extra = pd.DataFrame(self._runtime, columns=CHANGE_COLUMNS)
            frame = pd.concat([frame, extra], ignore_index=True)
            frame = frame.sort_values(["changed_at", "change_id"], kind="stable")
            frame = frame.reset_index(drop=True)
        if org_id is not None:
            frame = frame[frame["organization_id"] == org_id].reset_index(drop=True)
        return frame.copy()

    def add_change(
        self,
        device_id: str,
        field: str,
        timestamp,
        new_value,
        *,
        actor: str = "user",
        changed_at=None,
        lag: float = 0.0,
    ) -> list[dict]:
        """Correct one stored reading at runtime; returns the new change row(s).

        A correction of ``meter.value.raw`` also emits the matching
        ``meter.value.processed`` row (same ``changed_at``). ``changed_at`` defaults to
        `now`; ``lag`` (seconds, 0-300 in the API) sets ``visible_at``.
        """
        dev = self._device(device_id)
        if actor not in ("user", "system"):
            raise ValueError(f"actor={actor!r} must be 'user' or 'system'")
        if not 0 <= lag <= 300:
            raise ValueError(f"lag={lag!r} must be within [0, 300] seconds")
        ts_ms = to_ms(_ts(timestamp, "timestamp"))
        stored_ts, _ = self._stored(device_id, field)
        pos = int(np.searchsorted(stored_ts, ts_ms))
        if pos >= stored_ts.size or stored_ts[pos] != ts_ms:
            raise ValueError(f"device {device_id!r} has no {field} reading at {timestamp!r}")
        changed = self.now() if changed_at is None else _ts(changed_at, "changed_at")
        changed = changed.floor("ms")
        if field == RAW:
            if float(new_value) != int(new_value) or int(new_value) < 0:
                raise ValueError(f"new_value={new_value!r} for {RAW} must be a non-negative int")
            edits: list[tuple[str, float]] = [(RAW, int(new_value))]
            edits.append((PROCESSED, self._processed_for(device_id, ts_ms, int(new_value))))
        else:
            edits = [(field, new_value)]
        next_id = self._base.changes.next_id + len(self._runtime)
        rows = []
        for offset, (name, value) in enumerate(edits):
            previous = self._value_at(device_id, name, ts_ms, to_ms(changed))
            row = {
                "change_id": f"chg_{next_id + offset:011d}",
                "device_id": device_id,
                "organization_id": dev["organization_id"],
                "field": name,
                "timestamp": _ms_to_ts([ts_ms])[0],
                "previous_value": previous,
                "new_value": value,
                "actor": actor,
                "changed_at": changed,
                "visible_at": changed + pd.Timedelta(seconds=float(lag)),
            }
            rows.append(row)
            self._runtime.append(row)
            key = (device_id, name)
            entry = (to_ms(changed), next_id + offset, ts_ms, value)
            self._runtime_index.setdefault(key, []).append(entry)
        return [dict(r) for r in rows]

    def _value_at(self, device_id: str, field: str, ts_ms: int, as_of_ms: int):
        ts, values = self.window(
            device_id,
            field,
            _ms_to_ts([ts_ms])[0],
            _ms_to_ts([ts_ms + 1])[0],
            _ms_to_ts([as_of_ms])[0],
        )
        value = values[0].item() if hasattr(values[0], "item") else values[0]
        return value

    def _processed_for(self, device_id: str, ts_ms: int, raw: int) -> float:
        """Return the processed value of a corrected raw, with the multiplier the stored reading used."""
        ts, raw_stored = self._stored(device_id, RAW)
        _, processed = self._stored(device_id, PROCESSED)
        i = int(np.searchsorted(ts, ts_ms))
        mult = float(self._device(device_id)["multiplier"])
        if raw_stored[i] and abs(processed[i] - round(raw_stored[i] * mult, 6)) > 1e-9:
            # inside a multiplier_mismatch episode: the (power of ten) multiplier it used
            mult = 10.0 ** round(math.log10(processed[i] / raw_stored[i]))
        return round(raw * mult, 6)

    # -- description --------------------------------------------------------------
    def describe(self) -> str:
        """Markdown: organizations, users, device table and injected anomalies."""
        from .describe import describe

        return describe(self)


def main(argv: list[str] | None = None) -> int:
    """``python -m waltero_frames.sim.world.model describe [--seed N]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "describe":
        print(
            "usage: python -m waltero_frames.sim.world.model describe [--seed N]", file=sys.stderr
        )
        return 2
    seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 0
    sys.stdout.write(World.for_seed(seed).describe())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
