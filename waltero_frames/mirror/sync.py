"""``Mirror``: replicate organizations' readings into the local store, losing no correction.

The algorithm (documented with the schema in ``docs/mirror.md``):

1. Devices: list the organization's devices; details (multiplier, digits) and supported
   fields are asked only for devices the mirror does not know yet.
2. First sync of an organization only — the *baseline*: before any telemetry is fetched,
   read the changelog from the synced range's start to its end and record those change ids
   as ``baseline`` (the telemetry fetched afterwards already carries them: the server
   applies a change to telemetry at its ``changedAt``, before it is even visible in the
   log). The watermark starts at the last ``changedAt`` read (or the range start), a
   server-clock instant, so no local clock is trusted.
3. Telemetry: per device, windows of at most 31 days — backwards from the held coverage
   to ``start`` and forwards from the device's certified frontier (up to where the mirror
   is known to hold every reading) to ``end`` — fetched concurrently across devices (in
   order within a device); each window is committed with the coverage it adds. A Part 1
   probe skips devices without new meter readings; a top-up pass leaves the devices with
   one common frontier. Planned and fetched by :mod:`.backfill`.
4. Changes since ``watermark - lookback`` (the lookback covers the replication lag), page
   by page, deduped by change id; each page is applied with the watermark it reaches in
   one transaction.

This module orchestrates the steps and reads the mirror back; the SQL lives in the store
(:mod:`.store`), the window planning and fetching in :mod:`.backfill`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._attrs import for_attrs
from ..api import endpoints as ep
from ..api import fetch
from ..api import parse as frames
from ..columns import INFO_COLUMNS
from ..scale.dataset import Dataset, bucket_of, write_frame
from ..selection import DeviceSelection, device_ids, field_names
from ..timeargs import TimeLike, TzLike, to_utc
from ..transport.client import Client
from .backfill import fetch_windows, plan_windows
from .changelog import change_pages
from .db import from_ms, instant_ms
from .layout import columns, to_wide
from .schema import VALUE_SETTING
from .store import Store

__all__ = ["Mirror", "SyncReport"]

#: Default range of a first sync without ``start``.
DEFAULT_SPAN = pd.Timedelta(days=365)
#: The contract's maximum replication lag of the changelog.
REPLICATION_LAG = pd.Timedelta(minutes=5)


@dataclass(frozen=True)
class SyncReport:
    """What one :meth:`Mirror.sync` did.

    Attributes
    ----------
    org : str
    readings_added : int
        Readings — (device, timestamp) rows, as in a ``telemetry`` frame — the mirror did
        not hold before (re-fetched ones are not counted).
    changes_applied : int
        Changes processed for the first time that set a reading (outcomes ``applied``,
        ``current`` and ``conflict``).
    conflicts : int
        Changes whose ``previous_value`` did not match the mirror (applied anyway).
    watermark : pandas.Timestamp or None
        Last ``changedAt`` fully processed (the next sync re-reads from it minus the lookback).
    outcomes : dict
        New changes per outcome, including ``superseded``, ``out_of_range`` and ``baseline``.
    windows : int
        Device-windows of telemetry fetched.
    devices : int
        Devices of the organization.
    seconds : float
        Wall time of the sync.
    run : int
        Row of ``sync_runs`` in the store.
    values_added : int
        Field values the mirror did not hold before (a reading holds one value per field
        its device reported at that timestamp, so this is several times ``readings_added``).
    """

    org: str
    readings_added: int
    changes_applied: int
    conflicts: int
    watermark: pd.Timestamp | None
    outcomes: dict[str, int] = field(default_factory=dict)
    windows: int = 0
    devices: int = 0
    seconds: float = 0.0
    run: int = 0
    values_added: int = 0

    def __str__(self) -> str:
        wm = "none" if self.watermark is None else self.watermark.isoformat()
        return (
            f"sync org={self.org} readings_added={self.readings_added} "
            f"values_added={self.values_added} changes_applied={self.changes_applied} conflicts={self.conflicts} "
            f"watermark={wm} windows={self.windows} devices={self.devices} "
            f"in {self.seconds:.1f}s"
        )


def _device_info(held: pd.DataFrame) -> pd.DataFrame:
    """Return a readings frame's ``attrs["devices"]``: the helpers' details by device_id."""
    info = held[list(INFO_COLUMNS)].copy()
    info.index.name = "device_id"
    info["register_digits"] = info["register_digits"].astype("float64")
    return for_attrs(info)


def _lookback(value: Any) -> pd.Timedelta:
    try:
        td = pd.Timedelta(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"lookback={value!r} is not a duration") from exc
    if td is pd.NaT or td < pd.Timedelta(0):
        raise ValueError(f"lookback={value!r} must be a non-negative duration")
    return td


class Mirror:
    """A local SQLite mirror of Waltero readings for one or more organizations.

    Parameters
    ----------
    path : str or Path
        The database file (created if missing). One file, WAL journal; safe to interrupt
        at any point: the next :meth:`sync` resumes with nothing lost and nothing applied
        twice.

    Examples
    --------
    >>> import waltero_frames as wf
    >>> with wf.sim.running() as sim:                                   # doctest: +SKIP
    ...     client = wf.Client(sim.base_url, sim.username, sim.password)
    ...     mirror = wf.Mirror("demo.sqlite")
    ...     report = mirror.sync(client, wf.sim.DEMO_ORG, "2026-11-01", "2026-11-08")
    ...     df = mirror.readings(wf.sim.DEMO_ORG)
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path) if str(path) != ":memory:" else str(path)
        self.store = Store(path)

    def __repr__(self) -> str:
        return f"Mirror({str(self.path)!r})"

    def close(self) -> None:
        """Close the database connection."""
        self.store.close()

    def __enter__(self) -> Mirror:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------- sync
    def sync(
        self,
        client: Any,
        org: str,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        lookback: Any = "10min",
        tz: TzLike = "UTC",
        probe: bool = True,
        max_workers: int | None = None,
    ) -> SyncReport:
        """Backfill readings and apply every change since the last sync.

        Parameters
        ----------
        client : waltero_frames.Client
            The API client (its fetch functions do the requests).
        org : str
            Organization id.
        start : str, datetime, date or Timestamp, optional
            Start of the mirrored range (inclusive). Default: the range start of the
            organization's first sync; for a first sync, ``end`` minus 365 days. An earlier
            ``start`` than the mirror holds backfills the difference.
        end : str, datetime, date or Timestamp, optional
            End (exclusive) up to which new readings are fetched; default now (local clock,
            UTC). Readings after it are fetched by later syncs.
        lookback : str or Timedelta, default "10min"
            How far before the watermark the changelog is re-read (deduped by id). Must be
            at least the server's replication lag (5 minutes per the contract).
        tz : str, default "UTC"
            Zone of naive ``start``/``end``.
        probe : bool, default True
            Before fetching new readings of devices synced before, ask Part 1
            (``resolution=year``, one request per shared frontier) which devices have any
            meter reading after their frontier, and skip the others this time (an
            incremental sync with no news costs a handful of requests).
        max_workers : int, optional
            Devices fetched concurrently (default: the client's ``max_workers`` or 8).

        Returns
        -------
        SyncReport

        Raises
        ------
        ValueError
            Bad ``org``, times or ``lookback`` (before any request).
        SyncError
            Changelog paging that makes no progress.
        waltero_frames.WalteroError
            API errors once the client's retries are exhausted; everything committed
            before stays, the next sync resumes.
        """
        if not isinstance(client, Client):
            raise ValueError(f"client={client!r}: expected a waltero_frames.Client")
        ep.check_id(org, "org")
        lookback_td = _lookback(lookback)
        if lookback_td < REPLICATION_LAG:
            warnings.warn(
                f"lookback={lookback!r} is shorter than the changelog's replication lag "
                f"({REPLICATION_LAG}): changes that become visible late can be missed",
                RuntimeWarning,
                stacklevel=2,
            )
        end_ts = (
            pd.Timestamp.now(tz="UTC").floor("ms") if end is None else to_utc(end, tz, name="end")
        )
        known_org = self.store.org_code(org, create=False)
        state = None if known_org is None else self.store.sync_state(known_org)
        if start is not None:
            start_ts = to_utc(start, tz, name="start")
        elif state is not None:
            start_ts = from_ms(state["start"])
        else:
            start_ts = end_ts - DEFAULT_SPAN
        if end_ts <= start_ts:
            raise ValueError(f"end={end!r} must be after start={start!r} (end is exclusive)")
        start_ms, end_ms = instant_ms(start_ts.ceil("ms")), instant_ms(end_ts.ceil("ms"))

        t0 = time.perf_counter()
        org_code = self.store.org_code(org)
        run = self.store.begin_run(org_code, start_ms, end_ms)
        totals = {"added": 0, "values": 0, "windows": 0}
        outcomes: dict[str, int] = {}
        try:
            if self.store.org_timezone(org_code) is None:
                self._store_timezone(client, org, org_code)
            devices = self._refresh_devices(client, org, org_code)
            if state is None:
                self.store.init_sync_state(org_code, start_ms)
            elif start_ms < state["start"]:
                self.store.set_start(org_code, start_ms)
            state = self.store.sync_state(org_code)
            assert state is not None  # initialized just above
            if state["phase"] == "baseline":
                since = state["watermark"] if state["watermark"] is not None else state["start"]
                self._read_changes(client, org, org_code, since, run, baseline=True)
                self.store.set_phase(org_code, "ready")
            todo = plan_windows(
                self.store, client, org, org_code, devices, start_ms, end_ms, probe=probe
            )
            fetch_windows(self.store, client, org_code, todo, end_ms, run, max_workers, totals)
            state = self.store.sync_state(org_code)
            assert state is not None
            base = state["watermark"] if state["watermark"] is not None else state["start"]
            since = base - int(lookback_td / pd.Timedelta(milliseconds=1))
            outcomes = self._read_changes(client, org, org_code, since, run, baseline=False)
        except BaseException as exc:
            self.store.finish_run(
                run,
                "failed",
                readings_added=totals["added"],
                values_added=totals["values"],
                error=f"{type(exc).__name__}: {exc}"[:2000],
            )
            raise
        state = self.store.sync_state(org_code)
        assert state is not None
        watermark = state["watermark"]
        applied = sum(outcomes.get(o, 0) for o in VALUE_SETTING)
        conflicts = outcomes.get("conflict", 0)
        self.store.finish_run(
            run,
            "ok",
            readings_added=totals["added"],
            values_added=totals["values"],
            changes_applied=applied,
            conflicts=conflicts,
            watermark=watermark,
        )
        return SyncReport(
            org=org,
            readings_added=totals["added"],
            changes_applied=applied,
            conflicts=conflicts,
            watermark=from_ms(watermark),
            outcomes={k: v for k, v in outcomes.items() if v},
            windows=totals["windows"],
            devices=len(devices),
            seconds=round(time.perf_counter() - t0, 3),
            run=run,
            values_added=totals["values"],
        )

    # -- step 1: devices ------------------------------------------------------------------
    def _store_timezone(self, client: Any, org: str, org_code: int) -> None:
        """Keep the organization's IANA zone for ``readings().attrs["tz"]``.

        From ``wf.organizations``: one request, asked until known. An organization the login does not
        list keeps none.
        """
        orgs = fetch.organizations(client)
        if org in orgs.index:
            zone = orgs.at[org, "timezone"]
            if isinstance(zone, str) and zone:
                self.store.set_org_timezone(org_code, zone)

    def _refresh_devices(self, client: Any, org: str, org_code: int) -> pd.DataFrame:
        """Store the org's device list; ask details and fields for devices not known yet.

        Returns the stored devices that the API lists now (index ``device_id``).
        """
        listed = fetch.devices(client, org)
        self.store.upsert_devices(org_code, listed)
        known = self.store.devices(org_code)
        known = known.loc[known.index.isin(listed.index)]
        new = known.index[known["multiplier"].isna() | known["fields"].isna()]
        if len(new):
            details = self._details(client, org, list(new), len(listed))
            fields = fetch.fields(client, list(new))
            per_device = fields.groupby("device_id")["field"].agg(tuple)
            details["fields"] = [per_device.get(d, ()) for d in details.index]
            self.store.upsert_devices(org_code, details)
            known = self.store.devices(org_code)
            known = known.loc[known.index.isin(listed.index)]
        return known

    @staticmethod
    def _details(client: Any, org: str, device_ids: list[str], n_listed: int) -> pd.DataFrame:
        """Fetch details (unit, multiplier, digits, variant) of some devices of ``org``.

        The concurrent fetch of all of them on a first sync, one request per new device later.
        """
        if len(device_ids) * 2 > n_listed:
            details = fetch.devices(client, org, details=True)
            return details.loc[details.index.isin(device_ids)].copy()
        return frames.parse_devices([ep.device(client, d) for d in device_ids], details=True)

    # -- steps 2 and 4: changes -----------------------------------------------------------
    def _read_changes(
        self, client: Any, org: str, org_code: int, since_ms: int, run: int, *, baseline: bool
    ) -> dict[str, int]:
        totals: dict[str, int] = {}
        for page in change_pages(client, org, from_ms(since_ms)):
            got = self.store.apply_changes(org_code, page, run=run, baseline=baseline)
            for k, v in got.items():
                totals[k] = totals.get(k, 0) + v
        return totals

    # ---------------------------------------------------------------------------- reading
    def readings(
        self,
        org: str,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        devices: DeviceSelection | None = None,
        *,
        fields: Sequence[str] | str | None = None,
        tz: TzLike = "UTC",
    ) -> pd.DataFrame:
        """Return the mirrored readings in the public ``telemetry`` layout.

        Parameters
        ----------
        org : str
            Organization UUID. An organization the mirror never synced gives an empty
            frame with the full layout (below), not an error.
        start, end : str, datetime, date or Timestamp, optional
            ``[start, end)``; default everything held. Naive values are read in ``tz``.
        devices : str, list of str, Series or DataFrame, optional
            Which devices, read as ``wf.telemetry`` reads them (``selection.device_ids``:
            ids, a ``wf.devices`` frame, any frame with a ``device_id`` column); default
            every device of ``org``.
        fields : str or list of str, optional
            The field columns, in this order. Default: every field of the contract's
            catalog (``meter.value.raw``, ``meter.value.processed``, ``battery.voltage``,
            ``connection.rssi``, ``battery.level``, ``connection.snr``,
            ``meta.firmware``, ``meta.temperature``), then any other field the devices
            declare, by name — the same columns for every range, device set and
            organization (NaN where a device does not report a field).
        tz : str, default "UTC"
            Zone of naive ``start``/``end``.

        Returns
        -------
        pandas.DataFrame
            Index ``timestamp`` (UTC, ascending, ties by ``device_id``); columns
            ``device_id`` (str), the field columns (float64; ``meta.firmware`` as ``str``),
            and ``value`` = ``meter.value.raw`` × the device's multiplier, rounded to 6
            decimals (as ``wf.telemetry`` computes it) whenever raw is a column. Empty
            results have the same index name, columns and dtypes. ``attrs``: ``org_id``,
            ``tz`` (the organization's IANA zone, stored at sync time; absent when the API
            did not list the organization), ``devices`` (meter_type, unit, multiplier,
            register_digits by ``device_id``, so ``wf.readings_to_consumption`` and
            ``wf.flag_anomalies`` need no extra arguments), ``fields``, ``start``,
            ``end`` (the requested bounds, None = open), ``source``, ``fetched_at``.

        Raises
        ------
        ValueError
            A non-UUID ``org``, bad times, malformed ``fields``, or device ids the mirror
            does not hold for ``org``.

        Examples
        --------
        >>> df = mirror.readings(wf.sim.DEMO_ORG, "2026-11-01", "2026-11-02")  # doctest: +SKIP
        >>> wf.flag_anomalies(df)        # night window in attrs["tz"]          # doctest: +SKIP
        """
        ep.check_id(org, "org")
        field_list = None if fields is None else field_names(fields)
        lo = None if start is None else to_utc(start, tz, name="start")
        hi = None if end is None else to_utc(end, tz, name="end")
        if lo is not None and hi is not None and hi <= lo:
            raise ValueError(f"end={end!r} must be after start={start!r} (end is exclusive)")
        org_code = self.store.org_code(org, create=False)
        held = self.store.devices(org_code) if org_code is not None else self.store.devices(-1)
        if devices is None:
            ids = list(held.index)
        else:
            ids = device_ids(devices)
            unknown = [d for d in ids if d not in held.index]
            if unknown:
                raise ValueError(f"devices not in the mirror for org {org!r}: {unknown[:5]}")
        chosen = held.loc[ids]
        long = (
            self.store.read_readings(
                org_code,
                None if lo is None else instant_ms(lo.ceil("ms")),
                None if hi is None else instant_ms(hi.ceil("ms")),
                None if devices is None else chosen["device"].astype(int).tolist(),
            )
            if org_code is not None and ids
            else pd.DataFrame({"device": [], "field": [], "ts": [], "value": []})
        )
        names = self.store.field_names()
        declared = {f for fs in chosen["fields"] if fs for f in fs}
        declared |= {names[int(c)] for c in pd.unique(long["field"])}
        frame = to_wide(long, held, names, columns(field_list, sorted(declared)))
        info = _device_info(chosen)
        zone = None if org_code is None else self.store.org_timezone(org_code)
        frame.attrs.update(
            org_id=org,
            **({} if zone is None else {"tz": zone}),
            devices=info,
            fields=[c for c in frame.columns if c not in ("device_id", "value")],
            start=lo,
            end=hi,
            source=f"mirror:{self.path}",
            fetched_at=pd.Timestamp.now(tz="UTC"),
        )
        return frame

    def changes(self, org: str) -> pd.DataFrame:
        """Every change the mirror has processed for ``org``, with its outcome.

        Columns ``change_id``, ``device_id``, ``field``, ``timestamp``, ``previous_value``,
        ``new_value``, ``mirror_value`` (the mirror's value just before), ``outcome``,
        ``actor``; index ``changed_at``.
        """
        org_code = self.store.org_code(org, create=False)
        return self.store.changes_frame(-1 if org_code is None else org_code)

    def runs(self) -> pd.DataFrame:
        """Return the log of sync runs (``status`` running/ok/failed, counts, error)."""
        return self.store.runs_frame()

    # ---------------------------------------------------------------------------- export
    def export_parquet(self, directory: str | Path, org: str | None = None) -> Path:
        """Write the mirrored readings as a readings dataset (``docs/scale.md``).

        The layout ``wf.write_readings`` writes and ``wf.scan_readings`` reads:
        ``org=<id>/bucket=<n>/`` Parquet files (rows by device, then time) and
        ``_readings.json`` with each device's time zone (the organization's), meter type,
        unit, multiplier and register size. Devices are read from SQLite one bucket at a
        time, so memory is bounded by one bucket (about 20 devices' histories), not by
        the organization. Writing again merges by (device, timestamp): an unchanged
        mirror exported twice gives the same dataset. DuckDB, Polars, Spark and
        ``pyarrow.dataset`` read the folder as hive-partitioned Parquet. Needs the
        ``parquet`` extra.

        Parameters
        ----------
        directory : str or Path
            The dataset folder (created; an existing one must be a readings dataset).
        org : str, optional
            Only this organization (default: every organization in the mirror).

        Returns
        -------
        pathlib.Path
            The dataset folder.

        Raises
        ------
        ValueError
            ``org`` not in the mirror, or ``directory`` an existing folder that is not a
            readings dataset.

        Examples
        --------
        >>> mirror.export_parquet("readings/", org)                         # doctest: +SKIP
        >>> wf.scan_readings("readings/", org=org)                          # doctest: +SKIP
        """
        orgs = [org] if org is not None else self.store.org_ids()
        found = {o: self.store.org_code(o, create=False) for o in orgs}
        missing = [o for o, c in found.items() if c is None]
        if missing:
            raise ValueError(f"org={missing[0]!r} is not in the mirror")
        codes = {o: c for o, c in found.items() if c is not None}
        n_devices = sum(len(self.store.devices(c)) for c in codes.values())
        dataset = Dataset.open(directory, create=n_devices)
        names = self.store.field_names()
        for org_id, org_code in codes.items():
            held = self.store.devices(org_code)
            zone = self.store.org_timezone(org_code) or "UTC"
            buckets = bucket_of(held.index, dataset.buckets)
            for b in np.unique(buckets):  # one bucket of devices at a time
                chosen = held.loc[buckets == b]
                long = self.store.read_readings(
                    org_code, None, None, chosen["device"].astype(int).tolist()
                )
                if not len(long):
                    continue
                have = {names[int(c)] for c in pd.unique(long["field"])}
                fields = [f for f in columns(None, sorted(have)) if f in have]
                frame = to_wide(long, held, names, fields)
                del long
                frame.attrs["devices"] = _device_info(chosen)
                write_frame(dataset, frame, org_id, zone)
        if not (dataset.path / "_readings.json").exists():
            dataset.save()
        return dataset.path
